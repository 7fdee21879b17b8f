// serve_sched.h - the batch scheduler of `kite serve` (continuous batching): one thread owns the
// model context (one KV cache sequence per slot) and, every step, runs one kite_ctx_decode over
// all busy slots: pieces of new requests' prompts (at most n_batch tokens per step in all, so a
// long prompt does not stall the others) and one token per generating slot. Each slot's
// kite_gen_seq samples from its logits; its text and tokens go to the slot's job, where the
// worker thread that serves the request picks them up. New requests join between steps; a job
// that ends (or is cancelled by its worker) frees its generation at once; the slot's KV cache
// sequence keeps what was evaluated, for the next job's common prefix (cache_prompt).
#ifndef KITE_NATIVE_SERVE_SCHED_H
#define KITE_NATIVE_SERVE_SCHED_H

#include <pthread.h>
#include <stddef.h>

#include "base/kite_buf.h"
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

// One generation request as the scheduler sees it (it lives in its slot).
typedef struct serve_job {
    // input, set by the worker before serve_job_submit (read-only while the job runs)
    const int32_t *ids;  // the prompt's tokens (BOS included; tokenized once, by the worker)
    int32_t n_ids;
    kite_gen_params gen; // n_predict, sampling, stop, n_stop, parse_special (stats, on_token unused)
    bool cache_prompt;   // keep what the slot's sequence shares with the prompt (else it starts empty)
    bool logprobs;       // record each token's log-probability ...
    int32_t n_top;       // ... and this many alternatives (0..SERVE_MAX_TOP)
    // under serve_state.lock
    bool submitted; // waiting for the scheduler to start it
    bool running;   // the scheduler has a sequence for it
    bool cancel;    // the worker asks the scheduler to stop it (client gone, shutdown)
    bool done;      // finished: status, err and stats are final
    kite_buf text; // released text the worker has not taken yet ...
    kite_buf lens; // ... as pieces (size_t lengths): each is streamed as its own chunk
    kite_buf toks; // serve_token records (logprobs) the worker has not taken yet
    kite_status status;
    char err[400];
    kite_gen_stats st;
    pthread_cond_t ready; // new output, or done
} serve_job;

struct serve_state;

// Starts the scheduler thread on s->ms->ctx (a context of s->n_parallel sequences). false on
// failure (nothing started).
bool serve_sched_start(struct serve_state *s);

// Stops the scheduler thread (jobs still running end with KITE_ERR_ABORTED) and joins it.
void serve_sched_stop(struct serve_state *s);

// Hands the job of slot `slot` (its inputs set) to the scheduler.
void serve_job_submit(struct serve_state *s, int slot);

#endif
