// llama_imatrix_ref.h - llama.cpp's importance matrix, computed by node-llama-cpp's libllama
// (dlopen) the way llama-imatrix (tools/imatrix/imatrix.cpp) computes it, so that tests compare
// `kite imatrix` with llama.cpp where no llama-imatrix binary is built (CI). The context's eval
// callback (llama_context_params.cb_eval) is asked about every graph node; for each matmul of a
// block weight (MUL_MAT over 16 rows or more of F32 input, and every MUL_MAT_ID) it sums the
// squared inputs per column in float, in llama-imatrix's order, and counts the rows (per expert
// for MUL_MAT_ID, attributed through its ids tensor). The text is cut, batched and decoded as
// `llama-imatrix -c N --no-ppl -t 1` does (default -b 2048, so 2048/N chunks side by side, each
// from a cleared cache with BOS first, all outputs requested), and the result is written as
// llama-imatrix's GGUF through ggml's own gguf writer. Header-only; tests link ${CMAKE_DL_LIBS}.
#ifndef KITE_TEST_LLAMA_IMATRIX_REF_H
#define KITE_TEST_LLAMA_IMATRIX_REF_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llama_lib.h"

// ---- layouts restated from node-llama-cpp's llama.cpp (commit de3ff81, release v0.5.0) --------
// include/llama.h and ggml/include/ggml.h; lim_open checks them against the library's defaults
// and a tensor graph it builds, and refuses to run when one differs.

// struct ggml_tensor (GGML_MAX_DIMS 4, GGML_MAX_OP_PARAMS 64, GGML_MAX_SRC 10, GGML_MAX_NAME 64).
typedef struct lim_tensor {
    int32_t type; // enum ggml_type (GGML_TYPE_F32 = 0)
    void *buffer; // ggml_backend_buffer_t
    int64_t ne[4];
    size_t nb[4];
    int32_t op; // enum ggml_op
    int32_t op_params[16];
    int32_t flags;
    struct lim_tensor *src[10];
    struct lim_tensor *view_src;
    size_t view_offs;
    void *data;
    char name[64];
    void *extra;
    char padding[8];
} lim_tensor;
_Static_assert(offsetof(lim_tensor, op) == 80 && offsetof(lim_tensor, src) == 152 &&
                   offsetof(lim_tensor, data) == 248 && offsetof(lim_tensor, name) == 256 && sizeof(lim_tensor) == 336,
               "struct ggml_tensor as ggml.h lays it out on x86-64");

// ggml_backend_sched_eval_callback
typedef bool (*lim_eval_cb)(lim_tensor *t, bool ask, void *user);

// struct llama_model_params
typedef struct lim_model_params {
    void *devices;
    const void *tensor_buft_overrides;
    int32_t n_gpu_layers;
    int32_t split_mode, load_mode, lazy_mode; // enums
    int32_t main_gpu;
    const float *tensor_split;
    void *progress_callback;
    void *progress_callback_user_data;
    const void *kv_overrides;
    bool vocab_only, check_tensors, use_extra_bufts, no_host, no_alloc, load_mtp;
} lim_model_params;
_Static_assert(offsetof(lim_model_params, tensor_split) == 40 && offsetof(lim_model_params, vocab_only) == 72 &&
                   sizeof(lim_model_params) == 80,
               "struct llama_model_params as llama.h lays it out on x86-64");

// struct llama_context_params
typedef struct lim_ctx_params {
    uint32_t n_ctx, n_batch, n_ubatch, n_seq_max, n_rs_seq, n_outputs_max, n_outputs_max_per_seq;
    int32_t n_threads, n_threads_batch;
    int32_t ctx_type, rope_scaling_type, pooling_type, attention_type, flash_attn_type; // enums
    float rope_freq_base, rope_freq_scale, yarn_ext_factor, yarn_attn_factor, yarn_beta_fast, yarn_beta_slow;
    uint32_t yarn_orig_ctx;
    float defrag_thold;
    lim_eval_cb cb_eval;
    void *cb_eval_user_data;
    int32_t type_k, type_v; // enum ggml_type
    void *abort_callback;
    void *abort_callback_data;
    bool embeddings, offload_kqv, no_perf, op_offload, swa_full, kv_unified;
    void *samplers;
    size_t n_samplers;
    void *ctx_other;
} lim_ctx_params;
_Static_assert(offsetof(lim_ctx_params, cb_eval) == 88 && offsetof(lim_ctx_params, type_k) == 104 &&
                   offsetof(lim_ctx_params, embeddings) == 128 && offsetof(lim_ctx_params, samplers) == 136 &&
                   sizeof(lim_ctx_params) == 160,
               "struct llama_context_params as llama.h lays it out on x86-64");

