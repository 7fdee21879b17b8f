// chat_request.c - an OpenAI chat request rendered into its prompt (chat_request.h).
#include "chat_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kite.h"
#include "tool_calls.h"

bool chat_request_plain_string(const json_value *v, const char *what, char *err, size_t es) {
    if (v->type != JSON_STRING) {
        snprintf(err, es, "%s must be a string, not %s", what, json_type_name(v->type));
        return false;
    }
    if (memchr(v->str, 0, v->len)) {
        snprintf(err, es, "%s contains a NUL character", what);
        return false;
    }
    return true;
}

bool chat_request_is_unset(const json_value *v) {
    if (!v) return true;
    switch (v->type) {
    case JSON_NULL: return true;
    case JSON_BOOL: return !v->boolean;
    case JSON_NUMBER: return v->number == 0;
    case JSON_STRING:
    case JSON_ARRAY:
    case JSON_OBJECT: return v->len == 0;
    }
    return false;
}

// The text of a chat message's content: a string, null, or an array of {"type":"text"} parts
// (joined by sep).
static char *message_text(const json_value *c, size_t i, const char *sep, char *err, size_t es) {
    char what[64];
    snprintf(what, sizeof what, "messages[%zu].content", i);
    if (!c || c->type == JSON_NULL) return strdup("");
    if (c->type == JSON_STRING) return chat_request_plain_string(c, what, err, es) ? strdup(c->str) : NULL;
    if (c->type != JSON_ARRAY) {
        snprintf(err, es, "%s must be a string or an array of text parts, not %s", what, json_type_name(c->type));
        return NULL;
    }
    size_t total = 1;
    for (const json_value *part = c->child; part; part = part->next) {
        const json_value *type = json_get(part, "type"), *text = json_get(part, "text");
        if (!type || type->type != JSON_STRING || strcmp(type->str, "text") != 0 || !text ||
            !chat_request_plain_string(text, what, err, es)) {
            if (!err[0]) snprintf(err, es, "%s: only {\"type\": \"text\", \"text\": ...} parts are supported", what);
            return NULL;
        }
        total += text->len + strlen(sep);
    }
    char *out = malloc(total), *o = out;
    if (!out) return NULL;
    for (const json_value *part = c->child; part; part = part->next) {
        const json_value *text = json_get(part, "text");
        if (part != c->child) {
            memcpy(o, sep, strlen(sep));
            o += strlen(sep);
        }
        memcpy(o, text->str, text->len);
        o += text->len;
    }
    *o = 0;
    return out;
}

// An assistant message's tool_calls[]: each {"type": "function", "function": {"name",
// "arguments" (JSON text or an object)}}, its arguments put in tojson form as llama.cpp hands
// them to the template.
static bool message_calls(const json_value *tc, size_t i, kite_chat_turn *m, char *err, size_t es) {
    if (tc->type != JSON_ARRAY) {
        snprintf(err, es, "messages[%zu].tool_calls must be an array, not %s", i, json_type_name(tc->type));
        return false;
    }
    kite_chat_tool_call *calls = calloc(tc->len ? tc->len : 1, sizeof *calls);
    if (!calls) return false;
    m->calls = calls;
    size_t k = 0;
    for (const json_value *c = tc->child; c; c = c->next, k++) {
        const json_value *fn = json_get(c, "function");
        const json_value *name = fn ? json_get(fn, "name") : NULL, *args = fn ? json_get(fn, "arguments") : NULL;
        if (c->type != JSON_OBJECT || !fn || fn->type != JSON_OBJECT) {
            snprintf(err, es, "messages[%zu].tool_calls[%zu].function must be an object", i, k);
            return false;
        }
        if (!name || !chat_request_plain_string(name, "a tool call's function.name", err, es)) {
            if (!err[0]) snprintf(err, es, "messages[%zu].tool_calls[%zu].function.name is missing", i, k);
            return false;
        }
        json_doc *parsed = NULL;
        const json_value *av = args;
        if (args && args->type == JSON_STRING) {
            char why[160];
            if (!(parsed = json_parse(args->str, args->len, why, sizeof why))) {
                snprintf(err, es, "messages[%zu].tool_calls[%zu].function.arguments is not JSON: %s", i, k, why);
                return false;
            }
            av = json_root(parsed);
        }
        if (!av || av->type == JSON_NULL) {
            snprintf(err, es, "messages[%zu].tool_calls[%zu].function.arguments is missing", i, k);
            json_free(parsed);
            return false;
        }
        kite_buf a = {0};
        serve_tojson(&a, av);
        json_free(parsed);
        calls[k].name = strdup(name->str);
        calls[k].arguments = a.nomem ? NULL : a.ptr ? a.ptr : strdup("");
        m->n_calls = k + 1;
        if (!calls[k].name || !calls[k].arguments) return false;
    }
    return true;
}

