// grammar_match.c - running a grammar: parse-stack sets advanced one code point at a time, and
// the state a sequence keeps (stacks + a partial UTF-8 char), as llama.cpp's grammar does.
#include "base/internal.h"
#include "grammar/grammar_match.h"

// ---- stack sets ---------------------------------------------------------------------------

void kite__stacks_clear(kite__stacks *s) { s->len = s->count = s->slots = s->indexed = 0; }

void kite__stacks_pop(kite__stacks *s) {
    KITE_ASSERT(s->count > 0);
    s->count--;
    s->len = s->start[s->count];
    s->slots = s->indexed = 0; // the index may name the popped stack: rebuilt when next asked
}

void kite__stacks_free(kite__stacks *s) {
    free(s->data);
    free(s->start);
    free(s->size);
    free(s->index);
    *s = (kite__stacks){0};
}

// Sets up to this many stacks are searched linearly.
#define STACKS_LINEAR 16

static uint32_t stack_hash(const uint32_t *e, uint32_t n) {
    uint32_t h = 2166136261u ^ n;
    for (uint32_t i = 0; i < n; i++) h = (h ^ e[i]) * 16777619u;
    return h ^ (h >> 15);
}

static bool stack_equal(const kite__stacks *s, size_t i, const uint32_t *e, uint32_t n) {
    return s->size[i] == n && (n == 0 || memcmp(s->data + s->start[i], e, n * sizeof *e) == 0);
}

// Brings the index up to every stack of s, at most half full; false when out of memory (the
// caller then searches linearly).
static bool stacks_index(kite__stacks *s) {
    size_t want = s->slots ? s->slots : 64;
    while (want < 2 * s->count) want *= 2;
    if (want != s->slots) { // (re)build from scratch at the new size
        if (want > s->cap_slots) {
            uint32_t *ix = realloc(s->index, want * sizeof *ix);
            if (!ix) return false;
            s->index = ix;
            s->cap_slots = want;
        }
        memset(s->index, 0, want * sizeof *s->index);
        s->slots = want;
        s->indexed = 0;
    }
    for (; s->indexed < s->count; s->indexed++) {
        const size_t i = s->indexed;
        size_t slot = stack_hash(s->data + s->start[i], s->size[i]) & (s->slots - 1);
        while (s->index[slot]) slot = (slot + 1) & (s->slots - 1);
        s->index[slot] = (uint32_t)i + 1;
    }
    return true;
}

bool kite__stacks_find(kite__stacks *s, const uint32_t *e, uint32_t n) {
    if (s->count > STACKS_LINEAR && stacks_index(s)) {
        for (size_t slot = stack_hash(e, n) & (s->slots - 1); s->index[slot]; slot = (slot + 1) & (s->slots - 1))
            if (stack_equal(s, s->index[slot] - 1, e, n)) return true;
        return false;
    }
    for (size_t i = 0; i < s->count; i++)
        if (stack_equal(s, i, e, n)) return true;
    return false;
}

kite_status kite__stacks_push(kite__stacks *s, const uint32_t *e, uint32_t n) {
    if (s->count == s->cap_count) {
        if (s->count >= KITE__GRAMMAR_MAX_STACKS)
            return kite__fail(KITE_ERR_INVALID, "grammar: more than %d parse stacks (the grammar is too ambiguous)",
                              KITE__GRAMMAR_MAX_STACKS);
        size_t cap = s->cap_count ? 2 * s->cap_count : 16;
        uint32_t *st = realloc(s->start, cap * sizeof *st);
        if (!st) return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
        s->start = st;
        uint32_t *sz = realloc(s->size, cap * sizeof *sz);
        if (!sz) return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
        s->size = sz;
        s->cap_count = cap;
    }
    if (s->len + n > s->cap || !s->data) { // data is never NULL once a stack is in (empty ones too)
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->len + n) cap *= 2;
        uint32_t *d = realloc(s->data, cap * sizeof *d);
        if (!d) return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
        s->data = d;
        s->cap = cap;
    }
    if (n) memcpy(s->data + s->len, e, n * sizeof *e);
    s->start[s->count] = (uint32_t)s->len;
    s->size[s->count] = n;
    s->len += n;
    s->count++;
    return KITE_OK;
}

