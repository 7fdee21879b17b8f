// test_grammar_llama.c - token masking against llama.cpp's own grammar sampler
// (llama_sampler_init_grammar in node-llama-cpp's libllama, dlopen): on the real vocabularies
// of the shared models (SentencePiece 32000, BPE 151936), for GBNF grammars and a JSON schema's
// grammar, the tokens Kite rejects at every step of a walk are the tokens llama.cpp rejects.
// Two deliberate differences are left out of the comparison. llama.cpp matches a control token
// (<|im_start|>, <unk>) by the text it has when special tokens are rendered, which generated
// text never shows; Kite matches tokens by the text they add to the output, in which those are
// empty, so it never allows one by text (as llama.cpp never allows an empty token); a token
// element (<|im_start|>, !<[5]>) takes it by id in both. Tokens whose output text is empty are
// counted apart. And llama.cpp's UTF-8 decoding takes ill-formed bytes (a surrogate, an
// overlong form, F5-FF) as chars, so a negated class or `.` lets a byte token break the text's
// UTF-8; Kite never allows such a token (counted apart too, each checked against Unicode's
// definition). Token elements: grammars with <[id]>, <...> literals and their negations are
// walked the same way, and bad token syntax must be refused by both (llama_sampler_init_grammar
// returns NULL) with Kite's message naming the problem and its column.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "kite.h"
#include "llama_ref.h"
#include "utf8_ref.h"

typedef struct llg {
    void *h;
    llref_model_api m;
    void *(*grammar)(const void *, const char *, const char *);
    llref_sampler_api s;
} llg;

static bool llg_init(llg *r) {
    int ci_fail;
    memset(r, 0, sizeof *r);
    r->h = llama_ref_open(&ci_fail);
    if (ci_fail) check_failed++;
    if (!r->h) return false;
    *(void **)&r->grammar = llama_lib_sym(r->h, "llama_sampler_init_grammar");
    bool ok = llref_model_load(r->h, &r->m) && r->grammar && llref_sampler_load(r->h, &r->s);
    CHECK(ok, "libllama lacks a symbol the grammar comparison needs");
    return ok;
}

static int32_t piece_fn(void *user, int32_t id, char *buf, int32_t cap) {
    return kite_token_to_piece(user, id, buf, cap, false);
}
static bool eog_fn(void *user, int32_t id) { return kite_vocab_is_eog(user, id); }

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

// Whether token id's text after text[0..n) (well-formed so far) keeps it well-formed UTF-8: false
// when the pair breaks it (where Kite differs from llama.cpp on purpose, see the top of the file).
static bool well_formed_after(const kite_vocab *v, int32_t id, const uint8_t *text, size_t n) {
    uint8_t b[8192 + 256];
    int32_t k = kite_token_to_piece(v, id, (char *)b + n, 256, false);
    if (k <= 0) return true;
    memcpy(b, text, n);
    return utf8_prefix_ok(b, n + (size_t)k);
}

