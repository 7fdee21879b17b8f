// test_softcap.c - kite_kernels_softcap gives the scalar soft-cap's bits, cap * (float)tanh((double)
// (x * (1 / cap))) with this platform's libm tanh, in every kernel set: tanh's argument (cap 1,
// where both products are exact) from a stride through all 2^32 float patterns (both zeros,
// subnormals, |y| beyond where tanh rounds to 1, inf, nan payloads) and every float in the ranges
// where the x86 lanes switch formulas (|y| near 0.125) or round near 1 (|y| in [8, 10]), in rows
// whose lengths leave every SIMD tail; then logits ~ N(0, 10) and specials under caps 30 and 50.
// KITE_TANH_ALL=1 runs all 2^32 patterns instead of the stride (about a minute per set).
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/kite_f16.h"
#include "check.h"
#include "kernels/kite_kernels.h"

enum { CHUNK = 1 << 16, STRIDE = 241 };

// The same float, bit for bit; in wasm any nan where a nan is wanted (see test_glu_rows.c).
static bool same(float got, float want) {
#ifdef __wasm__
    if (isnan(want)) return isnan(got);
#endif
    return kite__f32_bits(got) == kite__f32_bits(want);
}

static uint64_t g_bad;

// x[0..n) through the active set in rows of varied lengths, against the scalar row (the "scalar"
// set's op) element by element.
static void compare(const char *set, const float *x, int32_t n, float cap, float *got, float *want) {
    memcpy(got, x, sizeof(float) * (size_t)n);
    memcpy(want, x, sizeof(float) * (size_t)n);
    kite_kernels_set_isa("scalar");
    kite_kernels_softcap(want, n, cap);
    kite_kernels_set_isa(set);
    static const int32_t lens[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 4093};
    for (int32_t i = 0, r = 0; i < n; r++) {
        const int32_t len = lens[r % 10] < n - i ? lens[r % 10] : n - i;
        kite_kernels_softcap(got + i, len, cap);
        i += len;
    }
    for (int32_t i = 0; i < n; i++)
        if (!same(got[i], want[i]) && g_bad++ < 5)
            fprintf(stderr, "%s: cap %g, x %08x: %08x, scalar %08x\n", set, cap, (unsigned)kite__f32_bits(x[i]),
                    (unsigned)kite__f32_bits(got[i]), (unsigned)kite__f32_bits(want[i]));
}

// patterns lo, lo + step, ... below hi (64-bit, so that hi can be 2^32), both signs when `both`
static void sweep(const char *set, uint64_t lo, uint64_t hi, uint64_t step, bool both, float *x, float *got,
                  float *want) {
    int32_t n = 0;
    for (uint64_t b = lo; b < hi; b += step) {
        x[n++] = kite__f32_from_bits((uint32_t)b);
        if (both) x[n++] = kite__f32_from_bits((uint32_t)b ^ 0x80000000u);
        if (n >= CHUNK - 1) {
            compare(set, x, n, 1.0f, got, want);
            n = 0;
        }
    }
    if (n) compare(set, x, n, 1.0f, got, want);
}

int main(void) {
    float *x = malloc(sizeof(float) * CHUNK), *got = malloc(sizeof(float) * CHUNK);
    float *want = malloc(sizeof(float) * CHUNK);
    CHECK(x && got && want, "allocation");
    if (!x || !got || !want) return check_done("test_softcap");
    const char *active = kite_kernels_isa();
    const char *all = getenv("KITE_TANH_ALL");
    const bool every = all && strcmp(all, "1") == 0;
    for (int s = 1; s < kite_kernels_isa_count(); s++) {
        const char *set = kite_kernels_isa_name(s);
        g_bad = 0;
        if (every) {
            sweep(set, 0, 1ull << 32, 1, false, x, got, want);
        } else {
            sweep(set, 0, 1ull << 32, STRIDE, false, x, got, want);          // every pattern class
            sweep(set, 0x3d700000u, 0x3e080000u, 1, true, x, got, want);      // |y| in [0.0586, 0.133]
            sweep(set, 0x3f000000u, 0x3f1a0000u, 1, true, x, got, want);      // |y| in [0.5, 0.6]
            sweep(set, 0x41000000u, 0x41200000u, 1, true, x, got, want);      // |y| in [8, 10]
            sweep(set, 0, 0x00800000u, 4099, true, x, got, want);             // subnormals
            sweep(set, 0x7f800000u, 0x80000000u, 65521, true, x, got, want);  // inf, nan payloads
        }
        CHECK(g_bad == 0, "%s: %llu tanh arguments differ from the scalar soft-cap", set, (unsigned long long)g_bad);
        // logits under the caps of gemma2's attention and gemma3's output
        uint32_t rng = 2463534242u;
        for (int32_t i = 0; i < CHUNK; i++) {
            rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
            const float u1 = ((rng >> 8) + 0.5f) / 16777216.0f;
            rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
            const float u2 = (rng >> 8) / 16777216.0f;
            x[i] = i % 97 == 5 ? kite__f32_from_bits(rng) : 10.0f * sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
        }
        x[0] = 0.0f, x[1] = -0.0f, x[2] = INFINITY, x[3] = -INFINITY, x[4] = NAN, x[6] = 1e-45f, x[7] = 3e38f;
        g_bad = 0;
        compare(set, x, CHUNK, 30.0f, got, want);
        compare(set, x, CHUNK, 50.0f, got, want);
        compare(set, x, CHUNK, 0.7f, got, want);
        CHECK(g_bad == 0, "%s: %llu logits differ from the scalar soft-cap", set, (unsigned long long)g_bad);
    }
    kite_kernels_set_isa(active);
    free(x), free(got), free(want);
    return check_done("test_softcap");
}
