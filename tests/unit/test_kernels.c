// test_kernels.c - kernels: _ref dots against llama.cpp's own generic vec_dot and its
// dequantizers (dlopen'd from node-llama-cpp), every ISA set this host runs against _ref on
// odd shapes through kite_matmul (1 and 2 threads), the thread pool, and the error paths.
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#if !defined(__EMSCRIPTEN__) && !defined(__wasi__) // no native llama.cpp library to load inside wasm
#include "ggml_ref.h"
#define HAVE_GGML_REF 1
#endif
#include "blocks/iq_tables.h"
#include "kernels/kernels_internal.h"
#include "kite.h"

// Named tolerances, all relative to the largest |y| of the output (or |terms| of one dot).
// There is none between kernel sets: every set follows the canonical order of
// kernels_internal.h and must give the _ref's bits.
// _ref vs ggml's generic vec_dot: same integer math, float order may differ slightly.
#define TOL_GGML_DOT 1e-5
// _ref vs dequantize + float dot: the format anchor; only product rounding differs.
#define TOL_DEQUANT 1e-4

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rndf(void) { return (float)rnd() / 4294967296.0f * 2.0f - 1.0f; } // [-1, 1)

typedef struct tcase {
    kite_type t;
    const char *ggml_dot;   // generic vec_dot in libggml-cpu
    const char *ggml_deq;   // dequantize_row_* in libggml-base (NULL: plain type)
} tcase;

static const tcase CASES[] = {
    {KITE_TYPE_F32, "ggml_vec_dot_f32", NULL},
    {KITE_TYPE_F16, "ggml_vec_dot_f16", NULL},
    {KITE_TYPE_BF16, "ggml_vec_dot_bf16", NULL},
    {KITE_TYPE_Q4_0, "ggml_vec_dot_q4_0_q8_0_generic", "dequantize_row_q4_0"},
    {KITE_TYPE_Q4_1, "ggml_vec_dot_q4_1_q8_1_generic", "dequantize_row_q4_1"},
    {KITE_TYPE_Q5_0, "ggml_vec_dot_q5_0_q8_0_generic", "dequantize_row_q5_0"},
    {KITE_TYPE_Q5_1, "ggml_vec_dot_q5_1_q8_1_generic", "dequantize_row_q5_1"},
    {KITE_TYPE_Q8_0, "ggml_vec_dot_q8_0_q8_0_generic", "dequantize_row_q8_0"},
    {KITE_TYPE_IQ4_NL, "ggml_vec_dot_iq4_nl_q8_0_generic", "dequantize_row_iq4_nl"},
    {KITE_TYPE_Q2_K, "ggml_vec_dot_q2_K_q8_K_generic", "dequantize_row_q2_K"},
    {KITE_TYPE_Q3_K, "ggml_vec_dot_q3_K_q8_K_generic", "dequantize_row_q3_K"},
    {KITE_TYPE_Q4_K, "ggml_vec_dot_q4_K_q8_K_generic", "dequantize_row_q4_K"},
    {KITE_TYPE_Q5_K, "ggml_vec_dot_q5_K_q8_K_generic", "dequantize_row_q5_K"},
    {KITE_TYPE_Q6_K, "ggml_vec_dot_q6_K_q8_K_generic", "dequantize_row_q6_K"},
    {KITE_TYPE_IQ4_XS, "ggml_vec_dot_iq4_xs_q8_K_generic", "dequantize_row_iq4_xs"},
    // the grid, ternary and microscaled formats: every ISA set has its own tiles (test 2)
    {KITE_TYPE_IQ2_XXS, "ggml_vec_dot_iq2_xxs_q8_K_generic", "dequantize_row_iq2_xxs"},
    {KITE_TYPE_IQ2_XS, "ggml_vec_dot_iq2_xs_q8_K_generic", "dequantize_row_iq2_xs"},
    {KITE_TYPE_IQ2_S, "ggml_vec_dot_iq2_s_q8_K_generic", "dequantize_row_iq2_s"},
    {KITE_TYPE_IQ3_XXS, "ggml_vec_dot_iq3_xxs_q8_K_generic", "dequantize_row_iq3_xxs"},
    {KITE_TYPE_IQ3_S, "ggml_vec_dot_iq3_s_q8_K_generic", "dequantize_row_iq3_s"},
    {KITE_TYPE_IQ1_S, "ggml_vec_dot_iq1_s_q8_K_generic", "dequantize_row_iq1_s"},
    {KITE_TYPE_IQ1_M, "ggml_vec_dot_iq1_m_q8_K_generic", "dequantize_row_iq1_m"},
    {KITE_TYPE_TQ1_0, "ggml_vec_dot_tq1_0_q8_K_generic", "dequantize_row_tq1_0"},
    {KITE_TYPE_TQ2_0, "ggml_vec_dot_tq2_0_q8_K_generic", "dequantize_row_tq2_0"},
    {KITE_TYPE_MXFP4, "ggml_vec_dot_mxfp4_q8_0_generic", "dequantize_row_mxfp4"},
};
enum { N_CASES = sizeof CASES / sizeof CASES[0] };

static void set_f16(void *p, float v) {
    kite_f16 h = kite_f32_to_f16(v);
    memcpy(p, &h, 2);
}
// a scale of either sign, small enough that products stay in a realistic range
static float rnd_scale(void) { return (rnd() & 1 ? 1.0f : -1.0f) * (0.002f + 0.03f * (rndf() + 1.0f)); }

// Random weights: random bytes for the levels (every bit pattern a file may hold, including
// -128 in Q8_0), then finite scales written into each block's f16 fields.
static void fill_weights(kite_type t, void *w, int64_t n_in, int64_t rows) {
    const kite_type_traits *tr = kite_type_get(t);
    size_t bytes = (size_t)kite_type_row_bytes(t, (uint64_t)n_in) * (size_t)rows;
    unsigned char *b = w;
    for (size_t i = 0; i < bytes; i++) b[i] = (unsigned char)rnd();
    int64_t nblk = rows * (n_in / tr->block_size);
    for (int64_t i = 0; i < (t == KITE_TYPE_F32 || t == KITE_TYPE_F16 || t == KITE_TYPE_BF16 ? rows * n_in : 0); i++) {
        if (t == KITE_TYPE_F32) ((float *)w)[i] = rndf();
        else if (t == KITE_TYPE_F16) ((kite_f16 *)w)[i] = kite_f32_to_f16(rndf());
        else ((kite_bf16 *)w)[i] = kite_f32_to_bf16(rndf());
    }
    for (int64_t i = 0; i < nblk; i++) {
        unsigned char *blk = b + i * tr->type_size;
        // Q8_0 levels span -127..127 in every file ggml or kite writes; the relaxed-SIMD wasm
        // kernel relies on that (a hostile -128 changes its result there, nothing more)
        if (t == KITE_TYPE_Q8_0)
            for (int j = 0; j < QK8_0; j++)
                if (((block_q8_0 *)blk)->qs[j] == -128) ((block_q8_0 *)blk)->qs[j] = -127;
        switch (t) {
        case KITE_TYPE_Q4_0: case KITE_TYPE_Q5_0: case KITE_TYPE_Q8_0: case KITE_TYPE_IQ4_NL: case KITE_TYPE_IQ4_XS:
            set_f16(blk, rnd_scale());
            break;
        case KITE_TYPE_Q4_1: case KITE_TYPE_Q5_1:
            set_f16(blk, rnd_scale());
            set_f16(blk + 2, rnd_scale());
            break;
        case KITE_TYPE_Q4_K: case KITE_TYPE_Q5_K:
            set_f16(blk + offsetof(block_q4_K, d), rnd_scale() * 0.1f);
            set_f16(blk + offsetof(block_q4_K, dmin), fabsf(rnd_scale()) * 0.1f);
            break;
        case KITE_TYPE_Q2_K:
            set_f16(blk + offsetof(block_q2_K, d), rnd_scale() * 0.1f);
            set_f16(blk + offsetof(block_q2_K, dmin), fabsf(rnd_scale()) * 0.1f);
            break;
        case KITE_TYPE_Q3_K: set_f16(blk + offsetof(block_q3_K, d), rnd_scale() * 0.1f); break;
        case KITE_TYPE_Q6_K: set_f16(blk + offsetof(block_q6_K, d), rnd_scale() * 0.1f); break;
        case KITE_TYPE_IQ2_XXS: case KITE_TYPE_IQ2_XS: case KITE_TYPE_IQ2_S: case KITE_TYPE_IQ3_XXS: case KITE_TYPE_IQ3_S:
        case KITE_TYPE_IQ1_S:
            set_f16(blk, rnd_scale() * 0.1f);
            break;
        case KITE_TYPE_TQ1_0: set_f16(blk + offsetof(block_tq1_0, d), rnd_scale()); break;
        case KITE_TYPE_TQ2_0: set_f16(blk + offsetof(block_tq2_0, d), rnd_scale()); break;
        case KITE_TYPE_IQ1_M: { // the f16 scale lives in the top nibbles of the four scale words
            kite_f16 h = kite_f32_to_f16(rnd_scale() * 0.1f);
            uint16_t sc[4];
            memcpy(sc, ((block_iq1_m *)blk)->scales, 8);
            for (int k = 0; k < 4; k++) sc[k] = (uint16_t)((sc[k] & 0x0fff) | (((h >> (4 * k)) & 0xf) << 12));
            memcpy(((block_iq1_m *)blk)->scales, sc, 8);
            break;
        }
        case KITE_TYPE_MXFP4: ((block_mxfp4 *)blk)->e = (uint8_t)(118 + rnd() % 8); break; // 2^-10 .. 2^-3
        default: break;
        }
    }
}

