// grammar_tokens.c - a vocabulary's token texts as code points (decoded once), and masking
// the tokens a grammar state cannot accept, with llama.cpp's candidate-rejection walk: each
// stack filters the candidates one code point at a time and recurses on the survivors.
#include "base/internal.h"
#include "grammar/grammar_match.h"

#include <math.h>
#include <stdio.h>

// TOK_EMPTY: no output text (a control token): only a token element can take it. TOK_NUL: text
// that starts with a NUL byte, never allowed (as llama.cpp).
enum { TOK_EOG = 1, TOK_EMPTY = 2, TOK_NUL = 4 };

struct kite_grammar_vocab {
    int32_t n;
    uint8_t *bytes;           // every token's text, back to back
    size_t *boff;             // (n + 1) offsets into bytes
    uint32_t *cps;            // every token's code points decoded from a clean start
    size_t *coff;             // (n + 1) offsets into cps
    kite__partial_utf8 *tail; // (n) the partial char a token's text ends in
    uint8_t *flags;           // (n) TOK_*
};

void kite_grammar_vocab_free(kite_grammar_vocab *v) {
    if (!v) return;
    free(v->bytes);
    free(v->boff);
    free(v->cps);
    free(v->coff);
    free(v->tail);
    free(v->flags);
    free(v);
}

kite_status kite_grammar_vocab_new(int32_t n_tokens, int32_t (*piece)(void *user, int32_t id, char *buf, int32_t cap),
                                   bool (*is_eog)(void *user, int32_t id), void *user, kite_grammar_vocab **out) {
    if (n_tokens < 0 || !piece || !is_eog || !out) return kite__fail(KITE_ERR_INVALID, "grammar: bad vocabulary");
    kite_grammar_vocab *v = calloc(1, sizeof *v);
    kite_status s = KITE_OK;
    size_t cap = 1 << 16, len = 0;
    if (v) {
        v->n = n_tokens;
        v->boff = malloc(((size_t)n_tokens + 1) * sizeof *v->boff);
        v->coff = malloc(((size_t)n_tokens + 1) * sizeof *v->coff);
        v->tail = malloc(((size_t)n_tokens + 1) * sizeof *v->tail);
        v->flags = calloc((size_t)n_tokens + 1, 1);
        v->bytes = malloc(cap);
    }
    if (!v || !v->boff || !v->coff || !v->tail || !v->flags || !v->bytes) s = KITE_ERR_NOMEM;
    for (int32_t id = 0; id < n_tokens && s == KITE_OK; id++) {
        v->boff[id] = len;
        int32_t room = (int32_t)KITE_MIN(cap - len, (size_t)INT32_MAX);
        int32_t k = piece(user, id, (char *)v->bytes + len, room);
        if (k < 0) { // grow to the size asked for and retry
            while (cap - len < (size_t)-k) cap *= 2;
            uint8_t *b = realloc(v->bytes, cap);
            if (!b) {
                s = KITE_ERR_NOMEM;
                break;
            }
            v->bytes = b;
            k = piece(user, id, (char *)v->bytes + len, (int32_t)KITE_MIN(cap - len, (size_t)INT32_MAX));
            if (k < 0) k = 0;
        }
        len += (size_t)k;
        if (cap - len < 256) {
            cap *= 2;
            uint8_t *b = realloc(v->bytes, cap);
            if (!b) s = KITE_ERR_NOMEM;
            else v->bytes = b;
        }
        if (is_eog(user, id)) v->flags[id] |= TOK_EOG;
        if (k == 0) v->flags[id] |= TOK_EMPTY;
        else if (v->bytes[v->boff[id]] == 0) v->flags[id] |= TOK_NUL;
    }
    if (s == KITE_OK) {
        v->boff[n_tokens] = len;
        v->cps = malloc((len + 1) * sizeof *v->cps); // never more code points than bytes
        if (!v->cps) s = KITE_ERR_NOMEM;
    }
    size_t nc = 0;
    for (int32_t id = 0; id < n_tokens && s == KITE_OK; id++) {
        v->coff[id] = nc;
        kite__partial_utf8 pu = {0, 0, 0};
        nc += kite__grammar_utf8_decode(v->bytes + v->boff[id], v->boff[id + 1] - v->boff[id], &pu, v->cps + nc);
        v->tail[id] = pu;
    }
    if (s == KITE_OK) v->coff[n_tokens] = nc;
    if (s != KITE_OK) {
        kite_grammar_vocab_free(v);
        return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory for the token table");
    }
    *out = v;
    return KITE_OK;
}