static void free_turns(kite_chat_turn *m, size_t n) {
    for (size_t k = 0; k < n; k++) {
        free((char *)m[k].content);
        free((char *)m[k].reasoning);
        for (size_t c = 0; c < m[k].n_calls; c++) {
            free((char *)m[k].calls[c].name);
            free((char *)m[k].calls[c].arguments);
        }
        free((void *)m[k].calls);
    }
    free(m);
}

// Renders m[0..n) with the template: its own tool format (own), else plain turns (with the
// generic format's system text when generic). *prompt malloc'd.
static bool render(const char *chat_tmpl, const kite_chat_turn *m, size_t n, const serve_tools *tools, bool own,
                   bool generic, unsigned flags, char **prompt, char *err, size_t es) {
    size_t len;
    if (own) {
        // tools, calls and their results (and reasoning_content) as the template's own renderer
        // writes them
        if (kite_chat_apply_tools(chat_tmpl, m, n, (const char *const *)tools->json, tools->n, flags, prompt, &len) !=
            KITE_OK) {
            snprintf(err, es, "chat template: %s", kite_last_error());
            return false;
        }
        return true;
    }
    // the generic format's system text joins a leading system message, or leads on its own
    bool ok = true;
    char *sys = generic ? serve_tools_generic_system(tools) : NULL, *joined = NULL;
    const bool sys_nomem = generic && !sys;
    if (sys && !*sys) { // calls in the conversation but no tools now: no system text
        free(sys);
        sys = NULL;
    }
    const bool lead = n > 0 && m[0].role && !strcmp(m[0].role, "system");
    const size_t n_plain = n + (sys && !lead);
    kite_chat_msg *plain = calloc(n_plain ? n_plain : 1, sizeof *plain);
    for (size_t k = 0; plain && k < n; k++) plain[n_plain - n + k] = (kite_chat_msg){m[k].role, m[k].content};
    if (plain && sys && lead) {
        size_t a = strlen(m[0].content), c = strlen(sys);
        if ((joined = malloc(a + 2 + c + 1))) {
            memcpy(joined, m[0].content, a);
            memcpy(joined + a, "\n\n", 2);
            memcpy(joined + a + 2, sys, c + 1);
            plain[0].content = joined;
        }
    } else if (plain && sys) {
        plain[0] = (kite_chat_msg){"system", sys};
    }
    if (!plain || sys_nomem || (sys && lead && !joined)) {
        snprintf(err, es, "out of memory");
        ok = false;
    } else if (kite_chat_apply_ex(chat_tmpl, plain, n_plain, flags, prompt, &len) != KITE_OK) {
        snprintf(err, es, "chat template: %s", kite_last_error());
        ok = false;
    }
    free(plain);
    free(sys);
    free(joined);
    return ok;
}

