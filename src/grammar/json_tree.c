// json_tree.c - a small strict JSON reader and compact writer for the schema converter.
#include "base/internal.h"
#include "base/kite_utf8.h"
#include "grammar/json_tree.h"

#include <math.h>
#include <stdio.h>

#define MAX_DEPTH 64

typedef struct reader {
    const char *p, *end, *start;
    kite_status err;
} reader;

static kite_status bad(reader *r, const char *what) {
    if (r->err == KITE_OK)
        r->err = kite__fail(KITE_ERR_INVALID, "json schema: invalid JSON at byte %zu: %s", (size_t)(r->p - r->start), what);
    return r->err;
}

static void skip_ws(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

void kite__json_free(kite__jval *v) {
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) kite__json_free(v->items[i]);
    free(v->items);
    free(v->s);
    free(v->key);
    free(v);
}

bool kite__json_put_utf8(kite_buf *b, uint32_t c) {
    char t[4];
    return kite_buf_append(b, t, kite_utf8_encode(c, KITE_UTF8_MAX_4BYTE, t));
}

static int hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

// Reads a string literal (r->p at the opening quote) into a malloc'd buffer.
static char *read_string(reader *r, size_t *len) {
    kite_buf b = {0};
    r->p++;
    while (r->p < r->end && *r->p != '"') {
        uint8_t c = (uint8_t)*r->p;
        if (c < 0x20) {
            bad(r, "control character in a string");
            break;
        }
        if (c >= 0x80) { // a whole UTF-8 sequence, or an error (the grammar text must be valid UTF-8)
            int n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
            bool ok = n > 0 && r->end - r->p >= n && !(c == 0xC0 || c == 0xC1);
            for (int k = 1; ok && k < n; k++) ok = ((uint8_t)r->p[k] & 0xC0) == 0x80;
            if (!ok) {
                bad(r, "invalid UTF-8 in a string");
                break;
            }
            kite_buf_append(&b, r->p, (size_t)n);
            r->p += n;
            continue;
        }
        if (c != '\\') {
            kite_buf_append(&b, r->p, 1);
            r->p++;
            continue;
        }
        if (r->p + 1 >= r->end) break;
        char e = r->p[1];
        r->p += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            kite_buf_append(&b, &map[simple - "\"\\/bfnrt"], 1);
        } else if (e == 'u' && r->end - r->p >= 4 && hex4(r->p) >= 0) {
            uint32_t cp = (uint32_t)hex4(r->p);
            r->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u' &&
                hex4(r->p + 2) >= 0xDC00 && hex4(r->p + 2) < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(r->p + 2) - 0xDC00);
                r->p += 6;
            }
            if (cp == 0 || (cp >= 0xD800 && cp < 0xE000)) {
                bad(r, cp == 0 ? "\\u0000 in a string is not supported" : "unpaired surrogate in a string");
                break;
            }
            kite__json_put_utf8(&b, cp);
        } else {
            bad(r, "bad escape in a string");
            break;
        }
    }
    if (r->err == KITE_OK && r->p >= r->end) bad(r, "unterminated string");
    if (r->err == KITE_OK && b.nomem) r->err = kite__fail(KITE_ERR_NOMEM, "json schema: out of memory");
    if (r->err != KITE_OK) {
        kite_buf_free(&b);
        return NULL;
    }
    r->p++;
    *len = b.len;
    if (!b.ptr) return calloc(1, 1);
    return b.ptr;
}

static kite__jval *read_value(reader *r, int depth);

static bool add_item(reader *r, kite__jval *v, kite__jval *item) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 4;
        kite__jval **items = realloc(v->items, cap * sizeof *items);
        if (!items) {
            kite__json_free(item);
            if (r->err == KITE_OK) r->err = kite__fail(KITE_ERR_NOMEM, "json schema: out of memory");
            return false;
        }
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = item;
    return true;
}

