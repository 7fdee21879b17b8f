// grammar_parse.c - GBNF text -> rules of elements, following llama.cpp's grammar parser
// (src/llama-grammar.cpp) so that rule ids, generated rules and elements come out the same.
#include "base/internal.h"
#include "grammar/grammar_internal.h"

#include <stdio.h>

// `S{m,n}` expands to copies of S; more than this many generated copies is refused (llama.cpp's
// MAX_REPETITION_THRESHOLD).
#define MAX_REPETITION 2000
// Nesting of groups deeper than this is refused (it bounds the parser's recursion).
#define MAX_NESTING 128

typedef struct rule_vec {
    kite__gelem *e;
    size_t n, cap;
} rule_vec;

typedef struct parser {
    const char *text;
    const kite_grammar_tokenizer *tk; // resolves <...> token literals (NULL: none)
    rule_vec *rules; // indexed by symbol id; n == 0: not (yet) defined
    char **names;    // symbol names by id
    uint32_t n_syms, cap_syms;
    uint32_t *index;   // open-addressing hash of the names: symbol id + 1, 0 = empty
    uint32_t index_cap; // a power of two, over twice n_syms
    int depth;
    bool failed;
    kite_status status;
    char msg[200];
    const char *err_at;
} parser;

// ---- errors -------------------------------------------------------------------------------

static const char *fail_at(parser *p, const char *at, const char *msg) {
    if (!p->failed) {
        p->failed = true;
        p->status = KITE_ERR_INVALID;
        p->err_at = at;
        snprintf(p->msg, sizeof p->msg, "%s", msg);
    }
    return NULL;
}

static const char *fail_nomem(parser *p) {
    if (!p->failed) {
        p->failed = true;
        p->status = KITE_ERR_NOMEM;
        p->err_at = NULL;
        snprintf(p->msg, sizeof p->msg, "out of memory");
    }
    return NULL;
}

// ---- symbols and rules --------------------------------------------------------------------

static bool push(parser *p, rule_vec *r, uint32_t type, uint32_t value) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        kite__gelem *e = realloc(r->e, cap * sizeof *e);
        if (!e) return fail_nomem(p), false;
        r->e = e;
        r->cap = cap;
    }
    r->e[r->n++] = (kite__gelem){type, value};
    return true;
}

static bool append(parser *p, rule_vec *r, const kite__gelem *e, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!push(p, r, e[i].type, e[i].value)) return false;
    return true;
}

static bool index_put(parser *p, uint32_t id);

// Adds a symbol named name[0..len); returns its id, UINT32_MAX on allocation failure.
static uint32_t add_symbol(parser *p, const char *name, size_t len) {
    if (p->n_syms == p->cap_syms) {
        uint32_t cap = p->cap_syms ? 2 * p->cap_syms : 16;
        char **names = realloc(p->names, cap * sizeof *names);
        if (!names) return fail_nomem(p), UINT32_MAX;
        p->names = names;
        rule_vec *rules = realloc(p->rules, cap * sizeof *rules);
        if (!rules) return fail_nomem(p), UINT32_MAX;
        p->rules = rules;
        p->cap_syms = cap;
    }
    char *s = malloc(len + 1);
    if (!s) return fail_nomem(p), UINT32_MAX;
    memcpy(s, name, len);
    s[len] = 0;
    p->names[p->n_syms] = s;
    p->rules[p->n_syms] = (rule_vec){0};
    if (!index_put(p, p->n_syms)) {
        free(s);
        return UINT32_MAX;
    }
    return p->n_syms++;
}

