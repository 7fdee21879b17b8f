// test_prefix_cache.c - keeping a sequence's common token prefix (kite_ctx_seq_truncate,
// kite_ctx_seq_common_prefix, kite_ctx_seq_tokens): decoding A + B, cutting back to A and
// decoding C gives the bits of a fresh context decoding A then C in the same steps, and (steps
// under 64 tokens, where the flash attention keeps its row kernel: test_batch_invariance) of one
// fresh evaluation of A + C; with either attention path, on stories260K, qwen3 and gemma3 (a
// sliding window of 12 kept as a ring on the CPU: a cut within the ring's reach works, one past it
// is refused and the common prefix says 0); the cut's errors; a cut sequence leaves the others.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kite.h"

#define NA 20
#define NB 6
#define NC 9

static void make(int32_t *t, int32_t n, int32_t seed, int32_t nv) {
    for (int32_t i = 0; i < n; i++) t[i] = (int32_t)(((int64_t)(i + 1) * 7919 + seed * 104729) % (nv - 3)) + 2;
}

static kite_ctx *new_ctx(kite_model *m, kite_flash_attn fa, int32_t n_batch, int32_t n_seq) {
    kite_ctx_params cp = {.n_ctx = 128 * (n_seq ? n_seq : 1), .n_threads = 2, .n_batch = n_batch, .flash_attn = fa,
                          .n_seq = n_seq};
    kite_ctx *c = NULL;
    if (kite_ctx_new(m, &cp, &c) != KITE_OK) return NULL;
    return c;
}

static bool same(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof(float)); }

// A + B, cut to A, C: against A then C, and A + C in one evaluation.
static void test_cut(kite_model *m, const char *file, kite_flash_attn fa, int32_t n_batch) {
    const int32_t nv = kite_model_hparams(m)->n_vocab;
    int32_t a[NA], b[NB], cc[NC], ac[NA + NC];
    make(a, NA, 1, nv);
    make(b, NB, 2, nv);
    make(cc, NC, 3, nv);
    memcpy(ac, a, sizeof a);
    memcpy(ac + NA, cc, sizeof cc);
    float *got = malloc((size_t)NC * nv * sizeof(float)), *want = malloc((size_t)NC * nv * sizeof(float));
    float *all = malloc((size_t)(NA + NC) * nv * sizeof(float)), *scratch = malloc((size_t)NA * nv * sizeof(float));
    kite_ctx *c = new_ctx(m, fa, n_batch, 1), *f = new_ctx(m, fa, n_batch, 1), *one = new_ctx(m, fa, n_batch, 1);
    CHECK(c && f && one && got && want && all && scratch, "%s: contexts: %s", file, kite_last_error());
    if (!(c && f && one && got && want && all && scratch)) goto out;
    CHECK(kite_ctx_eval_all(c, a, NA, scratch) == KITE_OK, "%s: A: %s", file, kite_last_error());
    CHECK(kite_ctx_eval_all(c, b, NB, scratch) == KITE_OK, "%s: B: %s", file, kite_last_error());
    int32_t n_held = 0;
    const int32_t *held = kite_ctx_seq_tokens(c, 0, &n_held);
    CHECK(n_held == NA + NB && held && !memcmp(held, a, sizeof a) && !memcmp(held + NA, b, sizeof b),
          "%s: the cache holds A + B (%d tokens)", file, n_held);
    CHECK(kite_ctx_seq_common_prefix(c, 0, ac, NA + NC) == NA, "%s: A + C shares A with A + B: %d", file,
          kite_ctx_seq_common_prefix(c, 0, ac, NA + NC));
    CHECK(kite_ctx_seq_truncate(c, 0, NA) == KITE_OK, "%s: cut to A: %s", file, kite_last_error());
    CHECK(kite_ctx_pos(c) == NA, "%s: position %d after the cut", file, kite_ctx_pos(c));
    CHECK(kite_ctx_eval_all(c, cc, NC, got) == KITE_OK, "%s: C: %s", file, kite_last_error());
    held = kite_ctx_seq_tokens(c, 0, &n_held);
    CHECK(n_held == NA + NC && !memcmp(held, ac, sizeof ac), "%s: the cache holds A + C", file);
    CHECK(kite_ctx_seq_common_prefix(c, 0, ac, NA + NC) == NA + NC, "%s: all of A + C held", file);

    CHECK(kite_ctx_eval_all(f, a, NA, scratch) == KITE_OK && kite_ctx_eval_all(f, cc, NC, want) == KITE_OK,
          "%s: fresh A then C: %s", file, kite_last_error());
    CHECK(same(got, want, (size_t)NC * nv), "%s (fa %d, n_batch %d): C after the cut differs from a fresh A then C",
          file, fa, n_batch);
    CHECK(kite_ctx_eval_all(one, ac, NA + NC, all) == KITE_OK, "%s: fresh A + C: %s", file, kite_last_error());
    CHECK(same(got, all + (size_t)NA * nv, (size_t)NC * nv),
          "%s (fa %d, n_batch %d): C after the cut differs from one evaluation of A + C", file, fa, n_batch);
out:
    kite_ctx_free(c);
    kite_ctx_free(f);
    kite_ctx_free(one);
    free(got);
    free(want);
    free(all);
    free(scratch);
}

