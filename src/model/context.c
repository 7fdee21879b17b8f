// context.c - inference contexts: placing the layers on backends (each holds its activations,
// KV cache and thread pool), and eval (splitting a long input into n_batch pieces).
#include "model/model_internal.h"

#include <stdint.h>

#include "model/backend.h"

// Default context when the caller gives none: the trained length, capped so that a model
// trained on 128k tokens does not allocate a KV cache for all of them by default.
#define DEFAULT_MAX_CTX 4096

kite_ctx_params kite_ctx_default_params(void) {
    kite_ctx_params p = {0};
    return p;
}

// The offload backend to use when the caller names none: the first GPU backend built into
// this binary (none yet: CUDA and WebGPU land behind this seam).
static const char *default_offload_backend(void) { return NULL; }

// Splits the model over the host CPU backend and (n_gpu_layers > 0) an offload backend, as
// llama.cpp's -ngl does: the last n_gpu_layers repeating layers, and the output head once
// n_gpu_layers exceeds the layer count (or whenever the offload backend cannot read back in
// the middle of a step), run on the offload backend; the embedding on the host.
static kite_status place(kite_ctx *c, const kite_ctx_params *p) {
    const kite_hparams *hp = &c->m->hp;
    const char *offload = p->gpu_backend ? p->gpu_backend : default_offload_backend();
    int32_t n_off = KITE_MIN(p->n_gpu_layers, hp->n_layer + 1);
    if (n_off > 0 && !offload) {
        kite__log(KITE_LOG_INFO, "no GPU backend in this build: %d layers requested, all run on the CPU", n_off);
        n_off = 0;
    }
    const int32_t first_off = hp->n_layer - KITE_MIN(n_off, hp->n_layer); // first offloaded layer
    const bool output_off = n_off > hp->n_layer || (n_off > 0 && !kite__backend_reads_mid_step(offload));
    kite_backend_config cfg = {.m = c->m, .n_ctx = c->n_ctx, .n_seq = c->n_seq, .n_batch = c->n_batch, .n_threads = c->n_threads,
                               .flash_attn = p->flash_attn != KITE_FA_OFF, .layer_first = 0,
                               .layer_last = first_off, .embed = true, .output = !output_off};
    KITE_TRY(kite__backend_cpu_new(&cfg, &c->backends[0]));
    c->n_backends = 1;
    if (n_off > 0) {
        cfg.layer_first = first_off;
        cfg.layer_last = hp->n_layer;
        cfg.embed = false;
        cfg.output = output_off;
        KITE_TRY(kite__backend_new(offload, &cfg, &c->backends[1]));
        c->n_backends = 2;
        if (!strcmp(c->backends[1]->name, c->backends[0]->name)) c->backends[1]->name = "cpu#2"; // a second CPU
        c->host_x = malloc((size_t)c->n_batch * (size_t)hp->n_embd * sizeof(float));
        if (!c->host_x) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    }
    c->input_backend = c->backends[0];
    c->output_backend = c->backends[output_off ? 1 : 0];
    for (int32_t il = 0; il < hp->n_layer; il++) c->layer_backend[il] = c->backends[il >= first_off ? 1 : 0];
    return KITE_OK;
}