// The continued assistant message (the last one, messages[i]) after the prompt, as llama-server
// appends it: with reasoning blocks (the template's kite_chat_reasoning_layout), the start tag,
// its reasoning_content and, unless it gives reasoning only, the end tag; then its content parts
// joined by blank lines (render_content).
static bool append_continuation(const char *chat_tmpl, const json_value *last, size_t i, char **prompt, char *err,
                                size_t es) {
    const char *start = NULL, *end = NULL;
    const bool reasons = kite_chat_reasoning_layout(chat_tmpl, &start, &end);
    char *content = message_text(json_get(last, "content"), i, "\n\n", err, es);
    const json_value *rc = json_get(last, "reasoning_content");
    const char *reasoning = rc && rc->type == JSON_STRING ? rc->str : "";
    kite_buf b = {0};
    kite_buf_puts(&b, *prompt);
    if (content && reasons) {
        kite_buf_puts(&b, start);
        kite_buf_puts(&b, reasoning);
        if (content[0] || !reasoning[0]) kite_buf_puts(&b, end); // else: the reasoning goes on
    }
    if (content) kite_buf_puts(&b, content);
    kite_buf_append(&b, "", 1);
    const bool ok = content && !b.nomem;
    if (ok) {
        free(*prompt);
        *prompt = b.ptr;
    } else {
        kite_buf_free(&b);
        if (!err[0]) snprintf(err, es, "out of memory");
    }
    free(content);
    return ok;
}

const char *chat_request_role(const char *chat_tmpl, const char *role, size_t i, char *err, size_t es) {
    static const char *const roles[] = {"system", "user", "assistant", "tool"};
    for (size_t k = 0; k < sizeof roles / sizeof *roles; k++)
        if (!strcmp(role, roles[k])) return roles[k];
    if (!strcmp(role, "developer")) {
        const char *family = kite_chat_detect(chat_tmpl);
        return family && !strcmp(family, "gpt-oss") ? "developer" : "system";
    }
    const char *const expected = "expected system, developer, user, assistant or tool";
    if (strlen(role) <= 40) snprintf(err, es, "messages[%zu].role is '%s': %s", i, role, expected);
    else snprintf(err, es, "messages[%zu].role is not a role: %s", i, expected); // not cut inside a character
    return NULL;
}

