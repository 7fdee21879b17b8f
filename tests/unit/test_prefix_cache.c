// test_prefix_cache.c - keeping a sequence's common token prefix (kite_ctx_seq_truncate,
// kite_ctx_seq_common_prefix, kite_ctx_seq_tokens): decoding A + B, cutting back to A and
// decoding C gives the bits of a fresh context decoding A then C in the same steps, and (steps
// under 64 tokens, where the flash attention keeps its row kernel: test_batch_invariance) of one
// fresh evaluation of A + C; with either attention path, on stories260K, qwen3 and gemma3 (a
// sliding window of 12 kept as a ring on the CPU: a cut within the ring's reach works, one past it
// is refused and the common prefix says 0); the cut's errors; a cut sequence leaves the others.
// Generation that reuses the cache (kite_gen_seq_use_cache, kite_gen_params.reuse_prefix): the
// greedy text and the first token's logits of a fresh run, n_cached the common prefix of the
// prompt's tokens with those the cache held (from the tokenizer and the previous run's ids).
#include <stdlib.h>
#include <string.h>

#include "base/kite_buf.h"
#include "check_model.h"
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

static bool collect(void *user, const char *p, size_t n) { return kite_buf_append(user, p, n); }

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

// ---- generation ------------------------------------------------------------------------------

typedef struct run_out {
    kite_buf text;
    int32_t ids[64], n_ids;
    float *first; // the first sampled token's logits (n_vocab), when not NULL
} run_out;

static bool on_piece(void *user, const char *p, size_t n) { return kite_buf_append(&((run_out *)user)->text, p, n); }

static bool on_tok(void *user, const kite_gen_token *t) {
    run_out *o = user;
    if (o->n_ids == 0 && o->first) memcpy(o->first, t->logits, (size_t)t->n_vocab * sizeof(float));
    if (o->n_ids < 64) o->ids[o->n_ids++] = t->id;
    return true;
}

// Greedy generation of n_predict tokens from prompt in sequence 0 of c, in steps (reuse: keeping
// the cache's common prefix; else from an empty cache). The stats, or n_prompt -1 on failure.
static kite_gen_stats run_steps(kite_ctx *c, const char *prompt, bool reuse, int32_t n_predict, run_out *o) {
    kite_gen_seq_params p = {.gen = kite_gen_default_params(), .on_token = on_tok, .on_piece = on_piece, .user = o};
    p.gen.n_predict = n_predict;
    p.gen.sampling.temp = 0.0f;
    kite_gen_stats st = {.n_prompt = -1};
    if (!reuse) kite_ctx_seq_reset(c, 0);
    kite_gen_seq *g = NULL;
    if (kite_gen_seq_start(kite_ctx_model(c), prompt, 0, kite_ctx_n_ctx(c), &p, &g) != KITE_OK) return st;
    int32_t n_cached = -1;
    kite_status s = reuse ? kite_gen_seq_use_cache(g, c, 0, &n_cached) : KITE_OK;
    const int32_t *toks;
    for (int32_t n; s == KITE_OK && (n = kite_gen_seq_next(g, &toks)) > 0;) {
        const float *lg = NULL;
        s = kite_ctx_eval(c, toks, n, &lg);
        if (s == KITE_OK) s = kite_gen_seq_step(g, n, lg);
    }
    if (s == KITE_OK) st = kite_gen_seq_stats(g);
    if (reuse && st.n_cached != n_cached) st.n_prompt = -1;
    kite_gen_seq_free(g);
    return st;
}

// How many leading tokens of prompt's tokens are prev_prompt's tokens followed by prev_ids (what
// a cache holds after a run that sampled them: all but the last evaluated), at most all but one.
static int32_t expect_cached(const kite_model *m, const char *prompt, const char *prev_prompt, const run_out *prev) {
    const kite_vocab *v = kite_model_vocab(m);
    int32_t *a = NULL, *b = NULL, na = 0, nb = 0;
    if (kite_tokenize_alloc(v, prompt, strlen(prompt), true, false, &a, &na) != KITE_OK ||
        kite_tokenize_alloc(v, prev_prompt, strlen(prev_prompt), true, false, &b, &nb) != KITE_OK)
        return -1;
    int32_t *held = malloc((size_t)(nb + prev->n_ids) * sizeof *held);
    memcpy(held, b, (size_t)nb * sizeof *b);
    memcpy(held + nb, prev->ids, (size_t)prev->n_ids * sizeof *held);
    const int32_t n_held = nb + prev->n_ids - 1; // the last sampled token was not evaluated
    int32_t k = 0;
    while (k < na - 1 && k < n_held && a[k] == held[k]) k++;
    free(a);
    free(b);
    free(held);
    return k;
}

