// test_model_ops.c - the forward pass's small ops: every kernel set's attention op (AVX2, NEON,
// wasm SIMD128) against the scalar one (every rounding mode, odd cache lengths, head sizes on and off the 64-wide vector blocks),
// and RoPE / RMSNorm against their textbook formulas computed in double.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/kite_f16.h"
#include "check.h"
#include "kernels/attend.h"
#include "kernels/kernels_internal.h"
#include "kernels/kite_kernels.h"
#include "model/ops.h"

static uint32_t rng = 2024;
static float frand(void) { // uniform in [-1, 1)
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

// One ISA set's attention op against the scalar one. exact: bit for bit (NEON, wasm); else the
// AVX2 op's tolerance (it sums with FMA in 8 lanes).
// capped (may be NULL): the set's soft-capping op (x86: kite__attend_head_capped_avx2, NEON:
// kite__attend_head_capped_neon), checked the same way against kite__attend_head_capped under
// caps 50 and 2.
static void check_attention_set(const char *isa, kite_attend_fn fn, kite__attend_capped_fn capped, bool exact) {
    const int dims[] = {8, 32, 64, 72, 128};
    const int lens[] = {1, 7, 64, 133};
    const int stride = 3 * 128; // rows of a 3-head cache
    uint16_t *k = malloc(sizeof(uint16_t) * 133 * stride), *v = malloc(sizeof(uint16_t) * 133 * stride);
    for (int i = 0; i < 133 * stride; i++) {
        if (exact) { // subnormal halves too
            k[i] = kite_f32_to_f16(2.0f * frand() * (i % 97 == 0 ? 1e-6f : 1.0f));
            v[i] = kite_f32_to_f16(frand() * (i % 89 == 0 ? 1e-6f : 1.0f));
        } else {
            k[i] = kite_f32_to_f16(2.0f * frand());
            v[i] = kite_f32_to_f16(frand());
        }
    }
    float q[128], a[128], b[128], scores[133];
    const float caps[] = {0.0f, 50.0f, 2.0f};
    for (int ci = 0; ci < (capped ? 3 : 1); ci++)
        for (int mode = KITE_ATTN_MATMUL; mode <= KITE_ATTN_FA_F32; mode++)
            for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
                for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                    const int hd = dims[di], n = lens[li];
                    for (int d = 0; d < hd; d++) q[d] = frand() * (ci ? 4.0f : 1.0f);
                    const float scale = 1.0f / sqrtf((float)hd);
                    if (ci == 0) {
                        kite__attend_head_ref((kite_attn_mode)mode, q, k + hd, v + hd, stride, n, hd, scale, scores, a);
                        fn((kite_attn_mode)mode, q, k + hd, v + hd, stride, n, hd, scale, scores, b);
                    } else {
                        kite__attend_head_capped((kite_attn_mode)mode, q, k + hd, v + hd, stride, n, hd, scale, caps[ci],
                                                 scores, a);
                        capped((kite_attn_mode)mode, q, k + hd, v + hd, stride, n, hd, scale, caps[ci], scores, b);
                    }
                    if (exact) {
                        // the op keeps every sum's order: bit for bit the scalar op's output
                        CHECK(!memcmp(a, b, sizeof(float) * (size_t)hd), "mode %d head %d len %d: %s vs scalar differ", mode,
                              hd, n, isa);
                        continue;
                    }
                    double maxd = 0;
                    for (int d = 0; d < hd; d++) maxd = fmax(maxd, fabs(a[d] - b[d]));
                    // the scalar op sums some products in another order or unfused; the f16
                    // accumulator (|v| <= 1) has steps of 2^-11
                    CHECK(maxd < 2e-3, "cap %g mode %d head %d len %d: %s vs scalar differ by %g", caps[ci], mode, hd, n,
                          isa, maxd);
                    if (hd % 64 != 0 && mode == KITE_ATTN_FA_F16)
                        CHECK(maxd == 0, "cap %g mode %d head %d len %d: below 64 dims both follow ggml's scalar tail, %g",
                              caps[ci], mode, hd, n, maxd);
                }
    free(k);
    free(v);
}

