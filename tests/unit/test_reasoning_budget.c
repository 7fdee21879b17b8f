// test_reasoning_budget.c - the reasoning budget (kite_gen_params' reasoning_*) against
// llama.cpp's reasoning-budget sampler as its source specifies it (common/reasoning-budget.cpp):
// a scripted "model" (logits that make one token the greedy choice at each step) drives a
// generated sequence on stories260K's vocabulary, whose tags are several tokens each; the
// expected outputs are worked out by hand from that state machine: after the start tag's
// tokens, N tokens, then the message and end tag forced token by token; a natural end tag
// stops the count; a new start tag re-arms it; a spent budget inside a UTF-8 character lets
// the character finish first; the reply opening (prefill) is seen first.
#include <math.h>
#include <string.h>

#include "check_model.h"
#include "kite.h"
#include "model/kite_model.h"
#include "tokenizer/kite_tokenizer.h"

static const kite_vocab *vocab;
static int32_t n_vocab;

typedef struct toks {
    int32_t id[256];
    int32_t n;
} toks;

static void add_text(toks *t, const char *text) {
    int32_t *ids = NULL, n = 0;
    CHECK(kite_tokenize_alloc(vocab, text, strlen(text), false, true, &ids, &n) == KITE_OK, "tokenize '%s'", text);
    for (int32_t i = 0; i < n && t->n < 256; i++) t->id[t->n++] = ids[i];
    free(ids);
}

static bool collect(void *user, const kite_gen_token *t) {
    toks *out = user;
    if (out->n < 256) out->id[out->n++] = t->id;
    return true;
}

static const char *lazy_grammar, *lazy_trigger; // run's grammar and its trigger word, or NULL

// Generates n tokens where step k's greedy choice is script[k]; the output tokens into *out.
static void run(const kite_model *m, const toks *script, int32_t n, int32_t budget, const char *message,
                const char *prefill, toks *out) {
    kite_gen_seq_params p = {.gen = kite_gen_default_params(), .on_token = collect, .user = out};
    p.gen.grammar = lazy_grammar;
    p.gen.grammar_triggers = lazy_trigger ? &lazy_trigger : NULL;
    p.gen.n_grammar_triggers = lazy_trigger ? 1 : 0;
    p.gen.n_predict = n;
    p.gen.sampling.temp = 0;
    p.gen.no_bos = true;
    p.gen.reasoning_start = "<think>";
    p.gen.reasoning_end = "</think>";
    p.gen.reasoning_budget = budget;
    p.gen.reasoning_message = message;
    p.gen.reasoning_prefill = prefill;
    out->n = 0;
    kite_gen_seq *g = NULL;
    CHECK(kite_gen_seq_start(m, "x", 0, 512, &p, &g) == KITE_OK, "start: %s", kite_last_error());
    if (!g) return;
    float *logits = calloc((size_t)n_vocab, sizeof *logits);
    for (int32_t step = 0; !kite_gen_seq_done(g) && step <= n; step++) {
        const int32_t *t;
        const int32_t k = kite_gen_seq_next(g, &t);
        memset(logits, 0, (size_t)n_vocab * sizeof *logits);
        if (step < script->n) logits[script->id[step]] = 10.0f;
        CHECK(kite_gen_seq_step(g, k, logits) == KITE_OK, "step %d: %s", step, kite_last_error());
    }
    free(logits);
    kite_gen_seq_free(g);
}

static void expect(const toks *got, const toks *want, const char *what) {
    bool same = got->n == want->n && !memcmp(got->id, want->id, (size_t)got->n * sizeof *got->id);
    CHECK(same, "%s: %d tokens, want %d", what, got->n, want->n);
    if (!same) {
        for (int32_t i = 0; i < got->n || i < want->n; i++)
            fprintf(stderr, "  %2d: got %6d want %6d\n", i, i < got->n ? got->id[i] : -1, i < want->n ? want->id[i] : -1);
    }
}

// The first n tokens of a.
static toks head(const toks *a, int32_t n) {
    toks t = {.n = 0};
    for (int32_t i = 0; i < n && i < a->n; i++) t.id[t.n++] = a->id[i];
    return t;
}

static void cat(toks *t, const toks *a) {
    for (int32_t i = 0; i < a->n && t->n < 256; i++) t->id[t->n++] = a->id[i];
}

// The text of tokens t[0..n).
static void text_of(const toks *t, int32_t n, char *out, size_t size) {
    size_t at = 0;
    out[0] = 0;
    for (int32_t i = 0; i < n && i < t->n; i++) {
        char piece[64];
        const int32_t k = kite_token_to_piece(vocab, t->id[i], piece, sizeof piece, false);
        if (k > 0 && at + (size_t)k < size) memcpy(out + at, piece, (size_t)k), at += (size_t)k;
    }
    out[at] = 0;
}

