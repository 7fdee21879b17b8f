// llama_quant_ref.h - loads llama.cpp's real quantizer (llama_model_quantize) and its per-tensor
// type chooser (llama_quant_compute_types, llama-ext.h) from node-llama-cpp's libllama (dlopen),
// so the quantize tests compare with llama.cpp itself. Header-only; tests link ${CMAKE_DL_LIBS}.
#ifndef KITE_TEST_LLAMA_QUANT_REF_H
#define KITE_TEST_LLAMA_QUANT_REF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "llama_lib.h"

// llama.h's llama_model_quantize_params (the version node-llama-cpp ships; checked against
// /tmp/ref/llama.cpp/include/llama.h). Enums are ints.
typedef struct lq_params {
    int32_t nthread;
    int ftype;
    int output_tensor_type;   // GGML_TYPE_COUNT (43 here) = default
    int token_embedding_type; // idem
    bool allow_requantize;
    bool quantize_output_tensor;
    bool only_copy;
    bool pure;
    bool keep_split;
    bool dry_run;
    const void *imatrix;
    const void *kv_overrides;
    const void *tt_overrides; // array of lq_tensor_override ended by {NULL, ...}
    const int32_t *prune_layers;
    size_t max_buf_size;
} lq_params;

typedef struct lq_tensor_override {
    const char *pattern;
    int type;
} lq_tensor_override;

// llama.h's llama_model_kv_override and llama_model_imatrix_data.
typedef struct lq_kv {
    int tag; // 0 int, 1 float, 2 bool, 3 str
    char key[128];
    union {
        int64_t val_i64;
        double val_f64;
        bool val_bool;
        char val_str[128];
    };
} lq_kv;

typedef struct lq_imat {
    const char *name;
    const float *data;
    size_t size;
} lq_imat;

// Hands n importance-matrix entries d (normalized values, as llama-quantize computes them) to
// llama_model_quantize in *p with llama-quantize's kv overrides, written to kv (5 slots, the
// last left zero as the end mark): quantize.imatrix.file (its first 127 bytes, as
// llama-quantize keeps), .dataset (when not NULL), .entries_count = n, .chunks_count (when
// chunks > 0). n == 0 leaves *p without an imatrix. d and kv must outlive the quantize call.
static inline void lq_set_imatrix(lq_params *p, const lq_imat *d, size_t n, lq_kv kv[5], const char *file,
                                  const char *dataset, int32_t chunks) {
    memset(kv, 0, 5 * sizeof *kv);
    if (!n) return;
    int nk = 0;
    p->imatrix = d;
    kv[nk].tag = 3;
    snprintf(kv[nk].key, 128, "quantize.imatrix.file");
    memcpy(kv[nk++].val_str, file, strlen(file) < 127 ? strlen(file) : 127);
    if (dataset) {
        kv[nk].tag = 3;
        snprintf(kv[nk].key, 128, "quantize.imatrix.dataset");
        memcpy(kv[nk++].val_str, dataset, strlen(dataset) < 127 ? strlen(dataset) : 127);
    }
    kv[nk].tag = 0;
    snprintf(kv[nk].key, 128, "quantize.imatrix.entries_count");
    kv[nk++].val_i64 = (int64_t)n;
    if (chunks > 0) {
        kv[nk].tag = 0;
        snprintf(kv[nk].key, 128, "quantize.imatrix.chunks_count");
        kv[nk++].val_i64 = chunks;
    }
    p->kv_overrides = kv;
}

// llama-ext.h's llama_quant_model_desc.
typedef struct lq_model_desc {
    const char *architecture;
    uint32_t n_embd, n_ff, n_layer, n_head, n_head_kv, n_expert, n_embd_head_k, n_embd_head_v;
} lq_model_desc;

// ggml.h's ggml_init_params.
typedef struct lq_ggml_init_params {
    size_t mem_size;
    void *mem_buffer;
    bool no_alloc;
} lq_ggml_init_params;

typedef struct lq_ref {
    void *h, *hg;
    lq_params (*default_params)(void);
    uint32_t (*quantize)(const char *in, const char *out, const lq_params *p);
    void (*log_set)(void (*cb)(int, const char *, void *), void *user);
    // llama-ext.h (C++ linkage: looked up by mangled name)
    void *(*model_from_metadata)(const lq_model_desc *d);
    void *(*quant_init)(const void *model, const lq_params *p);
    void (*quant_free)(void *qs);
    void (*compute_types)(void *qs, int ftype, void **tensors, int *result_types, size_t n);
    void (*model_free)(void *model);
    // ggml, to make the tensors compute_types looks at
    void *(*ggml_init)(lq_ggml_init_params p);
    void (*ggml_free)(void *ctx);
    void *(*ggml_new_tensor)(void *ctx, int type, int n_dims, const int64_t *ne);
    void *(*ggml_set_name)(void *t, const char *name);
} lq_ref;

static inline void lq_silent_log(int level, const char *text, void *user) {
    (void)level, (void)text, (void)user;
}

// Loads libllama and libggml-base. Returns false when they are missing (see llama_lib_open:
// CI=true on x86-64 sets *ci_fail, elsewhere the caller skips) or libllama lacks the quantizer
// (a failure). Prints why.
static inline bool lq_open(lq_ref *r, int *ci_fail) {
    memset(r, 0, sizeof *r);
    r->h = llama_lib_open("libllama.v0.5.0.so", ci_fail);
    r->hg = r->h ? llama_lib_open("libggml-base.so", ci_fail) : NULL;
    if (!r->hg) return false;
#define LQ_SYM(h, field, name) *(void **)&r->field = llama_lib_sym(h, name)
    LQ_SYM(r->h, default_params, "llama_model_quantize_default_params");
    LQ_SYM(r->h, quantize, "llama_model_quantize");
    LQ_SYM(r->h, log_set, "llama_log_set");
    LQ_SYM(r->h, model_from_metadata, "_Z31llama_quant_model_from_metadataPK22llama_quant_model_desc");
    LQ_SYM(r->h, quant_init, "_Z16llama_quant_initPK11llama_modelPK27llama_model_quantize_params");
    LQ_SYM(r->h, quant_free, "_Z16llama_quant_freeP19quantize_state_impl");
    LQ_SYM(r->h, compute_types, "_Z25llama_quant_compute_typesP19quantize_state_impl11llama_ftypePP11ggml_tensorP9ggml_typem");
    LQ_SYM(r->h, model_free, "llama_model_free");
    LQ_SYM(r->hg, ggml_init, "ggml_init");
    LQ_SYM(r->hg, ggml_free, "ggml_free");
    LQ_SYM(r->hg, ggml_new_tensor, "ggml_new_tensor");
    LQ_SYM(r->hg, ggml_set_name, "ggml_set_name");
#undef LQ_SYM
    if (r->default_params && r->quantize && r->log_set) {
        if (!getenv("KITE_LLAMA_LOG")) r->log_set(lq_silent_log, NULL);
        return true;
    }
    fprintf(stderr, "FAIL: libllama lacks llama_model_quantize\n");
    *ci_fail = 1;
    return false;
}

// True when the llama-ext.h type chooser is available too.
static inline bool lq_has_chooser(const lq_ref *r) {
    return r->model_from_metadata && r->quant_init && r->quant_free && r->compute_types && r->model_free &&
           r->ggml_init && r->ggml_free && r->ggml_new_tensor && r->ggml_set_name;
}

#endif