static uint32_t name_hash(const char *s, size_t n) { // FNV-1a
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

// Puts symbol id in the name index (growing it to stay under half full).
static bool index_put(parser *p, uint32_t id) {
    if (2 * (p->n_syms + 1) > p->index_cap) {
        uint32_t cap = p->index_cap ? 2 * p->index_cap : 64;
        uint32_t *ix = calloc(cap, sizeof *ix);
        if (!ix) return fail_nomem(p), false;
        for (uint32_t i = 0; i < p->index_cap; i++) {
            if (!p->index[i]) continue;
            const char *nm = p->names[p->index[i] - 1];
            uint32_t h = name_hash(nm, strlen(nm)) & (cap - 1);
            while (ix[h]) h = (h + 1) & (cap - 1);
            ix[h] = p->index[i];
        }
        free(p->index);
        p->index = ix;
        p->index_cap = cap;
    }
    const char *nm = p->names[id];
    uint32_t h = name_hash(nm, strlen(nm)) & (p->index_cap - 1);
    while (p->index[h]) h = (h + 1) & (p->index_cap - 1);
    p->index[h] = id + 1;
    return true;
}

// The id of the rule named name[0..len), a new symbol if there is none yet (a hash lookup: a
// grammar may name thousands of rules).
static uint32_t get_symbol_id(parser *p, const char *name, size_t len) {
    if (p->index_cap) {
        uint32_t h = name_hash(name, len) & (p->index_cap - 1);
        for (; p->index[h]; h = (h + 1) & (p->index_cap - 1)) {
            const char *nm = p->names[p->index[h] - 1];
            if (strlen(nm) == len && memcmp(nm, name, len) == 0) return p->index[h] - 1;
        }
    }
    return add_symbol(p, name, len);
}

// A new rule named base_N where N is its id (llama.cpp's generate_symbol_id).
static uint32_t generate_symbol_id(parser *p, const char *base) {
    char name[160];
    snprintf(name, sizeof name, "%.120s_%u", base, p->n_syms);
    return add_symbol(p, name, strlen(name));
}

static bool set_rule(parser *p, uint32_t id, rule_vec *r) {
    (void)p;
    free(p->rules[id].e);
    p->rules[id] = *r;
    *r = (rule_vec){0};
    return true;
}

// ---- lexing -------------------------------------------------------------------------------

static bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || (c >= '0' && c <= '9');
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Skips blanks and # comments (and newlines when newline_ok).
static const char *skip_space(const char *s, bool newline_ok) {
    while (*s == ' ' || *s == '\t' || *s == '#' || (newline_ok && (*s == '\r' || *s == '\n'))) {
        if (*s == '#')
            while (*s && *s != '\r' && *s != '\n') s++;
        else
            s++;
    }
    return s;
}

// Decodes one UTF-8 char at s into *cp; returns the position after it, NULL on invalid UTF-8.
static const char *decode_char(const char *s, uint32_t *cp) {
    const uint8_t *u = (const uint8_t *)s;
    int n = u[0] < 0x80 ? 0 : (u[0] & 0xE0) == 0xC0 ? 1 : (u[0] & 0xF0) == 0xE0 ? 2 : (u[0] & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0) return NULL;
    uint32_t v = n == 0 ? u[0] : (uint32_t)(u[0] & (0x3F >> n));
    for (int i = 1; i <= n; i++) {
        if ((u[i] & 0xC0) != 0x80) return NULL; // also stops at the terminating NUL
        v = (v << 6) | (u[i] & 0x3F);
    }
    *cp = v;
    return s + n + 1;
}

static const char *parse_hex(parser *p, const char *s, int size, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < size; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) {
            char m[64];
            snprintf(m, sizeof m, "expecting %d hex digits", size);
            return fail_at(p, s, m);
        }
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return s + size;
}

// One char of a literal or class, with llama.cpp's escapes.
static const char *parse_char(parser *p, const char *s, uint32_t *out) {
    if (*s == '\\') {
        switch (s[1]) {
        case 'x': return parse_hex(p, s + 2, 2, out);
        case 'u': return parse_hex(p, s + 2, 4, out);
        case 'U': return parse_hex(p, s + 2, 8, out);
        case 't': *out = '\t'; return s + 2;
        case 'r': *out = '\r'; return s + 2;
        case 'n': *out = '\n'; return s + 2;
        case '\\':
        case '"':
        case '[':
        case ']':
        case '-': *out = (uint8_t)s[1]; return s + 2;
        default: return fail_at(p, s, "unknown escape");
        }
    }
    if (!*s) return fail_at(p, s, "unexpected end of input");
    const char *e = decode_char(s, out);
    return e ? e : fail_at(p, s, "invalid UTF-8");
}