// ---- rejection ----------------------------------------------------------------------------

typedef struct cand {
    int32_t id;
    const uint32_t *begin, *cp, *end; // the token's code points; cp: the next one to match
    kite__partial_utf8 pu;            // the partial char after them
    bool empty; // no output text (a control token): only a token element can take it
} cand;

static cand text_cand(int32_t id, const uint32_t *cp, const uint32_t *end, kite__partial_utf8 pu) {
    return (cand){id, cp, cp, end, pu, false};
}

typedef struct walk {
    const kite_grammar *g;
    kite_grammar_state *st; // for its scratch stacks
} walk;

static kite_status reject_all(walk *w, const kite__stacks *stacks, const cand *c, size_t n, cand *rej, size_t *n_rej);

static bool is_end_of_seq(const kite__gelem *e) { return e->type == KITE__G_END || e->type == KITE__G_ALT; }

// What a stack with the char element top on top does with candidate c, from c's next code point
// alone: rejects it, takes it whole (nothing left of it), or takes that code point (the rest of
// c must be walked on from the stacks after it).
typedef enum { V_REJECT, V_ACCEPT, V_WALK } verdict;
static verdict first_verdict(const kite_grammar *g, uint32_t top, const cand *c) {
    if (c->empty) return V_REJECT; // no text for a char to match
    if (c->cp == c->end) // used up: rejected only if it ends in a partial char top cannot take
        return c->pu.n_remain != 0 && !kite__grammar_match_partial(g, top, c->pu) ? V_REJECT : V_ACCEPT;
    bool ok;
    kite__grammar_match_char(g, top, *c->cp, &ok);
    return ok ? V_WALK : V_REJECT;
}

// The candidates of c[0..n) that the one stack stk[0..m) rejects, into rej (room n).
static kite_status reject_for_stack(walk *w, const uint32_t *stk, uint32_t m, const cand *c, size_t n, cand *rej,
                                    size_t *n_rej) {
    size_t nr = 0;
    if (m == 0) { // a complete parse takes only tokens that are used up
        for (size_t i = 0; i < n; i++)
            if (c[i].empty || c[i].cp != c[i].end || c[i].pu.n_remain != 0) rej[nr++] = c[i];
        *n_rej = nr;
        return KITE_OK;
    }
    const kite_grammar *g = w->g;
    uint32_t top = stk[m - 1];
    if (kite__grammar_is_token(&g->elems[top])) { // a whole token, by its id
        for (size_t i = 0; i < n; i++) {
            bool ok;
            if (c[i].empty) ok = kite__grammar_match_token(&g->elems[top], c[i].id);
            else if (c[i].cp == c[i].end) ok = c[i].pu.n_remain == 0; // used up by the chars before
            else if (c[i].cp != c[i].begin) ok = false; // part of the token went to chars: not a whole token
            else ok = kite__grammar_match_token(&g->elems[top], c[i].id);
            if (!ok) rej[nr++] = c[i];
        }
        *n_rej = nr;
        return KITE_OK;
    }
    cand *next = malloc((n ? n : 1) * sizeof *next);
    if (!next) return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
    size_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        verdict v = first_verdict(g, top, &c[i]);
        if (v == V_REJECT) {
            rej[nr++] = c[i];
        } else if (v == V_WALK) {
            next[nn] = c[i];
            next[nn++].cp++;
        }
    }
    kite_status s = KITE_OK;
    if (nn > 0) {
        bool ok;
        uint32_t after = kite__grammar_match_char(g, top, 0, &ok);
        uint32_t *sa = malloc((size_t)(m + 1) * sizeof *sa);
        kite__stacks next_stacks = {0};
        cand *sub = malloc(nn * sizeof *sub);
        size_t ns = 0;
        if (!sa || !sub) s = kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
        if (s == KITE_OK) {
            memcpy(sa, stk, (m - 1) * sizeof *sa);
            uint32_t k = m - 1;
            if (!is_end_of_seq(&g->elems[after])) sa[k++] = after;
            s = kite__grammar_advance(g, sa, k, &next_stacks, &w->st->todo, &w->st->seen);
        }
        if (s == KITE_OK) s = reject_all(w, &next_stacks, next, nn, sub, &ns);
        for (size_t i = 0; s == KITE_OK && i < ns; i++) {
            rej[nr] = sub[i];
            rej[nr++].cp--;
        }
        free(sa);
        free(sub);
        kite__stacks_free(&next_stacks);
    }
    free(next);
    *n_rej = nr;
    return s;
}

