// gguf_json.c - a complete, machine-readable JSON description of a parsed GGUF: every key
// (arrays of up to 16 items in full, longer ones as type and count), every tensor, totals.
#include "gguf/kite_gguf.h"
#include "base/internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#define ARRAY_SHOWN_MAX 16

typedef struct jout {
    const kite_sink *sink;
    kite_status status;
} jout;

static void emit(jout *o, const char *s, size_t n) {
    if (o->status == KITE_OK) o->status = o->sink->write(o->sink->user, s, n);
}
static void emits(jout *o, const char *s) { emit(o, s, strlen(s)); }

static void emitf(jout *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void emitf(jout *o, const char *fmt, ...) {
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) emit(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

// A JSON string literal; invalid UTF-8 bytes and controls are escaped so output always parses.
static void emit_jstr(jout *o, const char *p, uint64_t n) {
    emit(o, "\"", 1);
    uint64_t start = 0;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\' && ch < 0x80) continue;
        if (ch >= 0x80) {
            // accept a well-formed UTF-8 sequence as it is
            int len = ch >= 0xf0 && ch < 0xf5 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc2 && ch < 0xe0 ? 2 : 0;
            bool ok = len && i + len <= n;
            for (int k = 1; ok && k < len; k++) ok = ((unsigned char)p[i + k] & 0xc0) == 0x80;
            if (ok) {
                i += len - 1;
                continue;
            }
        }
        emit(o, p + start, (size_t)(i - start));
        switch (ch) {
        case '"': emits(o, "\\\""); break;
        case '\\': emits(o, "\\\\"); break;
        case '\n': emits(o, "\\n"); break;
        case '\r': emits(o, "\\r"); break;
        case '\t': emits(o, "\\t"); break;
        default: emitf(o, "\\u%04x", ch); break; // a control char, or a stray byte as Latin-1
        }
        start = i + 1;
    }
    emit(o, p + start, (size_t)(n - start));
    emit(o, "\"", 1);
}

static void emit_double(jout *o, double f) {
    if (isnan(f) || isinf(f)) emits(o, "null");
    else emitf(o, "%.9g", f);
}

static void emit_value(jout *o, const kite_gguf_value *v);

static void emit_array(jout *o, const kite_gguf_value *v) {
    emitf(o, "{\"type\":\"arr\",\"elem\":\"%s\",\"count\":%llu", kite_gguf_type_name(v->arr.elem),
          (unsigned long long)v->arr.n);
    if (v->arr.n <= ARRAY_SHOWN_MAX) {
        emits(o, ",\"value\":[");
        for (uint64_t i = 0; i < v->arr.n; i++) {
            if (i) emits(o, ",");
            if (v->arr.elem == KITE_GGUF_STRING) {
                emit_jstr(o, v->arr.strs[i].ptr, v->arr.strs[i].len);
            } else if (v->arr.elem == KITE_GGUF_ARRAY) {
                emit_array(o, &v->arr.items[i]);
            } else {
                kite_gguf_value x = {.type = v->arr.elem};
                if (x.type == KITE_GGUF_FLOAT32 || x.type == KITE_GGUF_FLOAT64) x.f = kite_gguf_arr_f32(v, i);
                else if (x.type == KITE_GGUF_UINT64) memcpy(&x.u, v->arr.raw + i * 8, 8);
                else x.i = kite_gguf_arr_i64(v, i), x.u = (uint64_t)x.i;
                emit_value(o, &x);
            }
        }
        emits(o, "]");
    }
    emits(o, "}");
}

static void emit_value(jout *o, const kite_gguf_value *v) {
    switch (v->type) {
    case KITE_GGUF_UINT8: case KITE_GGUF_UINT16: case KITE_GGUF_UINT32: case KITE_GGUF_UINT64:
        emitf(o, "%llu", (unsigned long long)v->u); break;
    case KITE_GGUF_INT8: case KITE_GGUF_INT16: case KITE_GGUF_INT32: case KITE_GGUF_INT64:
        emitf(o, "%lld", (long long)v->i); break;
    case KITE_GGUF_FLOAT32: case KITE_GGUF_FLOAT64: emit_double(o, v->f); break;
    case KITE_GGUF_BOOL: emits(o, v->u ? "true" : "false"); break;
    case KITE_GGUF_STRING: emit_jstr(o, v->s.ptr, v->s.len); break;
    case KITE_GGUF_ARRAY: emit_array(o, v); break;
    default: emits(o, "null"); break;
    }
}

void kite_gguf_totals(const kite_gguf *g, uint64_t *n_elements, uint64_t *n_bytes) {
    uint64_t ne = 0, nb = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const kite_gguf_tensor *t = &g->tensors[i];
        ne += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        nb += t->nbytes;
    }
    *n_elements = ne;
    *n_bytes = nb;
}

kite_status kite_gguf_info_json(const kite_gguf *g, const kite_sink *sink) {
    jout o = {sink, KITE_OK};
    uint64_t ne, nb;
    kite_gguf_totals(g, &ne, &nb);
    emitf(&o, "{\"version\":%u,\"alignment\":%u,\"data_offset\":%llu,\"file_size\":%llu,", g->version, g->alignment,
          (unsigned long long)g->data_offset, (unsigned long long)g->size);
    emitf(&o, "\"n_kv\":%llu,\"n_tensors\":%llu,\"n_elements\":%llu,\"tensor_bytes\":%llu,\"bits_per_weight\":",
          (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors, (unsigned long long)ne,
          (unsigned long long)nb);
    emit_double(&o, ne ? 8.0 * (double)nb / (double)ne : 0.0);
    emits(&o, ",\"metadata\":[");
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const kite_gguf_kv *kv = &g->kv[i];
        emits(&o, i ? ",{\"key\":" : "{\"key\":");
        emit_jstr(&o, kv->key.ptr, kv->key.len);
        emitf(&o, ",\"type\":\"%s\",\"value\":", kite_gguf_type_name(kv->val.type));
        emit_value(&o, &kv->val);
        emits(&o, "}");
    }
    emits(&o, "],\"tensors\":[");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const kite_gguf_tensor *t = &g->tensors[i];
        emits(&o, i ? ",{\"name\":" : "{\"name\":");
        emit_jstr(&o, t->name.ptr, t->name.len);
        emitf(&o, ",\"type\":\"%s\",\"shape\":[", kite_type_name(t->type));
        for (uint32_t d = 0; d < t->n_dims; d++) emitf(&o, d ? ",%llu" : "%llu", (unsigned long long)t->ne[d]);
        emitf(&o, "],\"offset\":%llu,\"bytes\":%llu}", (unsigned long long)(g->data_offset + t->offset),
              (unsigned long long)t->nbytes);
    }
    emits(&o, "]}\n");
    if (o.status != KITE_OK) return kite__fail(o.status, "gguf info: the output sink failed");
    return KITE_OK;
}