static void fill_acts(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = rndf() * (rnd() % 16 == 0 ? 4.0f : 1.0f); // some outliers
}

#ifdef HAVE_GGML_REF
// Converts one f32 row to the partner format the way kite_matmul does (the _ref quantizers).
static void to_partner(kite_type p, const float *x, void *dst, int n) {
    switch (p) {
    case KITE_TYPE_Q8_0: kite_quantize_row_q8_0_ref(x, dst, n); break;
    case KITE_TYPE_Q8_1: kite_quantize_row_q8_1_ref(x, dst, n); break;
    case KITE_TYPE_Q8_K: kite_quantize_row_q8_K_ref(x, dst, n); break;
    case KITE_TYPE_F16: for (int i = 0; i < n; i++) ((kite_f16 *)dst)[i] = kite_f32_to_f16(x[i]); break;
    case KITE_TYPE_BF16: for (int i = 0; i < n; i++) ((kite_bf16 *)dst)[i] = kite_f32_to_bf16(x[i]); break;
    default: memcpy(dst, x, (size_t)n * 4); break;
    }
}

// Dequantizes a row of type t with llama.cpp's own functions (or plain conversions).
static int ggml_dequant(void *base, const char *fn, kite_type t, const void *src, float *dst, int n) {
    switch (t) {
    case KITE_TYPE_F32: memcpy(dst, src, (size_t)n * 4); return 1;
    case KITE_TYPE_F16: for (int i = 0; i < n; i++) dst[i] = kite_f16_to_f32(((const kite_f16 *)src)[i]); return 1;
    case KITE_TYPE_BF16: for (int i = 0; i < n; i++) dst[i] = kite_bf16_to_f32(((const kite_bf16 *)src)[i]); return 1;
    case KITE_TYPE_Q8_1: // no dequantize_row_q8_1 in ggml: x = d * q
        for (int b = 0; b < n / 32; b++)
            for (int j = 0; j < 32; j++)
                dst[32 * b + j] = kite_f16_to_f32(((const block_q8_1 *)src)[b].d) * ((const block_q8_1 *)src)[b].qs[j];
        return 1;
    default: {
        ggml_row_fn f = (ggml_row_fn)ggml_ref_sym(base, fn);
        if (!f) return 0;
        f(src, dst, n);
        return 1;
    }
    }
}

static float ref_dot(kite_type t, int n, const void *w, const void *a) {
    float y;
    kite__kernels_get("scalar")->tile[t](n, w, 0, 1, a, 0, 1, &y, 0);
    return y;
}
#endif

// ---- 1. the _ref dots against llama.cpp ----------------------------------------------------
static void test_ref_vs_ggml(void) {
#ifndef HAVE_GGML_REF
    printf("skip: _ref vs llama.cpp (no native library under wasm)\n");
#else
    int ci_fail = 0;
    void *base = ggml_ref_open(&ci_fail);
    if (ci_fail) check_failed++;
    if (!base) return;
    char path[4096];
    const char *root = getenv("KITE_ROOT");
    snprintf(path, sizeof path, "%s/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-cpu-x64.so",
             root && *root ? root : ".");
    void *cpu = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(cpu != NULL, "cannot load %s: %s", path, dlerror());
    // ggml's CPU code converts f16 through a table that ggml_cpu_init fills
    void (*cpu_init)(void) = cpu ? (void (*)(void))dlsym(cpu, "ggml_cpu_init") : NULL;
    CHECK(cpu_init != NULL, "ggml_cpu_init missing");
    if (cpu_init) cpu_init();
    typedef void (*vec_dot_fn)(int, float *, size_t, const void *, size_t, const void *, size_t, int);
    for (int c = 0; c < N_CASES; c++) {
        const tcase *tc = &CASES[c];
        kite_type p = kite__dot_partner(tc->t);
        vec_dot_fn gdot = cpu ? (vec_dot_fn)dlsym(cpu, tc->ggml_dot) : NULL;
        CHECK(gdot != NULL, "symbol %s missing", tc->ggml_dot);
        for (int rep = 0; rep < 6; rep++) {
            int n = 256 * (1 + rep % 3) + (rep >= 3 ? 512 : 0);
            void *w = malloc((size_t)kite_type_row_bytes(tc->t, (uint64_t)n));
            void *a = malloc((size_t)kite_type_row_bytes(p, (uint64_t)n));
            float *x = malloc((size_t)n * 4), *wf = malloc((size_t)n * 4), *af = malloc((size_t)n * 4);
            fill_weights(tc->t, w, n, 1);
            fill_acts(x, n);
            to_partner(p, x, a, n);
            float ours = ref_dot(tc->t, n, w, a);
            // anchor: the same dot from llama.cpp's dequantized values, in double
            int ok_w = ggml_dequant(base, tc->ggml_deq, tc->t, w, wf, n);
            int ok_a = ggml_dequant(base, p == KITE_TYPE_Q8_K ? "dequantize_row_q8_K" : "dequantize_row_q8_0", p, a, af, n);
            CHECK(ok_w && ok_a, "%s: dequantizer missing", kite_type_name(tc->t));
            double fd = 0, mag = 0;
            for (int i = 0; ok_w && ok_a && i < n; i++) {
                fd += (double)wf[i] * af[i];
                mag += fabs((double)wf[i] * af[i]);
            }
            CHECK(fabs(ours - fd) <= TOL_DEQUANT * mag + 1e-6, "%s n=%d: _ref %.7g vs dequantized dot %.7g (mag %.3g)",
                  kite_type_name(tc->t), n, ours, fd, mag);
            if (gdot) {
                float g = 0;
                gdot(n, &g, 0, w, 0, a, 0, 1);
                CHECK(fabs(ours - g) <= TOL_GGML_DOT * mag + 1e-6, "%s n=%d: _ref %.7g vs ggml %s %.7g",
                      kite_type_name(tc->t), n, ours, tc->ggml_dot, g);
            }
            free(w), free(a), free(x), free(wf), free(af);
        }
    }
    if (cpu) dlclose(cpu);
    dlclose(base);
#endif
}

// ---- 2. every ISA set against scalar, through kite_matmul --------------------------------
static void test_isa_vs_ref(kite_pool *pool2) {
    static const int n_toks[] = {1, 2, 3, 5, 17};
    static const int n_outs[] = {1, 3, 8, 13, 37};
    int n_isa = kite_kernels_isa_count();
    printf("kernel sets on this host:");
    for (int i = 0; i < n_isa; i++) printf(" %s", kite_kernels_isa_name(i));
    printf(" (default %s)\n", kite_kernels_isa());
    const char *dflt = kite_kernels_isa();
    for (int c = 0; c < N_CASES; c++) {
        kite_type t = CASES[c].t;
        int bs = (int)kite_type_get(kite__dot_partner(t))->block_size;
        if ((int)kite_type_get(t)->block_size > bs) bs = (int)kite_type_get(t)->block_size;
        for (int si = 0; si < 9; si++) {
            // odd block counts hit every tail; si 3 and 4 (GEMV and GEMM) have rows longer than
            // the wasm tiles' activation segments (4096 and 1024 elements); si 1, 4 and 5 give the
            // lanes = tokens tiles (x86, NEON: groups of up to 8 tokens) groups of 8 + 8 and one
            // token left to the row tiles (17 tokens), one group of 7, and 8 + 4 (12)
            // (plain types: below, across and not a multiple of the 8 lanes and 1024-element chunks);
            // si 6 gives the packed GEMM (groups of 16 tokens x 16 rows) two token groups and 8 tokens
            // left, a full and a partial row group; si 7 more tokens than one call of it takes (256)
            // and more rows (64); si 8 rows long enough that the wasm packed GEMM packs a call's 64
            // rows in passes (WPK_PASS_BYTES), the last one partial
            int n_in = bs == 1 ? (si == 0 ? 5 : si == 1 ? 67 : si == 2 ? 203 : si == 3 ? 2501 : 1029)
                               : bs * (si == 0 ? 1 : si == 1 ? 3 : si == 2 ? 7 : si == 5 ? 5 : bs == 32 ? 165 : 17);
            int n_out = si == 5 ? 11 : si >= 3 ? 9 : n_outs[(c + si) % 5] + (si == 2 ? 24 : 0);
            int n_tok = si == 3 ? 1 : si == 4 ? 7 : si == 5 ? 12 : n_toks[(c + 2 * si) % 5];
            if (si == 1) n_tok = 17;
            if (si == 6) n_in = bs == 1 ? 40 : bs * 5, n_out = 21, n_tok = 40;
            if (si == 7) n_in = bs == 1 ? 24 : bs * 2, n_out = 70, n_tok = 300; // two token blocks of the packed GEMM
            if (si == 8) n_in = bs == 1 ? 40 : bs * (bs == 32 ? 165 : 21), n_out = 70, n_tok = 9;
            size_t wb = (size_t)kite_type_row_bytes(t, (uint64_t)n_in) * (size_t)n_out;
            void *w = malloc(wb);
            float *x = malloc((size_t)n_in * n_tok * 4);
            float *yr = malloc((size_t)n_out * n_tok * 4), *yi = malloc((size_t)n_out * n_tok * 4);
            size_t ss = kite_matmul_scratch_size(t, n_in, n_tok);
            void *scratch = malloc(ss);
            fill_weights(t, w, n_in, n_out);
            fill_acts(x, (int64_t)n_in * n_tok);
            CHECK(kite_kernels_set_isa("scalar") == KITE_OK, "scalar set");
            kite_status st = kite_matmul(NULL, t, w, n_in, n_out, x, n_tok, yr, scratch, ss);
            CHECK(st == KITE_OK, "%s: scalar matmul failed: %s", kite_type_name(t), kite_last_error());

            for (int i = 0; i < n_isa; i++) {
                const char *isa = kite_kernels_isa_name(i);
                CHECK(kite_kernels_set_isa(isa) == KITE_OK, "set %s", isa);
                for (int th = 0; th < 2; th++) {
                    for (int64_t k = 0; k < (int64_t)n_out * n_tok; k++) yi[k] = NAN;
                    st = kite_matmul(th ? pool2 : NULL, t, w, n_in, n_out, x, n_tok, yi, scratch, ss);
                    CHECK(st == KITE_OK, "%s/%s: matmul failed", isa, kite_type_name(t));
                    int bad = 0;
                    for (int64_t k = 0; k < (int64_t)n_out * n_tok && bad < 3; k++) {
                        if (memcmp(&yi[k], &yr[k], sizeof(float)) != 0) {
                            bad++;
                            CHECK(0, "%s %s n_in=%d n_out=%d n_tok=%d threads=%d: y[t=%d][o=%d] = %.9g, _ref %.9g",
                                  isa, kite_type_name(t), n_in, n_out, n_tok, th + 1, (int)(k / n_out), (int)(k % n_out),
                                  yi[k], yr[k]);
                        }
                    }
                    if (!bad) check_passed++;
                }
            }
            free(w), free(x), free(yr), free(yi), free(scratch);
        }
    }
    kite_kernels_set_isa(dflt);
}

