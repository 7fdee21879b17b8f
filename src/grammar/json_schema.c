// json_schema.c - JSON schema -> GBNF, following llama.cpp's common/json-schema.cpp (which
// schema keywords mean what) and common/json-schema-to-grammar.cpp (the rules it writes, their
// names and order), so the same schema gives the same grammar text.
#include "base/internal.h"
#include "grammar/json_tree.h"
#include "grammar/kite_grammar.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

// A schema may not need more rules than this: rules are looked up by name one by one, and a
// request's schema must not cost quadratic time.
#define MAX_RULES 5000

// ---- the fixed rules ----------------------------------------------------------------------

static const char SPACE_RULE[] = "| \" \" | \"\\n\"{1,2} [ \\t]{0,20}";

typedef struct builtin {
    const char *name, *content;
    const char *deps[6];
} builtin;

static const builtin PRIMITIVES[] = {
    {"boolean", "(\"true\" | \"false\")", {0}},
    {"decimal-part", "[0-9]{1,16}", {0}},
    {"integral-part", "[0] | [1-9] [0-9]{0,15}", {0}},
    {"number", "(\"-\"? integral-part) (\".\" decimal-part)? ([eE] [-+]? integral-part)?",
     {"integral-part", "decimal-part"}},
    {"integer", "(\"-\"? integral-part)", {"integral-part"}},
    {"value", "object | array | string | number | boolean | null", {"object", "array", "string", "number", "boolean", "null"}},
    {"object", "\"{\" space ( string \":\" space value (\",\" space string \":\" space value)* )? space \"}\"",
     {"string", "value"}},
    {"array", "\"[\" space ( value (\",\" space value)* )? space \"]\"", {"value"}},
    {"uuid",
     "\"\\\"\" [0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12} "
     "\"\\\"\"",
     {0}},
    {"char", "[^\"\\\\\\x7F\\x00-\\x1F] | [\\\\] ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4})", {0}},
    {"string", "\"\\\"\" char* \"\\\"\"", {"char"}},
    {"null", "\"null\"", {0}},
    // string formats
    {"date", "[0-9]{4} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | [1-2] [0-9] | \"3\" [0-1] )", {0}},
    {"time",
     "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{3} )? ( \"Z\" | ( \"+\" | \"-\" ) "
     "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )",
     {0}},
    {"date-time", "date \"T\" time", {"date", "time"}},
    {"date-string", "\"\\\"\" date \"\\\"\"", {"date"}},
    {"time-string", "\"\\\"\" time \"\\\"\"", {"time"}},
    {"date-time-string", "\"\\\"\" date-time \"\\\"\"", {"date-time"}},
};

static const builtin *find_builtin(const char *name) {
    for (size_t i = 0; i < sizeof PRIMITIVES / sizeof PRIMITIVES[0]; i++)
        if (strcmp(PRIMITIVES[i].name, name) == 0) return &PRIMITIVES[i];
    return NULL;
}

static bool is_reserved(const char *name) { return strcmp(name, "root") == 0 || find_builtin(name) != NULL; }

// ---- strings ------------------------------------------------------------------------------