// The cut's errors, and one sequence cut beside another.
static void test_errors(kite_model *m, const char *file) {
    const int32_t nv = kite_model_hparams(m)->n_vocab;
    int32_t a[NA], b[NB];
    make(a, NA, 1, nv);
    make(b, NB, 2, nv);
    kite_ctx *c = new_ctx(m, KITE_FA_AUTO, 0, 2);
    CHECK(c != NULL, "%s: context: %s", file, kite_last_error());
    if (!c) return;
    int32_t seq[NA];
    for (int i = 0; i < NA; i++) seq[i] = i < 10 ? 0 : 1; // 10 tokens in each
    const kite_batch bt = {.tokens = a, .seq = seq, .n = NA};
    CHECK(kite_ctx_decode(c, &bt, NULL) == KITE_OK, "%s: decode: %s", file, kite_last_error());
    CHECK(kite_ctx_seq_truncate(c, 0, 11) == KITE_ERR_INVALID && strstr(kite_last_error(), "holds 10"),
          "%s: keeping more than held: %s", file, kite_last_error());
    CHECK(kite_ctx_seq_truncate(c, 0, -1) == KITE_ERR_INVALID, "%s: keeping -1", file);
    CHECK(kite_ctx_seq_truncate(c, 2, 0) == KITE_ERR_INVALID && strstr(kite_last_error(), "out of range"),
          "%s: sequence 2 of 2: %s", file, kite_last_error());
    CHECK(kite_ctx_seq_truncate(c, -1, 0) == KITE_ERR_INVALID, "%s: sequence -1", file);
    CHECK(kite_ctx_seq_pos(c, 0) == 10 && kite_ctx_seq_pos(c, 1) == 10, "%s: nothing changed on errors", file);
    CHECK(kite_ctx_seq_common_prefix(c, 5, a, NA) == 0, "%s: out-of-range sequence: no prefix", file);
    CHECK(kite_ctx_seq_common_prefix(c, 1, a + 10, 3) == 3, "%s: sequence 1's prefix", file);
    CHECK(kite_ctx_seq_common_prefix(c, 1, a, 3) == 0, "%s: a prefix that differs at once", file);
    CHECK(kite_ctx_seq_truncate(c, 1, 4) == KITE_OK, "%s: cut sequence 1: %s", file, kite_last_error());
    int32_t n0 = 0, n1 = 0;
    const int32_t *h0 = kite_ctx_seq_tokens(c, 0, &n0), *h1 = kite_ctx_seq_tokens(c, 1, &n1);
    CHECK(n0 == 10 && n1 == 4 && !memcmp(h0, a, 10 * sizeof *a) && !memcmp(h1, a + 10, 4 * sizeof *a),
          "%s: the other sequence is untouched (%d, %d)", file, n0, n1);
    CHECK(kite_ctx_seq_tokens(c, 2, &n0) == NULL && n0 == 0, "%s: tokens of sequence 2 of 2", file);
    CHECK(kite_ctx_seq_truncate(c, 1, 0) == KITE_OK && kite_ctx_seq_pos(c, 1) == 0, "%s: cut to 0", file);
    kite_ctx_free(c);
}

// gemma3's sliding window (12) as a ring of 12 + n_batch - 1 positions: a cut of more than
// n_batch tokens is refused once the ring moved on.
static void test_ring(kite_model *m, const char *file) {
    const int32_t nv = kite_model_hparams(m)->n_vocab;
    int32_t a[NA], b[40];
    make(a, NA, 1, nv);
    make(b, 40, 2, nv);
    kite_ctx *c = new_ctx(m, KITE_FA_AUTO, 8, 1);
    CHECK(c != NULL, "%s: context: %s", file, kite_last_error());
    if (!c) return;
    const float *lg;
    CHECK(kite_ctx_eval(c, a, NA, &lg) == KITE_OK && kite_ctx_eval(c, b, 40, &lg) == KITE_OK, "%s: A + B: %s", file,
          kite_last_error());
    CHECK(kite_ctx_seq_truncate(c, 0, NA) == KITE_ERR_UNSUPPORTED && strstr(kite_last_error(), "sliding-window"),
          "%s: a cut past the ring: %s", file, kite_last_error());
    CHECK(kite_ctx_pos(c) == NA + 40, "%s: a refused cut changes nothing", file);
    CHECK(kite_ctx_seq_common_prefix(c, 0, a, NA) == 0, "%s: the ring's lost prefix counts 0", file);
    CHECK(kite_ctx_seq_truncate(c, 0, NA + 40 - 8) == KITE_OK, "%s: a cut of n_batch: %s", file, kite_last_error());
    CHECK(kite_ctx_seq_truncate(c, 0, 0) == KITE_OK && kite_ctx_pos(c) == 0, "%s: cut to 0", file);
    kite_ctx_free(c);
}

static void test_model(const char *file, bool ring) {
    size_t len;
    unsigned char *buf = check_read_model(file, &len);
    if (!buf) return;
    kite_model *m = NULL;
    CHECK(kite_model_load(buf, len, NULL, &m) == KITE_OK, "%s: %s", file, kite_last_error());
    if (m) {
        const kite_flash_attn fas[] = {KITE_FA_ON, KITE_FA_OFF};
        for (int f = 0; f < 2; f++) {
            test_cut(m, file, fas[f], 0);
            test_cut(m, file, fas[f], 8); // pieces of 8 (gemma3: its window as a ring)
        }
        test_errors(m, file);
        if (ring) test_ring(m, file);
    }
    kite_model_free(m);
    free(buf);
}

int main(void) {
    test_model("stories260K.gguf", false);
    test_model("arch/qwen3.gguf", false);
    test_model("arch/gemma3.gguf", true);
    return check_done("test_prefix_cache");
}
