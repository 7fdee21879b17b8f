// json_schema_internal.h - what the files of the JSON schema -> GBNF converter share (internal):
// the converter's state, the kinds of schema, and the helpers each file offers the others.
//
//   json_schema.c            the entry points, $ref and the walk over a schema (visit)
//   json_schema_kind.c       what a schema is: its kind, formats, counts, bounds, $ref targets
//   json_schema_rules.c      the rule table, the built-in rules, the converter's errors
//   json_schema_text.c       text helpers: printf, literals, rule names, repetitions
//   json_schema_combine.c    anyOf / oneOf / type arrays, and allOf
//   json_schema_object.c     objects: properties, required and additional ones
//   json_schema_array.c      arrays and tuples
//   json_schema_string.c     strings: lengths, formats, and strings that are none of a list
//   json_schema_pattern.c    string patterns (a regular expression as rules)
//   json_schema_integer.c    integers and their ranges
//
// Every function here that makes a rule returns a malloc'd rule name or body (the caller frees
// it), or NULL with c->fatal set on a schema error or out of memory.
#ifndef KITE_GRAMMAR_JSON_SCHEMA_INTERNAL_H
#define KITE_GRAMMAR_JSON_SCHEMA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kite_base.h"
#include "base/kite_buf.h"
#include "grammar/json_tree.h"

// A built-in rule: its body and the built-ins that body uses.
typedef struct builtin {
    const char *name, *content;
    const char *deps[6];
} builtin;

// The kinds of schema (the node kinds of llama.cpp's schema builder).
typedef enum kind {
    K_ANY, K_REF, K_ANY_OF, K_ALL_OF, K_CONST, K_ENUM, K_NULL, K_BOOLEAN, K_NUMBER, K_INTEGER, K_STRING, K_ARRAY,
    K_TUPLE, K_OBJECT,
} kind;

// The converter's state, one per conversion.
typedef struct conv {
    const kite__jval *root;
    char **names, **bodies; // the rules (printed sorted by name)
    size_t n_rules, cap_rules;
    char **resolving; // $refs being converted (a cycle stops at them)
    size_t n_resolving;
    kite__jval **made; // schemas made here ({"type": one of several}); freed at the end
    size_t n_made;
    kite__jval **copies; // shallow copies of values (their members belong to the document)
    size_t n_copies;
    kite_buf errors;   // conversion errors (llama.cpp collects these and fails at the end)
    kite_status fatal; // a schema error (fails at once) or out of memory
    char fatal_msg[300];
} conv;

// A property of an object schema: its name, its schema and its path (malloc'd) for messages.
typedef struct prop {
    const char *name;
    const kite__jval *schema;
    char *path;
} prop;

// ---- json_schema.c ----

// The rule for schema s, named after `name` ("" = root); `path` names s in error messages.
char *kite__js_visit(conv *c, const kite__jval *s, const char *name, const char *path);

// ---- json_schema_text.c ----

