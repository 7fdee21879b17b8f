// test_gen_seq.c - generation in steps (kite_gen_seq): two sequences driven in one batch of a
// two-sequence context, the second joining while the first generates, give stories260K's greedy
// text that llama.cpp publishes (shared models README) and the text the second gives alone; the
// per-token callback sees the logits and byte offsets; bad steps and prompts are refused; a
// prompt given as token ids generates the same text.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/kite_buf.h"
#include "check_model.h"
#include "kite.h"

// llama.cpp (llama-simple, greedy, 60 tokens) continues "Once upon a time" with exactly this.
static const char *REF_60 = ", there was a little girl named Lily. She loved to play outside in the park. One day, she "
                            "saw a big, red ball. She wanted to play with it, but it was too high.\nLily";

typedef struct out {
    kite_buf text;
    int32_t n_tokens;
    size_t offsets_ok; // tokens whose offset equalled the text length so far
    int32_t stop_after; // on_token refuses the token after this many (0: never)
    const float *last_logits;
    int32_t last_argmax_ok; // greedy tokens that were the argmax of their logits
} out;

static bool on_piece(void *user, const char *p, size_t n) { return kite_buf_append(&((out *)user)->text, p, n); }

static bool collect(void *user, const char *p, size_t n) { return kite_buf_append(user, p, n); }

static bool on_token(void *user, const kite_gen_token *t) {
    out *o = user;
    o->n_tokens++;
    // with no stop strings the text is released as it comes: a token starts where the text ends
    if (t->offset == o->text.len) o->offsets_ok++;
    int32_t best = 0;
    for (int32_t i = 1; i < t->n_vocab; i++)
        if (t->logits[i] > t->logits[best]) best = i;
    if (best == t->id) o->last_argmax_ok++;
    return !(o->stop_after > 0 && o->n_tokens > o->stop_after);
}

static kite_gen_seq_params greedy(out *o, int32_t n_predict) {
    kite_gen_seq_params p = {.gen = kite_gen_default_params(), .on_token = on_token, .on_piece = on_piece, .user = o};
    p.gen.n_predict = n_predict;
    p.gen.sampling.temp = 0.0f;
    return p;
}

// Runs sequences a and b of c in batches: a's prompt first, b joining after a's `join`-th token.
static bool run_pair(kite_ctx *c, kite_gen_seq *a, kite_gen_seq *b, int32_t join) {
    const int32_t nv = kite_model_hparams(kite_ctx_model(c))->n_vocab;
    float *logits = malloc(2 * sizeof(float) * (size_t)nv);
    int32_t toks[64], seq[64];
    bool want[64], ok = true;
    kite_gen_seq *gs[2] = {a, b};
    while (ok && !(kite_gen_seq_done(a) && kite_gen_seq_done(b))) {
        int32_t n = 0, take[2] = {0, 0};
        const bool b_in = kite_gen_seq_stats(a).n_generated >= join || kite_gen_seq_done(a);
        for (int s = 0; s < 2; s++) {
            if (kite_gen_seq_done(gs[s]) || (s == 1 && !b_in)) continue;
            const int32_t *t;
            take[s] = kite_gen_seq_next(gs[s], &t);
            for (int32_t i = 0; i < take[s]; i++, n++) {
                toks[n] = t[i];
                seq[n] = s;
                want[n] = i == take[s] - 1;
            }
        }
        const kite_batch batch = {.tokens = toks, .seq = seq, .want = want, .n = n};
        ok = kite_ctx_decode(c, &batch, logits) == KITE_OK;
        for (int s = 0, row = 0; ok && s < 2; s++) {
            if (!take[s]) continue;
            ok = kite_gen_seq_step(gs[s], take[s], logits + (size_t)row++ * nv) == KITE_OK;
        }
    }
    free(logits);
    return ok;
}

