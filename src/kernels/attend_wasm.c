// attend_wasm.c - the attention ops for wasm SIMD128, the scalar op's results bit for bit in every
// mode (every sum keeps attend_ref.c's order; wasm has no fused multiply-add), four lanes per
// instruction. The group op (kite_kernels_attend_group) is the one implementation: the queries
// of one KV head share each cache row's load and software f16 -> f32 conversion (wasm has no
// conversion instruction, so these dominate), and the single-query op is a group of one. FA_F16
// (decode) runs in passes over chunks of keys: scores and the online softmax's factors first,
// then the f16 accumulator with a block of dims held in registers across the chunk's keys.
#include <math.h>
#include <stdbool.h>
#include <wasm_simd128.h>

#include "kernels/attend.h"
#include "kernels/kernels_internal.h"
#include "kernels/wasm_expf.h"
#include "kernels/wasm_f16.h"

// kite__f16_round on four lanes (the same bit masks, the same add-then-subtract rounding).
static inline v128_t kite__aw_f16_round4(v128_t x) {
    const v128_t a = wasm_v128_and(x, wasm_i32x4_splat(0x7fffffff));
    const v128_t e = wasm_i32x4_max(wasm_u32x4_shr(a, 23), wasm_i32x4_splat(113));
    const v128_t m = wasm_i32x4_shl(wasm_i32x4_add(e, wasm_i32x4_splat(13)), 23);
    const v128_t r = wasm_f32x4_sub(wasm_f32x4_add(a, m), m);
    const v128_t big = wasm_i32x4_ge(a, wasm_i32x4_splat(0x477ff000)), nan = wasm_i32x4_gt(a, wasm_i32x4_splat(0x7f800000));
    const v128_t special = wasm_v128_bitselect(a, wasm_i32x4_splat(0x7f800000), nan);
    return wasm_v128_or(wasm_v128_bitselect(special, r, big), wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000u)));
}

// kite__aw_f16_round4 for lanes whose magnitude lies in f16's normal range [2^-14, 65520): there
// Veltkamp's split, g = x * (2^13 + 1), x - rounded = g - (g - x), leaves x rounded to 11
// significant bits, ties to even, exactly as kite__f16_round (checked for every such float,
// both signs). *seen collects each lane's magnitude minus 2^-14 as an unsigned maximum: a value
// of (0x477ff000 - 0x38800000) or more there means some input was outside that range (zero,
// subnormal, too large, inf or nan), and the caller redoes the work with kite__aw_f16_round4.
#define KITE_AW_SEEN_BAD (0x477ff000 - 0x38800000)
static inline v128_t kite__aw_f16_round4_normal(v128_t x, v128_t *seen) {
    const v128_t a = wasm_v128_and(x, wasm_i32x4_splat(0x7fffffff));
    *seen = wasm_u32x4_max(*seen, wasm_i32x4_sub(a, wasm_i32x4_splat(0x38800000)));
    const v128_t g = wasm_f32x4_mul(x, wasm_f32x4_splat(8193.0f));
    return wasm_f32x4_sub(g, wasm_f32x4_sub(g, x));
}

#define KITE_INLINE static inline __attribute__((always_inline))

enum {
    QB = 4,  // queries whose accumulators share one pass over a block of dims
    CH = 32, // FA_F16: keys per chunk (the per-key factors of a chunk live on the stack)
};

// The inf / nan check of raw halves: acc collects each lane's h << 1 as an unsigned maximum, which
// is 0xf800 or more where some half had an all-ones exponent.
KITE_INLINE v128_t spec_acc(v128_t acc, v128_t h) { return wasm_u16x8_max(acc, wasm_i16x8_shl(h, 1)); }
KITE_INLINE bool spec_any(v128_t acc) { return wasm_v128_any_true(wasm_u16x8_ge(acc, wasm_i16x8_splat((int16_t)0xf800))); }

// One cache row's halves -> floats, the inf/nan check once for the row.
KITE_INLINE void row_f32(const uint16_t *p, float *out, int32_t hd) {
    v128_t sp = wasm_i32x4_splat(0);
    for (int32_t d = 0; d < hd; d += 8) {
        const v128_t h = wasm_v128_load(p + d);
        sp = wasm_v128_or(sp, kite__h2f_special8_wasm(h));
        v128_t lo, hi;
        kite__h2f8_finite_wasm(h, &lo, &hi);
        wasm_v128_store(out + d, lo);
        wasm_v128_store(out + d + 4, hi);
    }
    if (!wasm_v128_any_true(sp)) return;
    for (int32_t d = 0; d < hd; d += 8) {
        v128_t lo, hi;
        kite__h2f8_wasm(p + d, &lo, &hi);
        wasm_v128_store(out + d, lo);
        wasm_v128_store(out + d + 4, hi);
    }
}

