// kernels_wasm_relaxed.c - the relaxed-SIMD kernel set (builds with -mrelaxed-simd only: the
// wasm-*-relaxed and wasi-tests-relaxed presets): the SIMD128 set with the int8 tiles replaced by
// ones built on i32x4.relaxed_dot_i8x16_i7x16_add_s (16 int8 products per op), sharing the
// helpers of kernels_wasm.inc.
#include "kernels/kernels_wasm.inc"
#include "kernels/kernels_wasm_kgemv.inc"
#define WX8_RELAXED 1
#include "kernels/kernels_wasm_x8.inc"
#include "kernels/kernels_wasm_x8_q5.inc"
#include "kernels/kernels_wasm_x8_q6.inc"
#include "kernels/kernels_wasm_x8_q3.inc"
#include "kernels/kernels_wasm_x8_iq4.inc"
#include "kernels/kernels_wasm_x8_b32.inc"
#include "kernels/kernels_wasm_iq.inc"

// ---- relaxed SIMD build: i32x4.relaxed_dot_i8x16_i7x16_add_s, 16 int8 products per op ---------
// Engines agree on its result only while the second operand lies in 0..127, so unsigned weight
// levels (0..63) go there directly with their offsets taken from activation sums, and signed
// weights (Q8_0, IQ4_NL) take the activations' signs so that |a| (<= 127) goes there instead.

AI v128_t rdot(v128_t acc, v128_t s, v128_t u) { return wasm_i32x4_relaxed_dot_i8x16_i7x16_add(s, u, acc); }

// Levels as the second operand needs them: unsigned for Q4/Q5 (offset applied later), signed
// for Q8_0 / IQ4_NL (sign moved off later).
AI void k_levels_relaxed(int kind, const uint8_t *b, v128_t *l0, v128_t *l1) {
    if (kind == K_Q4_0 || kind == K_Q4_1) {
        nibbles(kind == K_Q4_0 ? ((const block_q4_0 *)b)->qs : ((const block_q4_1 *)b)->qs, l0, l1);
    } else if (kind == K_Q5_0 || kind == K_Q5_1) {
        const uint8_t *qs = kind == K_Q5_0 ? ((const block_q5_0 *)b)->qs : ((const block_q5_1 *)b)->qs;
        const uint8_t *qhp = kind == K_Q5_0 ? ((const block_q5_0 *)b)->qh : ((const block_q5_1 *)b)->qh;
        uint32_t qh;
        memcpy(&qh, qhp, 4);
        nibbles(qs, l0, l1);
        *l0 = wasm_v128_or(*l0, bits16_to_0x10(qh & 0xffff));
        *l1 = wasm_v128_or(*l1, bits16_to_0x10(qh >> 16));
    } else if (kind == K_IQ4_NL) { // indices 0..15: the relaxed swizzle (one pshufb) gives the same bytes everywhere
        const v128_t tbl = ld(kite__kvalues_iq4nl);
        nibbles(((const block_iq4_nl *)b)->qs, l0, l1);
        *l0 = wasm_i8x16_relaxed_swizzle(tbl, *l0), *l1 = wasm_i8x16_relaxed_swizzle(tbl, *l1);
    } else {
        k_levels(kind, b, l0, l1);
    }
}

