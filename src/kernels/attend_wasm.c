// attend_wasm.c - the attention op for wasm SIMD128: the scalar op's results bit for bit in every
// mode (every sum keeps attend_ref.c's order; wasm has no fused multiply-add), four lanes per instruction.
#include <math.h>
#include <wasm_simd128.h>

#include "kernels/wasm_f16.h"
#include "kernels/attend.h"

// Four halves in the high 16 bits of u32 lanes -> floats, for halves known finite (the exact
// multiply of kite__h2f4_hi without its inf/nan fix-up).
static inline v128_t h2f4_finite(v128_t x) {
    const v128_t mag = wasm_u32x4_shr(wasm_v128_and(x, wasm_i32x4_splat(0x7fff0000)), 3);
    return wasm_v128_or(wasm_f32x4_mul(mag, wasm_f32x4_splat(0x1p112f)), wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000u)));
}

// Lanes of 8 halves whose exponent is all ones (inf / nan): all ones there.
static inline v128_t special8(v128_t h) {
    const v128_t e = wasm_i16x8_splat(0x7c00);
    return wasm_i16x8_eq(wasm_v128_and(h, e), e);
}

// Eight halves -> two float vectors; the inf/nan fix-up only where a lane needs it.
static inline void h2f8(const uint16_t *p, v128_t *lo, v128_t *hi) {
    const v128_t h = wasm_v128_load(p), z = wasm_i16x8_splat(0);
    const v128_t a = wasm_i16x8_shuffle(z, h, 0, 8, 1, 9, 2, 10, 3, 11), b = wasm_i16x8_shuffle(z, h, 4, 12, 5, 13, 6, 14, 7, 15);
    if (wasm_v128_any_true(special8(h))) *lo = kite__h2f4_hi(a), *hi = kite__h2f4_hi(b);
    else *lo = h2f4_finite(a), *hi = h2f4_finite(b);
}

// q.k in kite__dot_f16_ggml's order: its 64 lane sums are 16 vectors here, reduced the same way.
static float dot_ggml(const float *q, const uint16_t *k, int32_t n) {
    const int32_t np = n & ~63;
    double sum = 0.0;
    if (np > 0) {
        v128_t a[16];
        for (int j = 0; j < 16; j++) a[j] = wasm_f32x4_splat(0.0f);
        for (int32_t i = 0; i < np; i += 64)
            for (int j = 0; j < 16; j += 2) {
                v128_t lo, hi;
                h2f8(k + i + 4 * j, &lo, &hi);
                a[j] = wasm_f32x4_add(a[j], wasm_f32x4_mul(wasm_v128_load(q + i + 4 * j), lo));
                a[j + 1] = wasm_f32x4_add(a[j + 1], wasm_f32x4_mul(wasm_v128_load(q + i + 4 * j + 4), hi));
            }
        // r[l] = (acc[l] + acc[32 + l]) + (acc[16 + l] + acc[48 + l]), l < 16: four vectors
        v128_t r[4];
        for (int m = 0; m < 4; m++) r[m] = wasm_f32x4_add(wasm_f32x4_add(a[m], a[8 + m]), wasm_f32x4_add(a[4 + m], a[12 + m]));
        // h[l] = r[l] + r[l + 8] (l < 8), then h[l] + h[l + 4] (l < 4)
        const v128_t h = wasm_f32x4_add(wasm_f32x4_add(r[0], r[2]), wasm_f32x4_add(r[1], r[3]));
        sum = (double)((wasm_f32x4_extract_lane(h, 0) + wasm_f32x4_extract_lane(h, 2)) +
                       (wasm_f32x4_extract_lane(h, 1) + wasm_f32x4_extract_lane(h, 3)));
    }
    for (int32_t i = np; i < n; i++) sum += (double)(q[i] * kite__h2f(k[i]));
    return (float)sum;
}

