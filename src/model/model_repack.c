// model_repack.c - after the load, moves the matrices the kernel set decodes faster from the X8
// layout (kite_matmul_prefers_x8: Q4_K, Q5_K, Q6_K, Q8_0, IQ4_XS, Q4_0, IQ4_NL, Q5_0, Q4_1, Q5_1, Q3_K,
// Q2_K on x86; those and IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_S, IQ1_S, IQ1_M on wasm) into one buffer the model owns, in that
// layout, and hands each source range to the host's release callback (kite_model_params); with
// kite_model_params.in_place, rewrites them in the host's buffers.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#if !defined(__EMSCRIPTEN__) && !defined(__wasi__)
#include <pthread.h>
#include <time.h>
#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#define HAVE_BEHIND 1 // native builds: a repack behind the first tokens (kite_model_params.repack_behind)
#endif

#include "kernels/kite_kernels.h"
#include "model/model_internal.h"

// KITE_REPACK=0 keeps the file's layout; otherwise (unset or 1) the sets that decode X8 faster get
// it (x86: Llama-3.2-1B-shaped Q4_K_M decode 1.35-1.57x per CPU second, docs/BENCHMARKS.md).
static bool repack_wanted(void) {
    const char *e = getenv("KITE_REPACK");
    return !(e && strcmp(e, "0") == 0);
}

// The dense matrices a decode step on the host reads, the output head also where it is the token
// embeddings (tied: their lookup reads a row back, kite_matmul_x8_row); not untied embeddings,
// which are only looked up, nor the experts, whose views are cut from one 3-D tensor, nor the
// last `offload` layers and then the head (an offload backend's, in the file's layout).
static int collect(kite_model *m, int32_t offload, kite_weight **out, int cap) {
    int n = 0;
    const int32_t first_off = m->hp.n_layer - KITE_MIN(offload, m->hp.n_layer);
    for (int il = 0; il < first_off; il++) {
        kite_layer *L = &m->layers[il];
        kite_weight *ws[] = KITE_LAYER_DENSE_WEIGHTS(L);
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            if (ws[i]->data && kite_matmul_prefers_x8(ws[i]->type) && ws[i]->n_out >= 8 && n < cap) out[n++] = ws[i];
    }
    if (offload == 0 && m->output.data && kite_matmul_prefers_x8(m->output.type) && m->output.n_out >= 8 && n < cap)
        out[n++] = &m->output;
    return n;
}

// Rows are repacked (and their source released) about this many bytes at a time: the tied
// output head of Qwen3-0.6B is 127 MB, which repacked whole raised the CLI's peak RSS by as much.
#define SLICE_BYTES ((uint64_t)4 << 20)

static uint64_t bytes_of(const kite_weight *w) {
    return kite_type_row_bytes(w->type, (uint64_t)w->n_in) * (uint64_t)w->n_out;
}

// w's bytes are now at data in the X8 layout (and the token embeddings' too where they are w's).
static void mark_repacked(kite_model *m, kite_weight *w, const void *data) {
    if (w == &m->output && m->tok_embd.data == w->data) { // tied: the lookup reads the same bytes
        m->tok_embd.data = data;
        m->tok_embd.layout = KITE_LAYOUT_X8;
    }
    w->data = data;
    w->layout = KITE_LAYOUT_X8;
    m->repacked_bytes += bytes_of(w);
}

#if HAVE_BEHIND
// ---- the repack behind the first tokens ------------------------------------------------------
// One thread of its own writes the X8 copies matrix by matrix and publishes each in its weight's
// x8 (release; the readers' kite__weight_bytes loads it with acquire). The source rows of a
// published matrix may still be read by a forward step that began before: they are released
// after a grace period, as read-copy-update does it: the thread flips m->read_epoch and waits
// (polling between matrices, never blocking the steps) until no step counted under the old
// parity runs; every step that begins after the flip sees the copies published before it.

