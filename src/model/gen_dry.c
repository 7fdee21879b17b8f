// gen_dry.c - a generation's sampler, with DRY's sequence breakers turned from text into token
// sequences over the model's vocabulary (the sampler reaches the vocabulary through callbacks).
// That walk over the whole vocabulary (~0.1 s for 151k tokens) runs once per model and breaker
// list: the model keeps the default list's breakers and the last other list's.
#include "base/internal.h"
#include "model/model_internal.h"
#include "sampler/kite_sampler.h"
#include "tokenizer/kite_tokenizer.h"

#include <string.h>

// One breaker list's result: key is the list's strings, each with its NUL (a NULL string as an
// empty one: both are skipped), so equal keys mean equal lists.
struct kite_dry_breakers {
    char *key;
    size_t n_key;
    int32_t *flat;
    size_t n_flat;
};

// A token's text as llama.cpp's detokenize of that one token gives it (special tokens rendered).
static int32_t token_text(void *ud, int32_t id, char *buf, int32_t cap) {
    return kite_detokenize(ud, &id, 1, buf, cap, false, true);
}

// Plain text to tokens: no BOS/EOS, special tokens' texts not parsed.
static int32_t tokenize(void *ud, const char *text, int32_t len, int32_t *out, int32_t cap) {
    int32_t n = 0;
    kite_status st = kite_tokenize(ud, text, (size_t)len, false, false, out, cap, &n);
    if (st == KITE_OK) return n;
    return n > cap ? -n : INT32_MIN;
}

static void entry_free(struct kite_dry_breakers *e) {
    if (!e) return;
    free(e->key);
    free(e->flat);
    free(e);
}

// The key of strs[0..n) in a new buffer (NULL when out of memory).
static char *list_key(const char *const *strs, int32_t n, size_t *n_key) {
    size_t len = 0;
    for (int32_t i = 0; i < n; i++) len += (strs[i] ? strlen(strs[i]) : 0) + 1;
    char *key = malloc(len ? len : 1), *at = key;
    if (!key) return NULL;
    for (int32_t i = 0; i < n; i++) {
        size_t l = strs[i] ? strlen(strs[i]) : 0;
        if (l) memcpy(at, strs[i], l);
        at[l] = '\0';
        at += l + 1;
    }
    *n_key = len;
    return key;
}

// Whether lists a and b hold the same strings in the same order (a NULL string as an empty one,
// as list_key keys them).
static bool same_list(const char *const *a, int32_t na, const char *const *b, int32_t nb) {
    if (na != nb) return false;
    for (int32_t i = 0; i < na; i++)
        if (strcmp(a[i] ? a[i] : "", b[i] ? b[i] : "") != 0) return false;
    return true;
}

// The spin lock of m's two slots: held for a key comparison and a copy or a pointer swap only.
static void slots_lock(kite_model *m) {
    while (atomic_exchange_explicit(&m->dry_lock, true, memory_order_acquire))
        while (atomic_load_explicit(&m->dry_lock, memory_order_relaxed)) {
        }
}

static void slots_unlock(kite_model *m) { atomic_store_explicit(&m->dry_lock, false, memory_order_release); }

// A copy of the flat breakers of slot e when its key is key; false when it is not (or no slot).
static bool slot_copy(const struct kite_dry_breakers *e, const char *key, size_t n_key, int32_t **out, size_t *n_out,
                      kite_status *st) {
    if (!e || e->n_key != n_key || memcmp(e->key, key, n_key) != 0) return false;
    *out = NULL;
    *n_out = e->n_flat;
    *st = KITE_OK;
    if (e->n_flat && !(*out = malloc(e->n_flat * sizeof **out)))
        *st = kite__fail(KITE_ERR_NOMEM, "out of memory for DRY breakers");
    else if (e->n_flat) memcpy(*out, e->flat, e->n_flat * sizeof **out);
    return true;
}

kite_status kite__model_dry_breakers(const kite_model *cm, const char *const *strs, int32_t n, int32_t **out,
                                     size_t *n_out) {
    static const char *const defaults[] = KITE_SAMPLER_DRY_DEFAULT_BREAKERS;
    const int32_t n_defaults = (int32_t)(sizeof defaults / sizeof defaults[0]);
    if (!strs) strs = defaults, n = n_defaults;
    if (!cm || !out || !n_out || n < 0) return kite__fail(KITE_ERR_INVALID, "bad DRY sequence breaker list");
    kite_model *m = (kite_model *)cm; // the kept breakers are the only thing written
    size_t n_key = 0;
    char *key = list_key(strs, n, &n_key);
    kite_status st = KITE_OK;
    if (!key) return kite__fail(KITE_ERR_NOMEM, "out of memory for DRY breakers");
    const int slot = same_list(strs, n, defaults, n_defaults) ? 0 : 1;
    slots_lock(m);
    bool hit = slot_copy(m->dry_breakers[slot], key, n_key, out, n_out, &st);
    slots_unlock(m);
    if (hit) {
        free(key);
        return st;
    }
    // Not kept: walk the vocabulary without the lock (a list in another slot, or another request's
    // list, is not held up), then keep the result in the slot; a racing walk's equal copy is dropped.
    struct kite_dry_breakers *e = calloc(1, sizeof *e);
    if (!e) {
        free(key);
        return kite__fail(KITE_ERR_NOMEM, "out of memory for DRY breakers");
    }
    e->key = key;
    e->n_key = n_key;
    st = kite_sampler_dry_breakers(strs, (size_t)n, kite_vocab_n_tokens(m->vocab), token_text, tokenize,
                                   (void *)m->vocab, &e->flat, &e->n_flat);
    if (st == KITE_OK) {
        slots_lock(m);
        struct kite_dry_breakers *old = m->dry_breakers[slot];
        m->dry_breakers[slot] = e;
        slot_copy(e, key, n_key, out, n_out, &st);
        slots_unlock(m);
        entry_free(old);
    } else {
        entry_free(e);
    }
    return st;
}

void kite__model_dry_breakers_free(kite_model *m) {
    for (int i = 0; i < 2; i++) {
        entry_free(m->dry_breakers[i]);
        m->dry_breakers[i] = NULL;
    }
}

kite_status kite__gen_sampler_new(const kite_model *m, const kite_gen_params *gen, kite_sampler **out) {
    kite_sampler_params p = gen->sampling;
    p.dry_breakers = NULL;
    p.n_dry_breakers = 0;
    bool dry = p.dry_multiplier != 0.0f && p.dry_base >= 1.0f && p.dry_penalty_last_n > 0;
    if (!dry) return kite_sampler_new(&p, out);
    int32_t *flat = NULL;
    size_t n_flat = 0;
    KITE_TRY(kite__model_dry_breakers(m, gen->dry_sequence_breakers, gen->n_dry_sequence_breakers, &flat, &n_flat));
    p.dry_breakers = flat;
    p.n_dry_breakers = n_flat;
    kite_status st = kite_sampler_new(&p, out);
    free(flat);
    return st;
}
