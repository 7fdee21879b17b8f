// gguf_write.c - the streaming GGUF v3 writer. Each key/value is encoded to its file bytes
// when it is set, so the writer owns copies and never points into a source buffer.
#include "gguf/kite_gguf.h"
#include "base/kite_buf.h"
#include "base/internal.h"

typedef struct wkv {
    char *key;
    kite_buf enc; // the encoded key and value, exactly as written to the file
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t n_dims;
    uint64_t ne[KITE_GGUF_MAX_DIMS];
    kite_type type;
    uint64_t offset, nbytes;
} wtensor;

struct kite_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    uint64_t data_size; // bytes of the data section so far (each tensor padded)
    bool failed;        // an allocation failed; reported at write time
};

static const uint8_t zeros[256];

static bool put_u32(kite_buf *b, uint32_t x) { return kite_buf_append(b, &x, 4); }
static bool put_u64(kite_buf *b, uint64_t x) { return kite_buf_append(b, &x, 8); }
static bool put_str(kite_buf *b, const char *s, uint64_t n) { return put_u64(b, n) && kite_buf_append(b, s, (size_t)n); }

// Encodes one scalar value (narrowing the widened field back to its file type).
static bool put_scalar(kite_buf *b, const kite_gguf_value *v) {
    uint8_t buf[8];
    switch (v->type) {
    case KITE_GGUF_UINT8: case KITE_GGUF_BOOL: buf[0] = (uint8_t)v->u; return kite_buf_append(b, buf, 1);
    case KITE_GGUF_INT8: buf[0] = (uint8_t)(int8_t)v->i; return kite_buf_append(b, buf, 1);
    case KITE_GGUF_UINT16: { uint16_t x = (uint16_t)v->u; return kite_buf_append(b, &x, 2); }
    case KITE_GGUF_INT16: { int16_t x = (int16_t)v->i; return kite_buf_append(b, &x, 2); }
    case KITE_GGUF_UINT32: { uint32_t x = (uint32_t)v->u; return kite_buf_append(b, &x, 4); }
    case KITE_GGUF_INT32: { int32_t x = (int32_t)v->i; return kite_buf_append(b, &x, 4); }
    case KITE_GGUF_FLOAT32: { float x = (float)v->f; return kite_buf_append(b, &x, 4); }
    case KITE_GGUF_UINT64: return kite_buf_append(b, &v->u, 8);
    case KITE_GGUF_INT64: return kite_buf_append(b, &v->i, 8);
    case KITE_GGUF_FLOAT64: return kite_buf_append(b, &v->f, 8);
    default: return false;
    }
}

// Encodes a value's payload (no type tag) for arrays' elements and top-level values alike.
static bool put_payload(kite_buf *b, const kite_gguf_value *v) {
    if (v->type == KITE_GGUF_STRING) return put_str(b, v->s.ptr, v->s.len);
    if (v->type != KITE_GGUF_ARRAY) return put_scalar(b, v);
    if (!put_u32(b, v->arr.elem) || !put_u64(b, v->arr.n)) return false;
    uint32_t esize = kite_gguf_type_size(v->arr.elem);
    if (esize) return kite_buf_append(b, v->arr.raw, (size_t)(v->arr.n * esize));
    for (uint64_t i = 0; i < v->arr.n; i++) {
        if (v->arr.elem == KITE_GGUF_STRING) {
            if (!put_str(b, v->arr.strs[i].ptr, v->arr.strs[i].len)) return false;
        } else if (!put_payload(b, &v->arr.items[i])) {
            return false;
        }
    }
    return true;
}

kite_gguf_writer *kite_gguf_writer_new(void) { return calloc(1, sizeof(kite_gguf_writer)); }

void kite_gguf_writer_free(kite_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].enc.ptr);
    }
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

