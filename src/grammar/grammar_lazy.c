// grammar_lazy.c - lazy grammars: a state that lets text through unconstrained until a trigger
// word appears, then matches the text from that word on (llama.cpp's trigger words; a tool call
// opened by "<tool_call>" amid free text is the use).
#include "base/internal.h"
#include "grammar/grammar_match.h"

kite_status kite_grammar_state_set_triggers(kite_grammar_state *st, const char *const *words, size_t n) {
    if (!st || !words || n == 0) return kite__fail(KITE_ERR_INVALID, "grammar: no trigger words");
    for (size_t i = 0; i < n; i++)
        if (!words[i] || !words[i][0]) return kite__fail(KITE_ERR_INVALID, "grammar: trigger word %zu is empty", i);
    char **t = calloc(n, sizeof *t);
    if (!t) return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
    size_t longest = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(words[i]);
        if (!(t[i] = malloc(len + 1))) {
            for (size_t k = 0; k < i; k++) free(t[k]);
            free(t);
            return kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
        }
        memcpy(t[i], words[i], len + 1);
        if (len > longest) longest = len;
    }
    for (size_t i = 0; i < st->n_triggers; i++) free(st->triggers[i]);
    free(st->triggers);
    st->triggers = t;
    st->n_triggers = n;
    st->max_trigger = longest;
    st->waiting = true;
    st->n_tail = 0;
    return KITE_OK;
}

bool kite_grammar_state_waiting(const kite_grammar_state *st) { return st && st->waiting; }

// The offset of the earliest trigger in s[0..n), or n when there is none.
static size_t first_trigger(const kite_grammar_state *st, const char *s, size_t n) {
    size_t best = n;
    for (size_t i = 0; i < st->n_triggers; i++) {
        const size_t len = strlen(st->triggers[i]);
        for (size_t at = 0; at + len <= n && at < best; at++)
            if (memcmp(s + at, st->triggers[i], len) == 0) best = at;
    }
    return best;
}

bool kite__grammar_lazy_accept(kite_grammar_state *st, const char *text, size_t len) {
    // the text seen is the tail kept so far (shorter than the longest trigger) and this piece
    const size_t n = st->n_tail + len;
    char *buf = realloc(st->tail, n ? n : 1);
    if (!buf) {
        kite__fail(KITE_ERR_NOMEM, "grammar: out of memory");
        st->dead = true;
        return false;
    }
    st->tail = buf;
    if (len) memcpy(buf + st->n_tail, text, len);
    const size_t at = first_trigger(st, buf, n);
    if (at == n) { // no trigger yet: keep only what could still begin one
        const size_t keep = n < st->max_trigger ? n : st->max_trigger - 1;
        memmove(buf, buf + n - keep, keep);
        st->n_tail = keep;
        return true;
    }
    st->waiting = false;
    st->n_tail = 0;
    return kite_grammar_state_accept(st, buf + at, n - at);
}
