// kernels_wasm.c - WebAssembly SIMD128 tiles. There is no int8 dot product in SIMD128, so
// levels and activations are widened to int16 and multiplied with i32x4.dot_i16x8_s. Widening
// is paid once where possible: a tile widens its activations (and converts their block scales)
// segment by segment into a stack buffer used by all of its rows; weight levels are widened
// once per pass and used for 4 tokens (GEMM); k-quant sub-block scales are folded into the
// widened weights. GEMV (decode) reads the weight rows one after another (a sequential stream
// the hardware prefetcher follows) and reduces 4 blocks' int sums into one vector per step.
// Float order: the canonical one of kernels_internal.h (the _ref's bits). Each running sum is
// either one lane (GEMM: lanes = 4 rows of one token) or one scalar (GEMV: the 4 blocks' terms
// computed as one vector, then added lane by lane in block order); a row split into activation
// segments continues its sum from y. No op is fused (SIMD128 has no FMA).
#include "kernels/kernels_internal.h"
#include "kernels/kernel_kinds.h"
#include "kernels/wasm_f16.h"

#include <math.h>
#include <string.h>
#include <wasm_simd128.h>

#include "blocks/block_util.h"
#include "kernels/attend.h"

#define AI static inline __attribute__((always_inline))
// Token tile: 4 tokens per decoded weight group. V8 spills some of the 4x4 float accumulators
// (x64 has 16 xmm registers) but the decode work saved is larger (measured in Chromium: k-quant
// GEMM +30-40%, 32-element blocks even).
#define NT_MAX 4

// Half -> float without a table: the half's bits shifted into a float's place are the value
// times 2^-112 (normals and subnormals alike), so one exact multiply fixes the exponent.
AI float h2f(const void *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    if ((h & 0x7c00) == 0x7c00) return kite_f16_to_f32(h); // inf / nan (never in sane files)
    float f = kite__f32_from_bits((uint32_t)(h & 0x7fff) << 13) * 0x1p112f;
    return (h & 0x8000) ? -f : f;
}

AI v128_t ld(const void *p) { return wasm_v128_load(p); }

// The halves at p + r * stride (rows r < nr; lanes past nr are 0) as four floats: one block
// scale of 4 weight rows converted at once instead of row by row.
AI v128_t h2f_rows(const uint8_t *p, size_t stride, int nr) {
    uint16_t h[4] = {0, 0, 0, 0};
    for (int r = 0; r < nr; r++) memcpy(&h[r], p + r * stride, 2);
    // lanes built in registers (a v128 load of just-stored scalars would stall on store forwarding)
    const v128_t x = wasm_i32x4_make((int32_t)((uint32_t)h[0] << 16), (int32_t)((uint32_t)h[1] << 16),
                                     (int32_t)((uint32_t)h[2] << 16), (int32_t)((uint32_t)h[3] << 16));
    return kite__h2f4_hi(x);
}

// [sum of p0's lanes, p1's, p2's, p3's]: four rows' int32 partial sums in one vector, so that
// the block scale multiply and float accumulate run once per 4 rows (exact: integer adds).
AI v128_t hsum4_i32(v128_t p0, v128_t p1, v128_t p2, v128_t p3) {
    v128_t a = wasm_i32x4_add(wasm_i32x4_shuffle(p0, p1, 0, 4, 1, 5), wasm_i32x4_shuffle(p0, p1, 2, 6, 3, 7));
    v128_t b = wasm_i32x4_add(wasm_i32x4_shuffle(p2, p3, 0, 4, 1, 5), wasm_i32x4_shuffle(p2, p3, 2, 6, 3, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
}

AI int32_t hsum_i32(v128_t v) {
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1);
}

// dot of 16 int16 pairs: (w0,w1) . (a0,a1) added to acc
AI v128_t dot16(v128_t acc, v128_t w0, v128_t w1, v128_t a0, v128_t a1) {
    return wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_dot_i16x8(w0, a0), wasm_i32x4_dot_i16x8(w1, a1)));
}

// 16 bytes of nibbles -> levels of elements 0..15 (low nibbles) and 16..31 (high nibbles)
AI void nibbles(const uint8_t *qs, v128_t *lo, v128_t *hi) {
    v128_t b = ld(qs);
    *lo = wasm_v128_and(b, wasm_i8x16_splat(0x0F));
    *hi = wasm_u8x16_shr(b, 4);
}

// Byte k of BIT_TO_0x10[v] is 0x10 when bit k of v is set: the fifth bit of 8 Q5 levels from
// one qh byte with one table load (cheaper than spreading bits with swizzle + compare).
#define B2B(v) ((((v) >> 0 & 1) ? 0x10ull : 0) | (((v) >> 1 & 1) ? 0x10ull << 8 : 0) | (((v) >> 2 & 1) ? 0x10ull << 16 : 0) | \
                (((v) >> 3 & 1) ? 0x10ull << 24 : 0) | (((v) >> 4 & 1) ? 0x10ull << 32 : 0) | (((v) >> 5 & 1) ? 0x10ull << 40 : 0) | \
                (((v) >> 6 & 1) ? 0x10ull << 48 : 0) | (((v) >> 7 & 1) ? 0x10ull << 56 : 0))
#define B2B4(v) B2B(v), B2B((v) + 1), B2B((v) + 2), B2B((v) + 3)
#define B2B16(v) B2B4(v), B2B4((v) + 4), B2B4((v) + 8), B2B4((v) + 12)
#define B2B64(v) B2B16(v), B2B16((v) + 16), B2B16((v) + 32), B2B16((v) + 48)
static const uint64_t BIT_TO_0x10[256] = {B2B64(0), B2B64(64), B2B64(128), B2B64(192)};

// 0x10 in byte j where bit j of the 16-bit value h is set
AI v128_t bits16_to_0x10(uint32_t h) { return wasm_i64x2_make((int64_t)BIT_TO_0x10[h & 0xff], (int64_t)BIT_TO_0x10[(h >> 8) & 0xff]); }

// ---- 32-element blocks x Q8_0 / Q8_1 -------------------------------------------------------



