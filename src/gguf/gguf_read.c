// gguf_read.c - the GGUF v2/v3 parser: every count, length, type and offset is checked
// against the buffer before use, so hostile files give an error message, never a crash.
#include "gguf/kite_gguf.h"
#include "base/internal.h"

#include <stdio.h>

// Nested arrays deeper than this are refused: real files use depth 1, and a hostile file
// could otherwise recurse until the stack overflows.
#define MAX_ARRAY_DEPTH 8

// The public struct plus the list of allocations it owns.
typedef struct gguf_impl {
    kite_gguf pub;
    void **allocs;
    size_t n_allocs, cap_allocs;
} gguf_impl;

typedef struct cursor {
    const uint8_t *buf;
    uint64_t len;
    uint64_t off;
    gguf_impl *g;
    char where[160]; // what is being read, for error messages
} cursor;

static void *owned_calloc(cursor *c, uint64_t n, size_t size) {
    if (n == 0) n = 1;
    if (n > SIZE_MAX / size) return NULL;
    gguf_impl *g = c->g;
    if (g->n_allocs == g->cap_allocs) {
        size_t cap = g->cap_allocs ? g->cap_allocs * 2 : 16;
        void **a = realloc(g->allocs, cap * sizeof *a);
        if (!a) return NULL;
        g->allocs = a;
        g->cap_allocs = cap;
    }
    void *p = calloc((size_t)n, size);
    if (p) g->allocs[g->n_allocs++] = p;
    return p;
}

static kite_status truncated(cursor *c, uint64_t need) {
    return kite__fail(KITE_ERR_INVALID, "gguf: truncated at offset %llu reading %s (need %llu bytes, file has %llu)",
                      (unsigned long long)c->off, c->where, (unsigned long long)need, (unsigned long long)c->len);
}

static kite_status read_bytes(cursor *c, void *dst, uint64_t n) {
    if (n > c->len - c->off) return truncated(c, n);
    memcpy(dst, c->buf + c->off, (size_t)n);
    c->off += n;
    return KITE_OK;
}

static kite_status read_u32(cursor *c, uint32_t *v) { return read_bytes(c, v, 4); }
static kite_status read_u64(cursor *c, uint64_t *v) { return read_bytes(c, v, 8); }

static kite_status read_str(cursor *c, kite_str *s) {
    uint64_t n = 0;
    KITE_TRY(read_u64(c, &n));
    if (n > c->len - c->off)
        return kite__fail(KITE_ERR_INVALID, "gguf: %s: string length %llu at offset %llu runs past end of file (%llu)",
                          c->where, (unsigned long long)n, (unsigned long long)(c->off - 8), (unsigned long long)c->len);
    s->ptr = (const char *)c->buf + c->off;
    s->len = n;
    c->off += n;
    return KITE_OK;
}

uint32_t kite_gguf_type_size(kite_gguf_type t) {
    switch (t) {
    case KITE_GGUF_UINT8: case KITE_GGUF_INT8: case KITE_GGUF_BOOL: return 1;
    case KITE_GGUF_UINT16: case KITE_GGUF_INT16: return 2;
    case KITE_GGUF_UINT32: case KITE_GGUF_INT32: case KITE_GGUF_FLOAT32: return 4;
    case KITE_GGUF_UINT64: case KITE_GGUF_INT64: case KITE_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

const char *kite_gguf_type_name(kite_gguf_type t) {
    static const char *names[KITE_GGUF_TYPE_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                       "bool", "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < KITE_GGUF_TYPE_COUNT ? names[t] : "?";
}

// Widens one little-endian scalar of type t at p into v.
static void load_scalar(kite_gguf_value *v, kite_gguf_type t, const uint8_t *p) {
    v->type = t;
    switch (t) {
    case KITE_GGUF_UINT8: v->u = p[0]; break;
    case KITE_GGUF_BOOL: v->u = p[0] != 0; break;
    case KITE_GGUF_INT8: v->i = (int8_t)p[0]; break;
    case KITE_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); v->u = x; break; }
    case KITE_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); v->i = x; break; }
    case KITE_GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); v->u = x; break; }
    case KITE_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); v->i = x; break; }
    case KITE_GGUF_FLOAT32: { float x; memcpy(&x, p, 4); v->f = x; break; }
    case KITE_GGUF_UINT64: { uint64_t x; memcpy(&x, p, 8); v->u = x; break; }
    case KITE_GGUF_INT64: { int64_t x; memcpy(&x, p, 8); v->i = x; break; }
    case KITE_GGUF_FLOAT64: { double x; memcpy(&x, p, 8); v->f = x; break; }
    default: break;
    }
}

