// test_rmsnorm_rows.c - kite_kernels_rmsnorm_rows gives the scalar RMS norm's bits (the row loop
// written out here: the sum of (double)x * x in element order, then (x * scale) * w in float) in
// every kernel set the host runs (natively every bit; in wasm a nan where a nan is wanted): row counts 1..40 (blocks of 16 and 8 lanes and every leftover),
// widths that leave every tail of 8 / 16, rows in any order and at any distance (the pointers
// shuffled, odd gaps), in place and not, and rows of values whose squares overflow float, tiny
// and subnormal ones, zeros (with eps 0: a scale of inf), inf and nan among ordinary values; and
// rows whose result depends on the sum's order (kind 8, below), which catch a lane that adds a
// row's elements out of order (a float rounding of the double sum rarely sees the order).
#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/kite_f16.h"
#include "check.h"
#include "kernels/kite_kernels.h"

enum { MAX_ROWS = 40, MAX_W = 1100, GAP = 5 };

static uint32_t g_state = 12345;
static uint32_t rnd(void) {
    g_state ^= g_state << 13, g_state ^= g_state >> 17, g_state ^= g_state << 5;
    return g_state;
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() >> 8) / 16777216.0f; }

// The scalar op (src/model/ops.c before the kernels had it).
static void want_row(float *y, const float *x, const float *w, int32_t n, float eps) {
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    const float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (int32_t i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

// The same float, bit for bit; in wasm any nan where a nan is wanted (an engine picks either
// operand's nan when both are, by an operand order that differs between compilations).
static bool same(float got, float want) {
#ifdef __wasm__
    if (isnan(want)) return isnan(got);
#endif
    return kite__f32_bits(got) == kite__f32_bits(want);
}

// Row content kind k of n floats.
static void fill_row(float *x, int32_t n, int kind) {
    if (kind == 8 && n >= 4 && (n & (n - 1)) == 0) {
        // 2^10 at p and 2^-2 at q (their squares' sum B = 2^20 + 2^-4: halfway between two
        // floats, and n a power of two keeps it so in sum / n) among elements of 2^-17, whose
        // squares (2^-34) are below half of B's ulp in double: after B they are lost, before it
        // they add up and lift the sum past the midpoint, so the float result tells where B came
        // in the order
        const int32_t p = (int32_t)(rnd() % (uint32_t)n);
        int32_t q = (int32_t)(rnd() % (uint32_t)n);
        if (q == p) q = (p + 1) % n;
        for (int32_t i = 0; i < n; i++) x[i] = ldexpf(rnd() & 1 ? 1.0f : -1.0f, -17);
        x[p] = 1024.0f, x[q] = 0.25f;
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: x[i] = frand(-3.0f, 3.0f); break;                                      // ordinary
        case 1: x[i] = frand(-1.0f, 1.0f) * 3e38f; break;                               // squares overflow float
        case 2: x[i] = frand(-1.0f, 1.0f) * 1e-39f; break;                              // subnormal
        case 3: x[i] = 0.0f; break;                                                     // zeros
        case 4: x[i] = i == n / 2 ? INFINITY : frand(-3.0f, 3.0f); break;               // one inf
        case 5: x[i] = i == n - 1 ? NAN : frand(-3.0f, 3.0f); break;                    // nan at the end
        case 6: x[i] = i % 3 == 0 ? -0.0f : frand(-1e20f, 1e20f); break;               // big, signed zeros
        default: x[i] = (rnd() & 1) ? frand(-1e-20f, 1e-20f) : frand(-1e10f, 1e10f); break; // mixed scale
        }
    }
}

int main(void) {
    static const int32_t widths[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 64, 100, 127, 128, 133, 256, 1024, 1031};
    static const float epss[] = {1e-5f, 1e-6f, 0.0f};
    const int n_sets = kite_kernels_isa_count();
    const char *active = kite_kernels_isa();
    const size_t stride = MAX_W + GAP;
    float *x = malloc(sizeof(float) * stride * MAX_ROWS), *w = malloc(sizeof(float) * MAX_W);
    float *want = malloc(sizeof(float) * stride * MAX_ROWS), *got = malloc(sizeof(float) * stride * MAX_ROWS);
    CHECK(x && w && want && got, "allocation");
    if (!x || !w || !want || !got) return check_done("test_rmsnorm_rows");
    for (int s = 0; s < n_sets; s++) {
        const char *set = kite_kernels_isa_name(s);
        CHECK(kite_kernels_set_isa(set) == KITE_OK, "select %s", set);
        long bad = 0, cases = 0;
        for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
            for (int32_t rows = 1; rows <= MAX_ROWS; rows++) {
                const int32_t n = widths[wi];
                const float eps = epss[(rows + wi) % 3];
                const bool in_place = (rows + wi) & 1;
                for (int32_t i = 0; i < n; i++) w[i] = (rnd() & 31) == 0 ? (rnd() & 1 ? 0.0f : -2.5f) : frand(0.5f, 2.0f);
                // rows at stride + a varying gap, their pointers shuffled
                int32_t order[MAX_ROWS];
                for (int32_t r = 0; r < rows; r++) order[r] = r;
                for (int32_t r = rows - 1; r > 0; r--) {
                    const int32_t j = (int32_t)(rnd() % (uint32_t)(r + 1)), t = order[r];
                    order[r] = order[j], order[j] = t;
                }
                float *yp[MAX_ROWS];
                const float *xp[MAX_ROWS];
                for (int32_t r = 0; r < rows; r++) {
                    const size_t off = (size_t)order[r] * stride + (size_t)(r % GAP);
                    fill_row(x + off, n, (int)(rnd() % 8 < 4 ? 0 : rnd() % 9));
                    want_row(want + off, x + off, w, n, eps);
                    if (in_place) memcpy(got + off, x + off, sizeof(float) * (size_t)n);
                    yp[r] = got + off;
                    xp[r] = in_place ? got + off : x + off;
                }
                kite_kernels_rmsnorm_rows(yp, xp, w, n, rows, eps);
                for (int32_t r = 0; r < rows; r++) {
                    const size_t off = (size_t)order[r] * stride + (size_t)(r % GAP);
                    for (int32_t i = 0; i < n; i++)
                        if (!same(got[off + i], want[off + i])) {
                            if (bad++ < 5)
                                fprintf(stderr, "%s: n %d rows %d row %d i %d: got %08x want %08x\n", set, n, rows,
                                        r, i, kite__f32_bits(got[off + i]), kite__f32_bits(want[off + i]));
                        }
                }
                cases++;
            }
        CHECK(bad == 0, "%s: %ld elements differ from the scalar op (%ld cases)", set, bad, cases);
        printf("%s: %ld cases, %ld elements differ\n", set, cases, bad);
    }
    kite_kernels_set_isa(active);
    free(x), free(w), free(want), free(got);
    return check_done("test_rmsnorm_rows");
}
