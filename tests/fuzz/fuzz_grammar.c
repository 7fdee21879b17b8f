// fuzz_grammar.c - libFuzzer target for GBNF grammars and JSON schemas (src/grammar/): any bytes
// must parse or fail with a message naming the problem, never crash. Bytes that start with '{'
// also go through the JSON schema converter, whose output must parse as a grammar. What parses
// is then run: the input's own bytes are fed to a fresh state, which must not crash either, and
// walked as tokens of a toy vocabulary (token elements included: <...> literals resolve with a toy
// tokenizer), where the mask and the one-token check must agree and an allowed token must be taken.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kite.h"

// The toy vocabulary: ids 0-255 the byte itself, 256-263 a few longer pieces, 264-298 control
// tokens without text, 299 end of generation.
#define N_TOY 300
static const char *const longer[] = {"ab", "\xc3\xa9", "<>", "{\"", "<[1]>", "\xe2\x82", "aaaa", "\xac!"};

static int32_t toy_piece(void *user, int32_t id, char *buf, int32_t cap) {
    (void)user;
    char b[8];
    const char *t = b;
    int32_t n;
    if (id < 256) b[0] = (char)id, n = 1;
    else if (id < 264) t = longer[id - 256], n = (int32_t)strlen(t);
    else n = 0;
    if (n > cap) return -n;
    memcpy(buf, t, (size_t)n);
    return n;
}
static bool toy_eog(void *user, int32_t id) { return (void)user, id == N_TOY - 1; }

// A literal up to 12 bytes is one token (an id from its bytes), a longer one two.
static int32_t toy_tokenize(void *user, const char *text, size_t len, int32_t *ids, int32_t cap) {
    (void)user;
    uint32_t h = 0;
    for (size_t i = 0; i < len; i++) h = h * 31 + (uint8_t)text[i];
    int32_t n = len <= 12 ? 1 : 2;
    for (int32_t i = 0; i < n && i < cap; i++) ids[i] = (int32_t)((h + (uint32_t)i) % N_TOY);
    return n;
}

static void run_tokens(const kite_grammar *g, const uint8_t *data, size_t size) {
    static kite_grammar_vocab *v;
    if (!v && kite_grammar_vocab_new(N_TOY, toy_piece, toy_eog, NULL, &v) != KITE_OK) abort();
    kite_grammar_state *st = NULL;
    if (kite_grammar_state_new(g, &st) != KITE_OK) return;
    static float logits[N_TOY];
    for (size_t i = 0; i < size && i < 48; i++) {
        for (int k = 0; k < N_TOY; k++) logits[k] = 0.0f;
        if (kite_grammar_state_mask(st, v, logits, N_TOY) != KITE_OK) break;
        int32_t id = (int32_t)((data[i] * 7u + (uint32_t)i) % N_TOY);
        bool kept = logits[id] == 0.0f;
        if (kite_grammar_state_allows(st, v, id) != kept) abort(); // the one-token check is the mask's
        if (!kept) continue;
        // an allowed token is taken, unless the parse outgrows its stack limit (an ambiguous
        // grammar such as x++++++++++++++: each nested repetition doubles the live parses)
        if (kite_grammar_state_accept_token(st, v, id) != KITE_OK) {
            if (!strstr(kite_last_error(), "too ambiguous")) abort();
            break;
        }
        if (id == N_TOY - 1) break;
    }
    kite_grammar_state_free(st);
}

static void run_text(const char *gbnf, const uint8_t *data, size_t size) {
    kite_grammar *g = NULL;
    if (kite_grammar_parse(gbnf, NULL, &g) != KITE_OK) {
        if (!kite_last_error()[0]) abort(); // a failure always says why
    }
    kite_grammar_state *st = NULL;
    if (g && kite_grammar_state_new(g, &st) == KITE_OK) {
        // feed the bytes in small pieces (UTF-8 sequences may split between them)
        for (size_t i = 0; i < size; i += 3)
            if (!kite_grammar_state_accept(st, (const char *)data + i, size - i < 3 ? size - i : 3)) break;
        (void)kite_grammar_state_can_end(st);
        kite_grammar_state_free(st);
    }
    kite_grammar_free(g);
    g = NULL;
    kite_grammar_tokenizer tk = {N_TOY, toy_tokenize, NULL}; // <...> literals parse too
    if (kite_grammar_parse_tokens(gbnf, NULL, &tk, &g) != KITE_OK) {
        if (!kite_last_error()[0]) abort();
        return;
    }
    run_tokens(g, data, size);
    kite_grammar_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0; // the grammar is a C string: an inner NUL simply ends it
    run_text(text, data, size);
    if (size > 0 && data[0] == '{') {
        char *gbnf = NULL;
        if (kite_json_schema_to_grammar(text, size, &gbnf) == KITE_OK) {
            kite_grammar *g = NULL;
            if (kite_grammar_parse(gbnf, NULL, &g) != KITE_OK) abort(); // the converter writes valid GBNF
            kite_grammar_free(g);
            free(gbnf);
        } else if (!kite_last_error()[0]) {
            abort();
        }
    }
    free(text);
    return 0;
}