// Walks `steps` tokens through the grammar in both, comparing the rejected sets at each step.
// The next token is drawn among the allowed ones, preferring multi-char tokens half the time
// so that the walk reaches deep into the grammar.
static void compare_walk(llg *r, const void *rv, const kite_vocab *v, const kite_grammar_vocab *gv, const char *name,
                         const char *gbnf, int steps, uint64_t seed) {
    kite_grammar *g = NULL;
    kite_grammar_state *st = NULL;
    kite_grammar_tokenizer tk = kite_vocab_grammar_tokenizer(v);
    CHECK(kite_grammar_parse_tokens(gbnf, NULL, &tk, &g) == KITE_OK, "%s: %s", name, kite_last_error());
    if (!g || kite_grammar_state_new(g, &st) != KITE_OK) {
        kite_grammar_free(g);
        return;
    }
    void *lg = r->grammar(rv, gbnf, "root");
    CHECK(lg != NULL, "%s: llama.cpp refuses the grammar", name);
    int32_t n = kite_vocab_n_tokens(v);
    float *mine = malloc((size_t)n * sizeof *mine);
    llref_token_data *td = malloc((size_t)n * sizeof *td);
    int32_t *allowed = malloc((size_t)n * sizeof *allowed);
    double t_mask = 0, t_llama = 0;
    int n_masks = 0, n_control_diff = 0, n_utf8_diff = 0, n_compared = 0;
    uint8_t text[8192]; // the walk's output so far (well-formed UTF-8, maybe cut inside a char)
    size_t n_text = 0;
    for (int step = 0; lg && step < steps; step++) {
        for (int32_t i = 0; i < n; i++) mine[i] = 0.0f, td[i] = (llref_token_data){i, 0.0f, 0.0f};
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        kite_status s = kite_grammar_state_mask(st, gv, mine, n);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        t_mask += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        n_masks++;
        CHECK(s == KITE_OK, "%s: step %d: %s", name, step, kite_last_error());
        llref_token_data_array arr = {td, (size_t)n, -1, false};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r->s.apply(lg, &arr);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        t_llama += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        int n_allowed = 0, n_diff = 0;
        for (int32_t i = 0; i < n; i++) {
            bool k_ok = mine[i] != -INFINITY, l_ok = td[i].logit != -INFINITY;
            if (k_ok != l_ok) {
                char t[8];
                if (!kite_vocab_is_eog(v, i) && l_ok && kite_token_to_piece(v, i, t, sizeof t, false) == 0) {
                    n_control_diff++; // the deliberate difference (see the top of the file)
                } else if (l_ok && !k_ok && !well_formed_after(v, i, text, n_text)) {
                    n_utf8_diff++; // the other one (see the top of the file)
                } else if (n_diff++ < 5) {
                    char p[64];
                    int32_t k = kite_token_to_piece(v, i, p, sizeof p - 1, false);
                    p[k > 0 ? k : 0] = 0;
                    CHECK(0, "%s: step %d: token %d (\"%s\") kite %s, llama.cpp %s", name, step, i, p,
                          k_ok ? "allows" : "rejects", l_ok ? "allows" : "rejects");
                }
            }
            if (k_ok) allowed[n_allowed++] = i;
        }
        n_compared += n;
        // the one-token check agrees with the mask (a sample of tokens, allowed ones included)
        for (int k = 0; k < 64; k++) {
            int32_t id = k < 8 && n_allowed ? allowed[rng_next(&seed) % (uint64_t)n_allowed] : (int32_t)(rng_next(&seed) % (uint64_t)n);
            CHECK(kite_grammar_state_allows(st, gv, id) == (mine[id] != -INFINITY), "%s: step %d: allows(%d)", name, step, id);
        }
        if (n_diff > 5) CHECK(0, "%s: step %d: %d more differences", name, step, n_diff - 5);
        if (n_allowed == 0) break;
        // the next token: any allowed one, or the longest of a few draws (deeper steps)
        int32_t tok = allowed[rng_next(&seed) % (uint64_t)n_allowed];
        if (rng_next(&seed) & 1) {
            for (int k = 0; k < 8; k++) {
                int32_t c = allowed[rng_next(&seed) % (uint64_t)n_allowed];
                char a[256], b[256];
                if (kite_token_to_piece(v, c, a, sizeof a, false) > kite_token_to_piece(v, tok, b, sizeof b, false)) tok = c;
            }
        }
        if (kite_vocab_is_eog(v, tok)) break;
        CHECK(kite_grammar_state_accept_token(st, gv, tok) == KITE_OK, "%s: step %d: %s", name, step, kite_last_error());
        r->s.accept(lg, tok);
        int32_t k = kite_token_to_piece(v, tok, (char *)text + n_text, (int32_t)(sizeof text - n_text), false);
        n_text += k > 0 ? (size_t)k : 0;
    }
    printf("%s: %d steps compared (%d token decisions), %d empty-text tokens and %d ill-formed UTF-8 ones llama.cpp "
           "allows; mask %.2f ms/step (llama.cpp %.2f)\n",
           name, n_masks, n_compared, n_control_diff, n_utf8_diff, n_masks ? 1e3 * t_mask / n_masks : 0.0,
           n_masks ? 1e3 * t_llama / n_masks : 0.0);
    if (lg) r->s.free_(lg);
    free(mine);
    free(td);
    free(allowed);
    kite_grammar_state_free(st);
    kite_grammar_free(g);
}

