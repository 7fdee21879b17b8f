// test_batch_invariance.c - one float order whatever the split: the logits of every token of a
// sequence are the same bits when it is evaluated in one forward pass, in steps of 7 tokens or
// token by token (n_batch 1), with one, two or three threads, on models whose weights take the F16,
// Q8_0 and arch paths (rand-llama-spm-f16, rand-llama-spm-Q8_0, qwen3, qwen3moe, gemma2, gemma3): 128 tokens
// with the plain attention path; with flash attention 63 tokens, the most for which ggml's CPU
// flash attention (and so Kite's, which follows it) keeps its row kernel. From 64 tokens a step
// takes ggml's tiled f32 kernel (backend_cpu.c attn_mode), so llama.cpp's and Kite's logits
// then depend on the batch size. Also: the logits of some tokens of a step (the last layer then
// attends and runs for those rows only) are the bits those tokens get when every token's logits
// are wanted, in one step of two interleaved sequences with either attention path
// (rand-llama-spm-f16, qwen3, phi4mini, gemma2). Under qemu two of the eight (batch, threads) pairs.
#include <stdlib.h>
#include <string.h>

#include "check_model.h"
#include "kite.h"

#define N_TOK 128      // plain attention
#define N_TOK_FLASH 63 // flash attention: below the tiled kernel

// The logits of all n tokens, evaluated with steps of at most n_batch tokens.
static bool run(kite_model *m, kite_flash_attn fa, int32_t n, int32_t n_batch, int32_t n_threads, float *out) {
    const int32_t nv = kite_model_hparams(m)->n_vocab;
    kite_ctx_params cp = {.n_ctx = 128, .n_threads = n_threads, .n_batch = n_batch, .flash_attn = fa};
    kite_ctx *c = NULL;
    if (kite_ctx_new(m, &cp, &c) != KITE_OK) return false;
    int32_t toks[N_TOK];
    for (int i = 0; i < n; i++) toks[i] = (i * 7919 + 13) % nv;
    bool ok = kite_ctx_eval_all(c, toks, n, out) == KITE_OK;
    kite_ctx_free(c);
    return ok;
}

#define N_TRIM 140 // tokens of the step, seq 0 and 1 alternating (70 each: the tiled flash kernel)

// Decodes the trim step in a fresh context with the wanted rows' logits into out.
static bool decode_trim(kite_model *m, kite_flash_attn fa, const bool *want, float *out) {
    const int32_t nv = kite_model_hparams(m)->n_vocab;
    kite_ctx_params cp = {.n_ctx = 2 * 80, .n_seq = 2, .n_threads = 2, .flash_attn = fa};
    kite_ctx *c = NULL;
    if (kite_ctx_new(m, &cp, &c) != KITE_OK) return false;
    int32_t toks[N_TRIM], seq[N_TRIM];
    for (int i = 0; i < N_TRIM; i++) toks[i] = (i * 7919 + 13) % nv, seq[i] = i % 2;
    const kite_batch b = {.tokens = toks, .seq = seq, .want = want, .n = N_TRIM};
    bool ok = kite_ctx_decode(c, &b, out) == KITE_OK;
    kite_ctx_free(c);
    return ok;
}

// Only some rows wanted (the last layer's attention and the rest for those rows alone) against
// every row wanted: the same bits for the wanted rows.
static void test_trimmed(kite_model *m, const char *file) {
    const int32_t nv = kite_model_hparams(m)->n_vocab;
    const int32_t some[] = {37, N_TRIM - 2, N_TRIM - 1}; // mid-step, and each sequence's last
    bool all[N_TRIM], want[N_TRIM] = {0};
    for (int i = 0; i < N_TRIM; i++) all[i] = true;
    for (int i = 0; i < 3; i++) want[some[i]] = true;
    float *every = malloc((size_t)N_TRIM * nv * sizeof(float)), *got = malloc((size_t)3 * nv * sizeof(float));
    const kite_flash_attn fas[] = {KITE_FA_ON, KITE_FA_OFF};
    for (int f = 0; f < 2 && every && got; f++) {
        CHECK(decode_trim(m, fas[f], all, every), "%s: every row: %s", file, kite_last_error());
        CHECK(decode_trim(m, fas[f], want, got), "%s: some rows: %s", file, kite_last_error());
        for (int i = 0; i < 3; i++)
            CHECK(!memcmp(every + (size_t)some[i] * nv, got + (size_t)i * nv, sizeof(float) * (size_t)nv),
                  "%s (fa %d): token %d's logits differ when only some rows are wanted", file, fas[f], some[i]);
    }
    free(every);
    free(got);
}