static kite_status read_value(cursor *c, kite_gguf_type type, kite_gguf_value *v, int depth);

static kite_status read_array(cursor *c, kite_gguf_value *v, int depth) {
    uint32_t elem = 0;
    uint64_t n = 0;
    uint64_t at = c->off;
    KITE_TRY(read_u32(c, &elem));
    KITE_TRY(read_u64(c, &n));
    if (elem >= KITE_GGUF_TYPE_COUNT)
        return kite__fail(KITE_ERR_INVALID, "gguf: %s: bad array element type %u at offset %llu", c->where, elem,
                          (unsigned long long)at);
    if (depth >= MAX_ARRAY_DEPTH)
        return kite__fail(KITE_ERR_INVALID, "gguf: %s: arrays nested deeper than %d at offset %llu", c->where,
                          MAX_ARRAY_DEPTH, (unsigned long long)at);
    uint64_t left = c->len - c->off;
    v->type = KITE_GGUF_ARRAY;
    v->arr.elem = (kite_gguf_type)elem;
    v->arr.n = n;
    uint32_t esize = kite_gguf_type_size((kite_gguf_type)elem);
    // The smallest encoding of one element bounds the count before anything is allocated.
    uint64_t min_size = esize ? esize : elem == KITE_GGUF_STRING ? 8 : 12;
    if (n > left / min_size)
        return kite__fail(KITE_ERR_INVALID, "gguf: %s: array of %llu %s at offset %llu does not fit in the file",
                          c->where, (unsigned long long)n, kite_gguf_type_name((kite_gguf_type)elem),
                          (unsigned long long)at);
    if (esize) {
        v->arr.raw = c->buf + c->off;
        c->off += n * esize;
        return KITE_OK;
    }
    if (elem == KITE_GGUF_STRING) {
        v->arr.strs = owned_calloc(c, n, sizeof(kite_str));
        if (!v->arr.strs) return kite__fail(KITE_ERR_NOMEM, "gguf: %s: out of memory for %llu strings", c->where,
                                            (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++) KITE_TRY(read_str(c, &v->arr.strs[i]));
        return KITE_OK;
    }
    v->arr.items = owned_calloc(c, n, sizeof(kite_gguf_value));
    if (!v->arr.items) return kite__fail(KITE_ERR_NOMEM, "gguf: %s: out of memory", c->where);
    for (uint64_t i = 0; i < n; i++) KITE_TRY(read_value(c, KITE_GGUF_ARRAY, &v->arr.items[i], depth + 1));
    return KITE_OK;
}

static kite_status read_value(cursor *c, kite_gguf_type type, kite_gguf_value *v, int depth) {
    if (type == KITE_GGUF_STRING) {
        v->type = type;
        return read_str(c, &v->s);
    }
    if (type == KITE_GGUF_ARRAY) return read_array(c, v, depth);
    uint32_t size = kite_gguf_type_size(type);
    if (size == 0)
        return kite__fail(KITE_ERR_INVALID, "gguf: %s: bad value type %u at offset %llu", c->where, (unsigned)type,
                          (unsigned long long)(c->off - 4));
    if (size > c->len - c->off) return truncated(c, size);
    load_scalar(v, type, c->buf + c->off);
    c->off += size;
    return KITE_OK;
}

static void set_where_kv(cursor *c, uint64_t i, kite_str key) {
    int n = key.len > 96 ? 96 : (int)key.len;
    snprintf(c->where, sizeof c->where, "key %llu '%.*s'", (unsigned long long)i, n, key.ptr);
}

static void set_where_tensor(cursor *c, uint64_t i, kite_str name) {
    int n = name.len > 96 ? 96 : (int)name.len;
    snprintf(c->where, sizeof c->where, "tensor %llu '%.*s'", (unsigned long long)i, n, name.ptr);
}

static bool str_eq(kite_str a, kite_str b) { return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0; }

static kite_status parse_kvs(cursor *c, kite_gguf *g) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        kite_gguf_kv *kv = &g->kv[i];
        snprintf(c->where, sizeof c->where, "key %llu", (unsigned long long)i);
        KITE_TRY(read_str(c, &kv->key));
        set_where_kv(c, i, kv->key);
        for (uint64_t j = 0; j < i; j++)
            if (str_eq(g->kv[j].key, kv->key))
                return kite__fail(KITE_ERR_INVALID, "gguf: %s: duplicate key", c->where);
        uint32_t type = 0;
        uint64_t at = c->off;
        KITE_TRY(read_u32(c, &type));
        if (type >= KITE_GGUF_TYPE_COUNT)
            return kite__fail(KITE_ERR_INVALID, "gguf: %s: bad value type %u at offset %llu", c->where, type,
                              (unsigned long long)at);
        KITE_TRY(read_value(c, (kite_gguf_type)type, &kv->val, 0));
    }
    return KITE_OK;
}

