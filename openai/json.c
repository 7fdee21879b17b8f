// json.c - strict JSON parser (tree in an arena, bounded recursion, UTF-8 checked) and writer.
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kite_utf8.h"

// ---- UTF-8 --------------------------------------------------------------------------------

// Length (1..4) of the well-formed UTF-8 sequence at p[0..n), or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF are not well-formed).
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      // no overlong 3-byte forms
        else if (c == 0xED) hi = 0x9F; // no UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      // no overlong 4-byte forms
        else if (c == 0xF4) hi = 0x8F; // nothing above U+10FFFF
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return len;
}

size_t json_utf8_complete(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned c = p[n - k];
        if ((c & 0xC0) == 0x80) continue; // a continuation byte: look further back
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > k ? n - k : n;
    }
    return n;
}

// ---- tree storage -------------------------------------------------------------------------

#define NODES_PER_BLOCK 256

typedef struct node_block {
    struct node_block *prev;
    size_t used;
    json_value nodes[NODES_PER_BLOCK];
} node_block;

struct json_doc {
    node_block *blocks;
    size_t n_values;
    char *strings; // decoded strings, each NUL-terminated; never longer than the input + 1
    size_t str_used;
    const json_value *root;
};

typedef struct parser {
    const unsigned char *s;
    size_t n, pos;
    json_doc *doc;
    char *err;
    size_t err_size;
    bool failed;
} parser;

static bool fail(parser *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static bool fail(parser *p, const char *fmt, ...) {
    if (p->failed) return false;
    p->failed = true;
    if (!p->err || !p->err_size) return false;
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->err_size, "invalid JSON at byte %zu: %s", p->pos, msg);
    return false;
}

static json_value *new_node(parser *p, json_type t) {
    if (p->doc->n_values++ >= JSON_MAX_VALUES) {
        fail(p, "more than %d values", JSON_MAX_VALUES);
        return NULL;
    }
    node_block *b = p->doc->blocks;
    if (!b || b->used == NODES_PER_BLOCK) {
        node_block *nb = malloc(sizeof *nb);
        if (!nb) {
            fail(p, "out of memory");
            return NULL;
        }
        nb->prev = b;
        nb->used = 0;
        p->doc->blocks = b = nb;
    }
    json_value *v = &b->nodes[b->used++];
    memset(v, 0, sizeof *v);
    v->type = t;
    return v;
}

// ---- parser -------------------------------------------------------------------------------