// A token element at s (just past any '!'): `<[id]>` or a `<...>` literal that must tokenize to
// exactly one token of p->tk. Returns the position after the closing '>'.
static const char *parse_token(parser *p, const char *s, uint32_t *id) {
    if (*s != '<') return fail_at(p, s, "expecting '<' (a token: <[id]> or <text>) after '!'");
    if (s[1] == '[') {
        const char *d = s + 2;
        if (!is_digit(*d)) return fail_at(p, d, "expecting a token id after '<['");
        uint64_t v = 0;
        for (; is_digit(*d); d++) v = v > UINT32_MAX ? v : v * 10 + (uint64_t)(*d - '0');
        if (*d != ']') return fail_at(p, d, "expecting ']' after the token id");
        if (d[1] != '>') return fail_at(p, d + 1, "expecting '>' after ']'");
        if (v > INT32_MAX || (p->tk && v >= (uint64_t)p->tk->n_tokens)) {
            char m[120];
            if (p->tk)
                snprintf(m, sizeof m, "token id %llu is outside the vocabulary of %d tokens", (unsigned long long)v,
                         p->tk->n_tokens);
            else
                snprintf(m, sizeof m, "token id %llu is too large", (unsigned long long)v);
            return fail_at(p, s, m);
        }
        *id = (uint32_t)v;
        return d + 2;
    }
    const char *e = s + 1;
    while (*e && *e != '>') e++;
    if (*e != '>') return fail_at(p, s, "unterminated token (expecting '>')");
    e++;
    if (!p->tk) return fail_at(p, s, "a token literal <...> needs the model's vocabulary (none was given)");
    int32_t ids[2];
    int32_t n = p->tk->tokenize(p->tk->user, s, (size_t)(e - s), ids, 2);
    if (n != 1 || ids[0] < 0 || ids[0] >= p->tk->n_tokens) {
        char m[200];
        int shown = (int)KITE_MIN(e - s, 80);
        if (n < 0)
            snprintf(m, sizeof m, "cannot tokenize the token '%.*s'", shown, s);
        else
            snprintf(m, sizeof m, "invalid token '%.*s': it is %d tokens in this vocabulary, not one", shown, s, n);
        return fail_at(p, s, m);
    }
    *id = (uint32_t)ids[0];
    return e;
}

// ---- grammar ------------------------------------------------------------------------------

static const char *parse_alternates(parser *p, const char *s, const char *rule_name, uint32_t rule_id, bool nested);

// Rewrites the last symbol (rule->e[last..]) as llama.cpp does:
//   S{m,n} -> S..S (m times) S'(n-m);  S'(x) ::= S S'(x-1) |   ...   S'(1) ::= S |
//   S{m,}  -> S..S (m times) S';       S'    ::= S S' |
static bool repeat(parser *p, rule_vec *rule, size_t last, const char *at, const char *rule_name, uint64_t min,
                   uint64_t max, uint64_t *n_prev_rules) {
    bool no_max = max == UINT64_MAX;
    if (last == rule->n) return fail_at(p, at, "expecting an item before */+/?/{"), false;
    size_t n_prev = rule->n - last;
    kite__gelem *prev = malloc(n_prev * sizeof *prev);
    if (!prev) return fail_nomem(p), false;
    memcpy(prev, rule->e + last, n_prev * sizeof *prev);
    uint64_t total = 1;
    if (!no_max && max > 0) total = max;
    else if (min > 0) total = min;
    bool ok = true;
    if (*n_prev_rules * total > MAX_REPETITION) {
        fail_at(p, at, "too many repetitions (the repeated rules times the count exceed 2000)");
        ok = false;
    }
    if (ok) {
        if (min == 0) rule->n = last;
        for (uint64_t i = 1; ok && i < min; i++) ok = append(p, rule, prev, n_prev);
    }
    uint32_t last_rec = 0;
    uint64_t n_opt = no_max ? 1 : max - min;
    for (uint64_t i = 0; ok && i < n_opt; i++) {
        rule_vec rec = {0};
        uint32_t rec_id = generate_symbol_id(p, rule_name);
        ok = rec_id != UINT32_MAX && append(p, &rec, prev, n_prev);
        if (ok && (i > 0 || no_max)) ok = push(p, &rec, KITE__G_RULE_REF, no_max ? rec_id : last_rec);
        ok = ok && push(p, &rec, KITE__G_ALT, 0) && push(p, &rec, KITE__G_END, 0);
        if (ok) set_rule(p, rec_id, &rec);
        free(rec.e);
        last_rec = rec_id;
    }
    if (ok && n_opt > 0) ok = push(p, rule, KITE__G_RULE_REF, last_rec);
    *n_prev_rules *= total;
    free(prev);
    return ok;
}