// A malloc'd printf result (NULL when out of memory).
char *kite__js_fmt(const char *f, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
// The buffer's text as a malloc'd string ("" when empty, NULL when it ran out of memory); b is
// left empty.
char *kite__js_take(kite_buf *b);
// Appends s[0..n) as a GBNF literal: "..." with \r \n " \ escaped (llama.cpp's format_literal).
void kite__js_put_literal(kite_buf *b, const char *s, size_t n);
// The literal rule of a JSON value: its compact text, quoted (NULL when out of memory).
char *kite__js_constant_rule(const kite__jval *v);
// "path/ab" (b may be NULL), malloc'd.
char *kite__js_sub_path(const char *path, const char *a, const char *b);
// Appends to b: item repeated min..max times (max INT32_MAX: no bound), the repeats separated by
// sep when sep is not NULL or "" (llama.cpp's build_repetition).
void kite__js_put_repetition(kite_buf *b, const char *item, int min, int max, const char *sep);
// Appends s to b as a GBNF rule name: letters, digits and '-' kept, each run of other bytes one '-'.
void kite__js_append_rule_name(kite_buf *b, const char *s);

// ---- json_schema_rules.c ----

// Records a schema error at path (the first one wins); returns NULL.
char *kite__js_fail(conv *c, const char *path, const char *msg);
// Records running out of memory (unless an error came first); returns NULL.
char *kite__js_nomem(conv *c);
// The body of the rule called name, NULL when there is none.
const char *kite__js_rule_body(const conv *c, const char *name);
// Sets (adds or replaces) the rule name ::= body; false with c->fatal set on failure.
bool kite__js_set_rule(conv *c, const char *name, const char *body);
// Adds the rule name ::= body (llama.cpp's _add_rule): the name made a rule name; a different
// rule already of that name gets name0, name1, ... Returns the name used (NULL with body NULL).
char *kite__js_add_rule(conv *c, const char *name, const char *body);
// The built-in rule called name (NULL when there is none).
const builtin *kite__js_find_builtin(const char *name);
// Whether name is "root" or a built-in rule's name.
bool kite__js_is_reserved(const char *name);
// Adds built-in r under name, and the built-ins it uses; returns the name used.
char *kite__js_add_primitive(conv *c, const char *name, const builtin *r);
// The built-in rule of type (a primitive), named root when rule_name is "root".
char *kite__js_visit_primitive(conv *c, const char *rule_name, const char *type);

// ---- json_schema_kind.c ----

// The string formats a grammar knows (F_BAD: "format" is not a string).
enum { F_NONE, F_DATE, F_TIME, F_DATE_TIME, F_UUID, F_BAD };

// The member key of object v (NULL when absent).
const kite__jval *kite__js_get(const kite__jval *v, const char *key);
// The format of string schema s.
int kite__js_get_format(const kite__jval *s);
// Whether v is the JSON value true.
bool kite__js_is_true(const kite__jval *v);
// The kind of schema s; K_ANY with c->fatal set on a schema error.
kind kite__js_kind_of(conv *c, const kite__jval *s, const char *path);
// A count keyword (minItems ...): def when absent, -2 (and c->fatal) when not a count.
int kite__js_get_count(conv *c, const kite__jval *s, const char *key, const char *path, int def);
// An integer bound, a fractional one rounded inwards (up for a minimum); false with c->fatal set
// when v is not a number.
bool kite__js_get_bound(conv *c, const kite__jval *v, const char *key, const char *path, bool round_up, int64_t *out);
// The schema a "#/..." reference points at (NULL and c->fatal when it cannot be resolved).
const kite__jval *kite__js_resolve_ref(conv *c, const char *ref, const char *path);

// ---- the rules of each kind of schema: each returns the rule name (or NULL, see the top) ----

// anyOf / oneOf / a type array: the alternatives' schemas into *out (malloc'd, n of them) and
// their path into *alt_path (malloc'd); 0 with c->fatal on an error. (json_schema_combine.c)
size_t kite__js_alternatives(conv *c, const kite__jval *s, const char *path, const kite__jval ***out, char **alt_path);
// The body of a union of alternatives, each its own rule named after name. (json_schema_combine.c)
char *kite__js_union_rule(conv *c, const kite__jval *const *alts, size_t n, const char *name, const char *path);
// allOf: the rule_name rule of the values the enums share, else the object merged from the parts.
// (json_schema_combine.c)
char *kite__js_visit_all_of(conv *c, const kite__jval *s, const char *name, const char *rule_name, const char *path);
// The body of an object rule with props, the required ones, and additional properties of schema
// additional (NULL: none). (json_schema_object.c)
char *kite__js_build_object_rule(conv *c, prop *props, size_t n_props, char **required, size_t n_req,
                                 const char *name, const kite__jval *additional, const char *path);
// An object schema (type object, properties, additionalProperties). (json_schema_object.c)
char *kite__js_visit_object(conv *c, const kite__jval *s, const char *name, const char *rule_name, const char *path);
// A tuple (items or prefixItems an array of schemas). (json_schema_array.c)
char *kite__js_visit_tuple(conv *c, const kite__jval *s, const char *rule_name, const char *sub_name,
                           const char *path);
// An array (items one schema, minItems, maxItems). (json_schema_array.c)
char *kite__js_visit_array(conv *c, const kite__jval *s, const char *rule_name, const char *sub_name,
                           const char *path);
// A string (pattern, format, minLength, maxLength). (json_schema_string.c)
char *kite__js_visit_string(conv *c, const kite__jval *s, const char *rule_name, const char *path);
// The body of a rule for the JSON strings that are none of strings[0..n) (llama.cpp's
// _not_strings). (json_schema_string.c)
char *kite__js_not_strings(conv *c, char **strings, size_t n);
// A string pattern ("^...$") as the rule `name`: any string when the pattern has no grammar
// equivalent (with a warning), an error in c->errors when it is invalid. (json_schema_pattern.c)
char *kite__js_visit_pattern(conv *c, const char *pattern, size_t plen, const char *name);
// An integer (minimum, maximum and their exclusive forms). (json_schema_integer.c)
char *kite__js_visit_integer(conv *c, const kite__jval *s, const char *rule_name, const char *path);
// The name of the rule body (freed here) as rule_name, as each kind's rule ends. (json_schema.c)
char *kite__js_name_body(conv *c, const char *rule_name, char *body);

#endif