AI void rmicro32(int kind, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                 const int NR, const int NT) {
    const size_t wsz = k_wsize(kind);
    const size_t asz = k_has_min(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0), aq = k_has_min(kind) ? 4 : 2;
    // signed levels take the activation's sign: exact for -127..127 (all a quantizer writes);
    // a hostile Q8_0 level of -128 wraps there and only changes this row's result
    const int sgn = kind == K_Q8_0 || kind == K_IQ4_NL;
    const int off = kind == K_Q4_0 ? 3 : kind == K_Q5_0 ? 4 : 0; // log2 of the level offset
    const v128_t zero = wasm_i32x4_splat(0);
    v128_t acc[NT_MAX]; // lane r: the running sum of row r (whole rows: no segments here)
    for (int t = 0; t < NT; t++) acc[t] = wasm_f32x4_splat(0);
    for (int b = 0; b < nb; b++) {
        v128_t x0[NT_MAX], x1[NT_MAX], m0[NT_MAX], m1[NT_MAX], offv[NT_MAX];
        float ad[NT_MAX], as_[NT_MAX];
        for (int t = 0; t < NT; t++) {
            const uint8_t *ab = a + t * as + b * asz;
            x0[t] = ld(ab + aq), x1[t] = ld(ab + aq + 16);
            if (sgn) { // sign masks, then |a| (activations are never -128)
                m0[t] = wasm_i8x16_lt(x0[t], zero), m1[t] = wasm_i8x16_lt(x1[t], zero);
                x0[t] = wasm_i8x16_abs(x0[t]), x1[t] = wasm_i8x16_abs(x1[t]);
            }
            if (off) { // the offset's sum, in every lane (added after the rows' reduction)
                const v128_t one = wasm_i8x16_splat(1);
                v128_t o = rdot(rdot(zero, x0[t], one), x1[t], one);
                o = wasm_i32x4_add(o, wasm_i32x4_shuffle(o, o, 2, 3, 0, 1));
                offv[t] = wasm_i32x4_shl(wasm_i32x4_add(o, wasm_i32x4_shuffle(o, o, 1, 0, 3, 2)), off);
            }
            ad[t] = h2f(ab);
            if (k_has_min(kind)) as_[t] = h2f(ab + 2);
        }
        v128_t p[4][NT_MAX];
        for (int r = 0; r < 4; r++)
            for (int t = 0; t < NT; t++) p[r][t] = zero;
        for (int r = 0; r < NR; r++) {
            v128_t l0, l1;
            k_levels_relaxed(kind, w + r * ws + b * wsz, &l0, &l1);
            for (int t = 0; t < NT; t++) {
                if (sgn) {
                    v128_t s0 = wasm_i8x16_sub(wasm_v128_xor(l0, m0[t]), m0[t]);
                    v128_t s1 = wasm_i8x16_sub(wasm_v128_xor(l1, m1[t]), m1[t]);
                    p[r][t] = rdot(rdot(zero, s0, x0[t]), s1, x1[t]);
                } else {
                    p[r][t] = rdot(rdot(zero, x0[t], l0), x1[t], l1);
                }
            }
        }
        const uint8_t *wb = w + b * wsz;
        const v128_t dw = h2f_rows(wb, ws, NR);
        const v128_t mw = k_has_min(kind) ? h2f_rows(wb + 2, ws, NR) : dw;
        for (int t = 0; t < NT; t++) {
            v128_t s = hsum4_i32(p[0][t], p[1][t], p[2][t], p[3][t]);
            if (off) s = wasm_i32x4_sub(s, offv[t]);
            v128_t term = wasm_f32x4_mul(wasm_f32x4_mul(dw, wasm_f32x4_splat(ad[t])), wasm_f32x4_convert_i32x4(s));
            if (k_has_min(kind)) term = wasm_f32x4_add(term, wasm_f32x4_mul(mw, wasm_f32x4_splat(as_[t])));
            acc[t] = wasm_f32x4_add(acc[t], term); // no relaxed_madd: it may or may not fuse
        }
    }
    store_rows(acc, NT, y, ys, NR);
}

