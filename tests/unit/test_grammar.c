// test_grammar.c - GBNF grammars and JSON schema -> GBNF against llama.cpp's test vectors
// (tests/test-grammar-parser.cpp, test-grammar-integration.cpp, test-json-schema-to-grammar.cpp;
// extracted into data/grammar_cases.h by data/gen_grammar_cases.py), plus token masking checked
// against feeding each token's text on its own, and bad grammars naming line and column.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/grammar_cases.h"
#include "grammar/grammar_match.h"
#include "kite.h"
#include "utf8_ref.h"

// Does the grammar accept the whole text (llama.cpp's match_string)?
static bool matches(const kite_grammar *g, const char *text) {
    kite_grammar_state *st;
    if (kite_grammar_state_new(g, &st) != KITE_OK) return false;
    bool ok = kite_grammar_state_accept(st, text, strlen(text)) && kite_grammar_state_can_end(st);
    kite_grammar_state_free(st);
    return ok;
}

// ---- test-grammar-parser.cpp: the parsed elements --------------------------------------------

typedef struct elem_want {
    uint32_t type, value;
} elem_want;

static void expect_parse(int line, const char *text, const char *const *names, int n_names, const elem_want *e,
                         size_t n) {
    kite_grammar *g = NULL;
    kite_status s = kite_grammar_parse(text, NULL, &g);
    CHECK(s == KITE_OK, "line %d: %s", line, kite_last_error());
    if (!g) return;
    CHECK(g->n_rules == (uint32_t)n_names, "line %d: %u rules, want %d", line, g->n_rules, n_names);
    for (int i = 0; i < n_names && i < (int)g->n_rules; i++)
        CHECK(strcmp(g->names[i], names[i]) == 0, "line %d: rule %d is %s, want %s", line, i, g->names[i], names[i]);
    CHECK(g->n_elems == n, "line %d: %zu elements, want %zu", line, g->n_elems, n);
    for (size_t i = 0; i < n && i < g->n_elems; i++)
        CHECK(g->elems[i].type == e[i].type && g->elems[i].value == e[i].value, "line %d: element %zu is {%u, %u}, want {%u, %u}",
              line, i, g->elems[i].type, g->elems[i].value, e[i].type, e[i].value);
    kite_grammar_free(g);
}

#define E(t, v) {KITE__G_##t, (uint32_t)(v)}
#define EXPECT_PARSE(text, names, ...)                                                                  \
    do {                                                                                                \
        static const char *const n_[] = names;                                                          \
        static const elem_want e_[] = {__VA_ARGS__};                                                    \
        expect_parse(__LINE__, text, n_, (int)(sizeof n_ / sizeof n_[0]), e_, sizeof e_ / sizeof e_[0]); \
    } while (0)
#define NAMES(...) {__VA_ARGS__}

static void test_parser_vectors(void) {
    // token elements (<[1000]> = "<think>", <[1001]> = "</think>" in its comment)
    EXPECT_PARSE("\n        root  ::= <[1000]> !<[1001]> <[1001]>\n    ", NAMES("root"), E(TOKEN, 1000), E(TOKEN_NOT, 1001),
                 E(TOKEN, 1001), E(END, 0));
    // test-grammar-parser.cpp's cases (rules listed by id here; it lists them by name)
    EXPECT_PARSE("root ::= \"a\"", NAMES("root"), E(CHAR, 'a'), E(END, 0));
    EXPECT_PARSE("root  ::= \"a\" | [bdx-z] | [^1-3]", NAMES("root"), E(CHAR, 'a'), E(ALT, 0), E(CHAR, 'b'),
                 E(CHAR_ALT, 'd'), E(CHAR_ALT, 'x'), E(CHAR_RNG_UPPER, 'z'), E(ALT, 0), E(CHAR_NOT, '1'),
                 E(CHAR_RNG_UPPER, '3'), E(END, 0));
    EXPECT_PARSE("root ::= \"a\"{3,5000}", NAMES("root", "root_1"), E(CHAR, 'a'), E(CHAR, 'a'), E(CHAR, 'a'),
                 E(RULE_REF, 1), E(END, 0), E(CHAR, 'a'), E(RULE_REF, 1), E(ALT, 0), E(END, 0));
    EXPECT_PARSE("root  ::= a+\na     ::= \"a\"", NAMES("root", "a", "root_2"), E(RULE_REF, 1), E(RULE_REF, 2),
                 E(END, 0), E(CHAR, 'a'), E(END, 0), E(RULE_REF, 1), E(RULE_REF, 2), E(ALT, 0), E(END, 0));
    EXPECT_PARSE("root  ::= \"a\"+", NAMES("root", "root_1"), E(CHAR, 'a'), E(RULE_REF, 1), E(END, 0), E(CHAR, 'a'),
                 E(RULE_REF, 1), E(ALT, 0), E(END, 0));
    EXPECT_PARSE("root  ::= a?\na     ::= \"a\"", NAMES("root", "a", "root_2"), E(RULE_REF, 2), E(END, 0),
                 E(CHAR, 'a'), E(END, 0), E(RULE_REF, 1), E(ALT, 0), E(END, 0));
    EXPECT_PARSE("root  ::= a*\na     ::= \"a\"", NAMES("root", "a", "root_2"), E(RULE_REF, 2), E(END, 0),
                 E(CHAR, 'a'), E(END, 0), E(RULE_REF, 1), E(RULE_REF, 2), E(ALT, 0), E(END, 0));
    EXPECT_PARSE("root  ::= \"a\"{2}", NAMES("root"), E(CHAR, 'a'), E(CHAR, 'a'), E(END, 0));
    EXPECT_PARSE("root  ::= \"a\"{2,}", NAMES("root", "root_1"), E(CHAR, 'a'), E(CHAR, 'a'), E(RULE_REF, 1),
                 E(END, 0), E(CHAR, 'a'), E(RULE_REF, 1), E(ALT, 0), E(END, 0));
    EXPECT_PARSE("root  ::= \"a\"{ 4}", NAMES("root"), E(CHAR, 'a'), E(CHAR, 'a'), E(CHAR, 'a'), E(CHAR, 'a'),
                 E(END, 0));
    EXPECT_PARSE("root  ::= \"a\"{2,4}", NAMES("root", "root_1", "root_2"), E(CHAR, 'a'), E(CHAR, 'a'),
                 E(RULE_REF, 2), E(END, 0), E(CHAR, 'a'), E(ALT, 0), E(END, 0), E(CHAR, 'a'), E(RULE_REF, 1),
                 E(ALT, 0), E(END, 0));
    EXPECT_PARSE("root  ::= (expr \"=\" term \"\\n\")+\nexpr  ::= term ([-+*/] term)*\nterm  ::= [0-9]+",
                 NAMES("root", "root_1", "expr", "term", "root_4", "expr_5", "expr_6", "term_7"), E(RULE_REF, 1),
                 E(RULE_REF, 4), E(END, 0), E(RULE_REF, 2), E(CHAR, '='), E(RULE_REF, 3), E(CHAR, '\n'), E(END, 0),
                 E(RULE_REF, 3), E(RULE_REF, 6), E(END, 0), E(CHAR, '0'), E(CHAR_RNG_UPPER, '9'), E(RULE_REF, 7),
                 E(END, 0), E(RULE_REF, 1), E(RULE_REF, 4), E(ALT, 0), E(END, 0), E(CHAR, '-'), E(CHAR_ALT, '+'),
                 E(CHAR_ALT, '*'), E(CHAR_ALT, '/'), E(RULE_REF, 3), E(END, 0), E(RULE_REF, 5), E(RULE_REF, 6),
                 E(ALT, 0), E(END, 0), E(CHAR, '0'), E(CHAR_RNG_UPPER, '9'), E(RULE_REF, 7), E(ALT, 0), E(END, 0));
}

