// attend_neon.c - the attention op for aarch64 NEON: the scalar op's results bit for bit in every
// mode (every sum keeps attend_ref.c's order, multiplies and adds are separate instructions, no
// fused multiply-add), four lanes per instruction. Halves are widened by the FCVTL instruction,
// which gives kite__h2f's float for every half but a signalling NaN (it quiets it; the KV cache
// only ever holds halves written by rounding, whose NaNs are quiet). expf runs 4 lanes at a time
// (neon_expf.h, libm's bits), soft-capping through the NEON soft-cap row (libm's tanh bits).
#include <arm_neon.h>
#include <math.h>

#include "kernels/attend.h"
#include "kernels/kernels_internal.h"
#include "kernels/neon_expf.h"

// Keys whose scores and expf arguments the flash path forms before it runs their expf calls.
enum { FA_CHUNK = 64 };

// Four halves -> floats (exact).
static inline float32x4_t h2f4(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

// kite__f16_round on four lanes: the same bit masks and the same add-then-subtract rounding.
static inline float32x4_t f16_round4(float32x4_t x) {
    const uint32x4_t xu = vreinterpretq_u32_f32(x);
    const uint32x4_t a = vandq_u32(xu, vdupq_n_u32(0x7fffffffu));
    const uint32x4_t e = vmaxq_u32(vshrq_n_u32(a, 23), vdupq_n_u32(113));
    const uint32x4_t m = vshlq_n_u32(vaddq_u32(e, vdupq_n_u32(13)), 23);
    const float32x4_t mf = vreinterpretq_f32_u32(m);
    const uint32x4_t r = vreinterpretq_u32_f32(vsubq_f32(vaddq_f32(vreinterpretq_f32_u32(a), mf), mf));
    const uint32x4_t big = vcgeq_u32(a, vdupq_n_u32(0x477ff000u)), nan = vcgtq_u32(a, vdupq_n_u32(0x7f800000u));
    const uint32x4_t special = vbslq_u32(nan, a, vdupq_n_u32(0x7f800000u));
    const uint32x4_t out = vorrq_u32(vbslq_u32(big, special, r), vandq_u32(xu, vdupq_n_u32(0x80000000u)));
    return vreinterpretq_f32_u32(out);
}

// q.k in kite__dot_f16_ggml's order: its 64 lane sums are 16 vectors here, reduced the same way.
static float dot_ggml(const float *q, const uint16_t *k, int32_t n) {
    const int32_t np = n & ~63;
    double sum = 0.0;
    if (np > 0) {
        float32x4_t a[16];
        for (int j = 0; j < 16; j++) a[j] = vdupq_n_f32(0.0f);
        for (int32_t i = 0; i < np; i += 64)
            for (int j = 0; j < 16; j++) a[j] = vaddq_f32(a[j], vmulq_f32(vld1q_f32(q + i + 4 * j), h2f4(k + i + 4 * j)));
        // r[l] = (acc[l] + acc[32 + l]) + (acc[16 + l] + acc[48 + l]), l < 16: four vectors
        float32x4_t r[4];
        for (int m = 0; m < 4; m++) r[m] = vaddq_f32(vaddq_f32(a[m], a[8 + m]), vaddq_f32(a[4 + m], a[12 + m]));
        // h[l] = r[l] + r[l + 8] (l < 8), then h[l] + h[l + 4] (l < 4)
        const float32x4_t h = vaddq_f32(vaddq_f32(r[0], r[2]), vaddq_f32(r[1], r[3]));
        sum = (double)((vgetq_lane_f32(h, 0) + vgetq_lane_f32(h, 2)) + (vgetq_lane_f32(h, 1) + vgetq_lane_f32(h, 3)));
    }
    for (int32_t i = np; i < n; i++) sum += (double)(q[i] * kite__h2f(k[i]));
    return (float)sum;
}

// attend_ref.c's attend_fa_f16: online softmax, the V accumulator rounded to f16 after every step.
// Keys go in chunks: their scores (soft-capped as the scalar op caps them when softcap != 0), then
// the running maximum and each key's expf argument in key order (m - s where s raises the maximum,
// else s - m: the scalar op's branches), the chunk's expf calls 4 lanes at a time, then the
// accumulator's steps key by key with those factors.
static void attend_fa_f16(const float *q16, const uint16_t *k, const uint16_t *v, int32_t kv_stride, int32_t n_kv,
                          int32_t head_dim, float scale, float softcap, float *out) {
    float acc[KITE_ATTN_MAX_HEAD_DIM];
    for (int32_t d = 0; d < head_dim; d += 4) vst1q_f32(acc + d, vdupq_n_f32(0.0f));
    float m = -INFINITY, sum = 0.0f;
    for (int32_t j0 = 0; j0 < n_kv; j0 += FA_CHUNK) {
        const int32_t nc = n_kv - j0 < FA_CHUNK ? n_kv - j0 : FA_CHUNK;
        float e[FA_CHUNK];
        bool raise[FA_CHUNK];
        for (int32_t c = 0; c < nc; c++) {
            const float dot = dot_ggml(q16, k + (int64_t)(j0 + c) * kv_stride, head_dim);
            e[c] = softcap == 0.0f ? dot * scale : dot;
        }
        if (softcap != 0.0f)
            kite__attend_cap_scores(kite__softcap_scaled_neon, KITE_ATTN_FA_F16, e, nc, scale, softcap);
        for (int32_t c = 0; c < nc; c++) {
            const float s = e[c];
            raise[c] = s > m;
            e[c] = raise[c] ? m - s : s - m;
            m = raise[c] ? s : m;
        }
        kite__expf_row_neon(e, nc);
        for (int32_t c = 0; c < nc; c++) {
            const uint16_t *vj = v + (int64_t)(j0 + c) * kv_stride;
            const float ms = raise[c] ? e[c] : 1.0f, vs = raise[c] ? 1.0f : e[c];
            if (raise[c]) {
                const float32x4_t msv = vdupq_n_f32(ms);
                for (int32_t d = 0; d < head_dim; d += 4)
                    vst1q_f32(acc + d, f16_round4(vmulq_f32(vld1q_f32(acc + d), msv)));
            }
            const float32x4_t vsv = vdupq_n_f32(vs);
            for (int32_t d = 0; d < head_dim; d += 4)
                vst1q_f32(acc + d, f16_round4(vaddq_f32(vld1q_f32(acc + d), vmulq_f32(h2f4(vj + d), vsv))));
            sum = sum * ms + vs;
        }
    }
    const float32x4_t sv = vdupq_n_f32(sum); // divided, as in attend_ref.c
    for (int32_t d = 0; d < head_dim; d += 4) vst1q_f32(out + d, vdivq_f32(vld1q_f32(acc + d), sv));
}

// kite__softmax bit for bit: its maximum 4 lanes at a time with its own select (x > mx ? x : mx,
// so nan never wins; where +0 and -0 tie either gives the same expf(x - mx) for every x), then
// the same expf arguments, double sum in row order and products.
static void softmax(float *x, int32_t n) {
    float32x4_t m4 = vdupq_n_f32(-INFINITY);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        m4 = vbslq_f32(vcgtq_f32(v, m4), v, m4);
    }
    float lanes[4], mx = -INFINITY;
    vst1q_f32(lanes, m4);
    for (int l = 0; l < 4; l++) mx = lanes[l] > mx ? lanes[l] : mx;
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    const float inv = kite__softmax_exp_sum_neon(x, n, mx);
    const float32x4_t inv4 = vdupq_n_f32(inv);
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), inv4));
    for (; i < n; i++) x[i] *= inv;
}