// struct llama_batch
typedef struct lim_batch {
    int32_t n_tokens;
    int32_t *token;
    float *embd;
    int32_t *pos;
    int32_t *n_seq_id;
    int32_t **seq_id;
    int8_t *logits;
} lim_batch;

// struct ggml_init_params
typedef struct lim_init_params {
    size_t mem_size;
    void *mem_buffer;
    bool no_alloc;
} lim_init_params;

// ---- the library ------------------------------------------------------------------------------

typedef struct lim_api {
    // libllama
    void (*backend_init)(void);
    void (*log_set)(void (*cb)(int, const char *, void *), void *user);
    lim_model_params (*model_default_params)(void);
    lim_ctx_params (*context_default_params)(void);
    void *(*model_load)(const char *path, lim_model_params p);
    void (*model_free)(void *model);
    void *(*init_from_model)(void *model, lim_ctx_params p);
    void (*free_ctx)(void *ctx);
    const void *(*get_vocab)(const void *model);
    bool (*add_bos)(const void *vocab);
    int32_t (*bos)(const void *vocab);
    int32_t (*tokenize)(const void *vocab, const char *text, int32_t len, int32_t *out, int32_t cap, bool add_special,
                        bool parse_special);
    lim_batch (*batch_init)(int32_t n_tokens, int32_t embd, int32_t n_seq_max);
    void (*batch_free)(lim_batch b);
    int32_t (*decode)(void *ctx, lim_batch b);
    void *(*get_memory)(const void *ctx);
    void (*memory_clear)(void *mem, bool data);
    // libggml: the backends are loaded from the libraries' folder
    void (*load_backends)(const char *dir);
    // libggml-base
    void *(*ggml_init)(lim_init_params p);
    void (*ggml_free)(void *ctx);
    lim_tensor *(*new_tensor_2d)(void *ctx, int32_t type, int64_t ne0, int64_t ne1);
    lim_tensor *(*new_tensor_3d)(void *ctx, int32_t type, int64_t ne0, int64_t ne1, int64_t ne2);
    lim_tensor *(*set_name)(lim_tensor *t, const char *name);
    void *(*get_data)(const lim_tensor *t);
    lim_tensor *(*mul_mat)(void *ctx, lim_tensor *a, lim_tensor *b);
    lim_tensor *(*mul_mat_id)(void *ctx, lim_tensor *as, lim_tensor *b, lim_tensor *ids);
    const char *(*op_name)(int32_t op);
    size_t (*tensor_overhead)(void);
    size_t (*nbytes)(const lim_tensor *t);
    int64_t (*nrows)(const lim_tensor *t);
    bool (*buffer_is_host)(const void *buffer);
    void (*tensor_get)(const lim_tensor *t, void *data, size_t offset, size_t size);
    void *(*gguf_init_empty)(void);
    void (*gguf_free)(void *g);
    void (*gguf_set_val_str)(void *g, const char *key, const char *val);
    void (*gguf_set_arr_str)(void *g, const char *key, const char **data, size_t n);
    void (*gguf_set_val_u32)(void *g, const char *key, uint32_t val);
    void (*gguf_add_tensor)(void *g, const lim_tensor *t);
    bool (*gguf_write_to_file)(const void *g, const char *path, bool only_meta);
    // the op codes of MUL_MAT and MUL_MAT_ID, read from tensors lim_open builds
    int32_t op_mul_mat, op_mul_mat_id;
} lim_api;

// llama.cpp's log: errors only.
static inline void lim_log(int level, const char *text, void *user) {
    (void)user;
    if (level == 4) fprintf(stderr, "libllama: %s", text); // GGML_LOG_LEVEL_ERROR
}