// A malloc'd printf result (NULL when out of memory).
static char *fmt(const char *f, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *fmt(const char *f, ...) {
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

static char *take(kite_buf *b) { // the buffer's text as a malloc'd string
    if (b->nomem) {
        kite_buf_free(b);
        return NULL;
    }
    char *s = b->ptr ? b->ptr : calloc(1, 1);
    *b = (kite_buf){0};
    return s;
}

// llama.cpp's format_literal: "..." with \r \n " \ escaped.
static void put_literal(kite_buf *b, const char *s, size_t n) {
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

// ---- the converter ------------------------------------------------------------------------

typedef enum kind {
    K_ANY, K_REF, K_ANY_OF, K_ALL_OF, K_CONST, K_ENUM, K_NULL, K_BOOLEAN, K_NUMBER, K_INTEGER, K_STRING, K_ARRAY,
    K_TUPLE, K_OBJECT,
} kind;

typedef struct conv {
    const kite__jval *root;
    char **names, **bodies; // the rules (printed sorted by name)
    size_t n_rules, cap_rules;
    char **resolving; // $refs being converted (a cycle stops at them)
    size_t n_resolving;
    kite__jval **made; // schemas made here ({"type": one of several}); freed at the end
    size_t n_made;
    kite__jval **copies; // shallow copies of values (their members belong to the document)
    size_t n_copies;
    kite_buf errors;   // conversion errors (llama.cpp collects these and fails at the end)
    kite_status fatal; // a schema error (fails at once) or out of memory
    char fatal_msg[300];
} conv;

static char *fail(conv *c, const char *path, const char *msg) {
    if (c->fatal == KITE_OK) {
        c->fatal = KITE_ERR_INVALID;
        snprintf(c->fatal_msg, sizeof c->fatal_msg, "JSON schema error at %s: %s", path, msg);
    }
    return NULL;
}

static char *nomem(conv *c) {
    if (c->fatal == KITE_OK) {
        c->fatal = KITE_ERR_NOMEM;
        snprintf(c->fatal_msg, sizeof c->fatal_msg, "out of memory");
    }
    return NULL;
}

static const char *rule_body(const conv *c, const char *name) {
    for (size_t i = 0; i < c->n_rules; i++)
        if (strcmp(c->names[i], name) == 0) return c->bodies[i];
    return NULL;
}

static bool set_rule(conv *c, const char *name, const char *body) {
    for (size_t i = 0; i < c->n_rules; i++)
        if (strcmp(c->names[i], name) == 0) {
            char *b = fmt("%s", body);
            if (!b) return nomem(c), false;
            free(c->bodies[i]);
            c->bodies[i] = b;
            return true;
        }
    if (c->n_rules >= MAX_RULES) {
        if (c->fatal == KITE_OK) {
            c->fatal = KITE_ERR_INVALID;
            snprintf(c->fatal_msg, sizeof c->fatal_msg, "the schema needs more than %d grammar rules", MAX_RULES);
        }
        return false;
    }
    if (c->n_rules == c->cap_rules) {
        size_t cap = c->cap_rules ? 2 * c->cap_rules : 32;
        char **n = realloc(c->names, cap * sizeof *n);
        if (!n) return nomem(c), false;
        c->names = n;
        char **b = realloc(c->bodies, cap * sizeof *b);
        if (!b) return nomem(c), false;
        c->bodies = b;
        c->cap_rules = cap;
    }
    char *nm = fmt("%s", name), *bd = fmt("%s", body);
    if (!nm || !bd) {
        free(nm);
        free(bd);
        return nomem(c), false;
    }
    c->names[c->n_rules] = nm;
    c->bodies[c->n_rules++] = bd;
    return true;
}

static bool rule_name_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-';
}

// Appends s to b as a GBNF rule name: letters, digits and '-' kept, each run of other bytes one '-'.
static void append_rule_name(kite_buf *b, const char *s) {
    for (const char *p = s; *p;) {
        if (rule_name_char(*p)) {
            kite_buf_append(b, p++, 1);
        } else {
            while (*p && !rule_name_char(*p)) p++;
            kite_buf_puts(b, "-");
        }
    }
}

// llama.cpp's _add_rule: the name with runs of other chars than [a-zA-Z0-9-] made "-"; a
// different rule of that name already there gets name0, name1, ... Returns the name used.
static char *add_rule(conv *c, const char *name, const char *body) {
    if (!body || c->fatal) return NULL;
    kite_buf b = {0};
    append_rule_name(&b, name);
    char *esc = take(&b);
    if (!esc) return nomem(c);
    const char *have = rule_body(c, esc);
    if (!have || strcmp(have, body) == 0) {
        if (!set_rule(c, esc, body)) return free(esc), NULL;
        return esc;
    }
    for (int i = 0;; i++) {
        char *k = fmt("%s%d", esc, i);
        if (!k) return free(esc), nomem(c);
        have = rule_body(c, k);
        if (!have || strcmp(have, body) == 0) {
            free(esc);
            if (!set_rule(c, k, body)) return free(k), NULL;
            return k;
        }
        free(k);
    }
}

// Adds a built-in rule and the built-ins it uses; returns the name used.
static char *add_primitive(conv *c, const char *name, const builtin *r) {
    char *n = add_rule(c, name, r->content);
    for (int i = 0; n && i < 6 && r->deps[i]; i++) {
        const builtin *d = find_builtin(r->deps[i]);
        if (!rule_body(c, r->deps[i])) free(add_primitive(c, r->deps[i], d));
    }
    return n;
}

static char *visit_primitive(conv *c, const char *rule_name, const char *type) {
    return add_primitive(c, strcmp(rule_name, "root") == 0 ? "root" : type, find_builtin(type));
}

// llama.cpp's build_repetition (into b).
static void put_repetition(kite_buf *b, const char *item, int min, int max, const char *sep) {
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
    if (inner.ptr) put_repetition(b, inner.ptr, min == 0 ? 0 : min - 1, has_max ? max - 1 : max, NULL);
    if (min == 0) kite_buf_puts(b, ")?");
    kite_buf_free(&inner);
}

// ---- integer ranges (llama.cpp's build_min_max_int) ---------------------------------------

static void digit_range(kite_buf *o, char from, char to) {
    char t[8];
    if (from == to) snprintf(t, sizeof t, "[%c]", from);
    else snprintf(t, sizeof t, "[%c-%c]", from, to);
    kite_buf_puts(o, t);
}

static void more_digits(kite_buf *o, int min_d, int max_d) {
    char t[48];
    kite_buf_puts(o, "[0-9]");
    if (min_d == max_d && min_d == 1) return;
    if (max_d == min_d) snprintf(t, sizeof t, "{%d}", min_d);
    else if (max_d != INT32_MAX) snprintf(t, sizeof t, "{%d,%d}", min_d, max_d);
    else snprintf(t, sizeof t, "{%d,}", min_d);
    kite_buf_puts(o, t);
}

static void repeat_char(char *out, char ch, size_t n) {
    memset(out, ch, n);
    out[n] = 0;
}

static void uniform_range(kite_buf *o, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), i = 0;
    while (i < fl && i < tl && from[i] == to[i]) i++;
    if (i > 0) {
        kite_buf_puts(o, "\"");
        kite_buf_append(o, from, i);
        kite_buf_puts(o, "\"");
    }
    if (i < fl && i < tl) {
        if (i > 0) kite_buf_puts(o, " ");
        size_t sub_len = fl - i - 1;
        if (sub_len > 0) {
            const char *from_sub = from + i + 1, *to_sub = to + i + 1;
            char zeros[32], nines[32];
            repeat_char(zeros, '0', sub_len);
            repeat_char(nines, '9', sub_len);
            bool to_reached = false;
            kite_buf_puts(o, "(");
            if (strcmp(from_sub, zeros) == 0) {
                digit_range(o, from[i], (char)(to[i] - 1));
                kite_buf_puts(o, " ");
                more_digits(o, (int)sub_len, (int)sub_len);
            } else {
                char t[8];
                snprintf(t, sizeof t, "[%c] ", from[i]);
                kite_buf_puts(o, t);
                kite_buf_puts(o, "(");
                uniform_range(o, from_sub, nines);
                kite_buf_puts(o, ")");
                if (from[i] < to[i] - 1) {
                    kite_buf_puts(o, " | ");
                    if (strcmp(to_sub, nines) == 0) {
                        digit_range(o, (char)(from[i] + 1), to[i]);
                        to_reached = true;
                    } else {
                        digit_range(o, (char)(from[i] + 1), (char)(to[i] - 1));
                    }
                    kite_buf_puts(o, " ");
                    more_digits(o, (int)sub_len, (int)sub_len);
                }
            }
            if (!to_reached) {
                kite_buf_puts(o, " | ");
                digit_range(o, to[i], to[i]);
                kite_buf_puts(o, " ");
                uniform_range(o, zeros, to_sub);
            }
            kite_buf_puts(o, ")");
        } else {
            char t[16];
            snprintf(t, sizeof t, "[%c-%c]", from[i], to[i]);
            kite_buf_puts(o, t);
        }
    }
}

static void min_max_int(kite_buf *o, int64_t min_v, int64_t max_v, int decimals_left, bool top_level) {
    bool has_min = min_v != INT64_MIN, has_max = max_v != INT64_MAX;
    char t[64];
    if (has_min && has_max) {
        if (min_v < 0 && max_v < 0) {
            kite_buf_puts(o, "\"-\" (");
            min_max_int(o, -max_v, -min_v, decimals_left, true);
            kite_buf_puts(o, ")");
            return;
        }
        if (min_v < 0) {
            kite_buf_puts(o, "\"-\" (");
            min_max_int(o, 0, -min_v, decimals_left, true);
            kite_buf_puts(o, ") | ");
            min_v = 0;
        }
        char min_s[32], max_s[32];
        snprintf(min_s, sizeof min_s, "%lld", (long long)min_v);
        snprintf(max_s, sizeof max_s, "%lld", (long long)max_v);
        size_t min_d = strlen(min_s), max_d = strlen(max_s);
        for (size_t d = min_d; d < max_d; d++) {
            char nines[32];
            repeat_char(nines, '9', d);
            uniform_range(o, min_s, nines);
            min_s[0] = '1';
            repeat_char(min_s + 1, '0', d);
            kite_buf_puts(o, " | ");
        }
        uniform_range(o, min_s, max_s);
        return;
    }
    int less_decimals = decimals_left - 1 > 1 ? decimals_left - 1 : 1;
    if (has_min) {
        if (min_v < 0) {
            kite_buf_puts(o, "\"-\" (");
            min_max_int(o, INT64_MIN, -min_v, decimals_left, false);
            kite_buf_puts(o, ") | [0] | [1-9] ");
            more_digits(o, 0, decimals_left - 1);
        } else if (min_v == 0) {
            if (top_level) {
                kite_buf_puts(o, "[0] | [1-9] ");
                more_digits(o, 0, less_decimals);
            } else {
                more_digits(o, 1, decimals_left);
            }
        } else if (min_v <= 9) {
            char ch = (char)('0' + min_v);
            char start = top_level ? '1' : '0';
            if (ch > start) {
                digit_range(o, start, (char)(ch - 1));
                kite_buf_puts(o, " ");
                more_digits(o, 1, less_decimals);
                kite_buf_puts(o, " | ");
            }
            digit_range(o, ch, '9');
            kite_buf_puts(o, " ");
            more_digits(o, 0, less_decimals);
        } else {
            snprintf(t, sizeof t, "%lld", (long long)min_v);
            int len = (int)strlen(t);
            char ch = t[0];
            if (ch > '1') {
                digit_range(o, top_level ? '1' : '0', (char)(ch - 1));
                kite_buf_puts(o, " ");
                more_digits(o, len, less_decimals);
                kite_buf_puts(o, " | ");
            }
            digit_range(o, ch, ch);
            kite_buf_puts(o, " (");
            min_max_int(o, strtoll(t + 1, NULL, 10), INT64_MAX, less_decimals, false);
            kite_buf_puts(o, ")");
            if (ch < '9') {
                kite_buf_puts(o, " | ");
                digit_range(o, (char)(ch + 1), '9');
                kite_buf_puts(o, " ");
                more_digits(o, len - 1, less_decimals);
            }
        }
        return;
    }
    if (has_max) {
        if (max_v >= 0) {
            if (top_level) {
                kite_buf_puts(o, "\"-\" [1-9] ");
                more_digits(o, 0, less_decimals);
                kite_buf_puts(o, " | ");
            }
            min_max_int(o, 0, max_v, decimals_left, true);
        } else {
            kite_buf_puts(o, "\"-\" (");
            min_max_int(o, -max_v, INT64_MAX, decimals_left, false);
            kite_buf_puts(o, ")");
        }
    }
}

// ---- string patterns (llama.cpp's _pattern_to_rule) ---------------------------------------

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

static char *to_rule(const item *it) { return it->literal ? fmt("\"%s\"", it->s) : fmt("%s", it->s); }

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
    return take(&out);
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
            if (!push_item(&seq, &n, add_rule(c, "dot", "[^\\x0A\\x0D]"), false)) break;
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
            char *g = fmt("(%s)", sub);
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
            if (!push_item(&seq, &n, take(&b), false)) break;
        } else if (ch == '|') {
            if (!push_item(&seq, &n, fmt("|"), false)) break;
            t->i++;
        } else if (ch == '*' || ch == '+' || ch == '?') {
            if (n == 0) {
                pat_fail(t, PAT_INVALID, "nothing to repeat");
                break;
            }
            char *r = to_rule(&seq[n - 1]);
            char *q = r ? fmt("%s%c", r, ch) : NULL;
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
                    char *nm = fmt("%s-%zu", t->name, t->n_sub + 1);
                    id = nm ? add_rule(c, nm, last->s) : NULL;
                    free(nm);
                    char **k1 = realloc(t->sub_keys, (t->n_sub + 1) * sizeof *k1);
                    if (k1) t->sub_keys = k1;
                    char **k2 = realloc(t->sub_ids, (t->n_sub + 1) * sizeof *k2);
                    if (k2) t->sub_ids = k2;
                    char *key = fmt("%s", last->s);
                    if (!id || !k1 || !k2 || !key) {
                        free(id);
                        free(key);
                        nomem(c);
                        break;
                    }
                    t->sub_keys[t->n_sub] = key;
                    t->sub_ids[t->n_sub++] = id;
                }
                sub = fmt("%s", id);
            } else {
                sub = fmt("\"%s\"", last->s);
            }
            if (!sub) break;
            kite_buf b = {0};
            put_repetition(&b, sub, min, max, NULL);
            free(sub);
            free(last->s);
            *last = (item){take(&b), false};
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
            if (!push_item(&seq, &n, take(&lit), true)) break;
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
        s->names[i] = fmt("%s", c->names[i]);
        s->bodies[i] = fmt("%s", c->bodies[i]);
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

