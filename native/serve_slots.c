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

int serve_slot_acquire(serve_state *s, int fd, bool fin_is_gone, unsigned long task) {
    pthread_mutex_lock(&s->lock);
    for (;;) {
        for (int i = 0; i < s->n_parallel; i++) {
            if (!s->slots[i].busy) {
                serve_slot *sl = &s->slots[i];
                sl->busy = true;
                sl->embedding = false;
                sl->task = task;
                sl->used = true;
                sl->n_prompt = sl->n_generated = 0;
                pthread_mutex_unlock(&s->lock);
                return i;
            }
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
        me->n_generated = st->n_generated;
        s->m_prompt_tokens += (unsigned long long)st->n_prompt;
        s->m_predicted_tokens += (unsigned long long)st->n_generated;
        s->m_prompt_s += st->prefill_s;
        s->m_predict_s += st->decode_s;
        s->m_bucket_prompt_tokens += (unsigned long long)st->n_prompt;
        s->m_bucket_predicted_tokens += (unsigned long long)st->n_generated;
        s->m_bucket_prompt_s += st->prefill_s;
        s->m_bucket_predict_s += st->decode_s;
    }
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}
#endif
