// json_schema_pattern.c - a string schema's "pattern" (a regular expression anchored with ^ and
// $) as grammar rules, llama.cpp's _pattern_to_rule: literals, classes, groups, alternatives and
// repetitions; a pattern with no grammar equivalent falls back to any string, the rules it added
// undone.
#include "base/internal.h"
#include "grammar/json_schema_internal.h"

#include <stdio.h>

// A pattern that is valid but has no grammar equivalent falls back to any string (with a warning
// in llama.cpp); an invalid one is an error.
enum { PAT_OK, PAT_UNSUPPORTED, PAT_INVALID };

typedef struct item {
    char *s;
    bool literal;
} item;

typedef struct pat {
    conv *c;
    const char *p; // the pattern without ^ and $
    size_t i, len;
    int depth;
    int status;
    char why[80];
    const char *name;
    char **sub_keys, **sub_ids; // repeated sub-rules already named
    size_t n_sub;
} pat;

static bool pat_fail(pat *t, int status, const char *why) {
    if (t->status == PAT_OK) {
        t->status = status;
        snprintf(t->why, sizeof t->why, "%s", why);
    }
    return false;
}

static size_t escape_length(const char *p, size_t len, size_t pos) {
    if (pos + 1 >= len || p[pos] != '\\') return 0;
    size_t n_hex = 0;
    switch (p[pos + 1]) {
    case 'x': n_hex = 2; break;
    case 'u': n_hex = 4; break;
    case 'U': n_hex = 8; break;
    case 't': case 'r': case 'n': case '\\': case '"': case '[': case ']': case '-': return 2;
    default: return 0;
    }
    if (pos + 2 + n_hex > len) return 0;
    for (size_t i = pos + 2; i < pos + 2 + n_hex; i++) {
        char h = p[i];
        if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F'))) return 0;
    }
    return 2 + n_hex;
}

static char *to_rule(const item *it) {
    return it->literal ? kite__js_fmt("\"%s\"", it->s) : kite__js_fmt("%s", it->s);
}

static void free_items(item *seq, size_t n) {
    for (size_t i = 0; i < n; i++) free(seq[i].s);
    free(seq);
}

// Joins a sequence, merging consecutive literals; returns the rule text (not a literal).
static char *join_seq(item *seq, size_t n) {
    kite_buf out = {0}, lit = {0};
    bool first = true;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && seq[i].literal) {
            kite_buf_puts(&lit, seq[i].s);
            continue;
        }
        if (lit.len) {
            if (!first) kite_buf_puts(&out, " ");
            kite_buf_puts(&out, "\"");
            kite_buf_append(&out, lit.ptr, lit.len);
            kite_buf_puts(&out, "\"");
            first = false;
            lit.len = 0;
        }
        if (i < n) {
            if (!first) kite_buf_puts(&out, " ");
            kite_buf_puts(&out, seq[i].s);
            first = false;
        }
    }
    kite_buf_free(&lit);
    return kite__js_take(&out);
}

static bool push_item(item **seq, size_t *n, char *s, bool literal) {
    if (!s) return false;
    item *q = realloc(*seq, (*n + 1) * sizeof *q);
    if (!q) return free(s), false;
    *seq = q;
    q[(*n)++] = (item){s, literal};
    return true;
}

static bool is_non_literal(char ch) { return ch && strchr("|.()[]{}*+?^$", ch) != NULL; }