// Signed levels of one block: elements 0..15 in *l0, 16..31 in *l1 (offsets applied).
AI void k_levels(int kind, const uint8_t *b, v128_t *l0, v128_t *l1) {
    switch (kind) {
    case K_Q4_0:
        nibbles(((const block_q4_0 *)b)->qs, l0, l1);
        *l0 = wasm_i8x16_sub(*l0, wasm_i8x16_splat(8)), *l1 = wasm_i8x16_sub(*l1, wasm_i8x16_splat(8));
        break;
    case K_Q4_1: nibbles(((const block_q4_1 *)b)->qs, l0, l1); break;
    case K_Q5_0: case K_Q5_1: {
        const uint8_t *qs = kind == K_Q5_0 ? ((const block_q5_0 *)b)->qs : ((const block_q5_1 *)b)->qs;
        const uint8_t *qhp = kind == K_Q5_0 ? ((const block_q5_0 *)b)->qh : ((const block_q5_1 *)b)->qh;
        uint32_t qh;
        memcpy(&qh, qhp, 4);
        nibbles(qs, l0, l1);
        *l0 = wasm_v128_or(*l0, bits16_to_0x10(qh & 0xffff));
        *l1 = wasm_v128_or(*l1, bits16_to_0x10(qh >> 16));
        if (kind == K_Q5_0) *l0 = wasm_i8x16_sub(*l0, wasm_i8x16_splat(16)), *l1 = wasm_i8x16_sub(*l1, wasm_i8x16_splat(16));
        break;
    }
    case K_Q8_0: *l0 = ld(((const block_q8_0 *)b)->qs), *l1 = ld(((const block_q8_0 *)b)->qs + 16); break;
    default: {
        const v128_t tbl = ld(kite__kvalues_iq4nl);
        nibbles(((const block_iq4_nl *)b)->qs, l0, l1);
        *l0 = wasm_i8x16_swizzle(tbl, *l0), *l1 = wasm_i8x16_swizzle(tbl, *l1);
    }
    }
}

// Activations of up to NT_MAX tokens for one segment, widened to int16, with their per-32
// scales as floats (and Q8_1's s). Lives on the stack of a tile call. A 4-token tile takes
// segments of SEG elements per token; one token (GEMV) takes NT_MAX * SEG, so that each weight
// row is read in as few pieces as possible: rows one after another are one sequential stream,
// which the hardware prefetcher follows (measured in Chromium: Q8_0 GEMV on cold weights 2.3x
// faster than 4 rows interleaved or a row read in 1024-element pieces).
enum { SEG = 1024 };
typedef struct wide_acts {
    int seg; // elements per token in this tile: SEG or NT_MAX * SEG
    int16_t q[NT_MAX * SEG];
    float d[NT_MAX * SEG / 32];
    float s[NT_MAX * SEG / 32];
    int32_t off[NT_MAX * SEG / 32]; // -8 * sum(block): Q4_0's level offset (x2: Q5_0's)
} wide_acts;
AI int16_t *act_q(wide_acts *A, int t) { return A->q + t * A->seg; }
AI const int16_t *caq(const wide_acts *A, int t) { return A->q + t * A->seg; }
AI int blk_i(const wide_acts *A, int t, int b) { return t * (A->seg / 32) + b; } // index of token t's block b

// Widens blocks [b0, b0 + nb) of ntt Q8_0/Q8_1 activation rows.
AI void widen_q8(int kind, const uint8_t *a, size_t as, int ntt, int b0, int nb, wide_acts *A) {
    const int has_min = k_has_min(kind);
    const size_t asz = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0), aq = has_min ? 4 : 2;
    for (int t = 0; t < ntt; t++)
        for (int b = 0; b < nb; b++) {
            const uint8_t *blk = a + t * as + (size_t)(b0 + b) * asz;
            v128_t x0 = ld(blk + aq), x1 = ld(blk + aq + 16);
            int16_t *q = act_q(A, t) + 32 * b;
            wasm_v128_store(q, wasm_i16x8_extend_low_i8x16(x0));
            wasm_v128_store(q + 8, wasm_i16x8_extend_high_i8x16(x0));
            wasm_v128_store(q + 16, wasm_i16x8_extend_low_i8x16(x1));
            wasm_v128_store(q + 24, wasm_i16x8_extend_high_i8x16(x1));
            if (kind == K_Q4_0 || kind == K_Q5_0) {
                v128_t s = wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_extadd_pairwise_i8x16(x0)),
                                          wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_extadd_pairwise_i8x16(x1)));
                s = wasm_i32x4_add(s, wasm_i32x4_shuffle(s, s, 2, 3, 0, 1));
                A->off[blk_i(A, t, b)] = -(int32_t)((uint32_t)(wasm_i32x4_extract_lane(s, 0) + wasm_i32x4_extract_lane(s, 1)) << (kind == K_Q4_0 ? 3 : 4));
            }
            A->d[blk_i(A, t, b)] = h2f(blk);
            if (has_min) A->s[blk_i(A, t, b)] = h2f(blk + 2);
        }
}

// One block's 32 weight levels widened to int16 (Q4_0 / Q5_0 taken unsigned: offset applied
// through the activation sums).
AI void wide_levels(int kind, const uint8_t *wb, v128_t *w0, v128_t *w1, v128_t *w2, v128_t *w3) {
    if (kind == K_Q8_0) { // load-and-widen in one instruction (pmovsxbw)
        const int8_t *qs = ((const block_q8_0 *)wb)->qs;
        *w0 = wasm_i16x8_load8x8(qs), *w1 = wasm_i16x8_load8x8(qs + 8);
        *w2 = wasm_i16x8_load8x8(qs + 16), *w3 = wasm_i16x8_load8x8(qs + 24);
    } else if (kind == K_Q4_0 || kind == K_Q4_1) { // nibbles split in int16 lanes directly
        const uint8_t *qs = kind == K_Q4_0 ? ((const block_q4_0 *)wb)->qs : ((const block_q4_1 *)wb)->qs;
        const v128_t v0 = wasm_u16x8_load8x8(qs), v1 = wasm_u16x8_load8x8(qs + 8);
        const v128_t m = wasm_i16x8_splat(0x0F);
        *w0 = wasm_v128_and(v0, m), *w1 = wasm_v128_and(v1, m);
        *w2 = wasm_u16x8_shr(v0, 4), *w3 = wasm_u16x8_shr(v1, 4);
    } else if (kind == K_Q5_0 || kind == K_Q5_1) { // as Q4, plus the fifth bits widened by the table load
        const uint8_t *qs = kind == K_Q5_0 ? ((const block_q5_0 *)wb)->qs : ((const block_q5_1 *)wb)->qs;
        const uint8_t *qh = kind == K_Q5_0 ? ((const block_q5_0 *)wb)->qh : ((const block_q5_1 *)wb)->qh;
        const v128_t v0 = wasm_u16x8_load8x8(qs), v1 = wasm_u16x8_load8x8(qs + 8);
        const v128_t m = wasm_i16x8_splat(0x0F);
        *w0 = wasm_v128_or(wasm_v128_and(v0, m), wasm_u16x8_load8x8(&BIT_TO_0x10[qh[0]]));
        *w1 = wasm_v128_or(wasm_v128_and(v1, m), wasm_u16x8_load8x8(&BIT_TO_0x10[qh[1]]));
        *w2 = wasm_v128_or(wasm_u16x8_shr(v0, 4), wasm_u16x8_load8x8(&BIT_TO_0x10[qh[2]]));
        *w3 = wasm_v128_or(wasm_u16x8_shr(v1, 4), wasm_u16x8_load8x8(&BIT_TO_0x10[qh[3]]));
    } else {
        v128_t l0, l1;
        k_levels(kind, wb, &l0, &l1);
        *w0 = wasm_i16x8_extend_low_i8x16(l0), *w1 = wasm_i16x8_extend_high_i8x16(l0);
        *w2 = wasm_i16x8_extend_low_i8x16(l1), *w3 = wasm_i16x8_extend_high_i8x16(l1);
    }
}