// ---- test-grammar-integration.cpp ------------------------------------------------------------

static void test_integration_cases(void) {
    int n_grammar = 0, n_schema = 0;
    for (size_t c = 0; c < sizeof grammar_cases / sizeof grammar_cases[0]; c++) {
        const grammar_case *tc = &grammar_cases[c];
        char *text = NULL;
        if (tc->schema) {
            kite_status s = kite_json_schema_to_grammar(tc->text, strlen(tc->text), &text);
            CHECK(s == KITE_OK, "line %d (%s): schema conversion failed: %s", tc->line, tc->desc, kite_last_error());
            if (s != KITE_OK) continue;
            n_schema++;
        } else {
            n_grammar++;
        }
        kite_grammar *g = NULL;
        kite_status s = kite_grammar_parse(text ? text : tc->text, NULL, &g);
        CHECK(s == KITE_OK, "line %d (%s): %s", tc->line, tc->desc, kite_last_error());
        for (int i = 0; g && i < tc->n_pass; i++)
            CHECK(matches(g, tc->pass[i]), "line %d (%s): rejects \"%s\"", tc->line, tc->desc, tc->pass[i]);
        for (int i = 0; g && i < tc->n_fail; i++)
            CHECK(!matches(g, tc->fail[i]), "line %d (%s): accepts \"%s\"", tc->line, tc->desc, tc->fail[i]);
        kite_grammar_free(g);
        free(text);
    }
    CHECK(n_grammar >= 12 && n_schema >= 30, "only %d grammar and %d schema cases ran", n_grammar, n_schema);
}

// ---- bad grammars ----------------------------------------------------------------------------

static void expect_error(int line, const char *text, const char *root, const char *want) {
    kite_grammar *g = NULL;
    kite_status s = kite_grammar_parse(text, root, &g);
    CHECK(s == KITE_ERR_INVALID && !g, "line %d: parsed (status %d)", line, (int)s);
    CHECK(strstr(kite_last_error(), want) != NULL, "line %d: error \"%s\" lacks \"%s\"", line, kite_last_error(), want);
    kite_grammar_free(g);
}

