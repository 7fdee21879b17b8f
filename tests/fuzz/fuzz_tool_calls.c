// fuzz_tool_calls.c - libFuzzer target for the tool-call reply parsers (openai/tool_calls.c,
// tool_calls_xml.c): a model's output is untrusted text. Input: a mode byte (Hermes JSON blocks,
// the generic format's JSON reply, or Qwen3.5's XML blocks typed by a fixed tool list or by none;
// with or without streamed deltas), a piece-size byte, then the reply text.
// Invariants: no crash or leak; the reply gives the same text and the same calls (names,
// arguments) fed whole as fed in pieces of any size; every call has a non-empty name; with
// deltas, a call's first piece carries its id and name (and only it does) and its pieces join
// into the arguments of the call emitted, under the same id; an XML call's arguments are always
// a JSON object (the parser builds them); a Hermes / generic call's arguments are JSON whenever the
// model gave them as an object (the parser's promise: compact JSON text; a string given as
// "arguments" is passed through as llama.cpp does, so the check stands only when no
// string-valued "arguments" is in the reply).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.c"
#include "tool_calls.c"
#include "tool_calls_xml.c"

#define MAX_CALLS 64

typedef struct result {
    kite_buf text;
    size_t n_calls;
    char *names[MAX_CALLS], *args[MAX_CALLS], *ids[MAX_CALLS];
    kite_buf streamed[MAX_CALLS]; // delta pieces joined
    char *streamed_id[MAX_CALLS];
    size_t n_pieces[MAX_CALLS];
} result;

static bool on_text(void *user, const char *text, size_t len) {
    result *r = user;
    if (!len) abort(); // nothing to say is not said
    return kite_buf_append(&r->text, text, len);
}

static bool on_call(void *user, size_t index, const serve_tool_call *c) {
    result *r = user;
    if (index != r->n_calls || !c->name || !c->name[0] || !c->arguments || !c->id) abort();
    if (r->n_calls == MAX_CALLS) return true;
    r->names[r->n_calls] = strdup(c->name);
    r->args[r->n_calls] = strdup(c->arguments);
    r->ids[r->n_calls] = strdup(c->id);
    r->n_calls++;
    return true;
}

static bool on_delta(void *user, size_t index, const char *id, const char *name, const char *args, size_t len) {
    result *r = user;
    if (index > MAX_CALLS) abort();
    if (index == MAX_CALLS) return true;
    if ((id != NULL) != (name != NULL) || (name != NULL) != (r->n_pieces[index] == 0)) abort(); // id and name once, first
    if (index > 0 && r->n_pieces[index - 1] == 0) abort(); // calls stream in order
    if (id) r->streamed_id[index] = strdup(id);
    r->n_pieces[index]++;
    return kite_buf_append(&r->streamed[index], args, len);
}

static void result_free(result *r) {
    kite_buf_free(&r->text);
    for (size_t i = 0; i < MAX_CALLS; i++) {
        free(r->names[i]), free(r->args[i]), free(r->ids[i]), free(r->streamed_id[i]);
        kite_buf_free(&r->streamed[i]);
    }
}

// The reply fed in pieces of `step` bytes (0: whole).
static void run(const char *reply, size_t n, size_t step, unsigned mode, const serve_tools *tools, result *out) {
    memset(out, 0, sizeof *out);
    serve_tool_reply r = {.text = on_text, .call = on_call, .user = out};
    r.split.generic = mode % 3 == 1;
    r.split.xml = mode % 3 == 2;
    r.split.tools = (mode & 8) ? tools : NULL;
    if (mode & 4) r.delta = on_delta;
    if (step == 0) step = n ? n : 1;
    for (size_t i = 0; i < n; i += step)
        if (!serve_tool_reply_feed(&r, reply + i, n - i < step ? n - i : step)) abort();
    if (!serve_tool_reply_flush(&r)) abort();
    if (r.split.n_calls != out->n_calls && out->n_calls < MAX_CALLS) abort();
    serve_tool_reply_free(&r);
}

static bool is_json(const char *s) {
    char err[64];
    json_doc *d = json_parse(s, strlen(s), err, sizeof err);
    json_free(d);
    return d != NULL;
}

// Whether the reply has "arguments" followed by a string value (a pass-through, see the header).
static bool string_arguments(const char *s, size_t n) {
    static const char key[] = "\"arguments\"";
    for (const char *p = serve__find(s, n, key); p; p = serve__find(p + 1, n - (size_t)(p + 1 - s), key)) {
        size_t at = serve__skip_space(s, (size_t)(p - s) + sizeof key - 1, n);
        if (at < n && s[at] == ':' && (at = serve__skip_space(s, at + 1, n)) < n && s[at] == '"') return true;
    }
    return false;
}

static const char TOOLS[] =
    "{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": "
    "\"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\"}, \"units\": "
    "{\"type\": [\"string\", \"null\"]}, \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}}, "
    "\"required\": [\"city\"]}}}, {\"type\": \"function\", \"function\": {\"name\": \"noop\", \"parameters\": "
    "{}}}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > 1 << 16) return 0;
    static serve_tools tools;
    static bool have_tools;
    if (!have_tools) {
        char err[256];
        json_doc *d = json_parse(TOOLS, sizeof TOOLS - 1, err, sizeof err);
        if (!d || !serve_tools_parse(json_root(d), &tools, err, sizeof err)) abort();
        json_free(d); // serve_tools keeps copies
        have_tools = true;
    }
    const unsigned mode = data[0];
    const size_t step = 1 + data[1] % 16;
    const char *reply = (const char *)data + 2;
    const size_t n = size - 2;
    result whole, pieces;
    run(reply, n, 0, mode, &tools, &whole);
    run(reply, n, step, mode, &tools, &pieces);
    // the same reply however it was cut
    if (whole.text.len != pieces.text.len || (whole.text.len && memcmp(whole.text.ptr, pieces.text.ptr, whole.text.len)) ||
        whole.n_calls != pieces.n_calls) {
        fprintf(stderr, "whole: %zu calls, text '%.*s'\npieces of %zu: %zu calls, text '%.*s'\n", whole.n_calls,
                (int)whole.text.len, whole.text.ptr ? whole.text.ptr : "", step, pieces.n_calls, (int)pieces.text.len,
                pieces.text.ptr ? pieces.text.ptr : "");
        abort();
    }
    const bool passthrough = string_arguments(reply, n);
    for (size_t i = 0; i < whole.n_calls && i < MAX_CALLS; i++) {
        if (strcmp(whole.names[i], pieces.names[i]) || strcmp(whole.args[i], pieces.args[i])) abort();
        if (mode % 3 == 2 && (whole.args[i][0] != '{' || !is_json(whole.args[i]))) abort();
        if (!(mode & 4) && !passthrough && !is_json(whole.args[i])) abort();
        for (result *r = &whole; r; r = r == &whole ? &pieces : NULL)
            if (mode & 4) { // the streamed pieces are the call
                kite_buf_append(&r->streamed[i], "", 1);
                if (r->n_pieces[i] == 0 || strcmp(r->streamed[i].ptr, r->args[i]) || strcmp(r->streamed_id[i], r->ids[i]))
                    abort();
            }
    }
    result_free(&whole);
    result_free(&pieces);
    return 0;
}
