// test_repack_behind.c - the repack behind the first tokens (kite_model_params.repack_behind):
// a greedy decode that races the background thread (slowed by KITE_REPACK_DELAY_US, so its
// X8 copies are published between and during the steps) gives the logits of a model kept in the
// file's rows bit for bit, step by step; the released source pages (made inaccessible, as the
// CLI unmaps them) are never read again; once it is done every matrix's X8 copy is the one a
// load that repacks before it returns writes; a model freed while its repack runs stops it.
// Meant for native-asan and a TSan build too (KITE_REPACK_DELAY_US raced against the decode).
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check_model.h"
#include "check_weights.h"
#include "kite.h"
#include "model/model_internal.h"

#if !defined(__EMSCRIPTEN__) && !defined(__wasi__)

enum { PROMPT = 8, STEPS = 40, MAXW = 512 };

// The ranges the repack behind released (offsets into the buffer), each made inaccessible.
typedef struct released_log {
    unsigned char *base;
    uint64_t off[MAXW], len[MAXW];
    int n, overflow;
} released_log;

static void log_release(void *user, const void *data, uint64_t len) {
    released_log *r = user;
    if (r->n == MAXW) {
        r->overflow = 1;
        return;
    }
    r->off[r->n] = (uint64_t)((const unsigned char *)data - r->base);
    r->len[r->n++] = len;
    const uintptr_t lo = ((uintptr_t)data + 4095) & ~(uintptr_t)4095, hi = ((uintptr_t)data + len) & ~(uintptr_t)4095;
    if (hi > lo) mprotect((void *)lo, hi - lo, PROT_NONE);
}

// A greedy decode of PROMPT + STEPS tokens on `threads` threads: every step's logits into out
// ((1 + STEPS) x n_vocab). Counts in *racing the steps that began while the repack behind had
// published some but not all of its matrices (total bytes in all).
static void decode(kite_model *m, int threads, float *out, int nv, uint64_t all, int *racing) {
    kite_ctx *c = NULL;
    kite_ctx_params cp = {.n_ctx = 64, .n_threads = threads};
    CHECK(kite_ctx_new(m, &cp, &c) == KITE_OK, "ctx: %s", kite_last_error());
    if (!c) return;
    int32_t toks[PROMPT];
    for (int i = 0; i < PROMPT; i++) toks[i] = 1 + (i * 7919) % (nv - 1);
    const float *lg = NULL;
    for (int k = 0; k <= STEPS; k++) {
        const uint64_t done = kite_model_repacked_bytes(m);
        if (racing) *racing += done > 0 && done < all;
        CHECK(kite_ctx_eval(c, toks, k == 0 ? PROMPT : 1, &lg) == KITE_OK, "eval: %s", kite_last_error());
        if (!lg) break;
        memcpy(out + (size_t)k * nv, lg, (size_t)nv * sizeof(float));
        int32_t best = 0; // the next token: the greedy pick
        for (int32_t t = 1; t < nv; t++)
            if (lg[t] > lg[best]) best = t;
        toks[0] = best;
    }
    kite_ctx_free(c);
}