// Checks the restated layouts against the library: the default parameters llama.cpp sets at the
// offsets restated here, and a small ggml graph (shapes, strides, name, data, the sources of a
// MUL_MAT and a MUL_MAT_ID). Records the two op codes. Prints what differs; false then.
static inline bool lim_check_layout(lim_api *a) {
    bool ok = true;
    const lim_model_params mp = a->model_default_params();
    if (!(mp.devices == NULL && mp.tensor_buft_overrides == NULL && mp.n_gpu_layers == -1 && mp.split_mode == 1 &&
          mp.load_mode == -1 && mp.lazy_mode == 1 && mp.main_gpu == 0 && mp.tensor_split == NULL &&
          mp.progress_callback == NULL && mp.kv_overrides == NULL && !mp.vocab_only && !mp.check_tensors &&
          mp.use_extra_bufts && !mp.no_host && !mp.no_alloc && !mp.load_mtp)) {
        fprintf(stderr, "llama_model_default_params does not match the llama_model_params restated here\n");
        ok = false;
    }
    const lim_ctx_params cp = a->context_default_params();
    if (!(cp.n_ctx == 512 && cp.n_batch == 2048 && cp.n_ubatch == 512 && cp.n_seq_max == 1 && cp.n_rs_seq == 0 &&
          cp.n_outputs_max == 0 && cp.n_outputs_max_per_seq == 1 && cp.n_threads == 4 && cp.n_threads_batch == 4 &&
          cp.ctx_type == 0 && cp.rope_scaling_type == -1 && cp.pooling_type == -1 && cp.attention_type == -1 &&
          cp.flash_attn_type == -1 && cp.rope_freq_base == 0.0f && cp.rope_freq_scale == 0.0f &&
          cp.yarn_ext_factor == -1.0f && cp.yarn_attn_factor == -1.0f && cp.yarn_beta_fast == -1.0f &&
          cp.yarn_beta_slow == -1.0f && cp.yarn_orig_ctx == 0 && cp.defrag_thold == -1.0f && cp.cb_eval == NULL &&
          cp.cb_eval_user_data == NULL && cp.type_k == 1 && cp.type_v == 1 && cp.abort_callback == NULL &&
          cp.abort_callback_data == NULL && !cp.embeddings && cp.offload_kqv && cp.no_perf && cp.op_offload &&
          cp.swa_full && !cp.kv_unified && cp.samplers == NULL && cp.n_samplers == 0 && cp.ctx_other == NULL)) {
        fprintf(stderr, "llama_context_default_params does not match the llama_context_params restated here\n");
        ok = false;
    }
    // struct ggml_object (32 bytes) + struct ggml_tensor
    if (a->tensor_overhead() != 32 + sizeof(lim_tensor)) {
        fprintf(stderr, "ggml_tensor_overhead() %zu: struct ggml_tensor is not %zu bytes\n", a->tensor_overhead(),
                sizeof(lim_tensor));
        ok = false;
    }
    void *g = a->ggml_init((lim_init_params){64 * 1024, NULL, false});
    if (!g) return false;
    lim_tensor *w = a->new_tensor_2d(g, 0, 7, 3), *x = a->new_tensor_2d(g, 0, 7, 5);
    lim_tensor *as = a->new_tensor_3d(g, 0, 7, 3, 4), *xe = a->new_tensor_3d(g, 0, 7, 2, 5);
    lim_tensor *ids = a->new_tensor_2d(g, 26, 2, 5); // GGML_TYPE_I32
    a->set_name(w, "blk.0.layout_check.weight");
    lim_tensor *mm = a->mul_mat(g, w, x), *mid = a->mul_mat_id(g, as, xe, ids);
    if (!(w->type == 0 && w->ne[0] == 7 && w->ne[1] == 3 && w->ne[2] == 1 && w->ne[3] == 1 && w->nb[0] == 4 &&
          w->nb[1] == 28 && w->nb[2] == 84 && w->nb[3] == 84 && !strcmp(w->name, "blk.0.layout_check.weight") &&
          w->data != NULL && w->data == a->get_data(w) && ids->type == 26 && a->nbytes(ids) == 40 && a->nrows(xe) == 10 &&
          mm->src[0] == w && mm->src[1] == x && mm->src[2] == NULL && !strcmp(a->op_name(mm->op), "MUL_MAT") &&
          mid->src[0] == as && mid->src[1] == xe && mid->src[2] == ids && !strcmp(a->op_name(mid->op), "MUL_MAT_ID") &&
          !strcmp(a->op_name(w->op), "NONE"))) {
        fprintf(stderr, "a ggml graph does not read as the struct ggml_tensor restated here\n");
        ok = false;
    } else {
        a->op_mul_mat = mm->op;
        a->op_mul_mat_id = mid->op;
    }
    a->ggml_free(g);
    return ok;
}