AI void rmicro_k(int kind, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                 const int NR, const int NT) {
    const size_t wsz = kk_wsize(kind);
    const v128_t m4 = wasm_i8x16_splat(0x0F), zero = wasm_i32x4_splat(0);
    const int has_min = kind == K_Q4_K || kind == K_Q5_K;
    for (int r = 0; r < NR; r++) {
        const uint8_t *wr = w + r * ws;
        float acc[NT_MAX]; // the running sums (whole rows: no segments here)
        for (int t = 0; t < NT; t++) acc[t] = 0.0f;
        for (int b = 0; b < nb; b++) {
            const uint8_t *wb = wr + b * wsz;
            const block_q8_K *ab[NT_MAX];
            v128_t isum[NT_MAX];
            int msum[NT_MAX];
            for (int t = 0; t < NT; t++) ab[t] = (const block_q8_K *)(a + t * as) + b, isum[t] = zero, msum[t] = 0;
            float d, dmin = 0;
            if (kind == K_Q4_K || kind == K_Q5_K) {
                const block_q4_K *x4 = (const block_q4_K *)wb;
                const uint8_t *qs = kind == K_Q4_K ? x4->qs : ((const block_q5_K *)wb)->qs;
                d = h2f(&x4->d);
                dmin = h2f(&x4->dmin);
                uint8_t sc[8], mn[8];
                kite__unpack_scales_k4(x4->scales, sc, mn);
                v128_t qh0 = wasm_i8x16_splat(0), qh1 = qh0;
                if (kind == K_Q5_K) qh0 = ld(((const block_q5_K *)wb)->qh), qh1 = ld(((const block_q5_K *)wb)->qh + 16);
                for (int j = 0; j < 4; j++) {
                    v128_t b0 = ld(qs + 32 * j), b1 = ld(qs + 32 * j + 16);
                    v128_t lo0 = wasm_v128_and(b0, m4), lo1 = wasm_v128_and(b1, m4);
                    // an i16 shift and the mask: V8 makes an i8 shift an i16 one plus a mask it
                    // builds anew each time
                    v128_t hi0 = wasm_v128_and(wasm_u16x8_shr(b0, 4), m4), hi1 = wasm_v128_and(wasm_u16x8_shr(b1, 4), m4);
                    if (kind == K_Q5_K) {
                        const v128_t bl = wasm_i8x16_splat((int8_t)(1 << (2 * j))), bh = wasm_i8x16_splat((int8_t)(2 << (2 * j)));
                        const v128_t h16 = wasm_i8x16_splat(0x10);
                        lo0 = wasm_v128_or(lo0, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(qh0, bl), bl), h16));
                        lo1 = wasm_v128_or(lo1, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(qh1, bl), bl), h16));
                        hi0 = wasm_v128_or(hi0, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(qh0, bh), bh), h16));
                        hi1 = wasm_v128_or(hi1, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(qh1, bh), bh), h16));
                    }
                    const v128_t slo = wasm_i32x4_splat(sc[2 * j]), shi = wasm_i32x4_splat(sc[2 * j + 1]);
                    for (int t = 0; t < NT; t++) {
                        const int8_t *q = ab[t]->qs + 64 * j;
                        v128_t s0 = rdot(rdot(zero, ld(q), lo0), ld(q + 16), lo1);
                        v128_t s1 = rdot(rdot(zero, ld(q + 32), hi0), ld(q + 48), hi1);
                        isum[t] = wasm_i32x4_add(isum[t], wasm_i32x4_add(wasm_i32x4_mul(s0, slo), wasm_i32x4_mul(s1, shi)));
                    }
                }
                for (int t = 0; t < NT; t++)
                    for (int k = 0; k < 8; k++) msum[t] += mn[k] * (ab[t]->bsums[2 * k] + ab[t]->bsums[2 * k + 1]);
            } else { // Q6_K: levels 0..63 here, the -32 comes from the bsums
                const block_q6_K *x6 = (const block_q6_K *)wb;
                d = h2f(&x6->d);
                for (int h = 0; h < 2; h++) {
                    const uint8_t *ql = x6->ql + 64 * h, *qhp = x6->qh + 32 * h;
                    const v128_t qh0 = ld(qhp), qh1 = ld(qhp + 16);
                    for (int i = 0; i < 4; i++) {
                        v128_t b0 = ld(ql + 32 * (i & 1)), b1 = ld(ql + 32 * (i & 1) + 16);
                        // i16 shifts masked per byte (no bit that crossed a byte survives the
                        // masks): V8 builds an i8 shift from several x86 instructions
                        b0 = wasm_v128_and(wasm_u16x8_shr(b0, 4 * (i >> 1)), m4);
                        b1 = wasm_v128_and(wasm_u16x8_shr(b1, 4 * (i >> 1)), m4);
                        const v128_t m3 = wasm_i8x16_splat(0x30);
                        v128_t l0 = wasm_v128_or(b0, wasm_v128_and(i < 2 ? wasm_i16x8_shl(qh0, 4 - 2 * i) : wasm_u16x8_shr(qh0, 2 * i - 4), m3));
                        v128_t l1 = wasm_v128_or(b1, wasm_v128_and(i < 2 ? wasm_i16x8_shl(qh1, 4 - 2 * i) : wasm_u16x8_shr(qh1, 2 * i - 4), m3));
                        const int g = 4 * h + i;
                        const v128_t s0 = wasm_i32x4_splat(x6->scales[2 * g]), s1 = wasm_i32x4_splat(x6->scales[2 * g + 1]);
                        for (int t = 0; t < NT; t++) {
                            const int8_t *q = ab[t]->qs + 32 * g;
                            isum[t] = wasm_i32x4_add(isum[t], wasm_i32x4_add(wasm_i32x4_mul(rdot(zero, ld(q), l0), s0),
                                                                             wasm_i32x4_mul(rdot(zero, ld(q + 16), l1), s1)));
                        }
                    }
                }
                for (int t = 0; t < NT; t++) {
                    int corr = 0;
                    for (int k = 0; k < 16; k++) corr += x6->scales[k] * ab[t]->bsums[k];
                    isum[t] = wasm_i32x4_sub(isum[t], wasm_i32x4_make(32 * corr, 0, 0, 0));
                }
            }
            for (int t = 0; t < NT; t++) acc[t] = acc[t] + k_term(d, dmin, ab[t]->d, isum[t], msum[t], has_min);
        }
        for (int t = 0; t < NT; t++) y[t * ys + r] = acc[t];
    }
}

