// chat_tools.c - conversations with tools in the Hermes-style templates of Qwen2.5 and Qwen3:
// the tools' JSON inside <tools></tools> in the system turn, an assistant's calls as
// <tool_call>{"name", "arguments"}</tool_call>, tool results as <tool_response> blocks in a user
// turn. Each function follows its template's Jinja source statement by statement.
#include "base/internal.h"
#include "chat/chat_internal.h"

static bool has(const char *s, const char *marker) { return strstr(s, marker) != NULL; }

kite_chat_tools kite_chat_tools_of(const char *t) {
    if (!t || !has(t, "<tool_call>") || !has(t, "<tools>")) return KITE_CHAT_TOOLS_NONE;
    if (kite__chat_is_qwen35(t)) return KITE_CHAT_TOOLS_QWEN35;
    if (kite__chat_is_qwq(t)) return KITE_CHAT_TOOLS_QWQ;
    if (has(t, "multi_step_tool") && has(t, "<|im_start|>")) return KITE_CHAT_TOOLS_QWEN3;
    if (has(t, "You are Qwen, created by Alibaba Cloud.") && has(t, "<|im_start|>")) return KITE_CHAT_TOOLS_QWEN25;
    return KITE_CHAT_TOOLS_NONE;
}

static const char TOOLS_HEAD[] = "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                                 "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
static const char TOOLS_TAIL[] =
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\n</tool_call><|im_end|>\n";
static const char QWEN_SYSTEM[] = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

static bool is(const kite_chat_turn *m, const char *role) { return strcmp(m->role, role) == 0; }

static void put_n(kite_buf *b, const char *s, size_t n) { kite_buf_append(b, s, n); }

// One whole turn: <|im_start|>role, a newline, content, <|im_end|>.
static void put_turn(kite_buf *b, const char *role, const char *content) {
    kite_buf_puts(b, "<|im_start|>");
    kite_buf_puts(b, role);
    kite_buf_puts(b, "\n");
    kite_buf_puts(b, content);
    kite_buf_puts(b, "<|im_end|>\n");
}

// The tools' part of the system turn, to its end: TOOLS_HEAD, each tool on a line, TOOLS_TAIL.
static void put_tools(kite_buf *b, const char *const *tools, size_t n_tools) {
    kite_buf_puts(b, TOOLS_HEAD);
    for (size_t i = 0; i < n_tools; i++) {
        kite_buf_puts(b, "\n");
        kite_buf_puts(b, tools[i]);
    }
    kite_buf_puts(b, TOOLS_TAIL);
}

// The system turn with the tools (Qwen3: the system message's text, if any, then the tools;
// Qwen2.5: the system message's text or its default).
static void put_tools_system(kite_buf *b, const kite_chat_turn *m, size_t n, const char *const *tools, size_t n_tools,
                             bool qwen25) {
    kite_buf_puts(b, "<|im_start|>system\n");
    const bool sys = n > 0 && is(&m[0], "system");
    if (qwen25) {
        kite_buf_puts(b, sys ? m[0].content : QWEN_SYSTEM);
        kite_buf_puts(b, "\n\n");
    } else if (sys) {
        kite_buf_puts(b, m[0].content);
        kite_buf_puts(b, "\n\n");
    }
    put_tools(b, tools, n_tools);
}

static void put_call(kite_buf *b, const kite_chat_tool_call *c) {
    kite_buf_puts(b, "<tool_call>\n{\"name\": \"");
    kite_buf_puts(b, c->name);
    kite_buf_puts(b, "\", \"arguments\": ");
    kite_buf_puts(b, c->arguments);
    kite_buf_puts(b, "}\n</tool_call>");
}

// An assistant turn with calls, up to its <|im_end|>: content (the text shown, when the turn's
// own content is not empty) on a line after the role, then each call on a line.
static void put_calls_turn(kite_buf *b, const kite_chat_turn *t, const char *content) {
    kite_buf_puts(b, "<|im_start|>assistant");
    if (t->content[0]) {
        kite_buf_puts(b, "\n");
        kite_buf_puts(b, content);
    }
    for (size_t k = 0; k < t->n_calls; k++) {
        kite_buf_puts(b, "\n");
        put_call(b, &t->calls[k]);
    }
}

// A run of tool results: one user turn of <tool_response> blocks.
static void put_tool_result(kite_buf *b, const kite_chat_turn *m, size_t i, size_t n) {
    if (i == 0 || !is(&m[i - 1], "tool")) kite_buf_puts(b, "<|im_start|>user");
    kite_buf_puts(b, "\n<tool_response>\n");
    kite_buf_puts(b, m[i].content);
    kite_buf_puts(b, "\n</tool_response>");
    if (i + 1 == n || !is(&m[i + 1], "tool")) kite_buf_puts(b, "<|im_end|>\n");
}

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