// The candidates every stack rejects: each stack filters what the previous ones rejected.
static kite_status reject_each(walk *w, const kite__stacks *stacks, const cand *c, size_t n, cand *rej, size_t *n_rej) {
    cand *tmp = stacks->count > 1 ? malloc(n * sizeof *tmp) : NULL;
    if (stacks->count > 1 && !tmp) return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
    // ping-pong between rej and tmp so the last stack's output lands in rej
    cand *bufs[2] = {rej, tmp};
    int cur = (stacks->count % 2 == 1) ? 0 : 1;
    const cand *in = c;
    size_t nin = n;
    kite_status s = KITE_OK;
    for (size_t i = 0; i < stacks->count && s == KITE_OK; i++) {
        size_t nout = 0;
        s = reject_for_stack(w, stacks->data + stacks->start[i], stacks->size[i], in, nin, bufs[cur], &nout);
        in = bufs[cur];
        nin = nout;
        cur ^= 1;
    }
    KITE_ASSERT(s != KITE_OK || in == rej);
    *n_rej = s == KITE_OK ? nin : 0;
    free(tmp);
    return s;
}

// At most this many stacks walk on from the union of where their classes lead (reject_by_class);
// past it (thousands of copies: rebuilding their union per char costs more than it saves) the
// classes only sort out the tokens decided at their next char before the stack-by-stack walk.
enum { MAX_TOPS = 16, UNION_MAX_STACKS = 64 };

// Whether the char classes that start at elements a and b hold the same elements (then they take
// and refuse the same code points: a rule written out again, as each nested x+ is, repeats them).
static bool same_class(const kite_grammar *g, uint32_t a, uint32_t b) {
    if (a == b) return true;
    bool ok;
    uint32_t end_a = kite__grammar_match_char(g, a, 0, &ok), end_b = kite__grammar_match_char(g, b, 0, &ok);
    if (end_a - a != end_b - b) return false;
    for (uint32_t i = 0; i < end_a - a; i++)
        if (g->elems[a + i].type != g->elems[b + i].type || g->elems[a + i].value != g->elems[b + i].value)
            return false;
    return true;
}

// The distinct char classes on top of the stacks (one element for all that hold the same class)
// into tops, and each stack's index into tops in cls (unless NULL); returns their count, 0 when a
// stack is complete (empty) or has a token element on top, or there are more than MAX_TOPS.
static size_t distinct_tops(const kite_grammar *g, const kite__stacks *stacks, uint32_t tops[MAX_TOPS], uint8_t *cls) {
    size_t nt = 0;
    for (size_t i = 0; i < stacks->count; i++) {
        if (stacks->size[i] == 0) return 0;
        uint32_t top = stacks->data[stacks->start[i] + stacks->size[i] - 1];
        if (kite__grammar_is_token(&g->elems[top])) return 0;
        size_t k = 0;
        while (k < nt && !same_class(g, tops[k], top)) k++;
        if (k == nt) {
            if (nt == MAX_TOPS) return 0;
            tops[nt++] = top;
        }
        if (cls) cls[i] = (uint8_t)k;
    }
    return nt;
}

