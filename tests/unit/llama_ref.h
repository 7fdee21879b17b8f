// llama_ref.h - loads llama.cpp's libllama from node-llama-cpp (dlopen) so sampler, chat and
// tokenizer tests compare with the real reference. Header-only; the C API structs are restated
// here, with the sampler API and the chain common_sampler_init builds.
#ifndef KITE_TEST_LLAMA_REF_H
#define KITE_TEST_LLAMA_REF_H

#include <stdbool.h>
#include <stdint.h>

#include "kite.h"
#include "llama_lib.h"

// Layouts of include/llama.h (C API, stable across these versions).
typedef struct llref_token_data { int32_t id; float logit; float p; } llref_token_data;
typedef struct llref_token_data_array {
    llref_token_data *data;
    size_t size;
    int64_t selected;
    bool sorted;
} llref_token_data_array;
typedef struct llref_chain_params { bool no_perf; } llref_chain_params;
typedef struct llref_chat_message { const char *role; const char *content; } llref_chat_message;

// Returns the dlopen handle of libllama, or NULL (see llama_lib_open: CI=true on x86-64 sets
// *ci_fail, elsewhere the caller skips the comparisons).
static inline void *llama_ref_open(int *ci_fail) { return llama_lib_open("libllama.v0.5.0.so", ci_fail); }

// llama.cpp's model API, enough to load a model's vocabulary (llama_model_*). llama_model_params
// is handled as bytes: padded, with vocab_only's offset in this llama.h.
typedef struct llref_params { unsigned char b[512]; } llref_params;
#define LLREF_VOCAB_ONLY_OFFSET 72
typedef struct llref_model_api {
    llref_params (*default_params)(void);
    void *(*load)(const char *, llref_params);
    void (*free_model)(void *);
    const void *(*get_vocab)(const void *);
} llref_model_api;

// llama_log_set's callback that drops every message.
static inline void llref_quiet_log(int level, const char *text, void *user) { (void)level, (void)text, (void)user; }

// Looks the model functions up in libllama (h from llama_ref_open); when all are there, silences
// its log and initializes its backend. False if a symbol is missing (then nothing is called).
static inline bool llref_model_load(void *h, llref_model_api *m) {
    void (*backend_init)(void) = (void (*)(void))llama_lib_sym(h, "llama_backend_init");
    void (*log_set)(void (*)(int, const char *, void *), void *) =
        (void (*)(void (*)(int, const char *, void *), void *))llama_lib_sym(h, "llama_log_set");
    *(void **)&m->default_params = llama_lib_sym(h, "llama_model_default_params");
    *(void **)&m->load = llama_lib_sym(h, "llama_model_load_from_file");
    *(void **)&m->free_model = llama_lib_sym(h, "llama_model_free");
    *(void **)&m->get_vocab = llama_lib_sym(h, "llama_model_get_vocab");
    if (!(backend_init && log_set && m->default_params && m->load && m->free_model && m->get_vocab)) return false;
    log_set(llref_quiet_log, NULL);
    backend_init();
    return true;
}

// The model at path loaded by libllama with its vocabulary only (free with m->free_model), or
// NULL; a failed load, or default params whose layout is not the one above, is a check failure.
static inline void *llref_vocab_model(const llref_model_api *m, const char *path) {
    llref_params p = m->default_params();
    CHECK(p.b[LLREF_VOCAB_ONLY_OFFSET] == 0 && p.b[LLREF_VOCAB_ONLY_OFFSET + 2] == 1,
          "llama_model_params layout is not the expected one (vocab_only at %d)", LLREF_VOCAB_ONLY_OFFSET);
    p.b[LLREF_VOCAB_ONLY_OFFSET] = 1;
    void *model = m->load(path, p);
    CHECK(model != NULL, "libllama cannot load %s", path);
    return model;
}

