// json_schema_text.c - text helpers of the JSON schema converter: printf into a malloc'd string,
// GBNF literals and rule names, and repetitions (llama.cpp's format_literal, build_repetition).
// Their contracts are in json_schema_internal.h.
#include "base/internal.h"
#include "grammar/json_schema_internal.h"

#include <stdarg.h>
#include <stdio.h>

char *kite__js_fmt(const char *f, ...) {
    va_list ap, aq;
    va_start(ap, f);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) vsnprintf(s, (size_t)n + 1, f, aq);
    va_end(aq);
    return s;
}

char *kite__js_take(kite_buf *b) {
    if (b->nomem) {
        kite_buf_free(b);
        return NULL;
    }
    char *s = b->ptr ? b->ptr : calloc(1, 1);
    *b = (kite_buf){0};
    return s;
}

void kite__js_put_literal(kite_buf *b, const char *s, size_t n) {
    kite_buf_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '\r': kite_buf_puts(b, "\\r"); break;
        case '\n': kite_buf_puts(b, "\\n"); break;
        case '"': kite_buf_puts(b, "\\\""); break;
        case '\\': kite_buf_puts(b, "\\\\"); break;
        default: kite_buf_append(b, &s[i], 1);
        }
    }
    kite_buf_puts(b, "\"");
}

static bool rule_name_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-';
}

void kite__js_append_rule_name(kite_buf *b, const char *s) {
    for (const char *p = s; *p;) {
        if (rule_name_char(*p)) {
            kite_buf_append(b, p++, 1);
        } else {
            while (*p && !rule_name_char(*p)) p++;
            kite_buf_puts(b, "-");
        }
    }
}

char *kite__js_constant_rule(const kite__jval *v) {
    kite_buf d = {0}, o = {0};
    kite__json_dump(v, &d);
    if (d.nomem) {
        kite_buf_free(&d);
        return NULL;
    }
    kite__js_put_literal(&o, d.ptr ? d.ptr : "", d.len);
    kite_buf_free(&d);
    return kite__js_take(&o);
}

char *kite__js_sub_path(const char *path, const char *a, const char *b) {
    return kite__js_fmt("%s/%s%s", path, a, b ? b : "");
}

void kite__js_put_repetition(kite_buf *b, const char *item, int min, int max, const char *sep) {
    bool has_max = max != INT32_MAX;
    if (max == 0) return;
    if (min == 0 && max == 1) {
        kite_buf_puts(b, item);
        kite_buf_puts(b, "?");
        return;
    }
    if (!sep || !*sep) {
        kite_buf_puts(b, item);
        char t[48];
        if (min == 1 && !has_max) kite_buf_puts(b, "+");
        else if (min == 0 && !has_max) kite_buf_puts(b, "*");
        else if (has_max) snprintf(t, sizeof t, "{%d,%d}", min, max), kite_buf_puts(b, t);
        else snprintf(t, sizeof t, "{%d,}", min), kite_buf_puts(b, t);
        return;
    }
    kite_buf inner = {0};
    kite_buf_puts(&inner, "(");
    kite_buf_puts(&inner, sep);
    kite_buf_puts(&inner, " ");
    kite_buf_puts(&inner, item);
    kite_buf_puts(&inner, ")");
    if (min == 0) kite_buf_puts(b, "(");
    kite_buf_puts(b, item);
    kite_buf_puts(b, " ");
    if (inner.ptr) kite__js_put_repetition(b, inner.ptr, min == 0 ? 0 : min - 1, has_max ? max - 1 : max, NULL);
    if (min == 0) kite_buf_puts(b, ")?");
    kite_buf_free(&inner);
}
