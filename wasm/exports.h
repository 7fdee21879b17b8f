// exports.h - helpers shared by the wasm/exports*.c files (the JS-facing C ABI).
#ifndef KITE_WASM_EXPORTS_H
#define KITE_WASM_EXPORTS_H

#include <emscripten.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "base/kite_buf.h"
#include "kite.h"
#include "chat/kite_chat.h"
#include "model/kite_model.h"
#include "quant/kite_quantize.h"
#include "tokenizer/kite_tokenizer.h"

// Propagates a non-OK status.
#define KW_TRY(expr)                          \
    do {                                      \
        kite_status kw__s = (expr);           \
        if (kw__s != KITE_OK) return kw__s;   \
    } while (0)

// A growable, NUL-terminated byte buffer used as a kite_sink (JSON, detokenized text).
typedef kite_buf kw_membuf;

// A sink that appends to b (b starts zeroed).
kite_sink kw__membuf_sink(kw_membuf *b);
// Hands b's bytes to the caller (free with kw_free; "" when empty, NULL on OOM) and resets b.
char *kw__membuf_take(kw_membuf *b);

// The sink that streams bytes to JS (Module.kiteSink), and the progress bridge
// (Module.kiteProgress; returning false aborts).
extern const kite_sink kw__js_sink;
bool kw__js_progress(void *user, const char *what, uint64_t done, uint64_t total);

#endif
