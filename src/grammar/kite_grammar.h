// kite_grammar.h - constrained output: GBNF grammars (llama.cpp's syntax), the per-sequence
// grammar state that masks the tokens a grammar cannot accept, and JSON schema -> GBNF.
#ifndef KITE_GRAMMAR_H
#define KITE_GRAMMAR_H

#include "base/kite_base.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- grammars -----------------------------------------------------------------------------

// A parsed grammar (immutable; share it between any number of states).
typedef struct kite_grammar kite_grammar;

// Parses GBNF text (llama.cpp's grammar syntax: `name ::= alternatives` rules; "literals",
// [char classes] with ranges and ^negation, `.`, (groups), `*` `+` `?` `{m}` `{m,}` `{m,n}`,
// \x \u \U \t \r \n escapes, # comments) with `root` as the start rule (NULL: "root").
// Fails with KITE_ERR_INVALID and a message naming the line and column of the problem on bad
// text, an undefined rule, a missing start rule or left recursion; KITE_ERR_NOMEM on allocation
// failure. Token elements by id (<[1234]>, !<[1234]>) are taken; token literals (<think>) need a
// vocabulary and are refused here (see kite_grammar_parse_tokens). *out is set only on success.
kite_status kite_grammar_parse(const char *text, const char *root, kite_grammar **out);

// The vocabulary a grammar's token elements refer to: n_tokens ids, and tokenize(user, text,
// len, ids, cap), which tokenizes text with special tokens recognized and no BOS/EOS added,
// writes up to cap ids and returns how many tokens the text is (< 0 on failure).
typedef struct kite_grammar_tokenizer {
    int32_t n_tokens;
    int32_t (*tokenize)(void *user, const char *text, size_t len, int32_t *ids, int32_t cap);
    void *user;
} kite_grammar_tokenizer;

// As kite_grammar_parse, with llama.cpp's token elements resolved against tk: `<[1234]>` is
// token 1234 (an error when tk is given and the id is outside its vocabulary), `<...>` is the
// token the text between and including the angle brackets tokenizes to (an error unless it is
// exactly one token; an error naming the position when tk is NULL), and `!<[1234]>` / `!<...>`
// is any single token but that one. A token element matches only a whole token, by its id.
kite_status kite_grammar_parse_tokens(const char *text, const char *root, const kite_grammar_tokenizer *tk,
                                      kite_grammar **out);

// Frees a grammar (NULL is fine). Free its states first.
void kite_grammar_free(kite_grammar *g);

// ---- matching text ------------------------------------------------------------------------

// Where a sequence is in a grammar: the set of parse stacks and a pending partial UTF-8 char.
typedef struct kite_grammar_state kite_grammar_state;

// A state at the start of the grammar's root rule. The grammar must outlive it.
kite_status kite_grammar_state_new(const kite_grammar *g, kite_grammar_state **out);
void kite_grammar_state_free(kite_grammar_state *st);

// Feeds UTF-8 bytes (a sequence may continue across calls). Returns true while the text so far
// is a prefix of some sentence of the grammar; false when it is not (the state is then dead:
// every later call returns false), or on allocation failure / too many parse stacks
// (kite_last_error says which).
bool kite_grammar_state_accept(kite_grammar_state *st, const char *text, size_t len);

// True when the text so far is a complete sentence of the grammar (no partial char pending).
bool kite_grammar_state_can_end(const kite_grammar_state *st);

// True when nothing at all can follow (every parse is complete).
bool kite_grammar_state_must_end(const kite_grammar_state *st);

// ---- lazy grammars -----------------------------------------------------------------------

// Makes a fresh state lazy, as llama.cpp's lazy grammars with trigger words: until one of the
// n words (non-empty UTF-8, copied) appears in the text fed to it, the state constrains nothing
// (mask keeps every token, allows says yes, any text is taken, it can end, it must not). From
// the first byte of the earliest trigger on, the text is matched against the grammar, whose
// start rule must therefore accept the trigger word itself (text before the trigger is free).
// Call before any text is fed. KITE_ERR_INVALID for a NULL state, no words or an empty one,
// KITE_ERR_NOMEM.
kite_status kite_grammar_state_set_triggers(kite_grammar_state *st, const char *const *words, size_t n);

