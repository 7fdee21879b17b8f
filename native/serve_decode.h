// serve_decode.h - the server's generation loop: kite_generate's loop (same tokens, same text,
// same stop-string handling) that also reports each token's log-probability and its most
// likely alternatives (softmax over the raw logits, as llama-server's logprobs), and lets the
// caller stop between any two tokens. Lives here because kite_generate exposes neither the
// logits nor a stop check that runs on tokens without text; a logits callback in
// kite_gen_params would let this loop go.
#ifndef KITE_NATIVE_SERVE_DECODE_H
#define KITE_NATIVE_SERVE_DECODE_H

#include <stddef.h>

#include "kite.h"

#define SERVE_MAX_TOP 20 // alternatives per token at most (OpenAI's top_logprobs limit)

typedef struct serve_token {
    int32_t id;
    size_t offset; // byte offset of its text in the whole generated text (before stop-string cuts)
    float logprob; // natural log of its probability under the raw logits
    int32_t n_top; // alternatives below, most likely first
    int32_t top_id[SERVE_MAX_TOP];
    float top_logprob[SERVE_MAX_TOP];
} serve_token;

typedef struct serve_decode_params {
    kite_gen_params gen; // n_predict, sampling, stop, n_stop, no_bos, parse_special, stats (not
                         // keep_context or on_token)
    bool logprobs;       // fill serve_token's logprob and n_top alternatives
    int32_t n_top;       // alternatives per token (0..SERVE_MAX_TOP)
    // After each sampled token (before its text); returning false stops (KITE_ERR_ABORTED).
    bool (*on_token)(void *user, const serve_token *t);
    // Text that is final (cannot be part of a stop string); returning false stops likewise.
    bool (*on_text)(void *user, const char *text, size_t len);
} serve_decode_params;

// Generates from prompt on an emptied context as kite_generate does. Errors as kite_generate's,
// with the message in err (KITE_ERR_ABORTED when a callback returned false).
kite_status serve_decode(kite_ctx *c, const char *prompt, const serve_decode_params *p, void *user, char *err,
                         size_t err_size);

#endif