kite_status kite_ctx_new(kite_model *m, const kite_ctx_params *p, kite_ctx **out) {
    *out = NULL;
    kite_ctx_params d = kite_ctx_default_params();
    if (!p) p = &d;
    const kite_hparams *hp = &m->hp;
    if (!m->layers) return kite__fail(KITE_ERR_INVALID, "model was loaded vocab-only: no forward pass");
    if (p->n_ctx < 0 || p->n_ctx > (1 << 22)) return kite__fail(KITE_ERR_INVALID, "n_ctx %d is out of range", p->n_ctx);
    if (p->n_threads < 0 || p->n_threads > 512)
        return kite__fail(KITE_ERR_INVALID, "n_threads %d is out of range", p->n_threads);
    if ((unsigned)p->flash_attn > KITE_FA_OFF)
        return kite__fail(KITE_ERR_INVALID, "flash_attn %d is not auto/on/off", (int)p->flash_attn);
    if (p->n_batch < 0) return kite__fail(KITE_ERR_INVALID, "n_batch %d is negative", p->n_batch);
    if (p->n_gpu_layers < 0) return kite__fail(KITE_ERR_INVALID, "n_gpu_layers %d is negative", p->n_gpu_layers);
    if (p->n_seq < 0 || p->n_seq > 256) return kite__fail(KITE_ERR_INVALID, "n_seq %d is out of range [0, 256]", p->n_seq);
    if (hp->head_dim > KITE_ATTN_MAX_HEAD_DIM)
        return kite__fail(KITE_ERR_UNSUPPORTED, "head size %d is above %d", hp->head_dim, KITE_ATTN_MAX_HEAD_DIM);

    // the largest buffers, sized in 64 bits first: on wasm32 size_t products could wrap
    {
        const uint64_t n_ctx = p->n_ctx ? (uint64_t)p->n_ctx : (uint64_t)KITE_MIN(hp->n_ctx_train, DEFAULT_MAX_CTX);
        const uint64_t kv = (uint64_t)hp->n_layer * n_ctx * (uint64_t)hp->n_head_kv * (uint64_t)hp->head_dim * 2;
        const uint64_t acts = n_ctx * (uint64_t)KITE_MAX(hp->n_ff * 2, hp->n_head * hp->head_dim * 2) * 4;
        if (kv > SIZE_MAX / 4 || acts > SIZE_MAX / 4)
            return kite__fail(KITE_ERR_NOMEM, "a context of %llu tokens does not fit this address space",
                              (unsigned long long)n_ctx);
    }
    kite_ctx *c = calloc(1, sizeof *c);
    if (!c) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    c->m = m;
    const int32_t n_ctx_total = p->n_ctx ? p->n_ctx : KITE_MIN(hp->n_ctx_train, DEFAULT_MAX_CTX);
    c->n_seq = p->n_seq ? p->n_seq : 1;
    c->n_ctx = n_ctx_total / c->n_seq; // as llama.cpp's slots: the context is shared out evenly
    c->n_threads = p->n_threads ? p->n_threads : 1;
    c->n_batch = KITE_MIN(p->n_batch ? p->n_batch : 512, n_ctx_total);
    // LongRoPE: the long factors serve contexts beyond the original training length
    c->rope_factors = (m->rope_long && c->n_ctx > hp->n_ctx_orig) ? m->rope_long : m->rope_short;
    c->logits = malloc((size_t)hp->n_vocab * sizeof(float));
    c->layer_backend = calloc((size_t)hp->n_layer, sizeof *c->layer_backend);
    c->seq_pos = calloc((size_t)c->n_seq, sizeof *c->seq_pos);
    c->seq_hwm = calloc((size_t)c->n_seq, sizeof *c->seq_hwm);
    if (c->n_ctx >= 1) c->seq_tok = malloc((size_t)c->n_seq * (size_t)c->n_ctx * sizeof *c->seq_tok);
    c->step_pos = malloc((size_t)c->n_batch * sizeof *c->step_pos);
    c->step_seq = malloc((size_t)c->n_batch * sizeof *c->step_seq);
    c->out_rows = malloc((size_t)c->n_batch * sizeof *c->out_rows);
    c->row_ids = malloc((size_t)c->n_batch * sizeof *c->row_ids);
    for (int32_t i = 0; c->row_ids && i < c->n_batch; i++) c->row_ids[i] = i;
    kite_status s = KITE_OK;
    if (c->n_ctx < 1)
        s = kite__fail(KITE_ERR_INVALID, "n_ctx %d leaves no room for %d sequences", n_ctx_total, c->n_seq);
    else if (!c->logits || !c->layer_backend || !c->seq_pos || !c->seq_hwm || !c->seq_tok || !c->step_pos ||
             !c->step_seq || !c->out_rows || !c->row_ids)
        s = kite__fail(KITE_ERR_NOMEM, "out of memory");
    else
        s = place(c, p);
    bool any_swa = false;
    for (int32_t il = 0; il < hp->n_layer; il++) any_swa |= m->layers[il].swa;
    c->swa_ring = any_swa ? kite__swa_ring(hp, c->n_batch, c->n_ctx) : 0;
    if (s != KITE_OK) {
        kite_ctx_free(c);
        return s;
    }
    *out = c;
    return KITE_OK;
}

void kite_ctx_free(kite_ctx *c) {
    if (!c) return;
    for (int i = 0; i < KITE_MAX_BACKENDS; i++)
        if (c->backends[i]) c->backends[i]->free(c->backends[i]);
    free(c->logits);
    free(c->host_x);
    free(c->layer_backend);
    free(c->seq_pos);
    free(c->seq_tok);
    free(c->seq_hwm);
    free(c->step_pos);
    free(c->step_seq);
    free(c->out_rows);
    free(c->row_ids);
    free(c);
}

const char *kite_ctx_layer_backend(const kite_ctx *c, int32_t il) {
    if (il < 0 || il > c->m->hp.n_layer) return NULL;
    return il == c->m->hp.n_layer ? c->output_backend->name : c->layer_backend[il]->name;
}

