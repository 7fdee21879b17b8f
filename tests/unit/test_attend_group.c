// test_attend_group.c - kite_kernels_attend_group, the several-queries-per-KV-head attention op:
// in every kernel set, every rounding mode, head size (on and off the 16- and 64-wide blocks,
// and one the SIMD ops leave to the scalar op), group size and mix of cache lengths, each query's
// output is bit for bit what the set's single-query op gives it alone, so batching queries never
// moves a logit. On x86 the AVX2 and AVX-512 group ops are also checked directly against
// kite__attend_head_avx2.
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/kite_f16.h"
#include "check.h"
#include "kernels/attend.h"
#include "kernels/kernels_internal.h"
#include "kernels/kite_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#define KITE_X86 1
#endif

static uint32_t rng = 1917;
static uint32_t next_u32(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng;
}
static float frand(void) { return (float)(next_u32() >> 8) / 8388608.0f - 1.0f; } // [-1, 1)

enum { MAX_KV = 1100, HEADS_KV = 2, MAX_HD = 128, STRIDE = HEADS_KV * MAX_HD };

typedef void (*group_fn)(const kite_attn_group *g);

// Soft-capped runs (gemma2): the groups get g_softcap and the single-query op is g_capped (0, NULL:
// uncapped).
static float g_softcap;
static kite__attend_capped_fn g_capped;

static void single_op(kite_attend_fn single, kite_attn_mode mode, const float *q, const kite_attn_group *g, int32_t n_kv,
                      float *scores, float *out) {
    if (g_softcap != 0.0f)
        g_capped(mode, q, g->k, g->v, g->kv_stride, n_kv, g->head_dim, g->scale, g_softcap, scores, out);
    else if (single)
        single(mode, q, g->k, g->v, g->kv_stride, n_kv, g->head_dim, g->scale, scores, out);
#ifdef KITE_X86
    else // check_fa16's uncapped runs
        kite__attend_head_avx2(mode, q, g->k, g->v, g->kv_stride, n_kv, g->head_dim, g->scale, scores, out);
#endif
}

// The rest of a mismatch's line: " differs (dim D: GOT, not WANT)" at the first dim whose bits
// differ (the caller's same() found one).
static void print_first_diff(const float *got, const float *want) {
    int d = 0;
    while (memcmp(got + d, want + d, sizeof(float)) == 0) d++;
    uint32_t x, y;
    memcpy(&x, got + d, 4);
    memcpy(&y, want + d, 4);
    fprintf(stderr, " differs (dim %d: %08x, not %08x)\n", d, (unsigned)x, (unsigned)y);
}

// One group op against one single-query op over modes x head sizes x group sizes x lengths.
// Equal bits, or both nan where nan_any (C fixes no nan's payload: an operation on two nans may
// give either's, and the compiler may swap a sum's operands).
static bool same(const float *a, const float *b, int n, bool nan_any) {
    for (int d = 0; d < n; d++)
        if (memcmp(a + d, b + d, sizeof(float)) != 0 && !(nan_any && a[d] != a[d] && b[d] != b[d])) return false;
    return true;
}