// ---- matching chars -----------------------------------------------------------------------

static bool is_end_of_seq(const kite__gelem *e) { return e->type == KITE__G_END || e->type == KITE__G_ALT; }

uint32_t kite__grammar_match_char(const kite_grammar *g, uint32_t pos, uint32_t c, bool *ok) {
    const kite__gelem *e = g->elems;
    bool positive = e[pos].type == KITE__G_CHAR || e[pos].type == KITE__G_CHAR_ANY;
    bool found = false;
    do {
        if (e[pos + 1].type == KITE__G_CHAR_RNG_UPPER) {
            found = found || (e[pos].value <= c && c <= e[pos + 1].value);
            pos += 2;
        } else if (e[pos].type == KITE__G_CHAR_ANY) {
            found = true;
            pos += 1;
        } else {
            found = found || e[pos].value == c;
            pos += 1;
        }
    } while (e[pos].type == KITE__G_CHAR_ALT);
    *ok = found == positive;
    return pos;
}

// The Unicode scalar values that the bits `value` of a len-byte sequence, n_remain continuation
// bytes still due, can complete to: [*low, *high] (one range: a prefix can only reach the
// surrogates at the end of its range, ED's). False when there are none (ill-formed bytes).
static bool completions(uint32_t value, int n_remain, int len, uint32_t *low, uint32_t *high) {
    static const uint32_t min_of[5] = {0, 0, 0x80, 0x800, 0x10000}, max_of[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    uint32_t lo = value << (n_remain * 6), hi = lo | ((1u << (n_remain * 6)) - 1);
    if (lo < min_of[len]) lo = min_of[len]; // shorter forms of these are overlong
    if (hi > max_of[len]) hi = max_of[len];
    if (hi >= 0xD800 && hi <= 0xDFFF) hi = 0xD7FF; // past the surrogates' start: they are not chars
    if (lo >= 0xD800 && lo <= 0xDFFF) lo = 0xE000;
    *low = lo;
    *high = hi;
    return lo <= hi;
}

bool kite__grammar_match_partial(const kite_grammar *g, uint32_t pos, kite__partial_utf8 pu) {
    const kite__gelem *e = g->elems;
    bool positive = e[pos].type == KITE__G_CHAR || e[pos].type == KITE__G_CHAR_ANY;
    // the code points this partial sequence can still complete to
    uint32_t low, high;
    if (pu.n_remain <= 0 || !completions(pu.value, pu.n_remain, pu.len, &low, &high)) return false;
    do {
        if (e[pos + 1].type == KITE__G_CHAR_RNG_UPPER) {
            if (e[pos].value <= high && low <= e[pos + 1].value) return positive;
            pos += 2;
        } else if (e[pos].type == KITE__G_CHAR_ANY) {
            return true;
        } else {
            if (low <= e[pos].value && e[pos].value <= high) return positive;
            pos += 1;
        }
    } while (e[pos].type == KITE__G_CHAR_ALT);
    return !positive;
}

// ---- advancing stacks ---------------------------------------------------------------------

kite_status kite__grammar_advance(const kite_grammar *g, const uint32_t *stack, uint32_t n, kite__stacks *out,
                                  kite__stacks *todo, kite__stacks *seen) {
    kite__stacks_clear(todo);
    kite__stacks_clear(seen);
    KITE_TRY(kite__stacks_push(todo, stack, n));
    uint32_t *cur = NULL;
    size_t cur_cap = 0;
    kite_status st = KITE_OK;
    while (todo->count > 0 && st == KITE_OK) {
        // pop the last stack into cur (room for one more element)
        size_t i = todo->count - 1;
        uint32_t m = todo->size[i];
        if (m + 2 > cur_cap) {
            size_t cap = 2 * (m + 2);
            uint32_t *c = realloc(cur, cap * sizeof *c);
            if (!c) {
                st = kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
                break;
            }
            cur = c;
            cur_cap = cap;
        }
        memcpy(cur, todo->data + todo->start[i], m * sizeof *cur);
        kite__stacks_pop(todo);
        if (kite__stacks_find(seen, cur, m)) continue;
        if ((st = kite__stacks_push(seen, cur, m)) != KITE_OK) break;
        if (m == 0) {
            if (!kite__stacks_find(out, cur, 0)) st = kite__stacks_push(out, cur, 0);
            continue;
        }
        uint32_t pos = cur[m - 1];
        const kite__gelem *e = g->elems + pos;
        if (e->type == KITE__G_RULE_REF) {
            uint32_t sub = g->rule_start[e->value];
            for (;;) {
                // the stack without its top, then what follows the reference, then the alternate
                uint32_t k = m - 1;
                uint32_t top = cur[m - 1];
                if (!is_end_of_seq(&g->elems[pos + 1])) cur[k++] = pos + 1;
                if (!is_end_of_seq(&g->elems[sub])) cur[k++] = sub;
                st = kite__stacks_push(todo, cur, k);
                cur[m - 1] = top;
                if (st != KITE_OK) break;
                while (!is_end_of_seq(&g->elems[sub])) sub++;
                if (g->elems[sub].type == KITE__G_ALT) sub++;
                else break;
            }
        } else if (e->type == KITE__G_CHAR || e->type == KITE__G_CHAR_NOT || e->type == KITE__G_CHAR_ANY ||
                   kite__grammar_is_token(e)) {
            if (!kite__stacks_find(out, cur, m)) st = kite__stacks_push(out, cur, m);
        } else {
            KITE_ASSERT(!"grammar stack left on a non-terminal element");
        }
    }
    free(cur);
    return st;
}

// ---- states -------------------------------------------------------------------------------

kite_status kite_grammar_state_new(const kite_grammar *g, kite_grammar_state **out) {
    if (!g || !out) return kite__fail(KITE_ERR_INVALID, "grammar: NULL argument");
    kite_grammar_state *st = calloc(1, sizeof *st);
    if (!st) return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
    st->g = g;
    // the root's alternates, each a stack to advance to its first terminals
    kite_status s = KITE_OK;
    uint32_t pos = g->rule_start[g->root];
    for (;;) {
        uint32_t n = is_end_of_seq(&g->elems[pos]) ? 0 : 1;
        s = kite__grammar_advance(g, &pos, n, &st->stacks, &st->todo, &st->seen);
        if (s != KITE_OK) break;
        while (!is_end_of_seq(&g->elems[pos])) pos++;
        if (g->elems[pos].type == KITE__G_ALT) pos++;
        else break;
    }
    if (s != KITE_OK) {
        kite_grammar_state_free(st);
        return s;
    }
    *out = st;
    return KITE_OK;
}

void kite_grammar_state_free(kite_grammar_state *st) {
    if (!st) return;
    kite__stacks_free(&st->stacks);
    kite__stacks_free(&st->next);
    kite__stacks_free(&st->todo);
    kite__stacks_free(&st->seen);
    free(st->cps);
    for (size_t i = 0; i < st->n_triggers; i++) free(st->triggers[i]);
    free(st->triggers);
    free(st->tail);
    free(st);
}

kite_status kite__grammar_accept_cp_set(const kite_grammar *g, const kite__stacks *in, uint32_t c, kite__stacks *out,
                                       kite__stacks *todo, kite__stacks *seen) {
    uint32_t *tmp = NULL;
    size_t tmp_cap = 0;
    kite_status s = KITE_OK;
    for (size_t i = 0; i < in->count && s == KITE_OK; i++) {
        uint32_t n = in->size[i];
        if (n == 0) continue;
        const uint32_t *stk = in->data + in->start[i];
        if (kite__grammar_is_token(&g->elems[stk[n - 1]])) continue; // a char never matches a token position
        bool ok;
        uint32_t after = kite__grammar_match_char(g, stk[n - 1], c, &ok);
        if (!ok) continue;
        if (n > tmp_cap) {
            uint32_t *t = realloc(tmp, 2 * n * sizeof *t);
            if (!t) {
                s = kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
                break;
            }
            tmp = t;
            tmp_cap = 2 * n;
        }
        memcpy(tmp, stk, (n - 1) * sizeof *tmp);
        uint32_t k = n - 1;
        if (!is_end_of_seq(&g->elems[after])) tmp[k++] = after;
        s = kite__grammar_advance(g, tmp, k, out, todo, seen);
    }
    free(tmp);
    return s;
}

kite_status kite__grammar_accept_cp(kite_grammar_state *st, uint32_t c) {
    kite__stacks_clear(&st->next);
    kite_status s = kite__grammar_accept_cp_set(st->g, &st->stacks, c, &st->next, &st->todo, &st->seen);
    kite__stacks t = st->stacks;
    st->stacks = st->next;
    st->next = t;
    if (s != KITE_OK) kite__stacks_clear(&st->stacks);
    return s;
}

size_t kite__grammar_utf8_decode(const uint8_t *b, size_t n, kite__partial_utf8 *pu, uint32_t *out) {
    static const int8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 3, 4};
    static const kite__partial_utf8 invalid = {0, -1, 0};
    size_t k = 0, i = 0;
    uint32_t value = pu->value, low, high;
    int n_remain = pu->n_remain, len = pu->len;
    if (n_remain < 0) return 0; // already invalid
    while (i < n) {
        if (n_remain == 0) { // a lead byte
            len = lookup[b[i] >> 4];
            if (len == 0) break; // a continuation byte with no lead
            n_remain = len - 1;
            value = b[i] & ((1u << (7 - n_remain)) - 1);
        } else if ((b[i] >> 6) == 2) {
            value = (value << 6) + (b[i] & 0x3F);
            n_remain--;
        } else {
            break; // the sequence is cut off
        }
        i++;
        // every byte must leave a prefix of some well-formed sequence
        if (len > 1 && !completions(value, n_remain, len, &low, &high)) break;
        if (n_remain == 0) out[k++] = value;
    }
    if (i < n) {
        *pu = invalid;
        return 0;
    }
    *pu = (kite__partial_utf8){value, n_remain, n_remain > 0 ? len : 0};
    return k;
}