bool chat_request_prompt(const char *chat_tmpl, const json_value *b, unsigned flags, char **prompt, size_t *reply_at,
                         char *err, size_t es) {
    *prompt = NULL;
    const json_value *msgs = json_get(b, "messages");
    if (!msgs || msgs->type != JSON_ARRAY || msgs->len == 0) {
        snprintf(err, es, "'messages' must be a non-empty array");
        return false;
    }
    // a last assistant message is continued (llama-server's assistant prefill)
    const json_value *last = msgs->child, *before = NULL;
    while (last->next) before = last, last = last->next;
    const json_value *last_role = json_get(last, "role");
    const bool cont = (flags & KITE_CHAT_ADD_ASSISTANT) && last_role && last_role->type == JSON_STRING &&
                      !strcmp(last_role->str, "assistant");
    const size_t n_msgs = msgs->len - cont; // the messages the template renders
    serve_tools tools;
    if (!serve_tools_parse(b, &tools, err, es)) {
        serve_tools_free(&tools);
        return false;
    }
    kite_chat_turn *m = calloc(msgs->len, sizeof *m);
    if (!m) {
        serve_tools_free(&tools);
        snprintf(err, es, "out of memory");
        return false;
    }
    const kite_chat_tools style = kite_chat_tools_of(chat_tmpl);
    bool ok = true;
    // a template without a tool format: llama.cpp's generic format, tools and calls as JSON text
    bool generic = style == KITE_CHAT_TOOLS_NONE && tools.n > 0;
    for (const json_value *x = msgs->child; x && !generic; x = x->next)
        generic = style == KITE_CHAT_TOOLS_NONE && !chat_request_is_unset(json_get(x, "tool_calls"));
    size_t i = 0;
    for (const json_value *x = msgs->child; x && ok; x = x->next, i++) {
        const json_value *role = json_get(x, "role"), *tc = json_get(x, "tool_calls");
        char what[48];
        snprintf(what, sizeof what, "messages[%zu].role", i);
        if (x->type != JSON_OBJECT) {
            snprintf(err, es, "messages[%zu] must be an object", i);
            ok = false;
        } else if (!role) {
            snprintf(err, es, "%s is missing", what);
            ok = false;
        } else if (!chat_request_plain_string(role, what, err, es) ||
                   !(m[i].role = chat_request_role(chat_tmpl, role->str, i, err, es))) {
            ok = false;
        } else {
            m[i].content = message_text(json_get(x, "content"), i, "", err, es);
            if (!m[i].content) ok = false;
            else if (!chat_request_is_unset(tc)) ok = message_calls(tc, i, &m[i], err, es);
            // an assistant's reasoning_content (as llama-server hands it to the template)
            const json_value *rc = json_get(x, "reasoning_content");
            if (ok && rc && rc->type != JSON_NULL) {
                snprintf(what, sizeof what, "messages[%zu].reasoning_content", i);
                ok = chat_request_plain_string(rc, what, err, es) && (m[i].reasoning = strdup(rc->str)) != NULL;
            }
            if (ok && generic && (m[i].n_calls > 0 || !strcmp(role->str, "tool"))) {
                char *c = m[i].n_calls > 0 ? serve_tools_generic_calls(tc, m[i].content)
                                           : serve_tools_generic_result(x, m[i].content);
                free((char *)m[i].content);
                m[i].content = c;
                if (!strcmp(role->str, "tool")) m[i].role = "user";
                ok = c != NULL;
            }
            if (!ok && !err[0]) snprintf(err, es, "out of memory");
        }
    }
    // what llama-server refuses to continue (once the messages are read)
    const json_value *br = cont && before ? json_get(before, "role") : NULL;
    if (ok && br && br->type == JSON_STRING && !strcmp(br->str, "assistant")) {
        snprintf(err, es, "Cannot have 2 or more assistant messages at the end of the list.");
        ok = false;
    } else if (ok && cont && !chat_request_is_unset(json_get(last, "tool_calls"))) {
        snprintf(err, es, "Cannot continue an assistant message that contains tool calls.");
        ok = false;
    }
    // a template with a tool format has its own renderer (its Jinja, as llama-server --jinja renders
    // it), for plain conversations too: Qwen2.5's default system message
    const bool own = style != KITE_CHAT_TOOLS_NONE;
    char *bare = NULL;
    if (ok) ok = render(chat_tmpl, m, n_msgs, &tools, own, generic, flags, prompt, err, es);
    // where the reply begins: after the opening that add_generation_prompt adds (the rendering
    // without it is a prefix), up to a "<think>" in it (llama.cpp's generation prompt, cut at the
    // reasoning start: what follows is the reply's)
    size_t at = ok ? strlen(*prompt) : 0;
    const bool reasons = kite_chat_reasoning_tags(chat_tmpl, NULL, NULL);
    if (ok && (flags & KITE_CHAT_ADD_ASSISTANT) && (reasons || reply_at) &&
        (ok = render(chat_tmpl, m, n_msgs, &tools, own, generic, flags & ~(unsigned)KITE_CHAT_ADD_ASSISTANT, &bare,
                     err, es))) {
        const size_t bl = strlen(bare);
        if (bl <= at && !memcmp(*prompt, bare, bl)) {
            const char *think = reasons ? strstr(*prompt + bl, "<think>") : NULL;
            at = think ? (size_t)(think - *prompt) : at;
        }
    }
    free(bare);
    if (ok && cont) {
        (*prompt)[at] = 0; // the opening's reasoning part goes: the continued message brings its own
        ok = append_continuation(chat_tmpl, last, msgs->len - 1, prompt, err, es);
    }
    if (ok && reply_at) *reply_at = at;
    if (!ok) {
        free(*prompt);
        *prompt = NULL;
    }
    free_turns(m, msgs->len);
    serve_tools_free(&tools);
    return ok;
}