static void test_errors(void) {
    // test-grammar-integration.cpp's failure cases
    expect_error(__LINE__, "rot ::= expr\nexpr ::= \"a\"\n", NULL, "no rule named 'root'");
    expect_error(__LINE__, "root ::= expr\nexpr ::= term\n", NULL, "undefined rule 'term'");
    expect_error(__LINE__, "root ::= \"a\" | root \"a\"", NULL, "left-recursive");
    expect_error(__LINE__, "root ::= asdf\nasdf ::= \"a\" | asdf \"a\"", NULL, "left-recursive");
    expect_error(__LINE__, "root ::= asdf\nasdf ::= \"a\" | foo \"b\"\nfoo ::= \"c\" | asdf \"d\" | \"e\"", NULL,
                 "left-recursive");
    expect_error(__LINE__, "root ::= asdf\nasdf ::= \"a\" | foo \"b\"\nfoo ::= \"c\" | baz \"d\" | \"e\"\n"
                           "baz ::= \"f\" | asdf \"g\"", NULL, "left-recursive");
    expect_error(__LINE__, "root ::= \"a\"", "bar", "no rule named 'bar'");
    // test-grammar-parser.cpp's failure cases, with the position named
    expect_error(__LINE__, "\n  root ::= \"a\"{,}", NULL, "line 2, column 16: expecting an integer");
    expect_error(__LINE__, "root ::= \"a\"{,10}", NULL, "line 1, column 14: expecting an integer");
    expect_error(__LINE__, "root ::= (\"a\"", NULL, "expecting ')'");
    // token syntax: a literal needs a vocabulary (llama.cpp: "no vocab to parse token at")
    expect_error(__LINE__, "root ::= \"a\" <think>", NULL, "line 1, column 14: a token literal <...> needs the model's vocabulary");
    expect_error(__LINE__, "root ::= <[12>", NULL, "line 1, column 14: expecting ']'");
    expect_error(__LINE__, "root ::= <[12]]", NULL, "expecting '>' after ']'");
    expect_error(__LINE__, "root ::= <[x]>", NULL, "expecting a token id");
    expect_error(__LINE__, "root ::= !\"a\"", NULL, "line 1, column 11: expecting '<'");
    expect_error(__LINE__, "root ::= <[99999999999]>", NULL, "too large");
    expect_error(__LINE__, "root ::= <abc", NULL, "unterminated token");
    expect_error(__LINE__, "root ::= \"a", NULL, "line 1, column 10: unterminated string literal");
    expect_error(__LINE__, "root ::= [a-", NULL, "unterminated character class");
    expect_error(__LINE__, "root ::= \"\\q\"", NULL, "line 1, column 11: unknown escape");
    expect_error(__LINE__, "root ::= \"\\x4\"", NULL, "expecting 2 hex digits");
    expect_error(__LINE__, "root := \"a\"", NULL, "line 1, column 6: expecting ::=");
    expect_error(__LINE__, "root ::= \"a\"\n\nfoo bar ::= \"b\"", NULL, "line 3, column 5: expecting ::=");
    expect_error(__LINE__, "root ::= *", NULL, "expecting an item before");
    expect_error(__LINE__, "root ::= \"a\"{3001}", NULL, "too many repetitions");
    expect_error(__LINE__, "root ::= \"a\"{5,2}", NULL, "maximum below its minimum");
    expect_error(__LINE__, "root ::= \"a\" )", NULL, "unbalanced ')'");
    expect_error(__LINE__, "root ::= \"\xff\"", NULL, "invalid UTF-8");
    // many named rules (looked up by hash): a chain of 30000, and a sentence through all of them
    kite_buf big = {0};
    kite_buf_puts(&big, "root ::= r0\n");
    for (int i = 0; i < 30000; i++) {
        char line[80];
        snprintf(line, sizeof line, "r%d ::= \"a\" r%d | \"b\"\n", i, i + 1);
        kite_buf_puts(&big, line);
    }
    kite_buf_puts(&big, "r30000 ::= \"c\"\n");
    kite_grammar *gb = NULL;
    CHECK(!big.nomem && kite_grammar_parse(big.ptr, NULL, &gb) == KITE_OK, "%s", kite_last_error());
    if (gb) {
        char *s = malloc(30002);
        memset(s, 'a', 30000);
        strcpy(s + 30000, "c");
        CHECK(matches(gb, s) && matches(gb, "aab") && !matches(gb, "aac"), "the chain grammar");
        free(s);
    }
    kite_grammar_free(gb);
    kite_buf_free(&big);
    // deep nesting is refused, not a stack overflow
    char deep[2048] = "root ::= ";
    for (int i = 0; i < 600; i++) strcat(deep, "(");
    expect_error(__LINE__, deep, NULL, "nested too deeply");
}

// Nested repetitions double the live parses per level: up to the stack limit (8192) a long text
// still matches; past it the text is refused with that reason, not as a mismatch.
static void test_ambiguous(void) {
    char text[41];
    memset(text, 'a', 40);
    text[40] = 0;
    for (int levels = 10; levels <= 16; levels += 6) {
        char grammar[64] = "root ::= \"a\"";
        for (int i = 0; i < levels; i++) strcat(grammar, "+");
        kite_grammar *g = NULL;
        kite_grammar_state *st = NULL;
        CHECK(kite_grammar_parse(grammar, NULL, &g) == KITE_OK, "%s: %s", grammar, kite_last_error());
        CHECK(g && kite_grammar_state_new(g, &st) == KITE_OK, "%s: %s", grammar, kite_last_error());
        if (st) {
            const bool ok = kite_grammar_state_accept(st, text, 40);
            if (levels == 10) CHECK(ok && kite_grammar_state_can_end(st), "%s: %s", grammar, kite_last_error());
            else
                CHECK(!ok && strstr(kite_last_error(), "too ambiguous"), "%s: accepted %d, error \"%s\"", grammar, ok,
                      kite_last_error());
        }
        kite_grammar_state_free(st);
        kite_grammar_free(g);
    }
}

// ---- masking tokens --------------------------------------------------------------------------

// A small vocabulary with ASCII, multi-byte chars, a token split inside a UTF-8 sequence, an
// empty token and an end-of-generation token (id 0).
static const char *const toy_pieces[] = {
    "</s>", "{", "}", "\"", "a", "ab", "b", "\"a", "\"}", " ", ":", ",", "1", "12", "\xc3", "\xa9", "\xc3\xa9",
    "\xe2\x82", "\xac", "\xe2\x82\xac", "", "x", "{\"", "\"a\":", "true", "\xa9\"",
};
#define N_TOY ((int32_t)(sizeof toy_pieces / sizeof toy_pieces[0]))

static int32_t toy_piece(void *user, int32_t id, char *buf, int32_t cap) {
    (void)user;
    int32_t n = (int32_t)strlen(id == 0 ? "" : toy_pieces[id]);
    if (n > cap) return -n;
    memcpy(buf, id == 0 ? "" : toy_pieces[id], (size_t)n);
    return n;
}
static bool toy_eog(void *user, int32_t id) { return (void)user, id == 0; }