static char *visit_pattern(conv *c, const char *pattern, size_t plen, const char *name) {
    snapshot snap = {0};
    if (!take_snapshot(c, &snap)) {
        free_snapshot(&snap);
        return nomem(c);
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
        char *body = fmt("\"\\\"\" (%s) \"\\\"\"", rule);
        out = add_rule(c, name, body);
        free(body);
    } else if (t.status == PAT_UNSUPPORTED) {
        restore_snapshot(c, &snap);
        kite__log(KITE_LOG_WARN, "json schema: pattern %s is not supported (%s), accepting any string", pattern, t.why);
        char *s = add_primitive(c, "string", find_builtin("string"));
        out = s ? add_rule(c, name, s) : NULL;
        free(s);
    } else {
        restore_snapshot(c, &snap);
        kite_buf_puts(&c->errors, c->errors.len ? "; " : "");
        kite_buf_puts(&c->errors, "invalid pattern ");
        kite_buf_puts(&c->errors, pattern);
        kite_buf_puts(&c->errors, ": ");
        kite_buf_puts(&c->errors, t.why);
        out = fmt("%s", "");
    }
    free(rule);
    return out;
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

static char *not_strings(conv *c, char **strings, size_t n) {
    trie t = {0};
    bool ok = trie_add(&t) == 0;
    for (size_t i = 0; ok && i < n; i++) ok = trie_insert(&t, strings[i]);
    char *char_rule = ok ? add_primitive(c, "char", find_builtin("char")) : NULL;
    char *res = NULL;
    if (char_rule) {
        kite_buf out = {0};
        kite_buf_puts(&out, "[\"] ( ");
        not_strings_visit(&t, 0, char_rule, &out);
        kite_buf_puts(&out, " )");
        if (!t.nodes[0].end) kite_buf_puts(&out, "?");
        kite_buf_puts(&out, " [\"]");
        res = take(&out);
    }
    for (size_t i = 0; i < t.n; i++) free(t.nodes[i].cps), free(t.nodes[i].kids);
    free(t.nodes);
    free(char_rule);
    return res ? res : nomem(c);
}

// ---- what a schema is (llama.cpp's common_chat_schema_builder::build_node) -----------------

static const kite__jval *get(const kite__jval *v, const char *key) { return kite__json_get(v, key); }

enum { F_NONE, F_DATE, F_TIME, F_DATE_TIME, F_UUID, F_BAD };

static int get_format(const kite__jval *s) {
    const kite__jval *f = get(s, "format");
    if (!f) return F_NONE;
    if (f->type != KITE__J_STR) return F_BAD;
    if (strcmp(f->s, "date") == 0) return F_DATE;
    if (strcmp(f->s, "time") == 0) return F_TIME;
    if (strcmp(f->s, "date-time") == 0) return F_DATE_TIME;
    if (strcmp(f->s, "uuid") == 0 || (f->slen == 5 && strncmp(f->s, "uuid", 4) == 0 && f->s[4] >= '1' && f->s[4] <= '5'))
        return F_UUID;
    return F_NONE;
}

static bool is_true(const kite__jval *v) { return v && v->type == KITE__J_BOOL && v->b; }

static bool has_properties(const kite__jval *s) {
    const kite__jval *ap = get(s, "additionalProperties");
    return get(s, "properties") || (ap && !is_true(ap));
}

// The kind of schema s (its node kind in llama.cpp's builder); K_ANY with c->fatal set on a
// schema error.
static kind kind_of(conv *c, const kite__jval *s, const char *path) {
    if (!s || s->type != KITE__J_OBJ) return fail(c, path, "schema must be an object"), K_ANY;
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
        if (get(s, unsupported[i])) {
            char m[96];
            snprintf(m, sizeof m, "unsupported keyword '%s'", unsupported[i]);
            return fail(c, path, m), K_ANY;
        }
    if (get(s, "$ref")) return K_REF;
    if (get(s, "oneOf") || get(s, "anyOf")) return K_ANY_OF;
    const kite__jval *type = get(s, "type");
    if (type && type->type == KITE__J_ARR) return K_ANY_OF;
    if (get(s, "const")) return K_CONST;
    if (get(s, "enum")) return K_ENUM;
    if (type && type->type != KITE__J_NULL && type->type != KITE__J_STR)
        return fail(c, path, "type must be a string or an array of strings"), K_ANY;
    const char *tn = type && type->type == KITE__J_STR ? type->s : "";
    if (!*tn) {
        if (has_properties(s)) return K_OBJECT;
        if (get(s, "allOf")) return K_ALL_OF;
        const kite__jval *items = get(s, "items") ? get(s, "items") : get(s, "prefixItems");
        if (items) return items->type == KITE__J_ARR ? K_TUPLE : K_ARRAY;
        int f = get_format(s);
        if (f == F_BAD) return fail(c, path, "format must be a string"), K_ANY;
        if (get(s, "pattern") || get(s, "minLength") || get(s, "maxLength") || f != F_NONE) return K_STRING;
        return K_ANY;
    }
    if (strcmp(tn, "object") == 0) return !has_properties(s) && get(s, "allOf") ? K_ALL_OF : K_OBJECT;
    if (strcmp(tn, "string") == 0) return get(s, "allOf") ? K_ALL_OF : K_STRING;
    if (strcmp(tn, "array") == 0) {
        const kite__jval *items = get(s, "items") ? get(s, "items") : get(s, "prefixItems");
        return items && items->type == KITE__J_ARR ? K_TUPLE : K_ARRAY;
    }
    if (strcmp(tn, "integer") == 0) return K_INTEGER;
    if (strcmp(tn, "number") == 0) return K_NUMBER;
    if (strcmp(tn, "boolean") == 0) return K_BOOLEAN;
    if (strcmp(tn, "null") == 0) return K_NULL;
    char m[160];
    snprintf(m, sizeof m, "unrecognized type %.100s", tn);
    return fail(c, path, m), K_ANY;
}

// A count keyword (minItems ...): def when absent, -2 (and c->fatal) when not a count.
static int get_count(conv *c, const kite__jval *s, const char *key, const char *path, int def) {
    const kite__jval *v = get(s, key);
    if (!v) return def;
    if (v->type != KITE__J_NUM || !v->is_int || v->i < 0 || v->i > INT32_MAX) {
        char m[96];
        snprintf(m, sizeof m, "%s must be a non-negative integer", key);
        fail(c, path, m);
        return -2;
    }
    return (int)v->i;
}

// An integer bound, a fractional one rounded inwards.
static bool get_bound(conv *c, const kite__jval *v, const char *key, const char *path, bool round_up, int64_t *out) {
    if (v->type != KITE__J_NUM) {
        char m[96];
        snprintf(m, sizeof m, "%s must be a number", key);
        return fail(c, path, m), false;
    }
    if (v->is_int) {
        *out = v->i;
        return true;
    }
    double d = round_up ? ceil(v->d) : floor(v->d);
    *out = d >= 9e18 ? INT64_MAX - 1 : d <= -9e18 ? INT64_MIN + 1 : (int64_t)d;
    return true;
}

// The schema a "#/..." reference points at (NULL and c->fatal when it cannot be resolved).
static const kite__jval *resolve_ref(conv *c, const char *ref, const char *path) {
    if (strncmp(ref, "#/", 2) != 0) {
        char m[200];
        snprintf(m, sizeof m, "unsupported $ref %.100s, only references into the same document are supported", ref);
        return fail(c, path, m), NULL;
    }
    const kite__jval *t = c->root;
    const char *p = ref + 2;
    while (t) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char sel[128];
        snprintf(sel, sizeof sel, "%.*s", (int)KITE_MIN(n, 127), p);
        const kite__jval *next = NULL;
        if (t->type == KITE__J_OBJ) next = get(t, sel);
        else if (t->type == KITE__J_ARR) {
            char *end;
            unsigned long idx = strtoul(sel, &end, 10);
            if (end != sel && !*end && idx < t->n) next = t->items[idx];
        }
        if (!next) {
            char m[260];
            snprintf(m, sizeof m, "cannot resolve $ref %.100s, %.100s not found", ref, sel);
            return fail(c, path, m), NULL;
        }
        t = next;
        if (!e) break;
        p = e + 1;
    }
    return t;
}