// A lazy grammar (trigger "<tool_call>") with reasoning tags, as llama.cpp's common sampler runs
// it (grammar_should_apply: a lazy grammar applies only while the reasoning budget's state is idle
// or done): a trigger written inside a <think> block is passed over, the one after the block starts
// the grammar, which then forces its own text (" ok") over the script's and ends the reply.
static void test_lazy_grammar(const kite_model *m, const toks *open, const toks *close) {
    toks script = {0}, trig = {0}, a = {0}, zz = {0}, got = {0};
    add_text(&trig, "<tool_call>");
    add_text(&a, " a");
    add_text(&zz, " zz zz zz");
    cat(&script, open), cat(&script, &a), cat(&script, &trig), cat(&script, &a), cat(&script, close);
    const int32_t after_block = script.n;
    cat(&script, &trig);
    const int32_t after_call = script.n;
    cat(&script, &zz);
    char want[512], text[512];
    lazy_grammar = "root ::= \"<tool_call>\" \" ok\"";
    lazy_trigger = "<tool_call>";
    for (int32_t budget = -1; budget <= 1000; budget += 1001) { // no limit, and a limit not reached
        run(m, &script, script.n, budget, NULL, NULL, &got);
        text_of(&script, after_call, want, sizeof want);
        strcat(want, " ok");
        text_of(&got, got.n, text, sizeof text);
        CHECK(!strcmp(text, want), "budget %d: '%s', want '%s'", budget, text, want);
    }
    // a block the reply opening began (the template put <think> in the prompt) counts too
    toks inside = {0};
    cat(&inside, &a), cat(&inside, &trig), cat(&inside, &a), cat(&inside, close), cat(&inside, &trig), cat(&inside, &zz);
    run(m, &inside, inside.n, -1, NULL, "<think>\n", &got);
    text_of(&inside, inside.n - zz.n, want, sizeof want);
    strcat(want, " ok");
    text_of(&got, got.n, text, sizeof text);
    CHECK(!strcmp(text, want), "prefill <think>: '%s', want '%s'", text, want);
    // with no reasoning tags the first trigger starts the grammar, in the block or not
    kite_gen_seq_params p = {.gen = kite_gen_default_params(), .on_token = collect, .user = &got};
    p.gen.n_predict = script.n;
    p.gen.sampling.temp = 0;
    p.gen.no_bos = true;
    p.gen.grammar = lazy_grammar;
    p.gen.grammar_triggers = &lazy_trigger;
    p.gen.n_grammar_triggers = 1;
    got.n = 0;
    kite_gen_seq *g = NULL;
    CHECK(kite_gen_seq_start(m, "x", 0, 512, &p, &g) == KITE_OK, "start: %s", kite_last_error());
    float *logits = calloc((size_t)n_vocab, sizeof *logits);
    for (int32_t step = 0; g && !kite_gen_seq_done(g) && step <= script.n; step++) {
        const int32_t *t;
        const int32_t k = kite_gen_seq_next(g, &t);
        memset(logits, 0, (size_t)n_vocab * sizeof *logits);
        if (step < script.n) logits[script.id[step]] = 10.0f;
        CHECK(kite_gen_seq_step(g, k, logits) == KITE_OK, "step %d: %s", step, kite_last_error());
    }
    free(logits);
    kite_gen_seq_free(g);
    text_of(&script, open->n + a.n + trig.n, want, sizeof want);
    strcat(want, " ok");
    text_of(&got, got.n, text, sizeof text);
    CHECK(!strcmp(text, want), "no tags: '%s', want '%s'", text, want);
    (void)after_block;
    lazy_grammar = lazy_trigger = NULL;
}

