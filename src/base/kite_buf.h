// kite_buf.h - the growable byte buffer every writer in the tree appends to (encoded GGUF keys,
// chat templates, JSON, generated text, in-memory sinks). Public: hosts use it for their own
// text and as an in-memory kite_sink.
#ifndef KITE_BUF_H
#define KITE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kite_base.h"

// Starts zeroed ({0}). After any append ptr is NUL-terminated (ptr[len] == 0) so text can be
// used as a C string; an empty buffer may still have ptr == NULL.
typedef struct kite_buf {
    union {
        char *ptr;      // the contents as text
        uint8_t *bytes; // the same contents as bytes (encoded files)
    };
    size_t len, cap;
    bool nomem; // an append failed (out of memory); latched: later appends do nothing
} kite_buf;

// Appends n bytes of data. Returns false, leaving the contents as they were and setting nomem,
// when memory runs out (or was out before).
bool kite_buf_append(kite_buf *b, const void *data, size_t n);

// Appends a C string (without its NUL).
bool kite_buf_puts(kite_buf *b, const char *s);

// Appends printf-formatted text, whatever its length. False as kite_buf_append (also when the
// format itself fails).
bool kite_buf_printf(kite_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

// A kite_sink appending to b; a failed append returns KITE_ERR_NOMEM with a message.
kite_sink kite_buf_sink(kite_buf *b);

// Frees the bytes and zeroes b.
void kite_buf_free(kite_buf *b);

#endif