static char *transform(pat *t) {
    item *seq = NULL;
    size_t n = 0;
    conv *c = t->c;
    const char *p = t->p;
    while (t->i < t->len && t->status == PAT_OK && !c->fatal) {
        char ch = p[t->i];
        if (ch == '.') {
            if (!push_item(&seq, &n, kite__js_add_rule(c, "dot", "[^\\x0A\\x0D]"), false)) break;
            t->i++;
        } else if (ch == '(') {
            t->i++;
            if (t->i < t->len && p[t->i] == '?') {
                if (t->i + 1 < t->len && p[t->i + 1] == ':') t->i += 2;
                else {
                    pat_fail(t, PAT_UNSUPPORTED, "unsupported group syntax");
                    break;
                }
            }
            if (++t->depth > 100) {
                pat_fail(t, PAT_UNSUPPORTED, "pattern nesting too deep");
                break;
            }
            char *sub = transform(t);
            if (!sub) break;
            char *g = kite__js_fmt("(%s)", sub);
            free(sub);
            if (!push_item(&seq, &n, g, false)) break;
        } else if (ch == ')') {
            t->i++;
            if (t->depth == 0) {
                pat_fail(t, PAT_INVALID, "unbalanced parentheses");
                break;
            }
            t->depth--;
            char *r = join_seq(seq, n);
            free_items(seq, n);
            return r;
        } else if (ch == '^' || ch == '$') {
            pat_fail(t, PAT_UNSUPPORTED, "anchor inside the pattern");
            break;
        } else if (ch == '[') {
            kite_buf b = {0};
            kite_buf_puts(&b, "[");
            t->i++;
            while (t->i < t->len && p[t->i] != ']') {
                if (p[t->i] == '\\') {
                    size_t el = escape_length(p, t->len, t->i);
                    if (el == 0) {
                        pat_fail(t, PAT_UNSUPPORTED, "unsupported escape in character class");
                        break;
                    }
                    kite_buf_append(&b, p + t->i, el);
                    t->i += el;
                } else {
                    // a-b of two ASCII characters with b before a matches nothing: refused
                    const unsigned char lo = (unsigned char)p[t->i];
                    if (t->i + 2 < t->len && p[t->i + 1] == '-' && p[t->i + 2] != ']' && p[t->i + 2] != '\\' && lo < 0x80 &&
                        (unsigned char)p[t->i + 2] < 0x80 && (unsigned char)p[t->i + 2] < lo) {
                        pat_fail(t, PAT_INVALID, "reversed range in character class");
                        break;
                    }
                    kite_buf_append(&b, p + t->i++, 1);
                }
            }
            if (t->status == PAT_OK && t->i >= t->len) pat_fail(t, PAT_INVALID, "unterminated character class");
            if (t->status != PAT_OK) {
                kite_buf_free(&b);
                break;
            }
            kite_buf_puts(&b, "]");
            t->i++;
            if (!push_item(&seq, &n, kite__js_take(&b), false)) break;
        } else if (ch == '|') {
            if (!push_item(&seq, &n, kite__js_fmt("|"), false)) break;
            t->i++;
        } else if (ch == '*' || ch == '+' || ch == '?') {
            if (n == 0) {
                pat_fail(t, PAT_INVALID, "nothing to repeat");
                break;
            }
            char *r = to_rule(&seq[n - 1]);
            char *q = r ? kite__js_fmt("%s%c", r, ch) : NULL;
            free(r);
            if (!q) break;
            free(seq[n - 1].s);
            seq[n - 1] = (item){q, false};
            t->i++;
        } else if (ch == '{') {
            size_t start = ++t->i;
            while (t->i < t->len && p[t->i] != '}') t->i++;
            if (t->i >= t->len) {
                pat_fail(t, PAT_UNSUPPORTED, "unterminated curly brackets");
                break;
            }
            char inside[64];
            snprintf(inside, sizeof inside, "%.*s", (int)KITE_MIN(t->i - start, 60), p + start);
            t->i++;
            int min = 0, max = INT32_MAX;
            char *comma = strchr(inside, ',');
            if (comma && strchr(comma + 1, ',')) {
                pat_fail(t, PAT_UNSUPPORTED, "wrong number of values in curly brackets");
                break;
            }
            char *end;
            if (!comma) {
                long v = strtol(inside, &end, 10);
                if (end == inside || v < 0 || v > 100000) {
                    pat_fail(t, PAT_UNSUPPORTED, "invalid number in curly brackets");
                    break;
                }
                min = max = (int)v;
            } else {
                *comma = 0;
                if (*inside) {
                    long v = strtol(inside, &end, 10);
                    if (end == inside || v < 0 || v > 100000) {
                        pat_fail(t, PAT_UNSUPPORTED, "invalid number in curly brackets");
                        break;
                    }
                    min = (int)v;
                }
                if (comma[1]) {
                    long v = strtol(comma + 1, &end, 10);
                    if (end == comma + 1 || v < 0 || v > 100000) {
                        pat_fail(t, PAT_UNSUPPORTED, "invalid number in curly brackets");
                        break;
                    }
                    max = (int)v;
                }
            }
            if (n == 0) {
                pat_fail(t, PAT_INVALID, "nothing to repeat");
                break;
            }
            if (max < min) {
                pat_fail(t, PAT_INVALID, "repetition maximum below its minimum");
                break;
            }
            item *last = &seq[n - 1];
            char *sub;
            if (!last->literal) { // a non-literal gets a rule of its own, once per distinct text
                char *id = NULL;
                for (size_t k = 0; k < t->n_sub; k++)
                    if (strcmp(t->sub_keys[k], last->s) == 0) id = t->sub_ids[k];
                if (!id) {
                    char *nm = kite__js_fmt("%s-%zu", t->name, t->n_sub + 1);
                    id = nm ? kite__js_add_rule(c, nm, last->s) : NULL;
                    free(nm);
                    char **k1 = realloc(t->sub_keys, (t->n_sub + 1) * sizeof *k1);
                    if (k1) t->sub_keys = k1;
                    char **k2 = realloc(t->sub_ids, (t->n_sub + 1) * sizeof *k2);
                    if (k2) t->sub_ids = k2;
                    char *key = kite__js_fmt("%s", last->s);
                    if (!id || !k1 || !k2 || !key) {
                        free(id);
                        free(key);
                        kite__js_nomem(c);
                        break;
                    }
                    t->sub_keys[t->n_sub] = key;
                    t->sub_ids[t->n_sub++] = id;
                }
                sub = kite__js_fmt("%s", id);
            } else {
                sub = kite__js_fmt("\"%s\"", last->s);
            }
            if (!sub) break;
            kite_buf b = {0};
            kite__js_put_repetition(&b, sub, min, max, NULL);
            free(sub);
            free(last->s);
            *last = (item){kite__js_take(&b), false};
            if (!last->s) break;
        } else {
            kite_buf lit = {0};
            while (t->i < t->len) {
                char q = p[t->i];
                if (q == '\\') {
                    if (t->i == t->len - 1) {
                        pat_fail(t, PAT_INVALID, "trailing backslash");
                        break;
                    }
                    char next = p[t->i + 1];
                    if (strchr("^$.[]()|{}*+?", next)) {
                        kite_buf_append(&lit, &next, 1);
                        t->i += 2;
                    } else {
                        size_t el = escape_length(p, t->len, t->i);
                        if (el == 0) {
                            pat_fail(t, PAT_UNSUPPORTED, "unsupported escape");
                            break;
                        }
                        kite_buf_append(&lit, p + t->i, el);
                        t->i += el;
                    }
                } else if (q == '"') {
                    kite_buf_puts(&lit, "\\\"");
                    t->i++;
                } else if (!is_non_literal(q) && (t->i == t->len - 1 || lit.len == 0 || p[t->i + 1] == '.' ||
                                                  !is_non_literal(p[t->i + 1]))) {
                    kite_buf_append(&lit, &q, 1);
                    t->i++;
                } else {
                    break;
                }
            }
            if (t->status == PAT_OK && lit.len == 0) pat_fail(t, PAT_UNSUPPORTED, "unsupported character");
            if (t->status != PAT_OK) {
                kite_buf_free(&lit);
                break;
            }
            if (!push_item(&seq, &n, kite__js_take(&lit), true)) break;
        }
    }
    char *r = t->status == PAT_OK && !c->fatal ? join_seq(seq, n) : NULL;
    free_items(seq, n);
    return r;
}

