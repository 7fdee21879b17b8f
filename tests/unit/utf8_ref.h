// utf8_ref.h - well-formed UTF-8 as Unicode's table 3-7 defines it, the reference the grammar
// tests judge byte tokens by (written from the standard, not from the decoder under test).
#ifndef KITE_TEST_UTF8_REF_H
#define KITE_TEST_UTF8_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Whether b[0..n) is well-formed UTF-8 or the start of it (a last sequence may be cut short).
static inline bool utf8_prefix_ok(const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n;) {
        const uint8_t c = b[i];
        size_t len = 4;
        uint8_t lo = 0x80, hi = 0xBF; // the second byte's range
        if (c < 0x80) len = 1;
        else if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4) lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else return false;
        for (size_t k = 1; k < len && i + k < n; k++)
            if (b[i + k] < (k == 1 ? lo : 0x80) || b[i + k] > (k == 1 ? hi : 0xBF)) return false;
        i += len;
    }
    return true;
}

#endif