// A candidate past its next code point, with the classes (bits into the tops) that took it.
typedef struct walker {
    uint32_t classes;
    cand c;
} walker;

static int by_classes(const void *a, const void *b) {
    uint32_t x = ((const walker *)a)->classes, y = ((const walker *)b)->classes;
    return (x > y) - (x < y);
}

// The stacks that follow the stacks whose class (cls) is in classes once that class took a
// code point, into out (each once). KITE_ERR_INVALID when they outgrow the stack limit.
static kite_status advance_classes(walk *w, const kite__stacks *stacks, const uint8_t *cls, uint32_t classes,
                                   kite__stacks *out) {
    const kite_grammar *g = w->g;
    uint32_t *sa = NULL;
    size_t cap = 0;
    kite_status s = KITE_OK;
    for (size_t i = 0; i < stacks->count && s == KITE_OK; i++) {
        if (!(classes >> cls[i] & 1)) continue;
        const uint32_t *stk = stacks->data + stacks->start[i];
        uint32_t m = stacks->size[i];
        if (m > cap) {
            uint32_t *t = realloc(sa, (size_t)m * sizeof *t);
            if (!t) {
                s = kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
                break;
            }
            sa = t;
            cap = m;
        }
        bool ok;
        uint32_t after = kite__grammar_match_char(g, stk[m - 1], 0, &ok);
        memcpy(sa, stk, (m - 1) * sizeof *sa);
        uint32_t k = m - 1;
        if (!is_end_of_seq(&g->elems[after])) sa[k++] = after;
        s = kite__grammar_advance(g, sa, k, out, &w->st->todo, &w->st->seen);
    }
    free(sa);
    return s;
}

// reject_all where every stack has one of nt char classes on top (tops; cls: each stack's). A
// candidate is judged by each class once: rejected when every class refuses its next code point,
// kept when one takes it whole; the rest, grouped by the classes that take that code point, walk
// on from the union of the stacks those classes lead to. The same set as stack by stack (a
// candidate is rejected by all of a union exactly when it is rejected by all of each part),
// without walking the same rest once per stack: an ambiguous grammar (x++++) holds many stacks
// whose walks would multiply at every code point. cls NULL (too many stacks to rebuild their
// union per code point), or a union past the stack limit: the rest walk stack by stack.
static kite_status reject_by_class(walk *w, const kite__stacks *stacks, const uint32_t *tops, size_t nt,
                                   const uint8_t *cls, const cand *c, size_t n, cand *rej, size_t *n_rej) {
    walker *wk = malloc(n * sizeof *wk);
    cand *in = malloc(n * sizeof *in), *sub = malloc(n * sizeof *sub);
    kite_status s = wk && in && sub ? KITE_OK : kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
    size_t n_walk = 0, nr = 0;
    for (size_t i = 0; i < n && s == KITE_OK; i++) {
        uint32_t classes = 0;
        bool accept = false;
        for (size_t k = 0; k < nt && !accept; k++) {
            verdict v = first_verdict(w->g, tops[k], &c[i]);
            accept = v == V_ACCEPT;
            if (v == V_WALK) classes |= 1u << k;
        }
        if (accept) continue;
        if (!classes) {
            rej[nr++] = c[i];
            continue;
        }
        wk[n_walk] = (walker){classes, c[i]};
        wk[n_walk++].c.cp++;
    }
    if (s == KITE_OK && cls) qsort(wk, n_walk, sizeof *wk, by_classes);
    kite__stacks next = {0};
    for (size_t a = 0, b = 0; a < n_walk && s == KITE_OK; a = b) {
        if (cls)
            while (b < n_walk && wk[b].classes == wk[a].classes) b++;
        else
            b = n_walk;
        for (size_t i = a; i < b; i++) in[i - a] = wk[i].c;
        size_t ns = 0;
        bool by_stack = !cls;
        if (cls) {
            kite__stacks_clear(&next);
            s = advance_classes(w, stacks, cls, wk[a].classes, &next);
            if (s == KITE_OK) s = reject_all(w, &next, in, b - a, sub, &ns);
            else if (s == KITE_ERR_INVALID) by_stack = true, s = KITE_OK; // the union outgrew the stack limit
        }
        if (by_stack) {
            for (size_t i = 0; i < b - a; i++) in[i].cp--;
            s = reject_each(w, stacks, in, b - a, rej + nr, &ns);
            nr += s == KITE_OK ? ns : 0;
            ns = 0;
        }
        for (size_t i = 0; s == KITE_OK && i < ns; i++) {
            rej[nr] = sub[i];
            rej[nr++].cp--;
        }
    }
    kite__stacks_free(&next);
    free(wk);
    free(in);
    free(sub);
    *n_rej = s == KITE_OK ? nr : 0;
    return s;
}