// llama.cpp's sampler API (llama_sampler_*).
typedef struct llref_sampler_api {
    void *(*chain_init)(llref_chain_params);
    void (*chain_add)(void *, void *);
    void *(*penalties)(int32_t, int32_t, float, float, float);
    void *(*top_k)(int32_t);
    void *(*top_p)(float, size_t);
    void *(*min_p)(float, size_t);
    void *(*temp_ext)(float, float, float);
    void *(*dist)(uint32_t);
    void (*apply)(void *, llref_token_data_array *);
    void (*accept)(void *, int32_t);
    void (*free_)(void *);
    // Optional (NULL where the library lacks them; llref_sampler_chain then cannot build a
    // chain that needs one): the samplers beyond the defaults.
    void *(*typical)(float, size_t);
    void *(*xtc)(float, float, size_t, uint32_t);
    void *(*top_n_sigma)(float);
    void *(*temp)(float);
    void *(*mirostat)(int32_t, uint32_t, float, float, int32_t);
    void *(*mirostat_v2)(uint32_t, float, float);
} llref_sampler_api;

// Looks the sampler functions up in libllama (h from llama_ref_open); false if one is missing.
static inline bool llref_sampler_load(void *h, llref_sampler_api *a) {
    *(void **)&a->chain_init = llama_lib_sym(h, "llama_sampler_chain_init");
    *(void **)&a->chain_add = llama_lib_sym(h, "llama_sampler_chain_add");
    *(void **)&a->penalties = llama_lib_sym(h, "llama_sampler_init_penalties");
    *(void **)&a->top_k = llama_lib_sym(h, "llama_sampler_init_top_k");
    *(void **)&a->top_p = llama_lib_sym(h, "llama_sampler_init_top_p");
    *(void **)&a->min_p = llama_lib_sym(h, "llama_sampler_init_min_p");
    *(void **)&a->temp_ext = llama_lib_sym(h, "llama_sampler_init_temp_ext");
    *(void **)&a->dist = llama_lib_sym(h, "llama_sampler_init_dist");
    *(void **)&a->apply = llama_lib_sym(h, "llama_sampler_apply");
    *(void **)&a->accept = llama_lib_sym(h, "llama_sampler_accept");
    *(void **)&a->free_ = llama_lib_sym(h, "llama_sampler_free");
    *(void **)&a->typical = llama_lib_sym(h, "llama_sampler_init_typical");
    *(void **)&a->xtc = llama_lib_sym(h, "llama_sampler_init_xtc");
    *(void **)&a->top_n_sigma = llama_lib_sym(h, "llama_sampler_init_top_n_sigma");
    *(void **)&a->temp = llama_lib_sym(h, "llama_sampler_init_temp");
    *(void **)&a->mirostat = llama_lib_sym(h, "llama_sampler_init_mirostat");
    *(void **)&a->mirostat_v2 = llama_lib_sym(h, "llama_sampler_init_mirostat_v2");
    return a->chain_init && a->chain_add && a->penalties && a->top_k && a->top_p && a->min_p && a->temp_ext &&
           a->dist && a->apply && a->accept && a->free_;
}

// Whether libllama has every sampler llref_sampler_chain needs for p.
static inline bool llref_sampler_has(const llref_sampler_api *a, const kite_sampler_params *p) {
    if (p->mirostat) return a->temp && (p->mirostat == 1 ? a->mirostat != NULL : a->mirostat_v2 != NULL);
    return (p->typical_p >= 1.0f || a->typical) && (p->xtc_probability <= 0.0f || a->xtc) &&
           (p->top_n_sigma <= 0.0f || a->top_n_sigma);
}

// llama.cpp's DRY sampler and the vocabulary calls that prepare its breakers (llama_vocab_*,
// llama_tokenize, llama_detokenize).
typedef struct llref_dry_api {
    void *(*dry)(const void *vocab, float multiplier, float base, int32_t allowed_length, int32_t last_n,
                 const char **breakers, size_t n_breakers);
    int32_t (*n_tokens)(const void *vocab);
    int32_t (*tokenize)(const void *vocab, const char *text, int32_t len, int32_t *out, int32_t cap, bool add_special,
                        bool parse_special);
    int32_t (*detokenize)(const void *vocab, const int32_t *toks, int32_t n, char *text, int32_t cap,
                          bool remove_special, bool unparse_special);
} llref_dry_api;

