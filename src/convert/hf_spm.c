// hf_spm.c - a SentencePiece tokenizer.model -> the GGUF tokenizer keys, as llama.cpp's
// _create_vocab_sentencepiece / _set_vocab_sentencepiece write them. The file is a protobuf
// ModelProto; only its pieces (field 1: SentencePiece {1: piece, 2: score, 3: type}) are read.
#include "convert/convert_internal.h"
#include "base/internal.h"

#include <stdio.h>

// SentencePiece's piece types, numbered as GGUF's token types.
enum { SP_NORMAL = 1, SP_UNKNOWN = 2, SP_CONTROL = 3, SP_USER_DEFINED = 4, SP_UNUSED = 5, SP_BYTE = 6 };

typedef struct pb {
    const uint8_t *p, *end;
} pb;

static bool pb_varint(pb *b, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && b->p < b->end; shift += 7) {
        uint8_t c = *b->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return true;
    }
    return false;
}

// One field: its number and wire type; for wire type 2 its bytes in *sub, for 0 its value in
// *v, 5 its 4 bytes in *v; 1 (8 bytes) is skipped. false on a malformed field.
static bool pb_field(pb *b, uint32_t *field, uint32_t *wire, pb *sub, uint64_t *v) {
    uint64_t key;
    if (!pb_varint(b, &key) || key >> 3 == 0 || key >> 3 > UINT32_MAX) return false;
    *field = (uint32_t)(key >> 3);
    *wire = key & 7;
    switch (*wire) {
    case 0: return pb_varint(b, v);
    case 1:
        if (b->end - b->p < 8) return false;
        b->p += 8;
        return true;
    case 2: {
        uint64_t n;
        if (!pb_varint(b, &n) || n > (uint64_t)(b->end - b->p)) return false;
        *sub = (pb){b->p, b->p + n};
        b->p += n;
        return true;
    }
    case 5:
        if (b->end - b->p < 4) return false;
        *v = (uint64_t)b->p[0] | (uint64_t)b->p[1] << 8 | (uint64_t)b->p[2] << 16 | (uint64_t)b->p[3] << 24;
        b->p += 4;
        return true;
    default: return false; // groups (3, 4) and unknown wire types
    }
}

typedef struct spm_vocab {
    uint32_t n;
    kite_str *text;
    float *scores;
    int32_t *types;
    char **owned; // texts made here (a user-defined token with its U+2581 as spaces), per id
} spm_vocab;

// Fills the pieces of ModelProto model[0..len) into v (ids past v->n are dropped, as llama.cpp).
static kite_status read_pieces(const uint8_t *model, uint64_t len, spm_vocab *v, uint32_t *n_pieces) {
    pb b = {model, model + len};
    uint32_t id = 0;
    while (b.p < b.end) {
        uint32_t field, wire;
        pb sub = {0};
        uint64_t x = 0;
        if (!pb_field(&b, &field, &wire, &sub, &x))
            return kite__fail(KITE_ERR_INVALID, "tokenizer.model: malformed protobuf at byte %zu", (size_t)(b.p - model));
        if (field != 1 || wire != 2) continue;
        kite_str piece = {NULL, 0};
        float score = 0;
        int32_t type = SP_NORMAL;
        bool has_piece = false;
        while (sub.p < sub.end) {
            uint32_t f, wt;
            pb s2;
            uint64_t y = 0;
            if (!pb_field(&sub, &f, &wt, &s2, &y))
                return kite__fail(KITE_ERR_INVALID, "tokenizer.model: malformed piece %u", id);
            if (f == 1 && wt == 2) {
                piece = (kite_str){(const char *)s2.p, (uint64_t)(s2.end - s2.p)};
                has_piece = true;
            } else if (f == 2 && wt == 5) {
                uint32_t u = (uint32_t)y;
                memcpy(&score, &u, 4);
            } else if (f == 3 && wt == 0) {
                type = y >= 1 && y <= 6 ? (int32_t)y : SP_NORMAL;
            }
        }
        if (!has_piece) return kite__fail(KITE_ERR_INVALID, "tokenizer.model: piece %u has no text", id);
        if (id < v->n) {
            v->text[id] = piece;
            v->scores[id] = score;
            // IsUnknown / IsControl / IsUnused / IsByte; anything else (user-defined too) NORMAL
            v->types[id] = type == SP_UNKNOWN || type == SP_CONTROL || type == SP_UNUSED || type == SP_BYTE ? type : SP_NORMAL;
        }
        if (++id > KITE__HF_MAX_VOCAB) return kite__fail(KITE_ERR_INVALID, "tokenizer.model: over %u pieces", KITE__HF_MAX_VOCAB);
    }
    if (id == 0) return kite__fail(KITE_ERR_INVALID, "tokenizer.model: no pieces");
    *n_pieces = id;
    return KITE_OK;
}