// The candidates every stack rejects (the intersection of what each stack rejects). Where the
// stacks' tops are copies of a few char classes (an ambiguous grammar such as x+++; at least two
// stacks a class), reject_by_class (past UNION_MAX_STACKS without the unions); otherwise
// (distinct classes: the walk, stack by stack, drops what the first stacks take, and is faster)
// reject_each.
static kite_status reject_all(walk *w, const kite__stacks *stacks, const cand *c, size_t n, cand *rej, size_t *n_rej) {
    *n_rej = 0;
    if (n == 0) return KITE_OK;
    if (stacks->count == 0) {
        memcpy(rej, c, n * sizeof *c);
        *n_rej = n;
        return KITE_OK;
    }
    if (stacks->count < 2) return reject_each(w, stacks, c, n, rej, n_rej);
    uint32_t tops[MAX_TOPS];
    uint8_t cls[UNION_MAX_STACKS];
    const bool unions = stacks->count <= UNION_MAX_STACKS;
    const size_t nt = distinct_tops(w->g, stacks, tops, unions ? cls : NULL);
    if (nt == 0 || nt * 2 > stacks->count) return reject_each(w, stacks, c, n, rej, n_rej);
    return reject_by_class(w, stacks, tops, nt, unions ? cls : NULL, c, n, rej, n_rej);
}

kite_status kite_grammar_state_mask(kite_grammar_state *st, const kite_grammar_vocab *v, float *logits,
                                    int32_t n_vocab) {
    if (!st || !v || !logits || n_vocab < 0) return kite__fail(KITE_ERR_INVALID, "grammar: NULL argument");
    if (st->dead) return kite__fail(KITE_ERR_INVALID, "grammar: the text so far cannot be completed");
    if (st->waiting) return KITE_OK; // a lazy grammar before its trigger: every token goes
    bool allow_eog = false;
    for (size_t i = 0; i < st->stacks.count; i++) allow_eog = allow_eog || st->stacks.size[i] == 0;
    size_t n = (size_t)n_vocab;
    cand *c = malloc((n ? n : 1) * sizeof *c);
    cand *rej = malloc((n ? n : 1) * sizeof *rej);
    // a partial char pending from the last token: decode every token again from it
    bool redecode = st->partial.n_remain != 0;
    uint32_t *cps = redecode ? malloc((v->boff[v->n] + (size_t)v->n + 1) * sizeof *cps) : NULL;
    if (!c || !rej || (redecode && !cps)) {
        free(c);
        free(rej);
        free(cps);
        return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
    }
    size_t nc = 0, at = 0;
    for (int32_t id = 0; id < n_vocab; id++) {
        if (id < v->n && (v->flags[id] & TOK_EOG)) {
            if (!allow_eog) logits[id] = -INFINITY;
            continue;
        }
        if (id >= v->n || (v->flags[id] & TOK_NUL) ||
            ((v->flags[id] & TOK_EMPTY) && (!st->g->has_tokens || redecode))) {
            logits[id] = -INFINITY; // an empty token: only a token element could take it
            continue;
        }
        if (logits[id] == -INFINITY) continue; // already out
        if (v->flags[id] & TOK_EMPTY) {
            c[nc] = text_cand(id, v->cps, v->cps, (kite__partial_utf8){0, 0, 0});
            c[nc++].empty = true;
            continue;
        }
        if (!redecode) {
            c[nc++] = text_cand(id, v->cps + v->coff[id], v->cps + v->coff[id + 1], v->tail[id]);
            continue;
        }
        kite__partial_utf8 pu = st->partial;
        size_t k = kite__grammar_utf8_decode(v->bytes + v->boff[id], v->boff[id + 1] - v->boff[id], &pu, cps + at);
        if (pu.n_remain < 0) {
            logits[id] = -INFINITY;
            continue;
        }
        c[nc++] = text_cand(id, cps + at, cps + at + k, pu);
        at += k;
    }
    walk w = {st->g, st};
    size_t nr = 0;
    kite_status s = reject_all(&w, &st->stacks, c, nc, rej, &nr);
    for (size_t i = 0; s == KITE_OK && i < nr; i++) logits[rej[i].id] = -INFINITY;
    free(c);
    free(rej);
    free(cps);
    return s;
}