// ---- 2b. X8 weights (8 rows interleaved): every set gives the _ref's bits on the row layout ---
// From 16 tokens the GEMM: the X8 tiles' row tiles of 8 / 16 rows and their calls of up to 64
// rows (a tail of rows in the row layout, a half row tile), token groups of 16 with 1..15 left
// over (the X8 GEMV's) and calls of 256 tokens; with 2 threads several row chunks.
static void test_x8_vs_ref(kite_pool *pool2) {
    static const int shapes[][3] = {// n_in / 256, n_out, n_tok
                                    {1, 8, 1},   {3, 13, 1},   {8, 37, 1},   {2, 5, 1},    {5, 64, 1},
                                    {9, 70, 1},  {1, 29, 2},   {2, 13, 5},   {4, 70, 15},  {3, 21, 17},
                                    {2, 70, 40}, {1, 19, 300}, {2, 8, 16},   {1, 5, 16},   {3, 24, 31},
                                    {1, 200, 32}, {2, 133, 64}, {4, 88, 128}, {1, 72, 255}, {1, 45, 256},
                                    {2, 136, 257}, {1, 264, 300},
                                    // the wasm packed GEMM's records of a call in passes (WPK_PASS_BYTES)
                                    {21, 72, 17},
                                    // rows longer than the wasm GEMVs' per-token tables (Q6_K 205 and
                                    // 1030 blocks, Q4_K 1030): run in pieces, the sums carried
                                    {205, 8, 3}, {1030, 16, 2}};
    static const kite_type types[] = {KITE_TYPE_Q4_K, KITE_TYPE_Q5_K, KITE_TYPE_Q6_K,  KITE_TYPE_Q8_0,
                                      KITE_TYPE_IQ4_XS, KITE_TYPE_Q4_0, KITE_TYPE_IQ4_NL,
                                      // the grid types (kernels_wasm_x8_grid.inc)
                                      KITE_TYPE_IQ3_XXS, KITE_TYPE_IQ2_XXS,
                                      // (kernels_wasm_x8_grid_s.inc)
                                      KITE_TYPE_IQ2_XS, KITE_TYPE_IQ2_S, KITE_TYPE_IQ3_S,
                                      // (kernels_wasm_x8_iq1.inc)
                                      KITE_TYPE_IQ1_S, KITE_TYPE_IQ1_M,
                                      // Q3_K, Q2_K (kernels_wasm_x8_q3.inc)
                                      KITE_TYPE_Q3_K, KITE_TYPE_Q2_K,
                                      // Q5_0, Q4_1, Q5_1 (kernels_wasm_x8_b32.inc)
                                      KITE_TYPE_Q5_0, KITE_TYPE_Q4_1, KITE_TYPE_Q5_1};
    const char *dflt = kite_kernels_isa();
    CHECK(kite_matmul_x8_type(KITE_TYPE_Q4_K) && kite_matmul_x8_type(KITE_TYPE_Q5_K) &&
              kite_matmul_x8_type(KITE_TYPE_Q6_K) && kite_matmul_x8_type(KITE_TYPE_Q8_0) &&
              kite_matmul_x8_type(KITE_TYPE_IQ4_XS) && kite_matmul_x8_type(KITE_TYPE_Q4_0) &&
              kite_matmul_x8_type(KITE_TYPE_IQ4_NL) &&
              kite_matmul_x8_type(KITE_TYPE_IQ3_XXS) && kite_matmul_x8_type(KITE_TYPE_IQ2_XXS) &&
              kite_matmul_x8_type(KITE_TYPE_Q3_K) && kite_matmul_x8_type(KITE_TYPE_Q2_K) &&
              kite_matmul_x8_type(KITE_TYPE_Q5_0) && kite_matmul_x8_type(KITE_TYPE_Q4_1) &&
              kite_matmul_x8_type(KITE_TYPE_Q5_1) &&
              kite_matmul_x8_type(KITE_TYPE_IQ2_XS) && kite_matmul_x8_type(KITE_TYPE_IQ2_S) &&
              kite_matmul_x8_type(KITE_TYPE_IQ3_S) && kite_matmul_x8_type(KITE_TYPE_IQ1_S) &&
              kite_matmul_x8_type(KITE_TYPE_IQ1_M) && !kite_matmul_x8_type(KITE_TYPE_TQ1_0) && !kite_matmul_x8_type(KITE_TYPE_TQ2_0),
          "X8 types");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const kite_type t = types[ti];
        // (32-element blocks: rows of 5 .. 72 of them, not only multiples of 8)
        const int b32 = t == KITE_TYPE_Q8_0 || t == KITE_TYPE_Q4_0 || t == KITE_TYPE_IQ4_NL || t == KITE_TYPE_Q5_0 ||
                        t == KITE_TYPE_Q4_1 || t == KITE_TYPE_Q5_1;
        const int n_in = 256 * shapes[si][0] - (b32 ? 32 * (int)(si % 4) : 0);
        const int n_out = shapes[si][1], n_tok = shapes[si][2];
        const size_t ws = (size_t)kite_type_row_bytes(t, (uint64_t)n_in), wb = ws * (size_t)n_out;
        uint8_t *w = malloc(wb), *w8 = malloc(wb), *row = malloc(ws), *back = malloc(wb);
        float *x = malloc((size_t)n_in * n_tok * 4);
        float *yr = malloc((size_t)n_out * n_tok * 4), *yi = malloc((size_t)n_out * n_tok * 4);
        size_t ss = kite_matmul_scratch_size(t, n_in, n_tok);
        void *scratch = malloc(ss);
        fill_weights(t, w, n_in, n_out);
        fill_acts(x, (int64_t)n_in * n_tok);
        CHECK(kite_matmul_repack_x8(t, w, w8, n_in, n_out) == KITE_OK, "repack");
        // the layout reads back to the file's rows, and repacking in place gives the same bytes
        int same = 1;
        for (int r = 0; r < n_out; r++) { // one row, then the rows from r on (across groups and the tail)
            kite__x8_rows(t, w8, ws, n_out, r, 1, row);
            same &= memcmp(row, w + (size_t)r * ws, ws) == 0;
            kite__x8_rows(t, w8, ws, n_out, r, n_out - r, back);
            same &= memcmp(back, w + (size_t)r * ws, (size_t)(n_out - r) * ws) == 0;
        }
        for (int r = 0; r < n_out; r++) { // the public one-row read (the embedding lookup's)
            memset(row, 0xAB, ws);
            same &= kite_matmul_x8_row(t, w8, n_in, n_out, r, row) == KITE_OK && !memcmp(row, w + (size_t)r * ws, ws);
        }
        CHECK(same, "%s X8 rows read back n_in=%d n_out=%d", kite_type_name(t), n_in, n_out);
        uint8_t *inplace = malloc(wb);
        memcpy(inplace, w, wb);
        CHECK(kite_matmul_repack_x8(t, inplace, inplace, n_in, n_out) == KITE_OK && memcmp(inplace, w8, wb) == 0,
              "%s in-place repack n_in=%d n_out=%d", kite_type_name(t), n_in, n_out);
        free(inplace);
        CHECK(kite_kernels_set_isa("scalar") == KITE_OK, "scalar set");
        CHECK(kite_matmul(NULL, t, w, n_in, n_out, x, n_tok, yr, scratch, ss) == KITE_OK, "scalar matmul");
        for (int i = 0; i < kite_kernels_isa_count(); i++) {
            const char *isa = kite_kernels_isa_name(i);
            CHECK(kite_kernels_set_isa(isa) == KITE_OK, "set %s", isa);
            const kite__kernels *ks = kite__kernels_active();
            CHECK(!ks->gemm_x8[t] || ks->gemv_x8[t], "%s: an X8 GEMM tile needs the X8 GEMV", isa);
#if defined(__x86_64__)
            // (so that the comparisons below test the X8 GEMV and GEMM, not the rows read back; x86
            // reads IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_S, IQ1_S and IQ1_M in rows: only the
            // wasm sets have their X8 GEMVs)
            if (strcmp(isa, "scalar") != 0 &&
                (t == KITE_TYPE_Q4_K || t == KITE_TYPE_Q5_K || t == KITE_TYPE_Q6_K || t == KITE_TYPE_Q8_0 ||
                 t == KITE_TYPE_IQ4_XS || t == KITE_TYPE_Q3_K || t == KITE_TYPE_Q2_K || b32))
                CHECK(ks->gemv_x8[t] != NULL && ks->gemm_x8[t] != NULL, "%s: X8 GEMV and GEMM tile for %s", isa,
                      kite_type_name(t));
#elif defined(__wasm__)
            // (the wasm sets' X8 GEMM tiles: Q4_K, Q6_K, kernels_wasm_x8_gemm.inc)
            if (strcmp(isa, "scalar") != 0 && (t == KITE_TYPE_Q4_K || t == KITE_TYPE_Q6_K))
                CHECK(ks->gemm_x8[t] != NULL, "%s: X8 GEMM tile for %s", isa, kite_type_name(t));
#endif
            for (int th = 0; th < 2; th++) {
                for (int64_t k = 0; k < (int64_t)n_out * n_tok; k++) yi[k] = NAN;
                kite_status st = kite_matmul_layout(th ? pool2 : NULL, t, KITE_LAYOUT_X8, w8, n_in, n_out, x, n_tok, yi,
                                                    scratch, ss);
                CHECK(st == KITE_OK, "%s: X8 matmul failed", isa);
                int bad = 0;
                for (int64_t k = 0; k < (int64_t)n_out * n_tok && bad < 3; k++)
                    if (memcmp(&yi[k], &yr[k], sizeof(float)) != 0) {
                        bad++;
                        CHECK(0, "%s X8 %s n_in=%d n_out=%d n_tok=%d threads=%d: y[t=%d][o=%d] = %.9g, _ref %.9g", isa,
                              kite_type_name(t), n_in, n_out, n_tok, th + 1, (int)(k / n_out), (int)(k % n_out), yi[k],
                              yr[k]);
                    }
                if (!bad) check_passed++;
            }
        }
        free(w), free(w8), free(row), free(back), free(x), free(yr), free(yi), free(scratch);
    }
    block_tq2_0 t2 = {0};
    CHECK(kite_matmul_repack_x8(KITE_TYPE_TQ2_0, &t2, &t2, 256, 1) == KITE_ERR_UNSUPPORTED, "TQ2_0 has no X8");
    CHECK(kite_matmul_x8_row(KITE_TYPE_TQ2_0, &t2, 256, 1, 0, &t2) == KITE_ERR_UNSUPPORTED, "TQ2_0 has no X8 row");
    block_q8_0 q8[2] = {{0}};
    CHECK(kite_matmul_repack_x8(KITE_TYPE_Q8_0, q8, q8, 48, 1) == KITE_ERR_INVALID, "Q8_0 X8: n_in a multiple of 32");
    kite_kernels_set_isa(dflt);
}