static void test_file(const char *file, kite_type type) {
    if (!kite_matmul_prefers_x8(type)) return;
    size_t len;
    unsigned char *buf = check_read_model(file, &len);
    if (!buf) return;
    unsigned char *own = aligned_alloc(4096, (len + 4095) & ~(size_t)4095); // released pages: PROT_NONE
    if (!own) {
        CHECK(0, "out of memory");
        free(buf);
        return;
    }
    memcpy(own, buf, len);
    setenv("KITE_REPACK", "1", 1);
    unsetenv("KITE_REPACK_BEHIND");
    static released_log log;
    log = (released_log){.base = own};
    const kite_model_params keep = {.no_repack = true},
                            behind = {.repack_behind = true, .release = log_release, .release_user = &log};
    kite_model *rows = NULL, *plain = NULL, *m = NULL;
    CHECK(kite_model_load(buf, len, &keep, &rows) == KITE_OK, "load: %s", kite_last_error());
    CHECK(kite_model_load(buf, len, NULL, &plain) == KITE_OK, "load: %s", kite_last_error());
    if (!rows || !plain) goto done;
    const int nv = kite_model_hparams(rows)->n_vocab;
    const uint64_t all = kite_model_repacked_bytes(plain);
    float *want = calloc((size_t)(1 + STEPS) * nv, sizeof(float)), *got = calloc((size_t)(1 + STEPS) * nv, sizeof(float));
    if (!want || !got) {
        CHECK(0, "out of memory");
        free(want), free(got);
        goto done;
    }
    decode(rows, 2, want, nv, all, NULL);
    // racing the decode: a pause before each matrix spreads the publications over the steps
    int racing = 0;
    for (int threads = 1; threads <= 2; threads++) {
        log = (released_log){.base = own};
        setenv("KITE_REPACK_DELAY_US", threads == 1 ? "3000" : "700", 1);
        CHECK(kite_model_load(own, len, &behind, &m) == KITE_OK, "load behind: %s", kite_last_error());
        if (!m) break;
        CHECK(kite_model_repacked_bytes(m) < all, "%s: the load returned before the repack was done", file);
        memset(got, 0, (size_t)(1 + STEPS) * nv * sizeof(float));
        decode(m, threads, got, nv, all, &racing);
        for (int k = 0; k <= STEPS; k++)
            CHECK(!memcmp(want + (size_t)k * nv, got + (size_t)k * nv, (size_t)nv * sizeof(float)),
                  "%s: step %d's logits differ from the file rows' (%d threads, racing the repack)", file, k, threads);
        CHECK(kite_model_repack_wait(m) == KITE_OK, "repack behind: %s", kite_last_error());
        CHECK(kite_model_repacked_bytes(m) == all, "%s: %llu bytes repacked behind, %llu before the load returned", file,
              (unsigned long long)kite_model_repacked_bytes(m), (unsigned long long)all);
        // the copies are the X8 bytes of the plain load, and each source was released once
        const kite_weight *wp[MAXW], *wm[MAXW];
        const int n = check_dense_weights(plain, wp, MAXW);
        CHECK(check_dense_weights(m, wm, MAXW) == n, "%s: the same matrices", file);
        int differ = 0, n_x8 = 0;
        for (int i = 0; i < n; i++) {
            if (wp[i]->layout != KITE_LAYOUT_X8) continue;
            n_x8++;
            const void *d;
            const uint64_t bytes = kite_type_row_bytes(wp[i]->type, (uint64_t)wp[i]->n_in) * (uint64_t)wp[i]->n_out;
            differ += kite__weight_bytes(wm[i], &d) != KITE_LAYOUT_X8 || memcmp(wp[i]->data, d, bytes) != 0;
        }
        CHECK(!differ, "%s: %d matrices repacked behind differ from the load's", file, differ);
        CHECK(log.n == n_x8 && !log.overflow, "%s: %d sources released, %d matrices repacked", file, log.n, n_x8);
        CHECK(!atomic_load(&m->behind_running), "%s: the repack behind still runs after the wait", file);
        decode(m, threads, got, nv, all, NULL); // (every matrix X8 now)
        CHECK(!memcmp(want, got, (size_t)(1 + STEPS) * nv * sizeof(float)), "%s: repacked logits differ", file);
        kite_model_free(m);
        m = NULL;
        const uintptr_t lo = (uintptr_t)own, hi = lo + ((len + 4095) & ~(size_t)4095);
        mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE);
    }
    CHECK(racing > 0, "%s: no step ran while the repack behind was half done (the test raced nothing)", file);
    // freed while it runs: the thread stops (a slow repack: 50 ms a matrix)
    setenv("KITE_REPACK_DELAY_US", "50000", 1);
    log = (released_log){.base = own};
    CHECK(kite_model_load(own, len, &behind, &m) == KITE_OK, "load behind: %s", kite_last_error());
    kite_model_free(m);
    m = NULL;
    // KITE_REPACK_BEHIND=0: the load repacks before it returns
    setenv("KITE_REPACK_BEHIND", "0", 1);
    CHECK(kite_model_load(buf, len, &(kite_model_params){.repack_behind = true}, &m) == KITE_OK, "load: %s",
          kite_last_error());
    CHECK(m && kite_model_repacked_bytes(m) == all && !m->behind, "%s: KITE_REPACK_BEHIND=0 repacks in the load", file);
    kite_model_free(m);
    unsetenv("KITE_REPACK_BEHIND");
    unsetenv("KITE_REPACK_DELAY_US");
    free(want), free(got);
done:
    kite_model_free(rows), kite_model_free(plain);
    mprotect(own, (len + 4095) & ~(size_t)4095, PROT_READ | PROT_WRITE);
    free(own), free(buf);
}

int main(void) {
    test_file("ref/rand-llama-spm-Q8_0.gguf", KITE_TYPE_Q8_0);
    test_file("ref/rand-llama-spm-Q4_K_M.gguf", KITE_TYPE_Q4_K);
    return check_done("test_repack_behind");
}
#else
int main(void) { return CHECK_SKIP; }
#endif