static const char PERSON[] =
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},"
    "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":150},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"red\",\"gr\\u00fcn\",\"\\u84dd\"]},\"maxItems\":3},"
    "\"when\":{\"type\":\"string\",\"format\":\"date\"}},\"required\":[\"name\",\"age\"]}";

// Token syntax both must refuse (llama_sampler_init_grammar returns NULL), or both take.
static void compare_token_syntax(llg *r, const void *rv, const kite_vocab *v, const char *file) {
    static const struct {
        const char *gbnf, *why; // why: what Kite's message names (NULL: both parse it)
    } cases[] = {
        {"root ::= \"a\" <[12]", "expecting '>'"},
        {"root ::= <[12>", "expecting ']'"},
        {"root ::= <[12]]", "expecting '>'"},
        {"root ::= <[]>", "expecting a token id"},
        {"root ::= !\"a\"", "expecting '<'"},
        {"root ::= !", "expecting '<'"},
        {"root ::= <|im_start", "unterminated token"},
        {"root ::= <hello world, two tokens>", "invalid token '<hello world, two tokens>'"},
        {"root ::= <[3]> !<[4]>* \"x\"", NULL},
        {"root ::= </s>? [a-z]+ !</s>", NULL},
    };
    kite_grammar_tokenizer tk = kite_vocab_grammar_tokenizer(v);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kite_grammar *g = NULL;
        kite_status s = kite_grammar_parse_tokens(cases[i].gbnf, NULL, &tk, &g);
        void *lg = r->grammar(rv, cases[i].gbnf, "root");
        if (cases[i].why) {
            CHECK(s == KITE_ERR_INVALID && strstr(kite_last_error(), cases[i].why) && strstr(kite_last_error(), "column"),
                  "%s: %s: error \"%s\" lacks \"%s\"", file, cases[i].gbnf, kite_last_error(), cases[i].why);
            CHECK(lg == NULL, "%s: %s: llama.cpp takes it", file, cases[i].gbnf);
        } else {
            CHECK(s == KITE_OK, "%s: %s: %s", file, cases[i].gbnf, kite_last_error());
            CHECK(lg != NULL, "%s: %s: llama.cpp refuses it", file, cases[i].gbnf);
        }
        if (lg) r->s.free_(lg);
        kite_grammar_free(g);
    }
    // A deliberate difference: an id outside the vocabulary is an error in Kite (llama.cpp takes
    // it, and the element can never match).
    kite_grammar *g = NULL;
    CHECK(kite_grammar_parse_tokens("root ::= <[2000000]>", NULL, &tk, &g) == KITE_ERR_INVALID &&
              strstr(kite_last_error(), "outside the vocabulary"),
          "%s: out-of-vocabulary id: %s", file, kite_last_error());
    kite_grammar_free(g);
}

