// fuzz_grammar.c - libFuzzer target for GBNF grammars and JSON schemas (src/grammar/): any bytes
// must parse or fail with a message naming the problem, never crash. Bytes that start with '{'
// also go through the JSON schema converter, whose output must parse as a grammar. What parses
// is then run: the input's own bytes are fed to a fresh state, which must not crash either.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kite.h"

static void run_text(const char *gbnf, const uint8_t *data, size_t size) {
    kite_grammar *g = NULL;
    if (kite_grammar_parse(gbnf, NULL, &g) != KITE_OK) {
        if (!kite_last_error()[0]) abort(); // a failure always says why
        return;
    }
    kite_grammar_state *st = NULL;
    if (kite_grammar_state_new(g, &st) == KITE_OK) {
        // feed the bytes in small pieces (UTF-8 sequences may split between them)
        for (size_t i = 0; i < size; i += 3)
            if (!kite_grammar_state_accept(st, (const char *)data + i, size - i < 3 ? size - i : 3)) break;
        (void)kite_grammar_state_can_end(st);
        kite_grammar_state_free(st);
    }
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