static char *dup_str(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

kite_status kite_gguf_writer_set(kite_gguf_writer *w, const char *key, const kite_gguf_value *v) {
    if ((unsigned)v->type >= KITE_GGUF_TYPE_COUNT) return kite__fail(KITE_ERR_INVALID, "gguf writer: %s: bad value type", key);
    kite_buf enc = {0};
    size_t klen = strlen(key);
    if (!put_str(&enc, key, klen) || !put_u32(&enc, v->type) || !put_payload(&enc, v)) {
        free(enc.ptr);
        return kite__fail(KITE_ERR_NOMEM, "gguf writer: out of memory encoding %s", key);
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].enc.ptr);
            w->kv[i].enc = enc;
            return KITE_OK;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        wkv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv) {
            free(enc.ptr);
            return kite__fail(KITE_ERR_NOMEM, "gguf writer: out of memory");
        }
        w->kv = kv;
        w->cap_kv = cap;
    }
    char *k = dup_str(key, klen);
    if (!k) {
        free(enc.ptr);
        return kite__fail(KITE_ERR_NOMEM, "gguf writer: out of memory");
    }
    w->kv[w->n_kv++] = (wkv){k, enc};
    return KITE_OK;
}

kite_status kite_gguf_writer_set_u32(kite_gguf_writer *w, const char *key, uint32_t x) {
    kite_gguf_value v = {.type = KITE_GGUF_UINT32, .u = x};
    return kite_gguf_writer_set(w, key, &v);
}

kite_status kite_gguf_writer_set_f32(kite_gguf_writer *w, const char *key, float x) {
    kite_gguf_value v = {.type = KITE_GGUF_FLOAT32, .f = x};
    return kite_gguf_writer_set(w, key, &v);
}

kite_status kite_gguf_writer_set_str(kite_gguf_writer *w, const char *key, const char *s) {
    kite_gguf_value v = {.type = KITE_GGUF_STRING, .s = {s, strlen(s)}};
    return kite_gguf_writer_set(w, key, &v);
}

void kite_gguf_writer_remove(kite_gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].key);
            free(w->kv[i].enc.ptr);
            memmove(&w->kv[i], &w->kv[i + 1], (w->n_kv - i - 1) * sizeof *w->kv);
            w->n_kv--;
            return;
        }
    }
}

kite_status kite_gguf_writer_copy_kvs(kite_gguf_writer *w, const kite_gguf *g) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        char *key = dup_str(g->kv[i].key.ptr, (size_t)g->kv[i].key.len);
        if (!key) return kite__fail(KITE_ERR_NOMEM, "gguf writer: out of memory");
        kite_status s = kite_gguf_writer_set(w, key, &g->kv[i].val);
        free(key);
        KITE_TRY(s);
    }
    return KITE_OK;
}

// general.alignment if the writer has it (as a u32), else the default.
static uint32_t writer_alignment(const kite_gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment") != 0) continue;
        const kite_buf *e = &w->kv[i].enc;
        uint32_t type, x;
        size_t at = 8 + strlen(w->kv[i].key);
        memcpy(&type, e->ptr + at, 4);
        if (type != KITE_GGUF_UINT32) break;
        memcpy(&x, e->ptr + at + 4, 4);
        if (x && !(x & (x - 1))) return x;
        break;
    }
    return KITE_GGUF_DEFAULT_ALIGNMENT;
}

static uint64_t pad_to(uint64_t n, uint64_t align) { return (align - n % align) % align; }

kite_status kite_gguf_writer_add_tensor(kite_gguf_writer *w, const char *name, kite_type type, uint32_t n_dims,
                                        const uint64_t *ne) {
    const kite_type_traits *tr = kite_type_get(type);
    if (!tr) return kite__fail(KITE_ERR_INVALID, "gguf writer: tensor %s: unknown type %d", name, (int)type);
    if (n_dims < 1 || n_dims > KITE_GGUF_MAX_DIMS)
        return kite__fail(KITE_ERR_INVALID, "gguf writer: tensor %s: n_dims %u", name, n_dims);
    if (ne[0] % tr->block_size)
        return kite__fail(KITE_ERR_INVALID, "gguf writer: tensor %s: row length %llu is not a multiple of %s's block size %u",
                          name, (unsigned long long)ne[0], tr->name, tr->block_size);
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) return kite__fail(KITE_ERR_NOMEM, "gguf writer: out of memory");
        w->t = t;
        w->cap_t = cap;
    }
    wtensor t = {.n_dims = n_dims, .type = type};
    uint64_t nelem = 1;
    for (int d = 0; d < KITE_GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < (int)n_dims ? ne[d] : 1;
        nelem *= t.ne[d];
    }
    t.nbytes = nelem / tr->block_size * tr->type_size;
    t.name = dup_str(name, strlen(name));
    if (!t.name) return kite__fail(KITE_ERR_NOMEM, "gguf writer: out of memory");
    w->t[w->n_t++] = t;
    return KITE_OK;
}