bool kite_grammar_state_accept(kite_grammar_state *st, const char *text, size_t len) {
    if (!st || st->dead) return false;
    if (st->waiting) return kite__grammar_lazy_accept(st, text, len);
    if (len == 0) return true;
    if (len > st->cap_cps) {
        uint32_t *c = realloc(st->cps, len * sizeof *c);
        if (!c) {
            kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
            st->dead = true;
            return false;
        }
        st->cps = c;
        st->cap_cps = len;
    }
    kite__partial_utf8 pu = st->partial;
    size_t n = kite__grammar_utf8_decode((const uint8_t *)text, len, &pu, st->cps);
    if (pu.n_remain < 0) {
        kite__fail(KITE_ERR_INVALID, "grammar: the text is not valid UTF-8");
        st->dead = true;
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        // a failed step keeps its own reason (out of memory, too many parses)
        const kite_status s = kite__grammar_accept_cp(st, st->cps[i]);
        if (s != KITE_OK || st->stacks.count == 0) {
            if (s == KITE_OK) kite__fail(KITE_ERR_INVALID, "grammar: the text does not match");
            st->dead = true;
            return false;
        }
    }
    st->partial = pu;
    if (pu.n_remain > 0) { // some stack must be able to take the chars this one completes to
        bool any = false;
        for (size_t i = 0; i < st->stacks.count && !any; i++) {
            uint32_t m = st->stacks.size[i];
            uint32_t top = m ? st->stacks.data[st->stacks.start[i] + m - 1] : 0;
            if (m && !kite__grammar_is_token(&st->g->elems[top])) any = kite__grammar_match_partial(st->g, top, pu);
        }
        if (!any) {
            kite__fail(KITE_ERR_INVALID, "grammar: the text does not match");
            st->dead = true;
            return false;
        }
    }
    return true;
}

bool kite_grammar_state_can_end(const kite_grammar_state *st) {
    if (st && st->waiting) return true;
    if (!st || st->dead || st->partial.n_remain != 0) return false;
    for (size_t i = 0; i < st->stacks.count; i++)
        if (st->stacks.size[i] == 0) return true;
    return false;
}

bool kite_grammar_state_must_end(const kite_grammar_state *st) {
    if (!st || st->dead || st->waiting) return false;
    for (size_t i = 0; i < st->stacks.count; i++)
        if (st->stacks.size[i] != 0) return false;
    return st->stacks.count > 0;
}