struct kite_repack_behind {
    kite_model *m;
    kite_weight **ws;      // (n) the matrices, in the order they are repacked
    uint64_t *off;         // (n) where each copy lies in m->repacked
    int n;
    void (*release)(void *user, const void *data, uint64_t len);
    void *release_user;
    unsigned delay_us;     // KITE_REPACK_DELAY_US: a pause before each matrix (tests: a repack racing the decode)
    pthread_t th;
    _Atomic bool stop;
    kite_status status;    // the thread's result (read after the join)
    char err[256];
    // grace periods (the thread's alone)
    int published, released, covered; // matrices published, sources released, published at the flip
    bool flip_pending;
    uint32_t old_parity;
};

int kite__model_read_begin(kite_model *m) {
    if (!atomic_load_explicit(&m->behind_running, memory_order_acquire)) return -1;
    for (;;) { // counted under the parity current after the count (seq_cst: ordered against the flip)
        const uint32_t p = atomic_load(&m->read_epoch) & 1;
        atomic_fetch_add(&m->readers[p], 1);
        if ((atomic_load(&m->read_epoch) & 1) == p) return (int)p;
        atomic_fetch_sub(&m->readers[p], 1);
    }
}

void kite__model_read_end(kite_model *m, int token) {
    if (token >= 0) atomic_fetch_sub(&m->readers[token], 1);
}

static void sleep_us(unsigned us) {
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

// Releases the sources of the matrices published before the last flip once its old readers
// have ended, and starts a new grace period for those published since. Never waits.
static void behind_poll(struct kite_repack_behind *b) {
    kite_model *m = b->m;
    if (b->flip_pending && atomic_load(&m->readers[b->old_parity]) == 0) {
        for (int i = b->released; i < b->covered; i++)
            if (b->release) b->release(b->release_user, b->ws[i]->data, bytes_of(b->ws[i]));
        b->released = b->covered;
        b->flip_pending = false;
    }
    if (!b->flip_pending && b->published > b->released) {
        b->covered = b->published;
        b->old_parity = atomic_fetch_add(&m->read_epoch, 1) & 1;
        b->flip_pending = true;
    }
}

static void *behind_main(void *arg) {
    struct kite_repack_behind *b = arg;
    kite_model *m = b->m;
    uint8_t *buf = m->repacked;
#if defined(__linux__) && defined(SYS_gettid)
    // below the forward pass's threads where they share a core (Linux's nice is per thread): a
    // decode on every core goes on at its pace and the repack takes what is left (a failure
    // changes nothing)
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
#endif
    for (int i = 0; i < b->n && !atomic_load(&b->stop); i++) {
        if (b->delay_us) sleep_us(b->delay_us);
        kite_weight *w = b->ws[i];
        // in slices of rows, so that a stop (the model freed, at a process's end) waits for one
        const uint64_t ws = kite_type_row_bytes(w->type, (uint64_t)w->n_in);
        const int64_t rows = KITE_MAX(8, (int64_t)(SLICE_BYTES / ws) & ~(int64_t)7);
        const uint8_t *src = w->data;
        kite_status s = KITE_OK;
        for (int64_t r0 = 0; r0 < w->n_out && s == KITE_OK && !atomic_load(&b->stop); r0 += rows)
            s = kite_matmul_repack_x8(w->type, src + r0 * ws, buf + b->off[i] + r0 * ws, w->n_in,
                                      KITE_MIN(rows, w->n_out - r0));
        if (atomic_load(&b->stop)) break;
        if (s != KITE_OK) { // the rest keep the file's rows (every kernel reads them)
            b->status = s;
            snprintf(b->err, sizeof b->err, "repack behind: %s: %s", w->name, kite_last_error());
            break;
        }
        const void *x8 = buf + b->off[i];
        if (w == &m->output && m->tok_embd.data == w->data) // tied: the lookup reads the same bytes
            atomic_store_explicit(&m->tok_embd.x8, x8, memory_order_release);
        atomic_store_explicit(&w->x8, x8, memory_order_release);
        atomic_fetch_add(&m->repacked_bytes, bytes_of(w));
        b->published = i + 1;
        behind_poll(b);
    }
    while (b->released < b->published && !atomic_load(&b->stop)) { // the last grace periods
        behind_poll(b);
        if (b->released < b->published) sleep_us(500);
    }
    atomic_store_explicit(&m->behind_running, false, memory_order_release);
    return NULL;
}

static bool behind_wanted(const kite_model_params *p) {
    const char *e = getenv("KITE_REPACK_BEHIND");
    return p && p->repack_behind && !p->in_place && p->offload_layers == 0 && !(e && strcmp(e, "0") == 0);
}

// Starts the repack behind of the n matrices ws (taken over, as their copies' room in
// m->repacked); KITE_ERR_UNSUPPORTED (ws freed, nothing set) when no thread can be started.
static kite_status behind_start(kite_model *m, const kite_model_params *p, kite_weight **ws, int n) {
    struct kite_repack_behind *b = calloc(1, sizeof *b);
    uint64_t *off = malloc((size_t)n * sizeof *off);
    if (!b || !off) {
        free(b), free(off), free(ws);
        return kite__fail(KITE_ERR_NOMEM, "repack: out of memory");
    }
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        off[i] = at;
        at += (bytes_of(ws[i]) + 63) & ~(uint64_t)63;
    }
    const char *d = getenv("KITE_REPACK_DELAY_US");
    *b = (struct kite_repack_behind){.m = m, .ws = ws, .off = off, .n = n, .release = p->release,
                                     .release_user = p->release_user, .delay_us = d ? (unsigned)strtoul(d, NULL, 10) : 0};
    m->behind = b;
    atomic_store(&m->behind_running, true);
    if (pthread_create(&b->th, NULL, behind_main, b) != 0) {
        atomic_store(&m->behind_running, false);
        m->behind = NULL;
        free(b), free(off), free(ws);
        return KITE_ERR_UNSUPPORTED;
    }
    return KITE_OK;
}