// ---- the rules (llama.cpp's common_chat_schema_converter::visit) --------------------------

static char *visit(conv *c, const kite__jval *s, const char *name, const char *path);

static char *constant_rule(const kite__jval *v) {
    kite_buf d = {0}, o = {0};
    kite__json_dump(v, &d);
    if (d.nomem) {
        kite_buf_free(&d);
        return NULL;
    }
    put_literal(&o, d.ptr ? d.ptr : "", d.len);
    kite_buf_free(&d);
    return take(&o);
}

static char *sub_path(const char *path, const char *a, const char *b) { return fmt("%s/%s%s", path, a, b ? b : ""); }

typedef struct prop {
    const char *name;
    const kite__jval *schema;
    char *path;
} prop;

typedef struct kv {
    char *key, *rule;
} kv;

static const char *kv_rule(kv *kvs, size_t n, const char *key) {
    const char *r = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kvs[i].key, key) == 0) r = kvs[i].rule; // the last one, as a map overwritten
    return r;
}

static bool in_list(char **list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}

// The optional properties ks[0..n) as llama.cpp's get_recursive_refs writes them.
static char *recursive_refs(conv *c, char **ks, size_t n, bool first_optional, kv *kvs, size_t n_kv, const char *name) {
    if (n == 0) return fmt("%s", "");
    const char *k = ks[0];
    const char *kvn = kv_rule(kvs, n_kv, k);
    bool star = strcmp(k, "*") == 0;
    char *res = first_optional ? fmt("( \",\" space %s )%s", kvn, star ? "*" : "?")
                               : star ? fmt("%s ( \",\" space %s )*", kvn, kvn) : fmt("%s", kvn);
    if (res && n > 1) {
        char *rest = recursive_refs(c, ks + 1, n - 1, true, kvs, n_kv, name);
        char *rn = fmt("%s%s%s-rest", name, *name ? "-" : "", k);
        char *id = rest && rn ? add_rule(c, rn, rest) : NULL;
        char *r2 = id ? fmt("%s %s", res, id) : NULL;
        free(rest);
        free(rn);
        free(id);
        free(res);
        res = r2;
    }
    return res ? res : nomem(c);
}

