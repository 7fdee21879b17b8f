// kite_sampler.h - token samplers (greedy, temperature, top-k, top-p, min-p, typical-p,
// top-n-sigma, XTC, Mirostat 1 and 2, penalties, DRY) and stop-string matching for streamed text.
#ifndef KITE_SAMPLER_H
#define KITE_SAMPLER_H

#include "base/kite_base.h"

#ifdef __cplusplus
extern "C" {
#endif

// The longest penalty window kite_sampler_new takes (a longer one is surely a mistake: contexts
// are far shorter); hosts check their flags and options against it.
#define KITE_SAMPLER_MAX_PENALTY_LAST_N (1 << 20)

// The ranges the hosts take for the other settings (kite run's flags, kite serve's request
// fields, a file's general.sampling.*): temp [0, KITE_SAMPLER_MAX_TEMP], top_k [0,
// KITE_SAMPLER_MAX_TOP_K], top_p and min_p [0, 1], repeat_penalty [KITE_SAMPLER_MIN_REPEAT_PENALTY,
// KITE_SAMPLER_MAX_REPEAT_PENALTY].
#define KITE_SAMPLER_MAX_TEMP 100.0
#define KITE_SAMPLER_MAX_TOP_K (1 << 24)
#define KITE_SAMPLER_MIN_REPEAT_PENALTY 0.0001
#define KITE_SAMPLER_MAX_REPEAT_PENALTY 100.0
// ... and for the others: typical_p, xtc_probability, xtc_threshold [0, 1]; top_n_sigma [-1,
// KITE_SAMPLER_MAX_TOP_N_SIGMA] (<= 0 is off); mirostat 0, 1 or 2; mirostat_tau [0,
// KITE_SAMPLER_MAX_MIROSTAT_TAU]; mirostat_eta [0, 1].
#define KITE_SAMPLER_MAX_TOP_N_SIGMA 100.0
#define KITE_SAMPLER_MAX_MIROSTAT_TAU 100.0
// ... and dry_multiplier, dry_base [0, KITE_SAMPLER_MAX_DRY]; dry_allowed_length,
// dry_penalty_last_n [0, KITE_SAMPLER_MAX_PENALTY_LAST_N].
#define KITE_SAMPLER_MAX_DRY 1e6

// Sampling parameters. The chain runs in llama.cpp's default order (common_sampler's):
//   penalties -> DRY -> top-n-sigma -> top-k -> typical-p -> top-p -> min-p -> XTC -> temperature
//   -> draw from the distribution.
// Mirostat (1 or 2) replaces the whole chain, as in llama.cpp: temperature -> Mirostat, which
// draws itself; penalties, DRY, top-k, top-p, min-p, typical-p, top-n-sigma and XTC are then unused.
// The random source is our own MT19937 (32-bit Mersenne Twister, the generator llama.cpp's
// dist sampler uses) turned into a double in [0,1) the way libstdc++'s generate_canonical
// does (two draws), so a seed gives the same tokens on every platform and, for the same
// logits, the same tokens as llama.cpp built with libstdc++.
typedef struct kite_sampler_params {
    float temp;              // <= 0: greedy (argmax after penalties; of what typical-p and XTC
                             // leave when they are on; of the raw logits with Mirostat)
    int32_t top_k;           // <= 0: disabled
    float top_p;             // >= 1: disabled
    float min_p;             // <= 0: disabled
    float repeat_penalty;    // 1: disabled; must be > 0
    float presence_penalty;  // 0: disabled
    float frequency_penalty; // 0: disabled
    int32_t penalty_last_n;  // window of accepted tokens the penalties look at; 0: disabled;
                             // at most KITE_SAMPLER_MAX_PENALTY_LAST_N. There is no -1
                             // ("whole context"): llama.cpp dropped it, its --repeat-last-n
                             // and server refuse a negative window, as Kite's hosts do.
    uint32_t seed;           // used verbatim (the host picks a random one if it wants)
    float typical_p;         // locally typical sampling; >= 1: disabled
    float top_n_sigma;       // keeps logits within n standard deviations of the best; <= 0: disabled
    float xtc_probability;   // chance that XTC removes the top choices; 0: disabled; in [0, 1]
    float xtc_threshold;     // XTC removes all but the last of the tokens at least this likely;
                             // > 0.5: disabled; in [0, 1]. XTC draws from its own MT19937
                             // seeded with seed, as llama.cpp's does.
    int32_t mirostat;        // 0: off, 1: Mirostat, 2: Mirostat 2.0
    float mirostat_tau;      // Mirostat target entropy (surprise), >= 0
    float mirostat_eta;      // Mirostat learning rate, >= 0
    // DRY ("don't repeat yourself"): a token that would extend a sequence of the last
    // dry_penalty_last_n accepted tokens that already occurs earlier in them, longer than
    // dry_allowed_length, loses dry_multiplier * dry_base ^ (length - dry_allowed_length)
    // of its logit; no sequence reaches back across a sequence breaker.
    float dry_multiplier;       // 0: disabled
    float dry_base;             // < 1: disabled
    int32_t dry_allowed_length; // >= 0
    int32_t dry_penalty_last_n; // 0: disabled; at most KITE_SAMPLER_MAX_PENALTY_LAST_N (no -1,
                                // as llama.cpp's --dry-penalty-last-n refuses a negative one)
    // The sequence breakers as token sequences, flat: each is its length n >= 1, then n token
    // ids (the head token, then the tail tokens that follow it), n_dry_breakers ints in all;
    // kite_sampler_dry_breakers makes them from text. Copied by kite_sampler_new. NULL: none.
    const int32_t *dry_breakers;
    size_t n_dry_breakers;
} kite_sampler_params;

// llama.cpp's defaults (common_params_sampling): temp 0.8, top_k 40, top_p 0.95, min_p 0.05,
// penalties off (repeat 1, presence 0, frequency 0) with a window of 64, seed 0xFFFFFFFF;
// typical_p 1, top_n_sigma -1, xtc_probability 0, xtc_threshold 0.1 (all off), mirostat 0 with
// tau 5 and eta 0.1; DRY off (multiplier 0) with base 1.75, allowed length 2, a window of 64
// and no breakers (llama.cpp's default breakers "\n", ":", "\"", "*" need the vocabulary: see
// kite_sampler_dry_breakers and KITE_SAMPLER_DRY_DEFAULT_BREAKERS).
kite_sampler_params kite_sampler_default_params(void);

typedef struct kite_sampler kite_sampler;

// Creates a sampler. Fails with KITE_ERR_INVALID on a non-finite or out-of-range parameter
// (the message names it), KITE_ERR_NOMEM on allocation failure. *out is set only on success.
kite_status kite_sampler_new(const kite_sampler_params *p, kite_sampler **out);

// Frees a sampler (NULL is fine).
void kite_sampler_free(kite_sampler *s);

// Picks the next token from n_vocab logits. Does not modify logits; does not record the token
// (call kite_sampler_accept for that). Returns the token id, or -1 when logits is NULL,
// n_vocab <= 0 or scratch memory cannot be allocated (kite_last_error says which).
// NaN logits count as -infinity.
int32_t kite_sampler_sample(kite_sampler *s, const float *logits, int32_t n_vocab);

// Records a token (prompt or generated) in the penalty window.
void kite_sampler_accept(kite_sampler *s, int32_t token);

// Clears the penalty window, reseeds the random sources with the original seed and restarts
// Mirostat's running estimate (mu = 2 tau).
void kite_sampler_reset(kite_sampler *s);

// llama.cpp's default DRY sequence breakers, for kite_sampler_dry_breakers.
#define KITE_SAMPLER_DRY_DEFAULT_BREAKERS {"\n", ":", "\"", "*"}

// Writes token id's text (special tokens rendered; what llama.cpp's detokenize of that one
// token gives) into buf[0..cap) without a terminator and returns its length, or -(length) when
// cap is too small.
typedef int32_t (*kite_token_text_fn)(void *ud, int32_t id, char *buf, int32_t cap);
// Tokenizes text[0..len) (no BOS/EOS added, special tokens' texts as plain text) into
// out[0..cap) and returns the token count, or -(count) when cap is too small.
typedef int32_t (*kite_tokenize_fn)(void *ud, const char *text, int32_t len, int32_t *out, int32_t cap);

// DRY's sequence breakers for the n_strs strings (NULL or empty ones skipped, each cut to 40
// bytes) over a vocabulary of n_vocab tokens, in kite_sampler_params.dry_breakers's flat form,
// as llama.cpp prepares them: a token whose text contains a string is a breaker by itself; a
// token whose text ends with the start of a string is a breaker's head, its tail the (at most
// 20) tokens of the rest of the string. The vocabulary is reached through the callbacks (the
// sampler does not depend on the tokenizer). *out (free it) and *n_out are set on success;
// fails with KITE_ERR_INVALID (a callback failed) or KITE_ERR_NOMEM.
kite_status kite_sampler_dry_breakers(const char *const *strs, size_t n_strs, int32_t n_vocab, kite_token_text_fn text,
                                      kite_tokenize_fn tokenize, void *ud, int32_t **out, size_t *n_out);

// ---- stop strings -------------------------------------------------------------------------

// Result of matching pending (not yet shown) text against stop strings.
typedef struct kite_stop_result {
    size_t n_release; // bytes at the start of the pending text that may be shown now
    bool stopped;     // a stop string completed: show n_release bytes, then stop generating
} kite_stop_result;

// Looks for stop strings in the pending text (text, len). When one occurs, stopped is true
// and n_release is the offset of the earliest occurrence (the stop string and what follows
// are dropped). Otherwise n_release excludes the longest tail that is the beginning of some
// stop string, so a streamed reply never shows part of a stop string; the caller keeps that
// tail pending and appends the next piece. Empty or NULL stop strings are ignored.
kite_stop_result kite_stop_match(const char *text, size_t len, const char *const *stops, size_t n_stops);

#ifdef __cplusplus
}
#endif
#endif