static void test_model(const char *file) {
    kite_model *m;
    unsigned char *buf = check_load_model(file, &m);
    if (!buf) return;
    if (m) {
        const int32_t nv = kite_model_hparams(m)->n_vocab;
        const size_t n_floats = (size_t)N_TOK * nv;
        float *want = malloc(n_floats * sizeof(float)), *got = malloc(n_floats * sizeof(float));
        const kite_flash_attn fas[] = {KITE_FA_ON, KITE_FA_OFF};
        // every (batch, threads) pair natively, and the one pass on 2 and 3 threads (a step's row-wise
        // ops, RoPE and the KV store included, split over the pool); under qemu (KITE_EMULATED=1, where
        // this test took 900 s of the aarch64 stage) two that still split both the steps and the rows
        const int32_t pairs[][2] = {{1, 1}, {1, 2}, {1, 3}, {7, 1}, {7, 2}, {7, 3}, {0, 2}, {0, 3}},
                      emulated_pairs[][2] = {{1, 3}, {7, 2}};
        const char *emu = getenv("KITE_EMULATED");
        const bool emulated = emu && !strcmp(emu, "1");
        const int n_pairs = emulated ? 2 : 8;
        for (int f = 0; f < 2; f++) {
            const int32_t n = fas[f] == KITE_FA_ON ? N_TOK_FLASH : N_TOK;
            CHECK(run(m, fas[f], n, 0, 1, want), "%s: one pass: %s", file, kite_last_error());
            for (int p = 0; p < n_pairs; p++) {
                const int32_t batch = emulated ? emulated_pairs[p][0] : pairs[p][0];
                const int32_t threads = emulated ? emulated_pairs[p][1] : pairs[p][1];
                CHECK(run(m, fas[f], n, batch, threads, got), "%s: -b %d: %s", file, batch, kite_last_error());
                int32_t row = -1;
                for (int32_t i = 0; i < n && row < 0; i++)
                    if (memcmp(want + (size_t)i * nv, got + (size_t)i * nv, sizeof(float) * (size_t)nv)) row = i;
                CHECK(row < 0, "%s (fa %d) -b %d -t %d: token %d's logits differ from one pass", file, fas[f], batch,
                      threads, row);
            }
        }
        free(want);
        free(got);
    }
    kite_model_free(m);
    free(buf);
}

// test_trimmed on a model file.
static void test_trimmed_file(const char *file) {
    kite_model *m;
    unsigned char *buf = check_load_model(file, &m);
    if (!buf) return;
    if (m) test_trimmed(m, file);
    kite_model_free(m);
    free(buf);
}

int main(void) {
    test_model("rand-llama-spm-f16.gguf");
    test_model("ref/rand-llama-spm-Q8_0.gguf");
    test_model("arch/qwen3.gguf");
    test_model("arch/qwen3moe.gguf");
    // sliding-window layers (window 12: their cache rings wrap within the 128 tokens) and soft-capping
    test_model("arch/gemma2.gguf");
    test_model("arch/gemma3.gguf");
    // rows trimmed: q projected (and q-normed: qwen3) for them alone, or gathered from the fused
    // q|k|v (phi4mini); q scaled, scores soft-capped, a sliding window (gemma2)
    test_trimmed_file("rand-llama-spm-f16.gguf");
    test_trimmed_file("arch/qwen3.gguf");
    test_trimmed_file("arch/phi4mini.gguf");
    test_trimmed_file("arch/gemma2.gguf");
    return check_done("batch_invariance");
}