// ---- 2c. IQ3_S, IQ2_S, IQ1_S and IQ1_M rows that hold every grid index ---------------------
// The wasm kernels compute these formats' 9-, 10- and 11-bit grid indices in vectors (qs byte |
// qh bits): rows whose points run through all 512 (1024, 2048) indices, each row from another start, with
// random signs and scales; one token (the GEMV) and five (a tile of 4 and one more), 1 and 2
// threads, in rows and in the X8 layout (a group of 8 and 5 rows after it: the wasm X8 GEMVs
// compute the 8 rows' offsets a block ahead); every set must give the _ref's bits.
static void test_iq_every_index(kite_pool *pool2) {
    enum { ROWS = 13 };
    static const kite_type types[] = {KITE_TYPE_IQ3_S, KITE_TYPE_IQ2_S, KITE_TYPE_IQ1_S, KITE_TYPE_IQ1_M};
    const char *dflt = kite_kernels_isa();
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const kite_type t = types[ti];
        const int s3 = t == KITE_TYPE_IQ3_S, s1 = t == KITE_TYPE_IQ1_S, m1 = t == KITE_TYPE_IQ1_M;
        const int pts = s3 ? 64 : 32; // points per block
        const int nidx = s3 ? 512 : s1 || m1 ? 2048 : 1024;
        const int nb = nidx / pts, n_in = 256 * nb;
        const size_t ws = (size_t)kite_type_row_bytes(t, (uint64_t)n_in);
        uint8_t *w = malloc(ws * ROWS);
        fill_weights(t, w, n_in, ROWS); // random signs, scales and d
        for (int r = 0; r < ROWS; r++)
            for (int b = 0; b < nb; b++)
                for (int p = 0; p < pts; p++) {
                    const int idx = (pts * b + p + 97 * r) % nidx;
                    if (s3) {
                        block_iq3_s *x = (block_iq3_s *)(w + r * ws) + b;
                        x->qs[p] = (uint8_t)idx;
                        x->qh[p / 8] = (uint8_t)((x->qh[p / 8] & ~(1 << (p % 8))) | (idx >> 8) << (p % 8));
                    } else if (m1) { // point k of group g: qs[4g + k], bits 0..2 of nibble k & 1 of qh[2g + k / 2]
                        block_iq1_m *x = (block_iq1_m *)(w + r * ws) + b;
                        const int g = p / 4, k = p % 4, sh = 4 * (k & 1);
                        x->qs[p] = (uint8_t)idx;
                        x->qh[2 * g + k / 2] = (uint8_t)((x->qh[2 * g + k / 2] & ~(7 << sh)) | (idx >> 8) << sh);
                    } else if (s1) { // point k of group g: qs[4g + k], bits 3k .. 3k + 2 of qh[g]
                        block_iq1_s *x = (block_iq1_s *)(w + r * ws) + b;
                        const int g = p / 4, k = p % 4;
                        x->qs[p] = (uint8_t)idx;
                        x->qh[g] = (uint16_t)((x->qh[g] & ~(7 << (3 * k))) | (idx >> 8) << (3 * k));
                    } else { // point k of group g: qs[4g + k], bits 2k, 2k + 1 of qh[g]
                        block_iq2_s *x = (block_iq2_s *)(w + r * ws) + b;
                        const int g = p / 4, k = p % 4;
                        x->qs[p] = (uint8_t)idx;
                        x->qh[g] = (uint8_t)((x->qh[g] & ~(3 << (2 * k))) | (idx >> 8) << (2 * k));
                    }
                }
        for (int n_tok = 1; n_tok <= 5; n_tok += 4) {
            float *x = malloc((size_t)n_in * n_tok * 4), yr[ROWS * 5], yi[ROWS * 5];
            uint8_t *w8 = malloc(ws * ROWS);
            CHECK(kite_matmul_repack_x8(t, w, w8, n_in, ROWS) == KITE_OK, "%s every index: repack", kite_type_name(t));
            const size_t ss = kite_matmul_scratch_size(t, n_in, n_tok);
            void *scratch = malloc(ss);
            fill_acts(x, (int64_t)n_in * n_tok);
            CHECK(kite_kernels_set_isa("scalar") == KITE_OK, "scalar set");
            CHECK(kite_matmul(NULL, t, w, n_in, ROWS, x, n_tok, yr, scratch, ss) == KITE_OK, "scalar matmul");
            for (int i = 0; i < kite_kernels_isa_count(); i++) {
                const char *isa = kite_kernels_isa_name(i);
                CHECK(kite_kernels_set_isa(isa) == KITE_OK, "set %s", isa);
                for (int th = 0; th < 4; th++) { // (th & 2: the X8 layout)
                    for (int k = 0; k < ROWS * n_tok; k++) yi[k] = NAN;
                    const kite_status st = th & 2 ? kite_matmul_layout((th & 1) ? pool2 : NULL, t, KITE_LAYOUT_X8, w8, n_in, ROWS,
                                                                       x, n_tok, yi, scratch, ss)
                                                  : kite_matmul((th & 1) ? pool2 : NULL, t, w, n_in, ROWS, x, n_tok, yi, scratch, ss);
                    CHECK(st == KITE_OK, "%s matmul", isa);
                    int bad = 0;
                    for (int k = 0; k < ROWS * n_tok && bad < 3; k++)
                        if (memcmp(&yi[k], &yr[k], sizeof(float)) != 0) {
                            bad++;
                            CHECK(0, "%s %s%s every index n_tok=%d threads=%d: y[t=%d][o=%d] = %.9g, _ref %.9g", isa,
                                  kite_type_name(t), th & 2 ? "/x8" : "", n_tok, (th & 1) + 1, k / ROWS, k % ROWS, yi[k], yr[k]);
                        }
                    if (!bad) check_passed++;
                }
            }
            free(x), free(scratch), free(w8);
        }
        free(w);
    }
    kite_kernels_set_isa(dflt);
}