// The running sums of rows r < nr of token t (lane r; y[t * ys + r] when accumulate, else +0).
AI v128_t load_rows(const float *y, int nr, int accumulate) {
    if (!accumulate) return wasm_f32x4_splat(0);
    return wasm_f32x4_make(y[0], nr > 1 ? y[1] : 0, nr > 2 ? y[2] : 0, nr > 3 ? y[3] : 0);
}

// Writes lane r < nr of v[t] to y[t * ys + r].
AI void store_rows(const v128_t *v, int nt, float *y, size_t ys, int nr) {
    for (int t = 0; t < nt; t++) {
        float f[4];
        wasm_v128_store(f, v[t]);
        for (int r = 0; r < nr; r++) y[t * ys + r] = f[r];
    }
}

// s + lane 0 + lane 1 + lane 2 + lane 3 of v, in that order, each add rounded (4 blocks' terms
// added to one running sum in block order).
AI float add_lanes(float s, v128_t v) {
    s = s + wasm_f32x4_extract_lane(v, 0);
    s = s + wasm_f32x4_extract_lane(v, 1);
    s = s + wasm_f32x4_extract_lane(v, 2);
    return s + wasm_f32x4_extract_lane(v, 3);
}

// NR (<= 4) rows x NT tokens over nb blocks of one segment; accumulate: the running sums go on
// from y (earlier segments). Each block's integer dots of the 4 rows are reduced into one vector
// (lane = row), scaled by the 4 rows' block scales at once and added to the token's sums.
AI void micro32(int kind, int nb, const uint8_t *w, size_t ws, const wide_acts *A, float *y, size_t ys, const int NR,
                const int NT, int accumulate) {
    const size_t wsz = k_wsize(kind);
    v128_t acc[NT_MAX];
    for (int t = 0; t < NT; t++) acc[t] = load_rows(y + t * ys, NR, accumulate);
    for (int b = 0; b < nb; b++) {
        v128_t p[4][NT_MAX];
        for (int r = 0; r < 4; r++)
            for (int t = 0; t < NT; t++) p[r][t] = wasm_i32x4_splat(0);
        for (int r = 0; r < NR; r++) {
            const uint8_t *wb = w + r * ws + b * wsz;
            v128_t w0, w1, w2, w3;
            wide_levels(kind, wb, &w0, &w1, &w2, &w3);
            for (int t = 0; t < NT; t++) {
                const int16_t *q = caq(A, t) + 32 * b;
                v128_t s = dot16(wasm_i32x4_splat(0), w0, w1, ld(q), ld(q + 8));
                p[r][t] = dot16(s, w2, w3, ld(q + 16), ld(q + 24));
            }
        }
        const uint8_t *wb = w + b * wsz;
        const v128_t dw = h2f_rows(wb, ws, NR);
        const v128_t mw = k_has_min(kind) ? h2f_rows(wb + 2, ws, NR) : dw;
        for (int t = 0; t < NT; t++) {
            v128_t s = hsum4_i32(p[0][t], p[1][t], p[2][t], p[3][t]);
            if (kind == K_Q4_0 || kind == K_Q5_0) s = wasm_i32x4_add(s, wasm_i32x4_splat(A->off[blk_i(A, t, b)])); // levels taken unsigned
            v128_t term = wasm_f32x4_mul(wasm_f32x4_mul(dw, wasm_f32x4_splat(A->d[blk_i(A, t, b)])), wasm_f32x4_convert_i32x4(s));
            if (k_has_min(kind)) term = wasm_f32x4_add(term, wasm_f32x4_mul(mw, wasm_f32x4_splat(A->s[blk_i(A, t, b)])));
            acc[t] = wasm_f32x4_add(acc[t], term);
        }
    }
    store_rows(acc, NT, y, ys, NR);
}

// GEMV: rows one after another over nb blocks of a segment, 4 blocks at a time (their int sums
// reduced into one vector, 4 weight scales converted at once, the 4 terms computed as one
// vector and added to the row's sum in block order); accumulate: the sum goes on from y.
AI void gemv32(int kind, int nb, const uint8_t *w, size_t ws, int nr, const wide_acts *A, float *y, int accumulate) {
    const size_t wsz = k_wsize(kind);
    const int16_t *q = A->q;
    for (int r = 0; r < nr; r++) {
        const uint8_t *wr = w + r * ws;
        float v = accumulate ? y[r] : 0.0f;
        int b = 0;
        for (; b + 4 <= nb; b += 4) {
            v128_t p[4];
            for (int k = 0; k < 4; k++) {
                v128_t w0, w1, w2, w3;
                wide_levels(kind, wr + (b + k) * wsz, &w0, &w1, &w2, &w3);
                const int16_t *qb = q + 32 * (b + k);
                p[k] = dot16(dot16(wasm_i32x4_splat(0), w0, w1, ld(qb), ld(qb + 8)), w2, w3, ld(qb + 16), ld(qb + 24));
            }
            v128_t s = hsum4_i32(p[0], p[1], p[2], p[3]);
            if (kind == K_Q4_0 || kind == K_Q5_0) s = wasm_i32x4_add(s, ld(A->off + b)); // levels taken unsigned
            const uint8_t *wb = wr + b * wsz;
            v128_t term = wasm_f32x4_mul(wasm_f32x4_mul(h2f_rows(wb, wsz, 4), ld(A->d + b)), wasm_f32x4_convert_i32x4(s));
            if (k_has_min(kind)) term = wasm_f32x4_add(term, wasm_f32x4_mul(h2f_rows(wb + 2, wsz, 4), ld(A->s + b)));
            v = add_lanes(v, term);
        }
        for (; b < nb; b++) {
            const uint8_t *wb = wr + b * wsz;
            v128_t w0, w1, w2, w3;
            wide_levels(kind, wb, &w0, &w1, &w2, &w3);
            const int16_t *qb = q + 32 * b;
            const v128_t p = dot16(dot16(wasm_i32x4_splat(0), w0, w1, ld(qb), ld(qb + 8)), w2, w3, ld(qb + 16), ld(qb + 24));
            int32_t is = hsum_i32(p);
            if (kind == K_Q4_0 || kind == K_Q5_0) is += A->off[b];
            float term = (h2f(wb) * A->d[b]) * (float)is;
            if (k_has_min(kind)) term = term + h2f(wb + 2) * A->s[b];
            v = v + term;
        }
        y[r] = v;
    }
}