// Copies of the rule table, to undo what a failed pattern added.
typedef struct snapshot {
    char **names, **bodies;
    size_t n;
} snapshot;

static bool take_snapshot(conv *c, snapshot *s) {
    s->n = c->n_rules;
    s->names = calloc(s->n + 1, sizeof *s->names);
    s->bodies = calloc(s->n + 1, sizeof *s->bodies);
    if (!s->names || !s->bodies) return false;
    for (size_t i = 0; i < s->n; i++) {
        s->names[i] = kite__js_fmt("%s", c->names[i]);
        s->bodies[i] = kite__js_fmt("%s", c->bodies[i]);
        if (!s->names[i] || !s->bodies[i]) return false;
    }
    return true;
}

static void free_snapshot(snapshot *s) {
    for (size_t i = 0; s->names && i < s->n; i++) free(s->names[i]);
    for (size_t i = 0; s->bodies && i < s->n; i++) free(s->bodies[i]);
    free(s->names);
    free(s->bodies);
}

static void restore_snapshot(conv *c, snapshot *s) {
    for (size_t i = 0; i < c->n_rules; i++) free(c->names[i]), free(c->bodies[i]);
    for (size_t i = 0; i < s->n; i++) c->names[i] = s->names[i], c->bodies[i] = s->bodies[i];
    c->n_rules = s->n;
    free(s->names);
    free(s->bodies);
    s->names = s->bodies = NULL;
}