// The mask must keep exactly the tokens whose text the state accepts when fed on its own (and
// EOG only when the grammar can end). Walks the text `path` (token ids) checking every step.
static void check_mask_path(const char *grammar, const int32_t *path, int n_path) {
    kite_grammar *g = NULL;
    CHECK(kite_grammar_parse(grammar, NULL, &g) == KITE_OK, "%s", kite_last_error());
    kite_grammar_vocab *v = NULL;
    CHECK(kite_grammar_vocab_new(N_TOY, toy_piece, toy_eog, NULL, &v) == KITE_OK, "%s", kite_last_error());
    kite_grammar_state *st = NULL;
    if (!g || !v || kite_grammar_state_new(g, &st) != KITE_OK) goto done;
    for (int step = 0; step <= n_path; step++) {
        // replay the path so far into a fresh state per candidate
        float logits[N_TOY];
        for (int i = 0; i < N_TOY; i++) logits[i] = 0.0f;
        CHECK(kite_grammar_state_mask(st, v, logits, N_TOY) == KITE_OK, "%s", kite_last_error());
        for (int32_t id = 0; id < N_TOY; id++) {
            bool want;
            kite_grammar_state *t = NULL;
            kite_grammar_state_new(g, &t);
            for (int k = 0; k < step; k++) kite_grammar_state_accept(t, toy_pieces[path[k]], strlen(toy_pieces[path[k]]));
            if (id == 0) want = kite_grammar_state_can_end(t) || (!kite_grammar_state_can_end(t) && false);
            else if (!*toy_pieces[id]) want = false;
            else want = kite_grammar_state_accept(t, toy_pieces[id], strlen(toy_pieces[id]));
            if (id == 0) { // llama.cpp allows EOG when any parse is complete
                want = false;
                for (size_t i = 0; i < t->stacks.count; i++) want = want || t->stacks.size[i] == 0;
            }
            kite_grammar_state_free(t);
            CHECK(kite_grammar_state_allows(st, v, id) == want, "step %d: allows(%d) is not %d", step, id, want);
            CHECK((logits[id] == 0.0f) == want, "%s: step %d: token %d (\"%s\") %s", grammar, step, id, toy_pieces[id],
                  want ? "masked but acceptable" : "kept but not acceptable");
        }
        if (step < n_path)
            CHECK(kite_grammar_state_accept_token(st, v, path[step]) == KITE_OK, "step %d: %s", step, kite_last_error());
    }
    CHECK(kite_grammar_state_accept_token(st, v, 0) == KITE_OK, "EOG at the end: %s", kite_last_error());
done:
    kite_grammar_state_free(st);
    kite_grammar_vocab_free(v);
    kite_grammar_free(g);
}

static void test_mask(void) {
    // {"a": "é€"} split in odd places: "{\"" "a\":"... and a token boundary inside é and €
    const char *json_like = "root ::= \"{\" ws \"\\\"a\\\"\" ws \":\" ws str ws \"}\"\n"
                            "str ::= \"\\\"\" [^\"]* \"\\\"\"\nws ::= \" \"?";
    const int32_t path[] = {22, 4, 3, 10, 9, 3, 14, 15, 17, 18, 19, 3, 2};
    check_mask_path(json_like, path, (int)(sizeof path / sizeof path[0]));
    const int32_t path2[] = {22, 4, 3, 10, 3, 16, 14, 25, 2};
    check_mask_path(json_like, path2, (int)(sizeof path2 / sizeof path2[0]));
    const int32_t path3[] = {12, 13, 5};
    check_mask_path("root ::= [0-9]+ (\"ab\" | \"b\")?", path3, 3);
    // an EOG token before the grammar can end is refused
    kite_grammar *g;
    kite_grammar_vocab *v;
    kite_grammar_state *st;
    CHECK(kite_grammar_parse("root ::= \"ab\"", NULL, &g) == KITE_OK, "parse");
    CHECK(kite_grammar_vocab_new(N_TOY, toy_piece, toy_eog, NULL, &v) == KITE_OK, "vocab");
    CHECK(kite_grammar_state_new(g, &st) == KITE_OK, "state");
    CHECK(kite_grammar_state_accept_token(st, v, 0) == KITE_ERR_INVALID, "EOG accepted too early");
    CHECK(kite_grammar_state_accept_token(st, v, 6) == KITE_ERR_INVALID, "\"b\" accepted first");
    kite_grammar_state_free(st);
    kite_grammar_vocab_free(v);
    kite_grammar_free(g);
}

// ---- byte tokens and UTF-8 ------------------------------------------------------------------

// A vocabulary of the 256 single bytes (byte-fallback tokens: <0xNN>), then EOG (256).
static int32_t byte_piece(void *user, int32_t id, char *buf, int32_t cap) {
    (void)user;
    if (id == 256) return 0;
    if (cap < 1) return -1;
    buf[0] = (char)id;
    return 1;
}
static bool byte_eog(void *user, int32_t id) { return (void)user, id == 256; }

// Walks byte tokens after `prefix` (a well-formed start): each next byte is allowed exactly when
// the bytes stay well-formed UTF-8 and (grammar `[^a]*`) are not 'a' or NUL (a NUL ends a C
// string: never a token's text); the grammar that negates every code point allows no byte.
static void check_bytes_after(const kite_grammar *not_a, const kite_grammar *none, const kite_grammar_vocab *v,
                              const uint8_t *prefix, size_t n) {
    kite_grammar_state *sa = NULL, *sn = NULL;
    CHECK(kite_grammar_state_new(not_a, &sa) == KITE_OK && kite_grammar_state_new(none, &sn) == KITE_OK, "state");
    for (size_t k = 0; sa && k < n; k++)
        CHECK(kite_grammar_state_accept_token(sa, v, prefix[k]) == KITE_OK, "prefix byte %zu (0x%02X) refused", k,
              prefix[k]);
    float logits[257];
    for (int i = 0; i < 257; i++) logits[i] = 0.0f;
    CHECK(sa && kite_grammar_state_mask(sa, v, logits, 257) == KITE_OK, "mask");
    uint8_t b[8];
    if (n) memcpy(b, prefix, n);
    for (int32_t id = 0; id < 256 && sa; id++) {
        b[n] = (uint8_t)id;
        const bool want = id != 0 && id != 'a' && utf8_prefix_ok(b, n + 1);
        CHECK(kite_grammar_state_allows(sa, v, id) == want, "[^a]* after %zu bytes (%02X..): byte 0x%02X %s", n,
              n ? prefix[0] : 0, id, want ? "refused" : "allowed");
        CHECK((logits[id] == 0.0f) == want, "[^a]* after %zu bytes: the mask %s byte 0x%02X", n,
              want ? "drops" : "keeps", id);
        if (n == 0)
            CHECK(sn && !kite_grammar_state_allows(sn, v, id), "[^\\x00-\\U0010FFFF]*: byte 0x%02X allowed", id);
    }
    kite_grammar_state_free(sa);
    kite_grammar_state_free(sn);
}

