// gen_dry.c - a generation's sampler, with DRY's sequence breakers turned from text into token
// sequences over the model's vocabulary (the sampler reaches the vocabulary through callbacks).
#include "base/internal.h"
#include "model/model_internal.h"
#include "sampler/kite_sampler.h"
#include "tokenizer/kite_tokenizer.h"

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

kite_status kite__gen_sampler_new(const kite_vocab *v, const kite_gen_params *gen, kite_sampler **out) {
    kite_sampler_params p = gen->sampling;
    p.dry_breakers = NULL;
    p.n_dry_breakers = 0;
    bool dry = p.dry_multiplier != 0.0f && p.dry_base >= 1.0f && p.dry_penalty_last_n > 0;
    if (!dry) return kite_sampler_new(&p, out);
    static const char *const defaults[] = KITE_SAMPLER_DRY_DEFAULT_BREAKERS;
    const char *const *strs = gen->dry_sequence_breakers ? gen->dry_sequence_breakers : defaults;
    int32_t n = gen->dry_sequence_breakers ? gen->n_dry_sequence_breakers : 4;
    if (n < 0) return kite__fail(KITE_ERR_INVALID, "bad DRY sequence breaker list");
    int32_t *flat = NULL;
    size_t n_flat = 0;
    KITE_TRY(kite_sampler_dry_breakers(strs, (size_t)n, kite_vocab_n_tokens(v), token_text, tokenize, (void *)v,
                                       &flat, &n_flat));
    p.dry_breakers = flat;
    p.n_dry_breakers = n_flat;
    kite_status st = kite_sampler_new(&p, out);
    free(flat);
    return st;
}
