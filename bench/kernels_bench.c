// kernels_bench.c - GEMV/GEMM throughput of kite_matmul per weight type, ISA and thread count on
// SmolLM2-135M shapes, against the memory bandwidth measured in the same run and against
// llama.cpp's own vec_dot kernels (node-llama-cpp's libggml-cpu, dlopen'd) on the same rows.
// Not a test: prints numbers. Usage: kernels_bench [--all] [--iq] [--types q8_0,q4_K,...] [--quick]
// [--hot | --cold | --gemm [--isa NAME] [--x8]] (--iq: Q4_K next to the IQ4, grid, ternary and microscaled formats;
// compare their GB/s of weight bytes, the rate decode reads them at. --hot: only the hot-weight
// GEMV table, in CPU time, per kernel set: the kernels' own rate, steady on a shared machine;
// --cold: the same table for an 8192 x 8192 matrix, larger than the caches (as a decode reads
// its weights; best with a few --types: each type's matrix is allocated at once; the environment's
// KITE_COLD_SHAPE=N_IN,N_OUT another shape, e.g. 768,98304: a decode's rows, over the L3 in all);
// --gemm: the same for prefill, a 128-token GEMM per SmolLM2 shape; --isa: that kernel set only,
// e.g. wasm-simd128, wasm-relaxed, avx2, avx512, scalar; --x8: each type with an X8 layout also
// in it, a row "q4_K/x8"; --attn: the decode attention op alone, see attn_bench; --attn-prefill:
// the prefill one at depth, see attn_prefill_bench.)
#if !defined(__EMSCRIPTEN__) && !defined(__wasi__)
#include <dlfcn.h>
#define HAVE_PEER 1 // llama.cpp's native kernels can be dlopen'd
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kite.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// CPU seconds of this process: on a shared machine steadier than wall time for one thread.
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Calls for the time left, at the rate so far (at most 16x as many as done, at least enough for
// min_calls in all).
static int next_batch(int calls, double el, double min, int min_calls) {
    double want = el > 0 ? (min - el) * 1.1 * calls / el : 2.0 * calls;
    if (want > 16.0 * calls) want = 16.0 * calls;
    int b = (int)want + 1;
    if (b < min_calls - calls) b = min_calls - calls;
    return b < 1 ? 1 : b;
}

// Runs the statement(s) after the arguments (`calls` counting the calls done before each) until
// min seconds of cpu_now() and min_calls calls have passed; el gets the seconds. The clock is
// read once per batch, each batch sized to reach the time left, so a handful of times per
// measurement: in bench/wasm_kernels_bench.mjs's page a CPU-time read is a synchronous request
// to the host that costs more renderer CPU than a fast kernel's call, and read after every call
// it was most of what the loop measured (0.3-0.4 GB/s for every kernel set).
#define CPU_TIMED(calls, el, min, min_calls, ...)                                                            \
    do {                                                                                                     \
        const double t0_ = cpu_now();                                                                        \
        for (int batch_ = 1, b_;; batch_ = next_batch(calls, el, (min), (min_calls))) {                      \
            for (b_ = 0; b_ < batch_; b_++, calls++) { __VA_ARGS__; }                                       \
            el = cpu_now() - t0_;                                                                            \
            if (el >= (min) && calls >= (min_calls)) break;                                                  \
        }                                                                                                    \
    } while (0)

static uint64_t rs = 0x243F6A8885A308D3ull;
static uint32_t rnd(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (uint32_t)(rs >> 16);
}
static float rndf(void) { return (float)rnd() / 4294967296.0f * 2.0f - 1.0f; }

// Random bytes with small finite f16 scales: kernels' speed does not depend on the values,
// but NaN/inf scales could hit slow paths.
static void fill(kite_type t, unsigned char *w, size_t bytes, int64_t n_in) {
    const kite_type_traits *tr = kite_type_get(t);
    for (size_t i = 0; i < bytes; i++) w[i] = (unsigned char)rnd();
    if (t == KITE_TYPE_F32) { for (size_t i = 0; i < bytes / 4; i++) ((float *)w)[i] = rndf(); return; }
    if (t == KITE_TYPE_F16 || t == KITE_TYPE_BF16) {
        for (size_t i = 0; i < bytes / 2; i++) ((uint16_t *)w)[i] = t == KITE_TYPE_F16 ? kite_f32_to_f16(rndf()) : kite_f32_to_bf16(rndf());
        return;
    }
    size_t off = t == KITE_TYPE_Q2_K ? offsetof(block_q2_K, d) : t == KITE_TYPE_Q3_K ? offsetof(block_q3_K, d)
               : t == KITE_TYPE_Q6_K ? offsetof(block_q6_K, d) : t == KITE_TYPE_TQ1_0 ? offsetof(block_tq1_0, d)
               : t == KITE_TYPE_TQ2_0 ? offsetof(block_tq2_0, d) : 0;
    for (size_t b = 0; b + tr->type_size <= bytes; b += tr->type_size) {
        kite_f16 h = kite_f32_to_f16(0.01f);
        if (t == KITE_TYPE_MXFP4) { w[b] = 120; continue; } // the E8M0 exponent, 2^-8
        if (t == KITE_TYPE_IQ1_M) continue; // its f16 scale is spread over the scale words' top nibbles
        memcpy(w + b + off, &h, 2);
        if (t == KITE_TYPE_Q4_1 || t == KITE_TYPE_Q5_1 || t == KITE_TYPE_Q4_K || t == KITE_TYPE_Q5_K || t == KITE_TYPE_Q2_K)
            memcpy(w + b + off + 2, &h, 2);
    }
    (void)n_in;
}

// ---- memory baselines --------------------------------------------------------------------
static double g_read_gbs;
static void bandwidth(void) {
    size_t n = (size_t)256 << 20;
    char *a = malloc(n), *b = malloc(n);
    memset(a, 1, n), memset(b, 2, n);
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        memcpy(b, a, n);
        best = fmin(best, now() - t0);
        a[r] = b[n - 1 - r]; // the copy is used: no compiler may drop it
    }
    double rbest = 1e9;
    uint64_t sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        const uint64_t *p = (const uint64_t *)a;
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = 0; i < n / 8; i += 4) s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
        sink += s0 + s1 + s2 + s3;
        rbest = fmin(rbest, now() - t0);
    }
    g_read_gbs = n / rbest / 1e9;
    if (sink == 42) printf(" "); // keeps the read loop from being optimized away
    printf("memory: memcpy %.1f GB/s copied (%.1f GB/s traffic), read %.1f GB/s (1 thread, 256 MiB)\n",
           n / best / 1e9, 2 * n / best / 1e9, g_read_gbs);
    free(a), free(b);
}