static char *build_object_rule(conv *c, prop *props, size_t n_props, char **required, size_t n_req, const char *name,
                               const kite__jval *additional, const char *path) {
    kv *kvs = calloc(n_props + 2, sizeof *kvs);
    char **req = calloc(n_props + 1, sizeof *req), **opt = calloc(n_props + 2, sizeof *opt);
    char **names = calloc(n_props + 1, sizeof *names);
    size_t n_kv = 0, nr = 0, no = 0;
    char *rule = NULL;
    if (!kvs || !req || !opt || !names) {
        nomem(c);
        goto done;
    }
    for (size_t i = 0; i < n_props && !c->fatal; i++) {
        const char *pn = props[i].name;
        char *sub = fmt("%s%s%s", name, *name ? "-" : "", pn);
        char *prop_rule = sub ? visit(c, props[i].schema, sub, props[i].path) : NULL;
        kite_buf body = {0};
        kite_buf lit = {0};
        kite__json_dump_string(pn, strlen(pn), &lit);
        if (lit.ptr) put_literal(&body, lit.ptr, lit.len);
        kite_buf_free(&lit);
        kite_buf_puts(&body, " space \":\" space ");
        if (prop_rule) kite_buf_puts(&body, prop_rule);
        char *bt = take(&body);
        char *kvname = sub ? fmt("%s-kv", sub) : NULL;
        char *k = prop_rule && bt && kvname ? add_rule(c, kvname, bt) : NULL;
        free(sub);
        free(prop_rule);
        free(bt);
        free(kvname);
        if (!k) {
            if (!c->fatal) nomem(c);
            goto done;
        }
        kvs[n_kv++] = (kv){fmt("%s", pn), k};
        if (in_list(required, n_req, pn)) req[nr++] = (char *)pn;
        else opt[no++] = (char *)pn;
        names[i] = (char *)pn;
    }
    if (additional && !c->fatal) {
        char *sub = fmt("%s%sadditional", name, *name ? "-" : "");
        char *ap = fmt("%s/additionalProperties", path);
        kind k = kind_of(c, additional, ap);
        char *value_rule = NULL, *key_rule = NULL, *kvr = NULL;
        if (!c->fatal && sub && ap) {
            if (k != K_ANY) {
                char *vn = fmt("%s-value", sub);
                value_rule = vn ? visit(c, additional, vn, ap) : NULL;
                free(vn);
            } else {
                value_rule = add_primitive(c, "value", find_builtin("value"));
            }
            if (n_props == 0) {
                key_rule = add_primitive(c, "string", find_builtin("string"));
            } else {
                char *ns = not_strings(c, names, n_props);
                char *kn = fmt("%s-k", sub);
                key_rule = ns && kn ? add_rule(c, kn, ns) : NULL;
                free(ns);
                free(kn);
            }
            char *body = value_rule && key_rule ? fmt("%s \":\" space %s", key_rule, value_rule) : NULL;
            char *kn = fmt("%s-kv", sub);
            kvr = body && kn ? add_rule(c, kn, body) : NULL;
            free(body);
            free(kn);
        }
        free(value_rule);
        free(key_rule);
        free(sub);
        free(ap);
        if (!kvr) {
            if (!c->fatal) nomem(c);
            goto done;
        }
        kvs[n_kv++] = (kv){fmt("%s", "*"), kvr};
        opt[no++] = "*";
    }
    if (c->fatal) goto done;
    if (nr == 0 && no == 0) {
        rule = fmt("%s", "\"{\" space \"}\"");
        goto done;
    }
    kite_buf b = {0};
    kite_buf_puts(&b, "\"{\" space ");
    for (size_t i = 0; i < nr; i++) {
        if (i) kite_buf_puts(&b, " \",\" space ");
        kite_buf_puts(&b, kv_rule(kvs, n_kv, req[i]));
    }
    if (no) {
        kite_buf_puts(&b, " (");
        if (nr) kite_buf_puts(&b, " \",\" space ( ");
        for (size_t i = 0; i < no; i++) {
            if (i) kite_buf_puts(&b, " | ");
            char *r = recursive_refs(c, opt + i, no - i, false, kvs, n_kv, name);
            if (r) kite_buf_puts(&b, r);
            free(r);
        }
        if (nr) kite_buf_puts(&b, " )");
        kite_buf_puts(&b, " )?");
    }
    kite_buf_puts(&b, " space \"}\"");
    rule = take(&b);
    if (!rule) nomem(c);
done:
    for (size_t i = 0; kvs && i < n_kv; i++) free(kvs[i].key), free(kvs[i].rule);
    free(kvs);
    free(req);
    free(opt);
    free(names);
    if (c->fatal) {
        free(rule);
        return NULL;
    }
    return rule;
}

// A schema with "type" replaced by t (shares the other members; freed with the converter).
static const kite__jval *with_type(conv *c, const kite__jval *s, const kite__jval *t) {
    kite__jval *v = calloc(1, sizeof *v);
    kite__jval **made = realloc(c->made, (c->n_made + 1) * sizeof *made);
    if (made) c->made = made;
    if (!v || !made) return free(v), nomem(c), NULL;
    *v = *s;
    v->key = NULL;
    v->items = malloc((s->n ? s->n : 1) * sizeof *v->items);
    if (!v->items) return free(v), nomem(c), NULL;
    c->made[c->n_made++] = v;
    // the new type member: t's value under the key "type" (t itself is an array element)
    kite__jval *tt = malloc(sizeof *tt);
    kite__jval **copies = realloc(c->copies, (c->n_copies + 1) * sizeof *copies);
    if (copies) c->copies = copies;
    if (!tt || !copies) return free(tt), nomem(c), NULL;
    *tt = *t;
    tt->key = (char *)"type";
    c->copies[c->n_copies++] = tt;
    for (size_t i = 0; i < s->n; i++) v->items[i] = strcmp(s->items[i]->key, "type") == 0 ? tt : s->items[i];
    return v;
}

// The alternatives of an anyOf / oneOf / type array: their schemas into *out (malloc'd).
static size_t alternatives(conv *c, const kite__jval *s, const char *path, const kite__jval ***out, char **alt_path) {
    *out = NULL;
    const char *key = get(s, "oneOf") ? "oneOf" : get(s, "anyOf") ? "anyOf" : NULL;
    const kite__jval *alts = key ? get(s, key) : get(s, "type");
    *alt_path = fmt("%s/%s", path, key ? key : "type");
    if (!*alt_path) return nomem(c), 0;
    if (alts->type != KITE__J_ARR) return fail(c, *alt_path, "must be an array of schemas"), 0;
    if (alts->n == 0) return fail(c, *alt_path, key ? "must not be empty" : "type must not be empty"), 0;
    const kite__jval **v = malloc(alts->n * sizeof *v);
    if (!v) return nomem(c), 0;
    for (size_t i = 0; i < alts->n; i++) v[i] = key ? alts->items[i] : with_type(c, s, alts->items[i]);
    *out = v;
    return alts->n;
}

