// tokenize.c - kite_tokenize: split the text on special tokens (longest first), tokenize the
// text between them with SPM or BPE, add BOS/EOS as the model asks.
#include "tokenizer/tok_internal.h"

// A piece of the input: plain text [off, off+len) or one special token (id >= 0).
typedef struct fragment {
    int32_t id;
    size_t off, len;
} fragment;

typedef struct fragments {
    fragment *f;
    size_t n, cap;
} fragments;

static kite_status push_frag(fragments *fs, int32_t id, size_t off, size_t len) {
    if (fs->n == fs->cap) {
        size_t c = fs->cap ? fs->cap * 2 : 16;
        fragment *p = realloc(fs->f, c * sizeof *p);
        if (!p) return kite__fail(KITE_ERR_NOMEM, "tokenize: out of memory");
        fs->f = p;
        fs->cap = c;
    }
    fs->f[fs->n++] = (fragment){id, off, len};
    return KITE_OK;
}

// isspace() of the C locale, as llama.cpp strips around special tokens.
static bool c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static const char *find_bytes(const char *h, size_t hn, const char *n, size_t nn) {
    if (nn == 0 || nn > hn) return NULL;
    const char *end = h + hn - nn;
    for (const char *p = h; p <= end; p++) {
        p = memchr(p, n[0], (size_t)(end - p) + 1);
        if (!p) return NULL;
        if (memcmp(p, n, nn) == 0) return p;
    }
    return NULL;
}

// Replaces each text fragment of *fs by the text around each occurrence of token id and the
// token itself; the token's LSTRIP/RSTRIP attributes eat the whitespace beside it.
static kite_status split_on(const kite_vocab *v, const char *text, int32_t id, fragments *fs, fragments *tmp) {
    const kite__token *t = &v->tok[id];
    const char *tt = v->text + t->off;
    tmp->n = 0;
    for (size_t i = 0; i < fs->n; i++) {
        fragment f = fs->f[i];
        if (f.id >= 0) {
            KITE_TRY(push_frag(tmp, f.id, 0, 0));
            continue;
        }
        size_t off = f.off, rem = f.len;
        while (rem > 0) {
            const char *m = find_bytes(text + off, rem, tt, t->len);
            if (!m) {
                KITE_TRY(push_frag(tmp, -1, off, rem));
                break;
            }
            size_t mo = (size_t)(m - text), left = mo - off;
            if (t->attr & KITE_ATTR_LSTRIP)
                while (left > 0 && c_space(text[off + left - 1])) left--;
            if (left > 0) KITE_TRY(push_frag(tmp, -1, off, left));
            KITE_TRY(push_frag(tmp, id, 0, 0));
            size_t end = off + rem;
            off = mo + t->len;
            rem = end - off;
            if (t->attr & KITE_ATTR_RSTRIP)
                while (rem > 0 && c_space(text[off])) off++, rem--;
        }
    }
    fragments x = *fs;
    *fs = *tmp;
    *tmp = x;
    return KITE_OK;
}

static kite_status partition(const kite_vocab *v, const char *text, size_t len, bool parse_special, fragments *fs) {
    fragments tmp = {0};
    kite_status st = len ? push_frag(fs, -1, 0, len) : KITE_OK;
    for (int32_t i = 0; st == KITE_OK && i < v->n_special; i++) {
        int32_t id = v->special[i];
        // Control and unknown tokens are plain text unless parse_special; user-defined tokens
        // are always split out (as Hugging Face tokenizers do).
        if (!parse_special && (v->tok[id].attr & (KITE_ATTR_CONTROL | KITE_ATTR_UNKNOWN))) continue;
        st = split_on(v, text, id, fs, &tmp);
    }
    free(tmp.f);
    return st;
}