static void test_batched(kite_model *m) {
    const char *pb = "The little dog";
    // the second prompt alone, through kite_generate (a driver over one kite_gen_seq)
    kite_ctx *solo = NULL;
    kite_ctx_params cp = {.n_ctx = 128, .n_threads = 1};
    CHECK(kite_ctx_new(m, &cp, &solo) == KITE_OK, "ctx: %s", kite_last_error());
    kite_buf alone = {0};
    kite_gen_params gp = kite_gen_default_params();
    gp.n_predict = 30;
    gp.sampling.temp = 0.0f;
    CHECK(kite_generate(solo, pb, &gp, collect, &alone) == KITE_OK,
          "alone: %s", kite_last_error());
    kite_ctx_free(solo);

    kite_ctx *c = NULL;
    cp.n_ctx = 256;
    cp.n_seq = 2;
    CHECK(kite_ctx_new(m, &cp, &c) == KITE_OK, "ctx: %s", kite_last_error());
    out oa = {0}, ob = {0};
    const kite_gen_seq_params pa = greedy(&oa, 60), pbp = greedy(&ob, 30);
    kite_gen_seq *a = NULL, *b = NULL;
    CHECK(kite_gen_seq_start(m, "Once upon a time", 0, kite_ctx_n_ctx(c), &pa, &a) == KITE_OK, "%s", kite_last_error());
    CHECK(kite_gen_seq_start(m, pb, 0, kite_ctx_n_ctx(c), &pbp, &b) == KITE_OK, "%s", kite_last_error());
    if (a && b) {
        CHECK(run_pair(c, a, b, 7), "batched run: %s", kite_last_error());
        kite_buf_append(&oa.text, "", 1);
        kite_buf_append(&ob.text, "", 1);
        kite_buf_append(&alone, "", 1);
        CHECK(!strcmp(oa.text.ptr, REF_60), "batched 'Once upon a time':\n got  '%s'\n want '%s'", oa.text.ptr, REF_60);
        CHECK(!strcmp(ob.text.ptr, alone.ptr), "batched '%s':\n got  '%s'\n alone '%s'", pb, ob.text.ptr, alone.ptr);
        const kite_gen_stats sa = kite_gen_seq_stats(a), sb = kite_gen_seq_stats(b);
        CHECK(sa.n_prompt == 5 && sa.n_generated == 60 && sb.n_generated == 30, "stats %d %d %d", sa.n_prompt,
              sa.n_generated, sb.n_generated);
        CHECK(oa.n_tokens == 60 && oa.offsets_ok == 60 && oa.last_argmax_ok == 60,
              "on_token: %d tokens, %zu offsets right, %d argmax", oa.n_tokens, oa.offsets_ok, oa.last_argmax_ok);
        CHECK(kite_ctx_seq_pos(c, 0) == 5 + 59 && kite_ctx_seq_pos(c, 1) == sb.n_prompt + 29,
              "cache positions %d %d", kite_ctx_seq_pos(c, 0), kite_ctx_seq_pos(c, 1));
        // a finished sequence asks for nothing and refuses a step
        const int32_t *t;
        CHECK(kite_gen_seq_next(a, &t) == 0 && kite_gen_seq_step(a, 1, NULL) == KITE_ERR_INVALID, "step after the end");
    }
    kite_gen_seq_free(a);
    kite_gen_seq_free(b);
    kite_buf_free(&oa.text);
    kite_buf_free(&ob.text);
    kite_buf_free(&alone);
    kite_ctx_free(c);
}

