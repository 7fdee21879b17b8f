// test_backend_split.c - the backend seam: layers split between two backends (the CPU backend
// instantiated twice, each with its own thread pool) give bit-identical logits to one backend,
// for every split (-ngl 0 .. n_layer + 1), in batched prefill, decode and all-logits evals, on
// models that exercise each path of the forward pass (stories260K: llama; rand-qwen2: q/k/v
// biases; rand-phi3: fused qkv and gate_up, q scaling; the arch models: qwen3, qwen3moe, gemma2,
// gemma3, smollm3). Also the placement rule (llama.cpp's
// -ngl: the last N layers, the output head once N exceeds the layer count) and the errors.
// Sequences: several decoded in one batch (continuous batching) give each the bits it gets alone.
#include <stdlib.h>
#include <string.h>

#include "check_model.h"
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
    kite_model *m;
    unsigned char *buf = check_load_model(file, &m);
    if (!buf) return;
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
    kite_model *m;
    unsigned char *buf = check_load_model("stories260K.gguf", &m);
    if (!buf) return;
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

// Three sequences' prompts (lengths 5, 9, 3) then 4 decode steps. Alone: each in its own
// context. Together: one context of 3 sequences, the prompts interleaved in one batch and each
// decode step one batch of 3 tokens. The same logits, bit for bit (fewer than 64 tokens a step,
// so flash attention takes the same path in both).
#define N_SEQ 3
#define N_STEPS 4
static void test_sequences(const char *file, int32_t ngl) {
    kite_model *m;
    unsigned char *buf = check_load_model(file, &m);
    if (!buf) return;
    if (!m) {
        free(buf);
        return;
    }
    const int32_t nv = kite_model_hparams(m)->n_vocab, lens[N_SEQ] = {5, 9, 3};
    int32_t toks[N_SEQ][9 + N_STEPS];
    for (int q = 0; q < N_SEQ; q++)
        for (int i = 0; i < 9 + N_STEPS; i++) toks[q][i] = (q * 104729 + i * 7919 + 13) % nv;
    float *alone = malloc(sizeof(float) * (size_t)nv * N_SEQ * (N_STEPS + 1));
    float *together = malloc(sizeof(float) * (size_t)nv * N_SEQ * (N_STEPS + 1));
    for (int q = 0; q < N_SEQ; q++) {
        kite_ctx_params cp = {.n_ctx = 64, .n_threads = 2, .n_gpu_layers = ngl, .gpu_backend = "cpu"};
        kite_ctx *c = NULL;
        CHECK(kite_ctx_new(m, &cp, &c) == KITE_OK, "alone: %s", kite_last_error());
        if (!c) continue;
        const float *l = NULL;
        for (int s = 0; s <= N_STEPS; s++) {
            const bool ok = s == 0 ? kite_ctx_eval(c, toks[q], lens[q], &l) == KITE_OK
                                   : kite_ctx_eval(c, &toks[q][lens[q] + s - 1], 1, &l) == KITE_OK;
            CHECK(ok, "alone seq %d step %d: %s", q, s, kite_last_error());
            if (ok) memcpy(alone + ((size_t)s * N_SEQ + q) * nv, l, sizeof(float) * (size_t)nv);
        }
        kite_ctx_free(c);
    }
    kite_ctx_params cp = {.n_ctx = 64 * N_SEQ, .n_seq = N_SEQ, .n_threads = 2, .n_gpu_layers = ngl, .gpu_backend = "cpu"};
    kite_ctx *c = NULL;
    CHECK(kite_ctx_new(m, &cp, &c) == KITE_OK && kite_ctx_n_ctx(c) == 64 && kite_ctx_n_seq(c) == N_SEQ, "together: %s",
          kite_last_error());
    if (c) {
        // the prompts interleaved: round-robin over the sequences that still have tokens
        int32_t bt[32], bs[32], next[N_SEQ] = {0};
        bool want[32] = {0};
        int32_t n = 0;
        for (int more = 1; more;) {
            more = 0;
            for (int q = 0; q < N_SEQ; q++)
                if (next[q] < lens[q]) {
                    bt[n] = toks[q][next[q]];
                    bs[n] = q;
                    want[n] = ++next[q] == lens[q];
                    n++;
                    more = 1;
                }
        }
        // the wanted rows come out in batch order: sequence 2 (3 tokens) ends first, then 0, then 1
        float *tmp = malloc(sizeof(float) * (size_t)nv * N_SEQ);
        kite_batch b = {.tokens = bt, .seq = bs, .want = want, .n = n};
        CHECK(kite_ctx_decode(c, &b, tmp) == KITE_OK, "prefill batch: %s", kite_last_error());
        const int order[N_SEQ] = {2, 0, 1};
        for (int k = 0; k < N_SEQ; k++)
            memcpy(together + (size_t)order[k] * nv, tmp + (size_t)k * nv, sizeof(float) * (size_t)nv);
        for (int s = 1; s <= N_STEPS; s++) {
            for (int q = 0; q < N_SEQ; q++) {
                bt[q] = toks[q][lens[q] + s - 1];
                bs[q] = q;
                want[q] = true;
            }
            b.n = N_SEQ;
            CHECK(kite_ctx_decode(c, &b, together + (size_t)s * N_SEQ * nv) == KITE_OK, "step %d: %s", s,
                  kite_last_error());
        }
        CHECK(!memcmp(alone, together, sizeof(float) * (size_t)nv * N_SEQ * (N_STEPS + 1)),
              "%s -ngl %d: sequences batched together differ from each alone", file, ngl);
        for (int q = 0; q < N_SEQ; q++)
            CHECK(kite_ctx_seq_pos(c, q) == lens[q] + N_STEPS, "seq %d at %d", q, kite_ctx_seq_pos(c, q));

        // a slot reused after a reset gives the fresh sequence's logits again
        CHECK(kite_ctx_seq_reset(c, 1) == KITE_OK && kite_ctx_seq_pos(c, 1) == 0, "seq reset");
        b = (kite_batch){.tokens = toks[1], .seq = (int32_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1},
                         .want = (bool[]){0, 0, 0, 0, 0, 0, 0, 0, 1}, .n = lens[1]};
        CHECK(kite_ctx_decode(c, &b, tmp) == KITE_OK && !memcmp(tmp, alone + (size_t)1 * nv, sizeof(float) * (size_t)nv),
              "reused slot: %s", kite_last_error());

        // hostile batches change nothing: a sequence out of range, one sequence overflowing
        const int32_t pos0 = kite_ctx_seq_pos(c, 0);
        b = (kite_batch){.tokens = bt, .seq = (int32_t[]){0, 3}, .n = 2};
        CHECK(kite_ctx_decode(c, &b, NULL) == KITE_ERR_INVALID && kite_ctx_seq_pos(c, 0) == pos0, "seq 3 accepted");
        int32_t many[60] = {0}, seq0[60] = {0};
        b = (kite_batch){.tokens = many, .seq = seq0, .n = 60};
        CHECK(kite_ctx_decode(c, &b, NULL) == KITE_ERR_INVALID && kite_ctx_seq_pos(c, 0) == pos0,
              "overflow of one sequence accepted");
        CHECK(kite_ctx_eval(c, bt, 1, NULL) == KITE_ERR_INVALID, "kite_ctx_eval on a 3-sequence context");
        free(tmp);
        kite_ctx_free(c);
    }
    free(alone);
    free(together);
    kite_model_free(m);
    free(buf);
}