AI void tile32(int kind, int n, const uint8_t *w, size_t ws, int nr, const uint8_t *a, size_t as, int nt, float *y,
               size_t ys) {
    wide_acts A;
    const size_t wsz = k_wsize(kind);
    for (int t0 = 0, ntt; t0 < nt; t0 += ntt) {
        ntt = nt - t0 >= NT_MAX ? NT_MAX : 1; // full tiles, then the leftover tokens one by one
        A.seg = ntt == NT_MAX ? SEG : NT_MAX * SEG;
        for (int s0 = 0; s0 < n; s0 += A.seg) {
            const int nb = (n - s0 < A.seg ? n - s0 : A.seg) / 32;
            widen_q8(kind, a + t0 * as, as, ntt, s0 / 32, nb, &A);
            const uint8_t *ws0 = w + (size_t)(s0 / 32) * wsz;
            float *yt = y + t0 * ys;
            int r = 0;
            if (ntt == NT_MAX) {
                for (; r + 4 <= nr; r += 4) micro32(kind, nb, ws0 + r * ws, ws, &A, yt + r, ys, 4, NT_MAX, s0 > 0);
                for (; r < nr; r++) micro32(kind, nb, ws0 + r * ws, ws, &A, yt + r, ys, 1, NT_MAX, s0 > 0);
            } else { // GEMV: one row after another (see wide_acts)
                gemv32(kind, nb, ws0, ws, nr, &A, yt, s0 > 0);
            }
        }
    }
}

// ---- k-quants x Q8_K: one row at a time, scales folded into the widened levels ------------

enum { K_Q4_K, K_Q5_K, K_Q6_K, K_Q2_K, K_Q3_K, K_IQ4_XS };

AI size_t kk_wsize(int kind) {
    return kind == K_Q4_K ? sizeof(block_q4_K) : kind == K_Q5_K ? sizeof(block_q5_K) : kind == K_Q6_K ? sizeof(block_q6_K)
         : kind == K_Q2_K ? sizeof(block_q2_K) : kind == K_Q3_K ? sizeof(block_q3_K) : sizeof(block_iq4_xs);
}

// 32 levels (two i8x16, unsigned or signed small) times int16 scales s0 (elements 0..15) and
// s1 (16..31) -> four i16x8 (|level * scale| < 2^13 for every k-quant).
AI void widen_scaled(v128_t l0, v128_t l1, int s0, int s1, v128_t o[4]) {
    const v128_t m0 = wasm_i16x8_splat((int16_t)s0), m1 = wasm_i16x8_splat((int16_t)s1);
    o[0] = wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(l0), m0);
    o[1] = wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(l0), m0);
    o[2] = wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(l1), m1);
    o[3] = wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(l1), m1);
}

// 32 signed levels (two i8x16) -> four i16x8.
AI void widen(v128_t l0, v128_t l1, v128_t o[4]) {
    o[0] = wasm_i16x8_extend_low_i8x16(l0), o[1] = wasm_i16x8_extend_high_i8x16(l0);
    o[2] = wasm_i16x8_extend_low_i8x16(l1), o[3] = wasm_i16x8_extend_high_i8x16(l1);
}

// isum += o . (32 widened activations at q)
AI v128_t dot32_w(v128_t isum, const v128_t o[4], const int16_t *q) {
    isum = dot16(isum, o[0], o[1], ld(q), ld(q + 8));
    return dot16(isum, o[2], o[3], ld(q + 16), ld(q + 24));
}

// Widens super-blocks [sb0, sb0 + nsb) of ntt Q8_K rows (their d and bsums are read in place).
AI void widen_q8K(const uint8_t *a, size_t as, int ntt, int sb0, int nsb, wide_acts *A) {
    for (int t = 0; t < ntt; t++)
        for (int b = 0; b < nsb; b++) {
            const int8_t *src = ((const block_q8_K *)(a + t * as) + sb0 + b)->qs;
            int16_t *q = act_q(A, t) + QK_K * b;
            for (int i = 0; i < QK_K; i += 16) {
                v128_t x = ld(src + i);
                wasm_v128_store(q + i, wasm_i16x8_extend_low_i8x16(x));
                wasm_v128_store(q + i + 8, wasm_i16x8_extend_high_i8x16(x));
            }
        }
}

// One super-block's float term for a token (the canonical order): (d*da)*isum, minus
// (dmin*da)*msum for the kinds with mins; isum's lanes are reduced in integers first.
AI float k_term(float d, float dmin, float da, v128_t isum, int msum, int has_min) {
    const float term = (d * da) * (float)hsum_i32(isum);
    return has_min ? term - (dmin * da) * (float)msum : term;
}

