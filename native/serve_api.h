// serve_api.h - the OpenAI-compatible endpoints of `kite serve` (/v1/models, /v1/completions,
// /v1/chat/completions, /health) on top of the HTTP plumbing and the model API.
#ifndef KITE_NATIVE_SERVE_API_H
#define KITE_NATIVE_SERVE_API_H

#include "http_server.h"
#include "model_cli.h"

typedef struct serve_state {
    model_session *ms;
    kite_sampler_params sampling; // server defaults (from the command line); requests override
    bool seed_given;              // requests without a seed use sampling.seed, not a random one
    int32_t n_predict;            // default max_tokens (-1: until end of text or full context)
    const char *model_id;         // the name /v1/models lists (the file's base name)
    const char *chat_tmpl;        // chat template name or source for kite_chat_apply
    long long started;            // unix time the server started ("created" of the model)
    unsigned long n_done;         // requests answered (ids are unique per server run)
    bool verbose;                 // log one line per request to stderr
} serve_state;

// Answers one request on fd (the caller closes the connection afterwards).
void serve_handle(serve_state *s, int fd, const http_request *req);

// Answers with an OpenAI-style error object {"error": {"message", "type", "code"}}.
void serve_error(int fd, int status, const char *message);

#endif
