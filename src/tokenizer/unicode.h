// unicode.h - code point flags, UTF-8 coding and GPT-2's byte<->code point map, shared by the
// tokenizer's files (internal: not part of the public API).
#ifndef KITE_TOKENIZER_UNICODE_H
#define KITE_TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

// One bit per Unicode general category (exactly one is set per code point), plus whitespace.
// tools/gen_unicode_tables.py writes the same numbers.
#define KITE_UC_UNDEFINED 0x0001  // Cn, and anything past U+10FFFF
#define KITE_UC_NUMBER 0x0002     // \p{N}
#define KITE_UC_LETTER 0x0004     // \p{L}
#define KITE_UC_SEPARATOR 0x0008  // \p{Z}
#define KITE_UC_MARK 0x0010       // \p{M}
#define KITE_UC_PUNCT 0x0020      // \p{P}
#define KITE_UC_SYMBOL 0x0040     // \p{S}
#define KITE_UC_CONTROL 0x0080    // \p{C}
#define KITE_UC_CATEGORIES 0x00FF
#define KITE_UC_WHITESPACE 0x0100 // \s (Unicode White_Space)

#define KITE_UC_MAX 0x110000u
#define KITE_UC_REPLACEMENT 0xFFFDu

typedef struct kite__uc_range {
    uint32_t start;
    uint16_t flags;
} kite__uc_range;

// Generated (unicode_tables.c): sorted ranges; entry i covers [start_i, start_{i+1}).
extern const kite__uc_range kite__uc_ranges[];
extern const uint32_t kite__uc_n_ranges;
extern const uint16_t kite__uc_latin1[256]; // flags of U+0000..U+00FF

// Flags of a code point (KITE_UC_UNDEFINED past U+10FFFF).
uint16_t kite__uc_flags(uint32_t cpt);

// Bytes of the UTF-8 sequence a lead byte announces, by its high nibble (1 for continuation
// bytes), as llama.cpp splits SPM input into symbols.
size_t kite__utf8_len(uint8_t lead);

// Decodes one code point at s[0..n) (n >= 1) the way llama.cpp does: an invalid or truncated
// sequence yields U+FFFD and consumes one byte; overlong forms and surrogates are accepted.
// *adv gets the bytes consumed.
uint32_t kite__utf8_decode(const uint8_t *s, size_t n, size_t *adv);

// GPT-2's reversible byte <-> printable code point map used by byte-level BPE vocabularies.
uint32_t kite__byte_to_cpt(uint8_t b);
// The byte a code point stands for, or -1 if it is not in the map.
int kite__cpt_to_byte(uint32_t cpt);

#endif
