// chat_internal.h - what the chat template files share: the table of built-in templates.
#ifndef KITE_CHAT_INTERNAL_H
#define KITE_CHAT_INTERNAL_H

#include "base/kite_buf.h"
#include "chat/kite_chat.h"

// Formats a conversation with the built-in template `name` (a canonical name). Returns false
// when the name is not a built-in template.
bool kite__chat_format(const char *name, const kite_chat_msg *msgs, size_t n, bool add_assistant, kite_buf *out);

// Whether a Jinja source is Qwen3's own template (see chat_qwen3.c), which Kite renders as
// llama.cpp's Jinja engine does rather than as the built-in ChatML it is detected as.
bool kite__chat_is_qwen3(const char *src);

// QwQ's template (chat_tools.c): whether src is it, and a conversation (tools and calls too) as
// its Jinja source src renders it; flags as kite_chat_apply_ex.
bool kite__chat_is_qwq(const char *src);
void kite__chat_qwq_render(kite_buf *b, const char *src, const kite_chat_turn *m, size_t n, const char *const *tools,
                           size_t n_tools, unsigned flags);

// Qwen3.5's template (chat_qwen35.c): whether src is it, and a conversation (tools and XML calls
// too) as its Jinja source renders it. NULL, or the template's own error (raise_exception's
// message, or why a call's arguments cannot be rendered).
bool kite__chat_is_qwen35(const char *src);
const char *kite__chat_qwen35_render(kite_buf *b, const kite_chat_turn *m, size_t n, const char *const *tools,
                                     size_t n_tools, unsigned flags);

// Formats a conversation with Qwen3's template: as its Jinja source renders it with
// add_generation_prompt = add and enable_thinking false when no_think (else undefined).
void kite__chat_format_qwen3(const kite_chat_msg *msgs, size_t n, bool add, bool no_think, kite_buf *out);

// Qwen3's template with tools (chat_tools.c): the one renderer of that template, for plain
// conversations (no tools, no calls) too. flags as kite_chat_apply_ex.
void kite__chat_qwen3_render(kite_buf *b, const kite_chat_turn *m, size_t n, const char *const *tools, size_t n_tools,
                             unsigned flags);

// The formatted text of n messages handed out: *out owns b's bytes (an empty string when nothing
// was written), *out_len (may be NULL) their length. KITE_ERR_NOMEM (b freed) when an append
// failed.
kite_status kite__chat_buf_finish(kite_buf *b, size_t n, char **out, size_t *out_len);

#endif
