// kite_pool.h - a fixed pool of worker threads for per-token parallel work (the kernels, the
// attention loop and the file quantizer split their rows over it).
#ifndef KITE_POOL_H
#define KITE_POOL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kite_pool kite_pool;

// A pool of n_threads threads in all: the caller of kite_pool_run plus n_threads - 1 workers.
// Workers spin briefly between jobs (per-token dispatch costs about a microsecond), then sleep.
// Returns NULL when n_threads < 1, on allocation/thread-creation failure, or in a build
// without threads (KITE_THREADS undefined); a NULL pool is valid everywhere and means "inline".
kite_pool *kite_pool_new(int n_threads);

// Stops and joins the workers and frees the pool. NULL is a no-op. Not while a run is active.
void kite_pool_free(kite_pool *p);

// Threads of the pool (1 for NULL).
int kite_pool_size(const kite_pool *p);

// Runs fn(ctx, ith, nth) on every thread of the pool (ith = 0 is the calling thread) and
// returns when all have finished. p NULL => fn(ctx, 0, 1) inline. One run at a time per pool:
// do not call kite_pool_run on the same pool from inside fn or from two threads at once.
void kite_pool_run(kite_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx);

// Like kite_pool_run for work that threads take from a shared counter: fn runs on the caller
// and on each worker that arrives before the caller's fn has returned; a worker that arrives
// later (descheduled on a busy machine, a slow core) skips the run instead of stalling it.
// Contract: any single call of fn must finish all work still untaken when it returns.
void kite_pool_run_shared(kite_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx);

#ifdef __cplusplus
}
#endif
#endif