// kite__f16_round on four lanes (the same bit masks, the same add-then-subtract rounding).
static inline v128_t f16_round4(v128_t x) {
    const v128_t a = wasm_v128_and(x, wasm_i32x4_splat(0x7fffffff));
    const v128_t e = wasm_i32x4_max(wasm_u32x4_shr(a, 23), wasm_i32x4_splat(113));
    const v128_t m = wasm_i32x4_shl(wasm_i32x4_add(e, wasm_i32x4_splat(13)), 23);
    const v128_t r = wasm_f32x4_sub(wasm_f32x4_add(a, m), m);
    const v128_t big = wasm_i32x4_ge(a, wasm_i32x4_splat(0x477ff000)), nan = wasm_i32x4_gt(a, wasm_i32x4_splat(0x7f800000));
    const v128_t special = wasm_v128_bitselect(a, wasm_i32x4_splat(0x7f800000), nan);
    return wasm_v128_or(wasm_v128_bitselect(special, r, big), wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000u)));
}

// attend_ref.c's attend_fa_f16: online softmax, the V accumulator rounded to f16 after every step.
static void attend_fa_f16(const float *q16, const uint16_t *k, const uint16_t *v, int32_t kv_stride, int32_t n_kv,
                          int32_t head_dim, float scale, float *out) {
    float acc[KITE_ATTN_MAX_HEAD_DIM];
    for (int32_t d = 0; d < head_dim; d += 4) wasm_v128_store(acc + d, wasm_f32x4_splat(0.0f));
    float m = -INFINITY, sum = 0.0f;
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *kj = k + (int64_t)j * kv_stride, *vj = v + (int64_t)j * kv_stride;
        const float s = dot_ggml(q16, kj, head_dim) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > m) {
            ms = expf(m - s);
            m = s;
            const v128_t msv = wasm_f32x4_splat(ms);
            for (int32_t d = 0; d < head_dim; d += 4)
                wasm_v128_store(acc + d, f16_round4(wasm_f32x4_mul(wasm_v128_load(acc + d), msv)));
        } else {
            vs = expf(s - m);
        }
        const v128_t vsv = wasm_f32x4_splat(vs);
        for (int32_t d = 0; d < head_dim; d += 8) {
            v128_t lo, hi;
            h2f8(vj + d, &lo, &hi);
            wasm_v128_store(acc + d, f16_round4(wasm_f32x4_add(wasm_v128_load(acc + d), wasm_f32x4_mul(lo, vsv))));
            wasm_v128_store(acc + d + 4, f16_round4(wasm_f32x4_add(wasm_v128_load(acc + d + 4), wasm_f32x4_mul(hi, vsv))));
        }
        sum = sum * ms + vs;
    }
    const v128_t sv = wasm_f32x4_splat(sum); // divided, as in attend_ref.c
    for (int32_t d = 0; d < head_dim; d += 4) wasm_v128_store(out + d, wasm_f32x4_div(wasm_v128_load(acc + d), sv));
}