// The last occurrence of needle in s (NULL if none).
static const char *last_of(const char *s, const char *needle) {
    const char *last = NULL;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) last = p;
    return last;
}

// Qwen3's assistant turn: its reasoning_content, else the reasoning split off "</think>" in the
// content; turns after the last real user query show their reasoning block (the last one always).
static void put_qwen3_assistant(kite_buf *b, const kite_chat_turn *m, size_t i, size_t n, size_t last_query) {
    const char *content = m[i].content;
    size_t clen = strlen(content);
    const char *reason = m[i].reasoning ? m[i].reasoning : "";
    size_t rlen = strlen(reason);
    const char *close = m[i].reasoning ? NULL : strstr(content, "</think>");
    if (close) {
        // content: after the last "</think>", leading newlines off
        const char *after = last_of(content, "</think>") + 8;
        while (*after == '\n') after++;
        // reasoning: before the first "</think>", trailing newlines off, after the last "<think>", leading off
        size_t end = (size_t)(close - content);
        while (end > 0 && content[end - 1] == '\n') end--;
        size_t start = 0;
        for (size_t k = 0; k + 7 <= end; k++)
            if (memcmp(content + k, "<think>", 7) == 0) start = k + 7;
        while (start < end && content[start] == '\n') start++;
        reason = content + start;
        rlen = end - start;
        content = after;
        clen = strlen(after);
    }
    const bool has_content = clen > 0; // the template tests the content before its newlines go
    kite_buf_puts(b, "<|im_start|>assistant\n");
    if (i > last_query && (i + 1 == n || rlen > 0)) {
        // reasoning.strip('\n') and content.lstrip('\n')
        while (rlen > 0 && *reason == '\n') reason++, rlen--;
        while (rlen > 0 && reason[rlen - 1] == '\n') rlen--;
        kite_buf_puts(b, "<think>\n");
        put_n(b, reason, rlen);
        kite_buf_puts(b, "\n</think>\n\n");
        while (clen > 0 && *content == '\n') content++, clen--;
    }
    put_n(b, content, clen);
    for (size_t k = 0; k < m[i].n_calls; k++) {
        if (k > 0 || has_content) kite_buf_puts(b, "\n");
        put_call(b, &m[i].calls[k]);
    }
    kite_buf_puts(b, "<|im_end|>\n");
}

void kite__chat_qwen3_render(kite_buf *b, const kite_chat_turn *m, size_t n, const char *const *tools, size_t n_tools,
                             unsigned flags) {
    if (n_tools > 0) put_tools_system(b, m, n, tools, n_tools, false);
    else if (n > 0 && is(&m[0], "system")) put_turn(b, "system", m[0].content);
    // the last user message that is not a wrapped tool response
    size_t last_query = n ? n - 1 : 0;
    for (size_t k = n; k-- > 0;) {
        if (is(&m[k], "user") && !(starts_with(m[k].content, "<tool_response>") &&
                                   kite__ends_with(m[k].content, "</tool_response>"))) {
            last_query = k;
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "user") || (is(&m[i], "system") && i > 0)) {
            put_turn(b, m[i].role, m[i].content);
        } else if (is(&m[i], "assistant")) {
            put_qwen3_assistant(b, m, i, n, last_query);
        } else if (is(&m[i], "tool")) {
            put_tool_result(b, m, i, n);
        }
    }
    if (flags & KITE_CHAT_ADD_ASSISTANT) {
        kite_buf_puts(b, "<|im_start|>assistant\n");
        if (flags & KITE_CHAT_NO_THINKING) kite_buf_puts(b, "<think>\n\n</think>\n\n");
    }
}

// QwQ's template (Qwen/QwQ-32B's, as llama.cpp keeps it in models/templates/Qwen-QwQ-32B.jinja):
// Hermes tools after the system text (its "\n\n" even without one), assistant turns but the last
// lose the reasoning before their last "</think>", the reply opens "<think>\n" (and closes it at
// once with reasoning off, for a source that knows enable_thinking).
bool kite__chat_is_qwq(const char *t) {
    return t && has(t, "<|im_start|>") && has(t, "{{- '<|im_start|>assistant\\n<think>\\n' }}") &&
           has(t, "message.content.split('</think>')[-1].lstrip('\\n')") && !has(t, "last_query_index");
}

static const char *after_last_close(const char *content) {
    const char *close = last_of(content, "</think>");
    if (!close) return content;
    close += 8;
    while (*close == '\n') close++;
    return close;
}

