// grammar_match.h - the matcher's internals shared by grammar_match.c (stacks, chars) and
// grammar_tokens.c (masking a vocabulary).
#ifndef KITE_GRAMMAR_MATCH_H
#define KITE_GRAMMAR_MATCH_H

#include "grammar/grammar_internal.h"

// A UTF-8 sequence cut short: the bits so far, how many continuation bytes are still due (-1:
// the bytes were invalid) and the sequence's whole length in bytes (2 to 4 while n_remain > 0).
typedef struct kite__partial_utf8 {
    uint32_t value;
    int n_remain;
    int len;
} kite__partial_utf8;

struct kite_grammar_state {
    const kite_grammar *g;
    kite__stacks stacks;      // the live parses
    kite__partial_utf8 partial;
    bool dead;                // the text seen cannot be continued into a sentence
    kite__stacks next, todo, seen; // scratch
    uint32_t *cps;            // scratch for decoded text
    size_t cap_cps;
    // lazy (kite_grammar_state_set_triggers): free text until a trigger word appears
    char **triggers;
    size_t n_triggers, max_trigger; // max_trigger: the longest word's length
    bool waiting;                   // no trigger seen yet: nothing is constrained
    char *tail;                     // while waiting, the end of the text that could begin a trigger
    size_t n_tail;
};

// While st waits for its trigger: takes text, and when a trigger appears matches the text from
// it on as kite_grammar_state_accept does (grammar_lazy.c).
bool kite__grammar_lazy_accept(kite_grammar_state *st, const char *text, size_t len);

// Empties s (its memory kept).
void kite__stacks_clear(kite__stacks *s);
// Drops s's last stack (s not empty).
void kite__stacks_pop(kite__stacks *s);
void kite__stacks_free(kite__stacks *s);
// Whether s holds the stack e[0..n): a hash lookup once s has more than a few stacks.
bool kite__stacks_find(kite__stacks *s, const uint32_t *e, uint32_t n);
// Appends a stack; KITE_ERR_INVALID past KITE__GRAMMAR_MAX_STACKS, KITE_ERR_NOMEM.
kite_status kite__stacks_push(kite__stacks *s, const uint32_t *e, uint32_t n);

// Does code point c match the char class starting at element pos? *ok says; returns the
// element after the class.
uint32_t kite__grammar_match_char(const kite_grammar *g, uint32_t pos, uint32_t c, bool *ok);

// Could some completion of the partial char into a Unicode scalar value satisfy the class at pos?
bool kite__grammar_match_partial(const kite_grammar *g, uint32_t pos, kite__partial_utf8 pu);

// Expands stack[0..n) until every resulting stack has a char class on top (or is empty) and
// adds the results not already in out. todo and seen are scratch.
kite_status kite__grammar_advance(const kite_grammar *g, const uint32_t *stack, uint32_t n, kite__stacks *out,
                                  kite__stacks *todo, kite__stacks *seen);

// Whether e is a token element (TOKEN / TOKEN_NOT): matched by a whole token's id, never by chars.
static inline bool kite__grammar_is_token(const kite__gelem *e) {
    return e->type == KITE__G_TOKEN || e->type == KITE__G_TOKEN_NOT;
}

// Whether token id matches the token element e.
static inline bool kite__grammar_match_token(const kite__gelem *e, int32_t id) {
    return (e->value == (uint32_t)id) == (e->type == KITE__G_TOKEN);
}

// Moves every stack of in over code point c into out (stacks that cannot take it, or whose top
// is a token element, are dropped; out keeps what it had). todo and seen are scratch.
kite_status kite__grammar_accept_cp_set(const kite_grammar *g, const kite__stacks *in, uint32_t c, kite__stacks *out,
                                       kite__stacks *todo, kite__stacks *seen);

// Moves every stack of st over code point c (stacks that cannot take it are dropped).
kite_status kite__grammar_accept_cp(kite_grammar_state *st, uint32_t c);

// Decodes bytes b[0..n) continuing the partial char *pu, as llama.cpp's decode_utf8 does but
// strictly: complete code points go to out (room for n + 1), *pu becomes the trailing partial
// char. A byte that makes the text ill-formed UTF-8 (Unicode's table 3-7: a stray continuation
// byte, C0 / C1 / F5-FF, an overlong form, a surrogate, past U+10FFFF) is caught where it
// occurs: n_remain -1 and 0 code points. So no grammar, however it negates its classes, takes a
// token that breaks the text's UTF-8. Returns the number of code points.
size_t kite__grammar_utf8_decode(const uint8_t *b, size_t n, kite__partial_utf8 *pu, uint32_t *out);

#endif
