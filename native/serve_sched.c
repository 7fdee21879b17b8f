// serve_sched.c - the batch scheduler of `kite serve` (see serve_sched.h): one thread, one
// kite_ctx_decode per step over every busy slot, each slot's generation a kite_gen_seq.
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve_internal.h"

// What the scheduler thread keeps per slot (touched by that thread only).
typedef struct sched_slot {
    kite_gen_seq *seq; // the running generation (NULL: idle)
    serve_job *job;
    int32_t take;      // tokens of it in this step's batch
    bool want;         // its last token's logits are wanted this step
} sched_slot;

typedef struct sched_cb {
    serve_state *s;
    serve_job *job;
} sched_cb;

// The token's log-probability and the n_top most likely tokens under softmax(logits).
static void fill_logprobs(const float *logits, int32_t n_vocab, int32_t n_top, serve_token *t) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    t->logprob = (float)(logits[t->id] - lse);
    t->n_top = 0;
    for (int32_t i = 0; i < n_vocab; i++) { // insertion into a short sorted list (n_top <= 20)
        float l = logits[i];
        if (t->n_top == n_top && (n_top == 0 || l <= logits[t->top_id[n_top - 1]])) continue;
        int32_t k = t->n_top < n_top ? t->n_top++ : n_top - 1;
        while (k > 0 && logits[t->top_id[k - 1]] < l) {
            t->top_id[k] = t->top_id[k - 1];
            k--;
        }
        t->top_id[k] = i;
    }
    for (int32_t k = 0; k < t->n_top; k++) t->top_logprob[k] = (float)(logits[t->top_id[k]] - lse);
}

// Runs on the scheduler thread inside kite_gen_seq_step: a cancelled job stops; with logprobs
// the token's record goes to the worker.
static bool on_token(void *user, const kite_gen_token *t) {
    sched_cb *cb = user;
    serve_token st = {.id = t->id, .offset = t->offset};
    if (cb->job->logprobs) fill_logprobs(t->logits, t->n_vocab, cb->job->n_top, &st);
    pthread_mutex_lock(&cb->s->lock);
    bool ok = !cb->job->cancel && !http_stop;
    if (ok && cb->job->logprobs && !kite_buf_append(&cb->job->toks, &st, sizeof st)) ok = false;
    pthread_mutex_unlock(&cb->s->lock);
    return ok;
}

static bool on_piece(void *user, const char *piece, size_t len) {
    sched_cb *cb = user;
    pthread_mutex_lock(&cb->s->lock);
    bool ok = !cb->job->cancel && kite_buf_append(&cb->job->text, piece, len) &&
              kite_buf_append(&cb->job->lens, &len, sizeof len);
    if (ok) pthread_cond_signal(&cb->job->ready);
    pthread_mutex_unlock(&cb->s->lock);
    return ok;
}

// Ends slot i's job with status rs (message: msg, else the thread's last error) and frees its
// generation. The slot's sequence keeps its cache (the tokens evaluated, recorded by the context):
// the next job there keeps the prefix it shares with them.
static void end_job(serve_state *s, sched_slot *ss, int i, kite_status rs, const char *msg) {
    (void)i;
    kite_gen_stats st = ss->seq ? kite_gen_seq_stats(ss->seq) : (kite_gen_stats){0};
    kite_gen_seq_free(ss->seq);
    ss->seq = NULL;
    pthread_mutex_lock(&s->lock);
    serve_job *job = ss->job;
    job->status = rs;
    if (job->text.nomem || job->lens.nomem || job->toks.nomem) {
        job->status = KITE_ERR_NOMEM;
        snprintf(job->err, sizeof job->err, "out of memory for the reply");
    } else if (rs != KITE_OK) {
        snprintf(job->err, sizeof job->err, "%s", msg ? msg : kite_last_error());
    }
    job->st = st;
    job->running = false;
    job->done = true;
    pthread_cond_signal(&job->ready);
    pthread_mutex_unlock(&s->lock);
    ss->job = NULL;
}

typedef struct sched {
    serve_state *s;
    sched_slot *slot;
    sched_cb *cb;
    int32_t n_batch, n_vocab, n_ctx;
    int32_t *tokens, *seq;
    bool *want;
    float *logits;
    int rr; // the slot whose prompt goes first in the next step (round robin)
} sched;