static char *union_rule(conv *c, const kite__jval *const *alts, size_t n, const char *name, const char *path) {
    kite_buf b = {0};
    for (size_t i = 0; i < n && !c->fatal; i++) {
        char *nm = fmt("%s%s%zu", name, *name ? "-" : "alternative-", i);
        char *p = fmt("%s/%zu", path, i);
        char *r = nm && p && alts[i] ? visit(c, alts[i], nm, p) : NULL;
        if (r) {
            if (i) kite_buf_puts(&b, " | ");
            kite_buf_puts(&b, r);
        }
        free(nm);
        free(p);
        free(r);
    }
    if (c->fatal) {
        kite_buf_free(&b);
        return NULL;
    }
    return take(&b);
}

// allOf: the properties of its object parts merged, or the values all its enums share.
typedef struct allof {
    prop *props;
    size_t n_props;
    char **required;
    size_t n_req;
    char **enums; // literal rules
    size_t *enum_count;
    size_t n_enums;
} allof;

static void allof_component(conv *c, allof *a, const kite__jval *comp, bool is_required, const char *path) {
    if (c->fatal) return;
    kind k = kind_of(c, comp, path);
    if (c->fatal) return;
    if (k == K_REF) {
        const kite__jval *r = get(comp, "$ref");
        if (r->type != KITE__J_STR) return (void)fail(c, path, "$ref must be a string");
        const kite__jval *t = resolve_ref(c, r->s, path);
        if (t) allof_component(c, a, t, is_required, r->s);
    } else if (k == K_OBJECT) {
        const kite__jval *ps = get(comp, "properties");
        if (ps && ps->type != KITE__J_OBJ) return (void)fail(c, path, "properties must be an object");
        for (size_t i = 0; ps && i < ps->n; i++) {
            prop *q = realloc(a->props, (a->n_props + 1) * sizeof *q);
            if (!q) return (void)nomem(c);
            a->props = q;
            a->props[a->n_props++] = (prop){ps->items[i]->key, ps->items[i], sub_path(path, "properties/", ps->items[i]->key)};
            if (is_required) {
                char **r = realloc(a->required, (a->n_req + 1) * sizeof *r);
                if (!r) return (void)nomem(c);
                a->required = r;
                a->required[a->n_req++] = ps->items[i]->key;
            }
        }
    } else if (k == K_ENUM) {
        const kite__jval *vals = get(comp, "enum");
        if (vals->type != KITE__J_ARR || vals->n == 0) return (void)fail(c, path, "enum must be a non-empty array");
        for (size_t i = 0; i < vals->n; i++) {
            char *lit = constant_rule(vals->items[i]);
            if (!lit) return (void)nomem(c);
            size_t at = 0;
            while (at < a->n_enums && strcmp(a->enums[at], lit) < 0) at++; // kept sorted, as a std::map
            if (at < a->n_enums && strcmp(a->enums[at], lit) == 0) {
                a->enum_count[at]++;
                free(lit);
                continue;
            }
            char **e = realloc(a->enums, (a->n_enums + 1) * sizeof *e);
            if (e) a->enums = e;
            size_t *ec = realloc(a->enum_count, (a->n_enums + 1) * sizeof *ec);
            if (ec) a->enum_count = ec;
            if (!e || !ec) return free(lit), (void)nomem(c);
            memmove(a->enums + at + 1, a->enums + at, (a->n_enums - at) * sizeof *e);
            memmove(a->enum_count + at + 1, a->enum_count + at, (a->n_enums - at) * sizeof *ec);
            a->enums[at] = lit;
            a->enum_count[at] = 1;
            a->n_enums++;
        }
    }
}

static char *visit_all_of(conv *c, const kite__jval *s, const char *name, const char *rule_name, const char *path) {
    const kite__jval *children = get(s, "allOf");
    char *ap = fmt("%s/allOf", path);
    if (!ap) return nomem(c);
    if (children->type != KITE__J_ARR || children->n == 0) {
        fail(c, ap, children->type != KITE__J_ARR ? "must be an array of schemas" : "must not be empty");
        free(ap);
        return NULL;
    }
    allof a = {0};
    for (size_t i = 0; i < children->n && !c->fatal; i++) {
        const kite__jval *ch = children->items[i];
        char *cp = fmt("%s/%zu", ap, i);
        if (!cp) {
            nomem(c);
            break;
        }
        if (kind_of(c, ch, cp) == K_ANY_OF && !c->fatal) {
            const kite__jval **alts;
            char *alt_path;
            size_t n = alternatives(c, ch, cp, &alts, &alt_path);
            for (size_t j = 0; j < n; j++) allof_component(c, &a, alts[j], false, alt_path);
            free(alts);
            free(alt_path);
        } else {
            allof_component(c, &a, ch, true, cp);
        }
        free(cp);
    }
    char *res = NULL;
    if (!c->fatal) {
        kite_buf b = {0};
        size_t n_inter = 0;
        for (size_t i = 0; i < a.n_enums; i++)
            if (a.enum_count[i] == children->n) {
                kite_buf_puts(&b, n_inter++ ? " | " : "(");
                kite_buf_puts(&b, a.enums[i]);
            }
        if (n_inter) {
            kite_buf_puts(&b, ")");
            char *body = take(&b);
            res = body ? add_rule(c, rule_name, body) : nomem(c);
            free(body);
        } else {
            kite_buf_free(&b);
            char *body = build_object_rule(c, a.props, a.n_props, a.required, a.n_req, name, NULL, path);
            res = body ? add_rule(c, rule_name, body) : NULL;
            free(body);
        }
    }
    for (size_t i = 0; i < a.n_props; i++) free(a.props[i].path);
    free(a.props);
    free(a.required);
    for (size_t i = 0; i < a.n_enums; i++) free(a.enums[i]);
    free(a.enums);
    free(a.enum_count);
    free(ap);
    return res;
}

static bool resolving(const conv *c, const char *ref) {
    for (size_t i = 0; i < c->n_resolving; i++)
        if (strcmp(c->resolving[i], ref) == 0) return true;
    return false;
}

static char *visit_ref(conv *c, const kite__jval *s, const char *path) {
    const kite__jval *r = get(s, "$ref");
    if (r->type != KITE__J_STR) return fail(c, path, "$ref must be a string");
    const kite__jval *target = resolve_ref(c, r->s, path);
    if (!target) return NULL;
    const char *hash = strchr(r->s, '#');
    const char *frag = hash ? hash + 1 : r->s;
    kite_buf b = {0};
    kite_buf_puts(&b, "ref");
    append_rule_name(&b, frag);
    char *ref_name = take(&b);
    if (!ref_name) return nomem(c);
    if (!rule_body(c, ref_name) && !resolving(c, r->s)) {
        char **q = realloc(c->resolving, (c->n_resolving + 1) * sizeof *q);
        if (!q) return free(ref_name), nomem(c);
        c->resolving = q;
        c->resolving[c->n_resolving++] = r->s;
        char *got = visit(c, target, ref_name, r->s);
        c->n_resolving--;
        free(ref_name);
        ref_name = got;
    }
    return ref_name;
}