bool kite_grammar_state_allows(kite_grammar_state *st, const kite_grammar_vocab *v, int32_t id) {
    if (!st || !v || st->dead || id < 0 || id >= v->n) return false;
    if (st->waiting) return true;
    if (v->flags[id] & TOK_EOG) {
        for (size_t i = 0; i < st->stacks.count; i++)
            if (st->stacks.size[i] == 0) return true;
        return false;
    }
    if ((v->flags[id] & TOK_NUL) || ((v->flags[id] & TOK_EMPTY) && (!st->g->has_tokens || st->partial.n_remain != 0)))
        return false;
    cand c, rej;
    uint32_t *cps = NULL;
    if (v->flags[id] & TOK_EMPTY) {
        c = text_cand(id, v->cps, v->cps, (kite__partial_utf8){0, 0, 0});
        c.empty = true;
    } else if (st->partial.n_remain == 0) {
        c = text_cand(id, v->cps + v->coff[id], v->cps + v->coff[id + 1], v->tail[id]);
    } else {
        size_t nb = v->boff[id + 1] - v->boff[id];
        if (!(cps = malloc((nb + 1) * sizeof *cps))) return false;
        kite__partial_utf8 pu = st->partial;
        size_t k = kite__grammar_utf8_decode(v->bytes + v->boff[id], nb, &pu, cps);
        if (pu.n_remain < 0) {
            free(cps);
            return false;
        }
        c = text_cand(id, cps, cps + k, pu);
    }
    walk w = {st->g, st};
    size_t nr = 0;
    kite_status s = reject_all(&w, &st->stacks, &c, 1, &rej, &nr);
    free(cps);
    return s == KITE_OK && nr == 0;
}

