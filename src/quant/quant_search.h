// quant_search.h - the scale searches of the reference quantizers, each one implementation for
// the plain and the importance-matrix path (internal to src/quant). Constants and float
// operation order follow ggml exactly: a change moves a rounding decision and the bytes stop
// matching llama-quantize.
#ifndef KITE_QUANT_SEARCH_H
#define KITE_QUANT_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#define KITE__GROUP_MAX_EPS 1e-15f // below this a group counts as all zero (ggml's GROUP_MAX_EPS)

// Symmetric grid -nmax..nmax-1 (ggml's make_qx_quants, rmse_type 1): rounds at 1/scale =
// -nmax/max, then tries 18 nearby grids -(nmax + k/10)/max and keeps the best weighted
// least-squares fit. Weights w, or x^2 where w is NULL (ggml without quant_weights). L gets
// codes in 0..2*nmax-1; returns the scale (0 for an all-zero group).
float kite__make_qx_quants(int n, int nmax, const float *x, int8_t *L, const float *w);

// Asymmetric grid 0..nmax with an offset (ggml's make_qkx2_quants, and with use_mad false its
// make_qkx3_quants): x ~ scale * L - the_min. Starts from the [min(0, lo), hi] range, then
// tries nstep+1 grid densities (rmin + k*rdelta + nmax)/(hi - lo), solving the weighted 2x2
// least squares for scale and min at each and keeping the lowest weighted error (absolute with
// use_mad, squared otherwise). Laux is n bytes of scratch; returns the scale.
float kite__make_qkx_quants(int n, int nmax, const float *x, const float *w, uint8_t *L, float *the_min, uint8_t *Laux,
                            float rmin, float rdelta, int nstep, bool use_mad);

// Positive grid 0..nmax for non-negative x (ggml's make_qp_quants, used for the sub-block
// scales and mins and by IQ2_XXS): the best of 9 grid densities by weighted squared error, then
// up to 5 passes of coordinate descent on the least-squares fit. L keeps ggml's uint8_t storage
// (a negative code would wrap exactly as there); returns the scale.
float kite__make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *w);

#endif
