// tok_internal.h - the vocabulary's layout and the helpers the tokenizer's files share
// (internal: not part of the public API).
#ifndef KITE_TOKENIZER_INTERNAL_H
#define KITE_TOKENIZER_INTERNAL_H

#include "base/internal.h"
#include "tokenizer/kite_tokenizer.h"
#include "tokenizer/unicode.h"

// Token attributes: llama.cpp's llama_token_attr bits, since its rules are phrased in them.
#define KITE_ATTR_UNKNOWN 0x001
#define KITE_ATTR_UNUSED 0x002
#define KITE_ATTR_NORMAL 0x004
#define KITE_ATTR_CONTROL 0x008
#define KITE_ATTR_USER_DEFINED 0x010
#define KITE_ATTR_BYTE 0x020
#define KITE_ATTR_LSTRIP 0x080
#define KITE_ATTR_RSTRIP 0x100

typedef enum kite__vocab_type { KITE_VOCAB_SPM, KITE_VOCAB_BPE } kite__vocab_type;

// BPE pre-tokenizer families: each is one regex split sequence of llama.cpp.
typedef enum kite__pre_type {
    KITE_PRE_DEFAULT,   // punctuation runs, GPT-2, number runs, digit triples
    KITE_PRE_GPT2,      // GPT-2's regex alone
    KITE_PRE_STARCODER, // single digits, then GPT-2's regex (starcoder, smollm, ...)
    KITE_PRE_LLAMA3,    // llama3's regex (digits in groups of up to 3)
    KITE_PRE_QWEN2,     // llama3's regex with single digits
    KITE_PRE_QWEN35,    // qwen2's regex with marks joining letters
    KITE_PRE_GPT4O,     // cased letter runs, digits in groups of up to 3 (gpt-4o, llama4)
    KITE_PRE_TEKKEN,    // cased letter runs, single digits, no contractions (mistral tekken)
    KITE_PRE_FALCON,    // punctuation runs (with '`'), GPT-2, digit triples
    KITE_PRE_DEEPSEEK_CODER, // newlines, letter runs, punctuation runs, CJK runs, single digits
    KITE_PRE_SEED_CODER, // qwen2's regex without newlines after punctuation
    KITE_PRE_UFAKZEKA,   // qwen2's regex without contractions
    KITE_PRE_LAGUNA,     // newline runs, then qwen2's regex
    KITE_PRE_MINICPM5,   // digit groups of up to 3, then llama3's regex with \p{N}+
} kite__pre_type;

// ---- string -> int map (open addressing over keys held in an arena) -----------------------

typedef struct kite__strmap_slot {
    uint32_t off;  // key offset in base, UINT32_MAX when empty
    uint32_t len;  // key length
    int32_t val;
    uint32_t hash; // high bits of the key's hash: most mismatches never touch the arena
} kite__strmap_slot;

typedef struct kite__strmap {
    kite__strmap_slot *slot;
    uint32_t mask;    // slots - 1 (a power of two)
    const char *base; // the arena the keys live in
} kite__strmap;

kite_status kite__strmap_init(kite__strmap *m, const char *base, size_t n_keys);
void kite__strmap_free(kite__strmap *m);
// Inserts key base[off..off+len) -> val. If the key exists: replace (true) or keep the old value.
void kite__strmap_put(kite__strmap *m, uint32_t off, uint32_t len, int32_t val, bool replace);
// Looks up the key a[0..an) (+ ' ' + b[0..bn) when b is not NULL); -1 if absent.
int32_t kite__strmap_get(const kite__strmap *m, const char *a, size_t an, const char *b, size_t bn);

// ---- growable id list -----------------------------------------------------------------

typedef struct kite__ids {
    int32_t *p;
    size_t n, cap;
} kite__ids;

kite_status kite__ids_push(kite__ids *ids, int32_t id);

// ---- the vocabulary -------------------------------------------------------------------

typedef struct kite__token {
    uint32_t off; // text offset in kite_vocab.text (NUL-terminated there)
    uint32_t len;
    float score;
    uint32_t attr; // KITE_ATTR_*
} kite__token;

struct kite_vocab {
    kite__vocab_type type;
    kite__pre_type pre;
    int32_t n_tokens;
    kite__token *tok;
    char *text;           // all token texts, each NUL-terminated
    kite__strmap tok_map; // text -> id (a later duplicate wins, as in llama.cpp)
    char *merges;         // all merge strings "left right", each NUL-terminated
    kite__strmap merge_map; // "left right" -> rank (the first duplicate wins)

    int32_t bos, eos, eot, eom, unk, sep, pad, mask;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos, add_space_prefix, ignore_merges, clean_spaces;
    bool spm_cut_words; // SPM: no token has U+2581 right after another character

    int32_t *special;  // control/user-defined/unknown ids, longest text first
    int32_t n_special;
    uint8_t *eog;      // per id: 1 if it ends generation
};

// Special tokens (vocab_special.c): ids from the tokenizer.ggml.*_token_id keys, then
// llama.cpp's rules by text (EOT/EOM/FIM detection, end-of-generation set, unused and strip
// attributes) and the longest-first list of tokens split out before tokenizing.
void kite__vocab_read_special_ids(const kite_gguf *g, kite_vocab *v);
kite_status kite__vocab_special_rules(const kite_gguf *g, kite_vocab *v);