static void check_group_nan(const char *what, group_fn group, kite_attend_fn single, const uint16_t *k,
                            const uint16_t *v, bool nan_any) {
    const int dims[] = {64, 128, 80, 96, 8, 72, 20};
    const int sizes[] = {1, 2, 3, 4, 5, 6, 7, 8};
    // around the SIMD ops' blocks (4 and 8 keys, chunks of 32) and a long cache
    const int lens[] = {1, 7, 8, 33, 64, 133, 141, 1030};
    static float q[KITE_ATTN_GROUP_MAX][MAX_HD], a[KITE_ATTN_GROUP_MAX][MAX_HD], b[MAX_HD];
    static float scores[KITE_ATTN_GROUP_MAX * MAX_KV], scores1[MAX_KV];
    int runs = 0, bad = 0;
    for (int mode = KITE_ATTN_MATMUL; mode <= KITE_ATTN_FA_F32; mode++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
                for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
                    for (int spread = 0; spread < 3; spread++) {
                        const int hd = dims[di], nq = sizes[si];
                        // the second KV head of the cache: rows are STRIDE apart
                        kite_attn_group g = {.mode = (kite_attn_mode)mode, .n_q = nq, .head_dim = hd,
                                             .kv_stride = STRIDE, .scores_stride = MAX_KV,
                                             .scale = 1.0f / (float)(hd / 8), .softcap = g_softcap,
                                             .k = k + MAX_HD, .v = v + MAX_HD, .scores = scores};
                        for (int i = 0; i < nq; i++) {
                            // a zero query (signed zeros too): every score ties at a zero
                            for (int d = 0; d < hd; d++)
                                q[i][d] = i == 1 && spread == 2 ? (d % 2 ? -0.0f : 0.0f) : 2.0f * frand();
                            // cache lengths: all equal (GQA heads of one token), consecutive
                            // tokens', or scattered
                            const int n = lens[li];
                            g.n_kv[i] = spread == 0   ? n
                                        : spread == 1 ? n + i / 2
                                                      : 1 + (int)(next_u32() % (uint32_t)(n + 16));
                            g.q[i] = q[i];
                            g.out[i] = a[i];
                            memset(a[i], 0xff, sizeof a[i]); // nan: every output must be written
                        }
                        group(&g);
                        for (int i = 0; i < nq; i++) {
                            single_op(single, (kite_attn_mode)mode, q[i], &g, g.n_kv[i], scores1, b);
                            runs++;
                            if (!same(a[i], b, hd, nan_any) && bad++ < 5) {
                                fprintf(stderr, "%s: mode %d head %d group %d query %d n_kv %d", what, mode, hd, nq, i, g.n_kv[i]);
                                print_first_diff(a[i], b);
                            }
                        }
                    }
    CHECK(bad == 0, "%s: %d of %d queries differ from the single-query op", what, bad, runs);
}

static void check_group(const char *what, group_fn group, kite_attend_fn single, const uint16_t *k,
                        const uint16_t *v) {
    check_group_nan(what, group, single, k, v, false);
}


#if defined(KITE_X86) || defined(__wasm_simd128__) || defined(__aarch64__)
// inf / nan halves and large values whose f16 sums overflow, scattered over both caches
static void poison(uint16_t *k, uint16_t *v) {
    for (int i = 0; i < MAX_KV * STRIDE; i++) {
        const uint32_t r = next_u32() % 4096u;
        if (r == 0) k[i] = r % 2 ? 0x7c00 : 0xfc00; // +-inf
        else if (r == 1) v[i] = 0x7c00;
        else if (r == 2) v[i] = 0x7e01; // nan
        else if (r < 40) v[i] = kite_f32_to_f16(60000.0f * frand());
    }
}
#endif

#if defined(__wasm_simd128__) || defined(__aarch64__)
// The group op kite__attend_group_<isa> against the scalar op itself: on the cache k / v, then on
// it poisoned (inf / nan halves, large values whose f16 sums overflow: the libm fallbacks of its
// expf lanes, its cheap rounding's), then soft-capped there (the scalar capped op's bits; its tanh).
static void check_group_vs_scalar(const char *isa, group_fn group, uint16_t *k, uint16_t *v) {
    char what[96];
    snprintf(what, sizeof what, "kite__attend_group_%s vs scalar", isa);
    check_group(what, group, kite__attend_head_ref, k, v);
    poison(k, v);
    snprintf(what, sizeof what, "kite__attend_group_%s vs scalar (inf, nan, overflow)", isa);
    check_group_nan(what, group, kite__attend_head_ref, k, v, true);
    g_capped = kite__attend_head_capped;
    g_softcap = 50.0f;
    snprintf(what, sizeof what, "kite__attend_group_%s vs scalar (softcap, inf, nan, overflow)", isa);
    check_group_nan(what, group, NULL, k, v, true);
    g_softcap = 0.0f;
    g_capped = NULL;
}
#endif

#ifdef KITE_X86
// FA_F16 group ops (attend_fa16_x86.inc) against kite__attend_head_avx2 on long caches: chunk
// edges (63..65, 127..129 keys and more), each query's own length (a group's queries split a
// chunk at different keys), every group size and the head sizes on and off the 16-, 64-wide
// blocks; the cache k / v given by the caller (random, rising scores, inf / nan / overflow rows).
enum { LONG_KV = 300 };
static void check_fa16(const char *what, group_fn group, const uint16_t *k, const uint16_t *v, bool nan_any) {
    const int dims[] = {64, 128, 80, 96, 16, 32, 48, 8, 72, 24};
    const int lens[] = {1, 2, 63, 64, 65, 127, 129, 200, LONG_KV};
    static float q[KITE_ATTN_GROUP_MAX][MAX_HD], a[KITE_ATTN_GROUP_MAX][MAX_HD], b[MAX_HD];
    static float scores[KITE_ATTN_GROUP_MAX * LONG_KV], scores1[LONG_KV];
    int runs = 0, bad = 0;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
        for (int nq = 1; nq <= KITE_ATTN_GROUP_MAX; nq++)
            for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
                for (int spread = 0; spread < 3; spread++) {
                    const int hd = dims[di];
                    kite_attn_group g = {.mode = KITE_ATTN_FA_F16, .n_q = nq, .head_dim = hd, .kv_stride = STRIDE,
                                         .scores_stride = LONG_KV, .scale = 1.0f / (float)(hd / 8),
                                         .softcap = g_softcap, .k = k + MAX_HD, .v = v + MAX_HD, .scores = scores};
                    for (int i = 0; i < nq; i++) {
                        for (int d = 0; d < hd; d++)
                            q[i][d] = i == 1 && spread == 2 ? (d % 2 ? -0.0f : 0.0f) : 2.0f * frand();
                        const int n = lens[li];
                        const int r = spread == 0 ? n : spread == 1 ? n + 3 * i : 1 + (int)(next_u32() % (uint32_t)n);
                        g.n_kv[i] = r > LONG_KV ? LONG_KV : r;
                        g.q[i] = q[i];
                        g.out[i] = a[i];
                        memset(a[i], 0xff, sizeof a[i]);
                    }
                    group(&g);
                    for (int i = 0; i < nq; i++) {
                        single_op(NULL, KITE_ATTN_FA_F16, q[i], &g, g.n_kv[i], scores1, b);
                        runs++;
                        if (!same(a[i], b, hd, nan_any) && bad++ < 5) {
                            fprintf(stderr, "%s: head %d group %d query %d n_kv %d", what, hd, nq, i, g.n_kv[i]);
                            print_first_diff(a[i], b);
                        }
                    }
                }
    CHECK(bad == 0, "%s: %d of %d queries differ from kite__attend_head_avx2", what, bad, runs);
}

// The FA_F16 checks on three caches of LONG_KV rows.
static void check_fa16_caches(const char *what, group_fn group) {
    uint16_t *k = malloc(sizeof(uint16_t) * LONG_KV * STRIDE), *v = malloc(sizeof(uint16_t) * LONG_KV * STRIDE);
    CHECK(k && v, "allocation");
    if (!k || !v) return;
    char name[128];
    for (int i = 0; i < LONG_KV * STRIDE; i++) { // random, subnormal halves too
        k[i] = kite_f32_to_f16(2.0f * frand() * (i % 97 == 0 ? 1e-6f : 1.0f));
        v[i] = kite_f32_to_f16(frand() * (i % 89 == 0 ? 1e-6f : 1.0f));
    }
    snprintf(name, sizeof name, "%s (random cache)", what);
    check_fa16(name, group, k, v, false);
    // rising: each row a larger multiple of one direction, so a query's maximum moves at many
    // keys inside a chunk (and falls back where the direction's sign flips for some queries)
    for (int j = 0; j < LONG_KV; j++)
        for (int d = 0; d < STRIDE; d++) {
            const float dir = (float)((d * 7) % 13) / 13.0f - 0.4f;
            k[j * STRIDE + d] = kite_f32_to_f16(dir * (0.05f * (float)j + (j % 5 == 0 ? 3.0f : 0.0f)));
        }
    snprintf(name, sizeof name, "%s (rising scores)", what);
    check_fa16(name, group, k, v, false);
    // inf / nan halves and large values whose f16 sums overflow; scores of +-inf and nan
    for (int i = 0; i < LONG_KV * STRIDE; i++) {
        k[i] = kite_f32_to_f16(2.0f * frand());
        const uint32_t r = next_u32() % 4096u;
        if (r == 0) k[i] = r % 2 ? 0x7c00 : 0xfc00;
        else if (r == 1) v[i] = 0x7c00;
        else if (r == 2) v[i] = 0x7e01;
        else if (r == 3) k[i] = 0x7e00;
        else if (r < 40) v[i] = kite_f32_to_f16(60000.0f * frand());
        else if (r < 60) k[i] = kite_f32_to_f16(2000.0f * frand()); // expf arguments past -88
    }
    snprintf(name, sizeof name, "%s (inf, nan, overflow)", what);
    check_fa16(name, group, k, v, true);
    free(k);
    free(v);
}
#endif

int main(void) {
    uint16_t *k = malloc(sizeof(uint16_t) * MAX_KV * STRIDE), *v = malloc(sizeof(uint16_t) * MAX_KV * STRIDE);
    CHECK(k && v, "allocation");
    if (!k || !v) return check_done("test_attend_group");
    for (int i = 0; i < MAX_KV * STRIDE; i++) { // subnormal halves too
        k[i] = kite_f32_to_f16(2.0f * frand() * (i % 97 == 0 ? 1e-6f : 1.0f));
        v[i] = kite_f32_to_f16(frand() * (i % 89 == 0 ? 1e-6f : 1.0f));
    }
    // the public entry in every kernel set on this host, against that set's own op
    const char *active = kite_kernels_isa();
    for (int s = 0; s < kite_kernels_isa_count(); s++) {
        const char *isa = kite_kernels_isa_name(s);
        CHECK(kite_kernels_set_isa(isa) == KITE_OK, "select %s", isa);
        char what[64];
        snprintf(what, sizeof what, "kite_kernels_attend_group (%s)", isa);
        fprintf(stderr, "%s vs the set's single-query op\n", what);
        check_group(what, kite_kernels_attend_group, kite_kernels_attend(), k, v);
    }
    CHECK(kite_kernels_set_isa(active) == KITE_OK, "restore %s", active);
    // soft-capped (gemma2): the public entry in every set against its capped op (the x86 sets'
    // kite__attend_head_capped_avx2, the others' the scalar kite__attend_head_capped)
    for (int c = 0; c < 2; c++) {
        g_softcap = c == 0 ? 50.0f : 1.5f;
        for (int s = 0; s < kite_kernels_isa_count(); s++) {
            const char *isa = kite_kernels_isa_name(s);
            CHECK(kite_kernels_set_isa(isa) == KITE_OK, "select %s", isa);
            g_capped = kite__attend_head_capped;
#ifdef KITE_X86
            if (kite__kernels_get(isa)->attend_group_softcap) g_capped = kite__attend_head_capped_avx2;
#endif
            char what[80];
            snprintf(what, sizeof what, "kite_kernels_attend_group (%s, softcap %g)", isa, g_softcap);
            check_group(what, kite_kernels_attend_group, NULL, k, v);
        }
    }
    g_softcap = 0.0f;
    g_capped = NULL;
    CHECK(kite_kernels_set_isa(active) == KITE_OK, "restore %s", active);
#ifdef KITE_X86
    if (kite__kernels_get("avx2")) {
        check_group("kite__attend_group_avx2", kite__attend_group_avx2, kite__attend_head_avx2, k, v);
        check_group("kite__attend_group_fa16_avx2", kite__attend_group_fa16_avx2, kite__attend_head_avx2, k, v);
        check_fa16_caches("kite__attend_group_fa16_avx2", kite__attend_group_fa16_avx2);
    } else {
        fprintf(stderr, "skip: no AVX2 on this host, the AVX2 group op is untested here\n");
    }
    if (kite__kernels_get("avx512")) {
        check_group("kite__attend_group_avx512", kite__attend_group_avx512, kite__attend_head_avx2, k, v);
        check_group("kite__attend_group_fa16_avx512", kite__attend_group_fa16_avx512, kite__attend_head_avx2, k, v);
        check_fa16_caches("kite__attend_group_fa16_avx512", kite__attend_group_fa16_avx512);
    } else {
        fprintf(stderr, "skip: no AVX-512 on this host, the AVX-512 group op is untested here\n");
    }
    // soft-capped (gemma2): the x86 group ops directly against kite__attend_head_capped_avx2 (the
    // public entry in every set: below), under a cap that leaves most scores inside tanh's curve
    // and one that saturates them
    g_capped = kite__attend_head_capped_avx2;
    for (int c = 0; c < 2; c++) {
        g_softcap = c == 0 ? 50.0f : 1.5f;
        if (kite__kernels_get("avx2")) {
            check_group("kite__attend_group_avx2 (softcap)", kite__attend_group_avx2, NULL, k, v);
            check_fa16_caches("kite__attend_group_fa16_avx2 (softcap)", kite__attend_group_fa16_avx2);
        }
        if (kite__kernels_get("avx512")) {
            check_group("kite__attend_group_avx512 (softcap)", kite__attend_group_avx512, NULL, k, v);
            check_fa16_caches("kite__attend_group_fa16_avx512 (softcap)", kite__attend_group_fa16_avx512);
        }
    }
    g_softcap = 0.0f;
    g_capped = NULL;
    // the same on caches with inf / nan halves (their sums' reductions are the single op's
    // additions, so the same scores turn nan); on copies: the wasm check below poisons its own
    if (kite__kernels_get("avx2")) {
        uint16_t *kp = malloc(sizeof(uint16_t) * MAX_KV * STRIDE), *vp = malloc(sizeof(uint16_t) * MAX_KV * STRIDE);
        CHECK(kp && vp, "allocation");
        if (kp && vp) {
            memcpy(kp, k, sizeof(uint16_t) * MAX_KV * STRIDE);
            memcpy(vp, v, sizeof(uint16_t) * MAX_KV * STRIDE);
            poison(kp, vp);
            check_group_nan("kite__attend_group_avx2 (inf, nan, overflow)", kite__attend_group_avx2,
                            kite__attend_head_avx2, kp, vp, true);
            check_group_nan("kite__attend_group_fa16_avx2 (inf, nan, overflow)", kite__attend_group_fa16_avx2,
                            kite__attend_head_avx2, kp, vp, true);
            if (kite__kernels_get("avx512")) {
                check_group_nan("kite__attend_group_avx512 (inf, nan, overflow)", kite__attend_group_avx512,
                                kite__attend_head_avx2, kp, vp, true);
                check_group_nan("kite__attend_group_fa16_avx512 (inf, nan, overflow)", kite__attend_group_fa16_avx512,
                                kite__attend_head_avx2, kp, vp, true);
            }
        }
        free(kp);
        free(vp);
    }
#endif
#ifdef __wasm_simd128__
    check_group_vs_scalar("wasm", kite__attend_group_wasm, k, v);
#endif
#ifdef __aarch64__
    // the NEON group op runs kite__attend_head_capped_neon per query: its expf and tanh lanes
    if (kite__kernels_get("neon")) {
        check_group_vs_scalar("neon", kite__attend_group_neon, k, v);
    } else {
        fprintf(stderr, "skip: no NEON set on this host, the NEON group op is untested here\n");
    }
#endif
    free(k);
    free(v);
    return check_done("test_attend_group");
}