// One token's activations for relaxed GEMV over a segment of NT_MAX * SEG elements, set up once
// per block for all rows: the second dot operands (|a| for signed levels), the sign masks, the
// level offset's sum (spread over the lanes) and the scales.
typedef struct ract {
    v128_t x[NT_MAX * SEG / 32][2], m[NT_MAX * SEG / 32][2], off[NT_MAX * SEG / 32];
    float d[NT_MAX * SEG / 32], s[NT_MAX * SEG / 32];
} ract;

// One row's block b against the prepared activations: int32 lanes summing to the block's dot.
AI v128_t rdot_block(int kind, const uint8_t *wb, const ract *R, int b) {
    const v128_t zero = wasm_i32x4_splat(0);
    v128_t l0, l1;
    k_levels_relaxed(kind, wb, &l0, &l1);
    if (kind == K_Q8_0 || kind == K_IQ4_NL) {
        const v128_t s0 = wasm_i8x16_sub(wasm_v128_xor(l0, R->m[b][0]), R->m[b][0]);
        const v128_t s1 = wasm_i8x16_sub(wasm_v128_xor(l1, R->m[b][1]), R->m[b][1]);
        return rdot(rdot(zero, s0, R->x[b][0]), s1, R->x[b][1]);
    }
    const v128_t p = rdot(rdot(zero, R->x[b][0], l0), R->x[b][1], l1);
    return kind == K_Q4_0 || kind == K_Q5_0 ? wasm_i32x4_sub(p, R->off[b]) : p;
}