// ---- 2b'. X8 weights with special d / dmin halves: every set gives _ref's results -----------
// The wasm X8 kernels of Q4_K, Q5_K, IQ4_XS, Q4_0, IQ4_NL, Q5_0, Q4_1, Q5_1, Q8_0, IQ3_XXS, IQ2_XXS,
// Q3_K and Q2_K convert d (and the K types' dmin, Q4_1's and Q5_1's m) by a finite-only path unless a block's halves hold inf / nan;
// subnormals, -0, inf and nan here in rows of both halves of a group and of two groups, one or two
// per block (the dmin entries are d for the types without one). Bits must match; a nan result only
// needs to be nan. n_tok 3 runs the X8 GEMVs, 20 the GEMM (the X8 GEMM tiles, or rows read back).
static void test_x8_special_halves(kite_type t, int n_tok) {
    enum { N_IN = 512, N_OUT = 16, TOK_MAX = 20 };
    CHECK(n_tok <= TOK_MAX, "special halves: %d tokens", n_tok);
    if (n_tok > TOK_MAX) return;
    static const struct { int row, blk, dmin; uint16_t h; } sp[] = {
        {0, 0, 0, 0x7c00}, {3, 1, 1, 0xfc00}, {5, 0, 0, 0x7e00}, {6, 1, 0, 0x0001}, {9, 0, 0, 0x8000},
        {10, 1, 1, 0x03ff}, {12, 0, 0, 0x8001}, {13, 1, 1, 0x0000}, {15, 0, 1, 0x7d01}, {15, 1, 0, 0x83ff}};
    const size_t ws = (size_t)kite_type_row_bytes(t, N_IN), wb = ws * N_OUT;
    uint8_t *w = malloc(wb), *w8 = malloc(wb);
    float *x = malloc(sizeof(float) * N_IN * n_tok), yr[N_OUT * TOK_MAX], yi[N_OUT * TOK_MAX];
    const size_t ss = kite_matmul_scratch_size(t, N_IN, n_tok);
    void *scratch = malloc(ss);
    fill_weights(t, w, N_IN, N_OUT);
    fill_acts(x, (int64_t)N_IN * n_tok);
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) { // (d starts every block of these types but Q3_K, Q2_K, Q6_K)
        uint8_t *b = w + (size_t)sp[i].row * ws + (size_t)sp[i].blk * kite_type_get(t)->type_size;
        const size_t d = t == KITE_TYPE_Q3_K   ? offsetof(block_q3_K, d)
                         : t == KITE_TYPE_Q2_K ? offsetof(block_q2_K, d)
                         : t == KITE_TYPE_Q6_K ? offsetof(block_q6_K, d)
                                               : 0;
        const size_t dmin = t == KITE_TYPE_Q4_K   ? offsetof(block_q4_K, dmin)
                            : t == KITE_TYPE_Q5_K ? offsetof(block_q5_K, dmin)
                            : t == KITE_TYPE_Q2_K ? offsetof(block_q2_K, dmin)
                            : t == KITE_TYPE_Q4_1 ? offsetof(block_q4_1, m)
                            : t == KITE_TYPE_Q5_1 ? offsetof(block_q5_1, m)
                                                  : d;
        if (t == KITE_TYPE_IQ1_M) { // d: the top nibbles of the four scale words (kite__iq1m_scale)
            uint16_t sc[4];
            memcpy(sc, ((block_iq1_m *)b)->scales, sizeof sc);
            for (int m = 0; m < 4; m++) sc[m] = (uint16_t)((sc[m] & 0x0fff) | ((sp[i].h >> (4 * m)) & 15) << 12);
            memcpy(((block_iq1_m *)b)->scales, sc, sizeof sc);
            continue;
        }
        memcpy(b + (sp[i].dmin ? dmin : d), &sp[i].h, 2);
    }
    CHECK(kite_matmul_repack_x8(t, w, w8, N_IN, N_OUT) == KITE_OK, "repack");
    const char *dflt = kite_kernels_isa();
    CHECK(kite_kernels_set_isa("scalar") == KITE_OK, "scalar set");
    CHECK(kite_matmul(NULL, t, w, N_IN, N_OUT, x, n_tok, yr, scratch, ss) == KITE_OK, "scalar matmul");
    for (int i = 0; i < kite_kernels_isa_count(); i++) {
        const char *isa = kite_kernels_isa_name(i);
        CHECK(kite_kernels_set_isa(isa) == KITE_OK, "set %s", isa);
        CHECK(kite_matmul_layout(NULL, t, KITE_LAYOUT_X8, w8, N_IN, N_OUT, x, n_tok, yi, scratch, ss) == KITE_OK,
              "%s: X8 matmul", isa);
        int bad = 0;
        for (int k = 0; k < N_OUT * n_tok; k++)
            if (isnan(yr[k]) ? !isnan(yi[k]) : memcmp(&yi[k], &yr[k], sizeof(float)) != 0) {
                bad++;
                CHECK(0, "%s X8 %s special halves, %d tokens: y[t=%d][o=%d] = %.9g, _ref %.9g", isa, kite_type_name(t),
                      n_tok, k / N_OUT, k % N_OUT, yi[k], yr[k]);
            }
        if (!bad) check_passed++;
    }
    kite_kernels_set_isa(dflt);
    free(w), free(w8), free(x), free(scratch);
}

// t's matmul of w (row layout) and w8 (X8) against x (nt tokens) in every set, 1 and 2 threads,
// against the scalar set's yr (yi: room for the output): a failure names the first differing
// output of each run, after `what` (the case).
static void extremes_vs_ref(kite_pool *pool2, kite_type t, const void *w, const void *w8, int n_in, int n_out, const float *x,
                            int nt, const float *yr, float *yi, void *scratch, size_t ss, const char *what) {
    for (int i = 0; i < kite_kernels_isa_count(); i++) {
        const char *isa = kite_kernels_isa_name(i);
        CHECK(kite_kernels_set_isa(isa) == KITE_OK, "set %s", isa);
        for (int v = 0; v < 4; v++) { // layout (rows, X8) x threads
            const bool x8 = v & 1;
            CHECK(kite_matmul_layout(v & 2 ? pool2 : NULL, t, x8 ? KITE_LAYOUT_X8 : KITE_LAYOUT_ROWS, x8 ? w8 : w, n_in, n_out, x,
                                     nt, yi, scratch, ss) == KITE_OK,
                  "%s: matmul", isa);
            int bad = 0;
            for (int k = 0; k < n_out * nt && !bad; k++)
                if (memcmp(&yi[k], &yr[k], sizeof(float)) != 0) {
                    bad = 1;
                    CHECK(0, "%s %s%s extremes (%s, %d tokens): y[t=%d][o=%d] = %.9g, _ref %.9g", isa, kite_type_name(t),
                          x8 ? "/x8" : "", what, nt, k / n_out, k % n_out, yi[k], yr[k]);
                }
            if (!bad) check_passed++;
        }
    }
}

// ---- 2b''. k-quant levels and activations at their extremes: every set gives _ref's bits ----
// Every level byte 0xFF (levels and scales at their largest) or 0x00 against Q8_K activations of
// all -127, or all +127 but each block's first (and the same for Q4_0, Q4_1, Q5_0, Q5_1 against
// Q8_0 / Q8_1 activations, all +127 or -127 first): the wasm kernels sum level dots in int16 lanes
// (the relaxed packed GEMM's runs, the X8 GEMVs' pairs), exact only within their bounds, which
// random levels do not reach. Row and X8 layouts, GEMV and GEMM token counts, 1 and 2 threads.
static void test_k_extremes(kite_pool *pool2) {
    enum { N_IN = 512, N_OUT = 16, TOK_MAX = 20 };
    static const kite_type types[] = {KITE_TYPE_Q2_K, KITE_TYPE_Q3_K, KITE_TYPE_Q4_K, KITE_TYPE_Q5_K, KITE_TYPE_Q6_K,
                                      KITE_TYPE_Q4_0, KITE_TYPE_Q4_1, KITE_TYPE_Q5_0, KITE_TYPE_Q5_1};
    const char *dflt = kite_kernels_isa();
    size_t ss = 0;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        if (kite_matmul_scratch_size(types[ti], N_IN, TOK_MAX) > ss) ss = kite_matmul_scratch_size(types[ti], N_IN, TOK_MAX);
    void *scratch = malloc(ss);
    float *x = malloc(sizeof(float) * N_IN * TOK_MAX), *yr = malloc(sizeof(float) * N_OUT * TOK_MAX),
          *yi = malloc(sizeof(float) * N_OUT * TOK_MAX);
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        for (int fillb = 0; fillb < 2; fillb++)
            for (int sign = 0; sign < 2; sign++)
                for (int nt = 3; nt <= TOK_MAX; nt += TOK_MAX - 3) {
                    const kite_type t = types[ti];
                    const size_t bs = kite_type_get(t)->type_size, ws = (size_t)kite_type_row_bytes(t, N_IN), wb = ws * N_OUT;
                    uint8_t *w = malloc(wb), *w8 = malloc(wb);
                    memset(w, fillb ? 0xFF : 0x00, wb);
                    const int b32 = kite_type_get(t)->block_size == 32; // (d first, then Q4_1's and Q5_1's m)
                    const size_t d = t == KITE_TYPE_Q2_K   ? offsetof(block_q2_K, d)
                                     : t == KITE_TYPE_Q3_K ? offsetof(block_q3_K, d)
                                     : t == KITE_TYPE_Q6_K ? offsetof(block_q6_K, d)
                                     : b32                 ? 0
                                                           : offsetof(block_q4_K, d);
                    const size_t dmin = t == KITE_TYPE_Q2_K ? offsetof(block_q2_K, dmin) : b32 ? 2 : offsetof(block_q4_K, dmin);
                    for (size_t b = 0; b < wb / bs; b++) {
                        set_f16(w + b * bs + d, 0.01f * (float)(1 + b % 3));
                        if (t == KITE_TYPE_Q2_K || t == KITE_TYPE_Q4_K || t == KITE_TYPE_Q5_K || t == KITE_TYPE_Q4_1 ||
                            t == KITE_TYPE_Q5_1)
                            set_f16(w + b * bs + dmin, 0.005f);
                    }
                    // sign 0: all +1 (Q8_K: all -127; Q8_0 / Q8_1: all +127); 1: each block's first -1, the rest +1
                    const int blk = b32 ? 32 : QK_K;
                    for (int i = 0; i < N_IN * nt; i++) x[i] = sign && i % blk == 0 ? -1.0f : 1.0f;
                    CHECK(kite_matmul_repack_x8(t, w, w8, N_IN, N_OUT) == KITE_OK, "repack");
                    CHECK(kite_kernels_set_isa("scalar") == KITE_OK, "scalar set");
                    CHECK(kite_matmul(NULL, t, w, N_IN, N_OUT, x, nt, yr, scratch, ss) == KITE_OK, "scalar matmul");
                    char what[64];
                    snprintf(what, sizeof what, "bytes 0x%02X, sign %d", fillb ? 0xFF : 0, sign);
                    extremes_vs_ref(pool2, t, w, w8, N_IN, N_OUT, x, nt, yr, yi, scratch, ss, what);
                    free(w), free(w8);
                }
    kite_kernels_set_isa(dflt);
    free(x), free(yr), free(yi), free(scratch);
}