// Looks the DRY functions up in libllama (h from llama_ref_open); false if one is missing.
static inline bool llref_dry_load(void *h, llref_dry_api *d) {
    *(void **)&d->dry = llama_lib_sym(h, "llama_sampler_init_dry");
    *(void **)&d->n_tokens = llama_lib_sym(h, "llama_vocab_n_tokens");
    *(void **)&d->tokenize = llama_lib_sym(h, "llama_tokenize");
    *(void **)&d->detokenize = llama_lib_sym(h, "llama_detokenize");
    return d->dry && d->n_tokens && d->tokenize && d->detokenize;
}

// A libllama vocabulary (llref_model_api.get_vocab) with its DRY functions, for dry_text and
// dry_tokenize.
typedef struct dry_vocab {
    const llref_dry_api *d;
    const void *v;
} dry_vocab;

// The vocabulary callbacks of kite_sampler_dry_breakers (ud: a dry_vocab) through libllama's own
// vocabulary, so that a comparison is of DRY, not of the tokenizers (Kite's has its own tests).
static inline int32_t dry_text(void *ud, int32_t id, char *buf, int32_t cap) {
    const dry_vocab *x = ud;
    return x->d->detokenize(x->v, &id, 1, buf, cap, false, true);
}

static inline int32_t dry_tokenize(void *ud, const char *text, int32_t len, int32_t *out, int32_t cap) {
    const dry_vocab *x = ud;
    return x->d->tokenize(x->v, text, len, out, cap, false, false);
}

static inline void *llref_sampler_chain_with(const llref_sampler_api *a, const kite_sampler_params *p, int n_vocab,
                                             void *after_penalties);

// llama.cpp's sampler chain for kite's parameters p (free with a->free_): common_sampler_init's
// default order (penalties, top-n-sigma, top-k, typical, top-p, min-p, XTC, temp_ext with no
// dynamic range, dist; min_keep 0), or for Mirostat its temp + mirostat(_v2) with m = 100.
// Check llref_sampler_has first; an optional sampler the library lacks is left out (it is off
// then).
static inline void *llref_sampler_chain(const llref_sampler_api *a, const kite_sampler_params *p, int n_vocab) {
    return llref_sampler_chain_with(a, p, n_vocab, NULL);
}

// The same chain with the sampler after_penalties (the chain takes it; NULL: none) right after
// the penalties, where common_sampler_init puts DRY.
static inline void *llref_sampler_chain_with(const llref_sampler_api *a, const kite_sampler_params *p, int n_vocab,
                                             void *after_penalties) {
    void *c = a->chain_init((llref_chain_params){true});
    if (p->mirostat) {
        if (after_penalties) a->free_(after_penalties); // llama.cpp's Mirostat chain has no penalties
        a->chain_add(c, a->temp(p->temp));
        a->chain_add(c, p->mirostat == 1 ? a->mirostat(n_vocab, p->seed, p->mirostat_tau, p->mirostat_eta, 100)
                                         : a->mirostat_v2(p->seed, p->mirostat_tau, p->mirostat_eta));
        return c;
    }
    a->chain_add(c, a->penalties(n_vocab, p->penalty_last_n, p->repeat_penalty, p->frequency_penalty,
                                 p->presence_penalty));
    if (after_penalties) a->chain_add(c, after_penalties);
    if (a->top_n_sigma) a->chain_add(c, a->top_n_sigma(p->top_n_sigma));
    a->chain_add(c, a->top_k(p->top_k));
    if (a->typical) a->chain_add(c, a->typical(p->typical_p, 0));
    a->chain_add(c, a->top_p(p->top_p, 0));
    a->chain_add(c, a->min_p(p->min_p, 0));
    if (a->xtc) a->chain_add(c, a->xtc(p->xtc_probability, p->xtc_threshold, 0, p->seed));
    a->chain_add(c, a->temp_ext(p->temp, 0.0f, 1.0f));
    a->chain_add(c, a->dist(p->seed));
    return c;
}

#endif
