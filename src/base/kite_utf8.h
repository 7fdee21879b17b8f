// kite_utf8.h - the one UTF-8 encoder of the tree: the tokenizer's byte-level maps and
// detokenizer, the grammar's JSON strings and schema tries, the CLI's JSON parser. Public.
#ifndef KITE_UTF8_H
#define KITE_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define KITE_UTF8_MAX_UNICODE 0x10FFFFu // the last Unicode code point
#define KITE_UTF8_MAX_4BYTE 0x1FFFFFu   // the most a 4-byte sequence holds (21 bits)

// Encodes cpt as 1 to 4 bytes of UTF-8 into out and returns the count; returns 0 and writes
// nothing when cpt > max. max is at most KITE_UTF8_MAX_4BYTE: KITE_UTF8_MAX_UNICODE keeps to
// Unicode, KITE_UTF8_MAX_4BYTE re-encodes whatever a lenient 4-byte decoder produced.
// Surrogates are encoded like any other value.
size_t kite_utf8_encode(uint32_t cpt, uint32_t max, char out[4]);

#endif