static const char *parse_int(parser *p, const char *s, uint64_t *out) {
    if (!is_digit(*s)) return fail_at(p, s, "expecting an integer");
    uint64_t v = 0;
    for (; is_digit(*s); s++) v = v > UINT64_MAX / 20 ? UINT64_MAX / 20 : v * 10 + (uint64_t)(*s - '0');
    *out = v;
    return s;
}

static const char *parse_sequence(parser *p, const char *s, const char *rule_name, rule_vec *rule, bool nested) {
    size_t last = rule->n;
    uint64_t n_prev_rules = 1;
    while (*s) {
        const char *at = s;
        if (*s == '"') { // literal
            s++;
            last = rule->n;
            n_prev_rules = 1;
            while (*s != '"') {
                if (!*s) return fail_at(p, at, "unterminated string literal");
                uint32_t c;
                if (!(s = parse_char(p, s, &c)) || !push(p, rule, KITE__G_CHAR, c)) return NULL;
            }
            s = skip_space(s + 1, nested);
        } else if (*s == '[') { // char class
            s++;
            uint32_t start_type = KITE__G_CHAR;
            if (*s == '^') {
                s++;
                start_type = KITE__G_CHAR_NOT;
            }
            last = rule->n;
            n_prev_rules = 1;
            while (*s != ']') {
                if (!*s) return fail_at(p, at, "unterminated character class");
                uint32_t c;
                if (!(s = parse_char(p, s, &c))) return NULL;
                if (!push(p, rule, last < rule->n ? KITE__G_CHAR_ALT : start_type, c)) return NULL;
                if (s[0] == '-' && s[1] != ']') {
                    if (!s[1]) return fail_at(p, at, "unterminated character class");
                    if (!(s = parse_char(p, s + 1, &c)) || !push(p, rule, KITE__G_CHAR_RNG_UPPER, c)) return NULL;
                }
            }
            s = skip_space(s + 1, nested);
        } else if (*s == '<' || *s == '!') { // a token (!: any other token)
            uint32_t type = *s == '!' ? KITE__G_TOKEN_NOT : KITE__G_TOKEN, id;
            if (!(s = parse_token(p, *s == '!' ? s + 1 : s, &id))) return NULL;
            last = rule->n;
            n_prev_rules = 1;
            if (!push(p, rule, type, id)) return NULL;
            s = skip_space(s, nested);
        } else if (is_word_char(*s)) { // rule reference
            const char *e = s;
            while (is_word_char(*e)) e++;
            uint32_t id = get_symbol_id(p, s, (size_t)(e - s));
            if (id == UINT32_MAX) return NULL;
            s = skip_space(e, nested);
            last = rule->n;
            n_prev_rules = 1;
            if (!push(p, rule, KITE__G_RULE_REF, id)) return NULL;
        } else if (*s == '(') { // group: its alternates become a generated rule
            if (++p->depth > MAX_NESTING) return fail_at(p, s, "groups nested too deeply");
            s = skip_space(s + 1, true);
            uint32_t n_before = p->n_syms;
            uint32_t sub = generate_symbol_id(p, rule_name);
            if (sub == UINT32_MAX || !(s = parse_alternates(p, s, rule_name, sub, true))) return NULL;
            p->depth--;
            n_prev_rules = p->n_syms - n_before > 1 ? p->n_syms - n_before : 1;
            last = rule->n;
            if (!push(p, rule, KITE__G_RULE_REF, sub)) return NULL;
            if (*s != ')') return fail_at(p, s, "expecting ')'");
            s = skip_space(s + 1, nested);
        } else if (*s == '.') {
            last = rule->n;
            n_prev_rules = 1;
            if (!push(p, rule, KITE__G_CHAR_ANY, 0)) return NULL;
            s = skip_space(s + 1, nested);
        } else if (*s == '*' || *s == '+' || *s == '?') {
            uint64_t min = *s == '+' ? 1 : 0, max = *s == '?' ? 1 : UINT64_MAX;
            s = skip_space(s + 1, nested);
            if (!repeat(p, rule, last, at, rule_name, min, max, &n_prev_rules)) return NULL;
        } else if (*s == '{') {
            s = skip_space(s + 1, nested);
            uint64_t min, max = UINT64_MAX;
            if (!(s = parse_int(p, s, &min))) return NULL;
            s = skip_space(s, nested);
            if (*s == '}') {
                max = min;
                s = skip_space(s + 1, nested);
            } else if (*s == ',') {
                s = skip_space(s + 1, nested);
                if (is_digit(*s)) {
                    if (!(s = parse_int(p, s, &max))) return NULL;
                    s = skip_space(s, nested);
                }
                if (*s != '}') return fail_at(p, s, "expecting '}'");
                s = skip_space(s + 1, nested);
            } else {
                return fail_at(p, s, "expecting ',' or '}'");
            }
            if (min > MAX_REPETITION) return fail_at(p, at, "too many repetitions (more than 2000)");
            if (max != UINT64_MAX && max < min) return fail_at(p, at, "repetition maximum below its minimum");
            if (max != UINT64_MAX && max > MAX_REPETITION) max = UINT64_MAX;
            if (!repeat(p, rule, last, at, rule_name, min, max, &n_prev_rules)) return NULL;
        } else {
            break;
        }
    }
    return s;
}