// The scalar op's FA_F32 scores: q.k_j summed in dim order, for 4 keys at a time (lane = key),
// so each key's sum keeps its sequential order. Each 4-dim step transposes the 4 keys' widened
// halves into one vector per dim. Keys past a multiple of 4 are summed one by one.
static void scores_f32(const float *q, const uint16_t *k, int32_t kv_stride, int32_t n_kv, int32_t head_dim,
                       float scale, float *scores) {
    const float32x4_t sv = vdupq_n_f32(scale);
    int32_t j = 0;
    for (; j + 4 <= n_kv; j += 4) {
        const uint16_t *k0 = k + (int64_t)j * kv_stride;
        float32x4_t acc = vdupq_n_f32(0.0f);
        for (int32_t d = 0; d < head_dim; d += 4) {
            const float32x4_t r0 = h2f4(k0 + d), r1 = h2f4(k0 + kv_stride + d);
            const float32x4_t r2 = h2f4(k0 + 2 * kv_stride + d), r3 = h2f4(k0 + 3 * kv_stride + d);
            const float64x2_t t0 = vreinterpretq_f64_f32(vzip1q_f32(r0, r1)), t1 = vreinterpretq_f64_f32(vzip2q_f32(r0, r1));
            const float64x2_t t2 = vreinterpretq_f64_f32(vzip1q_f32(r2, r3)), t3 = vreinterpretq_f64_f32(vzip2q_f32(r2, r3));
            const float32x4_t c[4] = {vreinterpretq_f32_f64(vzip1q_f64(t0, t2)), vreinterpretq_f32_f64(vzip2q_f64(t0, t2)),
                                      vreinterpretq_f32_f64(vzip1q_f64(t1, t3)), vreinterpretq_f32_f64(vzip2q_f64(t1, t3))};
            for (int i = 0; i < 4; i++) acc = vaddq_f32(acc, vmulq_f32(vdupq_n_f32(q[d + i]), c[i]));
        }
        vst1q_f32(scores + j, vmulq_f32(acc, sv));
    }
    for (; j < n_kv; j++) {
        const uint16_t *kj = k + (int64_t)j * kv_stride;
        float dot = 0.0f;
        for (int32_t d = 0; d < head_dim; d++) dot += q[d] * kite__h2f(kj[d]);
        scores[j] = dot * scale;
    }
}

