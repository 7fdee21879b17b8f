// chat_request.h - an OpenAI chat request (messages with text parts, assistant tool_calls and
// tool results; tools) rendered into its prompt by a model's chat template. Shared by kite
// serve's /v1/chat/completions and the npm package's chat (wasm/exports_tools.c), so both build
// the same prompt from the same request.
#ifndef KITE_NATIVE_CHAT_REQUEST_H
#define KITE_NATIVE_CHAT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"

// The prompt of chat request body ("messages", "tools"; "tool_choice" and "parallel_tool_calls"
// are checked) with template chat_tmpl (a Jinja source or built-in name; NULL: chatml) and
// kite_chat_apply_ex's flags. A template with a tool format (Qwen2.5 / Qwen3 / QwQ Hermes calls,
// Qwen3.5's XML calls) renders tools,
// calls and results (and an assistant's reasoning_content, which Qwen3's writes into its
// <think> block) as its Jinja source does; any other gets llama.cpp's generic JSON format.
// With KITE_CHAT_ADD_ASSISTANT, a conversation that ends in an assistant message is continued, as
// llama-server does (its assistant prefill): the messages before it are rendered with the assistant's opening, then
// that message's text with no end of turn; for a template with reasoning blocks (Qwen3) the
// opening goes up to "<think>\n", then the message's reasoning_content, then (unless only
// reasoning is given) "\n</think>\n\n" and its content. Two assistant messages at the end, or
// a last one with tool_calls, are refused as llama-server refuses them.
// *prompt is malloc'd; *reply_at (reply_at may be NULL) is where the reply's own text begins in
// it: after the template's assistant opening (what follows, reasoning off's empty block or the
// continued message, is already the reply's). false with a message naming the member
// (messages[2].tool_calls[0]...) when the request is malformed, or the template's error.
bool chat_request_prompt(const char *chat_tmpl, const json_value *body, unsigned flags, char **prompt,
                         size_t *reply_at, char *err, size_t es);

// The role message i's role is rendered with (a static string): OpenAI's roles (system, user,
// assistant, tool) as they are, "developer" as "system" (as llama.cpp maps it) but for a GPT-OSS
// template (chat_tmpl as chat_request_prompt's), whose own developer turn keeps it; NULL, with a
// message naming messages[i].role and the roles, for any other role.
const char *chat_request_role(const char *chat_tmpl, const char *role, size_t i, char *err, size_t es);

// v is a string without NUL bytes (a C string can carry it); else false with a message naming
// it as what.
bool chat_request_plain_string(const json_value *v, const char *what, char *err, size_t es);

// A member that asks for nothing: absent, null, false, 0, "" or an empty array / object.
bool chat_request_is_unset(const json_value *v);

#endif