// Sets token id to text (with U+2581 written as spaces when `spaces`), score -1000.
static kite_status set_added(spm_vocab *v, uint32_t id, const char *text, int32_t type, bool spaces) {
    free(v->owned[id]);
    size_t n = strlen(text);
    char *t = malloc(n + 1), *o = t;
    if (!t) return kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory");
    for (const char *p = text; *p;)
        if (spaces && !strncmp(p, "\xe2\x96\x81", 3)) *o++ = ' ', p += 3;
        else *o++ = *p++;
    *o = 0;
    v->owned[id] = t;
    v->text[id] = (kite_str){t, (uint64_t)(o - t)};
    v->scores[id] = -1000.0f;
    v->types[id] = type;
    return KITE_OK;
}

// added_tokens.json ({"text": id}: user-defined) and tokenizer_config.json's
// added_tokens_decoder ({"id": {"content", "special"}}: control when special or looking so).
// Phi3MiniModel's rules (phi3): a decoder entry is control only when special, its text kept as
// is; then tokenizer.json's added_tokens the same way.
static kite_status apply_added(const kite_hf_files *f, const kite__jval *tc, const kite__jval *tok, bool phi3, spm_vocab *v) {
    kite__jval *at = NULL;
    KITE_TRY(kite__hf_read_json(f, "added_tokens.json", &at));
    kite_status s = KITE_OK;
    for (size_t i = 0; at && at->type == KITE__J_OBJ && i < at->n && s == KITE_OK; i++) {
        const kite__jval *e = at->items[i];
        if (e->type != KITE__J_NUM || !e->is_int || e->i < 0)
            s = kite__fail(KITE_ERR_INVALID, "added_tokens.json: \"%s\" has no valid id", e->key);
        else if ((uint64_t)e->i < v->n)
            s = set_added(v, (uint32_t)e->i, e->key, SP_USER_DEFINED, false);
    }
    kite__json_free(at);
    KITE_TRY(s);
    const kite__jval *dec = kite__json_get(tc, "added_tokens_decoder");
    for (size_t i = 0; dec && dec->type == KITE__J_OBJ && i < dec->n; i++) {
        const kite__jval *e = dec->items[i], *c = kite__json_get(e, "content");
        char *end = NULL;
        unsigned long long id = strtoull(e->key, &end, 10);
        if (!*e->key || *end || !c || c->type != KITE__J_STR)
            return kite__fail(KITE_ERR_INVALID, "tokenizer_config.json: added_tokens_decoder entry \"%s\" is not id: {content}", e->key);
        if (id >= v->n) continue;
        bool control = kite__hf_bool(e, "special", false) || (!phi3 && kite__hf_looks_special(c->s));
        KITE_TRY(set_added(v, (uint32_t)id, c->s, control ? SP_CONTROL : SP_USER_DEFINED, !control && !phi3));
    }
    const kite__jval *list = phi3 ? kite__json_get(tok, "added_tokens") : NULL;
    for (size_t i = 0; list && list->type == KITE__J_ARR && i < list->n; i++) {
        const kite__jval *e = list->items[i], *id = kite__json_get(e, "id"), *c = kite__json_get(e, "content");
        if (!id || id->type != KITE__J_NUM || !id->is_int || id->i < 0 || !c || c->type != KITE__J_STR)
            return kite__fail(KITE_ERR_INVALID, "tokenizer.json: added_tokens[%zu] has no id and content", i);
        if ((uint64_t)id->i >= v->n) continue; // (llama.cpp would fail on it)
        bool control = kite__hf_bool(e, "special", false);
        KITE_TRY(set_added(v, (uint32_t)id->i, c->s, control ? SP_CONTROL : SP_USER_DEFINED, false));
    }
    return KITE_OK;
}

