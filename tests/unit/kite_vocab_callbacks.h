// kite_vocab_callbacks.h - Kite's vocabulary as the DRY breaker walk's
// callbacks (kite_token_text_fn / kite_tokenize_fn over a kite_vocab passed as
// ud), the same two that a generation start (src/model/gen_dry.c) passes: for
// tests and benchmarks that call kite_sampler_dry_breakers themselves.
#ifndef KITE_VOCAB_CALLBACKS_H
#define KITE_VOCAB_CALLBACKS_H

#include <stdint.h>

#include "kite.h"

// Token id's text as llama.cpp's detokenize of that one token gives it (special
// tokens rendered).
static inline int32_t vocab_cb_token_text(void *ud, int32_t id, char *buf,
                                            int32_t cap) {
  return kite_detokenize(ud, &id, 1, buf, cap, false, true);
}

// Plain text's tokens (no BOS, no special parsing): the count, -needed when cap
// is short, INT32_MIN on failure.
static inline int32_t vocab_cb_tokenize(void *ud, const char *text,
                                          int32_t len, int32_t *out,
                                          int32_t cap) {
  int32_t n = 0;
  kite_status st =
      kite_tokenize(ud, text, (size_t)len, false, false, out, cap, &n);
  return st == KITE_OK ? n : n > cap ? -n : INT32_MIN;
}

#endif
