// serve_api.h - the endpoints of `kite serve` (OpenAI-compatible /v1/*, llama-server's native
// /completion, /tokenize, /detokenize, /apply-template, /props, /slots, /metrics, /health) on
// top of the HTTP plumbing and the model API; access control (API keys, CORS origins) and the
// slots that queue generation requests for the model.
//
// Threads: serve_handle runs on any worker thread. Generation goes through slots: a request
// takes one of n_parallel slots (waiting while none is free) and hands its job to the batch
// scheduler (serve_sched.h), which runs all busy slots together, one batched forward pass per
// step; the worker streams the slot's output as it comes. An embedding request takes a slot and
// runs in that slot's sequence between two steps (under model_lock).
#ifndef KITE_NATIVE_SERVE_API_H
#define KITE_NATIVE_SERVE_API_H

#include <pthread.h>

#include "http_server.h"
#include "model_cli.h"
#include "serve_sched.h"

typedef struct serve_slot {
    bool busy;          // a request holds it
    bool embedding;     // ... an embedding request (else a generation)
    bool used;          // it has served a request (task is the current or last one)
    unsigned long task; // the request number it serves
    int32_t n_prompt, n_generated; // of its current (or last) request
    int32_t n_cached;              // ... of n_prompt, those its cache held
    unsigned long long last_used;  // when it was last taken (a count of acquisitions)
    serve_job job;      // the generation it runs (see serve_sched.h)
} serve_slot;

typedef struct serve_state {
    // configuration (read-only once serving)
    model_session *ms;
    kite_sampler_params sampling; // server defaults (from the command line); requests override
    bool seed_given;              // requests without a seed use sampling.seed, not a random one
    int32_t n_predict;            // default max_tokens (-1: until end of text or full context)
    const char *model_id;         // the name /v1/models lists (the file's base name)
    const char *chat_tmpl;        // chat template name or source for kite_chat_apply
    bool no_thinking;             // --reasoning off: chat prompts open the reply with reasoning off
    int32_t reasoning_budget;     // --reasoning-budget: default of a chat request's (-1 unlimited)
    const char *reasoning_budget_message; // --reasoning-budget-message (NULL: none)
    const char *const *dry_breakers; // --dry-sequence-breaker: DRY's default breakers (NULL:
    int32_t n_dry_breakers;          // llama.cpp's "\n" ":" "\"" "*"); a request's replace them
    long long started;            // unix time the server started ("created" of the model)
    bool verbose;                 // log one line per request to stderr
    int n_parallel;               // slots (= the sequences of ms->ctx)
    int32_t n_batch;              // most tokens per scheduler step (-b; 0 = 512)
    int max_queue;                // generation requests that may wait for a slot
    bool metrics;                 // /metrics enabled
    char **api_keys;              // accepted keys (none: no key needed)
    int n_api_keys;
    char **cors_origins;          // origins allowed to call from a browser page
    int n_cors_origins;
    int token_delay_ms;           // testing aid: sleep this long after each generated token

    atomic_bool ready; // the model is loaded (before: every request gets 503 "Loading model");
                       // the fields above that come from the model are set before it turns true

    // shared, under lock
    pthread_mutex_t lock;
    pthread_cond_t changed;   // a slot was released
    serve_slot *slots;        // n_parallel
    int n_admitted;           // generation requests admitted (holding or waiting for a slot)
    unsigned long n_done;     // requests started (ids are unique per server run)
    // the scheduler (serve_sched.c)
    pthread_cond_t sched_wake; // a job was submitted or cancelled, or the scheduler must stop
    bool sched_quit;
    pthread_t sched_thread;
    bool sched_started;
    pthread_mutex_t model_lock; // held while ms->ctx runs (a scheduler step, an embedding)
    // /metrics counters
    // /metrics (llama-server's llamacpp:* set): totals since the start, and the prompt/generation
    // counts since the last scrape (the *_tokens_seconds throughput gauges)
    unsigned long long m_requests, m_prompt_tokens, m_predicted_tokens;
    unsigned long long m_prompt_cached;   // prompt tokens the slots' caches held (not in m_prompt_tokens)
    unsigned long long n_acquired;        // slot acquisitions (serve_slot.last_used)
    double m_prompt_s, m_predict_s;
    unsigned long long m_n_decode;     // forward passes of the scheduler
    unsigned long long m_busy_slots;   // running slots summed over those passes
    unsigned long long m_n_tokens_max; // longest sequence seen (prompt + generated)
    unsigned long long m_bucket_prompt_tokens, m_bucket_predicted_tokens;
    double m_bucket_prompt_s, m_bucket_predict_s;
} serve_state;

// Sets up the locks and slots (after the configuration fields are filled). false on OOM.
bool serve_state_init(serve_state *s);
void serve_state_free(serve_state *s);

// True for the endpoints that generate (they need a slot and are admitted by serve_admit).
bool serve_is_generation(const http_request *req);

// Admits a generation request when fewer than n_parallel + max_queue are admitted; false
// means the queue is full (answer 503). Each admitted request is released by serve_handle.
bool serve_admit(serve_state *s);

// Answers one request on o (o->keep_alive may be cleared; a generation request must have been
// admitted). Safe to call from several threads at once.
void serve_handle(serve_state *s, http_out *o, const http_request *req);

// Answers with an OpenAI-style error object {"error": {"message", "type", "code"}};
// extra_headers: NULL or whole "Name: value\r\n" lines.
void serve_error(http_out *o, int status, const char *message, const char *extra_headers);

#endif