char *kite__js_visit_pattern(conv *c, const char *pattern, size_t plen, const char *name) {
    snapshot snap = {0};
    if (!take_snapshot(c, &snap)) {
        free_snapshot(&snap);
        return kite__js_nomem(c);
    }
    pat t = {.c = c, .name = name};
    char *rule = NULL;
    if (plen < 2 || pattern[0] != '^' || pattern[plen - 1] != '$') {
        pat_fail(&t, PAT_UNSUPPORTED, "not anchored with '^' and '$'");
    } else {
        t.p = pattern + 1;
        t.len = plen - 2;
        rule = transform(&t);
        if (t.status == PAT_OK && t.depth != 0) pat_fail(&t, PAT_INVALID, "unbalanced parentheses");
    }
    for (size_t k = 0; k < t.n_sub; k++) free(t.sub_keys[k]), free(t.sub_ids[k]);
    free(t.sub_keys);
    free(t.sub_ids);
    char *out = NULL;
    if (c->fatal) {
        free_snapshot(&snap);
    } else if (t.status == PAT_OK && rule) {
        free_snapshot(&snap);
        char *body = kite__js_fmt("\"\\\"\" (%s) \"\\\"\"", rule);
        out = kite__js_add_rule(c, name, body);
        free(body);
    } else if (t.status == PAT_UNSUPPORTED) {
        restore_snapshot(c, &snap);
        kite__log(KITE_LOG_WARN, "json schema: pattern %s is not supported (%s), accepting any string", pattern, t.why);
        char *s = kite__js_add_primitive(c, "string", kite__js_find_builtin("string"));
        out = s ? kite__js_add_rule(c, name, s) : NULL;
        free(s);
    } else {
        restore_snapshot(c, &snap);
        kite_buf_puts(&c->errors, c->errors.len ? "; " : "");
        kite_buf_puts(&c->errors, "invalid pattern ");
        kite_buf_puts(&c->errors, pattern);
        kite_buf_puts(&c->errors, ": ");
        kite_buf_puts(&c->errors, t.why);
        out = kite__js_fmt("%s", "");
    }
    free(rule);
    return out;
}
