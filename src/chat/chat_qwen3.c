// chat_qwen3.c - Qwen3's own chat template (the Jinja source of Qwen/Qwen3-0.6B ... 32B and
// Qwen3-30B-A3B, as llama.cpp keeps it in models/templates/Qwen-Qwen3-0.6B.jinja), rendered as
// llama.cpp's Jinja engine does (llama-server --jinja), tools aside: ChatML turns, and assistant
// turns whose <think>...</think> reasoning is dropped before the last user query and written as
// a block after it. llama.cpp's non-Jinja path treats this source as plain ChatML; the Jinja
// rendering is what llama-server and the model's training use, so Kite follows it.
#include "base/internal.h"
#include "chat/chat_internal.h"

static bool has(const char *s, const char *marker) { return strstr(s, marker) != NULL; }

bool kite__chat_is_qwen3(const char *src) {
    // markers of the reasoning logic (Qwen3.5's template trims differently and is not this one)
    return src && has(src, "<|im_start|>") && has(src, "ns.last_query_index") &&
           has(src, "message.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n')") &&
           has(src, "reasoning_content.strip('\\n')");
}

// A byte range of a message's content.
typedef struct span {
    const char *p;
    size_t n;
} span;

static bool starts(span s, const char *t) {
    size_t k = strlen(t);
    return s.n >= k && !memcmp(s.p, t, k);
}

static bool ends(span s, const char *t) {
    size_t k = strlen(t);
    return s.n >= k && !memcmp(s.p + s.n - k, t, k);
}

// Python's str.lstrip('\n') / rstrip('\n').
static span lstrip_nl(span s) {
    while (s.n && s.p[0] == '\n') s.p++, s.n--;
    return s;
}

static span rstrip_nl(span s) {
    while (s.n && s.p[s.n - 1] == '\n') s.n--;
    return s;
}

// The first (last = false) or last occurrence of t in s, or NULL.
static const char *find(span s, const char *t, bool last) {
    const size_t k = strlen(t);
    const char *hit = NULL;
    for (size_t i = 0; i + k <= s.n; i++) {
        if (memcmp(s.p + i, t, k)) continue;
        hit = s.p + i;
        if (!last) break;
    }
    return hit;
}

static void put(kite_buf *b, span s) { kite_buf_append(b, s.p, s.n); }

static bool is(const kite_chat_msg *m, const char *role) { return strcmp(m->role, role) == 0; }

// A user message that is a tool's answer wrapped by the client, which the template does not
// count as a query.
static bool is_tool_response(const kite_chat_msg *m) {
    span c = {m->content, strlen(m->content)};
    return starts(c, "<tool_response>") && ends(c, "</tool_response>");
}

// Splits an assistant message as the template does: the answer is
// content.split('</think>')[-1].lstrip('\n'), the reasoning
// content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n'); without a
// "</think>" the answer is the whole content and the reasoning empty.
static void split_reply(const char *text, span *answer, span *reasoning) {
    span content = {text, strlen(text)};
    *answer = content;
    *reasoning = (span){"", 0};
    const char *close_last = find(content, "</think>", true);
    if (!close_last) return;
    const char *close_first = find(content, "</think>", false);
    span before = rstrip_nl((span){content.p, (size_t)(close_first - content.p)});
    const char *open = find(before, "<think>", true);
    if (open) before = (span){open + 7, (size_t)(before.p + before.n - (open + 7))};
    *reasoning = lstrip_nl(before);
    const char *after = close_last + 8;
    *answer = lstrip_nl((span){after, (size_t)(content.p + content.n - after)});
}

void kite__chat_format_qwen3(const kite_chat_msg *m, size_t n, bool add, bool no_think, kite_buf *b) {
    if (n > 0 && is(&m[0], "system")) {
        kite_buf_puts(b, "<|im_start|>system\n");
        kite_buf_puts(b, m[0].content);
        kite_buf_puts(b, "<|im_end|>\n");
    }
    // the last user message that is a real query; the last message when there is none
    size_t last_query = n ? n - 1 : 0;
    for (size_t i = n; i-- > 0;) {
        if (is(&m[i], "user") && !is_tool_response(&m[i])) {
            last_query = i;
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "user") || (is(&m[i], "system") && i > 0)) {
            kite_buf_puts(b, "<|im_start|>");
            kite_buf_puts(b, m[i].role);
            kite_buf_puts(b, "\n");
            kite_buf_puts(b, m[i].content);
            kite_buf_puts(b, "<|im_end|>\n");
        } else if (is(&m[i], "assistant")) {
            span answer, reasoning;
            split_reply(m[i].content, &answer, &reasoning);
            kite_buf_puts(b, "<|im_start|>assistant\n");
            // after the last query: the reasoning as a block (an empty one for the last turn)
            if (i > last_query && (i + 1 == n || reasoning.n > 0)) {
                kite_buf_puts(b, "<think>\n");
                put(b, rstrip_nl(lstrip_nl(reasoning)));
                kite_buf_puts(b, "\n</think>\n\n");
                put(b, lstrip_nl(answer));
            } else {
                put(b, answer);
            }
            kite_buf_puts(b, "<|im_end|>\n");
        } else if (is(&m[i], "tool")) {
            // consecutive tool answers share one user turn
            if (i == 0 || !is(&m[i - 1], "tool")) kite_buf_puts(b, "<|im_start|>user");
            kite_buf_puts(b, "\n<tool_response>\n");
            kite_buf_puts(b, m[i].content);
            kite_buf_puts(b, "\n</tool_response>");
            if (i + 1 == n || !is(&m[i + 1], "tool")) kite_buf_puts(b, "<|im_end|>\n");
        }
        // other roles: the template writes nothing
    }
    if (add) {
        kite_buf_puts(b, "<|im_start|>assistant\n");
        if (no_think) kite_buf_puts(b, "<think>\n\n</think>\n\n");
    }
}