// SPM: appends the ids of one text fragment (spaces already escaped to U+2581).
kite_status kite__spm_tokenize(const kite_vocab *v, const char *text, size_t n, kite__ids *out);
// BPE: pre-tokenizes and merges one text fragment, appending its ids.
kite_status kite__bpe_tokenize(const kite_vocab *v, const char *text, size_t n, kite__ids *out);

// ---- bigram queue (SPM and BPE merges) ----------------------------------------------------

// A candidate merge of symbols left and right into a string of size bytes. The best is the
// highest score, ties to the leftmost (BPE uses score = -rank).
typedef struct kite__bigram {
    float score;
    int32_t left, right;
    uint32_t size;
} kite__bigram;

typedef struct kite__bigram_heap {
    kite__bigram *a;
    size_t n, cap;
} kite__bigram_heap;

kite_status kite__heap_push(kite__bigram_heap *h, kite__bigram b);
// Removes the best bigram into *out; false when empty.
bool kite__heap_pop(kite__bigram_heap *h, kite__bigram *out);

// A symbol of the merge loops: bytes text[0..n) of the current word, in a linked list.
typedef struct kite__symbol {
    int32_t prev, next;
    uint32_t off; // byte offset in the word
    uint32_t n;   // bytes; 0 once merged into its left neighbour
} kite__symbol;

// Fills sym with one symbol per UTF-8 character of text[0..n) (by the lead byte's announced
// length, clamped to the text), linked in order; returns how many (sym holds at least n).
int32_t kite__symbols_from_utf8(const char *text, size_t n, kite__symbol *sym);

// ---- pre-tokenizers (regex splits as hand-written scanners) -----------------------------
//
// Each split takes the text as code points with their flags, and the current pieces as
// lengths in code points (consecutive, covering the text); it appends the finer pieces to out.
// Like llama.cpp's regexes, a scanner never looks beyond the piece it is in.

typedef struct kite__pieces {
    size_t *len;
    size_t n, cap;
} kite__pieces;

kite_status kite__pieces_push(kite__pieces *p, size_t len);

typedef struct kite__cpt_text {
    const uint32_t *cpt;
    const uint16_t *flags;
    size_t n;
} kite__cpt_text;

// Code point / flags at p, or UINT32_MAX / 0 at or past end (the end of the current piece):
// the scanners' lookaheads stop there.
static inline uint32_t kite__cpt_at(const kite__cpt_text *t, size_t end, size_t p) {
    return p < end ? t->cpt[p] : UINT32_MAX;
}
static inline uint16_t kite__flags_at(const kite__cpt_text *t, size_t end, size_t p) {
    return p < end ? t->flags[p] : 0;
}

// Length (2 or 3) of the contraction 's 't 're 've 'm 'll or 'd starting at p (before end), or 0.
// any_case also takes their ASCII capitals (llama3's (?i:...), gpt-4o's '[sS]|...).
size_t kite__contraction_len(const kite__cpt_text *t, size_t end, size_t p, bool any_case);

// A scanner: the end of the match of its regex that starts at i, in the piece that ends at end,
// or i when none starts there (the split makes the text between matches a piece too); o points
// to the scanner's options (NULL when it has none).
typedef size_t (*kite__match_fn)(const kite__cpt_text *t, size_t i, size_t end, const void *o);

// The scanners whose regex matches at every code point (so every piece is a match), each the
// regex's alternatives tried in order:
// GPT-2's (pretok_gpt2.c; no options).
size_t kite__match_gpt2(const kite__cpt_text *t, size_t i, size_t end, const void *o);
typedef struct kite__llama3_opts {
    size_t max_digits;   // \p{N}{1,max_digits} (SIZE_MAX: \p{N}+)
    bool marks;          // [\p{L}\p{M}] in place of \p{L}
    bool contractions;   // the (?i:'s|'t|...) alternative
    bool punct_newlines; // [\r\n]* after a punctuation run
} kite__llama3_opts;
// llama3's and its relatives' (pretok_llama3.c; o: a kite__llama3_opts).
size_t kite__match_llama3(const kite__cpt_text *t, size_t i, size_t end, const void *o);
typedef struct kite__gpt4o_opts {
    size_t max_digits; // \p{N}{1,max_digits}
    bool contractions; // the '[sS]|'[tT]|... suffix of a word
} kite__gpt4o_opts;
// gpt-4o's and tekken's (pretok_gpt4o.c; o: a kite__gpt4o_opts).
size_t kite__match_gpt4o(const kite__cpt_text *t, size_t i, size_t end, const void *o);

kite_status kite__split_punct_runs(const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out);
kite_status kite__split_number_runs(const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out,
                                    bool single);
kite_status kite__split_digit_triples(const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out);

// Runs the pre-tokenizer of a family over t; *out gets the word lengths (code points).
kite_status kite__pretokenize(kite__pre_type pre, const kite__cpt_text *t, kite__pieces *out);

#endif