// ---- 2b'''. grid levels and activations at their extremes: every set gives _ref's bits ------
// Every point of every row the grid point with the largest values (all signs +, IQ1's shift
// + 1), against activations of one sign, each block's first of magnitude 1 and the rest m / 127
// (Q8_K: 127, then m) for m = 127, 90, 60, 42: the relaxed packed GEMM sums the grid kinds' level
// dots in int16 runs, exact only within their bounds, longer ones where a call's activations
// allow (kernels_wasm_packed.inc's wpk_i16, wpk_grid_run), which random points and activations
// do not reach.

// The index of the grid point (n points, bytes wide, int8 values if sgn) whose values give the
// largest sum in one int16 lane of the relaxed records: the values e with e % 4 < 2, or those with
// e % 4 >= 2 (the pair sums of i16x8.relaxed_dot_i8x16_i7x16_s).
static int grid_max_point(const void *grid, int n, int bytes, int sgn) {
    int best = 0, bsum = -1000;
    for (int i = 0; i < n; i++) {
        int sum[2] = {0, 0};
        for (int j = 0; j < bytes; j++) {
            const uint8_t v = ((const uint8_t *)grid)[(size_t)i * bytes + j];
            sum[j % 4 >= 2] += sgn ? (int8_t)v : v;
        }
        for (int h = 0; h < 2; h++)
            if (sum[h] > bsum) best = i, bsum = sum[h];
    }
    return best;
}

// Sets point p of grid block blk of type t to grid index idx, its signs + (IQ1: its shift + 1).
static void grid_set_point(kite_type t, uint8_t *blk, int p, int idx) {
    const int g = p / 4, k = p % 4;
    switch (t) {
    case KITE_TYPE_IQ2_XXS: { // group g: 4 index bytes, then signs (bits 0..27) and the scale
        uint8_t *q = (uint8_t *)((block_iq2_xxs *)blk)->qs + 8 * g;
        q[k] = (uint8_t)idx, q[4] = q[5] = q[6] = 0, q[7] &= 0xF0;
        break;
    }
    case KITE_TYPE_IQ2_XS: ((block_iq2_xs *)blk)->qs[p] = (uint16_t)idx; break; // (sign index 0)
    case KITE_TYPE_IQ2_S: {
        block_iq2_s *x = (block_iq2_s *)blk;
        x->qs[p] = (uint8_t)idx, x->qs[QK_K / 8 + p] = 0;
        x->qh[g] = (uint8_t)((x->qh[g] & ~(3 << (2 * k))) | (idx >> 8) << (2 * k));
        break;
    }
    case KITE_TYPE_IQ3_XXS: { // 64 index bytes, then per 32 values signs (bits 0..27) and the scale
        block_iq3_xxs *x = (block_iq3_xxs *)blk;
        x->qs[p] = (uint8_t)idx;
        uint8_t *sg = x->qs + QK_K / 4 + 4 * (p / 8);
        sg[0] = sg[1] = sg[2] = 0, sg[3] &= 0xF0;
        break;
    }
    case KITE_TYPE_IQ3_S: {
        block_iq3_s *x = (block_iq3_s *)blk;
        x->qs[p] = (uint8_t)idx, x->signs[p / 2] = 0;
        x->qh[p / 8] = (uint8_t)((x->qh[p / 8] & ~(1 << (p % 8))) | (idx >> 8) << (p % 8));
        break;
    }
    case KITE_TYPE_IQ1_S: {
        block_iq1_s *x = (block_iq1_s *)blk;
        x->qs[p] = (uint8_t)idx;
        x->qh[g] = (uint16_t)((x->qh[g] & ~(7 << (3 * k)) & 0x7FFF) | (idx >> 8) << (3 * k));
        break;
    }
    default: { // IQ1_M: bits 0..2 of nibble k & 1 of qh[2g + k / 2], its bit 3 the shift's sign
        block_iq1_m *x = (block_iq1_m *)blk;
        const int sh = 4 * (k & 1);
        x->qs[p] = (uint8_t)idx;
        x->qh[2 * g + k / 2] = (uint8_t)((x->qh[2 * g + k / 2] & ~(15 << sh)) | (idx >> 8) << sh);
        break;
    }
    }
}

static void test_iq_extremes(kite_pool *pool2) {
    enum { N_IN = 512, N_OUT = 16, TOK_MAX = 20 };
    static const kite_type types[] = {KITE_TYPE_IQ2_XXS, KITE_TYPE_IQ2_XS, KITE_TYPE_IQ2_S, KITE_TYPE_IQ3_XXS,
                                      KITE_TYPE_IQ3_S, KITE_TYPE_IQ1_S, KITE_TYPE_IQ1_M};
    const int imax[] = {grid_max_point(kite__iq2xxs_grid, 256, 8, 0), grid_max_point(kite__iq2xs_grid, 512, 8, 0),
                        grid_max_point(kite__iq2s_grid, 1024, 8, 0), grid_max_point(kite__iq3xxs_grid, 256, 4, 0),
                        grid_max_point(kite__iq3s_grid, 512, 4, 0), grid_max_point(kite__iq1s_grid, 2048, 8, 1),
                        grid_max_point(kite__iq1s_grid, 2048, 8, 1)};
    const char *dflt = kite_kernels_isa();
    float *x = malloc(sizeof(float) * N_IN * TOK_MAX), *yr = malloc(sizeof(float) * N_OUT * TOK_MAX),
          *yi = malloc(sizeof(float) * N_OUT * TOK_MAX);
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const kite_type t = types[ti];
        const size_t bs = kite_type_get(t)->type_size, ws = (size_t)kite_type_row_bytes(t, N_IN), wb = ws * N_OUT;
        const int pts = t == KITE_TYPE_IQ3_XXS || t == KITE_TYPE_IQ3_S ? 64 : 32; // points per block
        uint8_t *w = malloc(wb), *w8 = malloc(wb);
        fill_weights(t, w, N_IN, N_OUT); // (random d and scales)
        for (size_t b = 0; b < wb / bs; b++)
            for (int p = 0; p < pts; p++) grid_set_point(t, w + b * bs, p, imax[ti]);
        CHECK(kite_matmul_repack_x8(t, w, w8, N_IN, N_OUT) == KITE_OK, "repack");
        const size_t ss = kite_matmul_scratch_size(t, N_IN, TOK_MAX);
        void *scratch = malloc(ss);
        // the relaxed GEMM's runs: IQ2_XXS 2, 4, 4, 8 vectors, IQ2_XS / IQ2_S 2, 4, 4, 4, IQ3_XXS 4, 4, 8, 8
        static const float mags[] = {127.0f, 90.0f, 60.0f, 42.0f};
        for (int c = 0; c < 16; c++) { // (sign, token count, magnitude)
            const int sign = c & 1, nt = c & 2 ? TOK_MAX : 3;
            const float m = mags[c >> 2] / 127.0f;
            for (int i = 0; i < N_IN * nt; i++) x[i] = (sign ? -1.0f : 1.0f) * (i % QK_K == 0 ? 1.0f : m);
            CHECK(kite_kernels_set_isa("scalar") == KITE_OK, "scalar set");
            CHECK(kite_matmul(NULL, t, w, N_IN, N_OUT, x, nt, yr, scratch, ss) == KITE_OK, "scalar matmul");
            char what[64];
            snprintf(what, sizeof what, "point %d, sign %d, |a| %g", imax[ti], sign, (double)mags[c >> 2]);
            extremes_vs_ref(pool2, t, w, w8, N_IN, N_OUT, x, nt, yr, yi, scratch, ss, what);
        }
        free(w), free(w8), free(scratch);
    }
    kite_kernels_set_isa(dflt);
    free(x), free(yr), free(yi);
}

