// serve_slots.c - the slots of `kite serve` and the model's turn: a generation (or embedding)
// request takes one of n_parallel slots, then waits for the model in ticket order; a client that
// leaves while waiting gives its place up. Continuous batching would replace the turn with a
// batched step over all busy slots.
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include <time.h>

#include "serve_internal.h"

// ---- slots and the model's turn -------------------------------------------------------------

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
                s->slots[i] = (serve_slot){.busy = true, .task = task};
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

bool serve_model_turn(serve_state *s, int slot, int fd, bool fin_is_gone) {
    pthread_mutex_lock(&s->lock);
    serve_slot *me = &s->slots[slot];
    me->wants_turn = true;
    me->ticket = s->ticket_next++;
    bool got = false;
    for (;;) {
        bool first = true;
        for (int i = 0; i < s->n_parallel; i++)
            if (i != slot && s->slots[i].wants_turn && s->slots[i].ticket < me->ticket) first = false;
        if (first && !s->model_busy) {
            s->model_busy = me->generating = got = true;
            break;
        }
        if (http_stop || http_client_gone(fd, fin_is_gone)) break;
        struct timespec ts;
        deadline_in_100ms(&ts);
        pthread_cond_timedwait(&s->changed, &s->lock, &ts);
    }
    me->wants_turn = false;
    if (!got) pthread_cond_broadcast(&s->changed); // the next in line may be first now
    pthread_mutex_unlock(&s->lock);
    return got;
}

void serve_slot_release(serve_state *s, int slot, const kite_gen_stats *st) {
    pthread_mutex_lock(&s->lock);
    serve_slot *me = &s->slots[slot];
    if (me->generating) s->model_busy = false;
    me->busy = me->generating = me->wants_turn = false;
    if (st) {
        me->n_prompt = st->n_prompt;
        me->n_generated = st->n_generated;
        s->m_prompt_tokens += (unsigned long long)st->n_prompt;
        s->m_predicted_tokens += (unsigned long long)st->n_generated;
        s->m_prompt_s += st->prefill_s;
        s->m_predict_s += st->decode_s;
    }
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}
#endif
