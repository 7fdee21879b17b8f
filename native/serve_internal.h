// serve_internal.h - what the parts of `kite serve`'s API share: JSON responses, error bodies,
// chat messages -> prompt, and the generation endpoints (serve_generate.c).
#ifndef KITE_NATIVE_SERVE_INTERNAL_H
#define KITE_NATIVE_SERVE_INTERNAL_H

#include "json.h"
#include "serve_api.h"

// The shape of a generation request and its answer.
typedef enum serve_format {
    SERVE_OAI_COMPLETION, // POST /v1/completions
    SERVE_OAI_CHAT,       // POST /v1/chat/completions
    SERVE_NATIVE,         // POST /completion (llama-server's own shape)
} serve_format;

// Sends the writer's text as a JSON response (500 when the writer ran out of memory).
void serve_send_json(http_out *o, int status, json_writer *w);

// Writes {"error": {"message", "type", "code"}} (OpenAI's shape).
void serve_write_error(json_writer *w, int status, const char *message);

// Answers 400 {"error": {"message", "type": "exceed_context_size_error", "code": 400,
// "n_prompt_tokens", "n_ctx"}} (llama-server's shape) for a prompt a slot's context cannot hold.
void serve_error_exceed_context(http_out *o, int32_t n_prompt, int32_t n_ctx);

// The prompt of body's "messages" through the server's chat template into *prompt (malloc'd);
// *reply_at (may be NULL): where the reply's own text begins in it (chat_request_prompt). false
// with a message naming the problem in err.
bool serve_chat_prompt(const serve_state *s, const json_value *body, char **prompt, bool *no_thinking,
                       size_t *reply_at, char *err, size_t es);

// Takes a free slot for request `task`, waiting while none is; -1 when the client left (a FIN
// counts when fin_is_gone, see http_client_gone) or the server stops. With the prompt's tokens
// (ids, may be NULL) the free slot whose cache shares the longest prefix with them (as
// llama-server's slot similarity), else (and among equals) the one used least recently.
int serve_slot_acquire(serve_state *s, int fd, bool fin_is_gone, unsigned long task, const int32_t *ids,
                       int32_t n_ids);

// Frees the slot; st (optional) adds to the /metrics counts.
void serve_slot_release(serve_state *s, int slot, const kite_gen_stats *st);

// Answers POST /v1/embeddings (OpenAI's shape) or /embedding (llama-server's); task: the
// request's number.
void serve_embed(serve_state *s, http_out *o, const json_value *body, bool oai, unsigned long task);

// Answers a generation request (body already parsed as an object); task: the request's number.
void serve_generate(serve_state *s, http_out *o, const json_value *body, serve_format fmt, unsigned long task);

#endif