// GEMV: rows one after another (a sequential stream, see wide_acts), the activation setup shared
// through a ract; 4 blocks a step, each block's dot fenced (kg_fence: else V8 puts the step's
// loads first and spills).
AI void rgemv32(int kind, int n, const uint8_t *w, size_t ws, int nr, const uint8_t *a, float *y) {
    const size_t wsz = k_wsize(kind);
    const size_t asz = k_has_min(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0), aq = k_has_min(kind) ? 4 : 2;
    const int sgn = kind == K_Q8_0 || kind == K_IQ4_NL;
    const int off = kind == K_Q4_0 ? 3 : kind == K_Q5_0 ? 4 : 0;
    const v128_t zero = wasm_i32x4_splat(0);
    ract R;
    KG_SINK;
    for (int s0 = 0; s0 < n; s0 += NT_MAX * SEG) {
        const int nb = (n - s0 < NT_MAX * SEG ? n - s0 : NT_MAX * SEG) / 32;
        for (int b = 0; b < nb; b++) {
            const uint8_t *blk = a + (size_t)(s0 / 32 + b) * asz;
            v128_t x0 = ld(blk + aq), x1 = ld(blk + aq + 16);
            if (sgn) {
                R.m[b][0] = wasm_i8x16_lt(x0, zero), R.m[b][1] = wasm_i8x16_lt(x1, zero);
                x0 = wasm_i8x16_abs(x0), x1 = wasm_i8x16_abs(x1);
            }
            R.x[b][0] = x0, R.x[b][1] = x1;
            if (off) { // lanes summing to the level offset's contribution (a row's dot is summed later)
                const v128_t one = wasm_i8x16_splat(1);
                R.off[b] = wasm_i32x4_shl(rdot(rdot(zero, x0, one), x1, one), off);
            }
            R.d[b] = h2f(blk);
            if (k_has_min(kind)) R.s[b] = h2f(blk + 2);
        }
        const uint8_t *ws0 = w + (size_t)(s0 / 32) * wsz;
        for (int r = 0; r < nr; r++) {
            const uint8_t *wr = ws0 + r * ws;
            float v = s0 > 0 ? y[r] : 0.0f; // the row's running sum goes on from earlier segments
            int b = 0;
            // 4 blocks at a time: their int sums reduced into one vector, their 4 terms computed
            // as one vector, then added to the running sum in block order
            for (; b + 4 <= nb; b += 4) {
                const uint8_t *wb = wr + b * wsz;
                v128_t p[4];
                for (int k = 0; k < 4; k++) {
                    p[k] = rdot_block(kind, wb + k * wsz, &R, b + k);
                    kg_fence(p[k]); // the next block's loads after this one (as gemv32)
                }
                const v128_t s = hsum4_i32(p[0], p[1], p[2], p[3]);
                v128_t term = wasm_f32x4_mul(wasm_f32x4_mul(h2f_rows(wb, wsz, 4), ld(R.d + b)), wasm_f32x4_convert_i32x4(s));
                if (k_has_min(kind)) term = wasm_f32x4_add(term, wasm_f32x4_mul(h2f_rows(wb + 2, wsz, 4), ld(R.s + b)));
                v = add_lanes(v, term);
            }
            for (; b < nb; b++) {
                const uint8_t *wb = wr + b * wsz;
                float term = (h2f(wb) * R.d[b]) * (float)hsum_i32(rdot_block(kind, wb, &R, b));
                if (k_has_min(kind)) term = term + h2f(wb + 2) * R.s[b];
                v = v + term;
            }
            y[r] = v;
        }
    }
}

#define RELAXED_TILE(name, micro, kind, len, is32)                                                                  \
    static void name(int n, const void *wv, size_t ws, int nr, const void *av, size_t as, int nt, float *y,   \
                     size_t ys) {                                                                             \
        const uint8_t *w = wv, *a = av;                                                                       \
        int t = 0;                                                                                            \
        for (; t + NT_MAX <= nt; t += NT_MAX) KITE_TILE_ROWS(micro, kind, len, NT_MAX)                        \
        for (; t < nt; t++) { /* GEMV: rows in sequence (see wide_acts), k-quants kg_rgemv */           \
            if (is32) rgemv32(kind, n, w, ws, nr, a + t * as, y + t * ys);                                     \
            else kg_rgemv(kind, n, w, ws, nr, (const block_q8_K *)(a + t * as), y + t * ys);                      \
        }                                                                                                     \
    }