// ---- llama.cpp's kernels as the peer -------------------------------------------------------
typedef void (*ggml_dot_fn)(int, float *, size_t, const void *, size_t, const void *, size_t, int);
static void *g_cpu;
static ggml_dot_fn peer_dot(kite_type t) {
    if (!g_cpu) return NULL;
#ifndef HAVE_PEER
    return NULL;
#else
    char name[64];
    const char *p = kite_type_name(kite_matmul_act_type(t));
    if (t == KITE_TYPE_F32 || t == KITE_TYPE_F16 || t == KITE_TYPE_BF16) snprintf(name, sizeof name, "ggml_vec_dot_%s", kite_type_name(t));
    else snprintf(name, sizeof name, "ggml_vec_dot_%s_%s", kite_type_name(t), p);
    return (ggml_dot_fn)dlsym(g_cpu, name);
#endif
}
#ifdef HAVE_PEER
// True when this host can run the kernel set named isa.
static bool has_isa(const char *isa) {
    for (int i = 0; i < kite_kernels_isa_count(); i++)
        if (!strcmp(kite_kernels_isa_name(i), isa)) return true;
    return false;
}
#endif
static void open_peer(void) {
#ifndef HAVE_PEER
    printf("peer: none inside wasm (compare with wllama end to end in the browser)\n");
}
#else
    const char *root = getenv("KITE_ROOT");
    const char *var = has_isa("avx512") ? "zen4" : has_isa("avx2") ? "haswell" : "x64";
    char path[4096];
    snprintf(path, sizeof path, "%s/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-cpu-%s.so", root && *root ? root : ".", var);
    g_cpu = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!g_cpu) { printf("peer: llama.cpp CPU library not loadable (%s): peer columns empty\n", dlerror()); return; }
    void (*init)(void) = (void (*)(void))dlsym(g_cpu, "ggml_cpu_init");
    if (init) init();
    printf("peer: llama.cpp vec_dot from libggml-cpu-%s.so (node-llama-cpp), rows split over the same pool\n", var);
}
#endif

typedef struct peer_job {
    ggml_dot_fn dot;
    int n;
    const char *w;
    size_t ws;
    int64_t n_out;
    const void *a;
    float *y;
} peer_job;
static void peer_worker(void *ctx, int ith, int nth) {
    peer_job *j = ctx;
    int64_t per = (j->n_out + nth - 1) / nth, r0 = per * ith, r1 = r0 + per < j->n_out ? r0 + per : j->n_out;
    for (int64_t r = r0; r < r1; r++) j->dot(j->n, &j->y[r], 0, j->w + r * j->ws, 0, j->a, 0, 1);
}

// ---- one shape ---------------------------------------------------------------------------
typedef struct shape { const char *name; int n_in, n_out; } shape;

// Runs GEMV over enough copies of the matrix to leave the caches (as decode does: every
// weight once per token) and returns GB/s of weight bytes; peer => llama.cpp's vec_dot.
static double run_gemv(kite_pool *pool, kite_type t, const shape *s, unsigned char *w, size_t mbytes, int copies,
                       const float *x, float *y, void *scr, size_t ss, bool peer, double min_time) {
    ggml_dot_fn pd = peer ? peer_dot(t) : NULL;
    if (peer && !pd) return -1;
    void *aq = NULL;
    if (peer) { // activations converted once, as ggml does
        aq = malloc(ss);
        kite_type p = kite_matmul_act_type(t);
        if (p == KITE_TYPE_Q8_0) kite_quantize_row_q8_0_ref(x, aq, s->n_in);
        else if (p == KITE_TYPE_Q8_1) kite_quantize_row_q8_1_ref(x, aq, s->n_in);
        else if (p == KITE_TYPE_Q8_K) kite_quantize_row_q8_K_ref(x, aq, s->n_in);
        else if (p == KITE_TYPE_F16) for (int i = 0; i < s->n_in; i++) ((kite_f16 *)aq)[i] = kite_f32_to_f16(x[i]);
        else if (p == KITE_TYPE_BF16) for (int i = 0; i < s->n_in; i++) ((kite_bf16 *)aq)[i] = kite_f32_to_bf16(x[i]);
        else memcpy(aq, x, (size_t)s->n_in * 4);
    }
    int calls = 0;
    double t0 = now(), el;
    do {
        const unsigned char *m = w + (size_t)(calls % copies) * mbytes;
        if (peer) {
            peer_job j = {pd, s->n_in, (const char *)m, mbytes / s->n_out, s->n_out, aq, y};
            kite_pool_run(pool, peer_worker, &j);
        } else {
            kite_matmul(pool, t, m, s->n_in, s->n_out, x, 1, y, scr, ss);
        }
        calls++;
        el = now() - t0;
    } while (el < min_time || calls < 3);
    free(aq);
    return (double)mbytes * calls / el / 1e9;
}