void kite_ctx_reset(kite_ctx *c) {
    for (int32_t q = 0; q < c->n_seq; q++) c->seq_pos[q] = c->seq_hwm[q] = 0;
}
int32_t kite_ctx_pos(const kite_ctx *c) { return c->seq_pos[0]; }
int32_t kite_ctx_n_ctx(const kite_ctx *c) { return c->n_ctx; }
int32_t kite_ctx_n_seq(const kite_ctx *c) { return c->n_seq; }

uint64_t kite_ctx_kv_bytes(const kite_ctx *c) {
    uint64_t b = 0;
    for (int i = 0; i < c->n_backends; i++) b += c->backends[i]->kv_bytes;
    return b;
}
kite_model *kite_ctx_model(const kite_ctx *c) { return c->m; }

kite_status kite_ctx_set_matmul_observer(kite_ctx *c, kite_matmul_observer fn, void *user) {
    for (int i = 0; i < c->n_backends; i++)
        if (!c->backends[i]->set_observer)
            return kite__fail(KITE_ERR_UNSUPPORTED, "backend '%s' cannot report matmul inputs (run its layers on the CPU)",
                              c->backends[i]->name);
    for (int i = 0; i < c->n_backends; i++) c->backends[i]->set_observer(c->backends[i], fn, user);
    c->observed = fn != NULL;
    return KITE_OK;
}

int32_t kite_ctx_seq_pos(const kite_ctx *c, int32_t seq) {
    return seq >= 0 && seq < c->n_seq ? c->seq_pos[seq] : -1;
}

kite_status kite_ctx_seq_reset(kite_ctx *c, int32_t seq) {
    if (seq < 0 || seq >= c->n_seq)
        return kite__fail(KITE_ERR_INVALID, "sequence %d is out of range [0, %d)", seq, c->n_seq);
    c->seq_pos[seq] = c->seq_hwm[seq] = 0;
    return KITE_OK;
}

const int32_t *kite_ctx_seq_tokens(const kite_ctx *c, int32_t seq, int32_t *n) {
    if (seq < 0 || seq >= c->n_seq) {
        *n = 0;
        return NULL;
    }
    *n = c->seq_pos[seq];
    return c->seq_tok + (size_t)seq * (size_t)c->n_ctx;
}

// Whether sequence seq can be cut back to its first n tokens: a sliding-window layer's ring must
// still hold the n_swa - 1 positions before n (none of them overwritten by a later position: the
// ring holds the last swa_ring positions written, and seq_hwm bounds those).
static bool can_keep(const kite_ctx *c, int32_t seq, int32_t n) {
    if (n == 0 || n == c->seq_pos[seq] || c->swa_ring == 0) return true;
    const int32_t first = KITE_MAX(0, n - (c->m->hp.n_swa - 1)); // the earliest position the next token reads
    return c->seq_hwm[seq] - c->swa_ring <= first;
}

kite_status kite_ctx_seq_truncate(kite_ctx *c, int32_t seq, int32_t n) {
    if (seq < 0 || seq >= c->n_seq)
        return kite__fail(KITE_ERR_INVALID, "sequence %d is out of range [0, %d)", seq, c->n_seq);
    if (n < 0 || n > c->seq_pos[seq])
        return kite__fail(KITE_ERR_INVALID, "cannot keep %d tokens of sequence %d: it holds %d", n, seq, c->seq_pos[seq]);
    if (!can_keep(c, seq, n))
        return kite__fail(KITE_ERR_UNSUPPORTED,
                          "cannot keep %d tokens of sequence %d: its sliding-window cache (a ring of %d positions) "
                          "has moved past them (%d positions written)",
                          n, seq, c->swa_ring, c->seq_hwm[seq]);
    c->seq_pos[seq] = n;
    if (n == 0) c->seq_hwm[seq] = 0;
    return KITE_OK;
}

int32_t kite_ctx_seq_common_prefix(const kite_ctx *c, int32_t seq, const int32_t *tokens, int32_t n) {
    if (seq < 0 || seq >= c->n_seq || !tokens || n <= 0) return 0;
    const int32_t *held = c->seq_tok + (size_t)seq * (size_t)c->n_ctx;
    int32_t k = 0;
    const int32_t lim = KITE_MIN(n, c->seq_pos[seq]);
    while (k < lim && held[k] == tokens[k]) k++;
    return can_keep(c, seq, k) ? k : 0;
}

