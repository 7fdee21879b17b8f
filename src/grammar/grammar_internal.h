// grammar_internal.h - the parsed form of a grammar and the parse-stack sets (internal; the unit
// tests compare the parsed rules with llama.cpp's test-grammar-parser vectors).
#ifndef KITE_GRAMMAR_INTERNAL_H
#define KITE_GRAMMAR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grammar/kite_grammar.h"

// Element types, numbered as llama.cpp's llama_gretype so the parser's output reads the same.
enum {
    KITE__G_END = 0,      // end of a rule definition
    KITE__G_ALT = 1,      // start of an alternate definition of the rule
    KITE__G_RULE_REF = 2, // value: rule id
    KITE__G_CHAR = 3,     // value: code point (starts a char class)
    KITE__G_CHAR_NOT = 4, // value: code point (starts a negated char class)
    KITE__G_CHAR_RNG_UPPER = 5, // value: upper bound of the range the previous CHAR / CHAR_ALT starts
    KITE__G_CHAR_ALT = 6, // value: another code point of the class
    KITE__G_CHAR_ANY = 7, // `.`: any code point
    KITE__G_TOKEN = 8,    // value: token id (<[id]> or a <...> literal): that one token
    KITE__G_TOKEN_NOT = 9, // value: token id (!<...>): any one token but that one
};

typedef struct kite__gelem {
    uint32_t type;
    uint32_t value;
} kite__gelem;

struct kite_grammar {
    kite__gelem *elems;   // every rule's elements, rule after rule, each ending in END
    size_t n_elems;
    uint32_t *rule_start; // (n_rules) index of each rule's first element in elems
    char **names;         // (n_rules) rule names ("root", "root_1" for generated ones)
    uint32_t n_rules;
    uint32_t root;
    bool has_tokens; // some rule has a TOKEN / TOKEN_NOT element
};

// A set of parse stacks. Stack i is data[start[i] .. start[i] + size[i]) (element indices into
// the grammar's elems, the top last); an empty stack means a complete parse. Past a few stacks,
// lookups go through a hash index of the first `indexed` stacks (slots hold stack number + 1, 0
// empty; `slots` in use, a power of two, 0 while the set is searched linearly), so a set of n
// stacks is built in O(n) lookups, not O(n^2) comparisons.
typedef struct kite__stacks {
    uint32_t *data;
    size_t len, cap;
    uint32_t *start, *size;
    size_t count, cap_count;
    uint32_t *index;
    size_t slots, cap_slots, indexed;
} kite__stacks;

// A parse may not hold more stacks than this: an ambiguous grammar could otherwise grow the
// set without bound.
#define KITE__GRAMMAR_MAX_STACKS 8192

#endif