// The scalar op's FA_F32 scores: q.k_j summed in dim order, for 4 keys at a time (lane = key),
// so each key's sum keeps its sequential order. Each 8-dim step transposes the keys' halves
// with shuffles into one vector per dim. Keys past a multiple of 4 are summed one by one.
static void scores_f32(const float *q, const uint16_t *k, int32_t kv_stride, int32_t n_kv, int32_t head_dim,
                       float scale, float *scores) {
    const v128_t z = wasm_i16x8_splat(0), sv = wasm_f32x4_splat(scale);
    int32_t j = 0;
    for (; j + 4 <= n_kv; j += 4) {
        const uint16_t *k0 = k + (int64_t)j * kv_stride;
        v128_t acc = wasm_f32x4_splat(0.0f);
        for (int32_t d = 0; d < head_dim; d += 8) {
            const v128_t r0 = wasm_v128_load(k0 + d), r1 = wasm_v128_load(k0 + kv_stride + d);
            const v128_t r2 = wasm_v128_load(k0 + 2 * kv_stride + d), r3 = wasm_v128_load(k0 + 3 * kv_stride + d);
            // (key0, key1) and (key2, key3) pairs per dim, then 4 keys per dim, two dims a vector
            const v128_t a = wasm_i16x8_shuffle(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11), ah = wasm_i16x8_shuffle(r0, r1, 4, 12, 5, 13, 6, 14, 7, 15);
            const v128_t b = wasm_i16x8_shuffle(r2, r3, 0, 8, 1, 9, 2, 10, 3, 11), bh = wasm_i16x8_shuffle(r2, r3, 4, 12, 5, 13, 6, 14, 7, 15);
            const v128_t x[4] = {wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7),
                                 wasm_i32x4_shuffle(ah, bh, 0, 4, 1, 5), wasm_i32x4_shuffle(ah, bh, 2, 6, 3, 7)};
            const int special = wasm_v128_any_true(wasm_v128_or(wasm_v128_or(special8(r0), special8(r1)), wasm_v128_or(special8(r2), special8(r3))));
            for (int i = 0; i < 4; i++) {
                const v128_t xl = wasm_i16x8_shuffle(z, x[i], 0, 8, 1, 9, 2, 10, 3, 11), xh = wasm_i16x8_shuffle(z, x[i], 4, 12, 5, 13, 6, 14, 7, 15);
                const v128_t lo = special ? kite__h2f4_hi(xl) : h2f4_finite(xl), hi = special ? kite__h2f4_hi(xh) : h2f4_finite(xh);
                acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_splat(q[d + 2 * i]), lo));
                acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_splat(q[d + 2 * i + 1]), hi));
            }
        }
        wasm_v128_store(scores + j, wasm_f32x4_mul(acc, sv));
    }
    for (; j < n_kv; j++) {
        const uint16_t *kj = k + (int64_t)j * kv_stride;
        float dot = 0.0f;
        for (int32_t d = 0; d < head_dim; d++) dot += q[d] * kite__h2f(kj[d]);
        scores[j] = dot * scale;
    }
}

void kite__attend_head_wasm(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                            int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                            float *out) {
    if (head_dim % 8 != 0) {
        kite__attend_head_ref(mode, q, k, v, kv_stride, n_kv, head_dim, scale, scores, out);
        return;
    }
    float qr[KITE_ATTN_MAX_HEAD_DIM];
    for (int32_t d = 0; d < head_dim; d += 4)
        wasm_v128_store(qr + d, mode == KITE_ATTN_FA_F32 ? wasm_v128_load(q + d) : f16_round4(wasm_v128_load(q + d)));
    if (mode == KITE_ATTN_FA_F16) {
        attend_fa_f16(qr, k, v, kv_stride, n_kv, head_dim, scale, out);
        return;
    }
    if (mode == KITE_ATTN_FA_F32) scores_f32(qr, k, kv_stride, n_kv, head_dim, scale, scores);
    else
        for (int32_t j = 0; j < n_kv; j++) scores[j] = dot_ggml(qr, k + (int64_t)j * kv_stride, head_dim) * scale;
    kite__softmax(scores, n_kv);
    // out[d] += p_j * v_j[d] in j order, lane by lane as the scalar loop does
    for (int32_t d = 0; d < head_dim; d += 4) wasm_v128_store(out + d, wasm_f32x4_splat(0.0f));
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *vj = v + (int64_t)j * kv_stride;
        const v128_t p = wasm_f32x4_splat(mode == KITE_ATTN_MATMUL ? kite__f16_round(scores[j]) : scores[j]);
        for (int32_t d = 0; d < head_dim; d += 8) {
            v128_t lo, hi;
            h2f8(vj + d, &lo, &hi);
            wasm_v128_store(out + d, wasm_f32x4_add(wasm_v128_load(out + d), wasm_f32x4_mul(p, lo)));
            wasm_v128_store(out + d + 4, wasm_f32x4_add(wasm_v128_load(out + d + 4), wasm_f32x4_mul(p, hi)));
        }
    }
}