// Every kernel set's attention op (the dispatch table's entry) against the scalar op, and
// kite_kernels_attend follows the set in use.
static void test_attention(void) {
    const char *active = kite_kernels_isa();
    CHECK(kite_kernels_set_isa("scalar") == KITE_OK && kite_kernels_attend() == kite__attend_head_ref,
          "the scalar set's attention op is the _ref");
    CHECK(kite_kernels_set_isa(active) == KITE_OK, "restore %s", active);
    CHECK(kite_kernels_attend() == kite__kernels_active()->attend, "kite_kernels_attend is the active set's op");
    int simd = 0;
    for (int i = 1; i < kite_kernels_isa_count(); i++) {
        const char *isa = kite_kernels_isa_name(i);
        const kite__kernels *ks = kite__kernels_get(isa);
        if (ks->attend == kite__attend_head_ref) continue;
        const bool x86 = !strcmp(isa, "avx2") || !strcmp(isa, "avxvnni") || !strcmp(isa, "avx512") ||
                         !strcmp(isa, "amx"); // the AVX2 op
        fprintf(stderr, "attention: %s op vs scalar (%s)\n", isa, x86 ? "within 2e-3" : "bit for bit");
        kite__attend_capped_fn capped = NULL;
#if defined(__x86_64__) || defined(_M_X64)
        if (x86) capped = kite__attend_head_capped_avx2;
#elif defined(__aarch64__)
        if (!strcmp(isa, "neon")) capped = kite__attend_head_capped_neon;
#endif
        check_attention_set(isa, ks->attend, capped, !x86);
        simd++;
    }
#if defined(__x86_64__) || defined(__aarch64__) || defined(__wasm_simd128__)
    if (!simd) fprintf(stderr, "skip: no SIMD kernel set on this host (%s)\n", active);
#else
    fprintf(stderr, "skip: no SIMD attention variant on this target\n");
#endif
}

// The table-free conversions agree with base/kite_f16.h bit for bit: every f16 value, and rounding
// of floats around every f16 value (midpoints included) and of random floats of all sizes.
static bool same_bits(float a, float b) { return !memcmp(&a, &b, 4); }

static void test_f16_conversions(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = kite_f16_to_f32((kite_f16)h);
        if (!same_bits(kite__h2f((uint16_t)h), f) && !(isnan(f) && isnan(kite__h2f((uint16_t)h)))) bad++;
    }
    CHECK(bad == 0, "kite__h2f differs from kite_f16_to_f32 on %d values", bad);
    bad = 0;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        const float f = kite_f16_to_f32((kite_f16)h), g = kite_f16_to_f32((kite_f16)(h + 1));
        const float probes[] = {f, -f, (f + g) / 2, -(f + g) / 2, nextafterf((f + g) / 2, 0), nextafterf((f + g) / 2, 1e9f)};
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
            const float want = kite_f16_to_f32(kite_f32_to_f16(probes[i]));
            if (!same_bits(kite__f16_round(probes[i]), want)) bad++;
        }
    }
    for (int i = 0; i < 1000000; i++) {
        uint32_t u = rng = rng * 1664525u + 1013904223u;
        float x;
        memcpy(&x, &u, 4);
        if (isnan(x)) continue;
        if (!same_bits(kite__f16_round(x), kite_f16_to_f32(kite_f32_to_f16(x)))) bad++;
    }
    CHECK(bad == 0, "kite__f16_round differs from kite_f32_to_f16 on %d inputs", bad);
}

static void test_rope(void) {
    const int hd = 64, n_rot = 48, pos = 37;
    const float base = 10000.0f, fs = 0.5f, af = 1.25f;
    float factors[24], cs[48], x[2][64], x0[64];
    for (int i = 0; i < 24; i++) factors[i] = 1.0f + (float)i / 8;
    for (int d = 0; d < hd; d++) x0[d] = frand();
    kite__rope_cache(cs, pos, n_rot, base, fs, af, factors);
    for (int neox = 0; neox < 2; neox++) {
        memcpy(x[neox], x0, sizeof x0);
        kite__rope_apply(x[neox], 1, hd, n_rot, cs, neox);
        double maxd = 0;
        for (int i = 0; i < n_rot / 2; i++) {
            const double th = pos * pow(base, -2.0 * i / n_rot) * fs / factors[i];
            const int p0 = neox ? i : 2 * i, p1 = neox ? i + n_rot / 2 : 2 * i + 1;
            const double r0 = af * (x0[p0] * cos(th) - x0[p1] * sin(th));
            const double r1 = af * (x0[p0] * sin(th) + x0[p1] * cos(th));
            maxd = fmax(maxd, fmax(fabs(r0 - x[neox][p0]), fabs(r1 - x[neox][p1])));
        }
        CHECK(maxd < 1e-4, "rope (neox %d) differs from the formula by %g", neox, maxd);
        CHECK(!memcmp(x[neox] + n_rot, x0 + n_rot, sizeof(float) * (hd - n_rot)), "rope touched dims past n_rot");
    }
}

