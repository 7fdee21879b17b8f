// test_glu_rows.c - kite_kernels_swiglu and kite_kernels_geglu give the scalar ops' bits in every
// kernel set. SwiGLU: today's g / (1 + expf(-g)) * u with this platform's libm expf (glibc
// natively, musl under WASI); GeGLU: (g <= -10 ? 0 : g >= 10 ? g : tab[kite_f32_to_f16(g)]) * u,
// on a table whose 65536 entries all differ (so a wrong f16 index shows). Gates from a stride
// through all 2^32 float patterns (both zeros, subnormals, |g| beyond 88 where expf overflows or
// goes subnormal, inf, every nan class) and every float near the op's edge (|g| = 88 for SwiGLU,
// the edge of the wasm op's 4-lane path; |g| = 10 for GeGLU's clamps), times ups from ordinary
// values and specials (0, inf, nan, subnormal, FLT_MAX), in rows whose lengths leave every SIMD
// tail. KITE_GLU_ALL=1 takes every one of the 2^32 patterns as a gate instead (natively about a
// minute). Natively every bit counts; in wasm a nan result only has to be a nan (see same()).
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/kite_f16.h"
#include "check.h"
#include "kernels/kite_kernels.h"

enum { CHUNK = 1 << 20, STRIDE = 257 };

static uint32_t mix(uint32_t h) {
    h ^= h >> 16, h *= 0x7feb352dU, h ^= h >> 15, h *= 0x846ca68bU, h ^= h >> 16;
    return h;
}

// The up value of element i: mostly ordinary (|u| in 2^-7 .. 2^9, either sign), one in 8 special.
static float up_of(uint32_t i) {
    static const float special[] = {0.0f, -0.0f, 1.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-40f, -3e-45f, FLT_MAX, 1e-30f};
    const uint32_t h = mix(i * 2654435761U + 12345U);
    if ((h & 7) == 0) return special[(h >> 3) % (sizeof special / sizeof special[0])];
    return kite__f32_from_bits((h & 0x807fffffU) | ((120U + (h >> 23) % 16U) << 23));
}

// Gate number i of the sweep: the stride through every bit pattern, then every float with edge_lo
// <= |g| < edge_hi (both signs); with all, pattern i.
typedef struct sweep {
    uint64_t n_stride;
    uint32_t edge_lo, edge_hi;
    bool all;
} sweep;

static uint32_t gate_bits(uint64_t i, const sweep *w) {
    if (w->all) return (uint32_t)i;
    if (i < w->n_stride) return (uint32_t)(i * STRIDE);
    const uint64_t j = i - w->n_stride, span = w->edge_hi - w->edge_lo;
    return (uint32_t)(w->edge_lo + j % span) | (j >= span ? 0x80000000U : 0);
}

// The same float, bit for bit; in wasm any nan where a nan is wanted: when both of an operation's
// operands are nans, the engine may return either (V8 picks by its operand order, which differs
// between two compilations of one expression: the scalar loop here and the scalar set's disagree).
static bool same(float got, float want) {
#ifdef __wasm__
    if (isnan(want)) return isnan(got);
#endif
    return kite__f32_bits(got) == kite__f32_bits(want);
}

enum { SWIGLU, GEGLU };

// The op's scalar formula, as the forward pass had it before the kernel slots.
static float want_of(int op, float g, float u, const float *tab) {
    if (op == SWIGLU) return g / (1.0f + expf(-g)) * u;
    const float y = g <= -10.0f ? 0.0f : g >= 10.0f ? g : tab[kite_f32_to_f16(g)];
    return y * u;
}

// One op over the sweep in every kernel set (up to 8).
static void check_op(int op, bool all, float *g, float *u, float *want, float *got, const float *tab) {
    const char *name = op == SWIGLU ? "SwiGLU" : "GeGLU";
    sweep w = {(0x100000000ULL + STRIDE - 1) / STRIDE, 0x42ae0000U, 0x42b20000U, all}; // 87.0f .. 89.0f
    if (op == GEGLU) w.edge_lo = 0x41180000U, w.edge_hi = 0x41280000U;                 // 9.5f .. 10.5f
    const uint64_t total = all ? 0x100000000ULL : w.n_stride + 2 * (uint64_t)(w.edge_hi - w.edge_lo);
    const int n_sets = kite_kernels_isa_count();
    int bad[8] = {0};
    uint32_t first_g[8] = {0}, first_u[8] = {0}, first_got[8] = {0}, first_want[8] = {0};
    for (uint64_t c0 = 0; c0 < total; c0 += CHUNK) {
        const int n = (int)(total - c0 < CHUNK ? total - c0 : CHUNK);
        for (int i = 0; i < n; i++) {
            g[i] = kite__f32_from_bits(gate_bits(c0 + (uint64_t)i, &w));
            u[i] = up_of((uint32_t)(c0 + (uint64_t)i));
            want[i] = want_of(op, g[i], u[i], tab);
        }
        for (int s = 0; s < n_sets && s < 8; s++) {
            CHECK(kite_kernels_set_isa(kite_kernels_isa_name(s)) == KITE_OK, "select %s", kite_kernels_isa_name(s));
            memcpy(got, g, sizeof(float) * (size_t)n);
            // rows of 1000, 13 and 7 elements: whole vectors and tails of every length
            for (int i = 0, row = 0; i < n; row++) {
                const int len = row % 3 == 0 ? 1000 : row % 3 == 1 ? 13 : 7;
                const int m = len < n - i ? len : n - i;
                if (op == SWIGLU) kite_kernels_swiglu(got + i, u + i, m);
                else kite_kernels_geglu(got + i, u + i, m, tab);
                i += m;
            }
            for (int i = 0; i < n; i++)
                if (!same(got[i], want[i]) && bad[s]++ == 0) {
                    first_g[s] = kite__f32_bits(g[i]), first_u[s] = kite__f32_bits(u[i]);
                    first_got[s] = kite__f32_bits(got[i]), first_want[s] = kite__f32_bits(want[i]);
                }
        }
    }
    for (int s = 0; s < n_sets && s < 8; s++)
        CHECK(bad[s] == 0, "%s: %d of %llu %s values differ, first g %08x u %08x -> %08x, want %08x",
              kite_kernels_isa_name(s), bad[s], (unsigned long long)total, name, first_g[s], first_u[s],
              first_got[s], first_want[s]);
    printf("%s: %llu gates compared in %d kernel sets\n", name, (unsigned long long)total, n_sets);
}

int main(void) {
    const char *env = getenv("KITE_GLU_ALL");
    const bool all = env && strcmp(env, "1") == 0;
    float *g = malloc(sizeof(float) * CHUNK), *u = malloc(sizeof(float) * CHUNK);
    float *want = malloc(sizeof(float) * CHUNK), *got = malloc(sizeof(float) * CHUNK);
    float *tab = malloc(sizeof(float) * 65536);
    CHECK(g && u && want && got && tab, "allocation");
    if (!g || !u || !want || !got || !tab) return check_done("test_glu_rows");
    // every entry different, and each an exact float: a wrong index gives a wrong value
    for (int b = 0; b < 65536; b++) tab[b] = (b & 1 ? -1.0f : 1.0f) * (1.0f + (float)b / 65536.0f);
    const char *active = kite_kernels_isa();
    check_op(SWIGLU, all, g, u, want, got, tab);
    check_op(GEGLU, all, g, u, want, got, tab);
    CHECK(kite_kernels_set_isa(active) == KITE_OK, "restore %s", active);
    free(g);
    free(u);
    free(want);
    free(got);
    free(tab);
    return check_done("test_glu_rows");
}
