// chat_qwen35.c - Qwen3.5's chat template (Qwen/Qwen3.5-4B's, as llama.cpp keeps it in
// models/templates/Qwen3.5-4B.jinja), rendered as its Jinja does for conversations without tools:
// ChatML turns whose text is trimmed, assistant turns after the last real user query with their
// reasoning (reasoning_content, else the text before "</think>") in a <think> block, earlier ones
// without it, and a reply that opens "<think>\n" (an empty closed block with reasoning off).
// Detected as ChatML, which it is not: llama.cpp's Jinja rendering (llama-server --jinja) is the
// reference. Its tool calls (<function=...> XML) are not rendered here (callers use the generic
// JSON format for them).
#include "base/internal.h"
#include "chat/chat_internal.h"

static bool has(const char *s, const char *marker) { return strstr(s, marker) != NULL; }

bool kite__chat_is_qwen35(const char *t) {
    return t && has(t, "<|im_start|>") && has(t, "render_content(message.content, true)|trim") &&
           has(t, "ns.last_query_index") && has(t, "reasoning_content|trim") && has(t, "<function=");
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// s[0..*n) with Jinja's trim: whitespace off both ends.
static const char *trim(const char *s, size_t *n) {
    while (*n > 0 && is_space(*s)) s++, (*n)--;
    while (*n > 0 && is_space(s[*n - 1])) (*n)--;
    return s;
}

static bool starts(const char *s, size_t n, const char *p) { return n >= strlen(p) && !memcmp(s, p, strlen(p)); }

static bool ends(const char *s, size_t n, const char *p) {
    const size_t k = strlen(p);
    return n >= k && !memcmp(s + n - k, p, k);
}

// The first / last occurrence of needle in s[0..n), or NULL.
static const char *find_in(const char *s, size_t n, const char *needle, bool last) {
    const size_t k = strlen(needle);
    const char *found = NULL;
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(s + i, needle, k)) {
            found = s + i;
            if (!last) break;
        }
    return found;
}

static bool is(const kite_chat_msg *m, const char *role) { return !strcmp(m->role, role); }

const char *kite__chat_qwen35_render(kite_buf *b, const kite_chat_msg *m, size_t n, unsigned flags) {
    if (n == 0) return "No messages provided.";
    if (is(&m[0], "system")) {
        size_t len = strlen(m[0].content);
        const char *c = trim(m[0].content, &len);
        kite_buf_puts(b, "<|im_start|>system\n");
        kite_buf_append(b, c, len);
        kite_buf_puts(b, "<|im_end|>\n");
    }
    // the last user message that is not a wrapped tool response
    size_t last_query = n;
    for (size_t k = n; k-- > 0 && last_query == n;) {
        size_t len = strlen(m[k].content);
        const char *c = trim(m[k].content, &len);
        if (is(&m[k], "user") && !(starts(c, len, "<tool_response>") && ends(c, len, "</tool_response>")))
            last_query = k;
    }
    if (last_query == n) return "No user query found in messages.";
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(m[i].content);
        const char *content = trim(m[i].content, &len);
        if (is(&m[i], "system")) {
            if (i > 0) return "System message must be at the beginning.";
        } else if (is(&m[i], "user")) {
            kite_buf_puts(b, "<|im_start|>user\n");
            kite_buf_append(b, content, len);
            kite_buf_puts(b, "<|im_end|>\n");
        } else if (is(&m[i], "assistant")) {
            // the reasoning: the text before the first "</think>" (newlines off its end), after the
            // last "<think>" in it (newlines off its start), trimmed; the content after the last
            // "</think>", newlines off its start
            const char *r = "";
            size_t rlen = 0;
            const char *close = find_in(content, len, "</think>", false);
            if (close) {
                size_t end = (size_t)(close - content);
                while (end > 0 && content[end - 1] == '\n') end--;
                const char *open = find_in(content, end, "<think>", true);
                r = open ? open + 7 : content;
                rlen = end - (size_t)(r - content);
                while (rlen > 0 && *r == '\n') r++, rlen--;
                r = trim(r, &rlen);
                const char *after = find_in(content, len, "</think>", true) + 8;
                len -= (size_t)(after - content);
                content = after;
                while (len > 0 && *content == '\n') content++, len--;
            }
            kite_buf_puts(b, "<|im_start|>assistant\n");
            if (i > last_query) {
                kite_buf_puts(b, "<think>\n");
                kite_buf_append(b, r, rlen);
                kite_buf_puts(b, "\n</think>\n\n");
            }
            kite_buf_append(b, content, len);
            kite_buf_puts(b, "<|im_end|>\n");
        } else if (is(&m[i], "tool")) {
            if (i > 0 && !is(&m[i - 1], "tool")) kite_buf_puts(b, "<|im_start|>user");
            kite_buf_puts(b, "\n<tool_response>\n");
            kite_buf_append(b, content, len);
            kite_buf_puts(b, "\n</tool_response>");
            if (i + 1 == n || !is(&m[i + 1], "tool")) kite_buf_puts(b, "<|im_end|>\n");
        } else {
            return "Unexpected message role.";
        }
    }
    if (flags & KITE_CHAT_ADD_ASSISTANT)
        kite_buf_puts(b, flags & KITE_CHAT_NO_THINKING ? "<|im_start|>assistant\n<think>\n\n</think>\n\n"
                                                       : "<|im_start|>assistant\n<think>\n");
    return NULL;
}