// Starts the sequences of newly submitted jobs, ends cancelled ones. Called with s->lock held
// (released and taken again around the model work). True when some slot is running.
static bool sched_admit(sched *d) {
    serve_state *s = d->s;
    bool any = false;
    for (int i = 0; i < s->n_parallel; i++) {
        sched_slot *ss = &d->slot[i];
        serve_job *job = &s->slots[i].job;
        if (ss->seq && (job->cancel || http_stop)) {
            pthread_mutex_unlock(&s->lock);
            end_job(s, ss, i, KITE_ERR_ABORTED, "generation stopped: the client went away");
            pthread_mutex_lock(&s->lock);
        } else if (!ss->seq && job->submitted) {
            job->submitted = false;
            job->running = true;
            ss->job = job;
            d->cb[i] = (sched_cb){.s = s, .job = job};
            const kite_gen_seq_params p = {
                .gen = job->gen, .on_token = on_token, .on_piece = on_piece, .user = &d->cb[i]};
            const bool gone = job->cancel || http_stop; // the client left before its turn came
            pthread_mutex_unlock(&s->lock);
            kite_status rs = gone ? KITE_ERR_ABORTED
                                  : kite_gen_seq_start_tokens(s->ms->model, job->ids, job->n_ids, 0, d->n_ctx, &p, &ss->seq);
            if (rs == KITE_OK) { // the slot's cache: its common prefix kept, or emptied
                pthread_mutex_lock(&s->model_lock);
                rs = job->cache_prompt ? kite_gen_seq_use_cache(ss->seq, s->ms->ctx, i, NULL)
                                       : kite_ctx_seq_reset(s->ms->ctx, i);
                pthread_mutex_unlock(&s->model_lock);
            }
            if (rs != KITE_OK) end_job(s, ss, i, rs, gone ? "generation stopped: the client went away" : NULL);
            pthread_mutex_lock(&s->lock);
        }
        any |= ss->seq != NULL;
    }
    return any;
}

// One step: the batch of every running slot, one forward pass, each slot's logits to its
// sequence. Runs without s->lock.
static void sched_step(sched *d) {
    serve_state *s = d->s;
    const int n = s->n_parallel;
    int32_t nb = 0, budget = d->n_batch;
    // one token for each generating slot first, then prompt pieces in the budget left
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < n; k++) {
            const int i = (d->rr + k) % n;
            sched_slot *ss = &d->slot[i];
            if (pass == 0) ss->take = 0, ss->want = false;
            if (!ss->seq) continue;
            const int32_t *toks;
            const int32_t pending = kite_gen_seq_next(ss->seq, &toks);
            const bool decode = pending == 1 && kite_gen_seq_stats(ss->seq).n_generated > 0;
            if ((pass == 0) != decode || pending == 0) continue;
            int32_t take = pending < budget ? pending : budget;
            if (take <= 0) continue;
            for (int32_t j = 0; j < take; j++) {
                d->tokens[nb + j] = toks[j];
                d->seq[nb + j] = i;
                d->want[nb + j] = false;
            }
            nb += take;
            budget -= take;
            ss->take = take;
            ss->want = take == pending;
            if (ss->want) d->want[nb - 1] = true;
        }
    }
    d->rr = (d->rr + 1) % n;
    if (nb == 0) return;
    const kite_batch b = {.tokens = d->tokens, .seq = d->seq, .want = d->want, .n = nb};
    pthread_mutex_lock(&s->model_lock);
    kite_status rs = kite_ctx_decode(s->ms->ctx, &b, d->logits);
    int32_t busy = 0, longest = 0;
    for (int i = 0; i < n; i++) {
        if (!d->slot[i].seq) continue;
        busy++;
        const int32_t pos = kite_ctx_seq_pos(s->ms->ctx, i);
        if (pos > longest) longest = pos;
    }
    pthread_mutex_unlock(&s->model_lock);
    if (rs == KITE_OK) { // for /metrics: llamacpp:n_decode_total, n_busy_slots_per_decode, n_tokens_max
        pthread_mutex_lock(&s->lock);
        s->m_n_decode++;
        s->m_busy_slots += (unsigned long long)busy;
        if ((unsigned long long)longest > s->m_n_tokens_max) s->m_n_tokens_max = (unsigned long long)longest;
        pthread_mutex_unlock(&s->lock);
    }
    // each slot's tokens are one run of the batch; the logits rows come in batch order
    int32_t row = 0;
    bool generated = false;
    for (int32_t t = 0; t < nb; t++) {
        const int i = d->seq[t];
        if (t + 1 < nb && d->seq[t + 1] == i) continue; // not slot i's last token
        sched_slot *ss = &d->slot[i];
        const float *lg = d->want[t] ? d->logits + (size_t)row++ * (size_t)d->n_vocab : NULL;
        kite_status r2 = rs;
        if (rs == KITE_OK) {
            const int32_t before = kite_gen_seq_stats(ss->seq).n_generated;
            r2 = kite_gen_seq_step(ss->seq, ss->take, lg);
            generated |= kite_gen_seq_stats(ss->seq).n_generated > before;
        }
        if (r2 != KITE_OK || kite_gen_seq_done(ss->seq)) end_job(s, ss, i, r2, NULL);
    }
    if (generated && s->token_delay_ms > 0) usleep((useconds_t)s->token_delay_ms * 1000);
}