// One row at a time (a sequential stream) x NT tokens over the nb super-blocks of a segment;
// ak[t] points at token t's first Q8_K block of the segment; accumulate: the running sums go
// on from y (earlier segments).
AI void micro_k(int kind, int nb, const uint8_t *w, size_t ws, const wide_acts *A, const block_q8_K *const *ak,
                float *y, size_t ys, const int NR, const int NT, int accumulate) {
    const size_t wsz = kk_wsize(kind);
    const v128_t m4 = wasm_i8x16_splat(0x0F);
    const int has_min = kind == K_Q4_K || kind == K_Q5_K || kind == K_Q2_K;
    for (int r = 0; r < NR; r++) {
        const uint8_t *wr = w + r * ws;
        float acc[NT_MAX];
        for (int t = 0; t < NT; t++) acc[t] = accumulate ? y[t * ys + r] : 0.0f;
        for (int b = 0; b < nb; b++) {
            const uint8_t *wb = wr + b * wsz;
            v128_t isum[NT_MAX];
            int msum[NT_MAX];
            for (int t = 0; t < NT; t++) isum[t] = wasm_i32x4_splat(0), msum[t] = 0;
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
                    v128_t ol[4], oh[4];
                    if (kind == K_Q4_K) { // nibbles split in int16 lanes directly (load8x8 widens)
                        const v128_t m = wasm_i16x8_splat(0x0F);
                        for (int k = 0; k < 4; k++) {
                            v128_t v = wasm_u16x8_load8x8(qs + 32 * j + 8 * k);
                            ol[k] = wasm_v128_and(v, m), oh[k] = wasm_u16x8_shr(v, 4);
                        }
                    } else { // Q5_K: bytes, fifth bits by compare, then widened
                        v128_t b0 = ld(qs + 32 * j), b1 = ld(qs + 32 * j + 16);
                        v128_t lo0 = wasm_v128_and(b0, m4), lo1 = wasm_v128_and(b1, m4);
                        v128_t hi0 = wasm_u8x16_shr(b0, 4), hi1 = wasm_u8x16_shr(b1, 4);
                        const v128_t bl = wasm_i8x16_splat((int8_t)(1 << (2 * j))), bh = wasm_i8x16_splat((int8_t)(2 << (2 * j)));
                        const v128_t h16 = wasm_i8x16_splat(0x10);
                        lo0 = wasm_v128_or(lo0, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(qh0, bl), bl), h16));
                        lo1 = wasm_v128_or(lo1, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(qh1, bl), bl), h16));
                        hi0 = wasm_v128_or(hi0, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(qh0, bh), bh), h16));
                        hi1 = wasm_v128_or(hi1, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(qh1, bh), bh), h16));
                        widen(lo0, lo1, ol);
                        widen(hi0, hi1, oh);
                    }
                    // one scale per 32: dot first, then one i32 multiply per 32 (not 4 i16 ones)
                    const v128_t slo = wasm_i32x4_splat(sc[2 * j]), shi = wasm_i32x4_splat(sc[2 * j + 1]);
                    for (int t = 0; t < NT; t++) {
                        const v128_t z = wasm_i32x4_splat(0);
                        isum[t] = wasm_i32x4_add(isum[t], wasm_i32x4_mul(dot32_w(z, ol, caq(A, t) + QK_K * b + 64 * j), slo));
                        isum[t] = wasm_i32x4_add(isum[t], wasm_i32x4_mul(dot32_w(z, oh, caq(A, t) + QK_K * b + 64 * j + 32), shi));
                    }
                }
                for (int t = 0; t < NT; t++) {
                    const block_q8_K *abk = ak[t] + b;
                    for (int k = 0; k < 8; k++) msum[t] += mn[k] * (abk->bsums[2 * k] + abk->bsums[2 * k + 1]);
                }
            } else if (kind == K_Q2_K || kind == K_Q3_K) {
                // levels 2 bits (Q3_K: plus a high bit, minus 4) per byte lane, 16-element
                // sub-blocks with their own scale (Q2_K: 4-bit scale and min; Q3_K: 6-bit - 32)
                const uint8_t *qs = kind == K_Q2_K ? ((const block_q2_K *)wb)->qs : ((const block_q3_K *)wb)->qs;
                int8_t sc[16];
                v128_t hm0 = wasm_i8x16_splat(0), hm1 = hm0;
                if (kind == K_Q2_K) {
                    const block_q2_K *x2 = (const block_q2_K *)wb;
                    d = h2f(&x2->d);
                    dmin = h2f(&x2->dmin);
                    for (int k = 0; k < 16; k++) sc[k] = (int8_t)(x2->scales[k] & 0x0F);
                    for (int t = 0; t < NT; t++) {
                        const block_q8_K *abk = ak[t] + b;
                        for (int k = 0; k < 16; k++) msum[t] += (x2->scales[k] >> 4) * abk->bsums[k];
                    }
                } else {
                    const block_q3_K *x3 = (const block_q3_K *)wb;
                    d = h2f(&x3->d);
                    kite__unpack_scales_q3k(x3->scales, sc);
                    hm0 = ld(x3->hmask), hm1 = ld(x3->hmask + 16);
                }
                for (int h = 0; h < 2; h++) {
                    const v128_t q0 = ld(qs + 32 * h), q1 = ld(qs + 32 * h + 16);
                    for (int j = 0; j < 4; j++) {
                        const v128_t m3 = wasm_i8x16_splat(3);
                        v128_t l0 = wasm_v128_and(wasm_u8x16_shr(q0, 2 * j), m3), l1 = wasm_v128_and(wasm_u8x16_shr(q1, 2 * j), m3);
                        if (kind == K_Q3_K) { // + 4 where the high bit is set, then - 4
                            const v128_t bit = wasm_i8x16_splat((int8_t)(1 << (4 * h + j))), four = wasm_i8x16_splat(4);
                            l0 = wasm_i8x16_sub(wasm_v128_or(l0, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(hm0, bit), bit), four)), four);
                            l1 = wasm_i8x16_sub(wasm_v128_or(l1, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(hm1, bit), bit), four)), four);
                        }
                        const int g = 4 * h + j;
                        v128_t o[4];
                        widen_scaled(l0, l1, sc[2 * g], sc[2 * g + 1], o);
                        for (int t = 0; t < NT; t++) isum[t] = dot32_w(isum[t], o, caq(A, t) + QK_K * b + 32 * g);
                    }
                }
            } else if (kind == K_IQ4_XS) {
                const block_iq4_xs *xi = (const block_iq4_xs *)wb;
                d = h2f(&xi->d);
                const v128_t tbl = ld(kite__kvalues_iq4nl);
                for (int sb = 0; sb < 8; sb++) {
                    int ls = ((xi->scales_l[sb / 2] >> (4 * (sb & 1))) & 0x0F) | (((xi->scales_h >> (2 * sb)) & 3) << 4);
                    v128_t l0, l1;
                    nibbles(xi->qs + 16 * sb, &l0, &l1);
                    l0 = wasm_i8x16_swizzle(tbl, l0), l1 = wasm_i8x16_swizzle(tbl, l1);
                    v128_t o[4];
                    widen(l0, l1, o);
                    const v128_t s32 = wasm_i32x4_splat(ls - 32);
                    for (int t = 0; t < NT; t++)
                        isum[t] = wasm_i32x4_add(isum[t], wasm_i32x4_mul(dot32_w(wasm_i32x4_splat(0), o, caq(A, t) + QK_K * b + 32 * sb), s32));
                }
            } else { // Q6_K
                const block_q6_K *x6 = (const block_q6_K *)wb;
                d = h2f(&x6->d);
                for (int h = 0; h < 2; h++) {
                    const uint8_t *ql = x6->ql + 64 * h, *qhp = x6->qh + 32 * h;
                    const v128_t qh0 = ld(qhp), qh1 = ld(qhp + 16);
                    for (int i = 0; i < 4; i++) {
                        v128_t b0 = ld(ql + 32 * (i & 1)), b1 = ld(ql + 32 * (i & 1) + 16);
                        if (i >> 1) b0 = wasm_u8x16_shr(b0, 4), b1 = wasm_u8x16_shr(b1, 4);
                        else b0 = wasm_v128_and(b0, m4), b1 = wasm_v128_and(b1, m4);
                        const v128_t m3 = wasm_i8x16_splat(0x30);
                        v128_t h0 = wasm_v128_and(i < 2 ? wasm_i8x16_shl(qh0, 4 - 2 * i) : wasm_u8x16_shr(qh0, 2 * i - 4), m3);
                        v128_t h1 = wasm_v128_and(i < 2 ? wasm_i8x16_shl(qh1, 4 - 2 * i) : wasm_u8x16_shr(qh1, 2 * i - 4), m3);
                        v128_t l0 = wasm_i8x16_sub(wasm_v128_or(b0, h0), wasm_i8x16_splat(32));
                        v128_t l1 = wasm_i8x16_sub(wasm_v128_or(b1, h1), wasm_i8x16_splat(32));
                        const int g = 4 * h + i;
                        v128_t o[4];
                        widen_scaled(l0, l1, x6->scales[2 * g], x6->scales[2 * g + 1], o);
                        for (int t = 0; t < NT; t++) isum[t] = dot32_w(isum[t], o, caq(A, t) + QK_K * b + 32 * g);
                    }
                }
            }
            for (int t = 0; t < NT; t++) acc[t] = acc[t] + k_term(d, dmin, ak[t][b].d, isum[t], msum[t], has_min);
        }
        for (int t = 0; t < NT; t++) y[t * ys + r] = acc[t];
    }
}

