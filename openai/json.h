// json.h - a small strict JSON (RFC 8259) parser into a read-only tree, and a writer, for the
// HTTP server and the npm package's OpenAI-shaped requests. Hostile input never crashes it:
// every error is a message naming the problem and its byte offset.
#ifndef KITE_NATIVE_JSON_H
#define KITE_NATIVE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kite_buf.h"

typedef enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    bool boolean;          // JSON_BOOL
    double number;         // JSON_NUMBER
    const char *str;       // JSON_STRING: decoded UTF-8, NUL-terminated (may also hold \u0000)
    size_t len;            // JSON_STRING: bytes in str; JSON_ARRAY / JSON_OBJECT: element count
    const char *key;       // member name when the value sits in an object (decoded, NUL-terminated)
    size_t key_len;
    const json_value *child; // first element / member
    const json_value *next;  // next sibling in the parent
};

typedef struct json_doc json_doc;

// Nesting deeper than this is refused (it bounds the parser's recursion).
#define JSON_MAX_DEPTH 64
// More values than this are refused: each costs a tree node (~72 bytes) per input byte or two,
// so the cap bounds memory at about 20 MB whatever the input; strings count once each.
#define JSON_MAX_VALUES (1 << 18)

// Parses text[0..len) as one JSON value. Returns NULL (and a message naming the problem and its
// byte offset in err) on malformed input, invalid UTF-8, nesting deeper than JSON_MAX_DEPTH,
// more than JSON_MAX_VALUES values, or an allocation failure. Free the document with json_free.
json_doc *json_parse(const char *text, size_t len, char *err, size_t err_size);
const json_value *json_root(const json_doc *d);
void json_free(json_doc *d);

// The member `key` of an object (the last one when a key repeats), or NULL when v is not an
// object or has no such member.
const json_value *json_get(const json_value *v, const char *key);

// "null", "boolean", "number", "string", "array", "object".
const char *json_type_name(json_type t);

// ---- writer -------------------------------------------------------------------------------

#define JSON_WRITER_DEPTH 32

// Appends JSON text to a growable buffer, placing commas itself. out.nomem latches an allocation
// failure (the text is then incomplete); misuse (a value where a key is due) sets bad.
typedef struct json_writer {
    kite_buf out; // the text so far (out.ptr, out.len)
    bool bad;
    int depth;
    int count[JSON_WRITER_DEPTH]; // items written in each open container
    bool after_key;
} json_writer;

void jw_begin_object(json_writer *w);
void jw_end_object(json_writer *w);
void jw_begin_array(json_writer *w);
void jw_end_array(json_writer *w);
void jw_key(json_writer *w, const char *key);
// A string value; valid UTF-8 is kept, control characters escaped, invalid bytes become U+FFFD.
void jw_string(json_writer *w, const char *s, size_t n);
void jw_cstr(json_writer *w, const char *s);
void jw_int(json_writer *w, long long v);
void jw_number(json_writer *w, double v); // non-finite numbers are written as null
void jw_bool(json_writer *w, bool v);
void jw_null(json_writer *w);
// Frees the buffer and zeroes the writer.
void jw_free(json_writer *w);

// Length of the longest prefix of s[0..n) that does not end inside a UTF-8 sequence which the
// following bytes could still complete (so streamed text is cut only between characters).
size_t json_utf8_complete(const char *s, size_t n);

#endif