int main(void) {
    kite_model *m;
    unsigned char *buf = check_load_model("stories260K.gguf", &m);
    if (!buf) return check_done("test_reasoning_budget");
    if (!m) return check_done("test_reasoning_budget");
    vocab = kite_model_vocab(m);
    n_vocab = kite_model_hparams(m)->n_vocab;

    toks open = {0}, close = {0}, fill = {0}, msg = {0}, han = {0};
    add_text(&open, "<think>");
    add_text(&close, "</think>");
    add_text(&fill, " the cat sat on the mat and the dog ran to the park");
    add_text(&msg, " Enough.");
    add_text(&han, "中"); // the space prefix, then the character's 3 UTF-8 bytes as byte tokens
    CHECK(open.n >= 2 && close.n >= 2 && fill.n >= 2 + close.n && han.n == 4, "tags of %d and %d tokens, 中 %d",
          open.n, close.n, han.n);
    for (int32_t i = 1; i < han.n; i++) {
        char piece[8];
        const int32_t n = kite_token_to_piece(vocab, han.id[i], piece, sizeof piece, false);
        CHECK(n == 1 && (unsigned char)piece[0] >= 0x80, "中's token %d is not one byte", i);
    }

    // the model would think forever: after 3 tokens the end is forced, then it goes on
    toks script = {0}, want = {0}, got = {0};
    cat(&script, &open);
    cat(&script, &fill);
    toks f3 = head(&fill, 3);
    cat(&want, &open), cat(&want, &f3), cat(&want, &close);
    const int32_t after = open.n + 3 + close.n; // the script goes on at this step
    for (int32_t i = after; i < after + 2; i++) want.id[want.n++] = script.id[i];
    run(m, &script, want.n, 3, NULL, NULL, &got);
    expect(&got, &want, "budget 3");

    // budget 0: the end right after the start tag; a message goes before the end tag
    want.n = 0;
    cat(&want, &open), cat(&want, &close);
    run(m, &script, want.n, 0, NULL, NULL, &got);
    expect(&got, &want, "budget 0");
    want.n = 0;
    cat(&want, &open), cat(&want, &f3), cat(&want, &msg), cat(&want, &close);
    run(m, &script, want.n, 3, " Enough.", NULL, &got);
    expect(&got, &want, "budget 3 with a message");

    // the block's own end stops the count: the end tag's tokens count, the last one ends it (a
    // budget one smaller forces the end on its last token's turn: the same tokens)
    toks natural = {0}, f2 = head(&fill, 2);
    const int32_t fits = f2.n + close.n;
    cat(&natural, &open), cat(&natural, &f2), cat(&natural, &close), cat(&natural, &fill);
    run(m, &natural, natural.n, fits, NULL, NULL, &got);
    expect(&got, &natural, "a block that ends within its budget");
    run(m, &natural, natural.n, 1000, NULL, NULL, &got);
    expect(&got, &natural, "budget 1000");

    // a second block after the first ended naturally gets a fresh budget
    toks two = {0};
    cat(&two, &open), cat(&two, &f2), cat(&two, &close), cat(&two, &open), cat(&two, &fill);
    want.n = 0;
    toks ff = head(&fill, fits);
    cat(&want, &open), cat(&want, &f2), cat(&want, &close), cat(&want, &open), cat(&want, &ff), cat(&want, &close);
    run(m, &two, want.n, fits, NULL, NULL, &got);
    expect(&got, &want, "a second block re-arms the budget");

    // the budget (3) runs out on the first byte of a 3-byte character: tokens go on until one
    // whose own text ends on a whole character (llama.cpp judges each token's text alone, so a
    // lone last byte does not count: the token after it passes too), then the end
    toks utf = {0}, f1 = head(&fill, 1);
    cat(&utf, &open), cat(&utf, &f1), cat(&utf, &han), cat(&utf, &fill);
    want.n = 0;
    cat(&want, &open), cat(&want, &f1), cat(&want, &han), cat(&want, &f1), cat(&want, &close);
    run(m, &utf, want.n, 3, NULL, NULL, &got);
    expect(&got, &want, "a character is not cut");

    // the reply opening is seen first: reasoning off's empty block leaves nothing to count;
    // an opening that starts a block counts from the first generated token
    run(m, &fill, fill.n, 0, NULL, "<think>\n\n</think>\n\n", &got);
    expect(&got, &fill, "prefill with a closed block");
    want.n = 0;
    cat(&want, &f3), cat(&want, &close);
    run(m, &fill, want.n, 3, NULL, "<think>", &got);
    expect(&got, &want, "prefill that opens a block");

    // -1: no limit, the block runs its course
    run(m, &natural, natural.n, -1, NULL, NULL, &got);
    expect(&got, &natural, "budget -1");
    test_lazy_grammar(m, &open, &close);

    // no tags: no budget; a budget below -1 with tags is refused
    kite_gen_seq_params p = {.gen = kite_gen_default_params()};
    p.gen.reasoning_start = "<think>";
    p.gen.reasoning_end = "</think>";
    p.gen.reasoning_budget = -2;
    kite_gen_seq *g = NULL;
    CHECK(kite_gen_seq_start(m, "x", 0, 512, &p, &g) == KITE_ERR_INVALID && !g && strstr(kite_last_error(), "below -1"),
          "a budget of -2 was accepted: %s", kite_last_error());
    kite_model_free(m);
    free(buf);
    return check_done("test_reasoning_budget");
}
