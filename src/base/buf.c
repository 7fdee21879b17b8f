// buf.c - the growable byte buffer (base/kite_buf.h).
#include "base/kite_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/internal.h"

bool kite_buf_append(kite_buf *b, const void *data, size_t n) {
    if (b->nomem) return false;
    if (n == 0) return true;
    // +1 keeps room for the NUL after the bytes
    if (n > SIZE_MAX - b->len - 1) {
        b->nomem = true;
        return false;
    }
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        // doubling from 256 keeps appends amortized O(1) without wasting much on small strings
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        char *p = realloc(b->ptr, cap);
        if (!p) {
            b->nomem = true;
            return false;
        }
        b->ptr = p;
        b->cap = cap;
    }
    memcpy(b->ptr + b->len, data, n);
    b->len += n;
    b->ptr[b->len] = 0;
    return true;
}

bool kite_buf_puts(kite_buf *b, const char *s) { return kite_buf_append(b, s, strlen(s)); }

bool kite_buf_printf(kite_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    const int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    bool ok = false;
    if (n >= 0 && (size_t)n < sizeof small) {
        ok = kite_buf_append(b, small, (size_t)n);
    } else if (n >= 0) { // longer: formatted again into a buffer of its size
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, aq);
            ok = kite_buf_append(b, big, (size_t)n);
            free(big);
        } else {
            b->nomem = true;
        }
    }
    va_end(aq);
    return ok;
}

static kite_status buf_write(void *user, const void *data, size_t n) {
    kite_buf *b = user;
    if (kite_buf_append(b, data, n)) return KITE_OK;
    return kite__fail(KITE_ERR_NOMEM, "out of memory (%zu bytes of output so far, %zu more)", b->len, n);
}

kite_sink kite_buf_sink(kite_buf *b) { return (kite_sink){buf_write, b}; }

void kite_buf_free(kite_buf *b) {
    free(b->ptr);
    *b = (kite_buf){0};
}