// Advances st over token id in a grammar with token elements, as llama.cpp's accept_token: a
// stack with a token element on top takes the token by its id, any other stack takes its text
// one code point at a time.
static kite_status accept_token_elements(kite_grammar_state *st, const kite_grammar_vocab *v, int32_t id) {
    const kite_grammar *g = st->g;
    const bool empty = v->flags[id] & TOK_EMPTY;
    const size_t nb = v->boff[id + 1] - v->boff[id];
    uint32_t *cps = malloc((nb + 1) * sizeof *cps);
    if (!cps) return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
    kite__partial_utf8 pu = st->partial;
    const size_t n = empty ? 0 : kite__grammar_utf8_decode(v->bytes + v->boff[id], nb, &pu, cps);
    kite__stacks out = {0}, a = {0}, b = {0};
    uint32_t *tmp = NULL;
    kite_status s = KITE_OK;
    if (pu.n_remain < 0) s = kite__fail(KITE_ERR_INVALID, "grammar: token %d: the text is not valid UTF-8", id);
    for (size_t i = 0; s == KITE_OK && i < st->stacks.count; i++) {
        const uint32_t m = st->stacks.size[i];
        if (m == 0) continue;
        const uint32_t *stk = st->stacks.data + st->stacks.start[i];
        const uint32_t top = stk[m - 1];
        if (kite__grammar_is_token(&g->elems[top])) {
            if (!kite__grammar_match_token(&g->elems[top], id)) continue;
            uint32_t *t = realloc(tmp, (size_t)m * sizeof *t);
            if (!t) {
                s = kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
                break;
            }
            tmp = t;
            memcpy(tmp, stk, (m - 1) * sizeof *tmp);
            uint32_t k = m - 1;
            if (g->elems[top + 1].type != KITE__G_END && g->elems[top + 1].type != KITE__G_ALT) tmp[k++] = top + 1;
            s = kite__grammar_advance(g, tmp, k, &out, &st->todo, &st->seen);
            continue;
        }
        if (empty) continue; // no text for the chars on top
        kite__stacks_clear(&a);
        if ((s = kite__stacks_push(&a, stk, m)) != KITE_OK) break;
        for (size_t k = 0; k < n && a.count > 0 && s == KITE_OK; k++) {
            kite__stacks_clear(&b);
            s = kite__grammar_accept_cp_set(g, &a, cps[k], &b, &st->todo, &st->seen);
            kite__stacks t = a;
            a = b;
            b = t;
        }
        for (size_t k = 0; s == KITE_OK && k < a.count; k++) {
            const uint32_t *e = a.data + a.start[k];
            if (!kite__stacks_find(&out, e, a.size[k])) s = kite__stacks_push(&out, e, a.size[k]);
        }
    }
    if (s == KITE_OK && pu.n_remain > 0) { // some stack must take the char the partial one completes to
        bool any = false;
        for (size_t i = 0; i < out.count && !any; i++) {
            const uint32_t m = out.size[i], top = m ? out.data[out.start[i] + m - 1] : 0;
            if (m && !kite__grammar_is_token(&g->elems[top])) any = kite__grammar_match_partial(g, top, pu);
        }
        if (!any) kite__stacks_clear(&out);
    }
    if (s == KITE_OK && out.count == 0)
        s = kite__fail(KITE_ERR_INVALID, "grammar: token %d does not fit the grammar", id);
    if (s == KITE_OK) {
        kite__stacks t = st->stacks;
        st->stacks = out;
        out = t;
        st->partial = pu;
    }
    kite__stacks_free(&out);
    kite__stacks_free(&a);
    kite__stacks_free(&b);
    free(tmp);
    free(cps);
    return s;
}

kite_status kite_grammar_state_accept_token(kite_grammar_state *st, const kite_grammar_vocab *v, int32_t id) {
    if (!st || !v) return kite__fail(KITE_ERR_INVALID, "grammar: NULL argument");
    if (id < 0 || id >= v->n) return kite__fail(KITE_ERR_INVALID, "grammar: token %d is outside the vocabulary", id);
    if (st->waiting && (v->flags[id] & (TOK_EOG | TOK_EMPTY | TOK_NUL))) return KITE_OK; // no text to watch
    if (v->flags[id] & TOK_EOG) { // taken when some parse is complete (what the mask allows, as llama.cpp)
        for (size_t i = 0; !st->dead && i < st->stacks.count; i++)
            if (st->stacks.size[i] == 0) return KITE_OK;
        return kite__fail(KITE_ERR_INVALID, "grammar: end of generation before the grammar is complete");
    }
    if (st->g->has_tokens && !st->waiting) {
        if (v->flags[id] & TOK_NUL) return kite__fail(KITE_ERR_INVALID, "grammar: token %d starts with a NUL byte", id);
        if (st->dead) return kite__fail(KITE_ERR_INVALID, "grammar: the text so far cannot be completed");
        return accept_token_elements(st, v, id);
    }
    if (v->flags[id] & (TOK_EMPTY | TOK_NUL))
        return kite__fail(KITE_ERR_INVALID, "grammar: token %d has no text the grammar could take", id);
    if (!kite_grammar_state_accept(st, (const char *)v->bytes + v->boff[id], v->boff[id + 1] - v->boff[id])) {
        char why[200];
        snprintf(why, sizeof why, "%s", kite_last_error());
        return kite__fail(KITE_ERR_INVALID, "grammar: token %d does not fit the grammar (%s)", id, why);
    }
    return KITE_OK;
}
