// test_model_ops.c - the forward pass's small ops: the AVX2 (wasm: SIMD128) attention against the scalar one
// (every rounding mode, odd cache lengths, head sizes on and off the 64-wide vector blocks),
// and RoPE / RMSNorm against their textbook formulas computed in double.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/f16.h"
#include "check.h"
#include "kernels/kite_kernels.h"
#include "model/ops.h"

static uint32_t rng = 2024;
static float frand(void) { // uniform in [-1, 1)
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

static void test_attention(void) {
#if defined(__x86_64__) && !defined(__EMSCRIPTEN__)
    const char *isa = kite_kernels_isa();
    if (strcmp(isa, "avx2") != 0 && strcmp(isa, "avx512") != 0) {
        fprintf(stderr, "skip: no AVX2 on this host (%s)\n", isa);
        return;
    }
    const int dims[] = {8, 32, 64, 72, 128};
    const int lens[] = {1, 7, 64, 133};
    const int stride = 3 * 128; // rows of a 3-head cache
    uint16_t *k = malloc(sizeof(uint16_t) * 133 * stride), *v = malloc(sizeof(uint16_t) * 133 * stride);
    for (int i = 0; i < 133 * stride; i++) {
        k[i] = kite_f32_to_f16(2.0f * frand());
        v[i] = kite_f32_to_f16(frand());
    }
    float q[128], a[128], b[128], scores[133];
    for (int mode = KITE_ATTN_MATMUL; mode <= KITE_ATTN_FA_F32; mode++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
            for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                const int hd = dims[di], n = lens[li];
                for (int d = 0; d < hd; d++) q[d] = frand();
                const float scale = 1.0f / sqrtf((float)hd);
                kite__attend_head((kite_attn_mode)mode, q, k + hd, v + hd, stride, n, hd, scale, scores, a);
                kite__attend_head_avx2((kite_attn_mode)mode, q, k + hd, v + hd, stride, n, hd, scale, scores, b);
                double maxd = 0;
                for (int d = 0; d < hd; d++) maxd = fmax(maxd, fabs(a[d] - b[d]));
                // the scalar op sums some products in another order or unfused; the f16
                // accumulator (|v| <= 1) has steps of 2^-11
                CHECK(maxd < 2e-3, "mode %d head %d len %d: avx2 vs scalar differ by %g", mode, hd, n, maxd);
                if (hd % 64 != 0 && mode == KITE_ATTN_FA_F16)
                    CHECK(maxd == 0, "mode %d head %d len %d: below 64 dims both follow ggml's scalar tail, %g", mode,
                          hd, n, maxd);
            }
    free(k);
    free(v);
#elif defined(__wasm_simd128__)
    // the SIMD128 op keeps every sum's order: bit for bit the scalar op's output
    const int dims[] = {8, 32, 64, 72, 128};
    const int lens[] = {1, 7, 64, 133};
    const int stride = 3 * 128;
    uint16_t *k = malloc(sizeof(uint16_t) * 133 * stride), *v = malloc(sizeof(uint16_t) * 133 * stride);
    for (int i = 0; i < 133 * stride; i++) {
        k[i] = kite_f32_to_f16(2.0f * frand() * (i % 97 == 0 ? 1e-6f : 1.0f)); // subnormal halves too
        v[i] = kite_f32_to_f16(frand() * (i % 89 == 0 ? 1e-6f : 1.0f));
    }
    float q[128], a[128], b[128], scores[133];
    for (int mode = KITE_ATTN_MATMUL; mode <= KITE_ATTN_FA_F32; mode++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
            for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                const int hd = dims[di], n = lens[li];
                for (int d = 0; d < hd; d++) q[d] = frand();
                const float scale = 1.0f / sqrtf((float)hd);
                kite__attend_head((kite_attn_mode)mode, q, k + hd, v + hd, stride, n, hd, scale, scores, a);
                kite__attend_head_wasm((kite_attn_mode)mode, q, k + hd, v + hd, stride, n, hd, scale, scores, b);
                CHECK(!memcmp(a, b, sizeof(float) * (size_t)hd), "mode %d head %d len %d: wasm vs scalar differ", mode, hd, n);
            }
    free(k);
    free(v);
#else
    fprintf(stderr, "skip: no SIMD attention variant on this target\n");
#endif
}

// The table-free conversions agree with base/f16.h bit for bit: every f16 value, and rounding
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

int main(void) {
    test_f16_conversions();
    test_attention();
    test_rope();
    test_rmsnorm();
    return check_done("test_model_ops");
}
