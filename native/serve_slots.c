// serve_slots.c - the slots of `kite serve`: a generation (or embedding) request takes one of
// n_parallel slots (each has its own sequence in the model's KV cache) or waits for one; a
// client that leaves while waiting gives its place up.
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include <time.h>

#include "serve_internal.h"

// ---- slots -------------------------------------------------------------

static void deadline_in_100ms(struct timespec *ts) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += 100 * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int serve_slot_acquire(serve_state *s, int fd, bool fin_is_gone, unsigned long task, const int32_t *ids,
                       int32_t n_ids) {
    pthread_mutex_lock(&s->lock);
    for (;;) {
        // An idle slot's sequence is not touched by the scheduler (it runs busy slots only) nor by
        // an embedding (it holds its slot): its tokens are read here without model_lock, the
        // writes of its last job ordered before by s->lock (the job's end, the slot's release).
        int best = -1;
        int32_t best_common = -1;
        for (int i = 0; i < s->n_parallel; i++) {
            if (s->slots[i].busy) continue;
            const int32_t common = ids ? kite_ctx_seq_common_prefix(s->ms->ctx, i, ids, n_ids) : 0;
            if (common > best_common || (common == best_common && s->slots[i].last_used < s->slots[best].last_used)) {
                best = i;
                best_common = common;
            }
        }
        if (best >= 0) {
            serve_slot *sl = &s->slots[best];
            sl->busy = true;
            sl->embedding = false;
            sl->task = task;
            sl->used = true;
            sl->last_used = ++s->n_acquired;
            sl->n_prompt = sl->n_generated = sl->n_cached = 0;
            pthread_mutex_unlock(&s->lock);
            return best;
        }
        if (http_stop || http_client_gone(fd, fin_is_gone)) break;
        struct timespec ts;
        deadline_in_100ms(&ts);
        pthread_cond_timedwait(&s->changed, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return -1;
}

void serve_slot_release(serve_state *s, int slot, const kite_gen_stats *st) {
    pthread_mutex_lock(&s->lock);
    serve_slot *me = &s->slots[slot];
    me->busy = me->embedding = false;
    if (st) {
        me->n_prompt = st->n_prompt;
        me->n_cached = st->n_cached;
        me->n_generated = st->n_generated;
        s->m_prompt_tokens += (unsigned long long)(st->n_prompt - st->n_cached);
        s->m_prompt_cached += (unsigned long long)st->n_cached;
        s->m_predicted_tokens += (unsigned long long)st->n_generated;
        s->m_prompt_s += st->prefill_s;
        s->m_predict_s += st->decode_s;
        s->m_bucket_prompt_tokens += (unsigned long long)(st->n_prompt - st->n_cached);
        s->m_bucket_predicted_tokens += (unsigned long long)st->n_generated;
        s->m_bucket_prompt_s += st->prefill_s;
        s->m_bucket_predict_s += st->decode_s;
    }
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}
#endif