// Loads libllama, libggml and libggml-base, the CPU backend (the best for this CPU, from the
// libraries' folder), and checks the layouts. Once per process (the backends register once). False when the libraries are missing (see
// llama_lib_open: CI=true on x86-64 sets *ci_fail, elsewhere the caller skips) or when a symbol or
// a layout differs (then it prints why, and the caller fails).
static inline bool lim_open(lim_api *a, int *ci_fail, bool *broken) {
    memset(a, 0, sizeof *a);
    *broken = false;
    void *hl = llama_lib_open("libllama.v0.5.0.so", ci_fail);
    void *hg = hl ? llama_lib_open("libggml.v0.5.0.so", ci_fail) : NULL;
    void *hb = hg ? llama_lib_open("libggml-base.so", ci_fail) : NULL;
    if (!hb) return false;
#define LIM_SYM(h, field, name) *(void **)&a->field = llama_lib_sym(h, name), ok = ok && a->field
    bool ok = true;
    LIM_SYM(hl, backend_init, "llama_backend_init");
    LIM_SYM(hl, log_set, "llama_log_set");
    LIM_SYM(hl, model_default_params, "llama_model_default_params");
    LIM_SYM(hl, context_default_params, "llama_context_default_params");
    LIM_SYM(hl, model_load, "llama_model_load_from_file");
    LIM_SYM(hl, model_free, "llama_model_free");
    LIM_SYM(hl, init_from_model, "llama_init_from_model");
    LIM_SYM(hl, free_ctx, "llama_free");
    LIM_SYM(hl, get_vocab, "llama_model_get_vocab");
    LIM_SYM(hl, add_bos, "llama_vocab_get_add_bos");
    LIM_SYM(hl, bos, "llama_vocab_bos");
    LIM_SYM(hl, tokenize, "llama_tokenize");
    LIM_SYM(hl, batch_init, "llama_batch_init");
    LIM_SYM(hl, batch_free, "llama_batch_free");
    LIM_SYM(hl, decode, "llama_decode");
    LIM_SYM(hl, get_memory, "llama_get_memory");
    LIM_SYM(hl, memory_clear, "llama_memory_clear");
    LIM_SYM(hg, load_backends, "ggml_backend_load_all_from_path");
    LIM_SYM(hb, ggml_init, "ggml_init");
    LIM_SYM(hb, ggml_free, "ggml_free");
    LIM_SYM(hb, new_tensor_2d, "ggml_new_tensor_2d");
    LIM_SYM(hb, new_tensor_3d, "ggml_new_tensor_3d");
    LIM_SYM(hb, set_name, "ggml_set_name");
    LIM_SYM(hb, get_data, "ggml_get_data");
    LIM_SYM(hb, mul_mat, "ggml_mul_mat");
    LIM_SYM(hb, mul_mat_id, "ggml_mul_mat_id");
    LIM_SYM(hb, op_name, "ggml_op_name");
    LIM_SYM(hb, tensor_overhead, "ggml_tensor_overhead");
    LIM_SYM(hb, nbytes, "ggml_nbytes");
    LIM_SYM(hb, nrows, "ggml_nrows");
    LIM_SYM(hb, buffer_is_host, "ggml_backend_buffer_is_host");
    LIM_SYM(hb, tensor_get, "ggml_backend_tensor_get");
    LIM_SYM(hb, gguf_init_empty, "gguf_init_empty");
    LIM_SYM(hb, gguf_free, "gguf_free");
    LIM_SYM(hb, gguf_set_val_str, "gguf_set_val_str");
    LIM_SYM(hb, gguf_set_arr_str, "gguf_set_arr_str");
    LIM_SYM(hb, gguf_set_val_u32, "gguf_set_val_u32");
    LIM_SYM(hb, gguf_add_tensor, "gguf_add_tensor");
    LIM_SYM(hb, gguf_write_to_file, "gguf_write_to_file");
#undef LIM_SYM
    if (!ok) {
        fprintf(stderr, "llama.cpp's libraries lack a function the imatrix collector needs\n");
        *broken = true;
        return false;
    }
    a->log_set(lim_log, NULL);
    char dir[4096];
    llama_lib_path("", dir, sizeof dir);
    a->load_backends(dir);
    a->backend_init();
    if (!lim_check_layout(a)) {
        *broken = true;
        return false;
    }
    return true;
}

