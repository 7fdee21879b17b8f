// test_quant_blocks.c - every block format against llama.cpp itself: our quantized bytes vs
// ggml_quantize_chunk (what llama-quantize calls, no imatrix), our dequantized floats vs ggml's
// dequantize_row_* (bit-exact), on seeded data of several shapes; plus llama.cpp's round-trip
// error limits (tests/test-quantize-fns.cpp) and the row API's error paths.
#include "check.h"
#include "ggml_ref.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>

#include "kite.h"

// ---- the types under test ----------------------------------------------------------------

typedef struct {
    kite_type t;
    const char *dequant_sym; // ggml's dequantizer
    float max_rmse;          // test-quantize-fns.cpp's MAX_QUANTIZATION_TOTAL_ERROR* for the type
    int f16_off[2];          // byte offsets of f16 scale fields in a block (-1: none), to keep random blocks finite
} type_case;

static const type_case CASES[] = {
    {KITE_TYPE_F32, NULL, 0.002f, {-1, -1}},
    {KITE_TYPE_F16, "ggml_fp16_to_fp32_row", 0.002f, {-1, -1}},
    {KITE_TYPE_BF16, "ggml_bf16_to_fp32_row", 0.002f, {-1, -1}},
    {KITE_TYPE_Q4_0, "dequantize_row_q4_0", 0.002f, {0, -1}},
    {KITE_TYPE_Q4_1, "dequantize_row_q4_1", 0.002f, {0, 2}},
    {KITE_TYPE_Q5_0, "dequantize_row_q5_0", 0.002f, {0, -1}},
    {KITE_TYPE_Q5_1, "dequantize_row_q5_1", 0.002f, {0, 2}},
    {KITE_TYPE_Q8_0, "dequantize_row_q8_0", 0.002f, {0, -1}},
    {KITE_TYPE_Q2_K, "dequantize_row_q2_K", 0.0075f, {80, 82}},
    {KITE_TYPE_Q3_K, "dequantize_row_q3_K", 0.0040f, {108, -1}},
    {KITE_TYPE_Q4_K, "dequantize_row_q4_K", 0.002f, {0, 2}},
    {KITE_TYPE_Q5_K, "dequantize_row_q5_K", 0.002f, {0, 2}},
    {KITE_TYPE_Q6_K, "dequantize_row_q6_K", 0.002f, {208, -1}},
    {KITE_TYPE_IQ4_NL, "dequantize_row_iq4_nl", 0.002f, {0, -1}},
    {KITE_TYPE_IQ4_XS, "dequantize_row_iq4_xs", 0.002f, {0, -1}},
    {KITE_TYPE_TQ1_0, "dequantize_row_tq1_0", 0.01f, {52, -1}},
    {KITE_TYPE_TQ2_0, "dequantize_row_tq2_0", 0.01f, {64, -1}},
    {KITE_TYPE_MXFP4, "dequantize_row_mxfp4", 0.002f, {-1, -1}},
    {KITE_TYPE_IQ3_XXS, "dequantize_row_iq3_xxs", 0.0050f, {0, -1}},
    {KITE_TYPE_IQ3_S, "dequantize_row_iq3_s", 0.0040f, {0, -1}},
    {KITE_TYPE_IQ2_S, "dequantize_row_iq2_s", 0.0075f, {0, -1}},
    {KITE_TYPE_IQ1_M, "dequantize_row_iq1_m", 0.025f, {-1, -1}},
};
#define N_CASES (int)(sizeof CASES / sizeof CASES[0])

typedef size_t (*ggml_chunk_fn)(int type, const float *src, void *dst, int64_t start, int64_t nrows,
                                int64_t n_per_row, const float *imatrix);

// ---- seeded data -------------------------------------------------------------------------
// Integer PRNG and exact int->float scaling (powers of two) only, so every host generates the
// same floats.