AI void tile_k(int kind, int n, const uint8_t *w, size_t ws, int nr, const uint8_t *a, size_t as, int nt, float *y,
               size_t ys) {
    wide_acts A;
    const size_t wsz = kk_wsize(kind);
    for (int t0 = 0, ntt; t0 < nt; t0 += ntt) {
        ntt = nt - t0 >= NT_MAX ? NT_MAX : 1; // full tiles, then the leftover tokens one by one
        A.seg = ntt == NT_MAX ? SEG : NT_MAX * SEG;
        for (int s0 = 0; s0 < n; s0 += A.seg) {
            const int nsb = (n - s0 < A.seg ? n - s0 : A.seg) / QK_K;
            widen_q8K(a + t0 * as, as, ntt, s0 / QK_K, nsb, &A);
            const block_q8_K *ak[NT_MAX];
            for (int t = 0; t < ntt; t++) ak[t] = (const block_q8_K *)(a + (t0 + t) * as) + s0 / QK_K;
            const uint8_t *ws0 = w + (size_t)(s0 / QK_K) * wsz;
            float *yt = y + t0 * ys;
            for (int r = 0; r < nr; r++) {
                if (ntt == NT_MAX) micro_k(kind, nsb, ws0 + r * ws, ws, &A, ak, yt + r, ys, 1, NT_MAX, s0 > 0);
                else micro_k(kind, nsb, ws0 + r * ws, ws, &A, ak, yt + r, ys, 1, 1, s0 > 0);
            }
        }
    }
}

// ---- f16 / f32 ------------------------------------------------------------------------------


AI void load8f(int kind, const uint8_t *p, int i, v128_t *lo, v128_t *hi) {
    if (kind == K_F32) {
        *lo = ld((const float *)p + i), *hi = ld((const float *)p + i + 4);
    } else if (kind == K_F16) {
        kite__h2f8_wasm((const uint16_t *)p + i, lo, hi);
    } else { // bf16 is the top half of a float
        const v128_t h = ld((const uint16_t *)p + i), z = wasm_i16x8_splat(0);
        *lo = wasm_i16x8_shuffle(z, h, 0, 8, 1, 9, 2, 10, 3, 11);
        *hi = wasm_i16x8_shuffle(z, h, 4, 12, 5, 13, 6, 14, 7, 15);
    }
}

AI float load1f(int kind, const uint8_t *p, int i) {
    if (kind == K_BF16) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        return kite_bf16_to_f32(h);
    }
    return kind == K_F32 ? ((const float *)p)[i] : h2f(p + 2 * i);
}