static kite_status parse_tensor_info(cursor *c, kite_gguf *g, uint64_t i) {
    kite_gguf_tensor *t = &g->tensors[i];
    snprintf(c->where, sizeof c->where, "tensor %llu name", (unsigned long long)i);
    KITE_TRY(read_str(c, &t->name));
    set_where_tensor(c, i, t->name);
    uint64_t at = c->off;
    KITE_TRY(read_u32(c, &t->n_dims));
    if (t->n_dims < 1 || t->n_dims > KITE_GGUF_MAX_DIMS)
        return kite__fail(KITE_ERR_INVALID, "gguf: %s: n_dims %u at offset %llu is not in 1..%d", c->where, t->n_dims,
                          (unsigned long long)at, KITE_GGUF_MAX_DIMS);
    for (int d = 0; d < KITE_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) KITE_TRY(read_u64(c, &t->ne[d]));
    uint32_t type = 0;
    at = c->off;
    KITE_TRY(read_u32(c, &type));
    const kite_type_traits *tr = kite_type_get(type);
    if (!tr)
        return kite__fail(KITE_ERR_INVALID, "gguf: %s: unknown tensor type %u at offset %llu", c->where, type,
                          (unsigned long long)at);
    t->type = (kite_type)type;
    KITE_TRY(read_u64(c, &t->offset));
    // Element count and byte size, refusing overflow: each dimension and the product must
    // stay below 2^62 so later int64 arithmetic is safe.
    const uint64_t limit = (uint64_t)1 << 62;
    uint64_t nelem = 1;
    for (int d = 0; d < KITE_GGUF_MAX_DIMS; d++) {
        if (t->ne[d] == 0 || t->ne[d] >= limit || nelem > limit / t->ne[d])
            return kite__fail(KITE_ERR_INVALID, "gguf: %s: bad shape [%llu, %llu, %llu, %llu]", c->where,
                              (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                              (unsigned long long)t->ne[2], (unsigned long long)t->ne[3]);
        nelem *= t->ne[d];
    }
    if (t->ne[0] % tr->block_size)
        return kite__fail(KITE_ERR_INVALID, "gguf: %s: row length %llu is not a multiple of %s's block size %u",
                          c->where, (unsigned long long)t->ne[0], tr->name, tr->block_size);
    t->nbytes = nelem / tr->block_size * tr->type_size;
    for (uint64_t j = 0; j < i; j++)
        if (str_eq(g->tensors[j].name, t->name))
            return kite__fail(KITE_ERR_INVALID, "gguf: %s: duplicate tensor name", c->where);
    return KITE_OK;
}

kite_status kite_gguf_parse(const uint8_t *buf, uint64_t len, kite_gguf **out) {
    *out = NULL;
    gguf_impl *impl = calloc(1, sizeof *impl);
    if (!impl) return kite__fail(KITE_ERR_NOMEM, "gguf: out of memory");
    kite_gguf *g = &impl->pub;
    g->base = buf;
    g->size = len;
    cursor c = {.buf = buf, .len = len, .off = 0, .g = impl};
    kite_status s = KITE_OK;

    // ---- header: magic, version, counts
    char magic[4];
    snprintf(c.where, sizeof c.where, "the magic");
    if ((s = read_bytes(&c, magic, 4)) != KITE_OK) goto fail;
    if (memcmp(magic, "GGUF", 4) != 0) {
        s = kite__fail(KITE_ERR_INVALID, "gguf: not a GGUF file (magic is not 'GGUF')");
        goto fail;
    }
    snprintf(c.where, sizeof c.where, "the header");
    if ((s = read_u32(&c, &g->version)) != KITE_OK) goto fail;
    if (g->version != 2 && g->version != 3) {
        s = kite__fail(g->version == 1 ? KITE_ERR_UNSUPPORTED : KITE_ERR_INVALID,
                       "gguf: version %u is not supported (only 2 and 3)", g->version);
        goto fail;
    }
    if ((s = read_u64(&c, &g->n_tensors)) != KITE_OK || (s = read_u64(&c, &g->n_kv)) != KITE_OK) goto fail;
    // The smallest encodings (a kv: 8-byte key length + type + 1-byte value = 13; a tensor
    // info: 8 + 4 + 8 + 4 + 8 = 32) bound the counts before anything is allocated.
    if (g->n_kv > (len - c.off) / 13 || g->n_tensors > (len - c.off) / 32) {
        s = kite__fail(KITE_ERR_INVALID, "gguf: header claims %llu keys and %llu tensors, more than a %llu-byte file can hold",
                       (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors, (unsigned long long)len);
        goto fail;
    }
    g->kv = owned_calloc(&c, g->n_kv, sizeof *g->kv);
    g->tensors = owned_calloc(&c, g->n_tensors, sizeof *g->tensors);
    if (!g->kv || !g->tensors) {
        s = kite__fail(KITE_ERR_NOMEM, "gguf: out of memory");
        goto fail;
    }

    // ---- metadata
    if ((s = parse_kvs(&c, g)) != KITE_OK) goto fail;
    g->alignment = KITE_GGUF_DEFAULT_ALIGNMENT;
    const kite_gguf_kv *al = kite_gguf_find(g, "general.alignment");
    if (al) {
        if (al->val.type != KITE_GGUF_UINT32 || al->val.u == 0 || (al->val.u & (al->val.u - 1))) {
            s = kite__fail(KITE_ERR_INVALID, "gguf: general.alignment must be a u32 power of two");
            goto fail;
        }
        g->alignment = (uint32_t)al->val.u;
    }

    // ---- tensor infos
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if ((s = parse_tensor_info(&c, g, i)) != KITE_OK) goto fail;

    // ---- data section: aligned start, every tensor inside the file
    uint64_t pad = (g->alignment - c.off % g->alignment) % g->alignment;
    g->data_offset = c.off + pad;
    if (g->n_tensors && g->data_offset > len) {
        s = kite__fail(KITE_ERR_INVALID, "gguf: data section at offset %llu starts past end of file (%llu)",
                       (unsigned long long)g->data_offset, (unsigned long long)len);
        goto fail;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        kite_gguf_tensor *t = &g->tensors[i];
        set_where_tensor(&c, i, t->name);
        if (t->offset % g->alignment) {
            s = kite__fail(KITE_ERR_INVALID, "gguf: %s: data offset %llu is not a multiple of the alignment %u", c.where,
                           (unsigned long long)t->offset, g->alignment);
            goto fail;
        }
        uint64_t room = len - g->data_offset;
        if (t->offset > room || t->nbytes > room - t->offset) {
            s = kite__fail(KITE_ERR_INVALID, "gguf: %s: data [%llu, +%llu) runs past end of file (%llu)", c.where,
                           (unsigned long long)(g->data_offset + t->offset), (unsigned long long)t->nbytes,
                           (unsigned long long)len);
            goto fail;
        }
        t->data = buf + g->data_offset + t->offset;
    }
    *out = g;
    return KITE_OK;

fail:
    kite_gguf_free(g);
    return s;
}

void kite_gguf_free(kite_gguf *g) {
    if (!g) return;
    gguf_impl *impl = (gguf_impl *)g;
    for (size_t i = 0; i < impl->n_allocs; i++) free(impl->allocs[i]);
    free(impl->allocs);
    free(impl);
}
