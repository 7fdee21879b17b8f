// gguf_lookup.c - finding keys and tensors in a parsed GGUF, and typed getters.
#include "gguf/kite_gguf.h"
#include "base/internal.h"

#include <math.h>

const kite_gguf_kv *kite_gguf_find(const kite_gguf *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (kite_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

int64_t kite_gguf_find_tensor(const kite_gguf *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (kite_str_eq(g->tensors[i].name, name)) return (int64_t)i;
    return -1;
}

static bool is_unsigned(kite_gguf_type t) {
    return t == KITE_GGUF_UINT8 || t == KITE_GGUF_UINT16 || t == KITE_GGUF_UINT32 || t == KITE_GGUF_UINT64;
}
static bool is_signed(kite_gguf_type t) {
    return t == KITE_GGUF_INT8 || t == KITE_GGUF_INT16 || t == KITE_GGUF_INT32 || t == KITE_GGUF_INT64;
}

bool kite_gguf_get_u64(const kite_gguf *g, const char *key, uint64_t *out) {
    const kite_gguf_kv *kv = kite_gguf_find(g, key);
    if (!kv) return false;
    if (is_unsigned(kv->val.type)) { *out = kv->val.u; return true; }
    if (is_signed(kv->val.type) && kv->val.i >= 0) { *out = (uint64_t)kv->val.i; return true; }
    return false;
}

bool kite_gguf_get_u32(const kite_gguf *g, const char *key, uint32_t *out) {
    uint64_t v;
    if (!kite_gguf_get_u64(g, key, &v) || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

bool kite_gguf_get_i64(const kite_gguf *g, const char *key, int64_t *out) {
    const kite_gguf_kv *kv = kite_gguf_find(g, key);
    if (!kv) return false;
    if (is_signed(kv->val.type)) { *out = kv->val.i; return true; }
    if (is_unsigned(kv->val.type) && kv->val.u <= INT64_MAX) { *out = (int64_t)kv->val.u; return true; }
    return false;
}

bool kite_gguf_get_f32(const kite_gguf *g, const char *key, float *out) {
    const kite_gguf_kv *kv = kite_gguf_find(g, key);
    if (!kv || (kv->val.type != KITE_GGUF_FLOAT32 && kv->val.type != KITE_GGUF_FLOAT64)) return false;
    *out = (float)kv->val.f;
    return true;
}

bool kite_gguf_get_bool(const kite_gguf *g, const char *key, bool *out) {
    const kite_gguf_kv *kv = kite_gguf_find(g, key);
    if (!kv || kv->val.type != KITE_GGUF_BOOL) return false;
    *out = kv->val.u != 0;
    return true;
}

bool kite_gguf_get_str(const kite_gguf *g, const char *key, kite_str *out) {
    const kite_gguf_kv *kv = kite_gguf_find(g, key);
    if (!kv || kv->val.type != KITE_GGUF_STRING) return false;
    *out = kv->val.s;
    return true;
}

const kite_gguf_value *kite_gguf_get_arr(const kite_gguf *g, const char *key, int elem) {
    const kite_gguf_kv *kv = kite_gguf_find(g, key);
    if (!kv || kv->val.type != KITE_GGUF_ARRAY) return NULL;
    if (elem >= 0 && kv->val.arr.elem != (kite_gguf_type)elem) return NULL;
    return &kv->val;
}

float kite_gguf_arr_f32(const kite_gguf_value *v, uint64_t i) {
    const uint8_t *p = v->arr.raw + i * kite_gguf_type_size(v->arr.elem);
    switch (v->arr.elem) {
    case KITE_GGUF_FLOAT32: { float f; memcpy(&f, p, 4); return f; }
    case KITE_GGUF_FLOAT64: { double d; memcpy(&d, p, 8); return (float)d; }
    default: return (float)kite_gguf_arr_i64(v, i);
    }
}

int64_t kite_gguf_arr_i64(const kite_gguf_value *v, uint64_t i) {
    const uint8_t *p = v->arr.raw + i * kite_gguf_type_size(v->arr.elem);
    switch (v->arr.elem) {
    case KITE_GGUF_UINT8: case KITE_GGUF_BOOL: return p[0];
    case KITE_GGUF_INT8: return (int8_t)p[0];
    case KITE_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); return x; }
    case KITE_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); return x; }
    case KITE_GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); return x; }
    case KITE_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); return x; }
    case KITE_GGUF_UINT64: { uint64_t x; memcpy(&x, p, 8); return (int64_t)x; }
    case KITE_GGUF_INT64: { int64_t x; memcpy(&x, p, 8); return x; }
    case KITE_GGUF_FLOAT32: { float f; memcpy(&f, p, 4); return (int64_t)f; }
    case KITE_GGUF_FLOAT64: { double d; memcpy(&d, p, 8); return (int64_t)d; }
    default: return 0;
    }
}