void kite__chat_qwq_render(kite_buf *b, const char *src, const kite_chat_turn *m, size_t n, const char *const *tools,
                           size_t n_tools, unsigned flags) {
    const bool sys = n > 0 && is(&m[0], "system");
    if (n_tools > 0) {
        kite_buf_puts(b, "<|im_start|>system\n");
        if (sys) kite_buf_puts(b, m[0].content);
        kite_buf_puts(b, "\n\n");
        put_tools(b, tools, n_tools);
    } else if (sys) {
        put_turn(b, "system", m[0].content);
    }
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "user") || (is(&m[i], "system") && i > 0)) {
            put_turn(b, m[i].role, m[i].content);
        } else if (is(&m[i], "assistant")) {
            const char *content = i + 1 == n ? m[i].content : after_last_close(m[i].content);
            if (m[i].n_calls == 0) {
                kite_buf_puts(b, "<|im_start|>assistant\n");
                kite_buf_puts(b, content);
            } else {
                put_calls_turn(b, &m[i], content); // the template tests the message's content, writes the cut one
            }
            kite_buf_puts(b, "<|im_end|>\n");
        } else if (is(&m[i], "tool")) {
            put_tool_result(b, m, i, n);
        }
    }
    if (flags & KITE_CHAT_ADD_ASSISTANT) {
        kite_buf_puts(b, "<|im_start|>assistant\n<think>\n");
        // {%- if not enable_thinking -%}{{- '</think>' -}}: llama.cpp always passes enable_thinking
        if ((flags & KITE_CHAT_NO_THINKING) && has(src, "not enable_thinking")) kite_buf_puts(b, "</think>");
    }
}

static void format_qwen25(kite_buf *b, const kite_chat_turn *m, size_t n, const char *const *tools, size_t n_tools,
                          unsigned flags) {
    if (n_tools > 0) {
        put_tools_system(b, m, n, tools, n_tools, true);
    } else {
        put_turn(b, "system", n > 0 && is(&m[0], "system") ? m[0].content : QWEN_SYSTEM);
    }
    for (size_t i = 0; i < n; i++) {
        const bool calls = is(&m[i], "assistant") && m[i].n_calls > 0;
        if (is(&m[i], "user") || (is(&m[i], "system") && i > 0) || (is(&m[i], "assistant") && !calls)) {
            put_turn(b, m[i].role, m[i].content);
        } else if (calls) {
            put_calls_turn(b, &m[i], m[i].content);
            kite_buf_puts(b, "<|im_end|>\n");
        } else if (is(&m[i], "tool")) {
            put_tool_result(b, m, i, n);
        }
    }
    if (flags & KITE_CHAT_ADD_ASSISTANT) kite_buf_puts(b, "<|im_start|>assistant\n");
}

kite_status kite_chat_apply_tools(const char *tmpl, const kite_chat_turn *msgs, size_t n, const char *const *tools,
                                  size_t n_tools, unsigned flags, char **out, size_t *out_len) {
    if (!out) return kite__fail(KITE_ERR_INVALID, "chat: NULL output pointer");
    if (flags & ~(unsigned)(KITE_CHAT_ADD_ASSISTANT | KITE_CHAT_NO_THINKING))
        return kite__fail(KITE_ERR_INVALID, "chat: unknown flags 0x%x", flags);
    if ((n > 0 && !msgs) || (n_tools > 0 && !tools)) return kite__fail(KITE_ERR_INVALID, "chat: NULL array");
    for (size_t i = 0; i < n_tools; i++)
        if (!tools[i]) return kite__fail(KITE_ERR_INVALID, "chat: tool %zu is NULL", i);
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return kite__fail(KITE_ERR_INVALID, "chat: message %zu has no %s", i, msgs[i].role ? "content" : "role");
        if (msgs[i].n_calls > 0 && !msgs[i].calls) return kite__fail(KITE_ERR_INVALID, "chat: message %zu: NULL calls", i);
        for (size_t k = 0; k < msgs[i].n_calls; k++)
            if (!msgs[i].calls[k].name || !msgs[i].calls[k].arguments)
                return kite__fail(KITE_ERR_INVALID, "chat: message %zu: call %zu has no name or arguments", i, k);
    }
    const kite_chat_tools style = kite_chat_tools_of(tmpl);
    if (style == KITE_CHAT_TOOLS_NONE)
        return kite__fail(KITE_ERR_UNSUPPORTED, "chat: the template has no tool-call format Kite knows (Qwen2.5 / Qwen3 "
                                                "Hermes-style <tool_call>)");
    kite_buf b = {0};
    if (style == KITE_CHAT_TOOLS_QWEN35) {
        const char *why = kite__chat_qwen35_render(&b, msgs, n, tools, n_tools, flags);
        if (why) {
            kite_buf_free(&b);
            return kite__fail(KITE_ERR_INVALID, "chat template: %s", why);
        }
    } else if (style == KITE_CHAT_TOOLS_QWEN3) kite__chat_qwen3_render(&b, msgs, n, tools, n_tools, flags);
    else if (style == KITE_CHAT_TOOLS_QWQ) kite__chat_qwq_render(&b, tmpl, msgs, n, tools, n_tools, flags);
    else format_qwen25(&b, msgs, n, tools, n_tools, flags);
    return kite__chat_buf_finish(&b, n, out, out_len);
}