RELAXED_TILE(rtile_q4_0, rmicro32, K_Q4_0, n / 32, 1)
RELAXED_TILE(rtile_q4_1, rmicro32, K_Q4_1, n / 32, 1)
RELAXED_TILE(rtile_q5_0, rmicro32, K_Q5_0, n / 32, 1)
RELAXED_TILE(rtile_q5_1, rmicro32, K_Q5_1, n / 32, 1)
RELAXED_TILE(rtile_q8_0, rmicro32, K_Q8_0, n / 32, 1)
RELAXED_TILE(rtile_iq4_nl, rmicro32, K_IQ4_NL, n / 32, 1)
RELAXED_TILE(rtile_q4_K, rmicro_k, K_Q4_K, n / QK_K, 0)
RELAXED_TILE(rtile_q5_K, rmicro_k, K_Q5_K, n / QK_K, 0)
RELAXED_TILE(rtile_q6_K, rmicro_k, K_Q6_K, n / QK_K, 0)

// IQ4_XS: the token tiles the SIMD128 set's (tile_k), GEMV the relaxed kg_rgemv.
static void rtile_iq4_xs(int n, const void *wv, size_t ws, int nr, const void *av, size_t as, int nt, float *y, size_t ys) {
    const uint8_t *w = wv, *a = av;
    int t = nt - nt % NT_MAX;
    if (t > 0) tile_k(K_IQ4_XS, n, w, ws, nr, a, as, t, y, ys);
    for (; t < nt; t++) kg_rgemv(K_IQ4_XS, n, w, ws, nr, (const block_q8_K *)(a + t * as), y + t * ys);
}

#include "kernels/kernels_wasm_relaxed_iq.inc"
#include "kernels/kernels_wasm_x8_grid.inc"
#include "kernels/kernels_wasm_x8_grid_s.inc"
#include "kernels/kernels_wasm_x8_iq1.inc"
#define WPK_RELAXED 1
#include "kernels/kernels_wasm_packed.inc"
#include "kernels/kernels_wasm_x8_gemm.inc"

// The packed prefill GEMM of the 8-bit-level types: the SIMD128 set's (levels and activations as
// int16) outruns the relaxed one here, which splits 8-bit levels into two planes (two dots). Hot
// GEMM, 128 tokens, 1 thread, Chromium, GOP/s SIMD128 / relaxed (`bench/wasm_kernels_bench.mjs
// --gemm --quick`): Q8_0 50 / 27, IQ4_NL 50 / 27, IQ4_XS 60 / 34. So these types' relaxed tile
// takes SIMD128's from WPK_MIN_TOK tokens on and keeps the relaxed one below (the GEMV, small
// batches). (Q4_0, Q4_1, Q5_0, Q5_1 ran SIMD128's too, 45-50 against relaxed 41-44, until their
// relaxed dots went to int16 lanes: now relaxed ~75-80 before the 64-row tiles.) Same bits: every
// set gives the _ref's.
static kite__tile_fn simd128_gemm[KITE_TYPE_COUNT], relaxed_few[KITE_TYPE_COUNT];
#define MIXED_TILE(name, wtype)                                                                                    \
    static void name(int n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt, float *y,       \
                     size_t ys) {                                                                                \
        (nt >= WPK_MIN_TOK ? simd128_gemm[wtype] : relaxed_few[wtype])(n, w, ws, nr, a, as, nt, y, ys);          \
    }
MIXED_TILE(mtile_q8_0, KITE_TYPE_Q8_0)
MIXED_TILE(mtile_iq4_nl, KITE_TYPE_IQ4_NL)
MIXED_TILE(mtile_iq4_xs, KITE_TYPE_IQ4_XS)