static void test_generate(kite_model *m, const char *file) {
    const int32_t nv = kite_model_hparams(m)->n_vocab;
    kite_ctx *c = new_ctx(m, KITE_FA_AUTO, 0, 1), *f = new_ctx(m, KITE_FA_AUTO, 0, 1);
    CHECK(c && f, "%s: contexts: %s", file, kite_last_error());
    run_out r1 = {0}, r2 = {0}, r3 = {0}, f2 = {0};
    r2.first = malloc((size_t)nv * sizeof(float));
    f2.first = malloc((size_t)nv * sizeof(float));
    r3.first = malloc((size_t)nv * sizeof(float));
    char p2[512] = "";
    if (!c || !f || !r2.first || !f2.first || !r3.first) goto out;
    const char *p1 = "Once upon a time";
    kite_gen_stats s1 = run_steps(c, p1, true, 12, &r1);
    CHECK(s1.n_prompt > 0 && s1.n_cached == 0, "%s: the first run finds an empty cache (%d cached)", file, s1.n_cached);
    CHECK(r1.text.len > 0, "%s: the first run's text", file);
    if (r1.text.len == 0) goto out;
    snprintf(p2, sizeof p2, "%s%.*s. Then", p1, (int)r1.text.len, r1.text.ptr);
    kite_gen_stats s2 = run_steps(c, p2, true, 16, &r2), sf = run_steps(f, p2, false, 16, &f2);
    const int32_t want = expect_cached(m, p2, p1, &r1);
    CHECK(s2.n_prompt == sf.n_prompt && s2.n_cached == want && want > 0, "%s: %d of %d prompt tokens cached, want %d",
          file, s2.n_cached, s2.n_prompt, want);
    CHECK(sf.n_cached == 0, "%s: a fresh run has nothing cached", file);
    CHECK(r2.text.len == f2.text.len && r2.text.len > 0 && !memcmp(r2.text.ptr, f2.text.ptr, r2.text.len),
          "%s: the reply with reuse differs from a fresh run's:\n%.*s\n%.*s", file, (int)r2.text.len, r2.text.ptr,
          (int)f2.text.len, f2.text.ptr);
    CHECK(same(r2.first, f2.first, (size_t)nv), "%s: the first token's logits differ with reuse", file);
    // the same prompt again: all but its last token come from the cache
    kite_gen_stats s3 = run_steps(c, p2, true, 16, &r3);
    CHECK(s3.n_cached == s3.n_prompt - 1, "%s: a repeated prompt: %d of %d cached", file, s3.n_cached, s3.n_prompt);
    CHECK(r3.text.len == f2.text.len && !memcmp(r3.text.ptr, f2.text.ptr, r3.text.len) &&
              same(r3.first, f2.first, (size_t)nv),
          "%s: a repeated prompt's reply differs", file);

    // kite_generate's reuse_prefix: the same text and counts
    kite_buf t1 = {0}, t2 = {0};
    kite_gen_stats st = {0};
    kite_gen_params gp = kite_gen_default_params();
    gp.n_predict = 16;
    gp.sampling.temp = 0.0f;
    gp.reuse_prefix = true;
    gp.stats = &st;
    kite_ctx_reset(c);
    CHECK(kite_generate(c, p2, &gp, collect, &t1) == KITE_OK && st.n_cached == 0, "%s: generate: %s", file,
          kite_last_error());
    CHECK(kite_generate(c, p2, &gp, collect, &t2) == KITE_OK && st.n_cached == st.n_prompt - 1 &&
              st.n_prompt == sf.n_prompt,
          "%s: generate again: %d of %d cached", file, st.n_cached, st.n_prompt);
    CHECK(t1.len == f2.text.len && t2.len == t1.len && !memcmp(t1.ptr, f2.text.ptr, t1.len) &&
              !memcmp(t2.ptr, t1.ptr, t1.len),
          "%s: kite_generate with reuse_prefix: another text", file);
    gp.reuse_prefix = false; // the default: from an empty cache
    CHECK(kite_generate(c, p2, &gp, collect, &t2) == KITE_OK && st.n_cached == 0, "%s: no reuse: %d cached", file,
          st.n_cached);
    kite_buf_free(&t1);
    kite_buf_free(&t2);

    // errors: a run already stepped, or started after position 0
    kite_gen_seq_params p = {.gen = kite_gen_default_params()};
    kite_gen_seq *g = NULL;
    CHECK(kite_gen_seq_start(m, p1, 3, kite_ctx_n_ctx(c), &p, &g) == KITE_OK, "%s: start at 3", file);
    CHECK(g && kite_gen_seq_use_cache(g, c, 0, NULL) == KITE_ERR_INVALID, "%s: reuse after position 0", file);
    kite_gen_seq_free(g);
    g = NULL;
    CHECK(kite_gen_seq_start(m, p1, 0, kite_ctx_n_ctx(c), &p, &g) == KITE_OK, "%s: start", file);
    CHECK(g && kite_gen_seq_use_cache(g, c, 1, NULL) == KITE_ERR_INVALID, "%s: sequence 1 of 1", file);
    const int32_t *pt;
    CHECK(g && kite_gen_seq_prompt(g, &pt) > 1 && pt[0] == kite_vocab_bos(kite_model_vocab(m)), "%s: the prompt's ids",
          file);
    kite_gen_seq_free(g);
out:
    kite_buf_free(&r1.text);
    kite_buf_free(&r2.text);
    kite_buf_free(&r3.text);
    kite_buf_free(&f2.text);
    free(r2.first);
    free(f2.first);
    free(r3.first);
    kite_ctx_free(c);
    kite_ctx_free(f);
}

static void test_model(const char *file, bool ring) {
    kite_model *m;
    unsigned char *buf = check_load_model(file, &m);
    if (!buf) return;
    if (m) {
        const kite_flash_attn fas[] = {KITE_FA_ON, KITE_FA_OFF};
        for (int f = 0; f < 2; f++) {
            test_cut(m, file, fas[f], 0);
            test_cut(m, file, fas[f], 8); // pieces of 8 (gemma3: its window as a ring)
        }
        test_errors(m, file);
        if (ring) test_ring(m, file);
        if (!strcmp(file, "stories260K.gguf")) test_generate(m, file);
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