// True while a lazy state is waiting for its trigger (false for a state that is not lazy).
bool kite_grammar_state_waiting(const kite_grammar_state *st);

// ---- masking tokens -----------------------------------------------------------------------

// A vocabulary's token texts decoded to code points once (building it costs one pass over the
// vocabulary; sharing one across sequences saves that per request). Immutable once built.
typedef struct kite_grammar_vocab kite_grammar_vocab;

// Builds the table for n_tokens tokens: piece(user, id, buf, cap) writes a token's text and
// returns its length (or -needed when cap is too small, as kite_token_to_piece does);
// is_eog(user, id) says whether a token ends generation.
kite_status kite_grammar_vocab_new(int32_t n_tokens, int32_t (*piece)(void *user, int32_t id, char *buf, int32_t cap),
                                   bool (*is_eog)(void *user, int32_t id), void *user, kite_grammar_vocab **out);
void kite_grammar_vocab_free(kite_grammar_vocab *v);

// Sets logits[id] to -infinity for every token of the n_vocab whose text the grammar cannot
// accept next (end-of-generation tokens unless the grammar can end; tokens without text unless
// a token element takes them by id), as llama.cpp's grammar sampler does. A token element takes
// only a whole token: one whose text would run from chars into it is refused. Returns KITE_ERR_NOMEM / KITE_ERR_INVALID (too many
// parse stacks) on failure, leaving logits partly masked.
kite_status kite_grammar_state_mask(kite_grammar_state *st, const kite_grammar_vocab *v, float *logits,
                                    int32_t n_vocab);

// Whether the grammar can take token id next (what kite_grammar_state_mask would keep), tested
// for this one token: the cheap check of llama.cpp's rejection sampling. false on failure too.
bool kite_grammar_state_allows(kite_grammar_state *st, const kite_grammar_vocab *v, int32_t id);

// Advances the state over token id: parses with a token element on top take it by its id, the
// others take its text. KITE_ERR_INVALID when the grammar cannot accept it (an
// end-of-generation token is accepted only when some parse is complete; it changes nothing).
kite_status kite_grammar_state_accept_token(kite_grammar_state *st, const kite_grammar_vocab *v, int32_t id);

// ---- JSON schema --------------------------------------------------------------------------

// Converts a JSON schema (JSON text, len bytes) to GBNF the way llama.cpp's
// json-schema-to-grammar does (types, properties / required / additionalProperties, enum,
// const, arrays with items / prefixItems / minItems / maxItems, string minLength / maxLength /
// format / pattern, integer bounds, $ref into $defs / definitions, anyOf / oneOf / allOf). An
// empty schema {} means any JSON value. The text is malloc'd into *out. KITE_ERR_INVALID with a
// message naming the problem and where (#/properties/a) for malformed JSON, an unknown type, a
// keyword that narrows values in a way the grammar cannot express (not, if/then/else,
// multipleOf, contains, patternProperties, min/maxProperties, ...; uniqueItems and number bounds
// are let through with a warning, as llama.cpp does) or an unresolvable $ref.
kite_status kite_json_schema_to_grammar(const char *schema, size_t len, char **out);

// As kite_json_schema_to_grammar, but the schema's value is the rule `name` (letters, digits and
// '-', not "root"; its helper rules are named after it, as llama.cpp's add_schema does) and there
// is no root rule: for a larger grammar that refers to it (a tool call around the arguments).
kite_status kite_json_schema_to_grammar_rule(const char *schema, size_t len, const char *name, char **out);

// GBNF for any JSON object (OpenAI's response_format {"type": "json_object"}), malloc'd.
kite_status kite_json_object_grammar(char **out);

#ifdef __cplusplus
}
#endif
#endif