static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}
// uniform in (-1, 1) on a 2^-23 grid
static float rnd_unit(void) { return (float)((int32_t)(rnd() & 0xFFFFFF) - 0x800000) * 0x1p-23f; }

enum { DIST_UNIFORM, DIST_GAUSS, DIST_ZEROS, DIST_TINY, DIST_HUGE, DIST_OUTLIERS, DIST_POSITIVE, DIST_COUNT };
static const char *DIST_NAME[] = {"uniform", "gauss", "zeros", "tiny", "huge", "outliers", "positive"};

static void fill(float *x, int64_t n, int dist, uint64_t seed) {
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        float v = rnd_unit();
        switch (dist) {
        case DIST_UNIFORM: break;
        case DIST_GAUSS: v = (v + rnd_unit() + rnd_unit() + rnd_unit()) * 0x1p-6f; break; // ~N(0, 0.009), weight-like
        case DIST_ZEROS:
            // the first 256 values all zero (a whole zero block of every size), then 40% zeros
            if (i < 256 || rnd() % 10 < 4) v = 0.0f;
            break;
        case DIST_TINY: v *= 0x1p-40f; break;                                       // ~1e-12, normal floats
        case DIST_HUGE: v *= 0x1p+14f; break;                                       // ~16384: scales near f16's top
        case DIST_OUTLIERS: v = (rnd() % 64 == 0) ? v * 64.0f : v * 0x1p-4f; break; // rare spikes
        case DIST_POSITIVE: v = 0.75f + 0.25f * v; break;                            // all > 0: exercises the min terms
        }
        x[i] = v;
    }
}

// ---- helpers -----------------------------------------------------------------------------

