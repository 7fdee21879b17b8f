// test_backend_split.c - the backend seam: layers split between two backends (the CPU backend
// instantiated twice, each with its own thread pool) give bit-identical logits to one backend,
// for every split (-ngl 0 .. n_layer + 1), in batched prefill, decode and all-logits evals, on
// models that exercise each path of the forward pass (stories260K: llama; rand-qwen2: q/k/v
// biases; rand-phi3: fused qkv and gate_up, q scaling). Also the placement rule (llama.cpp's
// -ngl: the last N layers, the output head once N exceeds the layer count) and the errors.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kite.h"

#define N_PROMPT 9
#define N_DECODE 3

// The logits of a prefill of N_PROMPT tokens then N_DECODE single-token steps, and of an
// all-logits eval of the same tokens, concatenated into out.
static bool run(kite_model *m, int32_t ngl, kite_flash_attn fa, int32_t n_batch, float *out) {
    const int32_t nv = kite_model_hparams(m)->n_vocab;
    kite_ctx_params cp = {.n_ctx = 64, .n_threads = 2, .n_batch = n_batch, .flash_attn = fa,
                          .n_gpu_layers = ngl, .gpu_backend = "cpu"};
    kite_ctx *c = NULL;
    if (kite_ctx_new(m, &cp, &c) != KITE_OK) return false;
    int32_t toks[N_PROMPT + N_DECODE];
    for (int i = 0; i < N_PROMPT + N_DECODE; i++) toks[i] = (i * 7919 + 13) % nv;
    const float *l = NULL;
    bool ok = kite_ctx_eval(c, toks, N_PROMPT, &l) == KITE_OK;
    if (ok) memcpy(out, l, sizeof(float) * (size_t)nv);
    for (int i = 0; ok && i < N_DECODE; i++) {
        ok = kite_ctx_eval(c, &toks[N_PROMPT + i], 1, &l) == KITE_OK;
        if (ok) memcpy(out + (size_t)(i + 1) * nv, l, sizeof(float) * (size_t)nv);
    }
    kite_ctx_reset(c);
    ok = ok && kite_ctx_eval_all(c, toks, N_PROMPT + N_DECODE, out + (size_t)(N_DECODE + 1) * nv) == KITE_OK;
    kite_ctx_free(c);
    return ok;
}

static void test_splits(const char *file) {
    size_t len;
    unsigned char *buf = check_read_model(file, &len);
    if (!buf) return;
    kite_model *m = NULL;
    CHECK(kite_model_load(buf, len, NULL, &m) == KITE_OK, "%s: %s", file, kite_last_error());
    if (m) {
        const int32_t n_layer = kite_model_hparams(m)->n_layer, nv = kite_model_hparams(m)->n_vocab;
        const size_t n_floats = (size_t)(N_DECODE + 1 + N_PROMPT + N_DECODE) * nv;
        float *want = malloc(n_floats * sizeof(float)), *got = malloc(n_floats * sizeof(float));
        const kite_flash_attn fas[] = {KITE_FA_ON, KITE_FA_OFF};
        for (int f = 0; f < 2; f++) {
            // n_batch 4 also splits the prefill into steps, each crossing the boundary
            const int32_t n_batch = f ? 4 : 0;
            CHECK(run(m, 0, fas[f], n_batch, want), "%s: one backend: %s", file, kite_last_error());
            for (int32_t ngl = 1; ngl <= n_layer + 2; ngl++) {
                CHECK(run(m, ngl, fas[f], n_batch, got), "%s -ngl %d: %s", file, ngl, kite_last_error());
                CHECK(!memcmp(want, got, n_floats * sizeof(float)), "%s -ngl %d (fa %d): logits differ from one backend",
                      file, ngl, fas[f]);
            }
        }
        free(want);
        free(got);
    }
    kite_model_free(m);
    free(buf);
}

// llama.cpp's -ngl rule: layers [n_layer - N, n_layer) offloaded; the output head when N > n_layer.
static void test_placement(void) {
    size_t len;
    unsigned char *buf = check_read_model("stories260K.gguf", &len);
    if (!buf) return;
    kite_model *m = NULL;
    CHECK(kite_model_load(buf, len, NULL, &m) == KITE_OK, "stories260K: %s", kite_last_error());
    if (m) {
        const int32_t n_layer = kite_model_hparams(m)->n_layer; // 5
        for (int32_t ngl = 0; ngl <= n_layer + 2; ngl++) {
            kite_ctx_params cp = {.n_ctx = 32, .n_gpu_layers = ngl, .gpu_backend = "cpu"};
            kite_ctx *c = NULL;
            CHECK(kite_ctx_new(m, &cp, &c) == KITE_OK, "-ngl %d: %s", ngl, kite_last_error());
            if (!c) continue;
            for (int32_t il = 0; il <= n_layer; il++) {
                const bool off = il < n_layer ? il >= n_layer - ngl : ngl > n_layer;
                const char *want = off ? "cpu#2" : "cpu", *got = kite_ctx_layer_backend(c, il);
                CHECK(got && !strcmp(got, want), "-ngl %d: layer %d runs on %s, want %s", ngl, il, got, want);
            }
            CHECK(kite_ctx_layer_backend(c, n_layer + 1) == NULL && kite_ctx_layer_backend(c, -1) == NULL,
                  "out-of-range layers have no backend");
            kite_ctx_free(c);
        }
        // an offload backend this binary lacks is refused by name; a negative count is invalid
        kite_ctx_params cp = {.n_ctx = 32, .n_gpu_layers = 2, .gpu_backend = "no-such-gpu"};
        kite_ctx *c = NULL;
        CHECK(kite_ctx_new(m, &cp, &c) == KITE_ERR_UNSUPPORTED && !c && strstr(kite_last_error(), "no-such-gpu"),
              "unknown backend: %s", kite_last_error());
        cp.gpu_backend = "cpu";
        cp.n_gpu_layers = -1;
        CHECK(kite_ctx_new(m, &cp, &c) == KITE_ERR_INVALID && !c, "negative n_gpu_layers accepted");
        // no backend named and none built in: every layer stays on the CPU
        cp.gpu_backend = NULL;
        cp.n_gpu_layers = 99;
        CHECK(kite_ctx_new(m, &cp, &c) == KITE_OK, "-ngl 99 without a GPU backend: %s", kite_last_error());
        for (int32_t il = 0; c && il <= n_layer; il++)
            CHECK(!strcmp(kite_ctx_layer_backend(c, il), "cpu"), "layer %d left the CPU", il);
        kite_ctx_free(c);
    }
    kite_model_free(m);
    free(buf);
}

int main(void) {
    test_placement();
    test_splits("stories260K.gguf");
    test_splits("rand-qwen2-f16.gguf");
    test_splits("rand-phi3-f16.gguf");
    return check_done("test_backend_split");
}