void kite__kernels_fill_wasm_relaxed(kite__kernels *k) {
    kite__kernels_fill_wasm(k);
    memcpy(simd128_gemm, k->tile, sizeof simd128_gemm); // (the SIMD128 set's packed tiles)
    k->isa = "wasm-relaxed";
    k->tile[KITE_TYPE_Q4_0] = rtile_q4_0;
    k->tile[KITE_TYPE_Q4_1] = rtile_q4_1;
    k->tile[KITE_TYPE_Q5_0] = rtile_q5_0;
    k->tile[KITE_TYPE_Q5_1] = rtile_q5_1;
    k->tile[KITE_TYPE_Q8_0] = rtile_q8_0;
    k->tile[KITE_TYPE_IQ4_NL] = rtile_iq4_nl;
    k->tile[KITE_TYPE_Q4_K] = rtile_q4_K;
    k->gemv_x8[KITE_TYPE_Q4_K] = wx8_gemv_q4_K; // the relaxed one (kernels_wasm_x8.inc)
    k->gemv_x8[KITE_TYPE_Q5_K] = wx8_gemv_q5_K; // the relaxed one (kernels_wasm_x8_q5.inc)
    k->gemv_x8[KITE_TYPE_Q6_K] = wx8_gemv_q6_K; // the relaxed one (kernels_wasm_x8_q6.inc)
    k->gemv_x8[KITE_TYPE_Q3_K] = wx8_gemv_q3_K; // the relaxed one (kernels_wasm_x8_q3.inc)
    k->gemv_x8[KITE_TYPE_Q2_K] = wx8_gemv_q2_K; // the relaxed one (kernels_wasm_x8_q3.inc)
    k->gemv_x8[KITE_TYPE_IQ4_XS] = wx8_gemv_iq4_xs; // the relaxed one (kernels_wasm_x8_iq4.inc)
    k->gemv_x8[KITE_TYPE_Q4_0] = wx8_gemv_q4_0;
    k->gemv_x8[KITE_TYPE_IQ4_NL] = wx8_gemv_iq4_nl;
    k->gemv_x8[KITE_TYPE_Q8_0] = wx8_gemv_q8_0;
    k->gemv_x8[KITE_TYPE_Q5_0] = wx8_gemv_q5_0; // the relaxed ones (kernels_wasm_x8_b32.inc)
    k->gemv_x8[KITE_TYPE_Q4_1] = wx8_gemv_q4_1;
    k->gemv_x8[KITE_TYPE_Q5_1] = wx8_gemv_q5_1;
    k->gemv_x8[KITE_TYPE_IQ3_XXS] = wx8_gemv_iq3_xxs; // the relaxed ones (kernels_wasm_x8_grid.inc)
    k->gemv_x8[KITE_TYPE_IQ2_XXS] = wx8_gemv_iq2_xxs;
    k->gemv_x8[KITE_TYPE_IQ2_XS] = wx8_gemv_iq2_xs; // (kernels_wasm_x8_grid_s.inc)
    k->gemv_x8[KITE_TYPE_IQ2_S] = wx8_gemv_iq2_s;
    k->gemv_x8[KITE_TYPE_IQ3_S] = wx8_gemv_iq3_s;
    k->gemv_x8[KITE_TYPE_IQ1_S] = wx8_gemv_iq1_s; // (kernels_wasm_x8_iq1.inc)
    k->gemv_x8[KITE_TYPE_IQ1_M] = wx8_gemv_iq1_m;
    k->gemm_x8[KITE_TYPE_Q4_K] = wx8_gemm_q4_K; // the relaxed ones (kernels_wasm_x8_gemm.inc)
    k->gemm_x8[KITE_TYPE_Q6_K] = wx8_gemm_q6_K;
    k->gemm_x8[KITE_TYPE_Q4_0] = wx8_gemm_q4_0;
    k->gemm_x8[KITE_TYPE_Q4_1] = wx8_gemm_q4_1;
    k->gemm_x8[KITE_TYPE_Q5_0] = wx8_gemm_q5_0;
    k->gemm_x8[KITE_TYPE_Q5_1] = wx8_gemm_q5_1;
    k->tile[KITE_TYPE_Q5_K] = rtile_q5_K;
    k->tile[KITE_TYPE_Q6_K] = rtile_q6_K;
    k->tile[KITE_TYPE_IQ4_XS] = rtile_iq4_xs;
    relaxed_fill_iq(k);
    wpk_fill(k); // (few tokens fall back to the tiles above: relaxed, or Q2_K/Q3_K the SIMD128 set's)
    memcpy(relaxed_few, k->tile, sizeof relaxed_few);
    k->tile[KITE_TYPE_Q8_0] = mtile_q8_0, k->tile[KITE_TYPE_IQ4_NL] = mtile_iq4_nl;
    k->tile[KITE_TYPE_IQ4_XS] = mtile_iq4_xs;
}
