// unicode.c - code point flags lookup, llama.cpp-compatible UTF-8 decoding, GPT-2 byte map.
#include "tokenizer/unicode.h"

uint16_t kite__uc_flags(uint32_t cpt) {
    if (cpt < 256) return kite__uc_latin1[cpt];
    if (cpt >= KITE_UC_MAX) return KITE_UC_UNDEFINED;
    // Binary search for the last range starting at or before cpt.
    uint32_t lo = 0, hi = kite__uc_n_ranges; // invariant: ranges[lo].start <= cpt < ranges[hi].start
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (kite__uc_ranges[mid].start <= cpt) lo = mid;
        else hi = mid;
    }
    return kite__uc_ranges[lo].flags;
}

size_t kite__utf8_len(uint8_t lead) {
    static const uint8_t len_by_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len_by_nibble[lead >> 4];
}

static int is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

uint32_t kite__utf8_decode(const uint8_t *s, size_t n, size_t *adv) {
    uint8_t b = s[0];
    *adv = 1;
    if (b < 0x80) return b;
    if (!(b & 0x40)) return KITE_UC_REPLACEMENT; // stray continuation byte
    if (!(b & 0x20)) {
        if (n < 2 || !is_cont(s[1])) return KITE_UC_REPLACEMENT;
        *adv = 2;
        return ((uint32_t)(b & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (!(b & 0x10)) {
        if (n < 3 || !is_cont(s[1]) || !is_cont(s[2])) return KITE_UC_REPLACEMENT;
        *adv = 3;
        return ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    if (!(b & 0x08)) {
        if (n < 4 || !is_cont(s[1]) || !is_cont(s[2]) || !is_cont(s[3])) return KITE_UC_REPLACEMENT;
        *adv = 4;
        return ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
               ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    }
    return KITE_UC_REPLACEMENT; // 0xF8..0xFF never start a sequence
}

// GPT-2 keeps the printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) as
// themselves and maps the other 68 bytes, in increasing order, to U+0100, U+0101, ...: first
// 0x00..0x20 (33 bytes), then 0x7F..0xA0 (34 bytes), then 0xAD.
uint32_t kite__byte_to_cpt(uint8_t b) {
    if (b <= 0x20) return 256 + b;
    if (b >= 0x7F && b <= 0xA0) return 256 + 33 + (b - 0x7F);
    if (b == 0xAD) return 256 + 67;
    return b;
}

int kite__cpt_to_byte(uint32_t cpt) {
    if (cpt < 256) {
        if (cpt <= 0x20 || (cpt >= 0x7F && cpt <= 0xA0) || cpt == 0xAD) return -1;
        return (int)cpt;
    }
    uint32_t n = cpt - 256;
    if (n < 33) return (int)n;
    if (n < 67) return (int)(0x7F + n - 33);
    if (n == 67) return 0xAD;
    return -1;
}