static void *sched_main(void *arg) {
    sched *d = arg;
    serve_state *s = d->s;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        bool any = sched_admit(d);
        if (s->sched_quit && !any) break;
        if (!any) {
            // a job submitted while sched_admit had the lock released is not lost
            bool submitted = false;
            for (int i = 0; i < s->n_parallel; i++) submitted |= s->slots[i].job.submitted;
            if (!submitted) pthread_cond_wait(&s->sched_wake, &s->lock);
            continue;
        }
        pthread_mutex_unlock(&s->lock);
        sched_step(d);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static sched *g_sched; // the one scheduler of this process (its buffers, freed by stop)

static void sched_free(sched *d) {
    if (!d) return;
    free(d->slot);
    free(d->cb);
    free(d->tokens);
    free(d->seq);
    free(d->want);
    free(d->logits);
    free(d);
}

bool serve_sched_start(serve_state *s) {
    sched *d = calloc(1, sizeof *d);
    if (!d) return false;
    const int n = s->n_parallel;
    d->s = s;
    d->n_vocab = kite_model_hparams(s->ms->model)->n_vocab;
    d->n_ctx = kite_ctx_n_ctx(s->ms->ctx);
    // one step is one forward pass: the context's n_batch (-b, at most its whole cache)
    const int64_t n_cache = (int64_t)d->n_ctx * n;
    d->n_batch = s->n_batch > 0 ? s->n_batch : 512;
    if (d->n_batch > n_cache) d->n_batch = (int32_t)n_cache;
    d->slot = calloc((size_t)n, sizeof *d->slot);
    d->cb = calloc((size_t)n, sizeof *d->cb);
    const size_t cap = (size_t)d->n_batch + (size_t)n;
    d->tokens = malloc(cap * sizeof *d->tokens);
    d->seq = malloc(cap * sizeof *d->seq);
    d->want = malloc(cap * sizeof *d->want);
    d->logits = malloc((size_t)n * (size_t)d->n_vocab * sizeof *d->logits);
    if (!d->slot || !d->cb || !d->tokens || !d->seq || !d->want || !d->logits ||
        pthread_create(&s->sched_thread, NULL, sched_main, d) != 0) {
        sched_free(d);
        return false;
    }
    g_sched = d;
    s->sched_started = true;
    return true;
}

void serve_sched_stop(serve_state *s) {
    if (!s->sched_started) return;
    pthread_mutex_lock(&s->lock);
    s->sched_quit = true;
    for (int i = 0; i < s->n_parallel; i++) s->slots[i].job.cancel = true;
    pthread_cond_broadcast(&s->sched_wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->sched_thread, NULL);
    s->sched_started = false;
    sched_free(g_sched);
    g_sched = NULL;
}

void serve_job_submit(serve_state *s, int slot) {
    pthread_mutex_lock(&s->lock);
    serve_job *job = &s->slots[slot].job;
    job->submitted = true;
    job->running = job->cancel = job->done = false;
    job->status = KITE_OK;
    job->err[0] = 0;
    job->st = (kite_gen_stats){0};
    job->text.len = job->lens.len = job->toks.len = 0;
    pthread_cond_signal(&s->sched_wake);
    pthread_mutex_unlock(&s->lock);
}
#endif
