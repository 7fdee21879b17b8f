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

// *out: the model's chat template (tokenizer.chat_template) as a malloc'd string, or NULL when
// it has none (llama.cpp's default, chatml, then applies).
kite_status kw__model_chat_template(const kw_model *h, char **out);

// A run's reply split into text (to text(); false stops) and tool calls (to Module.kiteToolCall),
// as kite serve answers it (exports_tools.c). mode: kw_gen_args.tool_reply (1: <tool_call>
// blocks, 2: the generic JSON reply, 3: Qwen3.5's XML calls typed by the last kw_chat_request's
// tools; + 4: each call also goes to Module.kiteToolDelta as it is
// written). NULL when out of memory.
typedef struct kw_tool_reply kw_tool_reply;
kw_tool_reply *kw__tool_reply_new(int32_t mode, bool (*text)(const char *p, size_t n));
// Feeds a piece of the reply; false when a callback asked to stop (or out of memory).
bool kw__tool_reply_feed(kw_tool_reply *t, const char *p, size_t n);
// The end of the reply: what was held goes out.
bool kw__tool_reply_flush(kw_tool_reply *t);
void kw__tool_reply_free(kw_tool_reply *t);

#endif