// SPM input: an optional leading space, then every space as U+2581 ("\xe2\x96\x81").
static kite_status spm_fragment(const kite_vocab *v, const char *s, size_t n, bool prefix, kite__ids *out) {
    if (n >= SIZE_MAX / 3) return kite__fail(KITE_ERR_INVALID, "tokenize: text of %zu bytes is too long", n);
    char *buf = malloc(3 * (n + 1));
    if (!buf) return kite__fail(KITE_ERR_NOMEM, "tokenize: out of memory for %zu bytes", n);
    size_t k = 0;
    for (size_t i = 0; i < n + prefix; i++) {
        char c = (prefix && i == 0) ? ' ' : s[i - prefix];
        if (c == ' ') {
            memcpy(buf + k, "\xe2\x96\x81", 3);
            k += 3;
        } else {
            buf[k++] = c;
        }
    }
    kite_status st = kite__spm_tokenize(v, buf, k, out);
    free(buf);
    return st;
}

kite_status kite_tokenize(const kite_vocab *v, const char *text, size_t len, bool add_special,
                          bool parse_special, int32_t *ids, int32_t cap, int32_t *n_ids) {
    *n_ids = 0;
    if (!text && len) return kite__fail(KITE_ERR_INVALID, "tokenize: NULL text of length %zu", len);
    if (add_special && v->add_bos && v->bos < 0)
        return kite__fail(KITE_ERR_INVALID, "tokenize: the model asks for BOS but has no BOS token");
    if (add_special && v->add_eos && v->eos < 0)
        return kite__fail(KITE_ERR_INVALID, "tokenize: the model asks for EOS but has no EOS token");
    fragments fs = {0};
    kite__ids out = {0};
    kite_status st = partition(v, text, len, parse_special, &fs);
    if (st == KITE_OK && add_special && v->add_bos) st = kite__ids_push(&out, v->bos);
    bool prev_special = true; // SPM: the first text fragment gets the space prefix too
    for (size_t i = 0; st == KITE_OK && i < fs.n; i++) {
        fragment f = fs.f[i];
        if (f.id >= 0) {
            st = kite__ids_push(&out, f.id);
            prev_special = true;
        } else if (v->type == KITE_VOCAB_SPM) {
            st = spm_fragment(v, text + f.off, f.len, v->add_space_prefix && prev_special, &out);
            prev_special = false;
        } else {
            st = kite__bpe_tokenize(v, text + f.off, f.len, &out);
        }
    }
    if (st == KITE_OK && add_special && v->add_eos) st = kite__ids_push(&out, v->eos);
    if (st == KITE_OK) {
        if (out.n > INT32_MAX) {
            st = kite__fail(KITE_ERR_INVALID, "tokenize: %zu tokens exceed the int32 range", out.n);
        } else {
            *n_ids = (int32_t)out.n;
            if (out.n > (size_t)(cap > 0 ? cap : 0))
                st = kite__fail(KITE_ERR_INVALID, "tokenize: %zu tokens do not fit the buffer of %d", out.n, cap);
            else if (out.n)
                memcpy(ids, out.p, out.n * sizeof *ids);
        }
    }
    free(fs.f);
    free(out.p);
    return st;
}

kite_status kite_tokenize_alloc(const kite_vocab *v, const char *text, size_t len, bool add_special,
                                bool parse_special, int32_t **ids, int32_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    if (len > (size_t)INT32_MAX / 2) return kite__fail(KITE_ERR_INVALID, "text of %zu bytes is too long to tokenize", len);
    // Nearly always enough (a token covers at least one byte, plus BOS/EOS); when not (an
    // invalid byte can become a 3-byte U+FFFD token in BPE), kite_tokenize says how many.
    int32_t cap = (int32_t)len + 8;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *buf = malloc((size_t)cap * sizeof *buf);
        if (!buf) return kite__fail(KITE_ERR_NOMEM, "out of memory for %d token ids", cap);
        int32_t n = 0;
        kite_status s = kite_tokenize(v, text, len, add_special, parse_special, buf, cap, &n);
        if (s == KITE_OK) {
            *ids = buf;
            *n_ids = n;
            return KITE_OK;
        }
        free(buf);
        if (s != KITE_ERR_INVALID || n <= cap) return s;
        cap = n;
    }
    return kite__fail(KITE_ERR_INVALID, "tokenize: the token count changed between two runs");
}