void kite__attend_head_neon(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                            int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                            float *out) {
    kite__attend_head_capped_neon(mode, q, k, v, kv_stride, n_kv, head_dim, scale, 0.0f, scores, out);
}

void kite__attend_head_capped_neon(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                                   int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float softcap,
                                   float *scores, float *out) {
    if (head_dim % 8 != 0) {
        kite__attend_head_capped(mode, q, k, v, kv_stride, n_kv, head_dim, scale, softcap, scores, out);
        return;
    }
    float qr[KITE_ATTN_MAX_HEAD_DIM];
    for (int32_t d = 0; d < head_dim; d += 4)
        vst1q_f32(qr + d, mode == KITE_ATTN_FA_F32 ? vld1q_f32(q + d) : f16_round4(vld1q_f32(q + d)));
    if (mode == KITE_ATTN_FA_F16) {
        attend_fa_f16(qr, k, v, kv_stride, n_kv, head_dim, scale, softcap, out);
        return;
    }
    const float sc = softcap == 0.0f ? scale : 1.0f; // soft-capped: the dots, capped below
    if (mode == KITE_ATTN_FA_F32) scores_f32(qr, k, kv_stride, n_kv, head_dim, sc, scores);
    else
        for (int32_t j = 0; j < n_kv; j++) scores[j] = dot_ggml(qr, k + (int64_t)j * kv_stride, head_dim) * sc;
    if (softcap != 0.0f) kite__attend_cap_scores(kite__softcap_scaled_neon, mode, scores, n_kv, scale, softcap);
    softmax(scores, n_kv);
    // out[d] += p_j * v_j[d] in j order, lane by lane as the scalar loop does
    for (int32_t d = 0; d < head_dim; d += 4) vst1q_f32(out + d, vdupq_n_f32(0.0f));
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *vj = v + (int64_t)j * kv_stride;
        const float32x4_t p = vdupq_n_f32(mode == KITE_ATTN_MATMUL ? kite__f16_round(scores[j]) : scores[j]);
        for (int32_t d = 0; d < head_dim; d += 4)
            vst1q_f32(out + d, vaddq_f32(vld1q_f32(out + d), vmulq_f32(p, h2f4(vj + d))));
    }
}

void kite__attend_group_neon(const kite_attn_group *g) {
    kite__attend_group_each_capped(kite__attend_head_capped_neon, g);
}