static char *visit(conv *c, const kite__jval *s, const char *name, const char *path) {
    if (c->fatal) return NULL;
    char *rule_name = is_reserved(name) ? fmt("%s-", name) : fmt("%s", *name ? name : "root");
    char *sub_name = fmt("%s%s", name, *name ? "-" : "");
    char *body = NULL, *res = NULL;
    if (!rule_name || !sub_name) {
        nomem(c);
        goto out;
    }
    kind k = kind_of(c, s, path);
    if (c->fatal) goto out;
    switch (k) {
    case K_REF: body = visit_ref(c, s, path); break;
    case K_ANY_OF: {
        const kite__jval **alts;
        char *alt_path;
        size_t n = alternatives(c, s, path, &alts, &alt_path);
        if (n) body = union_rule(c, alts, n, name, alt_path);
        free(alts);
        free(alt_path);
        break;
    }
    case K_ALL_OF: res = visit_all_of(c, s, name, rule_name, path); goto out;
    case K_CONST: body = constant_rule(get(s, "const")); break;
    case K_ENUM: {
        const kite__jval *vals = get(s, "enum");
        if (vals->type != KITE__J_ARR || vals->n == 0) {
            fail(c, path, "enum must be a non-empty array");
            goto out;
        }
        kite_buf b = {0};
        kite_buf_puts(&b, "(");
        for (size_t i = 0; i < vals->n; i++) {
            char *lit = constant_rule(vals->items[i]);
            if (i) kite_buf_puts(&b, " | ");
            if (lit) kite_buf_puts(&b, lit);
            else b.nomem = true;
            free(lit);
        }
        kite_buf_puts(&b, ")");
        body = take(&b);
        break;
    }
    case K_OBJECT: {
        const kite__jval *ps = get(s, "properties");
        if (ps && ps->type != KITE__J_OBJ) {
            fail(c, path, "properties must be an object");
            goto out;
        }
        const kite__jval *ap = get(s, "additionalProperties");
        const kite__jval *additional = NULL;
        static const kite__jval any = {.type = KITE__J_OBJ};
        if (ap) {
            if (ap->type == KITE__J_BOOL) additional = ap->b ? &any : NULL;
            else if (ap->type == KITE__J_OBJ) additional = ap;
            else {
                fail(c, path, "additionalProperties must be a boolean or a schema");
                goto out;
            }
        } else if (!ps) {
            additional = &any; // {"type": "object"} on its own: any object
        }
        size_t n_props = ps ? ps->n : 0;
        if (n_props == 0 && additional && kind_of(c, additional, path) == K_ANY) {
            body = add_primitive(c, "object", find_builtin("object"));
            break;
        }
        const kite__jval *req = get(s, "required");
        prop *props = calloc(n_props + 1, sizeof *props);
        char **required = calloc((req && req->type == KITE__J_ARR ? req->n : 0) + 1, sizeof *required);
        size_t n_req = 0;
        if (!props || !required) {
            free(props);
            free(required);
            nomem(c);
            goto out;
        }
        for (size_t i = 0; req && req->type == KITE__J_ARR && i < req->n; i++)
            if (req->items[i]->type == KITE__J_STR) required[n_req++] = req->items[i]->s;
        for (size_t i = 0; i < n_props; i++)
            props[i] = (prop){ps->items[i]->key, ps->items[i], sub_path(path, "properties/", ps->items[i]->key)};
        char *ap_path = fmt("%s", path);
        body = build_object_rule(c, props, n_props, required, n_req, name, additional, ap_path ? ap_path : path);
        free(ap_path);
        for (size_t i = 0; i < n_props; i++) free(props[i].path);
        free(props);
        free(required);
        break;
    }
    case K_TUPLE: {
        const char *key = get(s, "items") ? "items" : "prefixItems";
        const kite__jval *items = get(s, key);
        kite_buf b = {0};
        kite_buf_puts(&b, "\"[\" space ");
        for (size_t i = 0; i < items->n && !c->fatal; i++) {
            if (i) kite_buf_puts(&b, " \",\" space ");
            char *nm = fmt("%stuple-%zu", sub_name, i);
            char *p = fmt("%s/%s/%zu", path, key, i);
            char *r = nm && p ? visit(c, items->items[i], nm, p) : NULL;
            if (r) kite_buf_puts(&b, r);
            free(nm);
            free(p);
            free(r);
        }
        kite_buf_puts(&b, " space \"]\"");
        body = take(&b);
        break;
    }
    case K_ARRAY: {
        const char *key = get(s, "items") ? "items" : get(s, "prefixItems") ? "prefixItems" : NULL;
        const kite__jval *items = key ? get(s, key) : NULL;
        int min = get_count(c, s, "minItems", path, 0), max = get_count(c, s, "maxItems", path, -1);
        if (c->fatal) goto out;
        if (is_true(get(s, "uniqueItems")))
            kite__log(KITE_LOG_WARN, "json schema: uniqueItems of the array at %s is not enforced (as in llama.cpp)", path);
        if (max >= 0 && max < min) {
            fail(c, path, "maxItems is below minItems");
            goto out;
        }
        char *ip = key ? fmt("%s/%s", path, key) : fmt("%s", path);
        kind ik = items ? kind_of(c, items, ip ? ip : path) : K_ANY;
        if (c->fatal) {
            free(ip);
            goto out;
        }
        if (ik == K_ANY && min == 0 && max < 0) {
            free(ip);
            res = visit_primitive(c, rule_name, "array");
            goto out;
        }
        char *in = fmt("%sitem", sub_name);
        char *item_rule = NULL;
        if (items && in && ip) item_rule = visit(c, items, in, ip);
        else if (in) item_rule = add_primitive(c, "value", find_builtin("value"));
        free(in);
        free(ip);
        if (!item_rule) goto out;
        kite_buf b = {0};
        kite_buf_puts(&b, "\"[\" space ");
        put_repetition(&b, item_rule, min, max < 0 ? INT32_MAX : max, "\",\" space");
        kite_buf_puts(&b, " space \"]\"");
        free(item_rule);
        body = take(&b);
        break;
    }
    case K_STRING: {
        const kite__jval *pattern = get(s, "pattern");
        if (pattern && pattern->type != KITE__J_STR) {
            fail(c, path, "pattern must be a string");
            goto out;
        }
        int f = get_format(s);
        if (f == F_BAD) {
            fail(c, path, "format must be a string");
            goto out;
        }
        int min = get_count(c, s, "minLength", path, 0), max = get_count(c, s, "maxLength", path, -1);
        if (c->fatal) goto out;
        if (max >= 0 && max < min) {
            fail(c, path, "maxLength is below minLength");
            goto out;
        }
        if (pattern && pattern->slen) {
            res = visit_pattern(c, pattern->s, pattern->slen, rule_name);
            goto out;
        }
        if (f == F_UUID) {
            res = visit_primitive(c, rule_name, "uuid");
            goto out;
        }
        if (f != F_NONE) {
            const char *pn = f == F_DATE ? "date-string" : f == F_TIME ? "time-string" : "date-time-string";
            body = add_primitive(c, pn, find_builtin(pn));
            break;
        }
        if (min > 0 || max >= 0) {
            char *char_rule = add_primitive(c, "char", find_builtin("char"));
            if (!char_rule) goto out;
            kite_buf b = {0};
            kite_buf_puts(&b, "\"\\\"\" ");
            put_repetition(&b, char_rule, min, max < 0 ? INT32_MAX : max, NULL);
            kite_buf_puts(&b, " \"\\\"\"");
            free(char_rule);
            body = take(&b);
            break;
        }
        res = visit_primitive(c, rule_name, "string");
        goto out;
    }
    case K_INTEGER: {
        int64_t min = INT64_MIN, max = INT64_MAX;
        const kite__jval *v;
        if ((v = get(s, "minimum"))) {
            if (!get_bound(c, v, "minimum", path, true, &min)) goto out;
        } else if ((v = get(s, "exclusiveMinimum"))) {
            if (!get_bound(c, v, "exclusiveMinimum", path, false, &min)) goto out;
            min++;
        }
        if ((v = get(s, "maximum"))) {
            if (!get_bound(c, v, "maximum", path, false, &max)) goto out;
        } else if ((v = get(s, "exclusiveMaximum"))) {
            if (!get_bound(c, v, "exclusiveMaximum", path, true, &max)) goto out;
            max--;
        }
        if (min != INT64_MIN && max != INT64_MAX && max < min) {
            fail(c, path, "no integer lies between the minimum and the maximum");
            goto out;
        }
        if (min == INT64_MIN && max == INT64_MAX) {
            res = visit_primitive(c, rule_name, "integer");
            goto out;
        }
        kite_buf b = {0};
        kite_buf_puts(&b, "(");
        min_max_int(&b, min, max, 16, true);
        kite_buf_puts(&b, ")");
        body = take(&b);
        break;
    }
    case K_NUMBER:
        if (get(s, "minimum") || get(s, "maximum") || get(s, "exclusiveMinimum") || get(s, "exclusiveMaximum"))
            kite__log(KITE_LOG_WARN, "json schema: bounds of the number at %s are not enforced (as in llama.cpp)", path);
        res = visit_primitive(c, rule_name, "number");
        goto out;
    case K_BOOLEAN: res = visit_primitive(c, rule_name, "boolean"); goto out;
    case K_NULL: res = visit_primitive(c, rule_name, "null"); goto out;
    case K_ANY: body = add_primitive(c, "value", find_builtin("value")); break;
    }
    if (body && !c->fatal) res = add_rule(c, rule_name, body);
    else if (!body && !c->fatal) nomem(c);
out:
    free(body);
    free(rule_name);
    free(sub_name);
    if (c->fatal) {
        free(res);
        return NULL;
    }
    return res;
}