static double run_gemm(kite_pool *pool, kite_type t, const shape *s, const unsigned char *w, int n_tok, const float *x,
                       float *y, void *scr, size_t ss, double min_time) {
    int calls = 0;
    double t0 = now(), el;
    do {
        kite_matmul(pool, t, w, s->n_in, s->n_out, x, n_tok, y, scr, ss);
        calls++;
        el = now() - t0;
    } while (el < min_time || calls < 2);
    return 2.0 * s->n_in * s->n_out * n_tok * calls / el / 1e9;
}

// Hot-weight GEMV (decode of a matrix that stays in cache: the kernels' own rate, which is what
// wasm decode is bound by), one thread, timed in CPU seconds, the types interleaved over rounds
// and the best round kept: GB/s of weight bytes per type, and the ratio to the first type.
// x8: also each type with an X8 layout (kite_matmul_x8_type) in it, as the load repacks it
// (a row "q4_K/x8").
// cold: an 8192 x 8192 matrix instead, larger than the last-level cache.
static void hot_gemv(const kite_type *types, int nt, double min_time, bool x8, bool cold) {
    enum { ROUNDS = 7, MAXT = 32 };
    shape s =
        cold ? (shape){"8192->8192, larger than the caches", 8192, 8192} : (shape){"ffn_down 1536->576", 1536, 576};
    const char *cs = getenv("KITE_COLD_SHAPE");
    if (cold && cs && sscanf(cs, "%d,%d", &s.n_in, &s.n_out) == 2) s.name = cs;
    unsigned char *w[MAXT];
    size_t mb[MAXT];
    float *x = malloc((size_t)s.n_in * 4), *y = malloc((size_t)s.n_out * 4);
    for (int i = 0; i < s.n_in; i++) x[i] = rndf();
    size_t ss = 0;
    for (int ti = 0; ti < nt && ti < MAXT; ti++) ss = fmax(ss, kite_matmul_scratch_size(types[ti], s.n_in, 1));
    void *scr = malloc(ss);
    double best[MAXT], pbest[MAXT], best8[MAXT];
    void *aq[MAXT], *w8[MAXT];
    for (int ti = 0; ti < nt && ti < MAXT; ti++) {
        pbest[ti] = 0, aq[ti] = NULL, w8[ti] = NULL, best8[ti] = 0;
        if (peer_dot(types[ti])) { // llama.cpp's vec_dot on the same rows, activations converted once
            kite_type p = kite_matmul_act_type(types[ti]);
            aq[ti] = malloc((size_t)kite_type_row_bytes(p, s.n_in));
            if (p == KITE_TYPE_Q8_0) kite_quantize_row_q8_0_ref(x, aq[ti], s.n_in);
            else if (p == KITE_TYPE_Q8_K) kite_quantize_row_q8_K_ref(x, aq[ti], s.n_in);
            else if (p == KITE_TYPE_Q8_1) kite_quantize_row_q8_1_ref(x, aq[ti], s.n_in);
            else free(aq[ti]), aq[ti] = NULL;
        }
        mb[ti] = (size_t)kite_type_row_bytes(types[ti], s.n_in) * s.n_out;
        w[ti] = malloc(mb[ti]);
        fill(types[ti], w[ti], mb[ti], s.n_in);
        best[ti] = 0;
        if (x8 && kite_matmul_x8_type(types[ti]) && (w8[ti] = malloc(mb[ti])))
            kite_matmul_repack_x8(types[ti], w[ti], w8[ti], s.n_in, s.n_out);
    }
    for (int round = 0; round < ROUNDS; round++)
        for (int ti = 0; ti < nt && ti < MAXT; ti++) {
            int calls = 0;
            double el = 0;
            CPU_TIMED(calls, el, min_time / ROUNDS, 3, kite_matmul(NULL, types[ti], w[ti], s.n_in, s.n_out, x, 1, y, scr, ss));
            best[ti] = fmax(best[ti], (double)mb[ti] * calls / el / 1e9);
            if (w8[ti]) {
                calls = 0;
                CPU_TIMED(calls, el, min_time / ROUNDS, 3,
                          kite_matmul_layout(NULL, types[ti], KITE_LAYOUT_X8, w8[ti], s.n_in, s.n_out, x, 1, y, scr, ss));
                best8[ti] = fmax(best8[ti], (double)mb[ti] * calls / el / 1e9);
            }
            if (!aq[ti]) continue;
            const ggml_dot_fn pd = peer_dot(types[ti]);
            const size_t ws = mb[ti] / s.n_out;
            calls = 0;
            CPU_TIMED(calls, el, min_time / ROUNDS, 3,
                      for (int r = 0; r < s.n_out; r++) pd(s.n_in, &y[r], 0, w[ti] + r * ws, 0, aq[ti], 0, 1));
            pbest[ti] = fmax(pbest[ti], (double)mb[ti] * calls / el / 1e9);
        }
    printf("\nGEMV with %s weights (%s, 1 thread, best of %d interleaved rounds, CPU time), kernel set %s\n",
           cold ? "cold" : "hot", s.name, ROUNDS, kite_kernels_isa());
    printf("%-8s %10s %10s %12s %14s\n", "type", "bits/w", "GB/s", "vs first", "llama.cpp GB/s");
    for (int ti = 0; ti < nt && ti < MAXT; ti++) {
        char pc[48] = "";
        if (pbest[ti] > 0) snprintf(pc, sizeof pc, "%6.2f (x%.2f)", pbest[ti], best[ti] / pbest[ti]);
        printf("%-8s %10.3f %10.2f %11.2fx %14s\n", kite_type_name(types[ti]), 8.0 * mb[ti] / ((double)s.n_in * s.n_out),
               best[ti], best[ti] / best[0], pc);
        if (w8[ti]) {
            char n8[32];
            snprintf(n8, sizeof n8, "%s/x8", kite_type_name(types[ti]));
            printf("%-8s %10.3f %10.2f %11.2fx\n", n8, 8.0 * mb[ti] / ((double)s.n_in * s.n_out), best8[ti],
                   best8[ti] / best[0]);
        }
        free(w[ti]), free(aq[ti]), free(w8[ti]);
    }
    free(x), free(y), free(scr);
}