// The 4 lanes that kite__dot_f16_ggml's 64 lane sums of q.k reduce to (16 vectors here, reduced
// the same way), over the first np dims (a multiple of 64, at least 64), for a key in floats.
KITE_INLINE v128_t dot_h4(const float *q, const float *k, int32_t np) {
    v128_t a[16];
    for (int j = 0; j < 16; j++) a[j] = wasm_f32x4_mul(wasm_v128_load(q + 4 * j), wasm_v128_load(k + 4 * j));
    for (int32_t i = 64; i < np; i += 64)
        for (int j = 0; j < 16; j++)
            a[j] = wasm_f32x4_add(a[j], wasm_f32x4_mul(wasm_v128_load(q + i + 4 * j), wasm_v128_load(k + i + 4 * j)));
    v128_t r[4];
    for (int m = 0; m < 4; m++) r[m] = wasm_f32x4_add(wasm_f32x4_add(a[m], a[8 + m]), wasm_f32x4_add(a[4 + m], a[12 + m]));
    return wasm_f32x4_add(wasm_f32x4_add(r[0], r[2]), wasm_f32x4_add(r[1], r[3]));
}

// scale * q.k for the nk <= 4 keys in kf[0..nk-1], each as kite__dot_f16_ggml * scale: the last
// horizontal step for the 4 keys at once (transposed, a key per lane).
KITE_INLINE void dot4_ggml(const float *q, float (*kf)[KITE_ATTN_MAX_HEAD_DIM], int nk, int32_t hd, float scale,
                           float *out) {
    const int32_t np = hd & ~63;
    float hs[4];
    if (np > 0) {
        v128_t h[4];
        for (int r = 0; r < 4; r++) h[r] = r < nk ? dot_h4(q, kf[r], np) : wasm_f32x4_splat(0.0f);
        const v128_t t0 = wasm_i32x4_shuffle(h[0], h[1], 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(h[0], h[1], 2, 6, 3, 7);
        const v128_t t2 = wasm_i32x4_shuffle(h[2], h[3], 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(h[2], h[3], 2, 6, 3, 7);
        const v128_t l0 = wasm_i64x2_shuffle(t0, t2, 0, 2), l1 = wasm_i64x2_shuffle(t0, t2, 1, 3);
        const v128_t l2 = wasm_i64x2_shuffle(t1, t3, 0, 2), l3 = wasm_i64x2_shuffle(t1, t3, 1, 3);
        const v128_t sum = wasm_f32x4_add(wasm_f32x4_add(l0, l2), wasm_f32x4_add(l1, l3));
        if (np == hd) { // no tail: the float sums are the dots
            wasm_v128_store(hs, wasm_f32x4_mul(sum, wasm_f32x4_splat(scale)));
            for (int r = 0; r < nk; r++) out[r] = hs[r];
            return;
        }
        wasm_v128_store(hs, sum);
    }
    for (int r = 0; r < nk; r++) {
        double sum = np > 0 ? (double)hs[r] : 0.0;
        for (int32_t i = np; i < hd; i++) sum += (double)(q[i] * kf[r][i]);
        out[r] = (float)sum * scale;
    }
}

// A zero cache row: the keys past every query's last in a tile of 8 (their scores are dropped).
static const uint16_t zero_row[KITE_ATTN_MAX_HEAD_DIM];

// The 4 rows p[0..3] as floats transposed, kt[4 d + r] = row r's dim d, the halves taken as
// finite; returns the rows' inf/nan check (spec_acc). The transpose runs on the halves (two
// rounds of interleaves), then each vector of one dim's 4 keys converts.
KITE_INLINE v128_t tile4_finite(const uint16_t *const *p, float *kt, int32_t hd) {
    v128_t sp = wasm_i16x8_splat(0);
    for (int32_t d = 0; d < hd; d += 8) {
        const v128_t r0 = wasm_v128_load(p[0] + d), r1 = wasm_v128_load(p[1] + d);
        const v128_t r2 = wasm_v128_load(p[2] + d), r3 = wasm_v128_load(p[3] + d);
        sp = spec_acc(spec_acc(spec_acc(spec_acc(sp, r0), r1), r2), r3);
        // a: (r0, r1) pairs of dims 0..3, b: of dims 4..7; c, e: the same of rows 2 and 3
        const v128_t a = wasm_i16x8_shuffle(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11);
        const v128_t b = wasm_i16x8_shuffle(r0, r1, 4, 12, 5, 13, 6, 14, 7, 15);
        const v128_t c = wasm_i16x8_shuffle(r2, r3, 0, 8, 1, 9, 2, 10, 3, 11);
        const v128_t e = wasm_i16x8_shuffle(r2, r3, 4, 12, 5, 13, 6, 14, 7, 15);
        // u[m]: the 4 rows' halves of dims 2m and 2m + 1
        const v128_t u[4] = {wasm_i32x4_shuffle(a, c, 0, 4, 1, 5), wasm_i32x4_shuffle(a, c, 2, 6, 3, 7),
                             wasm_i32x4_shuffle(b, e, 0, 4, 1, 5), wasm_i32x4_shuffle(b, e, 2, 6, 3, 7)};
        for (int m = 0; m < 4; m++) {
            wasm_v128_store(kt + 4 * (d + 2 * m), kite__h2f4_finite_wasm(wasm_i32x4_extend_low_i16x8(u[m])));
            wasm_v128_store(kt + 4 * (d + 2 * m + 1), kite__h2f4_finite_wasm(wasm_i32x4_extend_high_i16x8(u[m])));
        }
    }
    return sp;
}

// tile4_finite for rows with inf / nan halves: each row converted exactly, then 4x4 transposes.
static void tile4_exact(const uint16_t *const *p, float *kt, int32_t hd) {
    float kf[4][KITE_ATTN_MAX_HEAD_DIM];
    for (int r = 0; r < 4; r++) row_f32(p[r], kf[r], hd);
    for (int32_t d = 0; d < hd; d += 4) {
        const v128_t r0 = wasm_v128_load(kf[0] + d), r1 = wasm_v128_load(kf[1] + d);
        const v128_t r2 = wasm_v128_load(kf[2] + d), r3 = wasm_v128_load(kf[3] + d);
        const v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
        const v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
        wasm_v128_store(kt + 4 * d, wasm_i64x2_shuffle(t0, t2, 0, 2));
        wasm_v128_store(kt + 4 * d + 4, wasm_i64x2_shuffle(t0, t2, 1, 3));
        wasm_v128_store(kt + 4 * d + 8, wasm_i64x2_shuffle(t1, t3, 0, 2));
        wasm_v128_store(kt + 4 * d + 12, wasm_i64x2_shuffle(t1, t3, 1, 3));
    }
}

// MATMUL / FA_F16 scores of keys j0..j1-1 for every query of g that sees them: dst[i][j - base]
// = scale * q[i].k_j, 4 keys at a time, each key converted once for the group.
static void scores_ggml(const kite_attn_group *g, const float *const *q, int32_t j0, int32_t j1, float *const *dst,
                        int32_t base) {
    float kf[4][KITE_ATTN_MAX_HEAD_DIM], tmp[4];
    for (int32_t j = j0; j < j1; j += 4) {
        const int nk = j1 - j < 4 ? (int)(j1 - j) : 4;
        for (int r = 0; r < nk; r++) row_f32(g->k + (int64_t)(j + r) * g->kv_stride, kf[r], g->head_dim);
        for (int32_t i = 0; i < g->n_q; i++) {
            const int nki = g->n_kv[i] - j < nk ? (int)(g->n_kv[i] - j) : nk;
            if (nki <= 0) continue;
            dot4_ggml(q[i], kf, nki, g->head_dim, g->scale, tmp);
            for (int r = 0; r < nki; r++) dst[i][j + r - base] = tmp[r];
        }
    }
}

// ---- expf, 4 lanes (wasm_expf.h) -----------------------------------------------------------

// x[k] = expf(x[k]) for k < n, libm's bits.
static void expf_row(float *x, int32_t n) {
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const v128_t v = wasm_v128_load(x + k);
        if (kite__wexpf4_libm(v)) {
            for (int l = 0; l < 4; l++) x[k + l] = expf(x[k + l]); // |x| >= 88, inf or nan: libm's cases
            continue;
        }
        wasm_v128_store(x + k, kite__wexpf4(v));
    }
    for (; k < n; k++) x[k] = expf(x[k]);
}

// The maximum of x[0..n-1] as kite__softmax finds it (mx = x > mx ? x : mx from -inf), 4 lanes
// at a time: the same value but for the sign of a zero maximum, which changes no x - mx and so
// no result of the softmax (nan never wins either way).
static float row_max(const float *x, int32_t n) {
    v128_t m4 = wasm_f32x4_splat(-INFINITY);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) m4 = wasm_f32x4_pmax(m4, wasm_v128_load(x + i));
    float lanes[4], mx = -INFINITY;
    wasm_v128_store(lanes, m4);
    for (int l = 0; l < 4; l++) mx = lanes[l] > mx ? lanes[l] : mx;
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

// kite__softmax of the rows s[i] (n[i] entries, i < nq) with its expf calls 4 at a time: the
// same arguments, the same sums (in double, in row order) and products. The rows' sums advance
// together, so that their additions overlap.
static __attribute__((noinline)) void softmax_rows(float *const *s, const int32_t *n, int32_t nq) {
    double sum[KITE_ATTN_GROUP_MAX];
    int32_t n_min = n[0];
    for (int32_t i = 0; i < nq; i++) {
        const float mx = row_max(s[i], n[i]);
        const v128_t m4 = wasm_f32x4_splat(mx);
        int32_t j = 0;
        for (; j + 4 <= n[i]; j += 4) wasm_v128_store(s[i] + j, wasm_f32x4_sub(wasm_v128_load(s[i] + j), m4));
        for (; j < n[i]; j++) s[i][j] -= mx;
        expf_row(s[i], n[i]);
        sum[i] = 0.0;
        n_min = n[i] < n_min ? n[i] : n_min;
    }
    int32_t i = 0;
    for (; i + 2 <= nq; i += 2) { // two rows per pass: f64x2 lanes
        v128_t acc = wasm_f64x2_splat(0.0);
        const float *a = s[i], *b = s[i + 1];
        for (int32_t j = 0; j < n_min; j++) acc = wasm_f64x2_add(acc, wasm_f64x2_make((double)a[j], (double)b[j]));
        sum[i] = wasm_f64x2_extract_lane(acc, 0);
        sum[i + 1] = wasm_f64x2_extract_lane(acc, 1);
    }
    for (; i < nq; i++)
        for (int32_t j = 0; j < n_min; j++) sum[i] += s[i][j];
    for (i = 0; i < nq; i++) {
        for (int32_t j = n_min; j < n[i]; j++) sum[i] += s[i][j];
        const float inv = (float)(1.0 / sum[i]);
        const v128_t inv4 = wasm_f32x4_splat(inv);
        int32_t j = 0;
        for (; j + 4 <= n[i]; j += 4) wasm_v128_store(s[i] + j, wasm_f32x4_mul(wasm_v128_load(s[i] + j), inv4));
        for (; j < n[i]; j++) s[i][j] *= inv;
    }
}

// ---- FA_F16 ----------------------------------------------------------------------------------

// The f16 rounding of fa_keys: exact (kite__aw_f16_round4) or, in the first pass, the cheap one
// whose range check collects into *seen.
KITE_INLINE v128_t fa_round(bool exact, v128_t x, v128_t *seen) {
    return exact ? kite__aw_f16_round4(x) : kite__aw_f16_round4_normal(x, seen);
}

// Four halves, sign-extended into i32 lanes and known finite, -> their values times 2^-112
// (kite__h2f4_finite_wasm without its exact multiply by 2^112, which the caller folds into the
// other factor: w * 2^112 is exact for every weight w <= 1, and the product of the two is the
// same real number as v * w, so it rounds to the same float).
KITE_INLINE v128_t h2f4_scaled(v128_t x) {
    return wasm_v128_and(wasm_i32x4_shl(x, 13), wasm_i32x4_splat((int32_t)0x8fffe000u));
}

// Dims d..d+7 of the accumulators a0/a1 (queries i < nb) over keys j0..j1-1 of a chunk starting
// at key c0: per key, acc = round(acc * ms) where the key set a new maximum (ms != 1: a rescale by
// exactly 1 leaves an f16 value as it is; rs: some key of the range may, else none does), then
// acc = round(acc + v * vs), as attend_ref.c's attend_fa_f16. exact: every half converted with
// its inf/nan fix-up and the full rounding; else halves taken as finite and scaled by 2^-112
// against vs2 = vs * 2^112 (*sp collects the rows' inf/nan check, spec_acc) and the cheap
// rounding (*seen).
KITE_INLINE void fa_keys(int nb, bool exact, bool rs, v128_t *a0, v128_t *a1, float (*ms)[CH], float (*vs)[CH],
                         float (*vs2)[CH], int32_t c0, int32_t j0, int32_t j1, const uint16_t *v, int32_t kv_stride,
                         int32_t d, v128_t *seen, v128_t *sp) {
    for (int32_t j = j0; j < j1; j++) {
        const uint16_t *p = v + (int64_t)j * kv_stride + d;
        v128_t lo, hi;
        if (exact) {
            kite__h2f8_any_wasm(p, &lo, &hi);
        } else {
            const v128_t h = wasm_v128_load(p);
            *sp = spec_acc(*sp, h);
            lo = h2f4_scaled(wasm_i32x4_extend_low_i16x8(h));
            hi = h2f4_scaled(wasm_i32x4_extend_high_i16x8(h));
        }
        for (int i = 0; i < nb; i++) {
            if (rs) {
                const float f = ms[i][j - c0];
                if (f != 1.0f) {
                    const v128_t fv = wasm_f32x4_splat(f);
                    a0[i] = fa_round(exact, wasm_f32x4_mul(a0[i], fv), seen);
                    a1[i] = fa_round(exact, wasm_f32x4_mul(a1[i], fv), seen);
                }
            }
            const v128_t w = wasm_f32x4_splat(exact ? vs[i][j - c0] : vs2[i][j - c0]);
            a0[i] = fa_round(exact, wasm_f32x4_add(a0[i], wasm_f32x4_mul(lo, w)), seen);
            a1[i] = fa_round(exact, wasm_f32x4_add(a1[i], wasm_f32x4_mul(hi, w)), seen);
        }
    }
}

// The f16 accumulators acc[i] (queries i < nb) over keys j0..j1-1 of a chunk starting at key c0
// (fa_keys). Eight dims at a time stay in registers across the keys with the cheap rounding; a
// block that met an inf/nan half or a magnitude of 65520 or more is redone with the full one.
KITE_INLINE void fa_values(int nb, bool rs, float *const *acc, float (*ms)[CH], float (*vs)[CH], float (*vs2)[CH],
                           int32_t c0, int32_t j0, int32_t j1, const uint16_t *v, int32_t kv_stride, int32_t hd) {
    for (int32_t d = 0; d < hd; d += 8) {
        v128_t a0[QB], a1[QB];
        for (int i = 0; i < nb; i++) a0[i] = wasm_v128_load(acc[i] + d), a1[i] = wasm_v128_load(acc[i] + d + 4);
        v128_t seen = wasm_i32x4_splat(0), sp = wasm_i16x8_splat(0);
        fa_keys(nb, false, rs, a0, a1, ms, vs, vs2, c0, j0, j1, v, kv_stride, d, &seen, &sp);
        const v128_t big = wasm_u32x4_ge(seen, wasm_i32x4_splat(KITE_AW_SEEN_BAD));
        if (spec_any(sp) || wasm_v128_any_true(big)) { // rare: again from the stored sums, exactly
            for (int i = 0; i < nb; i++) a0[i] = wasm_v128_load(acc[i] + d), a1[i] = wasm_v128_load(acc[i] + d + 4);
            fa_keys(nb, true, true, a0, a1, ms, vs, vs2, c0, j0, j1, v, kv_stride, d, &seen, &sp);
        }
        for (int i = 0; i < nb; i++) wasm_v128_store(acc[i] + d, a0[i]), wasm_v128_store(acc[i] + d + 4, a1[i]);
    }
}

// fa_values with a constant query count, so that the accumulators stay in registers, and without
// the rescales where no key of the range set a new maximum for these queries.
static void fa_values_n(int nb, float *const *acc, float (*ms)[CH], float (*vs)[CH], float (*vs2)[CH], int32_t c0,
                        int32_t j0, int32_t j1, const uint16_t *v, int32_t kv_stride, int32_t hd) {
    bool rs = false;
    for (int i = 0; i < nb; i++)
        for (int32_t j = j0; j < j1; j++) rs |= ms[i][j - c0] != 1.0f;
    if (rs) {
        switch (nb) {
        case 4: fa_values(4, true, acc, ms, vs, vs2, c0, j0, j1, v, kv_stride, hd); break;
        case 3: fa_values(3, true, acc, ms, vs, vs2, c0, j0, j1, v, kv_stride, hd); break;
        case 2: fa_values(2, true, acc, ms, vs, vs2, c0, j0, j1, v, kv_stride, hd); break;
        default: fa_values(1, true, acc, ms, vs, vs2, c0, j0, j1, v, kv_stride, hd); break;
        }
        return;
    }
    switch (nb) {
    case 4: fa_values(4, false, acc, ms, vs, vs2, c0, j0, j1, v, kv_stride, hd); break;
    case 3: fa_values(3, false, acc, ms, vs, vs2, c0, j0, j1, v, kv_stride, hd); break;
    case 2: fa_values(2, false, acc, ms, vs, vs2, c0, j0, j1, v, kv_stride, hd); break;
    default: fa_values(1, false, acc, ms, vs, vs2, c0, j0, j1, v, kv_stride, hd); break;
    }
}

// attend_ref.c's attend_fa_f16 for every query of the group (q already rounded to f16); the
// accumulators live in the outputs until the final division.
// g->softcap != 0: g's scores were formed with scale 1 (the dots, exactly); each query's n scores
// from s[i] become kite__attend_head_capped's (MATMUL: capped, then times `scale`; the flash
// modes: `scale` inside the tanh), tanh with libm's bits (softcap_wasm.c).
static void cap_scores(const kite_attn_group *g, float scale, float *const *s, int32_t j0, int32_t j1) {
    for (int32_t i = 0; i < g->n_q; i++) {
        const int32_t n = (g->n_kv[i] < j1 ? g->n_kv[i] : j1) - j0;
        if (n > 0) kite__attend_cap_scores(kite__softcap_scaled_wasm, g->mode, s[i], n, scale, g->softcap);
    }
}

static __attribute__((noinline)) void fa_f16(const kite_attn_group *g, float scale, const float *const *q, int32_t n_min,
                                             int32_t n_max) {
    const int32_t hd = g->head_dim, nq = g->n_q;
    float m[KITE_ATTN_GROUP_MAX], sum[KITE_ATTN_GROUP_MAX];
    float ms[KITE_ATTN_GROUP_MAX][CH], vs[KITE_ATTN_GROUP_MAX][CH], vs2[KITE_ATTN_GROUP_MAX][CH];
    float *vsp[KITE_ATTN_GROUP_MAX];
    for (int32_t i = 0; i < nq; i++) {
        vsp[i] = vs[i];
        m[i] = -INFINITY;
        sum[i] = 0.0f;
        for (int32_t d = 0; d < hd; d += 4) wasm_v128_store(g->out[i] + d, wasm_f32x4_splat(0.0f));
    }
    for (int32_t c0 = 0; c0 < n_max; c0 += CH) {
        const int32_t c1 = c0 + CH < n_max ? c0 + CH : n_max;
        // the chunk's scores (in vs for now), then the online softmax's factors: the running
        // maximum and each key's expf argument in order, the expf calls 4 at a time, then the
        // factors and the sum in order (the same calls on the same arguments as the scalar op)
        scores_ggml(g, q, c0, c1, vsp, c0);
        if (g->softcap != 0.0f) cap_scores(g, scale, vsp, c0, c1);
        for (int32_t i = 0; i < nq; i++) {
            const int32_t n = (g->n_kv[i] < c1 ? g->n_kv[i] : c1) - c0;
            float *sv = vs[i], *mv = ms[i];
            for (int32_t k = 0; k < n; k++) {
                const float s = sv[k];
                if (s > m[i]) {
                    // the first key's rescale (by expf(-inf) = 0) meets an accumulator of +0:
                    // it changes nothing, and the cheap rounding would take its zeros for a
                    // fallback; expf(0) = 1 makes it no rescale at all
                    sv[k] = c0 + k == 0 ? 0.0f : m[i] - s;
                    mv[k] = 1.0f; // a new maximum: the exp rescales the accumulator
                    m[i] = s;
                } else {
                    sv[k] = s - m[i];
                    mv[k] = 0.0f; // the exp weighs this key's value
                }
            }
            expf_row(sv, n);
            for (int32_t k = 0; k < n; k++) {
                const float e = sv[k], a = mv[k] != 0.0f ? e : 1.0f, b = mv[k] != 0.0f ? 1.0f : e;
                mv[k] = a;
                sv[k] = b;
                vs2[i][k] = b * 0x1p112f; // exact: b <= 1
                sum[i] = sum[i] * a + b;
            }
        }
        // the values: the keys every query sees together, then each query's own
        const int32_t e = c1 < n_min ? c1 : n_min;
        if (e > c0)
            for (int32_t i0 = 0; i0 < nq; i0 += QB)
                fa_values_n(nq - i0 < QB ? nq - i0 : QB, g->out + i0, ms + i0, vs + i0, vs2 + i0, c0, c0, e, g->v, g->kv_stride, hd);
        for (int32_t i = 0; i < nq; i++) {
            const int32_t j0 = e > c0 ? e : c0, j1 = g->n_kv[i] < c1 ? g->n_kv[i] : c1;
            if (j1 > j0) fa_values_n(1, g->out + i, ms + i, vs + i, vs2 + i, c0, j0, j1, g->v, g->kv_stride, hd);
        }
    }
    for (int32_t i = 0; i < nq; i++) {
        const v128_t sv = wasm_f32x4_splat(sum[i]); // divided, as in attend_ref.c
        for (int32_t d = 0; d < hd; d += 4) wasm_v128_store(g->out[i] + d, wasm_f32x4_div(wasm_v128_load(g->out[i] + d), sv));
    }
}

// ---- MATMUL and FA_F32: scores, softmax, then the probability-weighted values ---------------

// FA_F32 scores of queries q[0..nb-1] with the 8 keys of two transposed tiles (kt: keys 0..3,
// kt + 4 hd: keys 4..7): t[i][r] = scale * (q[i].k_r summed in dim order from zero, the scalar
// op's order), the keys in lanes. Two tiles per query splat, so that 2 nb sums are in flight.
KITE_INLINE void scores8_f32(int nb, const float *const *q, float (*t)[8], const float *kt, int32_t hd, float scale) {
    v128_t a0[QB], a1[QB];
    for (int i = 0; i < nb; i++) a0[i] = a1[i] = wasm_f32x4_splat(0.0f);
    const float *kt1 = kt + 4 * hd;
    for (int32_t d = 0; d < hd; d++) {
        const v128_t k0 = wasm_v128_load(kt + 4 * d), k1 = wasm_v128_load(kt1 + 4 * d);
        for (int i = 0; i < nb; i++) {
            const v128_t qd = wasm_f32x4_splat(q[i][d]);
            a0[i] = wasm_f32x4_add(a0[i], wasm_f32x4_mul(qd, k0));
            a1[i] = wasm_f32x4_add(a1[i], wasm_f32x4_mul(qd, k1));
        }
    }
    const v128_t sc = wasm_f32x4_splat(scale);
    for (int i = 0; i < nb; i++) wasm_v128_store(t[i], wasm_f32x4_mul(a0[i], sc)), wasm_v128_store(t[i] + 4, wasm_f32x4_mul(a1[i], sc));
}

static void scores8_f32_n(int nb, const float *const *q, float (*t)[8], const float *kt, int32_t hd, float scale) {
    switch (nb) {
    case 4: scores8_f32(4, q, t, kt, hd, scale); break;
    case 3: scores8_f32(3, q, t, kt, hd, scale); break;
    case 2: scores8_f32(2, q, t, kt, hd, scale); break;
    default: scores8_f32(1, q, t, kt, hd, scale); break;
    }
}

// FA_F32 scores s[i][j] for every query and its keys: tiles of 8 keys, each converted and
// transposed once for the group, then the queries in even batches of at most QB.
static void scores_f32(const kite_attn_group *g, const float *const *q, float *const *s, int32_t n_max) {
    const int32_t hd = g->head_dim, nq = g->n_q;
    float kt[8 * KITE_ATTN_MAX_HEAD_DIM], t[KITE_ATTN_GROUP_MAX][8];
    const int nbat = (nq + QB - 1) / QB;
    for (int32_t j = 0; j < n_max; j += 8) {
        const uint16_t *p[8];
        for (int r = 0; r < 8; r++) p[r] = j + r < n_max ? g->k + (int64_t)(j + r) * g->kv_stride : zero_row;
        for (int h = 0; h < 2; h++)
            if (spec_any(tile4_finite(p + 4 * h, kt + 4 * hd * h, hd))) tile4_exact(p + 4 * h, kt + 4 * hd * h, hd);
        for (int b = 0, i0 = 0; b < nbat; b++) {
            const int nb = (nq - i0) / (nbat - b);
            scores8_f32_n(nb, q + i0, t + i0, kt, hd, g->scale);
            i0 += nb;
        }
        for (int32_t i = 0; i < nq; i++) {
            const int32_t n = g->n_kv[i] - j;
            if (n >= 8) wasm_v128_store(s[i] + j, wasm_v128_load(t[i])), wasm_v128_store(s[i] + j + 4, wasm_v128_load(t[i] + 4));
            else for (int32_t r = 0; r < n; r++) s[i][j + r] = t[i][r];
        }
    }
}

// out[i] = sum over rows j0..j1-1 of p[i][j] * v_j added to out[i] (from zero where j0 is 0) in row
// order for queries i < nb, each row converted once for all of them.
KITE_INLINE void values(int nb, const float *const *p, float *const *out, int32_t j0, int32_t j1, const uint16_t *v,
                        int32_t kv_stride, int32_t hd) {
    for (int32_t d = 0; d < hd; d += 8) {
        v128_t a0[QB], a1[QB];
        for (int i = 0; i < nb; i++) {
            a0[i] = j0 == 0 ? wasm_f32x4_splat(0.0f) : wasm_v128_load(out[i] + d);
            a1[i] = j0 == 0 ? wasm_f32x4_splat(0.0f) : wasm_v128_load(out[i] + d + 4);
        }
        for (int32_t j = j0; j < j1; j++) {
            v128_t lo, hi;
            kite__h2f8_any_wasm(v + (int64_t)j * kv_stride + d, &lo, &hi);
            for (int i = 0; i < nb; i++) {
                const v128_t pi = wasm_f32x4_splat(p[i][j]);
                a0[i] = wasm_f32x4_add(a0[i], wasm_f32x4_mul(pi, lo));
                a1[i] = wasm_f32x4_add(a1[i], wasm_f32x4_mul(pi, hi));
            }
        }
        for (int i = 0; i < nb; i++) wasm_v128_store(out[i] + d, a0[i]), wasm_v128_store(out[i] + d + 4, a1[i]);
    }
}

static void values_n(int nb, const float *const *p, float *const *out, int32_t j0, int32_t j1, const uint16_t *v,
                     int32_t kv_stride, int32_t hd) {
    switch (nb) {
    case 4: values(4, p, out, j0, j1, v, kv_stride, hd); break;
    case 3: values(3, p, out, j0, j1, v, kv_stride, hd); break;
    case 2: values(2, p, out, j0, j1, v, kv_stride, hd); break;
    default: values(1, p, out, j0, j1, v, kv_stride, hd); break;
    }
}

// values for rows whose halves are all finite, every query of the group (nb <= KITE_ATTN_GROUP_MAX)
// in one pass: 4 dims at a time, so that nb sums stay in registers while each row's 4 halves
// convert once for all of them. The same sums in the same order as values.
KITE_INLINE void values_all(int nb, const float *const *p, float *const *out, int32_t j0, int32_t j1,
                            const uint16_t *v, int32_t kv_stride, int32_t hd) {
    for (int32_t d = 0; d < hd; d += 4) {
        v128_t a[KITE_ATTN_GROUP_MAX];
        for (int i = 0; i < nb; i++) a[i] = j0 == 0 ? wasm_f32x4_splat(0.0f) : wasm_v128_load(out[i] + d);
        for (int32_t j = j0; j < j1; j++) {
            const v128_t x = kite__h2f4_finite_wasm(wasm_i32x4_load16x4(v + (int64_t)j * kv_stride + d));
            for (int i = 0; i < nb; i++) a[i] = wasm_f32x4_add(a[i], wasm_f32x4_mul(wasm_f32x4_splat(p[i][j]), x));
        }
        for (int i = 0; i < nb; i++) wasm_v128_store(out[i] + d, a[i]);
    }
}

// values_all over 8 dims at a time (two vectors per query: half the weight splats) for nb <= 6
// queries, whose 2 nb sums still fit the registers.
KITE_INLINE void values_all8(int nb, const float *const *p, float *const *out, int32_t j0, int32_t j1,
                             const uint16_t *v, int32_t kv_stride, int32_t hd) {
    for (int32_t d = 0; d < hd; d += 8) {
        v128_t a0[6], a1[6];
        for (int i = 0; i < nb; i++) {
            a0[i] = j0 == 0 ? wasm_f32x4_splat(0.0f) : wasm_v128_load(out[i] + d);
            a1[i] = j0 == 0 ? wasm_f32x4_splat(0.0f) : wasm_v128_load(out[i] + d + 4);
        }
        for (int32_t j = j0; j < j1; j++) {
            v128_t lo, hi;
            kite__h2f8_finite_wasm(wasm_v128_load(v + (int64_t)j * kv_stride + d), &lo, &hi);
            for (int i = 0; i < nb; i++) {
                const v128_t w = wasm_f32x4_splat(p[i][j]);
                a0[i] = wasm_f32x4_add(a0[i], wasm_f32x4_mul(w, lo));
                a1[i] = wasm_f32x4_add(a1[i], wasm_f32x4_mul(w, hi));
            }
        }
        for (int i = 0; i < nb; i++) wasm_v128_store(out[i] + d, a0[i]), wasm_v128_store(out[i] + d + 4, a1[i]);
    }
}

// values of the queries i < nq over rows j0..j1-1: where the rows are finite (checked here, a
// block of 32 rows at a time) values_all8 (up to 6 queries) or values_all (7 or 8), else values
// in batches of QB.
static void values_group(int nq, const float *const *p, float *const *out, int32_t j0, int32_t j1, const uint16_t *v,
                         int32_t kv_stride, int32_t hd) {
    for (int32_t b0 = j0; b0 < j1; b0 += CH) {
        const int32_t b1 = b0 + CH < j1 ? b0 + CH : j1;
        v128_t sp = wasm_i16x8_splat(0);
        for (int32_t j = b0; j < b1; j++)
            for (int32_t d = 0; d < hd; d += 8) sp = spec_acc(sp, wasm_v128_load(v + (int64_t)j * kv_stride + d));
        if (spec_any(sp)) {
            for (int i0 = 0; i0 < nq; i0 += QB)
                values_n(nq - i0 < QB ? nq - i0 : QB, p + i0, out + i0, b0, b1, v, kv_stride, hd);
            continue;
        }
        switch (nq) {
        case 8: values_all(8, p, out, b0, b1, v, kv_stride, hd); break;
        case 7: values_all(7, p, out, b0, b1, v, kv_stride, hd); break;
        case 6: values_all8(6, p, out, b0, b1, v, kv_stride, hd); break;
        case 5: values_all8(5, p, out, b0, b1, v, kv_stride, hd); break;
        case 4: values_all8(4, p, out, b0, b1, v, kv_stride, hd); break;
        case 3: values_all8(3, p, out, b0, b1, v, kv_stride, hd); break;
        case 2: values_all8(2, p, out, b0, b1, v, kv_stride, hd); break;
        default: values_all8(1, p, out, b0, b1, v, kv_stride, hd); break;
        }
    }
}

static __attribute__((noinline)) void scores_softmax_values(const kite_attn_group *g, float scale, const float *const *q,
                                                            int32_t n_min, int32_t n_max) {
    const int32_t hd = g->head_dim, nq = g->n_q;
    float *s[KITE_ATTN_GROUP_MAX];
    for (int32_t i = 0; i < nq; i++) s[i] = g->scores + (size_t)i * (size_t)g->scores_stride;
    if (g->mode == KITE_ATTN_FA_F32) scores_f32(g, q, s, n_max);
    else scores_ggml(g, q, 0, n_max, s, 0);
    if (g->softcap != 0.0f) cap_scores(g, scale, s, 0, n_max);
    softmax_rows(s, g->n_kv, nq);
    for (int32_t i = 0; i < nq && g->mode == KITE_ATTN_MATMUL; i++) {
        // MATMUL: the probabilities rounded to f16 once here rather than per use
        int32_t j = 0;
        for (; j + 4 <= g->n_kv[i]; j += 4) wasm_v128_store(s[i] + j, kite__aw_f16_round4(wasm_v128_load(s[i] + j)));
        for (; j < g->n_kv[i]; j++) s[i][j] = kite__f16_round(s[i][j]);
    }
    values_group(nq, (const float *const *)s, g->out, 0, n_min, g->v, g->kv_stride, hd);
    for (int32_t i = 0; i < nq; i++)
        if (g->n_kv[i] > n_min) values_n(1, (const float *const *)s + i, g->out + i, n_min, g->n_kv[i], g->v, g->kv_stride, hd);
}

void kite__attend_group_wasm(const kite_attn_group *g) {
    const int32_t hd = g->head_dim, nq = g->n_q;
    if (hd % 8 != 0) {
        kite__attend_group_each_capped(kite__attend_head_capped, g); // (softcap 0: kite__attend_head_ref)
        return;
    }
    // soft-capped (gemma2): the scores are formed as dots (scale 1), then capped and scaled
    kite_attn_group gc;
    const float scale = g->scale;
    if (g->softcap != 0.0f) {
        gc = *g;
        gc.scale = 1.0f;
        g = &gc;
    }
    float qr[KITE_ATTN_GROUP_MAX][KITE_ATTN_MAX_HEAD_DIM]; // q rounded to f16 (MATMUL, FA_F16)
    const float *q[KITE_ATTN_GROUP_MAX];
    int32_t n_min = g->n_kv[0], n_max = g->n_kv[0];
    for (int32_t i = 0; i < nq; i++) {
        n_min = g->n_kv[i] < n_min ? g->n_kv[i] : n_min;
        n_max = g->n_kv[i] > n_max ? g->n_kv[i] : n_max;
        if (g->mode == KITE_ATTN_FA_F32) {
            q[i] = g->q[i];
            continue;
        }
        for (int32_t d = 0; d < hd; d += 4) wasm_v128_store(qr[i] + d, kite__aw_f16_round4(wasm_v128_load(g->q[i] + d)));
        q[i] = qr[i];
    }
    if (g->mode == KITE_ATTN_FA_F16) fa_f16(g, scale, q, n_min, n_max);
    else scores_softmax_values(g, scale, q, n_min, n_max);
}

void kite__attend_head_wasm(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                            int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                            float *out) {
    kite_attn_group g = {.mode = mode, .n_q = 1, .head_dim = head_dim, .kv_stride = kv_stride, .scores_stride = n_kv,
                         .scale = scale, .k = k, .v = v, .q = {q}, .out = {out}, .n_kv = {n_kv}, .scores = scores};
    kite__attend_group_wasm(&g);
}
