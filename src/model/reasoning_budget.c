// reasoning_budget.c - llama.cpp's reasoning-budget sampler (common/reasoning-budget.cpp) in
// its single-tag form: idle until the start tag's tokens, then counting the block's tokens until
// the end tag's tokens (done) or the budget (forcing the message and end tag token by token,
// after any unfinished UTF-8 character), done until a new start tag re-arms it.
#include "base/internal.h"
#include "model/reasoning_budget.h"

// One token sequence found in a token stream (a KMP automaton; after a match it starts over,
// as llama.cpp's matcher does). An empty sequence never matches.
typedef struct seq_match {
    int32_t *seq, *fail, n, at;
} seq_match;

static kite_status seq_init(seq_match *m, const kite_vocab *v, const char *text) {
    KITE_TRY(kite_tokenize_alloc(v, text, strlen(text), false, true, &m->seq, &m->n));
    if (m->n == 0) return KITE_OK;
    if (!(m->fail = calloc((size_t)m->n, sizeof *m->fail))) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    for (int32_t i = 1, k = 0; i < m->n; i++) {
        while (k > 0 && m->seq[i] != m->seq[k]) k = m->fail[k - 1];
        if (m->seq[i] == m->seq[k]) k++;
        m->fail[i] = k;
    }
    return KITE_OK;
}

// Advances past tok; true when the sequence ends at it.
static bool seq_advance(seq_match *m, int32_t tok) {
    if (m->n == 0) return false;
    while (m->at > 0 && m->seq[m->at] != tok) m->at = m->fail[m->at - 1];
    if (m->seq[m->at] == tok) m->at++;
    if (m->at < m->n) return false;
    m->at = 0;
    return true;
}

typedef enum rb_state { RB_IDLE, RB_COUNTING, RB_WAITING_UTF8, RB_FORCING, RB_DONE } rb_state;

struct kite_rbudget {
    const kite_vocab *vocab;
    seq_match start, end;
    int32_t *forced, n_forced, pos; // the message's tokens then the end tag's; the next to force
    int32_t budget, remaining;
    rb_state state;
};

void kite__rbudget_free(kite_rbudget *b) {
    if (!b) return;
    free(b->start.seq), free(b->start.fail), free(b->end.seq), free(b->end.fail), free(b->forced);
    free(b);
}

// Whether a token's text ends on a whole UTF-8 character (llama.cpp's common_utf8_is_complete).
static bool utf8_complete(const kite_vocab *v, int32_t tok) {
    char buf[256];
    int32_t n = kite_token_to_piece(v, tok, buf, sizeof buf, false);
    if (n <= 0) return true; // empty, or too long to matter: a long piece is taken as whole
    for (int32_t i = 1; i <= n && i <= 4; i++) {
        const unsigned char c = (unsigned char)buf[n - i];
        if ((c & 0xC0) != 0x80) return i >= (c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1);
    }
    return false;
}

static void start_block(kite_rbudget *b) {
    b->remaining = b->budget;
    b->state = b->remaining <= 0 ? RB_FORCING : RB_COUNTING;
    b->pos = 0;
    b->end.at = 0;
}

void kite__rbudget_accept(kite_rbudget *b, int32_t tok) {
    switch (b->state) {
    case RB_IDLE:
    case RB_DONE:
        if (seq_advance(&b->start, tok)) start_block(b);
        break;
    case RB_COUNTING:
    case RB_WAITING_UTF8: {
        if (seq_advance(&b->end, tok)) {
            b->state = RB_DONE;
            break;
        }
        const bool whole = utf8_complete(b->vocab, tok);
        if (b->state == RB_COUNTING && --b->remaining > 0) break;
        if (whole) { // spent, on a whole character: force the end
            b->state = RB_FORCING;
            b->pos = 0;
            b->end.at = 0;
        } else if (b->state == RB_COUNTING) { // spent inside a character: let it finish first
            b->state = RB_WAITING_UTF8;
            b->end.at = 0;
        }
        break;
    }
    case RB_FORCING:
        seq_advance(&b->end, tok);
        if (++b->pos >= b->n_forced) b->state = RB_DONE;
        break;
    }
}

bool kite__rbudget_in_block(const kite_rbudget *b) {
    return b->state == RB_COUNTING || b->state == RB_WAITING_UTF8 || b->state == RB_FORCING;
}

int32_t kite__rbudget_forced(const kite_rbudget *b) {
    return b->state == RB_FORCING && b->pos < b->n_forced ? b->forced[b->pos] : -1;
}

kite_status kite__rbudget_new(const kite_vocab *v, const kite_gen_params *p, kite_rbudget **out) {
    *out = NULL;
    if (!p->reasoning_start || !p->reasoning_end) return KITE_OK;
    if (p->reasoning_budget < -1)
        return kite__fail(KITE_ERR_INVALID, "reasoning budget %d is below -1 (-1: no limit)", p->reasoning_budget);
    kite_rbudget *b = calloc(1, sizeof *b);
    if (!b) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    b->vocab = v;
    b->budget = b->remaining = p->reasoning_budget < 0 ? INT32_MAX : p->reasoning_budget; // as llama.cpp's INT_MAX
    int32_t *msg = NULL, n_msg = 0, *pre = NULL, n_pre = 0;
    kite_status s = seq_init(&b->start, v, p->reasoning_start);
    if (s == KITE_OK) s = seq_init(&b->end, v, p->reasoning_end);
    if (s == KITE_OK && p->reasoning_message)
        s = kite_tokenize_alloc(v, p->reasoning_message, strlen(p->reasoning_message), false, true, &msg, &n_msg);
    if (s == KITE_OK && p->reasoning_prefill)
        s = kite_tokenize_alloc(v, p->reasoning_prefill, strlen(p->reasoning_prefill), false, true, &pre, &n_pre);
    if (s == KITE_OK) {
        b->n_forced = n_msg + b->end.n;
        b->forced = malloc(((size_t)b->n_forced + 1) * sizeof *b->forced);
        if (!b->forced) s = kite__fail(KITE_ERR_NOMEM, "out of memory");
    }
    if (s == KITE_OK) {
        if (n_msg) memcpy(b->forced, msg, (size_t)n_msg * sizeof *msg);
        if (b->end.n) memcpy(b->forced + n_msg, b->end.seq, (size_t)b->end.n * sizeof *msg);
        for (int32_t i = 0; i < n_pre; i++) kite__rbudget_accept(b, pre[i]);
    }
    free(msg);
    free(pre);
    if (s != KITE_OK) {
        kite__rbudget_free(b);
        return s;
    }
    *out = b;
    return KITE_OK;
}