// Hot-weight GEMM (prefill of a matrix that stays in cache), n_tok tokens, one thread, CPU time,
// the types interleaved over rounds and the best round kept: GOP/s (2 ops per multiply-add) on
// each SmolLM2-135M shape whose rows the type's blocks divide.
// x8: also each type with an X8 layout in it (a row "q4_K/x8": the X8 read-back per row block).
static void hot_gemm(const kite_type *types, int nt, int n_tok, double min_time, bool x8) {
    enum { ROUNDS = 5, MAXT = 32, NS = 3 };
    static const shape S[NS] = {{"attn_q 576->576", 576, 576}, {"ffn_up 576->1536", 576, 1536}, {"ffn_down 1536->576", 1536, 576}};
    printf("\nGEMM with hot weights (%d tokens, 1 thread, best of %d interleaved rounds, CPU time), kernel set %s, GOP/s\n",
           n_tok, ROUNDS, kite_kernels_isa());
    printf("%-8s", "type");
    for (int si = 0; si < NS; si++) printf(" %20s", S[si].name);
    printf("\n");
    for (int ti = 0, pass = 0; ti < nt && ti < MAXT; pass = x8 && !pass && kite_matmul_x8_type(types[ti]), ti += !pass) {
        const kite_weight_layout lay = pass ? KITE_LAYOUT_X8 : KITE_LAYOUT_ROWS; // pass 1: the same type in X8
        double best[NS] = {0};
        unsigned char *w[NS] = {0};
        for (int si = 0; si < NS; si++) {
            if (S[si].n_in % kite_type_get(types[ti])->block_size) continue;
            size_t mb = (size_t)kite_type_row_bytes(types[ti], S[si].n_in) * S[si].n_out;
            w[si] = malloc(mb);
            fill(types[ti], w[si], mb, S[si].n_in);
            if (pass) kite_matmul_repack_x8(types[ti], w[si], w[si], S[si].n_in, S[si].n_out);
        }
        float *x = malloc((size_t)1536 * n_tok * 4), *y = malloc((size_t)1536 * n_tok * 4);
        for (int i = 0; i < 1536 * n_tok; i++) x[i] = rndf();
        size_t ss = kite_matmul_scratch_size(types[ti], 1536, n_tok);
        void *scr = malloc(ss);
        for (int round = 0; round < ROUNDS; round++)
            for (int si = 0; si < NS; si++) {
                if (!w[si]) continue;
                int calls = 0;
                double el = 0;
                CPU_TIMED(calls, el, min_time / ROUNDS, 2,
                          kite_matmul_layout(NULL, types[ti], lay, w[si], S[si].n_in, S[si].n_out, x, n_tok, y, scr, ss));
                best[si] = fmax(best[si], 2.0 * S[si].n_in * S[si].n_out * n_tok * calls / el / 1e9);
            }
        char name[32];
        snprintf(name, sizeof name, "%s%s", kite_type_name(types[ti]), pass ? "/x8" : "");
        printf("%-8s", name);
        for (int si = 0; si < NS; si++) {
            if (w[si]) printf(" %20.2f", best[si]);
            else printf(" %20s", "n/a");
            free(w[si]);
        }
        printf("\n");
        fflush(stdout);
        free(x), free(y), free(scr);
    }
}

