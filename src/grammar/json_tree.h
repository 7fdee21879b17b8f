// json_tree.h - a small strict JSON reader (objects keep their members' order) and a compact
// writer, for the JSON schema converter (internal).
#ifndef KITE_GRAMMAR_JSON_TREE_H
#define KITE_GRAMMAR_JSON_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kite_buf.h"
#include "base/kite_base.h"

typedef enum kite__jtype { KITE__J_NULL, KITE__J_BOOL, KITE__J_NUM, KITE__J_STR, KITE__J_ARR, KITE__J_OBJ } kite__jtype;

typedef struct kite__jval kite__jval;
struct kite__jval {
    kite__jtype type;
    bool b;
    bool is_int;      // a number written without fraction or exponent that fits int64
    int64_t i;
    double d;
    char *s;          // KITE__J_STR: decoded UTF-8 (NUL-terminated; slen bytes)
    size_t slen;
    char *key;        // member name inside an object
    size_t n;         // KITE__J_ARR / KITE__J_OBJ: number of items
    size_t cap;       // room in items
    kite__jval **items;
};

// Parses text[0..len) into a tree (free with kite__json_free). KITE_ERR_INVALID with the byte
// offset for malformed JSON or nesting deeper than 64; KITE_ERR_NOMEM.
kite_status kite__json_parse(const char *text, size_t len, kite__jval **out);
void kite__json_free(kite__jval *v);

// The member `key` of an object (NULL when v is not an object or lacks it).
const kite__jval *kite__json_get(const kite__jval *v, const char *key);

// Appends v as compact JSON (as nlohmann's dump(): no spaces, "\n" "\u0001"-style escapes,
// UTF-8 kept). Returns false on allocation failure.
bool kite__json_dump(const kite__jval *v, kite_buf *out);

// Appends s[0..n) as a JSON string literal.
bool kite__json_dump_string(const char *s, size_t n, kite_buf *out);

// Appends code point c (at most 0x1FFFFF) to b as UTF-8; false when out of memory.
bool kite__json_put_utf8(kite_buf *b, uint32_t c);

#endif
