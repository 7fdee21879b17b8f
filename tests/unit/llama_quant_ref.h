// llama_quant_ref.h - loads llama.cpp's real quantizer (llama_model_quantize) and its per-tensor
// type chooser (llama_quant_compute_types, llama-ext.h) from node-llama-cpp's libllama (dlopen),
// so the quantize tests compare with llama.cpp itself. Header-only; tests link ${CMAKE_DL_LIBS}.
#ifndef KITE_TEST_LLAMA_QUANT_REF_H
#define KITE_TEST_LLAMA_QUANT_REF_H

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

// Loads the library. Returns false when it is missing: under CI=true on x86-64 that is a failure
// (*ci_fail = 1); elsewhere (non-x86 hosts, no node_modules) the caller skips. Prints why.
static inline bool lq_open(lq_ref *r, int *ci_fail) {
    memset(r, 0, sizeof *r);
    *ci_fail = 0;
    const char *root = getenv("KITE_ROOT");
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64", root && *root ? root : ".");
#if defined(__x86_64__)
    snprintf(path, sizeof path, "%s/libllama.v0.5.0.so", dir);
    r->h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    snprintf(path, sizeof path, "%s/libggml-base.so", dir);
    r->hg = r->h ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (r->h && r->hg) {
#define LQ_SYM(h, field, name) *(void **)&r->field = dlsym(h, name)
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
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0) {
        fprintf(stderr, "FAIL: cannot load llama.cpp reference from %s: %s (CI=true)\n", dir, dlerror());
        *ci_fail = 1;
        return false;
    }
    fprintf(stderr, "skip: llama.cpp reference not loadable (%s): comparisons skipped\n", dlerror());
#else
    (void)path;
    fprintf(stderr, "skip: llama.cpp reference is an x86-64 library: comparisons skipped on this host\n");
#endif
    return false;
}

// True when the llama-ext.h type chooser is available too.
static inline bool lq_has_chooser(const lq_ref *r) {
    return r->model_from_metadata && r->quant_init && r->quant_free && r->compute_types && r->model_free &&
           r->ggml_init && r->ggml_free && r->ggml_new_tensor && r->ggml_set_name;
}

#endif