// Attention (--attn): kite_kernels_attend_group as the 768-wide model (bench/make_random_model.c
// ... iq: 12 query heads over 4 KV heads, head size 64) runs it, at several cache depths, per
// kernel set, CPU time, best of interleaved rounds. Decode: FA_F16, a group of 3 queries over n_kv
// cached keys; prints microseconds per group call and per token (12 layers x 4 KV heads), hot
// (the cache rows stay in L1/L2 between calls) and cold (64 MiB are written between calls, as a
// decode's weight stream evicts the KV cache between two layers: this is the op's cost inside a
// model). Prefill: FA_F32 (steps of 64+ tokens), a group of 6 queries (2 consecutive tokens x 3
// heads, seeing n_kv - 1 and n_kv keys), hot only (a prefill's consecutive groups read the same
// rows); microseconds per group call [per prefill token at that depth: 12 layers x 4 KV heads / 2].
// The cache holds f16 values of random activations in [-1, 1), laid out as the CPU backend's:
// each KV head's rows contiguous (head_dim apart), or with --kv-rows as before 2026-12-06, a
// position's KV heads side by side (rows NKVH * head_dim apart).
static bool kv_rows_layout;

// The op's view of KV head 1 of a cache of maxn positions, NKVH heads of hd: its first row and
// the elements between its rows.
static int kv_head1(int maxn, int nkvh, int hd, int *stride) {
    *stride = kv_rows_layout ? nkvh * hd : hd;
    return kv_rows_layout ? hd : maxn * hd;
}

static void attn_bench(double min_time, const char *only_isa) {
    enum { ROUNDS = 5, HD = 64, NKVH = 4, GROUP = 3, LAYERS = 12, MAXN = 2048, ND = 5, NM = 2 };
    static const int depths[ND] = {128, 512, 1024, 1536, 2048};
    int stride;
    const int head1 = kv_head1(MAXN, NKVH, HD, &stride);
    uint16_t *k = malloc(sizeof(uint16_t) * MAXN * NKVH * HD), *v = malloc(sizeof(uint16_t) * MAXN * NKVH * HD);
    float *scores = malloc(sizeof(float) * KITE_ATTN_GROUP_MAX * MAXN);
    static float q[2 * GROUP][HD], out[2 * GROUP][HD];
    for (int i = 0; i < MAXN * NKVH * HD; i++) k[i] = kite_f32_to_f16(rndf()), v[i] = kite_f32_to_f16(rndf());
    for (int i = 0; i < 2 * GROUP; i++)
        for (int d = 0; d < HD; d++) q[i][d] = 2.0f * rndf();
    enum { JUNK = 64 << 20, COLD_CALLS = 16 };
    unsigned char *junk = calloc(JUNK, 1);
    // cold calls are timed one by one on the wall clock: only where it ticks finely (not in a
    // page, whose clock is coarsened)
    double tick = 0;
    for (double a = now(), b; tick == 0;) tick = (b = now()) - a;
    const bool cold_ok = tick < 10e-6;
    const char *d0 = kite_kernels_isa();
    for (int mi = 0; mi < NM; mi++) {
        const bool f32 = mi == 1;
        const int nq = f32 ? 2 * GROUP : GROUP;
        if (f32)
            printf("\nPrefill attention (FA_F32, %d queries: 2 tokens x %d heads of a KV head, head size %d, 1 thread, "
                   "CPU time, best of %d rounds):\nmicroseconds per group call [per prefill token: %d layers x %d KV "
                   "heads / 2]\n", nq, GROUP, HD, ROUNDS, LAYERS, NKVH);
        else
            printf("\nDecode attention (FA_F16, %d queries per KV head, head size %d, 1 thread, CPU time, best of %d "
                   "rounds):\nmicroseconds per group call [per token: %d layers x %d KV heads]\n", nq, HD, ROUNDS,
                   LAYERS, NKVH);
        printf("%-14s", "isa");
        for (int di = 0; di < ND; di++) printf("   n_kv %4d          ", depths[di]);
        printf("\n");
        const double per_tok = f32 ? LAYERS * NKVH / 2.0 : LAYERS * NKVH;
        for (int ii = kite_kernels_isa_count() - 1; ii >= 0; ii--) {
            const char *isa = kite_kernels_isa_name(ii);
            if (only_isa && strcmp(only_isa, isa)) continue;
            kite_kernels_set_isa(isa);
            double best[ND], cold[ND];
            for (int di = 0; di < ND; di++) best[di] = cold[di] = 1e30;
            for (int round = 0; round < ROUNDS; round++)
                for (int di = 0; di < ND; di++) {
                    kite_attn_group g = {.mode = f32 ? KITE_ATTN_FA_F32 : KITE_ATTN_FA_F16, .n_q = nq, .head_dim = HD,
                                         .kv_stride = stride, .scores_stride = MAXN, .scale = 0.125f, .k = k + head1,
                                         .v = v + head1, .scores = scores};
                    for (int i = 0; i < nq; i++)
                        g.q[i] = q[i], g.out[i] = out[i], g.n_kv[i] = depths[di] - (f32 && i < GROUP ? 1 : 0);
                    int calls = 0;
                    double el = 0;
                    CPU_TIMED(calls, el, (ii == 0 ? 0.25 : 1.0) * min_time / ROUNDS, 4, kite_kernels_attend_group(&g));
                    best[di] = fmin(best[di], 1e6 * el / calls);
                    if (ii == 0 || !cold_ok || f32) continue; // the scalar op and prefill: hot only
                    double t = 0;
                    for (int c = 0; c < COLD_CALLS; c++) {
                        for (size_t x = 0; x < JUNK; x += 64) junk[x] = (unsigned char)(junk[x] + 1);
                        const double t0 = now();
                        kite_kernels_attend_group(&g);
                        t += now() - t0;
                    }
                    cold[di] = fmin(cold[di], 1e6 * t / COLD_CALLS);
                }
            printf("%-14s", isa);
            for (int di = 0; di < ND; di++) printf(" %7.2f [%8.1f]    ", best[di], best[di] * per_tok);
            printf("\n");
            if (ii > 0 && !f32 && !cold_ok) printf("  cold: n/a (the wall clock ticks every %.1f us here)\n", tick * 1e6);
            if (ii > 0 && !f32 && cold_ok) {
                printf("%-14s", "  cold");
                for (int di = 0; di < ND; di++) printf(" %7.2f [%8.1f]    ", cold[di], cold[di] * per_tok);
                printf("\n");
            }
            fflush(stdout);
        }
    }
    kite_kernels_set_isa(d0);
    free(k), free(v), free(scores), free(junk);
}