// ---- public -------------------------------------------------------------------------------

static void free_conv(conv *c) {
    for (size_t i = 0; i < c->n_rules; i++) free(c->names[i]), free(c->bodies[i]);
    free(c->names);
    free(c->bodies);
    free(c->resolving);
    for (size_t i = 0; i < c->n_made; i++) free(c->made[i]->items), free(c->made[i]);
    free(c->made);
    for (size_t i = 0; i < c->n_copies; i++) free(c->copies[i]);
    free(c->copies);
    kite_buf_free(&c->errors);
}

// The rules of schema with its own rule named `name` ("" = root).
static kite_status schema_rules(const char *schema, size_t len, const char *name, char **out) {
    if (!schema || !out || !name) return kite__fail(KITE_ERR_INVALID, "json schema: NULL argument");
    *out = NULL;
    kite__jval *root = NULL;
    KITE_TRY(kite__json_parse(schema, len, &root));
    conv c = {.root = root};
    set_rule(&c, "space", SPACE_RULE);
    char *r = visit(&c, root, name, "#");
    // a primitive's rule is named after its type (integer, string, ...), as in llama.cpp, where
    // the caller refers to the name returned: here the named rule must be there
    if (r && *name && strcmp(r, name) != 0) free(add_rule(&c, name, r));
    free(r);
    kite_status st = KITE_OK;
    if (c.fatal == KITE_ERR_NOMEM) st = kite__fail(KITE_ERR_NOMEM, "json schema: out of memory");
    else if (c.fatal) st = kite__fail(KITE_ERR_INVALID, "json schema: %s", c.fatal_msg);
    else if (c.errors.len) st = kite__fail(KITE_ERR_INVALID, "json schema: %s", c.errors.ptr);
    if (st == KITE_OK) {
        // rules sorted by name (llama.cpp keeps them in a std::map)
        for (size_t i = 1; i < c.n_rules; i++)
            for (size_t j = i; j > 0 && strcmp(c.names[j - 1], c.names[j]) > 0; j--) {
                char *t = c.names[j];
                c.names[j] = c.names[j - 1];
                c.names[j - 1] = t;
                t = c.bodies[j];
                c.bodies[j] = c.bodies[j - 1];
                c.bodies[j - 1] = t;
            }
        kite_buf b = {0};
        for (size_t i = 0; i < c.n_rules; i++) {
            kite_buf_puts(&b, c.names[i]);
            kite_buf_puts(&b, " ::= ");
            kite_buf_puts(&b, c.bodies[i]);
            kite_buf_puts(&b, "\n");
        }
        *out = take(&b);
        if (!*out) st = kite__fail(KITE_ERR_NOMEM, "json schema: out of memory");
    }
    if (st == KITE_OK) { // what the schema asks for may still exceed the grammar's limits
        kite_grammar *g = NULL;
        if (kite_grammar_parse(*out, *name ? name : NULL, &g) != KITE_OK) {
            char why[300];
            snprintf(why, sizeof why, "%s", kite_last_error());
            st = kite__fail(KITE_ERR_INVALID, "json schema: its grammar is refused (%s)", why);
            free(*out);
            *out = NULL;
        }
        kite_grammar_free(g);
    }
    free_conv(&c);
    kite__json_free(root);
    return st;
}

kite_status kite_json_schema_to_grammar(const char *schema, size_t len, char **out) {
    return schema_rules(schema, len, "", out);
}

kite_status kite_json_schema_to_grammar_rule(const char *schema, size_t len, const char *name, char **out) {
    if (!name || !*name || strcmp(name, "root") == 0)
        return kite__fail(KITE_ERR_INVALID, "json schema: the rule needs a name other than root");
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return kite__fail(KITE_ERR_INVALID, "json schema: '%s' is not a rule name (letters, digits, '-')", name);
    return schema_rules(schema, len, name, out);
}

kite_status kite_json_object_grammar(char **out) {
    static const char schema[] = "{\"type\": \"object\"}";
    return kite_json_schema_to_grammar(schema, sizeof schema - 1, out);
}