static uint64_t fnv1a(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static int64_t first_diff(const void *a, const void *b, size_t n) {
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return (int64_t)i;
    return -1;
}

// test-quantize-fns.cpp's metric: sqrt(sum of squared differences) / n (as written there).
static float rmse_ggml(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    return (float)(sqrt(s) / (double)n);
}

// Importance weights as llama-imatrix makes them (mean squared activations: >= 0, spread over
// orders of magnitude, some columns never active), in exact binary fractions.
enum { IMAT_SPREAD, IMAT_ZEROS, IMAT_ONES, IMAT_ALL_ZERO, IMAT_COUNT };
static const char *IMAT_NAME[] = {"spread", "some-zero", "ones", "all-zero"};

static void fill_imatrix(float *w, int64_t n, int kind, uint64_t seed) {
    rng_state = seed * 0x2545F4914F6CDD1Dull + 7;
    for (int64_t i = 0; i < n; i++) {
        float v = ldexpf((float)(1 + rnd() % 255), (int)(rnd() % 24) - 20); // 2^-20 .. ~2^11
        if (kind == IMAT_ZEROS && rnd() % 4 == 0) v = 0.0f;
        if (kind == IMAT_ONES) v = 1.0f;
        if (kind == IMAT_ALL_ZERO) v = 0.0f;
        w[i] = v;
    }
}

// ---- checks ------------------------------------------------------------------------------

// With an importance matrix: our bytes against ggml_quantize_chunk(..., imatrix) (the call
// llama_model_quantize makes for each tensor), every type, data distribution and weight kind.
// Also proves the weights are used: for the types that take them, some bytes must change.
static void compare_imatrix_with_ggml(void *h) {
    ggml_chunk_fn chunk = (ggml_chunk_fn)ggml_ref_sym(h, "ggml_quantize_chunk");
    if (!chunk) return;
    const int64_t lens32[] = {32, 96, 4096 + 32}, lensK[] = {256, 768, 4096};
    const int64_t nrows = 3;
    float *x = malloc(sizeof(float) * nrows * 4224), *w = malloc(sizeof(float) * 4224);
    uint8_t *qa = malloc(nrows * 4224 * 4), *qb = malloc(nrows * 4224 * 4), *qn = malloc(nrows * 4224 * 4);
    // the types ggml makes only with weights come after the CASES
    static const kite_type WEIGHTED_ONLY[] = {KITE_TYPE_IQ2_XXS, KITE_TYPE_IQ2_XS, KITE_TYPE_IQ1_S};
    const int n_w = (int)(sizeof WEIGHTED_ONLY / sizeof *WEIGHTED_ONLY);
    for (int c = 0; c < N_CASES + n_w; c++) {
        const type_case wo = {c >= N_CASES ? WEIGHTED_ONLY[c - N_CASES] : KITE_TYPE_F32, NULL, 0, {-1, -1}};
        const type_case *tc = c < N_CASES ? &CASES[c] : &wo;
        const kite_type_traits *tr = kite_type_get(tc->t);
        const int64_t *lens = tr->block_size == QK_K ? lensK : lens32;
        int bad = 0, changed = 0;
        for (int li = 0; li < 3; li++) {
            const int64_t npr = tr->block_size == 1 ? lens[li] + 3 : lens[li];
            const size_t bytes = (size_t)(nrows * kite_type_row_bytes(tc->t, (uint64_t)npr));
            for (int dist = 0; dist < DIST_COUNT; dist++) {
                for (int k = 0; k < IMAT_COUNT; k++) {
                    fill(x, nrows * npr, dist, (uint64_t)(c * 1000 + li * 10 + dist + 500));
                    fill_imatrix(w, npr, k, (uint64_t)(c * 100 + li * 10 + k));
                    memset(qa, 0, bytes);
                    memset(qb, 0xAA, bytes);
                    size_t got = chunk((int)tc->t, x, qa, 0, nrows, npr, w);
                    kite_status st = kite_quantize_rows_imatrix(tc->t, x, qb, nrows, npr, w);
                    CHECK(st == KITE_OK && got == bytes, "%s imatrix quantize status %d (%s)", tr->name, st, kite_last_error());
                    int64_t d = first_diff(qa, qb, bytes);
                    if (d >= 0 && bad++ < 3)
                        CHECK(d < 0, "%s %s imatrix %s n_per_row=%lld: byte %lld differs (ggml %02x, kite %02x)", tr->name,
                              DIST_NAME[dist], IMAT_NAME[k], (long long)npr, (long long)d, qa[d], qb[d]);
                    if (c >= N_CASES) changed += k == IMAT_SPREAD; // nothing to compare with
                    else if (k == IMAT_SPREAD && kite_quantize_rows(tc->t, x, qn, nrows, npr) == KITE_OK &&
                             memcmp(qn, qb, bytes) != 0)
                        changed++;
                }
            }
        }
        CHECK(bad == 0, "%s: %d imatrix quantize mismatches", tr->name, bad);
        bool takes = tr->quantized && tc->t != KITE_TYPE_Q8_0 && tc->t != KITE_TYPE_TQ1_0 && tc->t != KITE_TYPE_TQ2_0 &&
                     tc->t != KITE_TYPE_MXFP4; // ggml's quantizers of these ignore the weights
        CHECK(takes ? changed > 0 : changed == 0, "%s: the importance matrix changed %d of the outputs", tr->name, changed);
    }
    // without weights those types are refused, with a message (ggml asserts)
    for (int c = 0; c < n_w; c++) {
        fill(x, 256, DIST_GAUSS, 1);
        kite_status st = kite_quantize_rows(WEIGHTED_ONLY[c], x, qb, 1, 256);
        CHECK(st == KITE_ERR_INVALID && strstr(kite_last_error(), "importance matrix"), "%s without weights: %d %s",
              kite_type_name(WEIGHTED_ONLY[c]), st, kite_last_error());
        CHECK(kite_quant_can_quantize(WEIGHTED_ONLY[c]) && kite_quant_needs_imatrix(WEIGHTED_ONLY[c]), "%s: support flags",
              kite_type_name(WEIGHTED_ONLY[c]));
    }
    // a non-finite weight is refused with a message, as llama_model_quantize refuses the file
    fill(x, 256, DIST_GAUSS, 1);
    fill_imatrix(w, 256, IMAT_ONES, 1);
    w[17] = NAN;
    CHECK(kite_quantize_rows_imatrix(KITE_TYPE_Q4_K, x, qb, 1, 256, w) == KITE_ERR_INVALID &&
              strstr(kite_last_error(), "17"),
          "NaN importance weight accepted or not located: %s", kite_last_error());
    free(x), free(w), free(qa), free(qb), free(qn);
}

// The formats Kite reads (and runs) beyond those it has long made: random blocks (every code,
// scale and grid index) dequantized by ggml's dequantize_row_<type> and by Kite, bit for bit.
// The f16 scale is kept finite (bit 14 cleared) so NaN payloads cannot differ by path.
static void compare_new_dequant(void *h) {
    static const struct { kite_type t; const char *sym; int f16_off; } NEW[] = {
        {KITE_TYPE_IQ2_XXS, "dequantize_row_iq2_xxs", 0}, {KITE_TYPE_IQ2_XS, "dequantize_row_iq2_xs", 0},
        {KITE_TYPE_IQ2_S, "dequantize_row_iq2_s", 0},     {KITE_TYPE_IQ3_XXS, "dequantize_row_iq3_xxs", 0},
        {KITE_TYPE_IQ3_S, "dequantize_row_iq3_s", 0},     {KITE_TYPE_IQ1_S, "dequantize_row_iq1_s", 0},
        {KITE_TYPE_IQ1_M, "dequantize_row_iq1_m", 54},    {KITE_TYPE_TQ1_0, "dequantize_row_tq1_0", 52},
        {KITE_TYPE_TQ2_0, "dequantize_row_tq2_0", 64},    {KITE_TYPE_MXFP4, "dequantize_row_mxfp4", -1},
    };
    const int64_t n = 16 * QK_K;
    uint8_t *q = malloc((size_t)n);
    float *ya = malloc(sizeof(float) * (size_t)n), *yb = malloc(sizeof(float) * (size_t)n);
    for (size_t c = 0; c < sizeof NEW / sizeof *NEW; c++) {
        const kite_type_traits *tr = kite_type_get(NEW[c].t);
        ggml_row_fn deq = (ggml_row_fn)ggml_ref_sym(h, NEW[c].sym);
        CHECK(deq != NULL, "%s not exported", NEW[c].sym);
        CHECK(kite_quant_can_dequantize(NEW[c].t), "%s: kite cannot dequantize", tr->name);
        if (!deq) continue;
        const size_t bytes = (size_t)kite_type_row_bytes(NEW[c].t, (uint64_t)n);
        rng_state = 1234 + c;
        for (size_t i = 0; i < bytes; i++) q[i] = (uint8_t)rnd();
        for (int64_t b = 0; NEW[c].f16_off >= 0 && b < n / tr->block_size; b++) q[b * tr->type_size + NEW[c].f16_off + 1] &= 0xBF;
        deq(q, ya, n);
        kite_status st = kite_dequantize_row(NEW[c].t, q, yb, n);
        int64_t d = first_diff(ya, yb, sizeof(float) * (size_t)n);
        CHECK(st == KITE_OK && d < 0, "%s: dequantized float %lld differs (ggml %g, kite %g) status %d", tr->name,
              (long long)(d / 4), d >= 0 ? ya[d / 4] : 0.0f, d >= 0 ? yb[d / 4] : 0.0f, st);
    }
    free(q), free(ya), free(yb);
}

// Our bytes and our dequantized floats against llama.cpp's, for every type, distribution and
// row length.
static void compare_with_ggml(void *h) {
    ggml_chunk_fn chunk = (ggml_chunk_fn)ggml_ref_sym(h, "ggml_quantize_chunk");
    CHECK(chunk != NULL, "ggml_quantize_chunk not exported");
    if (!chunk) return;
    const int64_t lens32[] = {32, 96, 256, 4096 + 32}, lensK[] = {256, 768, 4096};
    const int64_t nrows = 3;
    float *x = malloc(sizeof(float) * nrows * 4224), *ya = malloc(sizeof(float) * nrows * 4224),
          *yb = malloc(sizeof(float) * nrows * 4224);
    uint8_t *qa = malloc(nrows * 4224 * 4), *qb = malloc(nrows * 4224 * 4);
    for (int c = 0; c < N_CASES; c++) {
        const type_case *tc = &CASES[c];
        const kite_type_traits *tr = kite_type_get(tc->t);
        ggml_row_fn deq = tc->dequant_sym ? (ggml_row_fn)ggml_ref_sym(h, tc->dequant_sym) : NULL;
        CHECK(!tc->dequant_sym || deq, "%s not exported", tc->dequant_sym);
        const int64_t *lens = tr->block_size == QK_K ? lensK : lens32;
        int n_lens = tr->block_size == QK_K ? 3 : 4;
        int bad_q = 0, bad_dq = 0;
        for (int li = 0; li < n_lens; li++) {
            const int64_t npr = tr->block_size == 1 ? lens[li] + 3 : lens[li]; // odd lengths for plain types
            const size_t bytes = (size_t)(nrows * kite_type_row_bytes(tc->t, (uint64_t)npr));
            for (int dist = 0; dist < DIST_COUNT; dist++) {
                fill(x, nrows * npr, dist, (uint64_t)(c * 1000 + li * 10 + dist));
                memset(qa, 0, bytes);
                memset(qb, 0, bytes);
                size_t got = chunk((int)tc->t, x, qa, 0, nrows, npr, NULL);
                kite_status st = kite_quantize_rows(tc->t, x, qb, nrows, npr);
                CHECK(st == KITE_OK && got == bytes, "%s quantize status %d (%s), ggml wrote %zu of %zu", tr->name, st,
                      kite_last_error(), got, bytes);
                int64_t d = first_diff(qa, qb, bytes);
                if (d >= 0 && bad_q++ < 3)
                    CHECK(d < 0, "%s %s n_per_row=%lld: byte %lld differs (ggml %02x, kite %02x)", tr->name, DIST_NAME[dist],
                          (long long)npr, (long long)d, qa[d], qb[d]);
                if (!deq) continue;
                deq(qb, ya, nrows * npr);
                st = kite_dequantize_row(tc->t, qb, yb, nrows * npr);
                d = first_diff(ya, yb, sizeof(float) * nrows * npr);
                if ((d >= 0 || st != KITE_OK) && bad_dq++ < 3)
                    CHECK(d < 0 && st == KITE_OK, "%s %s n_per_row=%lld: dequantized float %lld differs (ggml %g, kite %g)",
                          tr->name, DIST_NAME[dist], (long long)npr, (long long)(d / 4), ya[d / 4], yb[d / 4]);
            }
        }
        CHECK(bad_q == 0, "%s: %d quantize mismatches", tr->name, bad_q);
        CHECK(bad_dq == 0, "%s: %d dequantize mismatches", tr->name, bad_dq);

        // Dequantize arbitrary blocks too (codes and scales ggml's quantizer never emits), with
        // the f16/bf16 fields kept finite so NaN payloads cannot differ by path.
        if (deq) {
            const int64_t n = 8 * QK_K;
            const size_t bytes = (size_t)kite_type_row_bytes(tc->t, (uint64_t)n);
            rng_state = 77 + (uint64_t)c;
            for (size_t i = 0; i < bytes; i++) qa[i] = (uint8_t)rnd();
            if (tr->block_size == 1) {
                for (size_t i = 1; i < bytes; i += 2) qa[i] &= (uint8_t)(tc->t == KITE_TYPE_F16 ? 0xfb : 0xbf); // exp < max
            } else {
                for (size_t b = 0; b < bytes; b += tr->type_size)
                    for (int k = 0; k < 2; k++)
                        if (tc->f16_off[k] >= 0) qa[b + (size_t)tc->f16_off[k] + 1] &= 0xfb; // f16 exponent <= 30
            }
            deq(qa, ya, n);
            kite_status st = kite_dequantize_row(tc->t, qa, yb, n);
            int64_t d = first_diff(ya, yb, sizeof(float) * (size_t)n);
            CHECK(st == KITE_OK && d < 0, "%s random blocks: dequantized float %lld differs (ggml %g, kite %g)", tr->name,
                  (long long)(d / 4), d >= 0 ? ya[d / 4] : 0.0, d >= 0 ? yb[d / 4] : 0.0);
        }
    }

    // The activation formats against ggml's quantize_row_q8_*_ref (Q8_K also through the dequantizer).
    const char *names[] = {"quantize_row_q8_0_ref", "quantize_row_q8_1_ref", "quantize_row_q8_K_ref"};
    for (int k = 0; k < 3; k++) {
        ggml_row_fn ref = (ggml_row_fn)ggml_ref_sym(h, names[k]);
        CHECK(ref != NULL, "%s not exported", names[k]);
        if (!ref) continue;
        int bad = 0;
        for (int dist = 0; dist < DIST_COUNT; dist++) {
            const int64_t n = 4096;
            fill(x, n, dist, 5000u + (uint64_t)(k * 10 + dist));
            size_t bytes = k == 0 ? n / 32 * sizeof(block_q8_0) : k == 1 ? n / 32 * sizeof(block_q8_1) : n / QK_K * sizeof(block_q8_K);
            memset(qa, 0, bytes);
            memset(qb, 0, bytes);
            ref(x, qa, n);
            if (k == 0) kite_quantize_row_q8_0_ref(x, (block_q8_0 *)qb, n);
            if (k == 1) kite_quantize_row_q8_1_ref(x, (block_q8_1 *)qb, n);
            if (k == 2) kite_quantize_row_q8_K_ref(x, (block_q8_K *)qb, n);
            int64_t d = first_diff(qa, qb, bytes);
            if (d >= 0 && bad++ < 3) CHECK(d < 0, "%s %s: byte %lld differs", names[k], DIST_NAME[dist], (long long)d);
            if (k == 2) {
                ggml_row_fn deq = (ggml_row_fn)ggml_ref_sym(h, "dequantize_row_q8_K");
                CHECK(deq != NULL, "dequantize_row_q8_K not exported");
                if (!deq) continue;
                deq(qb, ya, n);
                CHECK(kite_dequantize_row(KITE_TYPE_Q8_K, qb, yb, n) == KITE_OK && first_diff(ya, yb, sizeof(float) * n) < 0,
                      "q8_K %s: dequantized floats differ", DIST_NAME[dist]);
            }
        }
        CHECK(bad == 0, "%s: %d mismatches", names[k], bad);
    }
    free(x), free(ya), free(yb), free(qa), free(qb);
}

// Fixed seeded rows whose quantized bytes llama.cpp produced (x86-64, libggml-base.so): the
// hashes let hosts that cannot load the library (aarch64 under qemu, wasm) check the same bytes.
// Where the library loads, each hash is also re-derived from ggml, so a stale table fails.
// Regenerate with KITE_PRINT_GOLDEN=1 ./test_quant_blocks (x86-64, node_modules installed).
static const struct { kite_type t; uint64_t hash; } GOLDEN[] = {
    {KITE_TYPE_F32, 0x53bbab0bd485bd11ull},
    {KITE_TYPE_F16, 0x6da5ccfb0ffc6419ull},
    {KITE_TYPE_BF16, 0x72bcb1817087aad8ull},
    {KITE_TYPE_Q4_0, 0xbd63780a434f8c9bull},
    {KITE_TYPE_Q4_1, 0x80c0ad0a3a4b81c2ull},
    {KITE_TYPE_Q5_0, 0xf97b8b01b5711cceull},
    {KITE_TYPE_Q5_1, 0x60a9a7fdfa201682ull},
    {KITE_TYPE_Q8_0, 0x1cc1134f8016e3cfull},
    {KITE_TYPE_Q2_K, 0x9f61ca5cc7b56000ull},
    {KITE_TYPE_Q3_K, 0xb37e509e4588d91cull},
    {KITE_TYPE_Q4_K, 0xcaa7387be4cdbc79ull},
    {KITE_TYPE_Q5_K, 0x3990a348a7c91dafull},
    {KITE_TYPE_Q6_K, 0x626eb7a8f783d640ull},
    {KITE_TYPE_IQ4_NL, 0xb66ed1cd901aa574ull},
    {KITE_TYPE_IQ4_XS, 0x5b03a446b805a49bull},
};

static uint64_t golden_hash(kite_type t, uint8_t *q, float *x, int use_ggml, ggml_chunk_fn chunk) {
    const int64_t nrows = 2, npr = 1024;
    uint64_t h = 0;
    for (int dist = 0; dist < DIST_COUNT; dist++) {
        fill(x, nrows * npr, dist, 9000u + (uint64_t)dist);
        size_t bytes = (size_t)(nrows * kite_type_row_bytes(t, npr));
        memset(q, 0, bytes);
        if (use_ggml) chunk((int)t, x, q, 0, nrows, npr, NULL);
        else if (kite_quantize_rows(t, x, q, nrows, npr) != KITE_OK) return 0;
        h = h * 31 + fnv1a(q, bytes);
    }
    return h;
}

static void check_golden(void *h) {
    ggml_chunk_fn chunk = h ? (ggml_chunk_fn)ggml_ref_sym(h, "ggml_quantize_chunk") : NULL;
    float *x = malloc(sizeof(float) * 2048);
    uint8_t *q = malloc(2048 * 4);
    for (size_t i = 0; i < sizeof GOLDEN / sizeof GOLDEN[0]; i++) {
        kite_type t = GOLDEN[i].t;
        uint64_t ours = golden_hash(t, q, x, 0, NULL);
        CHECK(ours == GOLDEN[i].hash, "%s: bytes on this host hash to %016llx, llama.cpp's to %016llx", kite_type_name(t),
              (unsigned long long)ours, (unsigned long long)GOLDEN[i].hash);
        if (chunk) {
            uint64_t theirs = golden_hash(t, q, x, 1, chunk);
            CHECK(theirs == GOLDEN[i].hash, "%s: golden hash table is stale (ggml now gives %016llx)", kite_type_name(t),
                  (unsigned long long)theirs);
        }
    }
    if (getenv("KITE_PRINT_GOLDEN") && chunk) { // prints a fresh table from llama.cpp
        for (int c = 0; c < N_CASES; c++) {
            char up[16] = {0};
            for (int k = 0; k < 15 && kite_type_name(CASES[c].t)[k]; k++) up[k] = (char)toupper(kite_type_name(CASES[c].t)[k]);
            printf("    {KITE_TYPE_%s, 0x%016llxull},\n", up, (unsigned long long)golden_hash(CASES[c].t, q, x, 1, chunk));
        }
    }
    free(x), free(q);
}

// Round trip on llama.cpp's own synthetic data (0.1 + 2 cos(i)), against its per-type limits.
static void check_roundtrip(void) {
    const int64_t n = 32 * 128;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    uint8_t *q = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) x[i] = 0.1f + 2.0f * cosf((float)i);
    for (int c = 0; c < N_CASES; c++) {
        const type_case *tc = &CASES[c];
        kite_status st = kite_quantize_rows(tc->t, x, q, 1, n);
        st = st == KITE_OK ? kite_dequantize_row(tc->t, q, y, n) : st;
        float e = rmse_ggml(x, y, (size_t)n);
        CHECK(st == KITE_OK && e < tc->max_rmse, "%s round trip: error %g (limit %g), status %d", kite_type_name(tc->t), e,
              tc->max_rmse, st);
    }
    free(x), free(y), free(q);
}