// ---- 2b'. X8 Q6_K at the ends of its ranges ----------------------------------------------------
// Levels all 0, all 63, or alternating, scales -128 / 127 or random, against activations that
// quantize to all -127, all 127, or alternating pairs: the extremes of the int16 sums that the
// wasm SIMD128 kernel wraps (kernels_wasm_x8_q6.inc) and of the others' partial sums; 1 and 4
// tokens; every set must give the _ref's bits.
static void test_x8_q6_extremes(void) {
    enum { N_IN = 512, N_OUT = 16, N_TOK = 4, NB = N_IN / QK_K };
    block_q6_K w[N_OUT * NB], w8[N_OUT * NB];
    for (int r = 0; r < N_OUT; r++)
        for (int b = 0; b < NB; b++) {
            block_q6_K *k = &w[r * NB + b];
            const int lv = r % 4; // 0: levels 0, 1: 63, 2: alternating 0 / 63, 3: random
            for (int i = 0; i < QK_K / 2; i++) k->ql[i] = lv == 0 ? 0 : lv == 1 ? 0xFF : lv == 2 ? 0xF0 : (uint8_t)rnd();
            for (int i = 0; i < QK_K / 4; i++) k->qh[i] = lv == 0 ? 0 : lv == 1 ? 0xFF : lv == 2 ? 0xCC : (uint8_t)rnd();
            for (int j = 0; j < QK_K / 16; j++)
                k->scales[j] = (int8_t)(r / 4 == 0 ? -128 : r / 4 == 1 ? 127 : r / 4 == 2 ? (j & 1 ? 127 : -128) : (int)rnd());
            set_f16(&k->d, 0.001f * (float)(1 + r));
        }
    float *x = malloc(sizeof(float) * N_IN * N_TOK), yr[N_OUT * N_TOK], yi[N_OUT * N_TOK];
    for (int t = 0; t < N_TOK; t++)
        for (int e = 0; e < N_IN; e++) // all -1, all 1, pairs of signs, pairs of signs the other way
            x[t * N_IN + e] = t == 0 ? -1.0f : t == 1 ? 1.0f : ((e >> 1) & 1) == (t & 1) ? 1.0f : -1.0f;
    const size_t ss = kite_matmul_scratch_size(KITE_TYPE_Q6_K, N_IN, N_TOK);
    void *scratch = malloc(ss);
    CHECK(kite_matmul_repack_x8(KITE_TYPE_Q6_K, w, w8, N_IN, N_OUT) == KITE_OK, "repack");
    const char *dflt = kite_kernels_isa();
    for (int nt = 1; nt <= N_TOK; nt += N_TOK - 1) {
        CHECK(kite_kernels_set_isa("scalar") == KITE_OK, "scalar set");
        CHECK(kite_matmul(NULL, KITE_TYPE_Q6_K, w, N_IN, N_OUT, x, nt, yr, scratch, ss) == KITE_OK, "scalar matmul");
        for (int i = 0; i < kite_kernels_isa_count(); i++) {
            const char *isa = kite_kernels_isa_name(i);
            CHECK(kite_kernels_set_isa(isa) == KITE_OK, "set %s", isa);
            CHECK(kite_matmul_layout(NULL, KITE_TYPE_Q6_K, KITE_LAYOUT_X8, w8, N_IN, N_OUT, x, nt, yi, scratch, ss) ==
                      KITE_OK,
                  "%s: X8 matmul", isa);
            int bad = 0;
            for (int k = 0; k < N_OUT * nt && bad < 3; k++)
                if (memcmp(&yi[k], &yr[k], sizeof(float)) != 0) {
                    bad++;
                    CHECK(0, "%s X8 q6_K extremes n_tok=%d: y[t=%d][o=%d] = %.9g, _ref %.9g", isa, nt, k / N_OUT,
                          k % N_OUT, yi[k], yr[k]);
                }
            if (!bad) check_passed++;
        }
    }
    kite_kernels_set_isa(dflt);
    free(x), free(scratch);
}

// ---- 2c. kite_matmul_parts: each part's columns are the scalar _ref's bits -----------------
// Parts of X8 and row weights, of types that share the Q8_K activations (one conversion) and
// one that does not (Q8_0: a call each), written as column ranges of one wider output; 1 to 4
// threads; the done callback sees every row of every part exactly once.
typedef struct parts_seen {
    atomic_int rows[4][256]; // [part][row] (lockstep: part 0)
} parts_seen;

static void parts_done(void *user, int part, int64_t r0, int64_t r1) {
    parts_seen *s = user;
    for (int64_t r = r0; r < r1; r++) atomic_fetch_add(&s->rows[part < 0 ? 0 : part][r], 1);
}

static void test_matmul_parts(void) {
    typedef struct pcase {
        kite_type t;
        kite_weight_layout layout;
        int n_out;
    } pcase;
    static const pcase sets[][3] = {
        {{KITE_TYPE_Q4_K, KITE_LAYOUT_X8, 200}, {KITE_TYPE_Q6_K, KITE_LAYOUT_X8, 77}, {KITE_TYPE_Q4_K, KITE_LAYOUT_ROWS, 45}},
        {{KITE_TYPE_Q4_K, KITE_LAYOUT_X8, 136}, {KITE_TYPE_Q6_K, KITE_LAYOUT_X8, 136}, {KITE_TYPE_COUNT, 0, 0}},
        {{KITE_TYPE_Q4_K, KITE_LAYOUT_X8, 64}, {KITE_TYPE_Q8_0, KITE_LAYOUT_ROWS, 33}, {KITE_TYPE_COUNT, 0, 0}},
    };
    static const int toks[] = {1, 5, 40};
    const int n_in = 512;
    kite_pool *pools[4] = {NULL, kite_pool_new(2), kite_pool_new(3), kite_pool_new(4)};
    for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++)
    for (size_t ki = 0; ki < sizeof toks / sizeof toks[0]; ki++) {
        const int n_tok = toks[ki];
        int n_parts = 0, width = 0;
        while (n_parts < 3 && sets[si][n_parts].t != KITE_TYPE_COUNT) width += sets[si][n_parts++].n_out;
        const bool lockstep = si == 1;
        uint8_t *w[3] = {0}, *wl[3] = {0};
        float *x = malloc((size_t)n_in * n_tok * 4), *yr = malloc((size_t)width * n_tok * 4);
        float *yi = malloc((size_t)width * n_tok * 4);
        size_t ss = 0;
        fill_acts(x, (int64_t)n_in * n_tok);
        kite_matmul_part parts[3];
        for (int p = 0, col = 0; p < n_parts; col += sets[si][p].n_out, p++) {
            const pcase *pc = &sets[si][p];
            const size_t wb = (size_t)kite_type_row_bytes(pc->t, (uint64_t)n_in) * (size_t)pc->n_out;
            w[p] = malloc(wb), wl[p] = malloc(wb);
            fill_weights(pc->t, w[p], n_in, pc->n_out);
            if (pc->layout == KITE_LAYOUT_X8) CHECK(kite_matmul_repack_x8(pc->t, w[p], wl[p], n_in, pc->n_out) == KITE_OK, "repack");
            else memcpy(wl[p], w[p], wb);
            const size_t need = kite_matmul_scratch_size(pc->t, n_in, n_tok);
            if (need > ss) ss = need;
            parts[p] = (kite_matmul_part){.wtype = pc->t, .layout = pc->layout, .w = wl[p], .n_out = pc->n_out,
                                          .y = yi + col, .y_stride = width};
        }
        void *scratch = malloc(ss);
        const char *dflt = kite_kernels_isa();
        CHECK(kite_kernels_set_isa("scalar") == KITE_OK, "scalar set");
        float *yp = malloc((size_t)width * n_tok * 4);
        for (int p = 0, col = 0; p < n_parts; col += sets[si][p].n_out, p++) {
            const int no = sets[si][p].n_out;
            CHECK(kite_matmul(NULL, sets[si][p].t, w[p], n_in, no, x, n_tok, yp, scratch, ss) == KITE_OK, "ref");
            for (int t = 0; t < n_tok; t++) memcpy(yr + (size_t)t * width + col, yp + (size_t)t * no, (size_t)no * 4);
        }
        free(yp);
        kite_kernels_set_isa(dflt);
        for (int th = 0; th < 4; th++) {
            for (int64_t k = 0; k < (int64_t)width * n_tok; k++) yi[k] = NAN;
            parts_seen *seen = calloc(1, sizeof *seen);
            kite_status st = kite_matmul_parts(pools[th], parts, n_parts, lockstep, n_in, x, n_tok, parts_done, seen,
                                               scratch, ss);
            CHECK(st == KITE_OK, "matmul_parts: %s", kite_last_error());
            CHECK(memcmp(yi, yr, (size_t)width * n_tok * 4) == 0, "matmul_parts set %zu n_tok=%d threads=%d: not the _ref's bits",
                  si, n_tok, th + 1);
            int wrong = 0;
            for (int p = 0; p < (lockstep ? 1 : n_parts); p++)
                for (int r = 0; r < 256; r++) wrong += atomic_load(&seen->rows[p][r]) != (r < sets[si][p].n_out);
            CHECK(!wrong, "matmul_parts set %zu threads=%d: %d rows done other than once", si, th + 1, wrong);
            free(seen);
        }
        for (int p = 0; p < n_parts; p++) free(w[p]), free(wl[p]);
        free(x), free(yr), free(yi), free(scratch);
    }
    // lockstep parts of unequal rows, and part counts out of range
    float x1[256] = {0}, y1[16];
    uint8_t wq[2 * 144 * 16] = {0};
    kite_matmul_part bad[2] = {{.wtype = KITE_TYPE_Q4_K, .w = wq, .n_out = 16, .y = y1, .y_stride = 16},
                               {.wtype = KITE_TYPE_Q4_K, .w = wq, .n_out = 8, .y = y1, .y_stride = 8}};
    CHECK(kite_matmul_parts(NULL, bad, 2, true, 256, x1, 1, NULL, NULL, NULL, 0) == KITE_ERR_INVALID, "lockstep rows");
    CHECK(kite_matmul_parts(NULL, bad, 0, false, 256, x1, 1, NULL, NULL, NULL, 0) == KITE_ERR_INVALID, "0 parts");
    CHECK(kite_matmul_parts(NULL, bad, KITE_MATMUL_PARTS_MAX + 1, false, 256, x1, 1, NULL, NULL, NULL, 0) ==
              KITE_ERR_INVALID, "too many parts");
    for (int i = 1; i < 4; i++) kite_pool_free(pools[i]);
}

