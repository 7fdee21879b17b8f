// kite_chat.h - chat templates: recognize a model's tokenizer.chat_template and format a
// conversation into the prompt text the model was trained on (llama.cpp's built-in set).
#ifndef KITE_CHAT_H
#define KITE_CHAT_H

#include "base/kite_base.h"

#ifdef __cplusplus
extern "C" {
#endif

// One chat message; role is usually "system", "user" or "assistant" (some templates know
// others, e.g. "tool"). Both are NUL-terminated UTF-8.
typedef struct kite_chat_msg {
    const char *role;
    const char *content;
} kite_chat_msg;

// The built-in template a template source belongs to, recognized the way llama.cpp's
// llm_chat_detect_template does (an exact template name, else marker substrings of the Jinja
// source). Returns a static name ("chatml", "llama3", "gemma", ...) or NULL if unknown or NULL.
const char *kite_chat_detect(const char *tmpl);

// The static canonical name if name is a built-in template name, else NULL.
const char *kite_chat_template_from_name(const char *name);

// Number of built-in templates and the i-th name (NULL when i is out of range).
size_t kite_chat_template_count(void);
const char *kite_chat_template_name(size_t i);

// Formats msgs[0..n) with a template given by name or by Jinja source (detected as above;
// NULL means "chatml", as in llama.cpp). add_assistant appends the opening of the assistant's
// reply. On success *out is a malloc'd NUL-terminated string (caller frees) and *out_len its
// length (out_len may be NULL). Qwen3's own source (detected as chatml) is rendered as its
// Jinja does in llama.cpp (llama-server --jinja): past assistant turns lose their
// <think>...</think> reasoning, those after the last user query keep it as a block; a
// conversation ending in an assistant turn writes that turn's (possibly empty) block. QwQ's and
// Qwen3.5's sources (also detected as chatml) are rendered as their Jinja too: QwQ's replies
// open "<think>\n" and earlier ones lose their reasoning; Qwen3.5's turns are trimmed, its
// reasoning kept after the last query, and what its template raises on is KITE_ERR_INVALID.
// Errors: KITE_ERR_UNSUPPORTED for an unknown template,
// KITE_ERR_INVALID for NULL out, NULL msgs with n > 0, or a message with a NULL role or
// content, KITE_ERR_NOMEM.
kite_status kite_chat_apply(const char *tmpl_name_or_source, const kite_chat_msg *msgs, size_t n, bool add_assistant,
                            char **out, size_t *out_len);

// Flags of kite_chat_apply_ex.
enum {
    KITE_CHAT_ADD_ASSISTANT = 1, // append the opening of the assistant's reply
    KITE_CHAT_NO_THINKING = 2,   // with KITE_CHAT_ADD_ASSISTANT: reasoning off (see kite_chat_no_think_text)
};

// As kite_chat_apply, with KITE_CHAT_* flags; other bits are KITE_ERR_INVALID.
kite_status kite_chat_apply_ex(const char *tmpl_name_or_source, const kite_chat_msg *msgs, size_t n, unsigned flags,
                               char **out, size_t *out_len);

// What the template renders after the assistant's opening when reasoning is turned off, as
// llama.cpp's Jinja rendering does with enable_thinking false (llama-server's
// chat_template_kwargs, --reasoning off): the empty reasoning block "<think>\n\n</think>\n\n"
// for a source that writes one for it (Qwen3's, Qwen3.5's), "<think>\n</think>" for QwQ's (its
// opening's block closed at once), else "" (the template ignores the setting, as do the built-in
// names). Never NULL; a static string.
const char *kite_chat_no_think_text(const char *tmpl_name_or_source);

// The text of the reply that the template's assistant opening already writes (after
// "<|im_start|>assistant\n"): kite_chat_no_think_text with reasoning off; with it on, "<think>\n"
// for a source whose reply opens its reasoning block (QwQ's, Qwen3.5's), else "". What a
// reasoning budget's prefill is. Never NULL; a static string.
const char *kite_chat_reply_opening(const char *tmpl_name_or_source, bool no_thinking);

// ---- tool calling -------------------------------------------------------------------------

// How a template's model calls tools, recognized from its Jinja source.
typedef enum kite_chat_tools {
    KITE_CHAT_TOOLS_NONE = 0, // no known tool-call format
    KITE_CHAT_TOOLS_QWEN3,    // Qwen3's template: <tools> in the system turn, <tool_call> JSON replies
    KITE_CHAT_TOOLS_QWEN25,   // Qwen2.5's: the same Hermes-style calls, its default system message
    KITE_CHAT_TOOLS_QWQ,      // QwQ's: the same calls; replies open a reasoning block, earlier ones lose theirs
    KITE_CHAT_TOOLS_QWEN35,   // Qwen3.5's: <tools> in the system turn, XML calls <tool_call>\n<function=NAME>\n
                              // <parameter=ARG>\nVALUE\n</parameter>...</function>\n</tool_call>
} kite_chat_tools;

// The tool-call format of a template source (KITE_CHAT_TOOLS_NONE for NULL, a built-in name or
// an unknown source).
kite_chat_tools kite_chat_tools_of(const char *tmpl_source);

// One call of an assistant turn: the function's name and its arguments as the template prints
// them (JSON text in Jinja's tojson form: ", " and ": " separators).
typedef struct kite_chat_tool_call {
    const char *name;
    const char *arguments;
} kite_chat_tool_call;

// A message that may carry tool calls (assistant) or be a tool's result (role "tool").
typedef struct kite_chat_turn {
    const char *role;
    const char *content;
    const kite_chat_tool_call *calls; // n_calls of them (assistant turns)
    size_t n_calls;
    const char *reasoning; // assistant turns: OpenAI's reasoning_content, or NULL (Qwen3's template
                           // then takes the reasoning out of the content's <think> block)
} kite_chat_turn;

// Formats a conversation with tools as the template's Jinja source does (tools[0..n_tools): each
// tool's JSON text as tojson prints it, {"type": "function", "function": {"name", "description",
// "parameters"}}; none is fine: tool results and calls are still rendered). Flags as
// kite_chat_apply_ex. KITE_ERR_UNSUPPORTED when kite_chat_tools_of(tmpl) is NONE;
// KITE_ERR_INVALID for NULL arguments or a message / call with a NULL member; KITE_ERR_NOMEM.
kite_status kite_chat_apply_tools(const char *tmpl_source, const kite_chat_turn *msgs, size_t n,
                                  const char *const *tools, size_t n_tools, unsigned flags, char **out,
                                  size_t *out_len);

// The tags of the reasoning block a template's replies may hold (llama.cpp finds them by
// analysing the Jinja source: thinking_start_tag and thinking_end_tags): "<think>" and
// "</think>" for a source that writes both (Qwen3, QwQ, DeepSeek-R1), which is when
// llama.cpp's reasoning budget applies to its chat replies. False (and both NULL) for the
// built-in names and other sources. start and end may be NULL.
bool kite_chat_reasoning_tags(const char *tmpl_name_or_source, const char **start, const char **end);

// The reasoning block's tags as a template writes them around an assistant turn's reasoning
// (llama.cpp's template analysis finds them so, and llama-server writes a continued assistant
// message's reasoning with them): "<think>\n" and "\n</think>\n\n" for a source that writes
// '\n<think>\n' + reasoning_content (Qwen3, Qwen3.5), else the bare tags of
// kite_chat_reasoning_tags (QwQ). False (both NULL) when the template has no reasoning tags.
bool kite_chat_reasoning_layout(const char *tmpl_name_or_source, const char **start, const char **end);

// ---- reasoning blocks ---------------------------------------------------------------------

// Splits a reply streamed in pieces into its reasoning, the text between "<think>" and
// "</think>" (Qwen3, DeepSeek-R1), and its answer, the rest: the tags themselves and the
// newlines right after "</think>" belong to neither. Bytes that could begin a tag are held
// until decided, so tags split across pieces are found. Zero-initialize or call init.
typedef struct kite_think_split {
    bool thinking;    // inside a reasoning block
    bool after_close; // just after "</think>": newlines are dropped
    char held[8];     // the prefix of a tag seen so far
    size_t n_held;
} kite_think_split;

// Receives runs of text in order, thinking true for reasoning; returning false stops the feed.
typedef bool (*kite_think_emit)(void *user, const char *text, size_t len, bool thinking);

void kite_think_split_init(kite_think_split *s);

// Feeds text[0..len); emits the runs it decides. Returns false if emit returned false.
bool kite_think_split_feed(kite_think_split *s, const char *text, size_t len, kite_think_emit emit, void *user);

// Emits the held bytes (a tag prefix the reply ended in) as text. Returns emit's verdict.
bool kite_think_split_flush(kite_think_split *s, kite_think_emit emit, void *user);

#ifdef __cplusplus
}
#endif
#endif