static void test_rmsnorm(void) {
    float x[300], w[300], y[300];
    double ss = 0;
    for (int i = 0; i < 300; i++) {
        x[i] = 3 * frand();
        w[i] = frand();
        ss += (double)x[i] * x[i];
    }
    kite__rmsnorm(y, x, w, 300, 1e-5f);
    const double s = 1.0 / sqrt(ss / 300 + 1e-5);
    double maxd = 0;
    for (int i = 0; i < 300; i++) maxd = fmax(maxd, fabs(y[i] - x[i] * s * w[i]));
    CHECK(maxd < 1e-5, "rmsnorm differs from the formula by %g", maxd);
}

// qwen3 / gemma3 q and k norms: each head normed on its own with the same weights.
static void test_rmsnorm_heads(void) {
    enum { H = 5, D = 48 };
    float x[H * D], x0[H * D], w[D];
    for (int i = 0; i < H * D; i++) x0[i] = x[i] = (float)(i / D + 1) * frand(); // heads of different scales
    for (int i = 0; i < D; i++) w[i] = 1.0f + frand();
    kite__rmsnorm_heads(x, H, D, w, 1e-6f);
    double maxd = 0;
    for (int h = 0; h < H; h++) {
        double ss = 0;
        for (int i = 0; i < D; i++) ss += (double)x0[h * D + i] * x0[h * D + i];
        const double s = 1.0 / sqrt(ss / D + 1e-6);
        for (int i = 0; i < D; i++) maxd = fmax(maxd, fabs(x[h * D + i] - x0[h * D + i] * s * w[i]));
    }
    CHECK(maxd < 1e-5, "per-head rmsnorm differs from the formula by %g", maxd);
}

// GELU (tanh approximation) as ggml tabulates it, against the formula in double at x rounded to
// f16, rounded to f16, for x >= -2: below that ggml's float 1 + tanh(..) cancels and only
// libggml's own table (test_model_ops_ggml) can judge. Where the double formula lies within a
// float rounding of an f16 rounding boundary either side may come out; elsewhere bits agree.
static void test_gelu(void) {
    int n_exact = 0, n_checked = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        const float x = kite_f16_to_f32((uint16_t)b);
        if (!(x >= -2.0f && x < 10.0f)) continue;
        const double xd = x;
        const double ref = 0.5 * xd * (1.0 + tanh(0.79788456080286535587989211986876 * xd * (1.0 + 0.044715 * xd * xd)));
        const float got = kite__gelu_ggml(x);
        n_checked++;
        if (same_bits(got, kite_f16_to_f32(kite_f32_to_f16((float)ref)))) {
            n_exact++;
            continue;
        }
        const float lo = kite_f16_to_f32(kite_f32_to_f16((float)(ref - fabs(ref) * 1e-6))),
                    hi = kite_f16_to_f32(kite_f32_to_f16((float)(ref + fabs(ref) * 1e-6)));
        CHECK(same_bits(got, lo) || same_bits(got, hi), "gelu(%a) = %a, formula %a", x, got, ref);
    }
    CHECK(n_exact > n_checked - 16, "gelu: %d of %d f16 inputs exact", n_exact, n_checked);
    // the clamps: 0 at or below -10, x at or above 10
    CHECK(kite__gelu_ggml(-10.0f) == 0.0f && kite__gelu_ggml(-1e30f) == 0.0f, "gelu below -10 is not 0");
    CHECK(kite__gelu_ggml(10.0f) == 10.0f && kite__gelu_ggml(123.25f) == 123.25f, "gelu above 10 is not x");
    float g[3] = {1.0f, -20.0f, 30.0f}, u[3] = {2.0f, 5.0f, 0.5f};
    kite__geglu(g, u, 3);
    CHECK(g[0] == kite__gelu_ggml(1.0f) * 2.0f && g[1] == 0.0f && g[2] == 15.0f, "geglu: %g %g %g", g[0], g[1], g[2]);
}