static const char *parse_alternates(parser *p, const char *s, const char *rule_name, uint32_t rule_id, bool nested) {
    rule_vec rule = {0};
    s = parse_sequence(p, s, rule_name, &rule, nested);
    while (s && *s == '|') {
        if (!push(p, &rule, KITE__G_ALT, 0)) break;
        s = skip_space(s + 1, true);
        s = parse_sequence(p, s, rule_name, &rule, nested);
    }
    if (s && push(p, &rule, KITE__G_END, 0)) set_rule(p, rule_id, &rule);
    free(rule.e);
    return p->failed ? NULL : s;
}

static const char *parse_rule(parser *p, const char *s) {
    const char *e = s;
    while (is_word_char(*e)) e++;
    if (e == s) return fail_at(p, s, "expecting a rule name");
    size_t len = (size_t)(e - s);
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(len < 120 ? len : 120), s);
    uint32_t id = get_symbol_id(p, s, len);
    if (id == UINT32_MAX) return NULL;
    const char *q = skip_space(e, false);
    if (!(q[0] == ':' && q[1] == ':' && q[2] == '=')) return fail_at(p, q, "expecting ::=");
    q = skip_space(q + 3, true);
    if (!(q = parse_alternates(p, q, name, id, false))) return NULL;
    if (*q == '\r') q += q[1] == '\n' ? 2 : 1;
    else if (*q == '\n') q++;
    else if (*q) return fail_at(p, q, *q == ')' ? "unbalanced ')'" : "expecting a newline or the end");
    return skip_space(q, true);
}

// ---- checks -------------------------------------------------------------------------------

static bool is_end_of_seq(const kite__gelem *e) { return e->type == KITE__G_END || e->type == KITE__G_ALT; }

// llama.cpp's left-recursion check: a rule that can reach itself without consuming a char.
static bool left_recursive(const kite_grammar *g, uint32_t r, uint8_t *in_progress, uint8_t *may_be_empty,
                           uint8_t *visited) {
    if (in_progress[r]) return true;
    if (visited[r]) return false;
    in_progress[r] = 1;
    const kite__gelem *e = g->elems + g->rule_start[r];
    bool at_start = true;
    for (size_t i = 0;; i++) {
        if (is_end_of_seq(&e[i])) {
            if (at_start) {
                may_be_empty[r] = 1;
                break;
            }
            at_start = true;
            if (e[i].type == KITE__G_END) break;
        } else {
            at_start = false;
        }
    }
    bool recurse = true;
    for (size_t i = 0;; i++) {
        if (e[i].type == KITE__G_RULE_REF && recurse) {
            if (left_recursive(g, e[i].value, in_progress, may_be_empty, visited)) return true;
            if (!may_be_empty[e[i].value]) recurse = false;
        } else if (is_end_of_seq(&e[i])) {
            recurse = true;
            if (e[i].type == KITE__G_END) break;
        } else {
            recurse = false;
        }
    }
    in_progress[r] = 0;
    visited[r] = 1;
    return false;
}

// ---- public -------------------------------------------------------------------------------

void kite_grammar_free(kite_grammar *g) {
    if (!g) return;
    for (uint32_t i = 0; i < g->n_rules; i++) free(g->names[i]);
    free(g->names);
    free(g->rule_start);
    free(g->elems);
    free(g);
}