// Lays tensors out back to back, each starting at a multiple of the alignment.
static void layout(kite_gguf_writer *w) {
    uint32_t align = writer_alignment(w);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = off;
        off += w->t[i].nbytes + pad_to(w->t[i].nbytes, align);
    }
    w->data_size = off;
}

static uint64_t header_size(const kite_gguf_writer *w) {
    uint64_t n = 4 + 4 + 8 + 8;
    for (size_t i = 0; i < w->n_kv; i++) n += w->kv[i].enc.len;
    for (size_t i = 0; i < w->n_t; i++) n += 8 + strlen(w->t[i].name) + 4 + 8 * w->t[i].n_dims + 4 + 8;
    return n;
}

uint64_t kite_gguf_writer_total_size(const kite_gguf_writer *w) {
    kite_gguf_writer *mw = (kite_gguf_writer *)w;
    layout(mw);
    uint64_t h = header_size(w);
    return w->n_t ? h + pad_to(h, writer_alignment(w)) + w->data_size : h;
}

static kite_status sink_pad(const kite_sink *sink, uint64_t n) {
    while (n) {
        size_t k = n > sizeof zeros ? sizeof zeros : (size_t)n;
        KITE_TRY(sink->write(sink->user, zeros, k));
        n -= k;
    }
    return KITE_OK;
}

kite_status kite_gguf_writer_write_header(kite_gguf_writer *w, const kite_sink *sink) {
    layout(w);
    kite_buf h = {0};
    bool ok = kite_buf_append(&h, "GGUF", 4) && put_u32(&h, 3) && put_u64(&h, w->n_t) && put_u64(&h, w->n_kv);
    for (size_t i = 0; ok && i < w->n_kv; i++) ok = kite_buf_append(&h, w->kv[i].enc.ptr, w->kv[i].enc.len);
    for (size_t i = 0; ok && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        ok = put_str(&h, t->name, strlen(t->name)) && put_u32(&h, t->n_dims);
        for (uint32_t d = 0; ok && d < t->n_dims; d++) ok = put_u64(&h, t->ne[d]);
        ok = ok && put_u32(&h, (uint32_t)t->type) && put_u64(&h, t->offset);
    }
    if (!ok) {
        free(h.ptr);
        return kite__fail(KITE_ERR_NOMEM, "gguf writer: out of memory");
    }
    kite_status s = sink->write(sink->user, h.ptr, h.len);
    uint64_t hn = h.len;
    free(h.ptr);
    KITE_TRY(s);
    // A file without tensors (vocab-only) ends right after the tensor table, as llama.cpp's.
    return w->n_t ? sink_pad(sink, pad_to(hn, writer_alignment(w))) : KITE_OK;
}

kite_status kite_gguf_writer_write_data(kite_gguf_writer *w, const kite_sink *sink, uint64_t i, const void *data) {
    if (i >= w->n_t) return kite__fail(KITE_ERR_INVALID, "gguf writer: tensor index %llu out of range", (unsigned long long)i);
    KITE_TRY(sink->write(sink->user, data, (size_t)w->t[i].nbytes));
    return sink_pad(sink, pad_to(w->t[i].nbytes, writer_alignment(w)));
}

kite_status kite_gguf_writer_write_padding(kite_gguf_writer *w, const kite_sink *sink, uint64_t i) {
    if (i >= w->n_t) return kite__fail(KITE_ERR_INVALID, "gguf writer: tensor index %llu out of range", (unsigned long long)i);
    return sink_pad(sink, pad_to(w->t[i].nbytes, writer_alignment(w)));
}