static void test_softcap(void) {
    float x[64];
    double maxd = 0;
    for (int i = 0; i < 64; i++) x[i] = 200.0f * frand();
    float y[64];
    memcpy(y, x, sizeof x);
    kite__softcap(y, 64, 30.0f);
    for (int i = 0; i < 64; i++) {
        maxd = fmax(maxd, fabs(y[i] - 30.0 * tanh(x[i] / 30.0)));
        CHECK(fabsf(y[i]) <= 30.0f, "softcap %g -> %g exceeds the cap", x[i], y[i]);
    }
    CHECK(maxd < 1e-5, "softcap differs from 30 tanh(x/30) by %g", maxd);
}

// MoE routing: softmax, top-k, renormalised weights, against the same computed in double.
static void test_moe_route(void) {
    enum { X = 8, K = 3 };
    float logits[X] = {0.1f, 2.0f, -1.0f, 1.5f, 1.5f, 0.3f, 3.0f, -0.5f}, probs[X], w[K];
    int32_t ids[K];
    kite__moe_route(logits, X, K, probs, ids, w);
    CHECK(ids[0] == 6 && ids[1] == 1 && ids[2] == 3, "top-3 ids %d %d %d, want 6 1 3 (the lower of a tie first)", ids[0],
          ids[1], ids[2]);
    double e[X], se = 0;
    for (int i = 0; i < X; i++) se += e[i] = exp((double)logits[i]);
    const double top = e[6] + e[1] + e[3];
    CHECK(fabs(w[0] - e[6] / top) < 1e-6 && fabs(w[1] - e[1] / top) < 1e-6 && fabs(w[2] - e[3] / top) < 1e-6,
          "weights %g %g %g, want %g %g %g", w[0], w[1], w[2], e[6] / top, e[1] / top, e[3] / top);
    CHECK(fabs(probs[0] - e[0] / se) < 1e-6, "probs are not the softmax: %g vs %g", probs[0], e[0] / se);
}

// Soft-capped attention: against softmax(cap * tanh(s * scale / cap)) . v in double (f32 path:
// q and the cache used as they are).
static void test_attention_softcap(void) {
    enum { D = 16, N = 9 };
    uint16_t k[N * D], v[N * D];
    float q[D], out[D], scores[N];
    for (int i = 0; i < N * D; i++) {
        k[i] = kite_f32_to_f16(4.0f * frand());
        v[i] = kite_f32_to_f16(frand());
    }
    for (int d = 0; d < D; d++) q[d] = 3.0f * frand();
    const float scale = 0.25f, cap = 5.0f;
    for (int mode = KITE_ATTN_MATMUL; mode <= KITE_ATTN_FA_F32; mode++) {
        kite__attend_head_capped((kite_attn_mode)mode, q, k, v, D, N, D, scale, cap, scores, out);
        double s[N], mx = -1e300, sum = 0;
        for (int j = 0; j < N; j++) {
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)q[d] * kite_f16_to_f32(k[j * D + d]);
            // ggml's matmul path caps the raw product and scales in the softmax; its flash path
            // caps the scaled one (the same for gemma2, whose scale is 1)
            s[j] = mode == KITE_ATTN_MATMUL ? cap * tanh(dot / cap) * scale : cap * tanh(dot * scale / cap);
            mx = fmax(mx, s[j]);
        }
        for (int j = 0; j < N; j++) sum += s[j] = exp(s[j] - mx);
        double maxd = 0;
        for (int d = 0; d < D; d++) {
            double o = 0;
            for (int j = 0; j < N; j++) o += s[j] / sum * kite_f16_to_f32(v[j * D + d]);
            maxd = fmax(maxd, fabs(out[d] - o));
        }
        // the f16 modes round q, the probabilities or the accumulator to f16
        CHECK(maxd < (mode == KITE_ATTN_FA_F32 ? 1e-5 : 3e-3), "mode %d: capped attention off by %g", mode, maxd);
        // uncapped with cap 0: the plain op, bit for bit
        float a[D], b[D];
        kite__attend_head_capped((kite_attn_mode)mode, q, k, v, D, N, D, scale, 0.0f, scores, a);
        kite__attend_head_ref((kite_attn_mode)mode, q, k, v, D, N, D, scale, scores, b);
        CHECK(!memcmp(a, b, sizeof a), "mode %d: cap 0 is not the plain op", mode);
        CHECK(memcmp(a, out, sizeof a) != 0, "mode %d: the cap changed nothing", mode);
    }
}

int main(void) {
    test_f16_conversions();
    test_attention();
    test_rope();
    test_rmsnorm();
    test_rmsnorm_heads();
    test_gelu();
    test_softcap();
    test_moe_route();
    test_attention_softcap();
    return check_done("test_model_ops");
}