// The rules of p flattened into a grammar (names move over).
static kite_status build(parser *p, kite_grammar **out) {
    kite_grammar *g = calloc(1, sizeof *g);
    size_t n = 0;
    for (uint32_t i = 0; i < p->n_syms; i++) n += p->rules[i].n;
    if (g) {
        g->elems = malloc((n ? n : 1) * sizeof *g->elems);
        g->rule_start = malloc((p->n_syms ? p->n_syms : 1) * sizeof *g->rule_start);
    }
    if (!g || !g->elems || !g->rule_start) {
        if (g) free(g->elems), free(g->rule_start), free(g);
        return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
    }
    for (uint32_t i = 0; i < p->n_syms; i++) {
        g->rule_start[i] = (uint32_t)g->n_elems;
        memcpy(g->elems + g->n_elems, p->rules[i].e, p->rules[i].n * sizeof *g->elems);
        g->n_elems += p->rules[i].n;
    }
    g->names = p->names;
    g->n_rules = p->n_syms;
    p->names = NULL; // moved; the parser still frees its rules' elements
    *out = g;
    return KITE_OK;
}

static void free_parser(parser *p) {
    for (uint32_t i = 0; i < p->n_syms; i++) {
        free(p->rules[i].e);
        if (p->names) free(p->names[i]);
    }
    free(p->rules);
    free(p->names);
    free(p->index);
}

kite_status kite_grammar_parse(const char *text, const char *root, kite_grammar **out) {
    return kite_grammar_parse_tokens(text, root, NULL, out);
}

kite_status kite_grammar_parse_tokens(const char *text, const char *root, const kite_grammar_tokenizer *tk,
                                      kite_grammar **out) {
    if (!text || !out) return kite__fail(KITE_ERR_INVALID, "grammar: NULL argument");
    if (tk && (!tk->tokenize || tk->n_tokens < 0)) return kite__fail(KITE_ERR_INVALID, "grammar: bad tokenizer");
    if (!root) root = "root";
    parser p = {.text = text, .tk = tk};
    const char *s = skip_space(text, true);
    while (s && *s) s = parse_rule(&p, s);
    kite_status st = KITE_OK;
    if (p.failed) {
        if (p.status == KITE_ERR_NOMEM) {
            st = kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
        } else {
            int line = 1, col = 1;
            for (const char *c = text; c < p.err_at; c++) {
                if (*c == '\n') line++, col = 1;
                else if (((uint8_t)*c & 0xC0) != 0x80) col++;
            }
            st = kite__fail(KITE_ERR_INVALID, "grammar: line %d, column %d: %s", line, col, p.msg);
        }
        free_parser(&p);
        return st;
    }
    for (uint32_t i = 0; i < p.n_syms && st == KITE_OK; i++) {
        if (p.rules[i].n == 0) st = kite__fail(KITE_ERR_INVALID, "grammar: undefined rule '%s'", p.names[i]);
    }
    uint32_t root_id = UINT32_MAX;
    for (uint32_t i = 0; i < p.n_syms; i++)
        if (strcmp(p.names[i], root) == 0) root_id = i;
    if (st == KITE_OK && root_id == UINT32_MAX)
        st = kite__fail(KITE_ERR_INVALID, "grammar: no rule named '%s' (the start rule)", root);
    kite_grammar *g = NULL;
    if (st == KITE_OK) st = build(&p, &g);
    free_parser(&p);
    if (st != KITE_OK) return st;
    g->root = root_id;
    for (size_t i = 0; i < g->n_elems; i++)
        g->has_tokens = g->has_tokens || g->elems[i].type == KITE__G_TOKEN || g->elems[i].type == KITE__G_TOKEN_NOT;
    uint8_t *flags = calloc(3 * (size_t)g->n_rules, 1);
    if (!flags) {
        kite_grammar_free(g);
        return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
    }
    // visited and may-be-empty carry over from rule to rule: a rule explored once without
    // finding recursion need not be explored again.
    for (uint32_t i = 0; i < g->n_rules; i++) {
        if (left_recursive(g, i, flags, flags + g->n_rules, flags + 2 * g->n_rules)) {
            st = kite__fail(KITE_ERR_INVALID, "grammar: rule '%s' is left-recursive", g->names[i]);
            break;
        }
    }
    free(flags);
    if (st != KITE_OK) {
        kite_grammar_free(g);
        return st;
    }
    *out = g;
    return KITE_OK;
}
