// exports_tools.c - tool calling for the npm package's chat, through kite serve's own code: the
// request rendered into its prompt and call grammar (openai/chat_request.c, openai/tool_calls.c),
// and the reply split into its text and its calls (serve_tool_reply) as the server answers.
#include "exports.h"

#include <stdio.h>

#include "chat_request.h"
#include "tool_calls.h"

// The last chat request's tools when its template writes Qwen3.5's XML calls: the splitter of
// the generation that follows (tool_reply 3) types the calls' values by their schemas. One chat
// runs at a time.
static serve_tools xml_tools;

struct kw_tool_reply {
    serve_tool_reply r;
    bool (*text)(const char *p, size_t n);
};

// A call found in the reply: its index, id, name and arguments (compact JSON) go to JS.
EM_JS(int, kw_js_tool_call, (size_t index, const char *id, const char *name, const char *args), {
    var num = function(x) { return typeof x == 'bigint' ? Number(x) : x >>> 0; };
    return Module.kiteToolCall ? Module.kiteToolCall(num(index), num(id), num(name), num(args)) : 0;
});

// A piece of a call as it is written (serve_tool_delta): id and name (0 after the first piece),
// and args[0..len) more of its arguments.
EM_JS(int, kw_js_tool_delta, (size_t index, const char *id, const char *name, const char *args, size_t len), {
    var num = function(x) { return typeof x == 'bigint' ? Number(x) : x >>> 0; };
    return Module.kiteToolDelta ? Module.kiteToolDelta(num(index), num(id), num(name), num(args), num(len)) : 0;
});

// Renders a->request with the model's template; the tools' grammar when the reply may call them.
EMSCRIPTEN_KEEPALIVE int kw_chat_request(kw_chat_request_args *a) {
    a->prompt = NULL;
    a->grammar = NULL;
    a->lazy = 0;
    a->tool_reply = 0;
    a->reply_at = -1;
    if (!a->model || !a->request) return kite_set_error(KITE_ERR_INVALID, "no model or request");
    if (a->flags < 0) return kite_set_error(KITE_ERR_INVALID, "negative chat flags");
    char why[160], err[400] = "";
    json_doc *doc = json_parse(a->request, strlen(a->request), why, sizeof why);
    if (!doc) return kite_set_error(KITE_ERR_INVALID, "the chat request is not JSON: %s", why);
    char *tmpl = NULL;
    kite_status s = kw__model_chat_template(a->model, &tmpl);
    serve_tools tools = {0};
    const json_value *body = json_root(doc);
    size_t reply_at = 0;
    bool ok = s == KITE_OK && chat_request_prompt(tmpl, body, (unsigned)a->flags, &a->prompt, &reply_at, err, sizeof err);
    if (ok && reply_at <= INT32_MAX) a->reply_at = (int32_t)reply_at;
    // the call grammar, as kite serve's parse_tools builds it
    if (ok) ok = serve_tools_parse(body, &tools, err, sizeof err);
    if (ok && serve_tools_active(&tools)) {
        const kite_chat_tools style = kite_chat_tools_of(tmpl);
        const bool generic = style == KITE_CHAT_TOOLS_NONE, xml = style == KITE_CHAT_TOOLS_QWEN35;
        bool lazy = false;
        ok = xml ? serve_tools_grammar_xml(&tools, &a->grammar, &lazy, err, sizeof err)
                 : serve_tools_grammar(&tools, generic, &a->grammar, &lazy, err, sizeof err);
        a->lazy = lazy;
        a->tool_reply = xml ? 3 : generic ? 2 : 1;
        if (ok && xml) { // kept for the reply's splitter
            serve_tools_free(&xml_tools);
            xml_tools = tools;
            tools = (serve_tools){0};
        }
    }
    serve_tools_free(&tools);
    free(tmpl);
    json_free(doc);
    if (s == KITE_OK && !ok) s = kite_set_error(KITE_ERR_INVALID, "%s", err[0] ? err : "out of memory");
    if (s != KITE_OK) {
        free(a->prompt);
        free(a->grammar);
        a->prompt = a->grammar = NULL;
    }
    return s;
}

static bool on_reply_text(void *user, const char *text, size_t len) { return ((kw_tool_reply *)user)->text(text, len); }

static bool on_reply_call(void *user, size_t index, const serve_tool_call *c) {
    (void)user;
    return kw_js_tool_call(index, c->id, c->name, c->arguments) == KW_CB_CONTINUE;
}

static bool on_reply_delta(void *user, size_t index, const char *id, const char *name, const char *args, size_t len) {
    (void)user;
    return kw_js_tool_delta(index, id, name, args, len) == KW_CB_CONTINUE;
}

kw_tool_reply *kw__tool_reply_new(int32_t mode, bool (*text)(const char *p, size_t n)) {
    kw_tool_reply *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->text = text;
    t->r = (serve_tool_reply){.split = {.generic = (mode & 3) == 2, .xml = (mode & 3) == 3, .tools = &xml_tools},
                              .text = on_reply_text,
                              .call = on_reply_call,
                              .delta = mode & 4 ? on_reply_delta : NULL,
                              .user = t};
    return t;
}

bool kw__tool_reply_feed(kw_tool_reply *t, const char *p, size_t n) { return serve_tool_reply_feed(&t->r, p, n); }

bool kw__tool_reply_flush(kw_tool_reply *t) { return serve_tool_reply_flush(&t->r); }

void kw__tool_reply_free(kw_tool_reply *t) {
    if (!t) return;
    serve_tool_reply_free(&t->r);
    free(t);
}