static kite__jval *read_value(reader *r, int depth) {
    skip_ws(r);
    if (depth > MAX_DEPTH) return bad(r, "nested too deeply"), NULL;
    if (r->p >= r->end) return bad(r, "unexpected end"), NULL;
    kite__jval *v = calloc(1, sizeof *v);
    if (!v) {
        r->err = kite__fail(KITE_ERR_NOMEM, "json schema: out of memory");
        return NULL;
    }
    char c = *r->p;
    size_t left = (size_t)(r->end - r->p);
    if (c == '{' || c == '[') {
        v->type = c == '{' ? KITE__J_OBJ : KITE__J_ARR;
        char close = c == '{' ? '}' : ']';
        r->p++;
        skip_ws(r);
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return v;
        }
        for (;;) {
            char *key = NULL;
            size_t klen;
            if (v->type == KITE__J_OBJ) {
                skip_ws(r);
                if (r->p >= r->end || *r->p != '"') {
                    bad(r, "expecting a member name");
                    break;
                }
                if (!(key = read_string(r, &klen))) break;
                skip_ws(r);
                if (r->p >= r->end || *r->p != ':') {
                    free(key);
                    bad(r, "expecting ':'");
                    break;
                }
                r->p++;
            }
            kite__jval *item = read_value(r, depth + 1);
            if (!item) {
                free(key);
                break;
            }
            item->key = key;
            if (!add_item(r, v, item)) break;
            skip_ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == close) {
                r->p++;
                return v;
            }
            bad(r, v->type == KITE__J_OBJ ? "expecting ',' or '}'" : "expecting ',' or ']'");
            break;
        }
        kite__json_free(v);
        return NULL;
    }
    if (c == '"') {
        v->type = KITE__J_STR;
        if (!(v->s = read_string(r, &v->slen))) {
            kite__json_free(v);
            return NULL;
        }
        return v;
    }
    if (left >= 4 && memcmp(r->p, "null", 4) == 0) {
        r->p += 4;
        return v;
    }
    if (left >= 4 && memcmp(r->p, "true", 4) == 0) {
        v->type = KITE__J_BOOL;
        v->b = true;
        r->p += 4;
        return v;
    }
    if (left >= 5 && memcmp(r->p, "false", 5) == 0) {
        v->type = KITE__J_BOOL;
        r->p += 5;
        return v;
    }
    // number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?
    const char *s = r->p;
    const char *q = s;
    if (q < r->end && *q == '-') q++;
    if (q >= r->end || !(*q >= '0' && *q <= '9')) {
        kite__json_free(v);
        return bad(r, "unexpected character"), NULL;
    }
    if (*q == '0') q++;
    else
        while (q < r->end && *q >= '0' && *q <= '9') q++;
    bool integral = true;
    if (q < r->end && *q == '.') {
        integral = false;
        q++;
        if (q >= r->end || !(*q >= '0' && *q <= '9')) {
            kite__json_free(v);
            return bad(r, "bad number"), NULL;
        }
        while (q < r->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        integral = false;
        q++;
        if (q < r->end && (*q == '+' || *q == '-')) q++;
        if (q >= r->end || !(*q >= '0' && *q <= '9')) {
            kite__json_free(v);
            return bad(r, "bad number"), NULL;
        }
        while (q < r->end && *q >= '0' && *q <= '9') q++;
    }
    char tmp[64];
    size_t n = (size_t)(q - s);
    snprintf(tmp, sizeof tmp, "%.*s", (int)(n < 63 ? n : 63), s);
    v->type = KITE__J_NUM;
    v->d = strtod(tmp, NULL);
    if (integral && n < 19) {
        v->is_int = true;
        v->i = strtoll(tmp, NULL, 10);
    }
    r->p = q;
    return v;
}

kite_status kite__json_parse(const char *text, size_t len, kite__jval **out) {
    reader r = {text, text + len, text, KITE_OK};
    kite__jval *v = read_value(&r, 0);
    if (v) {
        skip_ws(&r);
        if (r.p != r.end) {
            bad(&r, "trailing characters");
            kite__json_free(v);
            v = NULL;
        }
    }
    if (!v) return r.err != KITE_OK ? r.err : kite__fail(KITE_ERR_INVALID, "json schema: invalid JSON");
    *out = v;
    return KITE_OK;
}

const kite__jval *kite__json_get(const kite__jval *v, const char *key) {
    if (!v || v->type != KITE__J_OBJ) return NULL;
    const kite__jval *found = NULL;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->items[i]->key, key) == 0) found = v->items[i];
    return found;
}

bool kite__json_dump_string(const char *s, size_t n, kite_buf *out) {
    kite_buf_append(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        char t[8];
        switch (c) {
        case '"': kite_buf_append(out, "\\\"", 2); break;
        case '\\': kite_buf_append(out, "\\\\", 2); break;
        case '\b': kite_buf_append(out, "\\b", 2); break;
        case '\f': kite_buf_append(out, "\\f", 2); break;
        case '\n': kite_buf_append(out, "\\n", 2); break;
        case '\r': kite_buf_append(out, "\\r", 2); break;
        case '\t': kite_buf_append(out, "\\t", 2); break;
        default:
            if (c < 0x20) {
                snprintf(t, sizeof t, "\\u%04x", c);
                kite_buf_append(out, t, 6);
            } else {
                kite_buf_append(out, &s[i], 1);
            }
        }
    }
    return kite_buf_append(out, "\"", 1);
}

bool kite__json_dump(const kite__jval *v, kite_buf *out) {
    char t[64];
    switch (v->type) {
    case KITE__J_NULL: return kite_buf_puts(out, "null");
    case KITE__J_BOOL: return kite_buf_puts(out, v->b ? "true" : "false");
    case KITE__J_NUM:
        if (v->is_int) {
            snprintf(t, sizeof t, "%lld", (long long)v->i);
        } else if (!isfinite(v->d)) {
            snprintf(t, sizeof t, "null");
        } else {
            for (int prec = 1; prec <= 17; prec++) { // the shortest text that reads back the same
                snprintf(t, sizeof t, "%.*g", prec, v->d);
                if (strtod(t, NULL) == v->d) break;
            }
            if (!strpbrk(t, ".eEn")) strcat(t, ".0");
        }
        return kite_buf_puts(out, t);
    case KITE__J_STR: return kite__json_dump_string(v->s, v->slen, out);
    case KITE__J_ARR:
    case KITE__J_OBJ:
        kite_buf_puts(out, v->type == KITE__J_ARR ? "[" : "{");
        for (size_t i = 0; i < v->n; i++) {
            if (i) kite_buf_puts(out, ",");
            if (v->type == KITE__J_OBJ) {
                kite__json_dump_string(v->items[i]->key, strlen(v->items[i]->key), out);
                kite_buf_puts(out, ":");
            }
            kite__json_dump(v->items[i], out);
        }
        return kite_buf_puts(out, v->type == KITE__J_ARR ? "]" : "}");
    }
    return false;
}
