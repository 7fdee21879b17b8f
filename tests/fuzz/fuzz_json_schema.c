// fuzz_json_schema.c - libFuzzer target for the JSON schema -> GBNF converter
// (src/grammar/json_schema*.c), which reads an API client's response_format and tool parameters.
// Input: the schema's bytes, optionally followed by a NUL and "choice" bytes.
// Invariants: any bytes either fail with a message or give a grammar that kite_grammar_parse
// accepts; the same schema converts to the same text again, and as a named rule
// (kite_json_schema_to_grammar_rule) it converts too. Then a sentence is drawn from the grammar
// (bytes as tokens, each step one the mask keeps, picked by the choice bytes, then by a fixed
// preference that tends to close values; ASCII where the grammar allows it): a live state always
// has a next byte or may end, and a
// sentence that ends is JSON (openai/json.c parses it), save for what the grammar allows as
// llama.cpp's does and that parser refuses by its own limits: an unpaired \uD800-\uDFFF escape,
// nesting deeper than JSON_MAX_DEPTH, a number beyond a double's range (2e400); and a string
// "pattern" is written as llama.cpp writes it, its '.' and [^...] taking '"' and '\' unescaped,
// so with one in the schema the sentence is drawn but not checked.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.c"
#include "kite.h"

#define N_BYTES 257 // token id = byte value; 256 ends generation
#define MAX_STEPS 600

static int32_t byte_piece(void *user, int32_t id, char *buf, int32_t cap) {
    (void)user;
    if (id >= 256) return 0;
    if (cap < 1) return -1;
    buf[0] = (char)id;
    return 1;
}
static bool byte_eog(void *user, int32_t id) { return (void)user, id == 256; }

// Draws one sentence of g (see the header) and checks what it draws.
static void draw(const kite_grammar *g, const uint8_t *choice, size_t n_choice, bool check_json) {
    static kite_grammar_vocab *v;
    if (!v && kite_grammar_vocab_new(N_BYTES, byte_piece, byte_eog, NULL, &v) != KITE_OK) abort();
    kite_grammar_state *st = NULL;
    if (kite_grammar_state_new(g, &st) != KITE_OK) return;
    static const char prefer[] = "\"}]0n,";
    char text[MAX_STEPS + 1];
    size_t len = 0;
    bool ended = false;
    for (int step = 0; step < MAX_STEPS; step++) {
        float logits[N_BYTES] = {0};
        if (kite_grammar_state_mask(st, v, logits, N_BYTES) != KITE_OK) break; // too many stacks: a limit
        int32_t allowed[N_BYTES], n = 0;
        for (int32_t id = 0; id < N_BYTES; id++)
            if (logits[id] == 0.0f) allowed[n++] = id;
        if (n == 0) abort(); // a live state with nothing to take and no end
        // ASCII bytes (and the end) where the grammar allows any: its char classes decode UTF-8 by
        // the lead byte alone, as llama.cpp's do, so a drawn byte >= 0x80 could start a sequence
        // JSON text refuses (F5-F7 leads, overlong forms, surrogates)
        int32_t ascii = 0;
        for (int32_t i = 0; i < n; i++)
            if (allowed[i] < 0x80 || allowed[i] == 256) allowed[ascii++] = allowed[i];
        if (ascii > 0) n = ascii;
        int32_t id = -1;
        if ((size_t)step < n_choice) {
            id = allowed[choice[step] % n];
        } else if (logits[256] == 0.0f) {
            id = 256;
        } else {
            for (const char *p = prefer; *p && id < 0; p++)
                if (logits[(uint8_t)*p] == 0.0f) id = (uint8_t)*p;
            if (id < 0) id = allowed[(size_t)step % (size_t)n];
        }
        if (kite_grammar_state_accept_token(st, v, id) != KITE_OK) abort(); // the mask kept it
        if (id == 256) {
            ended = true;
            break;
        }
        text[len++] = (char)id;
    }
    kite_grammar_state_free(st);
    if (!ended || !check_json) return;
    char err[256];
    json_doc *d = json_parse(text, len, err, sizeof err);
    if (!d) {
        if (strstr(err, "unpaired UTF-16 surrogate") || strstr(err, "nesting deeper than") ||
            strstr(err, "number out of range"))
            return;
        fprintf(stderr, "the schema's grammar gave '%.*s', which is not JSON: %s\n", (int)len, text, err);
        abort();
    }
    json_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    const uint8_t *nul = memchr(data, 0, size);
    const size_t n_schema = nul ? (size_t)(nul - data) : size;
    const uint8_t *choice = nul ? nul + 1 : data + size;
    const size_t n_choice = nul ? size - n_schema - 1 : 0;
    char *schema = malloc(n_schema + 1);
    if (!schema) return 0;
    memcpy(schema, data, n_schema);
    schema[n_schema] = 0;
    char *gbnf = NULL;
    if (kite_json_schema_to_grammar(schema, n_schema, &gbnf) != KITE_OK) {
        if (!kite_last_error()[0] || gbnf) abort(); // a failure says why, and gives nothing
        free(schema);
        return 0;
    }
    kite_grammar *g = NULL;
    if (kite_grammar_parse(gbnf, NULL, &g) != KITE_OK) abort(); // the converter writes valid GBNF
    char *again = NULL, *rule = NULL;
    if (kite_json_schema_to_grammar(schema, n_schema, &again) != KITE_OK || strcmp(again, gbnf) != 0) abort();
    if (kite_json_schema_to_grammar_rule(schema, n_schema, "args", &rule) != KITE_OK) {
        fprintf(stderr, "converts as root but not as a rule: %s\n", kite_last_error());
        abort();
    }
    draw(g, choice, n_choice, !strstr(schema, "\"pattern\""));
    kite_grammar_free(g);
    free(rule);
    free(again);
    free(gbnf);
    free(schema);
    return 0;
}
