// json_schema_string.c - string schemas: minLength / maxLength, the formats (date, time,
// date-time, uuid; a pattern goes to json_schema_pattern.c), and the rule for the strings that
// are none of a list (the keys an object's additional properties may take).
#include "base/internal.h"
#include "grammar/json_schema_internal.h"

char *kite__js_visit_string(conv *c, const kite__jval *s, const char *rule_name, const char *path) {
    const kite__jval *pattern = kite__js_get(s, "pattern");
    if (pattern && pattern->type != KITE__J_STR) {
        kite__js_fail(c, path, "pattern must be a string");
        return NULL;
    }
    int f = kite__js_get_format(s);
    if (f == F_BAD) {
        kite__js_fail(c, path, "format must be a string");
        return NULL;
    }
    int min = kite__js_get_count(c, s, "minLength", path, 0), max = kite__js_get_count(c, s, "maxLength", path, -1);
    if (c->fatal) return NULL;
    if (max >= 0 && max < min) {
        kite__js_fail(c, path, "maxLength is below minLength");
        return NULL;
    }
    if (pattern && pattern->slen) return kite__js_visit_pattern(c, pattern->s, pattern->slen, rule_name);
    if (f == F_UUID) return kite__js_visit_primitive(c, rule_name, "uuid");
    if (f != F_NONE) {
        const char *pn = f == F_DATE ? "date-string" : f == F_TIME ? "time-string" : "date-time-string";
        return kite__js_name_body(c, rule_name, kite__js_add_primitive(c, pn, kite__js_find_builtin(pn)));
    }
    if (min > 0 || max >= 0) {
        char *char_rule = kite__js_add_primitive(c, "char", kite__js_find_builtin("char"));
        if (!char_rule) return NULL;
        kite_buf b = {0};
        kite_buf_puts(&b, "\"\\\"\" ");
        kite__js_put_repetition(&b, char_rule, min, max < 0 ? INT32_MAX : max, NULL);
        kite_buf_puts(&b, " \"\\\"\"");
        free(char_rule);
        return kite__js_name_body(c, rule_name, kite__js_take(&b));
    }
    return kite__js_visit_primitive(c, rule_name, "string");
}

// ---- strings that are none of a list (llama.cpp's _not_strings over a trie) ---------------

typedef struct trie_node {
    uint32_t *cps;   // children's code points, ascending
    size_t *kids;    // their node indices
    size_t n;
    bool end;        // a string ends here
} trie_node;

typedef struct trie {
    trie_node *nodes;
    size_t n;
} trie;

static size_t trie_add(trie *t) {
    trie_node *q = realloc(t->nodes, (t->n + 1) * sizeof *q);
    if (!q) return SIZE_MAX;
    t->nodes = q;
    t->nodes[t->n] = (trie_node){0};
    return t->n++;
}

static bool trie_insert(trie *t, const char *s) {
    size_t node = 0;
    const uint8_t *u = (const uint8_t *)s;
    while (*u) {
        uint32_t cp;
        int k = u[0] < 0x80 ? 1 : (u[0] & 0xE0) == 0xC0 ? 2 : (u[0] & 0xF0) == 0xE0 ? 3 : (u[0] & 0xF8) == 0xF0 ? 4 : 0;
        if (!k) break;
        cp = k == 1 ? u[0] : (uint32_t)(u[0] & (0x7F >> k));
        int j = 1;
        for (; j < k && (u[j] & 0xC0) == 0x80; j++) cp = (cp << 6) | (u[j] & 0x3F);
        if (j < k) break;
        u += k;
        trie_node *nd = &t->nodes[node];
        size_t at = 0;
        while (at < nd->n && nd->cps[at] < cp) at++;
        if (at < nd->n && nd->cps[at] == cp) {
            node = nd->kids[at];
            continue;
        }
        size_t child = trie_add(t);
        if (child == SIZE_MAX) return false;
        nd = &t->nodes[node];
        uint32_t *c2 = realloc(nd->cps, (nd->n + 1) * sizeof *c2);
        if (!c2) return false;
        nd->cps = c2;
        size_t *k2 = realloc(nd->kids, (nd->n + 1) * sizeof *k2);
        if (!k2) return false;
        nd->kids = k2;
        memmove(nd->cps + at + 1, nd->cps + at, (nd->n - at) * sizeof *c2);
        memmove(nd->kids + at + 1, nd->kids + at, (nd->n - at) * sizeof *k2);
        nd->cps[at] = cp;
        nd->kids[at] = child;
        nd->n++;
        node = child;
    }
    t->nodes[node].end = true;
    return true;
}

static void not_strings_visit(const trie *t, size_t idx, const char *char_rule, kite_buf *out) {
    const trie_node *nd = &t->nodes[idx];
    kite_buf rejects = {0};
    for (size_t i = 0; i < nd->n; i++) {
        kite__json_put_utf8(&rejects, nd->cps[i]);
        if (i) kite_buf_puts(out, " | ");
        kite_buf_puts(out, "[");
        kite__json_put_utf8(out, nd->cps[i]);
        kite_buf_puts(out, "]");
        if (t->nodes[nd->kids[i]].n) {
            kite_buf_puts(out, " (");
            not_strings_visit(t, nd->kids[i], char_rule, out);
            kite_buf_puts(out, ")");
        } else {
            kite_buf_puts(out, " ");
            kite_buf_puts(out, char_rule);
            kite_buf_puts(out, "+");
        }
    }
    if (nd->n) {
        kite_buf_puts(out, " | [^\"");
        if (rejects.len) kite_buf_append(out, rejects.ptr, rejects.len);
        kite_buf_puts(out, "] ");
        kite_buf_puts(out, char_rule);
        kite_buf_puts(out, "*");
    }
    kite_buf_free(&rejects);
}

char *kite__js_not_strings(conv *c, char **strings, size_t n) {
    trie t = {0};
    bool ok = trie_add(&t) == 0;
    for (size_t i = 0; ok && i < n; i++) ok = trie_insert(&t, strings[i]);
    char *char_rule = ok ? kite__js_add_primitive(c, "char", kite__js_find_builtin("char")) : NULL;
    char *res = NULL;
    if (char_rule) {
        kite_buf out = {0};
        kite_buf_puts(&out, "[\"] ( ");
        not_strings_visit(&t, 0, char_rule, &out);
        kite_buf_puts(&out, " )");
        if (!t.nodes[0].end) kite_buf_puts(&out, "?");
        kite_buf_puts(&out, " [\"]");
        res = kite__js_take(&out);
    }
    for (size_t i = 0; i < t.n; i++) free(t.nodes[i].cps), free(t.nodes[i].kids);
    free(t.nodes);
    free(char_rule);
    return res ? res : kite__js_nomem(c);
}