// ---- 3. activation quantizers of each set write the _ref bytes ----------------------------
static void test_act_quant(void) {
    int n = 256 * 3;
    float *x = malloc((size_t)n * 4);
    fill_acts(x, n);
    x[5] = 0; // a zero, a block of zeros, exact .5 ties, inf and NaN (those blocks go to _ref)
    for (int i = 256; i < 288; i++) x[i] = 0;
    x[288] = 127.0f; // amax 127 makes the scale exactly 1, so these are exact .5 ties
    for (int i = 289; i < 320; i++) x[i] = (float)(i - 304) + 0.5f;
    x[600] = INFINITY;
    x[700] = NAN;
    block_q8_0 r0[24], s0[24];
    block_q8_1 r1[24], s1[24];
    block_q8_K rk[3], sk[3];
    kite_quantize_row_q8_0_ref(x, r0, n);
    kite_quantize_row_q8_1_ref(x, r1, n);
    kite_quantize_row_q8_K_ref(x, rk, n);
    for (int i = 0; i < kite_kernels_isa_count(); i++) {
        const kite__kernels *k = kite__kernels_get(kite_kernels_isa_name(i));
        memset(s0, 0x55, sizeof s0), memset(s1, 0x55, sizeof s1), memset(sk, 0x55, sizeof sk);
        k->quant_q8_0(x, s0, n);
        k->quant_q8_1(x, s1, n);
        k->quant_q8_K(x, sk, n);
        CHECK(memcmp(r0, s0, sizeof r0) == 0, "%s: q8_0 activation bytes differ from _ref", k->isa);
        CHECK(memcmp(r1, s1, sizeof r1) == 0, "%s: q8_1 activation bytes differ from _ref", k->isa);
        CHECK(memcmp(rk, sk, sizeof rk) == 0, "%s: q8_K activation bytes differ from _ref", k->isa);
    }
    free(x);
}

// ---- 4. thread pool ------------------------------------------------------------------------
typedef struct pool_probe {
    int hits[8];
    int nth_seen[8];
} pool_probe;
static void probe_fn(void *ctx, int ith, int nth) {
    pool_probe *p = ctx;
    p->hits[ith]++;
    p->nth_seen[ith] = nth;
}
// shared runs: 64 items taken from a counter, each must be done exactly once per run
typedef struct shared_probe {
    atomic_int next;
    int done[64];
} shared_probe;
static void shared_fn(void *ctx, int ith, int nth) {
    shared_probe *s = ctx;
    (void)ith, (void)nth;
    for (int i; (i = atomic_fetch_add(&s->next, 1)) < 64;) s->done[i]++;
}
static void test_pool_shared(void) {
    for (int n = 1; n <= 3; n++) {
        kite_pool *p = kite_pool_new(n);
        int bad = 0;
        for (int r = 0; r < 3000 && !bad; r++) {
            shared_probe s;
            atomic_init(&s.next, 0);
            memset(s.done, 0, sizeof s.done);
            kite_pool_run_shared(p, shared_fn, &s);
            for (int i = 0; i < 64; i++) bad += s.done[i] != 1;
            if (r % 3 == 0) { // plain runs between shared ones: every thread must still come
                pool_probe pr = {{0}, {0}};
                kite_pool_run(p, probe_fn, &pr);
                for (int i = 0; i < kite_pool_size(p); i++) bad += pr.hits[i] != 1;
            }
        }
        CHECK(bad == 0, "pool %d: shared runs lost or repeated work (%d bad)", n, bad);
        kite_pool_free(p);
    }
}

static void test_pool(void) {
    for (int n = 1; n <= 3; n++) {
        kite_pool *p = kite_pool_new(n);
#if defined(KITE_THREADS)
        CHECK(p != NULL && kite_pool_size(p) == n, "pool of %d", n);
#endif
        int nth = kite_pool_size(p);
        pool_probe pr = {{0}, {0}};
        for (int r = 0; r < 2000; r++) kite_pool_run(p, probe_fn, &pr);
        for (int i = 0; i < nth; i++)
            CHECK(pr.hits[i] == 2000 && pr.nth_seen[i] == nth, "pool %d: thread %d ran %d times (nth %d)", n, i,
                  pr.hits[i], pr.nth_seen[i]);
        kite_pool_free(p);
    }
    pool_probe pr = {{0}, {0}};
    kite_pool_run(NULL, probe_fn, &pr);
    CHECK(pr.hits[0] == 1 && pr.nth_seen[0] == 1, "NULL pool runs inline once");
    CHECK(kite_pool_new(0) == NULL, "pool of 0 threads is NULL");
}

// ---- 4b. f16 weights holding inf: every set gives the same infinities as _ref ----------------
static void test_f16_inf(void) {
    enum { N = 40, R = 5 }; // 40 = five groups of 8 halves, rows with inf in different groups
    kite_f16 w[R * N];
    float x[N], yr[R], yi[R];
    for (int i = 0; i < R * N; i++) w[i] = kite_f32_to_f16(0.25f * (float)((i % 7) - 3));
    for (int i = 0; i < N; i++) x[i] = 1.0f + (float)(i % 3);
    w[0 * N + 3] = 0x7c00;  // +inf
    w[2 * N + 17] = 0xfc00; // -inf
    w[4 * N + 39] = 0x7c00; // +inf in the last group
    const char *dflt = kite_kernels_isa();
    kite_kernels_set_isa("scalar");
    CHECK(kite_matmul(NULL, KITE_TYPE_F16, w, N, R, x, 1, yr, NULL, 0) == KITE_OK, "f16 inf scalar");
    CHECK(isinf(yr[0]) && yr[0] > 0 && isinf(yr[2]) && yr[2] < 0 && isfinite(yr[1]), "f16 inf: _ref gives the infinities");
    for (int i = 1; i < kite_kernels_isa_count(); i++) {
        kite_kernels_set_isa(kite_kernels_isa_name(i));
        CHECK(kite_matmul(NULL, KITE_TYPE_F16, w, N, R, x, 1, yi, NULL, 0) == KITE_OK, "f16 inf %s", kite_kernels_isa_name(i));
        for (int r = 0; r < R; r++)
            CHECK(isinf(yr[r]) ? yi[r] == yr[r] : fabsf(yi[r] - yr[r]) <= 1e-5f * (1.0f + fabsf(yr[r])),
                  "%s f16 with inf row %d: %g vs _ref %g", kite_kernels_isa_name(i), r, yi[r], yr[r]);
    }
    kite_kernels_set_isa(dflt);
}

// ---- 5. errors ---------------------------------------------------------------------------
static void test_errors(void) {
    float x[64] = {0}, y[4];
    unsigned char w[1024] = {0};
    char scratch[256];
    CHECK(kite_matmul(NULL, KITE_TYPE_NVFP4, w, 256, 1, x, 1, y, scratch, sizeof scratch) == KITE_ERR_UNSUPPORTED,
          "NVFP4 unsupported");
    CHECK(strstr(kite_last_error(), "nvfp4") != NULL, "message names the type: %s", kite_last_error());
    CHECK(kite_matmul(NULL, KITE_TYPE_Q8_0, w, 48, 1, x, 1, y, scratch, sizeof scratch) == KITE_ERR_INVALID,
          "n_in not a multiple of 32");
    CHECK(kite_matmul(NULL, KITE_TYPE_Q4_K, w, 64, 1, x, 1, y, scratch, sizeof scratch) == KITE_ERR_INVALID,
          "Q4_K needs 256-element rows");
    CHECK(kite_matmul(NULL, KITE_TYPE_Q8_0, w, 64, 1, x, 1, y, scratch, 10) == KITE_ERR_INVALID, "scratch too small");
    CHECK(kite_matmul(NULL, KITE_TYPE_Q8_0, w, 64, 1, x, 1, y, NULL, 0) == KITE_OK, "NULL scratch allocates");
    CHECK(kite_matmul_scratch_size(KITE_TYPE_NVFP4, 256, 1) == 0, "no scratch size for unsupported");
    CHECK(!kite_matmul_supports(KITE_TYPE_Q8_K) && kite_matmul_supports(KITE_TYPE_Q6_K), "supports()");
    CHECK(kite_kernels_set_isa("no-such-isa") == KITE_ERR_UNSUPPORTED, "unknown ISA refused");
}

int main(void) {
    kite_pool *pool2 = kite_pool_new(2);
    test_ref_vs_ggml();
    test_isa_vs_ref(pool2);
    test_x8_vs_ref(pool2);
    test_x8_q6_extremes();
    static const kite_type special[] = {KITE_TYPE_Q4_K, KITE_TYPE_Q5_K, KITE_TYPE_Q6_K, KITE_TYPE_IQ4_XS, KITE_TYPE_Q4_0,
                                        KITE_TYPE_IQ4_NL, KITE_TYPE_Q8_0, KITE_TYPE_IQ3_XXS, KITE_TYPE_IQ2_XXS, KITE_TYPE_Q3_K,
                                        KITE_TYPE_Q2_K, KITE_TYPE_Q5_0, KITE_TYPE_Q4_1, KITE_TYPE_Q5_1,
                                        KITE_TYPE_IQ2_XS, KITE_TYPE_IQ2_S, KITE_TYPE_IQ3_S, KITE_TYPE_IQ1_S,
                                        KITE_TYPE_IQ1_M};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        test_x8_special_halves(special[i], 3);
        test_x8_special_halves(special[i], 20);
    }
    test_k_extremes(pool2);
    test_iq_extremes(pool2);
    test_iq_every_index(pool2);
    test_matmul_parts();
    test_act_quant();
    test_pool();
    test_pool_shared();
    test_f16_inf();
    test_errors();
    kite_pool_free(pool2);
    return check_done("test_kernels");
}