static void skip_ws(parser *p) {
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

// What the byte at the parser's position is, for messages.
static const char *describe(parser *p, char *buf, size_t size) {
    if (p->pos >= p->n) return "end of input";
    unsigned char c = p->s[p->pos];
    if (c >= 0x20 && c < 0x7F) snprintf(buf, size, "'%c'", c);
    else snprintf(buf, size, "byte 0x%02x", c);
    return buf;
}

static bool expect_literal(parser *p, const char *lit) {
    size_t n = strlen(lit);
    if (p->n - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0) return fail(p, "expected '%s'", lit);
    p->pos += n;
    return true;
}

static int hex4(const unsigned char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

// Parses a string at the opening quote; the decoded text goes to the document's string area.
static bool parse_string(parser *p, const char **out, size_t *out_len) {
    p->pos++; // opening quote
    char *o = p->doc->strings + p->doc->str_used, *start = o;
    for (;;) {
        if (p->pos >= p->n) return fail(p, "unterminated string");
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) return fail(p, "control character 0x%02x in a string (escape it)", c);
        if (c != '\\') {
            size_t l = utf8_len(p->s + p->pos, p->n - p->pos);
            if (!l) return fail(p, "invalid UTF-8 in a string");
            memcpy(o, p->s + p->pos, l);
            o += l;
            p->pos += l;
            continue;
        }
        if (p->pos + 1 >= p->n) return fail(p, "unterminated escape");
        char e = (char)p->s[p->pos + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char to[] = "\"\\/\b\f\n\r\t";
            *o++ = to[simple - "\"\\/bfnrt"];
            p->pos += 2;
            continue;
        }
        if (e != 'u') return fail(p, "invalid escape '\\%c'", e >= 0x20 && e < 0x7F ? e : '?');
        if (p->n - p->pos < 6) return fail(p, "truncated \\u escape");
        int cp = hex4(p->s + p->pos + 2);
        if (cp < 0) return fail(p, "\\u must be followed by 4 hex digits");
        p->pos += 6;
        uint32_t code = (uint32_t)cp;
        if (cp >= 0xD800 && cp <= 0xDBFF) { // a high surrogate needs its low half next
            int lo = p->n - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u' ? hex4(p->s + p->pos + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail(p, "unpaired UTF-16 surrogate \\u%04x", cp);
            code = 0x10000 + (((uint32_t)cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            p->pos += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail(p, "unpaired UTF-16 surrogate \\u%04x", cp);
        }
        o += kite_utf8_encode(code, KITE_UTF8_MAX_UNICODE, o);
    }
    *o = 0;
    *out = start;
    *out_len = (size_t)(o - start);
    p->doc->str_used += *out_len + 1;
    return true;
}

static bool parse_number(parser *p, double *out) {
    size_t start = p->pos;
    const unsigned char *s = p->s;
    if (p->pos < p->n && s[p->pos] == '-') p->pos++;
    if (p->pos >= p->n || s[p->pos] < '0' || s[p->pos] > '9') return fail(p, "a number needs digits");
    if (s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9') return fail(p, "leading zeros are not allowed");
    } else {
        while (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->n && s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->n || s[p->pos] < '0' || s[p->pos] > '9') return fail(p, "digits must follow the decimal point");
        while (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->n && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->n && (s[p->pos] == '+' || s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->n || s[p->pos] < '0' || s[p->pos] > '9') return fail(p, "digits must follow the exponent");
        while (p->pos < p->n && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    // The slice is validated JSON number syntax, which strtod reads the same in the "C" locale.
    size_t len = p->pos - start;
    char small[64], *tmp = len < sizeof small ? small : malloc(len + 1);
    if (!tmp) return fail(p, "out of memory");
    memcpy(tmp, s + start, len);
    tmp[len] = 0;
    double v = strtod(tmp, NULL);
    if (tmp != small) free(tmp);
    if (!isfinite(v)) {
        p->pos = start;
        return fail(p, "number out of range");
    }
    *out = v;
    return true;
}

static json_value *parse_value(parser *p, int depth);

// Parses the elements (or members) of a container whose opening bracket was consumed.
static bool parse_items(parser *p, json_value *c, int depth) {
    bool object = c->type == JSON_OBJECT;
    char close = object ? '}' : ']', buf[16];
    json_value *last = NULL;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == close) {
        p->pos++;
        return true;
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        if (object) {
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != '"')
                return fail(p, "expected a string key, found %s", describe(p, buf, sizeof buf));
            if (!parse_string(p, &key, &key_len)) return false;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':')
                return fail(p, "expected ':' after an object key, found %s", describe(p, buf, sizeof buf));
            p->pos++;
        }
        json_value *v = parse_value(p, depth + 1);
        if (!v) return false;
        v->key = key;
        v->key_len = key_len;
        if (last) last->next = v;
        else c->child = v;
        last = v;
        c->len++;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == close) {
            p->pos++;
            return true;
        }
        return fail(p, "expected ',' or '%c', found %s", close, describe(p, buf, sizeof buf));
    }
}

static json_value *parse_value(parser *p, int depth) {
    char buf[16];
    if (depth > JSON_MAX_DEPTH) {
        fail(p, "nesting deeper than %d levels", JSON_MAX_DEPTH);
        return NULL;
    }
    skip_ws(p);
    if (p->pos >= p->n) {
        fail(p, "expected a value, found end of input");
        return NULL;
    }
    json_value *v = NULL;
    switch (p->s[p->pos]) {
    case '{':
    case '[':
        v = new_node(p, p->s[p->pos] == '{' ? JSON_OBJECT : JSON_ARRAY);
        p->pos++;
        return v && parse_items(p, v, depth) ? v : NULL;
    case '"':
        v = new_node(p, JSON_STRING);
        return v && parse_string(p, &v->str, &v->len) ? v : NULL;
    case 't':
    case 'f':
        v = new_node(p, JSON_BOOL);
        if (v) v->boolean = p->s[p->pos] == 't';
        return v && expect_literal(p, v->boolean ? "true" : "false") ? v : NULL;
    case 'n':
        v = new_node(p, JSON_NULL);
        return v && expect_literal(p, "null") ? v : NULL;
    default:
        if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9')) {
            v = new_node(p, JSON_NUMBER);
            return v && parse_number(p, &v->number) ? v : NULL;
        }
        fail(p, "expected a value, found %s", describe(p, buf, sizeof buf));
        return NULL;
    }
}

json_doc *json_parse(const char *text, size_t len, char *err, size_t err_size) {
    if (err && err_size) err[0] = 0;
    json_doc *d = calloc(1, sizeof *d);
    // Decoded strings are never longer than their source text, plus one terminator each
    // (and every string takes at least two quote bytes of the input).
    if (d) d->strings = malloc(len + 1);
    if (!d || !d->strings) {
        if (err && err_size) snprintf(err, err_size, "out of memory for a %zu-byte JSON text", len);
        free(d);
        return NULL;
    }
    parser p = {(const unsigned char *)(text ? text : ""), text ? len : 0, 0, d, err, err_size, false};
    const json_value *root = parse_value(&p, 1);
    if (root) {
        skip_ws(&p);
        if (p.pos < p.n) {
            char buf[16];
            fail(&p, "unexpected %s after the JSON value", describe(&p, buf, sizeof buf));
            root = NULL;
        }
    }
    if (!root) {
        json_free(d);
        return NULL;
    }
    d->root = root;
    return d;
}

const json_value *json_root(const json_doc *d) { return d ? d->root : NULL; }

void json_free(json_doc *d) {
    if (!d) return;
    while (d->blocks) {
        node_block *prev = d->blocks->prev;
        free(d->blocks);
        d->blocks = prev;
    }
    free(d->strings);
    free(d);
}

const json_value *json_get(const json_value *v, const char *key) {
    if (!v || v->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    const json_value *found = NULL;
    for (const json_value *m = v->child; m; m = m->next)
        if (m->key_len == n && memcmp(m->key, key, n) == 0) found = m;
    return found;
}

const char *json_type_name(json_type t) {
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "boolean";
    case JSON_NUMBER: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    }
    return "?";
}

// ---- writer -------------------------------------------------------------------------------

static void put(json_writer *w, const char *s, size_t n) { kite_buf_append(&w->out, s, n); }

// Comma handling before a value (or key) in the current container.
static void before_value(json_writer *w, bool is_key) {
    if (w->after_key && !is_key) {
        w->after_key = false;
        return;
    }
    if (w->after_key) w->bad = true; // two keys in a row
    if (w->depth > 0) {
        if (w->count[w->depth - 1]++ > 0) put(w, ",", 1);
    }
}

static void open_container(json_writer *w, const char *c) {
    before_value(w, false);
    put(w, c, 1);
    if (w->depth >= JSON_WRITER_DEPTH) {
        w->bad = true;
        return;
    }
    w->count[w->depth++] = 0;
}

static void close_container(json_writer *w, const char *c) {
    if (w->depth > 0) w->depth--;
    else w->bad = true;
    put(w, c, 1);
}

void jw_begin_object(json_writer *w) { open_container(w, "{"); }
void jw_end_object(json_writer *w) { close_container(w, "}"); }
void jw_begin_array(json_writer *w) { open_container(w, "["); }
void jw_end_array(json_writer *w) { close_container(w, "]"); }

static void put_escaped(json_writer *w, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    put(w, "\"", 1);
    size_t run = 0; // start of the bytes not yet written
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        size_t l = c >= 0x80 ? utf8_len(p + i, n - i) : 0;
        if (l) {
            i += l;
            continue;
        }
        put(w, s + run, i - run);
        char esc[8];
        switch (c) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                put(w, esc, 6);
            } else {
                put(w, "\\ufffd", 6); // a byte that is not part of valid UTF-8
            }
        }
        i++;
        run = i;
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

void jw_key(json_writer *w, const char *key) {
    before_value(w, true);
    put_escaped(w, key, strlen(key));
    put(w, ":", 1);
    w->after_key = true;
}

void jw_string(json_writer *w, const char *s, size_t n) {
    before_value(w, false);
    put_escaped(w, s ? s : "", s ? n : 0);
}

void jw_cstr(json_writer *w, const char *s) { jw_string(w, s, s ? strlen(s) : 0); }

void jw_int(json_writer *w, long long v) {
    before_value(w, false);
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", v);
    put(w, b, (size_t)n);
}

void jw_number(json_writer *w, double v) {
    before_value(w, false);
    if (!isfinite(v)) {
        put(w, "null", 4);
        return;
    }
    // the shortest of 15 or 17 significant digits that reads back as the same double
    char b[40];
    int n = snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v) n = snprintf(b, sizeof b, "%.17g", v);
    put(w, b, (size_t)n);
}

void jw_bool(json_writer *w, bool v) {
    before_value(w, false);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(json_writer *w) {
    before_value(w, false);
    put(w, "null", 4);
}

void jw_free(json_writer *w) {
    kite_buf_free(&w->out);
    memset(w, 0, sizeof *w);
}