kite_status kite_model_repack_wait(kite_model *m) {
    struct kite_repack_behind *b = m->behind;
    if (!b) return KITE_OK;
    pthread_join(b->th, NULL);
    m->behind = NULL;
    const kite_status s = b->status;
    if (s != KITE_OK) kite__fail(s, "%s", b->err);
    free(b->ws), free(b->off), free(b);
    return s;
}

void kite__model_repack_stop(kite_model *m) {
    if (!m->behind) return;
    atomic_store(&m->behind->stop, true);
    (void)kite_model_repack_wait(m);
}
#else
int kite__model_read_begin(kite_model *m) { return (void)m, -1; }
void kite__model_read_end(kite_model *m, int token) { (void)m, (void)token; }
kite_status kite_model_repack_wait(kite_model *m) { return (void)m, KITE_OK; }
void kite__model_repack_stop(kite_model *m) { (void)m; }
#endif

// Huge pages for the repacked weights where the OS has them: decode streams every byte once a
// token, and on 4 KB pages that is a TLB miss per 4 KB (and the hardware prefetchers restart at each
// page). The buffer is aligned to 2 MB and at least 2 MB so transparent huge pages can back it
// (in "madvise" mode only regions marked so get them). Freed with free(). The kernel zeroes each
// 2 MB page at its first touch, which in a VM can make the load slower (Llama-3.2-1B Q4_K_M on
// a KVM guest: 1.5 s more system time); KITE_HUGE_PAGES=0 keeps 4 KB pages.
enum { HUGE_PAGE = 2 << 20 };
static void *alloc_weights(uint64_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const char *e = getenv("KITE_HUGE_PAGES");
    if (bytes >= HUGE_PAGE && !(e && strcmp(e, "0") == 0)) {
        const size_t n = (size_t)((bytes + HUGE_PAGE - 1) & ~(uint64_t)(HUGE_PAGE - 1));
        void *p = aligned_alloc(HUGE_PAGE, n);
        if (p) madvise(p, n, MADV_HUGEPAGE); // advice only: 4 KB pages if refused
        return p;
    }
#endif
    return aligned_alloc(64, (size_t)((bytes + 63) & ~(uint64_t)63));
}