// Prefill attention at depth (--attn-prefill): kite_kernels_attend_group in FA_F32 mode (steps of
// 64+ tokens), as a prefill task of the 768-wide model runs it: 3 query heads of one KV head x 2
// consecutive tokens (n_kv keys, n_kv + 1 for the second token), head size 64, per kernel set but
// the scalar one, hot, CPU time, best of interleaved rounds. Prints microseconds per group call
// and nanoseconds per query and key (scores, softmax with its expf, values).
static void attn_prefill_bench(double min_time, const char *only_isa) {
    enum { ROUNDS = 5, HD = 64, NKVH = 4, GROUP = 6, MAXN = 2048 + 1, ND = 3 };
    static const int depths[ND] = {128, 512, 2048};
    int stride;
    const int head1 = kv_head1(MAXN, NKVH, HD, &stride);
    uint16_t *k = malloc(sizeof(uint16_t) * MAXN * NKVH * HD), *v = malloc(sizeof(uint16_t) * MAXN * NKVH * HD);
    float *scores = malloc(sizeof(float) * KITE_ATTN_GROUP_MAX * MAXN);
    static float q[GROUP][HD], out[GROUP][HD];
    for (int i = 0; i < MAXN * NKVH * HD; i++) k[i] = kite_f32_to_f16(rndf()), v[i] = kite_f32_to_f16(rndf());
    for (int i = 0; i < GROUP; i++)
        for (int d = 0; d < HD; d++) q[i][d] = 2.0f * rndf();
    printf("\nPrefill attention (FA_F32, %d queries per KV head: 3 heads x 2 tokens, head size %d, 1 thread, CPU "
           "time, best of %d rounds):\nmicroseconds per group call [ns per query and key]\n",
           GROUP, HD, ROUNDS);
    printf("%-14s", "isa");
    for (int di = 0; di < ND; di++) printf("   n_kv %4d        ", depths[di]);
    printf("\n");
    const char *d0 = kite_kernels_isa();
    for (int ii = kite_kernels_isa_count() - 1; ii >= 1; ii--) {
        const char *isa = kite_kernels_isa_name(ii);
        if (only_isa && strcmp(only_isa, isa)) continue;
        kite_kernels_set_isa(isa);
        double best[ND];
        for (int di = 0; di < ND; di++) best[di] = 1e30;
        for (int round = 0; round < ROUNDS; round++)
            for (int di = 0; di < ND; di++) {
                kite_attn_group g = {.mode = KITE_ATTN_FA_F32, .n_q = GROUP, .head_dim = HD, .kv_stride = stride,
                                     .scores_stride = MAXN, .scale = 0.125f, .k = k + head1, .v = v + head1,
                                     .scores = scores};
                for (int i = 0; i < GROUP; i++) g.q[i] = q[i], g.out[i] = out[i], g.n_kv[i] = depths[di] + i / 3;
                int calls = 0;
                double el = 0;
                CPU_TIMED(calls, el, min_time / ROUNDS, 4, kite_kernels_attend_group(&g));
                best[di] = fmin(best[di], 1e6 * el / calls);
            }
        printf("%-14s", isa);
        for (int di = 0; di < ND; di++) printf(" %8.2f [%6.2f]    ", best[di], 1e3 * best[di] / GROUP / depths[di]);
        printf("\n");
        fflush(stdout);
    }
    kite_kernels_set_isa(d0);
    free(k), free(v), free(scores);
}