static void test_contract(kite_model *m) {
    out o = {0};
    kite_gen_seq_params p = greedy(&o, 5);
    kite_gen_seq *g = NULL;
    // a prompt that does not fit, an empty one, a NULL one: refused, nothing allocated
    CHECK(kite_gen_seq_start(m, "Once upon a time", 0, 4, &p, &g) == KITE_ERR_INVALID && !g, "prompt over the cache");
    CHECK(kite_gen_seq_start(m, "Once upon a time", 60, 64, &p, &g) == KITE_ERR_INVALID && !g,
          "prompt over the room left");
    CHECK(kite_gen_seq_start(m, NULL, 0, 64, &p, &g) == KITE_ERR_INVALID && !g, "NULL prompt");
    p.gen.no_bos = true;
    CHECK(kite_gen_seq_start(m, "", 0, 64, &p, &g) == KITE_ERR_INVALID && !g, "empty prompt");
    p.gen.no_bos = false;

    // a prompt given in pieces: a bad count ends the sequence with KITE_ERR_INVALID
    CHECK(kite_gen_seq_start(m, "Once upon a time", 0, 64, &p, &g) == KITE_OK, "%s", kite_last_error());
    const int32_t *t;
    CHECK(kite_gen_seq_next(g, &t) == 5 && t[0] == 1, "the prompt with BOS");
    CHECK(kite_gen_seq_step(g, 2, NULL) == KITE_OK && kite_gen_seq_next(g, &t) == 3, "a piece of the prompt");
    CHECK(kite_gen_seq_step(g, 4, NULL) == KITE_ERR_INVALID && kite_gen_seq_done(g), "more tokens than pending");
    kite_gen_seq_free(g);

    // n_predict 0: done at the prompt's logits with no text; on_token returning false aborts
    kite_ctx *c = NULL;
    kite_ctx_params cp = {.n_ctx = 64};
    CHECK(kite_ctx_new(m, &cp, &c) == KITE_OK, "ctx: %s", kite_last_error());
    p.gen.n_predict = 0;
    CHECK(kite_gen_seq_start(m, "Once upon a time", 0, 64, &p, &g) == KITE_OK, "%s", kite_last_error());
    int32_t n = kite_gen_seq_next(g, &t);
    const float *lg = NULL;
    CHECK(kite_ctx_eval(c, t, n, &lg) == KITE_OK && kite_gen_seq_step(g, n, lg) == KITE_OK && kite_gen_seq_done(g) &&
              o.n_tokens == 0 && o.text.len == 0,
          "n_predict 0");
    kite_gen_seq_free(g);
    p.gen.n_predict = 10;
    o.stop_after = 2;
    kite_ctx_reset(c);
    CHECK(kite_gen_seq_start(m, "Once upon a time", 0, 64, &p, &g) == KITE_OK, "%s", kite_last_error());
    kite_status s = KITE_OK;
    while (s == KITE_OK && (n = kite_gen_seq_next(g, &t)) > 0) {
        s = kite_ctx_eval(c, t, n, &lg);
        if (s == KITE_OK) s = kite_gen_seq_step(g, n, lg);
    }
    CHECK(s == KITE_ERR_ABORTED && kite_gen_seq_done(g) && o.n_tokens == 3 && kite_gen_seq_stats(g).n_generated == 3,
          "on_token stop: status %d after %d tokens", s, o.n_tokens);
    kite_gen_seq_free(g);
    kite_ctx_free(c);
    kite_buf_free(&o.text);
}

// A prompt given as token ids (what a server that tokenized it already passes) generates
// llama.cpp's text; ids outside the vocabulary and empty lists are refused.
static void test_tokens(kite_model *m) {
    int32_t *ids = NULL, n_ids = 0;
    CHECK(kite_tokenize_alloc(kite_model_vocab(m), "Once upon a time", 16, true, false, &ids, &n_ids) == KITE_OK,
          "%s", kite_last_error());
    out o = {0};
    kite_gen_seq_params p = greedy(&o, 60);
    kite_gen_seq *g = NULL;
    kite_ctx *c = NULL;
    kite_ctx_params cp = {.n_ctx = 128};
    CHECK(kite_ctx_new(m, &cp, &c) == KITE_OK, "ctx: %s", kite_last_error());
    CHECK(kite_gen_seq_start_tokens(m, ids, n_ids, 0, 128, &p, &g) == KITE_OK, "%s", kite_last_error());
    ids[0] = -1; // the sequence holds its own copy
    kite_status s = KITE_OK;
    const int32_t *t;
    const float *lg = NULL;
    int32_t n;
    while (g && s == KITE_OK && (n = kite_gen_seq_next(g, &t)) > 0) {
        s = kite_ctx_eval(c, t, n, &lg);
        if (s == KITE_OK) s = kite_gen_seq_step(g, n, lg);
    }
    CHECK(s == KITE_OK && o.text.len == strlen(REF_60) && !memcmp(o.text.ptr, REF_60, o.text.len),
          "token-id prompt: status %d, text '%.*s'", s, (int)o.text.len, o.text.ptr);
    kite_gen_seq_free(g);
    g = NULL;
    const int32_t bad[2] = {1, kite_model_hparams(m)->n_vocab};
    CHECK(kite_gen_seq_start_tokens(m, bad, 2, 0, 128, &p, &g) == KITE_ERR_INVALID && !g, "id outside the vocabulary");
    CHECK(kite_gen_seq_start_tokens(m, bad, 0, 0, 128, &p, &g) == KITE_ERR_INVALID && !g, "no tokens");
    CHECK(kite_gen_seq_start_tokens(m, NULL, 2, 0, 128, &p, &g) == KITE_ERR_INVALID && !g, "NULL list");
    kite_ctx_free(c);
    kite_buf_free(&o.text);
    free(ids);
}

int main(void) {
    kite_model *m;
    unsigned char *buf = check_load_model("stories260K.gguf", &m);
    if (buf) {
        if (m) {
            test_batched(m);
            test_contract(m);
            test_tokens(m);
        }
        kite_model_free(m);
        free(buf);
    }
    return check_done("test_gen_seq");
}
