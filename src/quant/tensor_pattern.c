// tensor_pattern.c - a small backtracking regular-expression matcher for --tensor-type patterns
// (ECMAScript syntax subset, byte-wise, case-sensitive, search semantics).
#include "quant/tensor_pattern.h"

#include "base/internal.h"

// ---- compiled form -------------------------------------------------------------------------
// A pattern is a tree of sequences: each node has a `next` (the node after it in its sequence,
// -1 at the end); a group node owns n_alt alternatives, each the head of a sequence. Every node
// carries its repetition bounds. Node 0 is the implicit group around the whole pattern.

enum { N_CHAR, N_ANY, N_CLASS, N_BOL, N_EOL, N_WORDB, N_NWORDB, N_GROUP };

typedef struct node {
    int kind;
    int min, max;       // repetition; max < 0 means unbounded
    int next;           // next node in the sequence, -1 at its end
    unsigned char c;    // N_CHAR
    uint8_t set[32];    // N_CLASS: bitmap over bytes
    int alt0, n_alt;    // N_GROUP: alternatives are alts[alt0 .. alt0+n_alt)
} node;

struct kite__pattern {
    node *nodes;
    int n_nodes, cap_nodes;
    int *alts;
    int n_alts, cap_alts;
};

// Why these limits: a tensor-name pattern is a line on a command line; the caps keep hostile
// input (a 1 MB pattern, a{99999999}) from exhausting memory or stack.
#define PAT_MAX_LEN 1024
#define PAT_MAX_REPEAT 1000
#define PAT_MAX_DEPTH 64
// Backtracking budget per search and recursion bound: far above what any real name/pattern
// needs (names are < 64 bytes), low enough that a pathological (a*)*b gives up quickly.
#define PAT_MAX_STEPS 2000000
#define PAT_MAX_RECURSION 20000

typedef struct parser {
    kite__pattern *p;
    const char *src, *s;
    int depth;
    const char *err;
} parser;