int main(int argc, char **argv) {
    static const kite_type DEFAULT[] = {KITE_TYPE_Q8_0, KITE_TYPE_Q4_0, KITE_TYPE_Q5_0, KITE_TYPE_Q4_K, KITE_TYPE_Q5_K, KITE_TYPE_Q6_K, KITE_TYPE_F16};
    static const kite_type ALL[] = {KITE_TYPE_Q8_0, KITE_TYPE_Q4_0, KITE_TYPE_Q4_1, KITE_TYPE_Q5_0, KITE_TYPE_Q5_1,
                                    KITE_TYPE_IQ4_NL, KITE_TYPE_Q2_K, KITE_TYPE_Q3_K, KITE_TYPE_Q4_K, KITE_TYPE_Q5_K,
                                    KITE_TYPE_Q6_K, KITE_TYPE_IQ4_XS, KITE_TYPE_F16, KITE_TYPE_BF16, KITE_TYPE_F32,
                                    KITE_TYPE_IQ2_XXS, KITE_TYPE_IQ2_XS, KITE_TYPE_IQ2_S, KITE_TYPE_IQ3_XXS,
                                    KITE_TYPE_IQ3_S, KITE_TYPE_IQ1_S, KITE_TYPE_IQ1_M, KITE_TYPE_TQ1_0, KITE_TYPE_TQ2_0,
                                    KITE_TYPE_MXFP4};
    static const kite_type IQ[] = {KITE_TYPE_Q4_K, KITE_TYPE_IQ4_NL, KITE_TYPE_IQ4_XS, KITE_TYPE_IQ2_XXS,
                                   KITE_TYPE_IQ2_XS, KITE_TYPE_IQ2_S, KITE_TYPE_IQ3_XXS, KITE_TYPE_IQ3_S,
                                   KITE_TYPE_IQ1_S, KITE_TYPE_IQ1_M, KITE_TYPE_TQ1_0, KITE_TYPE_TQ2_0, KITE_TYPE_MXFP4};
    kite_type types[32];
    int nt = 0;
    bool quick = false, hot_only = false, gemm_only = false, x8 = false, cold = false, attn_only = false;
    bool attn_prefill = false;
    const char *only_isa = NULL;
    for (int i = 0; i < (int)(sizeof DEFAULT / sizeof DEFAULT[0]); i++) types[nt++] = DEFAULT[i];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--all")) {
            nt = 0;
            for (int k = 0; k < (int)(sizeof ALL / sizeof ALL[0]); k++) types[nt++] = ALL[k];
        } else if (!strcmp(argv[i], "--iq")) {
            nt = 0;
            for (int k = 0; k < (int)(sizeof IQ / sizeof IQ[0]); k++) types[nt++] = IQ[k];
        } else if (!strcmp(argv[i], "--hot")) {
            hot_only = true;
        } else if (!strcmp(argv[i], "--cold")) {
            hot_only = cold = true;
        } else if (!strcmp(argv[i], "--gemm")) {
            gemm_only = true;
        } else if (!strcmp(argv[i], "--attn")) {
            attn_only = true;
        } else if (!strcmp(argv[i], "--attn-prefill")) {
            attn_prefill = true;
        } else if (!strcmp(argv[i], "--kv-rows")) {
            kv_rows_layout = true;
        } else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
            only_isa = argv[++i];
        } else if (!strcmp(argv[i], "--x8")) {
            x8 = true;
        } else if (!strcmp(argv[i], "--quick")) {
            quick = true;
        } else if (!strcmp(argv[i], "--types") && i + 1 < argc) {
            nt = 0;
            for (char *tok = strtok(argv[++i], ","); tok && nt < 32; tok = strtok(NULL, ","))
                if (kite_type_from_name(tok, &types[nt])) nt++;
        } else {
            fprintf(stderr, "usage: %s [--all] [--iq] [--hot | --cold | --gemm | --attn | --attn-prefill] [--kv-rows] [--isa NAME] [--x8] [--quick] [--types q8_0,q4_K,...]\n",
                    argv[0]);
            return 2;
        }
    }
    const double min_time = quick ? 0.05 : 0.2;
    // SmolLM2-135M: n_embd 576, n_ff 1536, vocab 49152 (q/o 576x576, gate/up, down, output)
    static const shape SHAPES[] = {{"attn_q 576->576", 576, 576}, {"ffn_up 576->1536", 576, 1536},
                                   {"ffn_down 1536->576", 1536, 576}, {"output 576->49152", 576, 49152}};
    if (attn_only) {
        attn_bench(min_time * 10, only_isa);
        return 0;
    }
    if (attn_prefill) {
        attn_prefill_bench(min_time * 10, only_isa);
        return 0;
    }
    if (gemm_only) { // the hot-weight GEMM table alone, for the default set and every other but scalar
        const char *d0 = kite_kernels_isa();
        for (int ii = kite_kernels_isa_count() - 1; ii >= 1; ii--) {
            if (only_isa && strcmp(only_isa, kite_kernels_isa_name(ii))) continue;
            kite_kernels_set_isa(kite_kernels_isa_name(ii));
            hot_gemm(types, nt, 128, min_time * 10, x8);
        }
        kite_kernels_set_isa(d0);
        return 0;
    }
    if (hot_only) { // the hot-weight table alone, for the default set and every other one
        open_peer();
        const char *d0 = kite_kernels_isa();
        for (int ii = kite_kernels_isa_count() - 1; ii >= 0; ii--) {
            if (only_isa && strcmp(only_isa, kite_kernels_isa_name(ii))) continue;
            kite_kernels_set_isa(kite_kernels_isa_name(ii));
            hot_gemv(types, nt, min_time * 10, x8, cold);
        }
        kite_kernels_set_isa(d0);
        return 0;
    }
    bandwidth();
    open_peer();
    kite_pool *pools[2] = {NULL, kite_pool_new(2)};
    const char *dflt = kite_kernels_isa();
    printf("default kernel set: %s\n\n", dflt);
    printf("GEMV (decode, cold weights: every call reads a different copy), weight GB/s [%% of read bandwidth]\n");
    printf("%-8s %-20s %-8s %16s %16s %16s %16s\n", "type", "shape", "isa", "1 thread", "2 threads", "llama.cpp 1t",
           "llama.cpp 2t");
    for (int ti = 0; ti < nt; ti++) {
        kite_type t = types[ti];
        for (size_t si = 0; si < sizeof SHAPES / sizeof SHAPES[0]; si++) {
            const shape *s = &SHAPES[si];
            if (s->n_in % kite_type_get(t)->block_size) {
                printf("%-8s %-20s (n/a: %d is not a multiple of %u; llama.cpp falls back to another type)\n",
                       kite_type_name(t), s->name, s->n_in, kite_type_get(t)->block_size);
                continue;
            }
            size_t mbytes = (size_t)kite_type_row_bytes(t, s->n_in) * s->n_out;
            int copies = (int)((((size_t)160 << 20) + mbytes - 1) / mbytes); // 160 MiB: beyond any L3 here
            unsigned char *w = malloc(mbytes * copies);
            fill(t, w, mbytes * copies, s->n_in);
            float *x = malloc((size_t)s->n_in * 64 * 4), *y = malloc((size_t)s->n_out * 64 * 4);
            for (int i = 0; i < s->n_in * 64; i++) x[i] = rndf();
            size_t ss = kite_matmul_scratch_size(t, s->n_in, 64);
            void *scr = malloc(ss);
            for (int ii = kite_kernels_isa_count() - 1; ii >= 0; ii--) {
                const char *isa = kite_kernels_isa_name(ii);
                if (quick && ii == 0 && kite_kernels_isa_count() > 1) continue;
                kite_kernels_set_isa(isa);
                double g[2];
                for (int th = 0; th < 2; th++)
                    g[th] = run_gemv(pools[th], t, s, w, mbytes, copies, x, y, scr, ss, false, ii == 0 ? min_time / 4 : min_time);
                char c1[32] = "", c2[32] = "";
                if (ii == kite_kernels_isa_count() - 1) {
                    double p1 = run_gemv(pools[0], t, s, w, mbytes, copies, x, y, scr, ss, true, min_time);
                    double p2 = run_gemv(pools[1], t, s, w, mbytes, copies, x, y, scr, ss, true, min_time);
                    if (p1 > 0) snprintf(c1, sizeof c1, "%6.1f (x%.2f)", p1, g[0] / p1);
                    if (p2 > 0) snprintf(c2, sizeof c2, "%6.1f (x%.2f)", p2, g[1] / p2);
                }
                printf("%-8s %-20s %-8s %8.1f [%3.0f%%] %8.1f [%3.0f%%] %16s %16s\n", kite_type_name(t), s->name, isa, g[0],
                       100 * g[0] / g_read_gbs, g[1], 100 * g[1] / g_read_gbs, c1, c2);
                fflush(stdout);
            }
            free(w), free(x), free(y), free(scr);
        }
    }
    printf("\nGEMM (prefill, 64 tokens, hot weights), GOP/s (2 ops per multiply-add), x = vs scalar\n");
    printf("%-8s %-20s %-8s %12s %12s\n", "type", "shape", "isa", "1 thread", "2 threads");
    for (int ti = 0; ti < nt; ti++) {
        kite_type t = types[ti];
        const shape *s = &SHAPES[2]; // ffn_down: 1536 wide, a multiple of every block size
        size_t mbytes = (size_t)kite_type_row_bytes(t, s->n_in) * s->n_out;
        unsigned char *w = malloc(mbytes);
        fill(t, w, mbytes, s->n_in);
        float *x = malloc((size_t)s->n_in * 64 * 4), *y = malloc((size_t)s->n_out * 64 * 4);
        for (int i = 0; i < s->n_in * 64; i++) x[i] = rndf();
        size_t ss = kite_matmul_scratch_size(t, s->n_in, 64);
        void *scr = malloc(ss);
        double scalar1 = 0;
        for (int ii = 0; ii < kite_kernels_isa_count(); ii++) {
            kite_kernels_set_isa(kite_kernels_isa_name(ii));
            double g1 = run_gemm(pools[0], t, s, w, 64, x, y, scr, ss, min_time / (ii == 0 ? 4 : 1));
            double g2 = run_gemm(pools[1], t, s, w, 64, x, y, scr, ss, min_time / (ii == 0 ? 4 : 1));
            if (ii == 0) scalar1 = g1;
            printf("%-8s %-20s %-8s %6.1f x%-4.0f %6.1f\n", kite_type_name(t), s->name, kite_kernels_isa_name(ii), g1,
                   g1 / scalar1, g2);
            fflush(stdout);
        }
        free(w), free(x), free(y), free(scr);
    }
    kite_kernels_set_isa(dflt);
    kite_pool_free(pools[1]);
#ifdef HAVE_PEER
    if (g_cpu) dlclose(g_cpu);
#endif
    return 0;
}
