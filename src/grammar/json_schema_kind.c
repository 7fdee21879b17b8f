// json_schema_kind.c - what a schema is (llama.cpp's common_chat_schema_builder::build_node): its
// kind, the keywords refused, and reading its format, counts, numeric bounds and $ref targets.
// Their contracts are in json_schema_internal.h.
#include "base/internal.h"
#include "grammar/json_schema_internal.h"

#include <math.h>
#include <stdio.h>

const kite__jval *kite__js_get(const kite__jval *v, const char *key) { return kite__json_get(v, key); }

int kite__js_get_format(const kite__jval *s) {
    const kite__jval *f = kite__js_get(s, "format");
    if (!f) return F_NONE;
    if (f->type != KITE__J_STR) return F_BAD;
    if (strcmp(f->s, "date") == 0) return F_DATE;
    if (strcmp(f->s, "time") == 0) return F_TIME;
    if (strcmp(f->s, "date-time") == 0) return F_DATE_TIME;
    if (strcmp(f->s, "uuid") == 0 || (f->slen == 5 && strncmp(f->s, "uuid", 4) == 0 && f->s[4] >= '1' && f->s[4] <= '5'))
        return F_UUID;
    return F_NONE;
}

bool kite__js_is_true(const kite__jval *v) { return v && v->type == KITE__J_BOOL && v->b; }

static bool has_properties(const kite__jval *s) {
    const kite__jval *ap = kite__js_get(s, "additionalProperties");
    return kite__js_get(s, "properties") || (ap && !kite__js_is_true(ap));
}

kind kite__js_kind_of(conv *c, const kite__jval *s, const char *path) {
    if (!s || s->type != KITE__J_OBJ) return kite__js_fail(c, path, "schema must be an object"), K_ANY;
    // Keywords that narrow what is valid in ways a grammar here does not express: refused rather
    // than ignored, so the output never silently breaks the schema. (llama.cpp ignores them too;
    // like it, uniqueItems and bounds on numbers are tolerated, with a warning: its own test
    // schemas carry them.)
    static const char *const unsupported[] = {
        "not", "if", "then", "else", "patternProperties", "propertyNames", "dependentRequired", "dependentSchemas",
        "dependencies", "contains", "minContains", "maxContains", "multipleOf", "minProperties", "maxProperties",
        "unevaluatedProperties", "unevaluatedItems",
    };
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (kite__js_get(s, unsupported[i])) {
            char m[96];
            snprintf(m, sizeof m, "unsupported keyword '%s'", unsupported[i]);
            return kite__js_fail(c, path, m), K_ANY;
        }
    if (kite__js_get(s, "$ref")) return K_REF;
    if (kite__js_get(s, "oneOf") || kite__js_get(s, "anyOf")) return K_ANY_OF;
    const kite__jval *type = kite__js_get(s, "type");
    if (type && type->type == KITE__J_ARR) return K_ANY_OF;
    if (kite__js_get(s, "const")) return K_CONST;
    if (kite__js_get(s, "enum")) return K_ENUM;
    if (type && type->type != KITE__J_NULL && type->type != KITE__J_STR)
        return kite__js_fail(c, path, "type must be a string or an array of strings"), K_ANY;
    const char *tn = type && type->type == KITE__J_STR ? type->s : "";
    if (!*tn) {
        if (has_properties(s)) return K_OBJECT;
        if (kite__js_get(s, "allOf")) return K_ALL_OF;
        const kite__jval *items = kite__js_get(s, "items") ? kite__js_get(s, "items") : kite__js_get(s, "prefixItems");
        if (items) return items->type == KITE__J_ARR ? K_TUPLE : K_ARRAY;
        int f = kite__js_get_format(s);
        if (f == F_BAD) return kite__js_fail(c, path, "format must be a string"), K_ANY;
        if (kite__js_get(s, "pattern") || kite__js_get(s, "minLength") || kite__js_get(s, "maxLength") || f != F_NONE)
            return K_STRING;
        return K_ANY;
    }
    if (strcmp(tn, "object") == 0) return !has_properties(s) && kite__js_get(s, "allOf") ? K_ALL_OF : K_OBJECT;
    if (strcmp(tn, "string") == 0) return kite__js_get(s, "allOf") ? K_ALL_OF : K_STRING;
    if (strcmp(tn, "array") == 0) {
        const kite__jval *items = kite__js_get(s, "items") ? kite__js_get(s, "items") : kite__js_get(s, "prefixItems");
        return items && items->type == KITE__J_ARR ? K_TUPLE : K_ARRAY;
    }
    if (strcmp(tn, "integer") == 0) return K_INTEGER;
    if (strcmp(tn, "number") == 0) return K_NUMBER;
    if (strcmp(tn, "boolean") == 0) return K_BOOLEAN;
    if (strcmp(tn, "null") == 0) return K_NULL;
    char m[160];
    snprintf(m, sizeof m, "unrecognized type %.100s", tn);
    return kite__js_fail(c, path, m), K_ANY;
}

int kite__js_get_count(conv *c, const kite__jval *s, const char *key, const char *path, int def) {
    const kite__jval *v = kite__js_get(s, key);
    if (!v) return def;
    if (v->type != KITE__J_NUM || !v->is_int || v->i < 0 || v->i > INT32_MAX) {
        char m[96];
        snprintf(m, sizeof m, "%s must be a non-negative integer", key);
        kite__js_fail(c, path, m);
        return -2;
    }
    return (int)v->i;
}

bool kite__js_get_bound(conv *c, const kite__jval *v, const char *key, const char *path, bool round_up,
                        int64_t *out) {
    if (v->type != KITE__J_NUM) {
        char m[96];
        snprintf(m, sizeof m, "%s must be a number", key);
        return kite__js_fail(c, path, m), false;
    }
    if (v->is_int) {
        *out = v->i;
        return true;
    }
    double d = round_up ? ceil(v->d) : floor(v->d);
    *out = d >= 9e18 ? INT64_MAX - 1 : d <= -9e18 ? INT64_MIN + 1 : (int64_t)d;
    return true;
}

const kite__jval *kite__js_resolve_ref(conv *c, const char *ref, const char *path) {
    if (strncmp(ref, "#/", 2) != 0) {
        char m[200];
        snprintf(m, sizeof m, "unsupported $ref %.100s, only references into the same document are supported", ref);
        return kite__js_fail(c, path, m), NULL;
    }
    const kite__jval *t = c->root;
    const char *p = ref + 2;
    while (t) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char sel[128];
        snprintf(sel, sizeof sel, "%.*s", (int)KITE_MIN(n, 127), p);
        const kite__jval *next = NULL;
        if (t->type == KITE__J_OBJ) next = kite__js_get(t, sel);
        else if (t->type == KITE__J_ARR) {
            char *end;
            unsigned long idx = strtoul(sel, &end, 10);
            if (end != sel && !*end && idx < t->n) next = t->items[idx];
        }
        if (!next) {
            char m[260];
            snprintf(m, sizeof m, "cannot resolve $ref %.100s, %.100s not found", ref, sel);
            return kite__js_fail(c, path, m), NULL;
        }
        t = next;
        if (!e) break;
        p = e + 1;
    }
    return t;
}