static kite_status spm_keys(const kite_hf_files *f, const uint8_t *model, uint64_t len, const kite__jval *tok, const kite__jval *tc,
                            const kite__jval *cfg, bool phi3, spm_vocab *v, kite_gguf_writer *w) {
    uint32_t n_cfg = 0, n_pieces = 0;
    int r = kite__hf_u32(cfg, "vocab_size", &n_cfg);
    if (r < 0) return KITE_ERR_INVALID;
    if (r == 0) { // the model's own size: count the pieces first
        spm_vocab none = {0};
        KITE_TRY(read_pieces(model, len, &none, &n_pieces));
        n_cfg = n_pieces;
    }
    if (n_cfg == 0 || n_cfg > KITE__HF_MAX_VOCAB) return kite__fail(KITE_ERR_INVALID, "vocab size %u is out of range", n_cfg);
    v->n = n_cfg;
    v->text = calloc(v->n, sizeof *v->text);
    v->scores = calloc(v->n, sizeof *v->scores);
    v->types = calloc(v->n, sizeof *v->types);
    v->owned = calloc(v->n, sizeof *v->owned);
    char *pads = malloc((size_t)v->n * 20);
    kite_status s = v->text && v->scores && v->types && v->owned && pads ? KITE_OK : kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory");
    for (uint32_t i = 0, off = 0; s == KITE_OK && i < v->n; i++) { // llama.cpp's defaults: [PADi], -10000, UNUSED
        int k = snprintf(pads + off, 20, "[PAD%u]", i);
        v->text[i] = (kite_str){pads + off, (uint64_t)k};
        off += (uint32_t)k;
        v->scores[i] = -10000.0f;
        v->types[i] = SP_UNUSED;
    }
    if (s == KITE_OK) s = read_pieces(model, len, v, &n_pieces);
    if (s == KITE_OK) s = apply_added(f, tc, tok, phi3, v);
    if (s == KITE_OK) s = kite_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    if (s == KITE_OK) s = kite_gguf_writer_set_str(w, "tokenizer.ggml.pre", "default");
    if (s == KITE_OK) s = kite__hf_put_strs(w, "tokenizer.ggml.tokens", v->text, v->n);
    kite_gguf_value a = {.type = KITE_GGUF_ARRAY};
    a.arr.n = v->n;
    a.arr.elem = KITE_GGUF_FLOAT32;
    a.arr.raw = (const uint8_t *)v->scores;
    if (s == KITE_OK) s = kite_gguf_writer_set(w, "tokenizer.ggml.scores", &a);
    a.arr.elem = KITE_GGUF_INT32;
    a.arr.raw = (const uint8_t *)v->types;
    if (s == KITE_OK) s = kite_gguf_writer_set(w, "tokenizer.ggml.token_type", &a);
    free(pads);
    return s;
}

kite_status kite__hf_spm_vocab(const kite_hf_files *f, const uint8_t *model, uint64_t len, const kite__jval *tok,
                               const kite__jval *tc, const kite__jval *cfg, const kite__hf_model *m, kite_gguf_writer *w,
                               uint32_t *n_vocab) {
    spm_vocab v = {0};
    kite_status s = spm_keys(f, model, len, tok, tc, cfg, m->family == KITE__HF_PHI3, &v, w);
    *n_vocab = v.n;
    if (s == KITE_OK) s = kite__hf_special_keys(f, tok, tc, cfg, m, v.n, w);
    for (uint32_t i = 0; v.owned && i < v.n; i++) free(v.owned[i]);
    free(v.owned);
    free(v.text);
    free(v.scores);
    free(v.types);
    return s;
}
