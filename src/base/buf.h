// buf.h - the growable byte buffer every writer in the tree appends to (encoded GGUF keys,
// chat templates, JSON, generated text, in-memory sinks). Internal: not part of the public API.
#ifndef KITE_BASE_BUF_H
#define KITE_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kite_base.h"

// Starts zeroed ({0}). After any append ptr is NUL-terminated (ptr[len] == 0) so text can be
// used as a C string; an empty buffer may still have ptr == NULL.
typedef struct kite__buf {
    union {
        char *ptr;      // the contents as text
        uint8_t *bytes; // the same contents as bytes (encoded files)
    };
    size_t len, cap;
    bool nomem; // an append failed (out of memory); latched: later appends do nothing
} kite__buf;

// Appends n bytes of data. Returns false, leaving the contents as they were and setting nomem,
// when memory runs out (or was out before).
bool kite__buf_append(kite__buf *b, const void *data, size_t n);

// Appends a C string (without its NUL).
bool kite__buf_puts(kite__buf *b, const char *s);

// A kite_sink appending to b; a failed append returns KITE_ERR_NOMEM with a message.
kite_sink kite__buf_sink(kite__buf *b);

// Frees the bytes and zeroes b.
void kite__buf_free(kite__buf *b);

#endif