static int new_node(parser *ps, int kind) {
    kite__pattern *p = ps->p;
    if (p->n_nodes == p->cap_nodes) {
        int cap = p->cap_nodes ? p->cap_nodes * 2 : 16;
        node *n = realloc(p->nodes, (size_t)cap * sizeof *n);
        if (!n) {
            ps->err = "out of memory";
            return -1;
        }
        p->nodes = n;
        p->cap_nodes = cap;
    }
    node *n = &p->nodes[p->n_nodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->min = n->max = 1;
    n->next = -1;
    return p->n_nodes++;
}

static void set_bit(uint8_t *set, unsigned c) { set[c >> 3] |= (uint8_t)(1u << (c & 7)); }
static bool has_bit(const uint8_t *set, unsigned c) { return set[c >> 3] >> (c & 7) & 1; }

static bool is_word(unsigned c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_space(unsigned c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static bool is_digit(unsigned c) { return c >= '0' && c <= '9'; }

// Adds the members of class escape e (d w s, or D W S negated) to set.
static void add_class_escape(uint8_t *set, char e) {
    for (unsigned c = 0; c < 256; c++) {
        bool in = e == 'd' || e == 'D' ? is_digit(c) : e == 'w' || e == 'W' ? is_word(c) : is_space(c);
        if (e == 'D' || e == 'W' || e == 'S') in = !in;
        if (in) set_bit(set, c);
    }
}

// A single-character escape (after the backslash, not a class escape): its byte, or -1.
static int char_escape(char e) {
    switch (e) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'v': return '\v';
    case '0': return 0;
    default: break;
    }
    // ECMAScript lets any syntax character be escaped; letters and digits mean something else.
    if ((unsigned char)e >= 0x80 || is_word((unsigned char)e)) return -1;
    return (unsigned char)e;
}

static void parse_class(parser *ps, node *n) {
    bool neg = false;
    if (*ps->s == '^') {
        neg = true;
        ps->s++;
    }
    uint8_t set[32] = {0};
    for (;;) {
        char ch = *ps->s;
        if (!ch) {
            ps->err = "missing ']'";
            return;
        }
        if (ch == ']') { // ECMAScript: "[]" is an empty class, "[^]" matches anything
            ps->s++;
            break;
        }
        int lo;
        ps->s++;
        if (ch == '\\') {
            char e = *ps->s++;
            if (!e) {
                ps->err = "trailing '\\'";
                return;
            }
            if (strchr("dwsDWS", e)) {
                add_class_escape(set, e);
                continue;
            }
            lo = e == 'b' ? '\b' : char_escape(e);
            if (lo < 0) {
                ps->err = "unsupported escape in '[...]'";
                return;
            }
        } else {
            lo = (unsigned char)ch;
        }
        int hi = lo;
        if (ps->s[0] == '-' && ps->s[1] && ps->s[1] != ']') {
            ps->s++;
            char h = *ps->s++;
            if (h == '\\') {
                char e = *ps->s++;
                hi = e ? char_escape(e) : -1;
                if (hi < 0) {
                    ps->err = "bad range end in '[...]'";
                    return;
                }
            } else {
                hi = (unsigned char)h;
            }
            if (hi < lo) {
                ps->err = "range out of order in '[...]'";
                return;
            }
        }
        for (int c = lo; c <= hi; c++) set_bit(set, (unsigned)c);
    }
    for (int i = 0; i < 32; i++) n->set[i] = neg ? (uint8_t)~set[i] : set[i];
}

static int parse_alternatives(parser *ps, int group);

// Reads a decimal count for {n,m}; -1 if there is none.
static long parse_count(parser *ps) {
    if (!is_digit((unsigned char)*ps->s)) return -1;
    long v = 0;
    while (is_digit((unsigned char)*ps->s)) {
        v = v * 10 + (*ps->s++ - '0');
        if (v > PAT_MAX_REPEAT) {
            ps->err = "repeat count too large";
            return -1;
        }
    }
    return v;
}

// Parses one sequence up to '|' or ')' or the end; returns its head (-1 if empty).
static int parse_sequence(parser *ps) {
    int head = -1, tail = -1;
    while (!ps->err && *ps->s && *ps->s != '|' && *ps->s != ')') {
        char ch = *ps->s++;
        int ni;
        bool assertion = false;
        switch (ch) {
        case '*': case '+': case '?':
            ps->err = "nothing to repeat";
            return -1;
        case '{':
            ps->err = "'{' without something to repeat";
            return -1;
        case '.': {
            ni = new_node(ps, N_ANY);
            break;
        }
        case '^': ni = new_node(ps, N_BOL); assertion = true; break;
        case '$': ni = new_node(ps, N_EOL); assertion = true; break;
        case '[':
            ni = new_node(ps, N_CLASS);
            if (ni >= 0) parse_class(ps, &ps->p->nodes[ni]);
            break;
        case '(': {
            if (++ps->depth > PAT_MAX_DEPTH) {
                ps->err = "groups nested too deep";
                return -1;
            }
            if (ps->s[0] == '?') {
                if (ps->s[1] != ':') {
                    ps->err = "look-arounds and named groups are not supported";
                    return -1;
                }
                ps->s += 2;
            }
            ni = new_node(ps, N_GROUP);
            if (ni < 0) break;
            parse_alternatives(ps, ni);
            if (ps->err) return -1;
            if (*ps->s != ')') {
                ps->err = "missing ')'";
                return -1;
            }
            ps->s++;
            ps->depth--;
            break;
        }
        case ']': case '}': // ECMAScript (Annex B) takes a lone ] or } literally
            ni = new_node(ps, N_CHAR);
            if (ni >= 0) ps->p->nodes[ni].c = (unsigned char)ch;
            break;
        case '\\': {
            char e = *ps->s++;
            if (!e) {
                ps->err = "trailing '\\'";
                return -1;
            }
            if (e == 'b' || e == 'B') {
                ni = new_node(ps, e == 'b' ? N_WORDB : N_NWORDB);
                assertion = true;
            } else if (strchr("dwsDWS", e)) {
                ni = new_node(ps, N_CLASS);
                if (ni >= 0) add_class_escape(ps->p->nodes[ni].set, e);
            } else {
                int c = char_escape(e);
                if (c < 0 || (e == '0' && is_digit((unsigned char)*ps->s))) {
                    ps->err = is_digit((unsigned char)e) ? "back-references are not supported" : "unsupported escape";
                    return -1;
                }
                ni = new_node(ps, N_CHAR);
                if (ni >= 0) ps->p->nodes[ni].c = (unsigned char)c;
            }
            break;
        }
        default:
            ni = new_node(ps, N_CHAR);
            if (ni >= 0) ps->p->nodes[ni].c = (unsigned char)ch;
            break;
        }
        if (ni < 0 || ps->err) return -1;
        // quantifier
        node *n = &ps->p->nodes[ni];
        char q = *ps->s;
        if (q == '*' || q == '+' || q == '?' || q == '{') {
            if (assertion) {
                ps->err = "nothing to repeat";
                return -1;
            }
            ps->s++;
            if (q == '*') n->min = 0, n->max = -1;
            else if (q == '+') n->min = 1, n->max = -1;
            else if (q == '?') n->min = 0, n->max = 1;
            else {
                long lo = parse_count(ps), hi = lo;
                if (lo < 0) {
                    if (!ps->err) ps->err = "bad '{n,m}' repeat";
                    return -1;
                }
                if (*ps->s == ',') {
                    ps->s++;
                    hi = *ps->s == '}' ? -1 : parse_count(ps);
                    if (ps->err) return -1;
                    if (hi < 0 && *ps->s != '}') {
                        ps->err = "bad '{n,m}' repeat";
                        return -1;
                    }
                }
                if (*ps->s != '}') {
                    ps->err = "missing '}'";
                    return -1;
                }
                ps->s++;
                if (hi >= 0 && hi < lo) {
                    ps->err = "repeat range out of order";
                    return -1;
                }
                n->min = (int)lo;
                n->max = (int)hi;
            }
            if (*ps->s == '?') ps->s++; // lazy: same set of matches
            if (*ps->s == '*' || *ps->s == '+' || *ps->s == '?' || *ps->s == '{') {
                ps->err = "nothing to repeat";
                return -1;
            }
        }
        if (tail >= 0) ps->p->nodes[tail].next = ni;
        else head = ni;
        tail = ni;
    }
    return head;
}

static bool push_alt(parser *ps, int head) {
    kite__pattern *p = ps->p;
    if (p->n_alts == p->cap_alts) {
        int cap = p->cap_alts ? p->cap_alts * 2 : 8;
        int *a = realloc(p->alts, (size_t)cap * sizeof *a);
        if (!a) {
            ps->err = "out of memory";
            return false;
        }
        p->alts = a;
        p->cap_alts = cap;
    }
    p->alts[p->n_alts++] = head;
    return true;
}

// Parses alternatives a|b|c into group node `group`. Alternatives of one group are stored
// contiguously, so nested groups collect theirs first and this one appends after.
static int parse_alternatives(parser *ps, int group) {
    int heads[256];
    int n = 0;
    for (;;) {
        int h = parse_sequence(ps);
        if (ps->err) return -1;
        if (n == (int)(sizeof heads / sizeof heads[0])) {
            ps->err = "too many alternatives";
            return -1;
        }
        heads[n++] = h;
        if (*ps->s != '|') break;
        ps->s++;
    }
    int alt0 = ps->p->n_alts;
    for (int i = 0; i < n; i++)
        if (!push_alt(ps, heads[i])) return -1;
    ps->p->nodes[group].alt0 = alt0;
    ps->p->nodes[group].n_alt = n;
    return 0;
}

void kite__pattern_free(kite__pattern *p) {
    if (!p) return;
    free(p->nodes);
    free(p->alts);
    free(p);
}

kite_status kite__pattern_compile(const char *src, kite__pattern **out) {
    *out = NULL;
    if (strlen(src) > PAT_MAX_LEN)
        return kite__fail(KITE_ERR_INVALID, "tensor pattern too long (%zu bytes, at most %d)", strlen(src), PAT_MAX_LEN);
    kite__pattern *p = calloc(1, sizeof *p);
    if (!p) return kite__fail(KITE_ERR_NOMEM, "out of memory compiling pattern");
    parser ps = {p, src, src, 0, NULL};
    int root = new_node(&ps, N_GROUP);
    if (root == 0) parse_alternatives(&ps, 0);
    if (!ps.err && *ps.s == ')') ps.err = "unmatched ')'";
    if (ps.err) {
        kite_status s = strcmp(ps.err, "out of memory") == 0 ? KITE_ERR_NOMEM : KITE_ERR_INVALID;
        kite__fail(s, "bad tensor pattern '%s': %s (at offset %d)", src, ps.err, (int)(ps.s - src));
        kite__pattern_free(p);
        return s;
    }
    *out = p;
    return KITE_OK;
}

// ---- matching ------------------------------------------------------------------------------

// What to do when a sequence ends inside a repeated group: the group, how many iterations are
// done (this one included), where this iteration began, and what follows the group.
typedef struct frame {
    int node, count;
    size_t start;
    const struct frame *up;
} frame;

typedef struct matcher {
    const kite__pattern *p;
    const unsigned char *s;
    size_t len;
    long steps;
    int depth;
} matcher;

static int match_rep(matcher *m, int ni, int count, size_t pos, const frame *k);

static bool word_at(const matcher *m, size_t i) { return i < m->len && is_word(m->s[i]); }

// Matches the sequence starting at node ni from pos, then the continuation k.
static int match_seq(matcher *m, int ni, size_t pos, const frame *k) {
    if (++m->steps > PAT_MAX_STEPS) return -1;
    if (ni < 0) {
        if (!k) return 1;
        const node *g = &m->p->nodes[k->node];
        // ECMAScript: an iteration past the minimum that consumed nothing fails (no endless loop)
        if (pos == k->start && k->count > g->min) return 0;
        return match_rep(m, k->node, k->count, pos, k->up);
    }
    if (++m->depth > PAT_MAX_RECURSION) return -1;
    int r = match_rep(m, ni, 0, pos, k);
    m->depth--;
    return r;
}

static bool atom_matches(const node *n, unsigned c) {
    switch (n->kind) {
    case N_CHAR: return c == n->c;
    case N_ANY: return c != '\n' && c != '\r';
    case N_CLASS: return has_bit(n->set, c);
    default: return false;
    }
}

// Node ni has matched `count` times ending at pos: greedily try one more, else move on.
static int match_rep(matcher *m, int ni, int count, size_t pos, const frame *k) {
    const node *n = &m->p->nodes[ni];
    switch (n->kind) {
    case N_BOL: return pos == 0 ? match_seq(m, n->next, pos, k) : 0;
    case N_EOL: return pos == m->len ? match_seq(m, n->next, pos, k) : 0;
    case N_WORDB:
    case N_NWORDB: {
        bool b = (pos > 0 && word_at(m, pos - 1)) != word_at(m, pos);
        return b == (n->kind == N_WORDB) ? match_seq(m, n->next, pos, k) : 0;
    }
    default: break;
    }
    if (n->max < 0 || count < n->max) {
        int r = 0;
        if (n->kind == N_GROUP) {
            frame f = {ni, count + 1, pos, k};
            for (int a = 0; a < n->n_alt && r == 0; a++) r = match_seq(m, m->p->alts[n->alt0 + a], pos, &f);
        } else if (pos < m->len && atom_matches(n, m->s[pos])) {
            if (++m->depth > PAT_MAX_RECURSION) return -1;
            r = match_rep(m, ni, count + 1, pos + 1, k);
            m->depth--;
        }
        if (r != 0) return r;
    }
    if (count >= n->min) return match_seq(m, n->next, pos, k);
    return 0;
}

int kite__pattern_search(const kite__pattern *p, const char *s) {
    matcher m = {p, (const unsigned char *)s, strlen(s), 0, 0};
    for (size_t start = 0; start <= m.len; start++) {
        int r = match_seq(&m, 0, start, NULL);
        if (r != 0) return r;
    }
    return 0;
}