static void test_utf8_bytes(void) {
    kite_grammar *not_a = NULL, *none = NULL;
    kite_grammar_vocab *v = NULL;
    CHECK(kite_grammar_parse("root ::= [^a]*", NULL, &not_a) == KITE_OK, "%s", kite_last_error());
    CHECK(kite_grammar_parse("root ::= [^\\x00-\\U0010FFFF]*", NULL, &none) == KITE_OK, "%s", kite_last_error());
    CHECK(kite_grammar_vocab_new(257, byte_piece, byte_eog, NULL, &v) == KITE_OK, "%s", kite_last_error());
    if (!not_a || !none || !v) goto done;
    check_bytes_after(not_a, none, v, NULL, 0);
    // every lead byte, then the sequences at the edges of table 3-7 (overlong, surrogate, U+10FFFF)
    for (int c = 0xC2; c <= 0xF4; c++) check_bytes_after(not_a, none, v, (const uint8_t[]){(uint8_t)c}, 1);
    static const uint8_t edges[][3] = {{0xE0, 0xA0},       {0xED, 0x9F},       {0xEF, 0xBF},      {0xF0, 0x90},
                                       {0xF4, 0x8F},       {0xF0, 0x90, 0x80}, {0xF4, 0x8F, 0xBF}, {0xF3, 0xBF, 0xBF}};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        check_bytes_after(not_a, none, v, edges[i], edges[i][2] ? 3 : 2);
    // the same bytes as text: the ill-formed ones are not matched, the well-formed ones are
    static const char *const bad[] = {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xED\xA0\x80",
                                      "\xED\xBF\xBF", "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80",
                                      "\xF5\x80\x80\x80", "\xF8\x88\x80\x80\x80", "\xFF", "\x80", "b\xBF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!matches(not_a, bad[i]), "[^a]* matches ill-formed bytes #%zu", i);
        CHECK(!matches(none, bad[i]), "[^\\x00-\\U0010FFFF]* matches ill-formed bytes #%zu", i);
    }
    static const char *const good[] = {"\xC2\x80", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80", "\xF0\x90\x80\x80",
                                       "\xF4\x8F\xBF\xBF", "b\xC3\xA9"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(matches(not_a, good[i]), "[^a]* refuses well-formed #%zu", i);
done:
    kite_grammar_vocab_free(v);
    kite_grammar_free(not_a);
    kite_grammar_free(none);
}

// A lazy grammar (trigger word `{"`): free text first, the grammar from the trigger on, even
// when the trigger is split across tokens and free text came before it in the same token.
// ---- token elements ---------------------------------------------------------------------------

// test-grammar-integration.cpp's vocabulary for token elements: token N < 100 is "<[N]>" (its
// parse_tokens' piece), 100 + b is the one byte b (its other pieces are single chars of id 0;
// any id but 11 / 13 / 14 / 21 reads the same in these grammars).
static int32_t int_piece(void *user, int32_t id, char *buf, int32_t cap) {
    (void)user;
    char t[16];
    int n = id < 100 ? snprintf(t, sizeof t, "<[%d]>", (int)id) : (t[0] = (char)(id - 100), 1);
    if (n > cap) return -n;
    memcpy(buf, t, (size_t)n);
    return n;
}
static bool no_eog(void *user, int32_t id) { return (void)user, (void)id, false; }

// Feeds s as tokens: "\xff" N is token N, any other byte b is token 100 + b.
static bool matches_tokens(const kite_grammar *g, const kite_grammar_vocab *v, const char *s) {
    kite_grammar_state *st;
    if (kite_grammar_state_new(g, &st) != KITE_OK) return false;
    bool ok = true;
    for (; ok && *s; s++) {
        int32_t id = (uint8_t)*s == 0xff ? (uint8_t)*++s : 100 + (uint8_t)*s;
        ok = kite_grammar_state_accept_token(st, v, id) == KITE_OK;
    }
    ok = ok && kite_grammar_state_can_end(st);
    kite_grammar_state_free(st);
    return ok;
}

// The test's tokenizer: "<[N]>" is token N (as int_piece writes it), any other text a token per byte.
static int32_t int_tokenize(void *user, const char *text, size_t len, int32_t *ids, int32_t cap) {
    (void)user;
    int id = -1, end = 0;
    if (sscanf(text, "<[%d]>%n", &id, &end) == 1 && (size_t)end == len && id >= 0 && id < 100) {
        if (cap > 0) ids[0] = id;
        return 1;
    }
    for (size_t i = 0; i < len && (int32_t)i < cap; i++) ids[i] = 100 + (uint8_t)text[i];
    return (int32_t)len;
}

static void test_token_literals(void) {
    kite_grammar_tokenizer tk = {356, int_tokenize, NULL};
    kite_grammar *g = NULL;
    // a literal is the one token its text (brackets included) tokenizes to
    CHECK(kite_grammar_parse_tokens("root ::= <[10]> \"x\" !<[11]>", NULL, &tk, &g) == KITE_OK, "%s", kite_last_error());
    CHECK(g && g->elems[0].type == KITE__G_TOKEN && g->elems[0].value == 10 && g->elems[2].type == KITE__G_TOKEN_NOT &&
              g->elems[2].value == 11,
          "literal elements");
    kite_grammar_free(g);
    g = NULL;
    static const struct {
        const char *gbnf, *want;
    } bad[] = {
        {"root ::= \"a\" |\n  <ab>", "line 2, column 3: invalid token '<ab>': it is 4 tokens in this vocabulary, not one"},
        {"root ::= <[356]>", "line 1, column 10: token id 356 is outside the vocabulary of 356 tokens"},
        {"root ::= !<>", "line 1, column 11: invalid token '<>'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kite_status s = kite_grammar_parse_tokens(bad[i].gbnf, NULL, &tk, &g);
        CHECK(s == KITE_ERR_INVALID && !g && strstr(kite_last_error(), bad[i].want), "%s: \"%s\" lacks \"%s\"", bad[i].gbnf,
              kite_last_error(), bad[i].want);
        kite_grammar_free(g);
        g = NULL;
    }
}

static void test_token_elements(void) {
    kite_grammar_vocab *v = NULL;
    CHECK(kite_grammar_vocab_new(356, int_piece, no_eog, NULL, &v) == KITE_OK, "%s", kite_last_error());
    // test-grammar-integration.cpp: "simple grammar with tokens", "complex grammar with tokens"
    // (token(N) is \xff N here)
    static const struct {
        const char *gbnf, *pass[6], *fail[6];
    } cases[] = {
        {"root ::= <[10]> content <[11]>\ncontent ::= (!<[11]>)*",
         {"\xff\x0ahello world\xff\x0b", "\xff\x0atext with \xff\x0c other tokens \xff\x0d mixed in\xff\x0b",
          "\xff\x0a\xff\x0b", "\xff\x0a\xff\x0c\xff\x0d\xff\x0e\xff\x0f\xff\x0b", "\xff\x0a" "a\xff\x0b"},
         {"\xff\x0amissing end token", "\xff\x0a", "missing start token\xff\x0b", "\xff\x0a\xff\x0b\xff\x0b",
          "\xff\x0bwrong order\xff\x0a"}},
        {"root ::= reasoning+ content tool-call*\nreasoning ::= <[10]> (!<[11]>)* <[11]>\n"
         "content ::= <[20]> (!<[21]>)* <[21]>\ntool-call ::= <[12]> name <[13]> args <[14]>\n"
         "name ::= (!<[13]>)+\nargs ::= (!<[14]>)*",
         {"\xff\x0aI am thinking\xff\x0b\xff\x14hello world!\xff\x15\xff\x0csearch\xff\x0dquery=test\xff\x0e",
          "\xff\x0areasoning 1\xff\x0b\xff\x0areasoning 2\xff\x0b\xff\x14\xff\x15\xff\x0ctool\xff\x0d\xff\x0e",
          "\xff\x0a\xff\x0b\xff\x14" "content\xff\x15",
          "\xff\x0athink\xff\x0c nested\xff\x0b\xff\x14\xff\x0amore content\xff\x15\xff\x0c" "fn\xff\x0dx=1,y=2\xff\x0e"
          "\xff\x0c" "fn2\xff\x0d\xff\x0e"},
         {"\xff\x14" "content only\xff\x15", "\xff\x0ano closing reasoning", "\xff\x0a\xff\x0b\xff\x14no closing content",
          "\xff\x0a\xff\x0b\xff\x14\xff\x15\xff\x0cincomplete tool", "\xff\x0a\xff\x0b\xff\x0b\xff\x14\xff\x15"}},
    };
    for (size_t c = 0; v && c < sizeof cases / sizeof cases[0]; c++) {
        kite_grammar *g = NULL;
        CHECK(kite_grammar_parse(cases[c].gbnf, NULL, &g) == KITE_OK, "%s", kite_last_error());
        if (!g) continue;
        for (int i = 0; i < 6 && cases[c].pass[i]; i++) CHECK(matches_tokens(g, v, cases[c].pass[i]), "case %zu: pass %d refused", c, i);
        for (int i = 0; i < 6 && cases[c].fail[i]; i++) CHECK(!matches_tokens(g, v, cases[c].fail[i]), "case %zu: fail %d accepted", c, i);
        // text never matches a token element
        CHECK(!matches(g, "<[10]>hello<[11]>"), "case %zu: a token element matched text", c);
        kite_grammar_free(g);
    }
    // the mask keeps exactly what accept_token takes, also for a token whose text would run from
    // chars into a token element ("<" then any token: "<[12]>" is not "<" and a whole token)
    const char *grammars[] = {"root ::= \"<\" !<[11]> \"b\"", "root ::= <[10]> [a-z]* <[11]> | \"ab\" <[12]>"};
    const char *walks[] = {"<\xff\x0c" "b", "\xff\x0a" "ab\xff\x0b"};
    for (size_t c = 0; v && c < 2; c++) {
        kite_grammar *g = NULL;
        kite_grammar_state *st = NULL;
        CHECK(kite_grammar_parse(grammars[c], NULL, &g) == KITE_OK && kite_grammar_state_new(g, &st) == KITE_OK, "%s",
              kite_last_error());
        for (const char *w = walks[c]; st && *w; w++) {
            float logits[356] = {0};
            CHECK(kite_grammar_state_mask(st, v, logits, 356) == KITE_OK, "%s", kite_last_error());
            for (int32_t id = 0; id < 356; id++) {
                kite_grammar_state *t = NULL;
                kite_grammar_state_new(g, &t);
                for (const char *p = walks[c]; p < w; p++) {
                    int32_t pid = (uint8_t)*p == 0xff ? (uint8_t)*++p : 100 + (uint8_t)*p;
                    kite_grammar_state_accept_token(t, v, pid);
                }
                bool want = kite_grammar_state_accept_token(t, v, id) == KITE_OK;
                kite_grammar_state_free(t);
                CHECK((logits[id] == 0.0f) == want, "%s: at %zu: token %d masked %d", grammars[c], (size_t)(w - walks[c]), id, !want);
                CHECK(kite_grammar_state_allows(st, v, id) == want, "%s: allows(%d)", grammars[c], id);
            }
            int32_t id = (uint8_t)*w == 0xff ? (uint8_t)*++w : 100 + (uint8_t)*w;
            CHECK(kite_grammar_state_accept_token(st, v, id) == KITE_OK, "%s: %s", grammars[c], kite_last_error());
        }
        CHECK(st && kite_grammar_state_can_end(st), "%s: walk not complete", grammars[c]);
        kite_grammar_state_free(st);
        kite_grammar_free(g);
    }
    kite_grammar_vocab_free(v);
}

static void test_lazy(void) {
    kite_grammar *g;
    kite_grammar_vocab *v;
    kite_grammar_state *st;
    const char *const trig[] = {"{\""};
    CHECK(kite_grammar_parse("root ::= \"{\\\"a\\\":\" [0-9]+ \"}\"", NULL, &g) == KITE_OK, "%s", kite_last_error());
    CHECK(kite_grammar_vocab_new(N_TOY, toy_piece, toy_eog, NULL, &v) == KITE_OK, "vocab");
    CHECK(kite_grammar_state_new(g, &st) == KITE_OK, "state");
    CHECK(kite_grammar_state_set_triggers(st, trig, 0) == KITE_ERR_INVALID, "no words accepted");
    const char *const empty[] = {""};
    CHECK(kite_grammar_state_set_triggers(st, empty, 1) == KITE_ERR_INVALID, "an empty word accepted");
    CHECK(kite_grammar_state_set_triggers(st, trig, 1) == KITE_OK, "%s", kite_last_error());
    // waiting: everything goes, nothing is masked, the text may end
    float logits[N_TOY];
    for (int32_t i = 0; i < N_TOY; i++) logits[i] = (float)i;
    CHECK(kite_grammar_state_mask(st, v, logits, N_TOY) == KITE_OK, "mask");
    for (int32_t i = 0; i < N_TOY; i++) CHECK(logits[i] == (float)i, "token %d masked while waiting", i);
    CHECK(kite_grammar_state_allows(st, v, 21) && kite_grammar_state_allows(st, v, 0), "free tokens refused");
    CHECK(kite_grammar_state_can_end(st) && !kite_grammar_state_must_end(st), "end while waiting");
    // "x" "a" "{": no trigger yet ("{" may begin one)
    CHECK(kite_grammar_state_accept_token(st, v, 21) == KITE_OK && kite_grammar_state_accept_token(st, v, 4) == KITE_OK &&
              kite_grammar_state_accept_token(st, v, 1) == KITE_OK, "free text refused");
    CHECK(kite_grammar_state_waiting(st), "triggered too early");
    // "\"a\":" completes the trigger across the two tokens: the grammar has taken {"a":
    CHECK(kite_grammar_state_accept_token(st, v, 23) == KITE_OK, "%s", kite_last_error());
    CHECK(!kite_grammar_state_waiting(st), "trigger missed");
    CHECK(kite_grammar_state_allows(st, v, 12) && !kite_grammar_state_allows(st, v, 21), "digits after {\"a\":");
    CHECK(!kite_grammar_state_allows(st, v, 0) && !kite_grammar_state_can_end(st), "may end before }");
    CHECK(kite_grammar_state_accept_token(st, v, 13) == KITE_OK && kite_grammar_state_accept_token(st, v, 2) == KITE_OK,
          "the call refused");
    CHECK(kite_grammar_state_must_end(st) && kite_grammar_state_allows(st, v, 0), "not complete after }");
    kite_grammar_state_free(st);
    // free text and the trigger in one piece of text, then text the grammar cannot take
    CHECK(kite_grammar_state_new(g, &st) == KITE_OK && kite_grammar_state_set_triggers(st, trig, 1) == KITE_OK, "state");
    CHECK(kite_grammar_state_accept(st, "hello {\"a\":4", 12), "text with the trigger refused");
    CHECK(!kite_grammar_state_waiting(st) && !kite_grammar_state_accept(st, "x", 1), "text after the trigger not checked");
    kite_grammar_state_free(st);
    kite_grammar_vocab_free(v);
    kite_grammar_free(g);
}

// ---- test-json-schema-to-grammar.cpp ---------------------------------------------------------

// llama.cpp's trim: outer blanks, and blanks at the start of each line.
static char *trim_lines(const char *s) {
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t')) n--;
    char *o = malloc(n + 1);
    size_t k = 0;
    bool line_start = true;
    for (size_t i = 0; i < n; i++) {
        if (line_start && (s[i] == ' ' || s[i] == '\t')) continue;
        line_start = s[i] == '\n';
        o[k++] = s[i];
    }
    o[k] = 0;
    return o;
}

static void test_schema_cases(void) {
    int n_same = 0, n_total = 0;
    for (size_t c = 0; c < sizeof schema_cases / sizeof schema_cases[0]; c++) {
        const schema_case *tc = &schema_cases[c];
        char *got = NULL;
        kite_status s = kite_json_schema_to_grammar(tc->schema, strlen(tc->schema), &got);
        n_total++;
        if (!tc->ok) {
            CHECK(s != KITE_OK, "line %d (%s): converted a schema llama.cpp refuses", tc->line, tc->name);
            if (s != KITE_OK) n_same++;
            free(got);
            continue;
        }
        CHECK(s == KITE_OK, "line %d (%s): %s", tc->line, tc->name, kite_last_error());
        if (s != KITE_OK) continue;
        char *a = trim_lines(got), *b = trim_lines(tc->grammar);
        bool same = strcmp(a, b) == 0;
        CHECK(same, "line %d (%s):\n--- got\n%s\n--- want\n%s", tc->line, tc->name, a, b);
        n_same += same;
        // and the grammar parses
        kite_grammar *g = NULL;
        CHECK(kite_grammar_parse(got, NULL, &g) == KITE_OK, "line %d (%s): %s", tc->line, tc->name, kite_last_error());
        kite_grammar_free(g);
        free(a);
        free(b);
        free(got);
    }
    printf("schema -> grammar: %d of %d cases as llama.cpp\n", n_same, n_total);
}

// 5400 alternatives: each gets a rule of its own.
#define CASE_E10 "{\"const\": 1},{\"const\": 2},{\"const\": 3},{\"const\": 4},{\"const\": 5}," \
                 "{\"const\": 6},{\"const\": 7},{\"const\": 8},{\"const\": 9},{\"const\": 0},"
#define CASE_E60 CASE_E10 CASE_E10 CASE_E10 CASE_E10 CASE_E10 CASE_E10
#define CASE_E540 CASE_E60 CASE_E60 CASE_E60 CASE_E60 CASE_E60 CASE_E60 CASE_E60 CASE_E60 CASE_E60
#define CASE_ENUMS CASE_E540 CASE_E540 CASE_E540 CASE_E540 CASE_E540 CASE_E540 CASE_E540 CASE_E540 CASE_E540 \
    CASE_E540 "{\"const\": 1}"

// Schemas the converter refuses, with the message naming the problem.
static void test_schema_errors(void) {
    static const struct {
        const char *schema, *want;
    } cases[] = {
        {"{\"type\": \"kaboom\"}", "JSON schema error at #: unrecognized type kaboom"},
        {"{\"type\": 123}", "type must be a string or an array of strings"},
        {"{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"#/$defs/x\"}}}", "cannot resolve $ref #/$defs/x"},
        {"{\"$ref\": \"http://example.com/s.json\"}", "only references into the same document"},
        {"{\"type\": \"array\", \"minItems\": 3, \"maxItems\": 2}", "maxItems is below minItems"},
        {"{\"type\": \"array\", \"minItems\": -1}", "minItems must be a non-negative integer"},
        {"{\"type\": \"string\", \"minLength\": 5, \"maxLength\": 1}", "maxLength is below minLength"},
        {"{\"type\": \"integer\", \"minimum\": 5, \"maximum\": 1}", "no integer lies between"},
        {"{\"type\": \"string\", \"pattern\": \"^(a$\"}", "invalid pattern ^(a$: unbalanced parentheses"},
        {"{\"type\": \"string\", \"pattern\": \"^a{3,1}$\"}", "repetition maximum below its minimum"},
        {"{\"type\": \"string\", \"pattern\": \"^[a-Z]{2,3}$\"}", "reversed range in character class"},
        {"{\"enum\": []}", "enum must be a non-empty array"},
        {"{\"anyOf\": []}", "must not be empty"},
        {"{\"type\": \"array\", \"minItems\": 5000}", "its grammar is refused"},
        {"{\"type\": \"object\",", "invalid JSON at byte 18"},
        {"{\"const\": \"\xff\"}", "invalid UTF-8 in a string"},
        {"[1]", "schema must be an object"},
        {"{\"type\": \"object\", \"properties\": {\"a\": {\"not\": {\"type\": \"null\"}}}}",
         "JSON schema error at #/properties/a: unsupported keyword 'not'"},
        {"{\"type\": \"integer\", \"multipleOf\": 3}", "unsupported keyword 'multipleOf'"},
        {"{\"type\": \"object\", \"patternProperties\": {\"^x\": {}}}", "unsupported keyword 'patternProperties'"},
        {"{\"type\": \"array\", \"contains\": {\"const\": 1}}", "unsupported keyword 'contains'"},
        {"{\"if\": {\"type\": \"string\"}, \"then\": {\"minLength\": 2}}", "unsupported keyword 'if'"},
        {"{\"anyOf\": [" CASE_ENUMS "]}", "more than 5000 grammar rules"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *g = NULL;
        kite_status s = kite_json_schema_to_grammar(cases[i].schema, strlen(cases[i].schema), &g);
        CHECK(s == KITE_ERR_INVALID && !g, "%s: converted", cases[i].schema);
        CHECK(strstr(kite_last_error(), cases[i].want) != NULL, "%s: error \"%s\" lacks \"%s\"", cases[i].schema,
              kite_last_error(), cases[i].want);
        free(g);
    }
    // an unsupported (but valid) pattern falls back to any string, as llama.cpp does
    char *g = NULL;
    const char *lookahead = "{\"type\": \"string\", \"pattern\": \"^(?=a)b$\"}";
    CHECK(kite_json_schema_to_grammar(lookahead, strlen(lookahead), &g) == KITE_OK, "%s", kite_last_error());
    CHECK(g && strstr(g, "root ::= string\n") && strstr(g, "string ::= \"\\\"\" char* \"\\\"\""), "fallback: %s",
          g ? g : "(null)");
    free(g);
    // json_object: any object, not other values
    CHECK(kite_json_object_grammar(&g) == KITE_OK, "%s", kite_last_error());
    kite_grammar *gr = NULL;
    CHECK(g && kite_grammar_parse(g, NULL, &gr) == KITE_OK, "%s", kite_last_error());
    if (gr) {
        CHECK(matches(gr, "{\"a\": [1, {\"b\": null}], \"c\": \"\\u00e9\"}"), "an object refused");
        CHECK(matches(gr, "{}"), "{} refused");
        CHECK(!matches(gr, "[1]") && !matches(gr, "\"s\"") && !matches(gr, "{\"a\": }"), "a non-object accepted");
    }
    kite_grammar_free(gr);
    free(g);
}

// kite_json_schema_to_grammar_rule: the named rule is the schema's value whatever the schema is
// (found by fuzz_json_schema: a primitive's rule was named after its type, integer / string /
// array, and the conversion failed with "no rule named 'args'").
static void test_schema_rule(void) {
    static const struct {
        const char *schema, *yes, *no;
    } cases[] = {
        {"{\"type\": \"integer\"}", "-12", "1.5"},
        {"{\"type\": \"string\"}", "\"x\"", "x"},
        {"{\"type\": \"boolean\"}", "true", "null"},
        {"{\"type\": \"number\", \"minimum\": 1}", "2.5e3", "\"2\""},
        {"{\"type\": \"array\", \"items\": {}}", "[1, \"a\"]", "{}"},
        {"{\"type\": \"object\"}", "{\"a\": 1}", "[]"},
        {"{\"$ref\": \"#/$defs/s\", \"$defs\": {\"s\": {\"type\": \"null\"}}}", "null", "0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = NULL;
        kite_grammar *g = NULL;
        kite_status s = kite_json_schema_to_grammar_rule(cases[i].schema, strlen(cases[i].schema), "args", &text);
        CHECK(s == KITE_OK, "%s as rule args: %s", cases[i].schema, kite_last_error());
        CHECK(!text || kite_grammar_parse(text, "args", &g) == KITE_OK, "%s: %s", cases[i].schema, kite_last_error());
        if (g) {
            CHECK(matches(g, cases[i].yes), "%s: rule args refuses %s", cases[i].schema, cases[i].yes);
            CHECK(!matches(g, cases[i].no), "%s: rule args accepts %s", cases[i].schema, cases[i].no);
        }
        kite_grammar_free(g);
        free(text);
    }
}

int main(void) {
    test_parser_vectors();
    test_errors();
    test_ambiguous();
    test_mask();
    test_utf8_bytes();
    test_lazy();
    test_token_elements();
    test_token_literals();
    test_integration_cases();
    test_schema_cases();
    test_schema_errors();
    test_schema_rule();
    return check_done("test_grammar");
}
