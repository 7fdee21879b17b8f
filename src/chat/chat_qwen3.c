// chat_qwen3.c - Qwen3's own chat template (the Jinja source of Qwen/Qwen3-0.6B ... 32B and
// Qwen3-30B-A3B, as llama.cpp keeps it in models/templates/Qwen-Qwen3-0.6B.jinja), rendered as
// llama.cpp's Jinja engine does (llama-server --jinja), tools aside: ChatML turns, and assistant
// turns whose <think>...</think> reasoning is dropped before the last user query and written as
// a block after it. llama.cpp's non-Jinja path treats this source as plain ChatML; the Jinja
// rendering is what llama-server and the model's training use, so Kite follows it. The rendering
// itself is chat_tools.c's (the same template with tools).
#include "base/internal.h"
#include "chat/chat_internal.h"

static bool has(const char *s, const char *marker) { return strstr(s, marker) != NULL; }

bool kite__chat_is_qwen3(const char *src) {
    // markers of the reasoning logic (Qwen3.5's template trims differently and is not this one)
    return src && has(src, "<|im_start|>") && has(src, "ns.last_query_index") &&
           has(src, "message.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n')") &&
           has(src, "reasoning_content.strip('\\n')");
}

void kite__chat_format_qwen3(const kite_chat_msg *m, size_t n, bool add, bool no_think, kite_buf *b) {
    // the tool-calling renderer (chat_tools.c) with no tools and no calls: one Qwen3 template
    kite_chat_turn *t = n ? calloc(n, sizeof *t) : NULL;
    if (n && !t) {
        b->nomem = true;
        return;
    }
    for (size_t i = 0; i < n; i++) t[i] = (kite_chat_turn){.role = m[i].role, .content = m[i].content};
    kite__chat_qwen3_render(b, t, n, NULL, 0, (add ? KITE_CHAT_ADD_ASSISTANT : 0u) | (no_think ? KITE_CHAT_NO_THINKING : 0u));
    free(t);
}
