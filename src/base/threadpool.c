// threadpool.c - a fixed pool of worker threads for per-token parallel work: the caller is
// thread 0, workers spin briefly on a generation counter and then sleep on a condition variable.
#include "base/kite_pool.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#if defined(KITE_THREADS)
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ volatile("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

// How long a worker spins before it sleeps, and the caller before it yields its core to a
// straggler. Between two runs of one token there are only a few microseconds of single-threaded
// work, so spinning SPIN_NS keeps dispatch cheap there, while an idle pool stops burning CPU
// soon after the last token, and on a machine other jobs share a worker whose caller lost its
// core gives the core back within SPIN_NS. Timed, not counted: one pause takes ~27 ns on Zen 4,
// ~40 ns on Skylake-X, a few ns on older cores (1 << 15 pauses were 0.1 to 1.5 ms).
// wasm (a browser's or Node's workers): the gap between two tokens (sampling, the JS callbacks)
// is 0.1-0.3 ms there, longer than 100 us with the end of the head's run, so a 100 us spin put
// the worker to sleep at nearly every token, and a futex wake through JS is costly; it spins
// 1 ms. Its clock is a JS call (clock_gettime also writes the heap through JS: ~1 us), so the
// spin reads emscripten_get_now, and every 1024 turns of a loop with no pause instruction.
#if defined(__EMSCRIPTEN__)
#include <emscripten/emscripten.h>
enum { SPIN_NS = 1000 * 1000, SPIN_CHECK = 1024 }; // the clock is read every SPIN_CHECK turns

static uint64_t now_ns(void) { return (uint64_t)(emscripten_get_now() * 1e6); }
#else
enum { SPIN_NS = 100 * 1000, SPIN_CHECK = 64 }; // the clock is read every SPIN_CHECK pauses

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

// One spin step: true while the spin that started at *t0 (0: not yet read) is within SPIN_NS.
static bool spin_on(int *spins, uint64_t *t0) {
    CPU_RELAX();
    if (++*spins % SPIN_CHECK) return true;
    const uint64_t t = now_ns();
    if (!*t0) *t0 = t;
    return t - *t0 < SPIN_NS;
}

#define JOIN_CLOSED ((uint64_t)1 << 31)
#define JOIN_COUNT ((uint64_t)JOIN_CLOSED - 1)

typedef struct worker {
    struct kite_pool *pool;
    int ith;
    pthread_t th;
} worker;

struct kite_pool {
    int n;
    worker *workers; // n - 1 of them
    void (*fn)(void *, int, int);
    void *ctx;
    atomic_uint gen;     // bumped once per run; workers wait for it to change
    atomic_int pending;  // workers that have not finished the current run
    atomic_int sleepers; // workers inside (or entering) the condition wait
    atomic_bool stop;
    // shared runs: generation (high 32 bits) | closed (bit 31) | workers inside fn (low bits)
    _Atomic uint64_t joins;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *worker_main(void *arg) {
    worker *me = arg;
    struct kite_pool *p = me->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        uint64_t t0 = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && !atomic_load(&p->stop)) {
            if (spin_on(&spins, &t0)) continue;
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            // re-check under the mutex: run() bumps gen before it looks at sleepers
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
            spins = 0;
            t0 = 0;
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        // Which kind of run is g? A shared run stores its generation in `joins` before it
        // publishes gen, and the caller can only get past a run without us if it is shared:
        // joins' generation == g: shared, try to join; later than g: a shared run already over
        // (skip, ctx may be gone); earlier: g is a plain run and the caller waits for us.
        uint64_t st = atomic_load(&p->joins);
        int32_t age = (int32_t)((uint32_t)(st >> 32) - g);
        if (age < 0) {
            p->fn(p->ctx, me->ith, p->n);
            atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
            continue;
        }
        bool joined = false;
        while (age == 0 && !(st & JOIN_CLOSED)) {
            if (atomic_compare_exchange_weak(&p->joins, &st, st + 1)) {
                joined = true;
                break;
            }
            age = (int32_t)((uint32_t)(st >> 32) - g);
        }
        if (joined) { // fn and ctx stay valid: the caller waits for the workers inside
            p->fn(p->ctx, me->ith, p->n);
            atomic_fetch_sub_explicit(&p->joins, 1, memory_order_release);
        }
    }
}

kite_pool *kite_pool_new(int n_threads) {
    if (n_threads < 1) return NULL;
    struct kite_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    p->workers = calloc((size_t)n_threads, sizeof *p->workers);
    if (!p->workers || pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->workers);
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->cv, NULL);
    for (int i = 1; i < n_threads; i++) {
        worker *w = &p->workers[i - 1];
        w->pool = p;
        w->ith = i;
        if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
            p->n = i; // join the ones that started
            kite_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void kite_pool_free(kite_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->workers[i - 1].th, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
}

int kite_pool_size(const kite_pool *p) { return p ? p->n : 1; }

void kite_pool_run(kite_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->gen, 1); // seq_cst: ordered before the sleepers check below
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->n);
    // the workers' results must be visible to the caller after this returns
    int spins = 0;
    uint64_t t0 = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
        if (!spin_on(&spins, &t0)) sched_yield(); // an oversubscribed machine: let the straggler have the core
}

void kite_pool_run_shared(kite_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    unsigned g = atomic_load(&p->gen) + 1;
    atomic_store(&p->joins, (uint64_t)g << 32); // open for generation g, nobody inside
    atomic_store(&p->gen, g);                    // publish (seq_cst, before the sleepers check)
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->n); // returns when no work is left to take
    // close the run; wait only for the workers already inside fn
    atomic_fetch_or(&p->joins, JOIN_CLOSED);
    int spins = 0;
    uint64_t t0 = 0;
    while (atomic_load_explicit(&p->joins, memory_order_acquire) & JOIN_COUNT)
        if (!spin_on(&spins, &t0)) sched_yield();
}

#else // no threads (wasm-st, WASI): the pool does not exist and runs are inline

kite_pool *kite_pool_new(int n_threads) {
    (void)n_threads;
    return NULL;
}
void kite_pool_free(kite_pool *p) { (void)p; }
int kite_pool_size(const kite_pool *p) {
    (void)p;
    return 1;
}
void kite_pool_run(kite_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx) {
    (void)p;
    fn(ctx, 0, 1);
}
void kite_pool_run_shared(kite_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx) {
    (void)p;
    fn(ctx, 0, 1);
}

#endif
