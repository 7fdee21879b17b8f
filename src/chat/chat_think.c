// chat_think.c - splitting a streamed reply into its reasoning block (<think>...</think>, as
// Qwen3 and DeepSeek-R1 write it) and its answer, so that hosts can show or hide the reasoning.
#include <string.h>

#include "chat/chat_internal.h"
#include "chat/kite_chat.h"

static const char OPEN[] = "<think>", CLOSE[] = "</think>";

void kite_think_split_init(kite_think_split *s) { memset(s, 0, sizeof *s); }

const char *kite_chat_no_think_text(const char *tmpl) {
    // Qwen3's source: {%- if enable_thinking is defined and enable_thinking is false %}
    // {{- '<think>\n\n</think>\n\n' }} (the escapes as written in the Jinja string)
    if (tmpl && strstr(tmpl, "enable_thinking") && strstr(tmpl, "'<think>\\n\\n</think>\\n\\n'"))
        return "<think>\n\n</think>\n\n";
    // QwQ's: '<|im_start|>assistant\n<think>\n' then {%- if not enable_thinking -%}{{- '</think>' -}}
    if (tmpl && strstr(tmpl, "not enable_thinking") && strstr(tmpl, "'<|im_start|>assistant\\n<think>\\n'"))
        return "<think>\n</think>";
    return "";
}

const char *kite_chat_reply_opening(const char *tmpl, bool no_thinking) {
    if (no_thinking) return kite_chat_no_think_text(tmpl);
    // QwQ's '<|im_start|>assistant\n<think>\n', Qwen3.5's {%- else %} {{- '<think>\n' }}
    return kite__chat_is_qwq(tmpl) || kite__chat_is_qwen35(tmpl) ? "<think>\n" : "";
}

bool kite_chat_reasoning_tags(const char *tmpl, const char **start, const char **end) {
    const bool has = tmpl && !kite_chat_template_from_name(tmpl) && strstr(tmpl, OPEN) && strstr(tmpl, CLOSE);
    if (start) *start = has ? OPEN : NULL;
    if (end) *end = has ? CLOSE : NULL;
    return has;
}

bool kite_chat_reasoning_layout(const char *tmpl, const char **start, const char **end) {
    const bool has = kite_chat_reasoning_tags(tmpl, start, end);
    if (has && strstr(tmpl, "'\\n<think>\\n' + reasoning_content")) {
        if (start) *start = "<think>\n";
        if (end) *end = "\n</think>\n\n";
    }
    return has;
}

// Emits a run of text of the current kind (nothing for an empty run).
static bool emit_run(const kite_think_split *s, const char *p, size_t n, kite_think_emit emit, void *user) {
    return n == 0 || emit(user, p, n, s->thinking);
}

// Feeds one byte through the tag matcher; returns false if emit asked to stop.
static bool feed_byte(kite_think_split *s, char ch, kite_think_emit emit, void *user) {
    const char *tag = s->thinking ? CLOSE : OPEN;
    const size_t tag_len = strlen(tag);
    // after </think> the answer's leading newlines belong to the block's layout, not the answer
    if (s->after_close) {
        if (ch == '\n') return true;
        s->after_close = false;
    }
    if (ch == tag[s->n_held]) {
        s->held[s->n_held++] = ch;
        if (s->n_held < tag_len) return true;
        s->n_held = 0;
        s->after_close = s->thinking;
        s->thinking = !s->thinking;
        return true;
    }
    // not the tag after all: the held bytes are text; this byte may start the tag again
    if (!emit_run(s, s->held, s->n_held, emit, user)) return false;
    s->n_held = 0;
    if (ch == tag[0]) {
        s->held[s->n_held++] = ch;
        return true;
    }
    return emit_run(s, &ch, 1, emit, user);
}

bool kite_think_split_feed(kite_think_split *s, const char *text, size_t len, kite_think_emit emit, void *user) {
    size_t run = 0; // bytes of plain text not yet emitted (no tag can start inside them)
    const char *tag0 = s->thinking ? CLOSE : OPEN;
    for (size_t i = 0; i < len; i++) {
        if (s->n_held == 0 && !s->after_close && text[i] != tag0[0]) {
            run++;
            continue;
        }
        if (!emit_run(s, text + i - run, run, emit, user)) return false;
        run = 0;
        if (!feed_byte(s, text[i], emit, user)) return false;
        tag0 = s->thinking ? CLOSE : OPEN;
    }
    return emit_run(s, text + len - run, run, emit, user);
}

bool kite_think_split_flush(kite_think_split *s, kite_think_emit emit, void *user) {
    const bool ok = emit_run(s, s->held, s->n_held, emit, user);
    s->n_held = 0;
    return ok;
}