// Checks a batch before anything runs: ids in the vocabulary, sequences in range, and room for
// every sequence's new tokens in its cache.
static kite_status check_batch(const kite_ctx *c, const kite_batch *b) {
    if (!b || b->n <= 0 || !b->tokens) return kite__fail(KITE_ERR_INVALID, "eval needs at least one token");
    for (int32_t i = 0; i < b->n; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= c->m->hp.n_vocab)
            return kite__fail(KITE_ERR_INVALID, "token id %d at index %d is out of range [0, %d)", b->tokens[i], i,
                              c->m->hp.n_vocab);
        if (b->seq && (b->seq[i] < 0 || b->seq[i] >= c->n_seq))
            return kite__fail(KITE_ERR_INVALID, "sequence %d at index %d is out of range [0, %d)", b->seq[i], i,
                              c->n_seq);
    }
    for (int32_t q = 0; q < c->n_seq; q++) {
        int32_t n_new = 0;
        for (int32_t i = 0; i < b->n; i++) n_new += (b->seq ? b->seq[i] : 0) == q;
        if (n_new > c->n_ctx - c->seq_pos[q])
            return kite__fail(KITE_ERR_INVALID, "context full: %d tokens at position %d exceed n_ctx %d%s", n_new,
                              c->seq_pos[q], c->n_ctx, c->n_seq > 1 ? " of the sequence" : "");
    }
    return KITE_OK;
}

kite_status kite_ctx_decode(kite_ctx *c, const kite_batch *b, float *logits) {
    KITE_TRY(check_batch(c, b));
    int32_t *pos_before = malloc((size_t)c->n_seq * sizeof(int32_t));
    if (!pos_before) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    memcpy(pos_before, c->seq_pos, (size_t)c->n_seq * sizeof(int32_t));
    kite_status s = KITE_OK;
    float *out = logits;
    for (int32_t i0 = 0; i0 < b->n && s == KITE_OK; i0 += c->n_batch) {
        const int32_t n = KITE_MIN(c->n_batch, b->n - i0);
        int32_t n_out = 0;
        for (int32_t t = 0; t < n; t++) {
            const int32_t q = b->seq ? b->seq[i0 + t] : 0;
            c->step_seq[t] = q;
            c->seq_tok[(size_t)q * (size_t)c->n_ctx + (size_t)c->seq_pos[q]] = b->tokens[i0 + t];
            c->step_pos[t] = c->seq_pos[q]++;
            // the ring's reach: counted before the step runs (a failed step may have written rows)
            if (c->seq_hwm[q] < c->seq_pos[q]) c->seq_hwm[q] = c->seq_pos[q];
            if (b->want && b->want[i0 + t]) c->out_rows[n_out++] = t;
        }
        const kite_step st = {.n = n, .pos = c->step_pos, .seq = c->step_seq};
        const int rs = kite__model_read_begin(c->m); // (the file rows a repack behind still may release)
        s = kite__forward(c, &st, b->tokens + i0, c->out_rows, n_out, out);
        kite__model_read_end(c->m, rs);
        out += (size_t)n_out * c->m->hp.n_vocab;
    }
    if (s != KITE_OK) memcpy(c->seq_pos, pos_before, (size_t)c->n_seq * sizeof(int32_t));
    free(pos_before);
    return s;
}

kite_status kite_ctx_eval(kite_ctx *c, const int32_t *tokens, int32_t n, const float **logits) {
    if (c->n_seq != 1) return kite__fail(KITE_ERR_INVALID, "kite_ctx_eval needs a one-sequence context: use kite_ctx_decode");
    if (n <= 0 || !tokens) return kite__fail(KITE_ERR_INVALID, "eval needs at least one token");
    bool *want = calloc((size_t)n, sizeof *want);
    if (!want) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    want[n - 1] = true; // only the last token's logits
    const kite_batch b = {.tokens = tokens, .n = n, .want = want};
    kite_status s = kite_ctx_decode(c, &b, c->logits);
    free(want);
    if (s == KITE_OK && logits) *logits = c->logits;
    return s;
}

kite_status kite_ctx_eval_all(kite_ctx *c, const int32_t *tokens, int32_t n, float *all_logits) {
    if (c->n_seq != 1) return kite__fail(KITE_ERR_INVALID, "kite_ctx_eval_all needs a one-sequence context");
    if (n <= 0 || !tokens) return kite__fail(KITE_ERR_INVALID, "eval needs at least one token");
    bool *want = malloc((size_t)n * sizeof *want);
    if (!want) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < n; i++) want[i] = true;
    const kite_batch b = {.tokens = tokens, .n = n, .want = want};
    kite_status s = kite_ctx_decode(c, &b, all_logits);
    free(want);
    return s;
}