// ---- the collector ----------------------------------------------------------------------------

// One weight's statistics: nval sums of squared input columns, in n_mat rows of nval / n_mat
// (one per expert of a MUL_MAT_ID weight), and per row the number of input rows summed.
typedef struct lim_entry {
    char name[64];
    int64_t nval, n_mat;
    float *sums;
    int64_t *counts;
} lim_entry;

typedef struct lim_matrix {
    lim_entry *e;
    size_t n, cap;
    int32_t chunk_size, last_chunk; // imatrix.chunk_size, imatrix.chunk_count
    const lim_api *a;
    char *scratch; // non-host inputs and the ids, copied
    size_t scratch_cap;
    char err[256]; // set on the first failure: the collection stops
} lim_matrix;

static inline void lim_matrix_free(lim_matrix *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].sums);
        free(m->e[i].counts);
    }
    free(m->e);
    free(m->scratch);
    memset(m, 0, sizeof *m);
}

// The entry of weight `name`, made with nval sums and n_mat counts if new; NULL (and m->err)
// when the sizes differ from those it was made with.
static inline lim_entry *lim_entry_get(lim_matrix *m, const char *name, int64_t nval, int64_t n_mat) {
    for (size_t i = 0; i < m->n; i++) {
        lim_entry *e = &m->e[i];
        if (strcmp(e->name, name) != 0) continue;
        if (e->nval != nval || e->n_mat != n_mat) {
            snprintf(m->err, sizeof m->err, "inconsistent size for %s", name);
            return NULL;
        }
        return e;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        lim_entry *ne = realloc(m->e, cap * sizeof *ne);
        if (!ne) return NULL;
        m->e = ne, m->cap = cap;
    }
    lim_entry *e = &m->e[m->n];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->nval = nval, e->n_mat = n_mat;
    e->sums = calloc((size_t)nval, sizeof *e->sums);
    e->counts = calloc((size_t)n_mat, sizeof *e->counts);
    if (!e->sums || !e->counts) {
        free(e->sums), free(e->counts);
        snprintf(m->err, sizeof m->err, "out of memory");
        return NULL;
    }
    m->n++;
    return e;
}

// The weight's name without a backend prefix and a copy suffix ("CUDA0#blk.0.attn_k.weight#0").
static inline void lim_weight_name(const char *name, char *out, size_t cap) {
    const char *p = strchr(name, '#');
    if (!p) {
        snprintf(out, cap, "%s", name);
        return;
    }
    p++;
    const char *q = strchr(p, '#');
    snprintf(out, cap, "%.*s", (int)(q ? q - p : (ptrdiff_t)strlen(p)), p);
}

// A tensor's bytes in host memory: its own data when its buffer is the host's, else a copy.
static inline const char *lim_host_data(lim_matrix *m, const lim_tensor *t, bool copy) {
    if (!copy && m->a->buffer_is_host(t->buffer)) return (const char *)t->data;
    const size_t n = m->a->nbytes(t);
    if (n > m->scratch_cap) {
        char *s = realloc(m->scratch, n);
        if (!s) return NULL;
        m->scratch = s, m->scratch_cap = n;
    }
    m->a->tensor_get(t, m->scratch, 0, n);
    return m->scratch;
}