// NR rows x NT tokens over len elements of a segment (one canonical chunk: SEG ==
// KITE_FDOT_CHUNK); af[t] = token t's f32 activations there. One 8-lane accumulator per
// (row, token) as two vectors (lanes 0-3, 4-7), reduced as u = lo + hi = [l0+l4, l1+l5, l2+l6,
// l3+l7], then (u0 + u2) + (u1 + u3); the chunk's leftover 0..7 elements follow in order, and
// the chunk value c goes to y as s = (first segment ? +0 : y) + c (kernels_internal.h).
_Static_assert(SEG == KITE_FDOT_CHUNK, "tile_f's segments are the canonical chunks");
AI void micro_f(int kind, int len, const uint8_t *w, size_t ws, const float *const *af, float *y, size_t ys,
                const int NR, const int NT, int accumulate) {
    v128_t acc0[4][NT_MAX], acc1[4][NT_MAX];
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) acc0[r][t] = acc1[r][t] = wasm_f32x4_splat(0);
    const int full = len & ~7;
    for (int i = 0; i < full; i += 8) {
        for (int r = 0; r < NR; r++) {
            v128_t w0, w1;
            load8f(kind, w + r * ws, i, &w0, &w1);
            for (int t = 0; t < NT; t++) {
                acc0[r][t] = wasm_f32x4_add(acc0[r][t], wasm_f32x4_mul(w0, ld(af[t] + i)));
                acc1[r][t] = wasm_f32x4_add(acc1[r][t], wasm_f32x4_mul(w1, ld(af[t] + i + 4)));
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) {
            const v128_t u = wasm_f32x4_add(acc0[r][t], acc1[r][t]);
            float c = (wasm_f32x4_extract_lane(u, 0) + wasm_f32x4_extract_lane(u, 2)) +
                      (wasm_f32x4_extract_lane(u, 1) + wasm_f32x4_extract_lane(u, 3));
            for (int k = full; k < len; k++) c = c + load1f(kind, w + r * ws, k) * af[t][k];
            y[t * ys + r] = (accumulate ? y[t * ys + r] : 0.0f) + c;
        }
}

AI void tile_f(int kind, int n, const uint8_t *w, size_t ws, int nr, const uint8_t *a, size_t as, int nt, float *y,
               size_t ys) {
    float buf[NT_MAX][SEG]; // f16 activations converted once per segment (f32 ones are used in place)
    const size_t esz = kind == K_F32 ? 4 : 2;
    for (int t0 = 0, ntt; t0 < nt; t0 += ntt) {
        ntt = nt - t0 >= NT_MAX ? NT_MAX : 1; // full tiles, then the leftover tokens one by one
        for (int s0 = 0; s0 < n; s0 += SEG) {
            const int len = n - s0 < SEG ? n - s0 : SEG;
            const float *af[NT_MAX];
            for (int t = 0; t < ntt; t++) {
                const uint8_t *src = a + (t0 + t) * as + (size_t)s0 * esz;
                if (kind == K_F32) {
                    af[t] = (const float *)src;
                } else {
                    int i = 0;
                    for (; i + 8 <= len; i += 8) {
                        v128_t lo, hi;
                        load8f(kind, src, i, &lo, &hi);
                        wasm_v128_store(buf[t] + i, lo), wasm_v128_store(buf[t] + i + 4, hi);
                    }
                    for (; i < len; i++) buf[t][i] = load1f(kind, src, i);
                    af[t] = buf[t];
                }
            }
            const uint8_t *ws0 = w + (size_t)s0 * esz;
            float *yt = y + t0 * ys;
            int r = 0;
            if (ntt == NT_MAX) {
                for (; r + 4 <= nr; r += 4) micro_f(kind, len, ws0 + r * ws, ws, af, yt + r, ys, 4, NT_MAX, s0 > 0);
                for (; r < nr; r++) micro_f(kind, len, ws0 + r * ws, ws, af, yt + r, ys, 1, NT_MAX, s0 > 0);
            } else {
                for (; r + 4 <= nr; r += 4) micro_f(kind, len, ws0 + r * ws, ws, af, yt + r, ys, 4, 1, s0 > 0);
                for (; r < nr; r++) micro_f(kind, len, ws0 + r * ws, ws, af, yt + r, ys, 1, 1, s0 > 0);
            }
        }
    }
}

// ---- tile drivers ----------------------------------------------------------------------------

#define WASM_TILE(name, tiler, kind)                                                                          \
    static void name(int n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt, float *y,     \
                     size_t ys) {                                                                             \
        tiler(kind, n, (const uint8_t *)w, ws, nr, (const uint8_t *)a, as, nt, y, ys);                        \
    }

WASM_TILE(tile_q4_0, tile32, K_Q4_0)
WASM_TILE(tile_q4_1, tile32, K_Q4_1)
WASM_TILE(tile_q5_0, tile32, K_Q5_0)
WASM_TILE(tile_q5_1, tile32, K_Q5_1)
WASM_TILE(tile_q8_0, tile32, K_Q8_0)
WASM_TILE(tile_iq4_nl, tile32, K_IQ4_NL)
WASM_TILE(tile_q4_K, tile_k, K_Q4_K)
WASM_TILE(tile_q5_K, tile_k, K_Q5_K)
WASM_TILE(tile_q6_K, tile_k, K_Q6_K)
WASM_TILE(tile_q2_K, tile_k, K_Q2_K)
WASM_TILE(tile_q3_K, tile_k, K_Q3_K)
WASM_TILE(tile_iq4_xs, tile_k, K_IQ4_XS)
WASM_TILE(tile_f32, tile_f, K_F32)
WASM_TILE(tile_f16, tile_f, K_F16)
WASM_TILE(tile_bf16, tile_f, K_BF16)

#ifdef __wasm_relaxed_simd__
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
                    v128_t hi0 = wasm_u8x16_shr(b0, 4), hi1 = wasm_u8x16_shr(b1, 4);
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
                        if (i >> 1) b0 = wasm_u8x16_shr(b0, 4), b1 = wasm_u8x16_shr(b1, 4);
                        else b0 = wasm_v128_and(b0, m4), b1 = wasm_v128_and(b1, m4);
                        const v128_t m3 = wasm_i8x16_splat(0x30);
                        v128_t l0 = wasm_v128_or(b0, wasm_v128_and(i < 2 ? wasm_i8x16_shl(qh0, 4 - 2 * i) : wasm_u8x16_shr(qh0, 2 * i - 4), m3));
                        v128_t l1 = wasm_v128_or(b1, wasm_v128_and(i < 2 ? wasm_i8x16_shl(qh1, 4 - 2 * i) : wasm_u8x16_shr(qh1, 2 * i - 4), m3));
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
// through a ract.
AI void rgemv32(int kind, int n, const uint8_t *w, size_t ws, int nr, const uint8_t *a, float *y) {
    const size_t wsz = k_wsize(kind);
    const size_t asz = k_has_min(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0), aq = k_has_min(kind) ? 4 : 2;
    const int sgn = kind == K_Q8_0 || kind == K_IQ4_NL;
    const int off = kind == K_Q4_0 ? 3 : kind == K_Q5_0 ? 4 : 0;
    const v128_t zero = wasm_i32x4_splat(0);
    ract R;
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
                const v128_t s = hsum4_i32(rdot_block(kind, wb, &R, b), rdot_block(kind, wb + wsz, &R, b + 1),
                                           rdot_block(kind, wb + 2 * wsz, &R, b + 2), rdot_block(kind, wb + 3 * wsz, &R, b + 3));
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
        for (; t + NT_MAX <= nt; t += NT_MAX) {                                                               \
            int r = 0;                                                                                        \
            for (; r + 4 <= nr; r += 4) micro(kind, len, w + r * ws, ws, a + t * as, as, y + t * ys + r, ys, 4, NT_MAX); \
            for (; r < nr; r++) micro(kind, len, w + r * ws, ws, a + t * as, as, y + t * ys + r, ys, 1, NT_MAX);  \
        }                                                                                                     \
        for (; t < nt; t++) { /* GEMV: rows one after another (see wide_acts) */                              \
            if (is32) rgemv32(kind, n, w, ws, nr, a + t * as, y + t * ys);                                     \
            else micro(kind, len, w, ws, a + t * as, as, y + t * ys, ys, nr, 1);                                \
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
#endif

// ---- activation quantizers: the _ref bytes, four lanes at a time ---------------------------

// max |x| over n floats (n a multiple of 4); *finite = 0 when any is inf / nan (those blocks
// go to _ref, whose comparison order decides how a nan propagates).
AI float amax_n(const float *x, int n, int *finite) {
    v128_t m = wasm_f32x4_splat(0.0f), ok = wasm_i32x4_splat(-1);
    const v128_t inf = wasm_f32x4_splat(INFINITY);
    for (int j = 0; j < n; j += 4) {
        const v128_t a = wasm_f32x4_abs(ld(x + j));
        m = wasm_f32x4_pmax(m, a);
        ok = wasm_v128_and(ok, wasm_f32x4_lt(a, inf));
    }
    *finite = wasm_i32x4_all_true(ok);
    m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(m, 0);
}

// roundf (half away from zero) of v, exactly: truncate, then step away from zero when the
// dropped fraction is >= 0.5 (both steps exact for |v| < 2^23).
AI v128_t round_away(v128_t v) {
    const v128_t t = wasm_f32x4_trunc(v);
    const v128_t half = wasm_f32x4_ge(wasm_f32x4_abs(wasm_f32x4_sub(v, t)), wasm_f32x4_splat(0.5f));
    const v128_t step = wasm_v128_or(wasm_f32x4_splat(1.0f), wasm_v128_and(v, wasm_f32x4_splat(-0.0f)));
    return wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_add(t, wasm_v128_and(half, step)));
}

// 16 int32 within int8 (four vectors) -> 16 int8 in order
AI v128_t pack16(v128_t a, v128_t b, v128_t c, v128_t d) {
    return wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(a, b), wasm_i16x8_narrow_i32x4(c, d));
}

AI void quant_q8_x(const float *x, void *yv, int64_t n, int with_sum) {
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        int finite;
        const float amax = amax_n(x, 32, &finite);
        if (!finite) {
            if (with_sum) kite_quantize_row_q8_1_ref(x, (block_q8_1 *)yv + i, 32);
            else kite_quantize_row_q8_0_ref(x, (block_q8_0 *)yv + i, 32);
            continue;
        }
        const float d = amax / 127.0f;
        const v128_t id = wasm_f32x4_splat(d != 0.0f ? 1.0f / d : 0.0f);
        v128_t q[8];
        for (int k = 0; k < 8; k++) q[k] = round_away(wasm_f32x4_mul(ld(x + 4 * k), id));
        int8_t *qs = with_sum ? ((block_q8_1 *)yv + i)->qs : ((block_q8_0 *)yv + i)->qs;
        wasm_v128_store(qs, pack16(q[0], q[1], q[2], q[3]));
        wasm_v128_store(qs + 16, pack16(q[4], q[5], q[6], q[7]));
        if (with_sum) {
            block_q8_1 *y = (block_q8_1 *)yv + i;
            v128_t s = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_add(q[0], q[1]), wasm_i32x4_add(q[2], q[3])),
                                      wasm_i32x4_add(wasm_i32x4_add(q[4], q[5]), wasm_i32x4_add(q[6], q[7])));
            y->d = kite_f32_to_f16(d);
            y->s = kite_f32_to_f16((float)hsum_i32(s) * d);
        } else {
            ((block_q8_0 *)yv + i)->d = kite_f32_to_f16(d);
        }
    }
}
static void quant_q8_0_wasm(const float *x, block_q8_0 *y, int64_t n) { quant_q8_x(x, y, n, 0); }
static void quant_q8_1_wasm(const float *x, block_q8_1 *y, int64_t n) { quant_q8_x(x, y, n, 1); }

