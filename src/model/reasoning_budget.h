// reasoning_budget.h - the reasoning budget of a generated sequence (kite_gen_params'
// reasoning_*), as llama.cpp's reasoning-budget sampler: a state machine over the sampled tokens
// that, once a reasoning block has run for its budget, names the tokens to force.
#ifndef KITE_REASONING_BUDGET_H
#define KITE_REASONING_BUDGET_H

#include "model/kite_model.h"
#include "tokenizer/kite_tokenizer.h"

typedef struct kite_rbudget kite_rbudget;

// Sets *out to the budget p asks for (NULL when its tags are not both set; a budget of -1 tracks
// the blocks without a limit), with the tokens of p->reasoning_prefill already seen. Errors: a
// budget < -1 (KITE_ERR_INVALID), KITE_ERR_NOMEM.
kite_status kite__rbudget_new(const kite_vocab *v, const kite_gen_params *p, kite_rbudget **out);

// The token that must come next (the budget is spent and the end is being forced), or -1.
int32_t kite__rbudget_forced(const kite_rbudget *b);

// Whether the sequence is inside a reasoning block (its start seen, its end not yet).
bool kite__rbudget_in_block(const kite_rbudget *b);

// Moves the state machine past the sampled token tok.
void kite__rbudget_accept(kite_rbudget *b, int32_t tok);

// Frees b (NULL allowed).
void kite__rbudget_free(kite_rbudget *b);

#endif