static inline bool lim_finite(const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

// llama-imatrix's chunk count: the largest count so far, in chunks.
static inline void lim_note_count(lim_matrix *m, int64_t count) {
    const int32_t n_chunk = (int32_t)(count / m->chunk_size);
    if (n_chunk > m->last_chunk) m->last_chunk = n_chunk;
}

// The eval callback: asked (ask) whether node t is wanted, then called with it computed.
static inline bool lim_eval(lim_tensor *t, bool ask, void *user) {
    lim_matrix *m = user;
    const lim_api *a = m->a;
    const lim_tensor *src0 = t->src[0], *src1 = t->src[1];
    if (ask) {
        if (t->op == a->op_mul_mat_id) return true;
        if (t->op != a->op_mul_mat) return false;
        if (src1->ne[1] < 16 || src1->type != 0) return false; // dense products over few rows are left out
        char w[64];
        lim_weight_name(src0->name, w, sizeof w);
        return !strncmp(w, "blk.", 4); // the output head only with --process-output
    }
    if (m->err[0] || (t->op != a->op_mul_mat && t->op != a->op_mul_mat_id)) return true;
    char wname[64];
    lim_weight_name(src0->name, wname, sizeof wname);
    if (src1->type != 0 || src1->nb[0] != sizeof(float)) {
        snprintf(m->err, sizeof m->err, "%s: the input is not contiguous F32", wname);
        return true;
    }
    const char *data = lim_host_data(m, src1, false);
    if (!data) {
        snprintf(m->err, sizeof m->err, "out of memory");
        return true;
    }
    const int64_t ne0 = src1->ne[0];
    if (t->op == a->op_mul_mat_id) {
        // ids [n_expert_used, n_tokens] (not contiguous), src1 [cols, n_expert_used or 1, n_tokens]
        const lim_tensor *ids = t->src[2];
        const int64_t n_as = src0->ne[2], n_ids = ids->ne[0], n_tokens = src1->ne[2];
        if (ids->ne[1] != n_tokens || a->nrows(src1) != src1->ne[1] * src1->ne[2]) {
            snprintf(m->err, sizeof m->err, "%s: unexpected MUL_MAT_ID shapes", wname);
            return true;
        }
        // the ids are copied after the input: keep the input's copy apart when it is one
        const bool src1_copied = data == m->scratch;
        char *own = NULL;
        if (src1_copied) {
            own = malloc(a->nbytes(src1));
            if (!own) return true;
            memcpy(own, data, a->nbytes(src1));
            data = own;
        }
        const char *idd = lim_host_data(m, ids, true);
        lim_entry *e = idd ? lim_entry_get(m, wname, ne0 * n_as, n_as) : NULL;
        if (!e) {
            free(own);
            return true;
        }
        unsigned char *touched = calloc((size_t)n_as, 1);
        // slot by slot, token by token, as llama-imatrix sums
        for (int64_t idx = 0; touched && idx < n_ids; idx++)
            for (int64_t row = 0; row < n_tokens; row++) {
                const int32_t ex = *(const int32_t *)(idd + row * ids->nb[1] + idx * ids->nb[0]);
                if (ex < 0 || ex >= n_as) {
                    snprintf(m->err, sizeof m->err, "%s: expert id %d out of range", wname, (int)ex);
                    free(touched), free(own);
                    return true;
                }
                const float *x = (const float *)(data + (idx % src1->ne[1]) * src1->nb[1] + row * src1->nb[2]);
                float *acc = e->sums + ex * ne0;
                e->counts[ex]++;
                touched[ex] = 1;
                for (int64_t j = 0; j < ne0; j++) acc[j] += x[j] * x[j];
            }
        for (int64_t ex = 0; touched && ex < n_as; ex++) {
            if (touched[ex] && !lim_finite(e->sums + ex * ne0, ne0))
                snprintf(m->err, sizeof m->err, "non-finite values in %s", wname);
            lim_note_count(m, e->counts[ex]);
        }
        if (!touched) snprintf(m->err, sizeof m->err, "out of memory");
        free(touched);
        free(own);
        return true;
    }
    // dense: one count; a 3-D+ input over a 2-D weight is flattened onto it
    const int64_t n_mat = src0->ne[2] * src0->ne[3];
    lim_entry *e = lim_entry_get(m, wname, ne0 * n_mat, 1);
    if (!e) return true;
    for (int64_t i3 = 0; i3 < src1->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < src1->ne[2]; i2++) {
            const int64_t mat = (i3 % src0->ne[3]) * src0->ne[2] + (i2 % src0->ne[2]);
            float *acc = e->sums + mat * ne0;
            for (int64_t row = 0; row < src1->ne[1]; row++) {
                const float *x = (const float *)(data + row * src1->nb[1] + i2 * src1->nb[2] + i3 * src1->nb[3]);
                for (int64_t j = 0; j < ne0; j++) acc[j] += x[j] * x[j];
            }
        }
    if (!lim_finite(e->sums, ne0 * n_mat)) snprintf(m->err, sizeof m->err, "non-finite values in %s", wname);
    e->counts[0] += a->nrows(src1) / n_mat;
    lim_note_count(m, e->counts[0]);
    return true;
}

// Computes llama.cpp's importance matrix of the model at model_path over the text file at
// text_path (read as llama-imatrix's -f reads it: one trailing newline dropped), as
// `llama-imatrix -m MODEL -f TEXT -c n_ctx --no-ppl -t 1` does, into m (free with
// lim_matrix_free). False with m->err set on failure.
static inline bool lim_collect(const lim_api *a, const char *model_path, const char *text_path, int n_ctx,
                               lim_matrix *m) {
    memset(m, 0, sizeof *m);
    m->a = a;
    size_t text_len = 0;
    char *text = (char *)check_read_file(text_path, &text_len);
    if (!text) {
        snprintf(m->err, sizeof m->err, "cannot read %s", text_path);
        return false;
    }
    if (text_len && text[text_len - 1] == '\n') text_len--;
    void *model = NULL, *ctx = NULL;
    int32_t *tokens = NULL;
    lim_batch batch = {0};
    bool ok = false;
    // -b 2048 (the default) puts n_batch / n_ctx chunks side by side, each its own sequence
    const int n_batch_arg = 2048;
    const int n_seq = n_batch_arg / n_ctx > 1 ? n_batch_arg / n_ctx : 1;
    const int n_kv = n_seq * n_ctx;
    const int n_batch = n_batch_arg < n_kv ? n_batch_arg : n_kv;
    m->chunk_size = n_ctx;
    model = a->model_load(model_path, a->model_default_params());
    if (!model) {
        snprintf(m->err, sizeof m->err, "libllama cannot load %s", model_path);
        goto done;
    }
    lim_ctx_params cp = a->context_default_params();
    cp.n_ctx = (uint32_t)n_kv;
    cp.n_seq_max = (uint32_t)n_seq;
    cp.n_batch = (uint32_t)n_batch;
    cp.n_ubatch = 512;
    cp.n_threads = cp.n_threads_batch = 1;
    cp.no_perf = false;
    cp.swa_full = false; // common_params' default
    cp.cb_eval = lim_eval;
    cp.cb_eval_user_data = m;
    ctx = a->init_from_model(model, cp);
    if (!ctx) {
        snprintf(m->err, sizeof m->err, "libllama cannot make a context");
        goto done;
    }
    const void *vocab = a->get_vocab(model);
    const bool add_bos = a->add_bos(vocab);
    int32_t cap = (int32_t)text_len + 2;
    tokens = malloc((size_t)cap * sizeof *tokens);
    int32_t n_tok = tokens ? a->tokenize(vocab, text, (int32_t)text_len, tokens, cap, true, false) : 0;
    if (n_tok < 0) {
        cap = -n_tok;
        int32_t *t2 = realloc(tokens, (size_t)cap * sizeof *tokens);
        if (t2) tokens = t2, n_tok = a->tokenize(vocab, text, (int32_t)text_len, tokens, cap, true, false);
    }
    if (!tokens || n_tok < 2 * n_ctx) {
        snprintf(m->err, sizeof m->err, "%d tokens: need at least %d", (int)n_tok, 2 * n_ctx);
        goto done;
    }
    const int n_chunk = n_tok / n_ctx, num_batches = (n_ctx + n_batch - 1) / n_batch;
    batch = a->batch_init(n_batch < n_kv ? n_batch : n_kv, 0, 1);
    for (int i = 0; i < n_chunk && !m->err[0]; i += n_seq) {
        const int start = i * n_ctx, end = start + n_ctx;
        const int n_seq_batch = n_seq < n_chunk - i ? n_seq : n_chunk - i;
        a->memory_clear(a->get_memory(ctx), true);
        for (int j = 0; j < num_batches && !m->err[0]; j++) {
            const int batch_start = start + j * n_batch;
            const int batch_size = end - batch_start < n_batch ? end - batch_start : n_batch;
            batch.n_tokens = 0;
            for (int seq = 0; seq < n_seq_batch; seq++) {
                const int seq_start = batch_start + seq * n_ctx;
                for (int k = 0; k < batch_size; k++) {
                    const int32_t n = batch.n_tokens++;
                    batch.token[n] = add_bos && j == 0 && k == 0 ? a->bos(vocab) : tokens[seq_start + k];
                    batch.pos[n] = j * n_batch + k;
                    batch.n_seq_id[n] = 1;
                    batch.seq_id[n][0] = seq;
                    batch.logits[n] = 1; // all outputs, as llama-imatrix asks
                }
            }
            if (a->decode(ctx, batch) != 0) {
                snprintf(m->err, sizeof m->err, "llama_decode failed at chunk %d", i);
                goto done;
            }
        }
    }
    ok = !m->err[0];
done:
    if (batch.token) a->batch_free(batch);
    if (ctx) a->free_ctx(ctx);
    if (model) a->model_free(model);
    free(tokens);
    free(text);
    return ok;
}

static inline int lim_name_cmp(const void *x, const void *y) {
    return strcmp(((const lim_entry *)x)->name, ((const lim_entry *)y)->name);
}

// Writes m as llama-imatrix's GGUF (save_imatrix: general.type, imatrix.datasets = [dataset],
// imatrix.chunk_count, imatrix.chunk_size, then NAME.in_sum2 [ne0, n_mat] and NAME.counts [1,
// n_mat] per weight in name order) through ggml's gguf writer. Sorts m's entries. False on failure.
static inline bool lim_write_gguf(const lim_api *a, lim_matrix *m, const char *path, const char *dataset) {
    qsort(m->e, m->n, sizeof *m->e, lim_name_cmp);
    size_t mem = 1024;
    for (size_t i = 0; i < m->n; i++)
        mem += 2 * a->tensor_overhead() + (size_t)(m->e[i].nval + m->e[i].n_mat) * sizeof(float) + 64;
    void *g = a->ggml_init((lim_init_params){mem, NULL, false});
    void *gg = a->gguf_init_empty();
    if (!g || !gg) return false;
    a->gguf_set_val_str(gg, "general.type", "imatrix");
    a->gguf_set_arr_str(gg, "imatrix.datasets", &dataset, 1);
    a->gguf_set_val_u32(gg, "imatrix.chunk_count", (uint32_t)m->last_chunk);
    a->gguf_set_val_u32(gg, "imatrix.chunk_size", (uint32_t)m->chunk_size);
    for (size_t i = 0; i < m->n; i++) {
        const lim_entry *e = &m->e[i];
        char name[128];
        lim_tensor *s = a->new_tensor_2d(g, 0, e->nval / e->n_mat, e->n_mat);
        lim_tensor *c = a->new_tensor_2d(g, 0, 1, e->n_mat);
        snprintf(name, sizeof name, "%s.in_sum2", e->name);
        a->set_name(s, name);
        snprintf(name, sizeof name, "%s.counts", e->name);
        a->set_name(c, name);
        memcpy(a->get_data(s), e->sums, (size_t)e->nval * sizeof(float));
        float *cd = a->get_data(c);
        for (int64_t k = 0; k < e->n_mat; k++) cd[k] = (float)e->counts[k];
        a->gguf_add_tensor(gg, s);
        a->gguf_add_tensor(gg, c);
    }
    const bool ok = a->gguf_write_to_file(gg, path, false);
    a->gguf_free(gg);
    a->ggml_free(g);
    return ok;
}

#endif
