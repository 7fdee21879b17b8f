// dry.h - the DRY ("don't repeat yourself") penalty's state (internal to the sampler): the
// window of accepted tokens, the sequence breakers, and the penalties for the next token.
#ifndef KITE_SAMPLER_DRY_H
#define KITE_SAMPLER_DRY_H

#include "base/kite_base.h"
#include "sampler/kite_sampler.h"

typedef struct kite__dry kite__dry;

// DRY's state for p (p->dry_breakers is copied). *out is NULL (and KITE_OK) when DRY is off
// (dry_multiplier 0, dry_base < 1 or dry_penalty_last_n 0), as llama.cpp then has no sampler.
// Fails with KITE_ERR_INVALID on a malformed breaker list, KITE_ERR_NOMEM.
kite_status kite__dry_new(const kite_sampler_params *p, kite__dry **out);

// Frees the state (NULL is fine).
void kite__dry_free(kite__dry *d);

// Records a token in the window (the oldest drops out once it holds dry_penalty_last_n).
void kite__dry_accept(kite__dry *d, int32_t token);

// Empties the window.
void kite__dry_reset(kite__dry *d);

// The penalties for the next token: *ids[i] must have *pens[i] subtracted from its logit (the
// ids are distinct, in no order; single-token sequence breakers are never penalized). Returns
// how many; the arrays belong to d and live until its next call.
size_t kite__dry_penalties(kite__dry *d, const int32_t **ids, const float **pens);

#endif