// Hostile sizes and values come back as errors that name the type and the row length.
static void check_errors(void) {
    float x[512] = {0};
    uint8_t q[2048];
    kite_status st = kite_quantize_rows(KITE_TYPE_Q4_K, x, q, 1, 100);
    CHECK(st == KITE_ERR_INVALID, "q4_K with 100 per row: status %d", st);
    CHECK(strstr(kite_last_error(), "q4_K") && strstr(kite_last_error(), "100"), "message: %s", kite_last_error());
    st = kite_quantize_rows(KITE_TYPE_Q8_0, x, q, 2, 33);
    CHECK(st == KITE_ERR_INVALID && strstr(kite_last_error(), "33"), "q8_0 with 33: %d %s", st, kite_last_error());
    st = kite_quantize_rows(KITE_TYPE_Q4_0, x, q, -1, 32);
    CHECK(st == KITE_ERR_INVALID, "negative rows: %d", st);
    st = kite_quantize_rows(KITE_TYPE_Q4_0, x, q, INT64_MAX / 32, 64);
    CHECK(st == KITE_ERR_INVALID, "overflowing rows: %d", st);
    st = kite_quantize_rows(KITE_TYPE_NVFP4, x, q, 1, 256);
    CHECK(st == KITE_ERR_UNSUPPORTED && strstr(kite_last_error(), "nvfp4"), "nvfp4: %d %s", st, kite_last_error());
    st = kite_quantize_rows((kite_type)999, x, q, 1, 256);
    CHECK(st == KITE_ERR_UNSUPPORTED, "type 999: %d", st);
    x[300] = NAN;
    st = kite_quantize_rows(KITE_TYPE_Q6_K, x, q, 2, 256);
    CHECK(st == KITE_ERR_INVALID && strstr(kite_last_error(), "NaN") && strstr(kite_last_error(), "row 1"), "NaN: %d %s", st,
          kite_last_error());
    x[300] = INFINITY;
    CHECK(kite_quantize_rows(KITE_TYPE_Q4_0, x, q, 1, 512) == KITE_ERR_INVALID, "inf accepted");
    CHECK(kite_quantize_rows(KITE_TYPE_F16, x, q, 1, 512) == KITE_OK, "f16 must take inf (it has one)");
    x[300] = 0.0f;
    CHECK(kite_dequantize_row(KITE_TYPE_Q5_K, q, x, 100) == KITE_ERR_INVALID, "dequantize 100 of q5_K accepted");
    CHECK(kite_dequantize_row(KITE_TYPE_NVFP4, q, x, 256) == KITE_ERR_UNSUPPORTED, "nvfp4 dequantize accepted");
    CHECK(kite_quantize_rows(KITE_TYPE_Q4_0, x, q, 0, 0) == KITE_OK, "empty tensor refused");

    for (int c = 0; c < N_CASES; c++) {
        CHECK(kite_quant_can_quantize(CASES[c].t), "%s: can_quantize false", kite_type_name(CASES[c].t));
        CHECK(kite_quant_can_dequantize(CASES[c].t), "%s: can_dequantize false", kite_type_name(CASES[c].t));
    }
    CHECK(!kite_quant_can_quantize(KITE_TYPE_Q8_K) && kite_quant_can_dequantize(KITE_TYPE_Q8_K), "q8_K support");
    CHECK(!kite_quant_can_quantize(KITE_TYPE_NVFP4) && !kite_quant_can_dequantize(KITE_TYPE_NVFP4), "nvfp4 support");
}

int main(void) {
    int ci_fail;
    void *h = ggml_ref_open(&ci_fail);
    if (ci_fail) check_failed++;
    if (h) compare_with_ggml(h);
    if (h) compare_imatrix_with_ggml(h);
    if (h) compare_new_dequant(h);
    check_golden(h);
    check_roundtrip();
    check_errors();
    return check_done("test_quant_blocks");
}