// gemma3's sliding-window layers keep only their window, as a ring: decoding 1 or 4 tokens a
// step past the point where the ring wraps gives the logits of a cache that holds every position
// (a context too short for the ring to pay off), bit for bit, in less memory.
static void test_window_ring(void) {
    kite_model *m;
    unsigned char *buf = check_load_model("arch/gemma3.gguf", &m);
    if (!buf) return;
    const kite_hparams *hp = m ? kite_model_hparams(m) : NULL;
    for (int32_t nb = 1; hp && nb <= 4; nb += 3) {
        const int32_t rows = hp->n_swa + nb - 1 + hp->n_swa - 1, n_tok = rows - rows % nb; // 23 or 26: wraps
        const int32_t nv = hp->n_vocab, n_ctx[2] = {rows + 8, rows}; // [0] a ring, [1] every position
        float *l[2] = {malloc(sizeof(float) * (size_t)nv * (size_t)n_tok), malloc(sizeof(float) * (size_t)nv * (size_t)n_tok)};
        uint64_t kv[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            kite_ctx_params cp = {.n_ctx = n_ctx[k], .n_batch = nb};
            kite_ctx *c = NULL;
            CHECK(kite_ctx_new(m, &cp, &c) == KITE_OK, "n_ctx %d: %s", n_ctx[k], kite_last_error());
            for (int32_t i = 0; c && i < n_tok; i += nb) {
                int32_t toks[4];
                for (int32_t j = 0; j < nb; j++) toks[j] = ((i + j) * 7919 + 13) % nv;
                const float *out = NULL;
                CHECK(kite_ctx_eval(c, toks, nb, &out) == KITE_OK, "eval: %s", kite_last_error());
                if (out) memcpy(l[k] + (size_t)i * nv, out, sizeof(float) * (size_t)nv);
            }
            kv[k] = c ? kite_ctx_kv_bytes(c) : 0;
            kite_ctx_free(c);
        }
        bool same = true;
        for (int32_t i = 0; i < n_tok; i += nb) same &= !memcmp(l[0] + (size_t)i * nv, l[1] + (size_t)i * nv, sizeof(float) * (size_t)nv);
        CHECK(same, "n_batch %d: logits with the window ring differ from the full cache", nb);
        // 5 of 6 layers slide: the ring context holds less than its n_ctx of every layer
        const uint64_t full = (uint64_t)hp->n_layer * (uint64_t)n_ctx[0] * (uint64_t)(hp->n_head_kv * hp->head_dim) * 4;
        CHECK(kv[0] > 0 && kv[0] < full && kv[1] == (uint64_t)hp->n_layer * (uint64_t)n_ctx[1] * (uint64_t)(hp->n_head_kv * hp->head_dim) * 4,
              "n_batch %d: KV bytes %llu (ring) / %llu, full %llu", nb, (unsigned long long)kv[0],
              (unsigned long long)kv[1], (unsigned long long)full);
        free(l[0]);
        free(l[1]);
    }
    kite_model_free(m);
    free(buf);
}

int main(void) {
    test_window_ring();
    test_sequences("stories260K.gguf", 0);
    test_sequences("stories260K.gguf", 3);
    test_sequences("rand-phi3-f16.gguf", 0);
    // routed experts: a token's rows gathered with other sequences' tokens per expert; sliding
    // windows and two rope bases per step
    test_sequences("arch/qwen3moe.gguf", 0);
    test_sequences("arch/gemma3.gguf", 2);
    test_placement();
    test_splits("stories260K.gguf");
    test_splits("rand-qwen2-f16.gguf");
    test_splits("rand-phi3-f16.gguf");
    // q/k norms; q/k norms + experts; post norms, GeGLU, soft-caps, two rope bases; NoPE layers
    test_splits("arch/qwen3.gguf");
    test_splits("arch/qwen3moe.gguf");
    test_splits("arch/gemma2.gguf");
    test_splits("arch/gemma3.gguf");
    test_splits("arch/smollm3.gguf");
    return check_done("test_backend_split");
}