kite_status kite__model_repack(kite_model *m, const kite_model_params *p) {
    if (!repack_wanted() || (p && p->no_repack)) return KITE_OK;
    const int cap = 9 * m->hp.n_layer + 1;
    kite_weight **ws = malloc((size_t)cap * sizeof *ws);
    if (!ws) return kite__fail(KITE_ERR_NOMEM, "repack: out of memory");
    const int n = collect(m, p ? p->offload_layers : 0, ws, cap);
    if (p && p->in_place) { // the host's buffers: each matrix rewritten where it lies
        kite_status s = KITE_OK;
        for (int i = 0; i < n && s == KITE_OK; i++) {
            kite_weight *w = ws[i];
            s = kite_matmul_repack_x8(w->type, w->data, (void *)w->data, w->n_in, w->n_out);
            if (s == KITE_OK) mark_repacked(m, w, w->data);
        }
        free(ws);
        return s;
    }
    uint64_t total = 0;
    for (int i = 0; i < n; i++) total += (bytes_of(ws[i]) + 63) & ~(uint64_t)63;
    if (n == 0 || total > SIZE_MAX / 2) {
        free(ws);
        return KITE_OK;
    }
    uint8_t *buf = alloc_weights(total);
    if (!buf) {
        free(ws);
        return kite__fail(KITE_ERR_NOMEM, "repack: cannot allocate %llu bytes", (unsigned long long)total);
    }
#if HAVE_BEHIND
    if (behind_wanted(p)) {
        m->repacked = buf; // (written by the thread; freed with the model after its join)
        const kite_status bs = behind_start(m, p, ws, n);
        if (bs != KITE_ERR_UNSUPPORTED) return bs;
        ws = malloc((size_t)cap * sizeof *ws); // no thread: repack here, as without the flag
        if (!ws) return kite__fail(KITE_ERR_NOMEM, "repack: out of memory");
        collect(m, 0, ws, cap);
    }
#endif
    uint64_t off = 0;
    kite_status s = KITE_OK;
    for (int i = 0; i < n && s == KITE_OK; i++) {
        kite_weight *w = ws[i];
        const uint64_t len = bytes_of(w);
        // slices of rows in turn, each source slice released once repacked (with the one before:
        // a page across their border), so the resident memory grows by a slice, not a matrix
        const uint64_t ws = kite_type_row_bytes(w->type, (uint64_t)w->n_in);
        const int64_t rows = KITE_MAX(8, (int64_t)(SLICE_BYTES / ws) & ~(int64_t)7);
        const uint8_t *src = w->data;
        for (int64_t r0 = 0; r0 < w->n_out && s == KITE_OK; r0 += rows) {
            const int64_t nr = KITE_MIN(rows, w->n_out - r0), from = KITE_MAX(0, r0 - rows);
            s = kite_matmul_repack_x8(w->type, src + r0 * ws, buf + off + r0 * ws, w->n_in, nr);
            if (s == KITE_OK && p && p->release) p->release(p->release_user, src + from * ws, (r0 + nr - from) * ws);
        }
        if (s != KITE_OK) break;
        mark_repacked(m, w, buf + off);
        off += (len + 63) & ~(uint64_t)63;
    }
    free(ws);
    m->repacked = buf; // freed with the model, also after a failure (some weights may point in)
    return s;
}

uint64_t kite_model_repacked_bytes(const kite_model *m) { return atomic_load(&((kite_model *)m)->repacked_bytes); }
