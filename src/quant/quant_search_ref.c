// quant_search_ref.c - the scalar searches of quant_search.h: ggml's make_qkx2/qkx3_quants,
// make_qx_quants (rmse_type 1), the k-quants' re-rounding and the IQ4 scale search, with its
// constants and float operation order (any change moves a rounding decision and the bytes stop
// matching llama-quantize). The specification the ISA sets are tested against.
#include "quant/quant_search.h"

#include <float.h>

#include "base/internal.h"
#include "blocks/block_util.h"

#define GROUP_MAX_EPS 1e-15f // below this a group counts as all zero (ggml's GROUP_MAX_EPS)

// Asymmetric grid: starts from the [min(0, lo), hi] range, then tries nstep+1 grid densities,
// solving the weighted 2x2 least-squares for scale and min at each.
static float qkx_ref(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min, float rmin,
                     float rdelta, int nstep, bool use_mad) {
    uint8_t Laux[32];
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0.0f) min = 0.0f; // the offset only ever moves the grid down
    if (max <= min) {           // (max == min: min <= max always holds)
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1.0f / iscale;
    float best_error = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = kite__nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)KITE_MAX(0, KITE_MIN(nmax, l));
        float diff = scale * (float)L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = KITE_MAX(0, KITE_MIN(nmax, kite__nearest_int(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * (float)l;
            sum_l2 += w * (float)l * (float)l;
            sum_xl += w * (float)l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0.0f) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0.0f) {
                this_min = 0.0f;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0.0f;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

// Symmetric grid: rounds at 1/scale = -nmax/max, then tries 18 nearby grids -(nmax + k/10)/max
// and keeps the one with the best weighted least-squares fit.
static float qx_ref(int n, int nmax, const float *x, int8_t *L, const float *w) {
    float amax;
    const float max = kite__signed_absmax(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = KITE_MAX(-nmax, KITE_MIN(nmax - 1, kite__nearest_int(iscale * x[i])));
        L[i] = (int8_t)(l + nmax);
        sumlx += w[i] * x[i] * (float)l;
        suml2 += w[i] * (float)l * (float)l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        sumlx = suml2 = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = KITE_MAX(-nmax, KITE_MIN(nmax - 1, kite__nearest_int(iscale * x[i])));
            sumlx += w[i] * x[i] * (float)l;
            suml2 += w[i] * (float)l * (float)l;
        }
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + KITE_MAX(-nmax, KITE_MIN(nmax - 1, kite__nearest_int(iscale * x[i]))));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static void qkx_groups_ref(int nsub, int n, int nmax, const float *x, const float *w, uint8_t *L, float *scales,
                           float *the_mins, float rmin, float rdelta, int nstep, bool use_mad) {
    for (int g = 0; g < nsub; g++)
        scales[g] = qkx_ref(n, nmax, x + n * g, w + n * g, L + n * g, &the_mins[g], rmin, rdelta, nstep, use_mad);
}

static void qx_groups_ref(int nsub, int n, int nmax, const float *x, int8_t *L, const float *w, float *scales) {
    for (int g = 0; g < nsub; g++) scales[g] = qx_ref(n, nmax, x + n * g, L + n * g, w + n * g);
}

// Symmetric grid for Q3_K (ggml's make_q3_quants with do_rmse): round at -nmax/max, then up
// to 5 passes of coordinate descent, moving one code at a time when the weighted (x^2) fit
// improves. L gets codes in 0..2*nmax-1.
static float q3_ref(int n, int nmax, const float *x, int8_t *L) {
    float amax;
    const float max = kite__signed_absmax(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    const float iscale = (float)-nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = KITE_MAX(-nmax, KITE_MIN(nmax - 1, kite__nearest_int(iscale * x[i])));
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (slx > 0.0f) {
                float sl2 = suml2 - w * (float)L[i] * (float)L[i];
                int new_l = KITE_MAX(-nmax, KITE_MIN(nmax - 1, kite__nearest_int(x[i] * sl2 / slx)));
                if (new_l != L[i]) {
                    slx += w * x[i] * (float)new_l;
                    sl2 += w * (float)new_l * (float)new_l;
                    // better fit <=> slx^2/sl2 > sumlx^2/suml2, cross-multiplied
                    if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

static void q3_groups_ref(int nsub, int n, int nmax, const float *x, int8_t *L, float *scales) {
    for (int g = 0; g < nsub; g++) scales[g] = q3_ref(n, nmax, x + n * g, L + n * g);
}

static void round_min_ref(const float *x, int n, float d, float dm, int nmax, uint8_t *L) {
    for (int l = 0; l < n; l++) {
        int q = kite__nearest_int((x[l] + dm) / d);
        L[l] = (uint8_t)KITE_MAX(0, KITE_MIN(nmax, q));
    }
}

static void round_sym_ref(const float *x, int n, float d, int lo, int hi, int8_t *L) {
    for (int l = 0; l < n; l++) {
        int q = KITE_MAX(lo, KITE_MIN(hi, kite__nearest_int(x[l] / d)));
        L[l] = (int8_t)(q - lo);
    }
}

// ---- IQ4 ---------------------------------------------------------------------------------------

// How far the scale search goes: 1/d is tried as (v0 + k)/max for k in -7..7 (ggml's ntry = 7).
#define IQ4_NTRY 7

// Index of the grid level nearest to v by bisection: g[lo] <= v < g[lo + 1], then the nearer
// of the two (an exact tie goes to the upper level, as ggml's best_index_int8).
static int nearest_level(float v) {
    const int8_t *g = kite__kvalues_iq4nl;
    if (v <= g[0]) return 0;
    if (v >= g[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (v < g[mid]) hi = mid;
        else lo = mid;
    }
    return v - g[hi - 1] < g[hi] - v ? hi - 1 : hi;
}

// Start from d = max/|v0| (the extreme on the outermost level), then try 15 nearby inverse
// scales, each scored by the least squares fit sum(w q x)^2 / sum(w q^2).
static float iq4_scale_ref(const float *x, const float *w) {
    const int8_t *g = kite__kvalues_iq4nl;
    float amax;
    const float max = kite__signed_absmax(x, 32, &amax);
    if (amax < GROUP_MAX_EPS) return 0.0f;
    float d = -max / (float)g[0];
    float id = 1.0f / d;
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int j = 0; j < 32; j++) {
        float q = (float)g[nearest_level(id * x[j])];
        sumqx += w[j] * q * x[j];
        sumq2 += w[j] * q * q;
    }
    d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int k = -IQ4_NTRY; k <= IQ4_NTRY; k++) {
        id = ((float)k + (float)g[0]) / max;
        sumqx = sumq2 = 0.0f;
        for (int j = 0; j < 32; j++) {
            float q = (float)g[nearest_level(id * x[j])];
            sumqx += w[j] * q * x[j];
            sumq2 += w[j] * q * q;
        }
        if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

static void iq4_pack_ref(const float *x, float d, uint8_t qs[16]) {
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(nearest_level(id * x[j]) | (nearest_level(id * x[j + 16]) << 4));
}

static void f16_to_f32_ref(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kite_f16_to_f32(x[i]);
}

static int iq_nearest_ref(const uint8_t *lanes, int dim, int nchunks, const float tt[][8]) {
    float best = FLT_MAX;
    int pos = 0;
    for (int j = 0; j < 8 * nchunks; j++) {
        const uint8_t *c = lanes + 8 * dim * (j / 8) + j % 8;
        float d2 = tt[0][c[0]];
        for (int i = 1; i < dim; i++) d2 += tt[i][c[8 * i]];
        if (d2 < best) best = d2, pos = j;
    }
    return pos;
}

const kite__quant_search kite__quant_search_ref = {
    .isa = "scalar",
    .qkx = qkx_ref,
    .qkx_groups = qkx_groups_ref,
    .qx = qx_ref,
    .qx_groups = qx_groups_ref,
    .q3_groups = q3_groups_ref,
    .round_min = round_min_ref,
    .round_sym = round_sym_ref,
    .iq4_scale = iq4_scale_ref,
    .iq4_pack = iq4_pack_ref,
    .f16_to_f32 = f16_to_f32_ref,
    .q8_0 = kite_quantize_row_q8_0_ref,
    .iq_nearest = iq_nearest_ref,
};
