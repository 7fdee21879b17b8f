// chat_qwen35.c - Qwen3.5's chat template (Qwen/Qwen3.5-4B's, as llama.cpp keeps it in
// models/templates/Qwen3.5-4B.jinja), rendered as its Jinja does for conversations without tools:
// ChatML turns whose text is trimmed, assistant turns after the last real user query with their
// reasoning (reasoning_content, else the text before "</think>") in a <think> block, earlier ones
// without it, and a reply that opens "<think>\n" (an empty closed block with reasoning off).
// Detected as ChatML, which it is not: llama.cpp's Jinja rendering (llama-server --jinja) is the
// reference. With tools: the tools' JSON in the system turn with the template's instructions, an
// assistant's calls as XML blocks (<tool_call>\n<function=NAME>\n<parameter=ARG>\nVALUE\n
// </parameter>\n...</function>\n</tool_call>: a string value raw, an object or array as tojson,
// other values as @huggingface/jinja's `string` filter writes them).
#include "base/internal.h"
#include "chat/chat_internal.h"
#include "grammar/json_tree.h"

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

static bool is(const kite_chat_turn *m, const char *role) { return !strcmp(m->role, role); }

static const char TOOLS_HEAD[] = "<|im_start|>system\n# Tools\n\nYou have access to the following functions:\n\n<tools>";
static const char TOOLS_TAIL[] =
    "\n</tools>\n\nIf you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
    "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n"
    "<parameter=example_parameter_2>\nThis is the value for the second parameter\nthat can span\nmultiple lines\n"
    "</parameter>\n</function>\n</tool_call>\n\n<IMPORTANT>\nReminder:\n- Function calls MUST follow the specified "
    "format: an inner <function=...></function> block must be nested within <tool_call></tool_call> XML tags\n- "
    "Required parameters MUST be specified\n- You may provide optional reasoning for your function call in natural "
    "language BEFORE the function call, but NOT after\n- If there is no function call available, answer the question "
    "like normal with your current knowledge and do not tell the user about function calls\n</IMPORTANT>";

// v as Jinja's tojson writes it (", " and ": " separators).
static void put_tojson(kite_buf *b, const kite__jval *v) {
    if (v->type != KITE__J_ARR && v->type != KITE__J_OBJ) {
        if (!kite__json_dump(v, b)) b->nomem = true;
        return;
    }
    kite_buf_puts(b, v->type == KITE__J_ARR ? "[" : "{");
    for (size_t i = 0; i < v->n; i++) {
        if (i) kite_buf_puts(b, ", ");
        if (v->type == KITE__J_OBJ) {
            if (!kite__json_dump_string(v->items[i]->key, strlen(v->items[i]->key), b)) b->nomem = true;
            kite_buf_puts(b, ": ");
        }
        put_tojson(b, v->items[i]);
    }
    kite_buf_puts(b, v->type == KITE__J_ARR ? "]" : "}");
}

// One call: its arguments (a JSON object's text) one <parameter=...> block a member. NULL, or why
// the call cannot be rendered (the template iterates arguments|items: an object).
static const char *put_call(kite_buf *b, const kite_chat_tool_call *c) {
    kite_buf_puts(b, "<function=");
    kite_buf_puts(b, c->name);
    kite_buf_puts(b, ">\n");
    kite__jval *args = NULL;
    if (kite__json_parse(c->arguments, strlen(c->arguments), &args) != KITE_OK || args->type != KITE__J_OBJ) {
        kite__json_free(args);
        return "Tool call arguments must be a JSON object.";
    }
    for (size_t i = 0; i < args->n; i++) {
        const kite__jval *v = args->items[i];
        kite_buf_puts(b, "<parameter=");
        kite_buf_puts(b, v->key);
        kite_buf_puts(b, ">\n");
        if (v->type == KITE__J_STR) kite_buf_append(b, v->s, v->slen);
        else put_tojson(b, v); // numbers, booleans and null as JSON writes them, as JS's String() does
        kite_buf_puts(b, "\n</parameter>\n");
    }
    kite__json_free(args);
    kite_buf_puts(b, "</function>\n</tool_call>");
    return NULL;
}

const char *kite__chat_qwen35_render(kite_buf *b, const kite_chat_turn *m, size_t n, const char *const *tools,
                                     size_t n_tools, unsigned flags) {
    if (n == 0) return "No messages provided.";
    if (n_tools > 0) {
        kite_buf_puts(b, TOOLS_HEAD);
        for (size_t i = 0; i < n_tools; i++) {
            kite_buf_puts(b, "\n");
            kite_buf_puts(b, tools[i]);
        }
        kite_buf_puts(b, TOOLS_TAIL);
        if (is(&m[0], "system")) {
            size_t len = strlen(m[0].content);
            const char *c = trim(m[0].content, &len);
            if (len) kite_buf_puts(b, "\n\n");
            kite_buf_append(b, c, len);
        }
        kite_buf_puts(b, "<|im_end|>\n");
    } else if (is(&m[0], "system")) {
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
            // "</think>", newlines off its start; reasoning_content instead when given
            const char *r = m[i].reasoning ? m[i].reasoning : "";
            size_t rlen = strlen(r);
            r = trim(r, &rlen);
            const char *close = m[i].reasoning ? NULL : find_in(content, len, "</think>", false);
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
            for (size_t k = 0; k < m[i].n_calls; k++) {
                kite_buf_puts(b, k > 0 ? "\n<tool_call>\n" : len > 0 ? "\n\n<tool_call>\n" : "<tool_call>\n");
                const char *why = put_call(b, &m[i].calls[k]);
                if (why) return why;
            }
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