static void quant_q8_K_wasm(const float *x, block_q8_K *y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        int finite;
        const float amax = amax_n(x, QK_K, &finite);
        if (!finite || amax == 0.0f) {
            kite_quantize_row_q8_K_ref(x, y + i, QK_K);
            continue;
        }
        int j = 0; // the first element of largest magnitude gives the sign
        while (fabsf(x[j]) != amax) j++;
        const float iscale = -127.0f / x[j];
        const v128_t is = wasm_f32x4_splat(iscale), top = wasm_i32x4_splat(127);
        for (int g = 0; g < QK_K / 16; g++) {
            v128_t q[4];
            for (int k = 0; k < 4; k++) // round to nearest even, as kite__nearest_int
                q[k] = wasm_i32x4_min(wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(is, ld(x + 16 * g + 4 * k)))), top);
            wasm_v128_store(y[i].qs + 16 * g, pack16(q[0], q[1], q[2], q[3]));
            y[i].bsums[g] = (int16_t)hsum_i32(wasm_i32x4_add(wasm_i32x4_add(q[0], q[1]), wasm_i32x4_add(q[2], q[3])));
        }
        y[i].d = 1.0f / iscale;
    }
}

void kite__kernels_fill_wasm(kite__kernels *k) {
    k->isa = "wasm-simd128";
    k->attend = kite__attend_head_wasm;
    k->quant_q8_0 = quant_q8_0_wasm;
    k->quant_q8_1 = quant_q8_1_wasm;
    k->quant_q8_K = quant_q8_K_wasm;
    KITE_SET_TILES(k);
#ifdef __wasm_relaxed_simd__
    k->isa = "wasm-relaxed";
    k->tile[KITE_TYPE_Q4_0] = rtile_q4_0;
    k->tile[KITE_TYPE_Q4_1] = rtile_q4_1;
    k->tile[KITE_TYPE_Q5_0] = rtile_q5_0;
    k->tile[KITE_TYPE_Q5_1] = rtile_q5_1;
    k->tile[KITE_TYPE_Q8_0] = rtile_q8_0;
    k->tile[KITE_TYPE_IQ4_NL] = rtile_iq4_nl;
    k->tile[KITE_TYPE_Q4_K] = rtile_q4_K;
    k->tile[KITE_TYPE_Q5_K] = rtile_q5_K;
    k->tile[KITE_TYPE_Q6_K] = rtile_q6_K;
#endif
}