static void compare_model(llg *r, const char *file) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", check_models_dir(), file);
    size_t len = 0;
    unsigned char *buf = check_read_model(file, &len); // a missing model: skipped (a failure in CI)
    if (!buf) return;
    kite_gguf *gg = NULL;
    kite_vocab *v = NULL;
    kite_grammar_vocab *gv = NULL;
    CHECK(kite_gguf_parse(buf, len, &gg) == KITE_OK && kite_vocab_load(gg, &v) == KITE_OK, "%s: %s", file,
          kite_last_error());
    if (v)
        CHECK(kite_grammar_vocab_new(kite_vocab_n_tokens(v), piece_fn, eog_fn, v, &gv) == KITE_OK, "%s", kite_last_error());
    void *model = llref_vocab_model(&r->m, path);
    if (model && gv) {
        const void *rv = r->m.get_vocab(model);
        char *json = NULL;
        CHECK(kite_json_schema_to_grammar(PERSON, strlen(PERSON), &json) == KITE_OK, "%s", kite_last_error());
        char name[256];
        const bool qwen = strstr(file, "qwen") != NULL;
        const struct {
            const char *what, *gbnf;
            int steps;
        } cases[] = {
            {"json schema", json, 60},
            {"words", "root ::= ([A-Z] [a-z]* \" \")+ \"\\u00e9t\\u00e9\" [.!]", 30},
            {"negated class + any", "root ::= [^a-m\\n]{2,6} . \"€\" [0-9]+ \"\\n\"?", 25},
            {"nested", "root ::= \"(\" x \")\"\nx ::= [a-c]* | \"[\" x (\",\" x)* \"]\"", 40},
            // ambiguous repetitions: several stacks with copies of one class on top (Kite judges a
            // token's next char once per distinct class and walks on from the union of where the
            // classes lead). llama.cpp's walk, stack by stack, multiplies by the stacks at every
            // char of a token it rejects late, so these run on the SentencePiece vocabulary only
            // (on the BPE one, tokens of 15+ letters, llama.cpp takes minutes a step)
            {"ambiguous repetition", qwen ? NULL : "root ::= [a-z\\u00e9 ]++ [.!]", 12},
            {"ambiguous groups", qwen ? NULL : "root ::= ([a-z]+ \" \"?)+ (\"\\u00e9\" | \".\")", 12},
        };
        // token elements: by id, as literals (a control token and a plain one), negated, next to
        // chars (chosen so that no token's text runs from a char into a token element, where
        // llama.cpp judges the rest of the token by its id and its own accept then fails)
        const char *tok_cases[][2] = {
            {"tokens by id", "root ::= \"a\" <[1234]> !<[5]>* \"b\""},
            // "<>" is one plain token in both vocabularies (" <>" in the SentencePiece one); "<think>"
            // is not a single token of either, so a control token opens this think-like block
            {"token literals", qwen ? "root ::= <|im_start|> [^<]* <> \"x\"" : "root ::= <s> [^<]* <> \"x\""},
            {"negated literal", qwen ? "root ::= (!<|im_start|> | \"<\" [a-z])+ \"|\"" : "root ::= (!<s> | \"<\" [a-z])+ \"|\""},
        };
        compare_token_syntax(r, rv, v, file);
        for (size_t i = 0; i < sizeof tok_cases / sizeof tok_cases[0]; i++) {
            for (uint64_t seed = 1; seed <= 3; seed++) {
                snprintf(name, sizeof name, "%s / %s / walk %d", file, tok_cases[i][0], (int)seed);
                compare_walk(r, rv, v, gv, name, tok_cases[i][1], 20, seed * 0x9E3779B97F4A7C15ull);
            }
        }
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (!cases[i].gbnf) continue;
            for (uint64_t seed = 1; seed <= 3; seed++) {
                snprintf(name, sizeof name, "%s / %s / walk %d", file, cases[i].what, (int)seed);
                compare_walk(r, rv, v, gv, name, cases[i].gbnf, cases[i].steps, seed * 0x9E3779B97F4A7C15ull);
            }
        }
        free(json);
    }
    if (model) r->m.free_model(model);
    kite_grammar_vocab_free(gv);
    kite_vocab_free(v);
    kite_gguf_free(gg);
    free(buf);
}

int main(void) {
    llg r;
    if (llg_init(&r)) {
        compare_model(&r, "rand-llama-spm-f16.gguf");
        compare_model(&r, "rand-qwen2-f16.gguf");
    }
    return check_done("test_grammar_llama");
}
