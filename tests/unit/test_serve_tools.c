// test_serve_tools.c - the server's tool-call pieces (openai/tool_calls.c): replies split into
// text and Hermes <tool_call> blocks however the text is cut into pieces, the generic format's
// JSON replies, the call grammar against the format Qwen's templates teach (<tool_call>\n{"name":
// ..., "arguments": ...}\n</tool_call>), minja's indented JSON for the generic prompt, and the
// roles a chat request may name (openai/chat_request.c).
#include <string.h>

#include "check.h"
#include "../../openai/chat_request.c"
#include "../../openai/json.c"
#include "../../openai/tool_calls.c"
#include "../../openai/tool_calls_xml.c"

typedef struct sink {
    kite_buf text;
    char calls[8][160];
    int n_calls;
    bool text_after_call;
} sink;

static bool on_emit(void *user, const char *text, size_t len, const serve_tool_call *call) {
    sink *s = user;
    if (call) {
        if (s->n_calls < 8) snprintf(s->calls[s->n_calls], sizeof s->calls[0], "%s %s", call->name, call->arguments);
        s->n_calls++;
        return true;
    }
    if (s->n_calls > 0 && len > 0) s->text_after_call = true;
    return kite_buf_append(&s->text, text, len);
}

// Feeds reply in pieces of `step` bytes; the text and calls that come out.
static void split(const char *reply, size_t step, bool generic, sink *out) {
    serve_tool_split sp = {.generic = generic};
    *out = (sink){0};
    size_t n = strlen(reply);
    for (size_t i = 0; i < n; i += step)
        CHECK(serve_tool_split_feed(&sp, reply + i, n - i < step ? n - i : step, on_emit, out), "feed");
    CHECK(serve_tool_split_flush(&sp, on_emit, out), "flush");
    CHECK(sp.n_calls == (size_t)out->n_calls, "%zu calls kept, %d emitted", sp.n_calls, out->n_calls);
    kite_buf_append(&out->text, "", 1); // NUL-terminated for the checks
    serve_tool_split_free(&sp);
}

static void test_hermes_split(void) {
    const char *reply = "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", "
                        "\"days\": [1, 2]}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": "
                        "{}}\n</tool_call>";
    for (size_t step = 1; step <= strlen(reply); step++) {
        sink s;
        split(reply, step, false, &s);
        CHECK(s.n_calls == 2, "step %zu: %d calls", step, s.n_calls);
        CHECK(!strcmp(s.calls[0], "get_weather {\"city\":\"Paris\",\"days\":[1,2]}"), "step %zu: %s", step, s.calls[0]);
        CHECK(!strcmp(s.calls[1], "get_time {}"), "step %zu: %s", step, s.calls[1]);
        // the text around the calls (whitespace between them is the caller's to drop)
        CHECK(!strncmp(s.text.ptr, "Let me look.\n", 13) && strspn(s.text.ptr + 13, "\n") == strlen(s.text.ptr + 13),
              "step %zu: text '%s'", step, s.text.ptr);
        kite_buf_free(&s.text);
    }
    // what is not a call stays text: a prefix of the tag, a block that is not a call, an open one
    const char *not_calls[] = {
        "a < b and <tool_ ok",
        "<tool_call>\n{\"name\": 5, \"arguments\": {}}\n</tool_call>",
        "<tool_call>{\"arguments\": {}}</tool_call> then",
        "x <tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1",
    };
    for (size_t i = 0; i < sizeof not_calls / sizeof not_calls[0]; i++) {
        for (size_t step = 1; step <= 7; step += 3) {
            sink s;
            split(not_calls[i], step, false, &s);
            CHECK(s.n_calls == 0 && !strcmp(s.text.ptr, not_calls[i]), "'%s' step %zu: %d calls, text '%s'", not_calls[i],
                  step, s.n_calls, s.text.ptr);
            kite_buf_free(&s.text);
        }
    }
}

// Calls followed as they are written (serve_tool_split.delta): per call, its name (from its first
// piece only), its pieces and their text joined.
typedef struct delta_sink {
    sink base;
    char names[4][32];
    char ids[4][40];
    kite_buf args[4];
    int n_pieces[4];
    bool bad_order;
} delta_sink;

static bool on_delta(void *user, size_t index, const char *id, const char *name, const char *args, size_t len) {
    delta_sink *d = user;
    if (index >= 4) return false;
    if ((name != NULL) != (d->n_pieces[index] == 0)) d->bad_order = true; // the name comes first, once
    if ((id != NULL) != (name != NULL)) d->bad_order = true;                // ... with the id
    if (id) snprintf(d->ids[index], sizeof d->ids[0], "%s", id);
    if (name) snprintf(d->names[index], sizeof d->names[0], "%s", name);
    d->n_pieces[index]++;
    kite_buf_append(&d->args[index], args, len);
    return true;
}

static void split_deltas(const char *reply, size_t step, delta_sink *d) {
    *d = (delta_sink){0};
    serve_tool_split sp = {.delta = on_delta};
    size_t n = strlen(reply);
    for (size_t i = 0; i < n; i += step)
        CHECK(serve_tool_split_feed(&sp, reply + i, n - i < step ? n - i : step, on_emit, d), "feed");
    CHECK(serve_tool_split_flush(&sp, on_emit, d), "flush");
    for (size_t i = 0; i < sp.n_calls && i < 4; i++) // the ids streamed are the calls'
        CHECK(!strcmp(sp.calls[i].id, d->ids[i]), "call %zu: id %s streamed as %s", i, sp.calls[i].id, d->ids[i]);
    kite_buf_append(&d->base.text, "", 1);
    for (int i = 0; i < 4; i++) kite_buf_append(&d->args[i], "", 1);
    serve_tool_split_free(&sp);
}

static void delta_sink_free(delta_sink *d) {
    kite_buf_free(&d->base.text);
    for (int i = 0; i < 4; i++) kite_buf_free(&d->args[i]);
}

static void test_hermes_deltas(void) {
    // the arguments stream as they come (their whitespace out); they join into the call's arguments
    const char *reply = "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris é\", "
                        "\"days\": [1, 2], \"q\": \"a \\\" </tool_call> }\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", "
                        "\"arguments\": {}}\n</tool_call>";
    const char *args0 = "{\"city\":\"Paris é\",\"days\":[1,2],\"q\":\"a \\\" </tool_call> }\"}";
    for (size_t step = 1; step <= strlen(reply); step++) {
        delta_sink d;
        split_deltas(reply, step, &d);
        CHECK(d.base.n_calls == 2 && !d.bad_order, "step %zu: %d calls", step, d.base.n_calls);
        CHECK(!strcmp(d.names[0], "get_weather") && !strcmp(d.names[1], "get_time"), "step %zu: names", step);
        CHECK(!strcmp(d.args[0].ptr, args0), "step %zu: args '%s'", step, d.args[0].ptr);
        CHECK(!strcmp(d.args[1].ptr, "{}"), "step %zu: args '%s'", step, d.args[1].ptr);
        CHECK(!strncmp(d.base.calls[0], "get_weather ", 12) && !strcmp(d.base.calls[0] + 12, args0), "step %zu: %s", step,
              d.base.calls[0]);
        if (step <= 4) CHECK(d.n_pieces[0] > 10, "step %zu: %d pieces", step, d.n_pieces[0]);
        CHECK(strspn(d.base.text.ptr + 13, "\n") == strlen(d.base.text.ptr + 13), "step %zu: text '%s'", step, d.base.text.ptr);
        delta_sink_free(&d);
    }
    // a call cut short once its arguments began is the call written so far; before, it stays text;
    // a block that cannot be followed (arguments first) goes out whole when it closes
    const char *cut = "x <tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": [1";
    const char *head_only = "x <tool_call>\n{\"name\": \"f\", \"argu";
    const char *args_first = "<tool_call>{\"arguments\": {\"a\": 1}, \"name\": \"g\"}</tool_call>";
    for (size_t step = 1; step <= 7; step += 3) {
        delta_sink d;
        split_deltas(cut, step, &d);
        CHECK(d.base.n_calls == 1 && !strcmp(d.args[0].ptr, "{\"a\":[1") && !strcmp(d.base.text.ptr, "x "),
              "cut step %zu: %d calls, '%s'", step, d.base.n_calls, d.args[0].ptr);
        delta_sink_free(&d);
        split_deltas(head_only, step, &d);
        CHECK(d.base.n_calls == 0 && d.n_pieces[0] == 0 && !strcmp(d.base.text.ptr, head_only), "head step %zu", step);
        delta_sink_free(&d);
        split_deltas(args_first, step, &d);
        CHECK(d.base.n_calls == 1 && d.n_pieces[0] == 1 && !strcmp(d.names[0], "g") && !strcmp(d.args[0].ptr, "{\"a\":1}"),
              "args first step %zu: %d pieces", step, d.n_pieces[0]);
        delta_sink_free(&d);
    }
    // a close tag inside the name ends the block before it is a call, however the text was cut
    // (found by fuzz_tool_calls: fed whole, the head was read through the close tag)
    const char *name_close = "<tool_call>\n{\"name\": \"ab</tool_call>cd\", \"arguments\": {\"x\": 1}}\n</tool_call>";
    for (size_t step = 1; step <= strlen(name_close); step++) {
        delta_sink d;
        split_deltas(name_close, step, &d);
        CHECK(d.base.n_calls == 0 && d.n_pieces[0] == 0 && !strcmp(d.base.text.ptr, name_close), "name with close tag, step %zu: %d calls",
              step, d.base.n_calls);
        delta_sink_free(&d);
    }
    // cut short inside a UTF-8 character: the call is the pieces sent, whole characters (found by
    // fuzz_tool_calls: the call kept the character's lead byte, which no piece had carried)
    const char *cut_utf8 = "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": \"\xc3\xa9\xe2\x82";
    for (size_t step = 1; step <= 7; step += 2) {
        delta_sink d;
        split_deltas(cut_utf8, step, &d);
        CHECK(d.base.n_calls == 1 && !strcmp(d.args[0].ptr, "{\"a\":\"\xc3\xa9") &&
                  !strcmp(d.base.calls[0], "f {\"a\":\"\xc3\xa9"),
              "cut in a character, step %zu: %d calls, pieces '%s', call '%s'", step, d.base.n_calls, d.args[0].ptr,
              d.base.calls[0]);
        delta_sink_free(&d);
    }
}

static void test_generic_split(void) {
    const struct {
        const char *reply, *text, *call0;
        int n_calls;
    } cases[] = {
        {"{\"tool_call\": {\"name\": \"f\", \"arguments\": {\"a\": \"x\"}}}", "", "f {\"a\":\"x\"}", 1},
        {"{\"tool_calls\": [{\"name\": \"f\", \"arguments\": {}, \"id\": \"abcd\"}, {\"name\": \"g\", \"arguments\": "
         "{\"b\": true}, \"id\": \"efgh\"}]}",
         "", "f {}", 2},
        {"{\"response\": \"Hello \\\"you\\\"\\n\"}", "Hello \"you\"\n", NULL, 0},
        {"{\"response\": \"cut sho", "{\"response\": \"cut sho", NULL, 0}, // cut by max_tokens: as it came
        {"plain text", "plain text", NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sink s;
        split(cases[i].reply, 5, true, &s);
        CHECK(s.n_calls == cases[i].n_calls, "case %zu: %d calls", i, s.n_calls);
        CHECK(!strcmp(s.text.ptr, cases[i].text), "case %zu: text '%s'", i, s.text.ptr);
        if (cases[i].call0 && s.n_calls > 0) CHECK(!strcmp(s.calls[0], cases[i].call0), "case %zu: %s", i, s.calls[0]);
        kite_buf_free(&s.text);
    }
}

static json_value *parse_body(json_doc **d, const char *text) {
    char err[200];
    *d = json_parse(text, strlen(text), err, sizeof err);
    CHECK(*d != NULL, "%s", err);
    return *d ? (json_value *)json_root(*d) : NULL;
}

// Whether the grammar takes text whole.
static bool grammar_takes(const char *gbnf, const char *text) {
    kite_grammar *g = NULL;
    kite_grammar_state *st = NULL;
    bool ok = kite_grammar_parse(gbnf, NULL, &g) == KITE_OK && kite_grammar_state_new(g, &st) == KITE_OK &&
              kite_grammar_state_accept(st, text, strlen(text)) && kite_grammar_state_can_end(st);
    kite_grammar_state_free(st);
    kite_grammar_free(g);
    return ok;
}

static void test_grammars(void) {
    json_doc *d;
    const json_value *b = parse_body(
        &d, "{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": "
            "\"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}, {\"type\": "
            "\"function\", \"function\": {\"name\": \"ping\"}}], \"tool_choice\": \"required\"}");
    serve_tools t;
    char err[300] = "";
    CHECK(b && serve_tools_parse(b, &t, err, sizeof err), "parse: %s", err);
    // the tool as the template prints it: description and parameters filled in as llama.cpp does
    CHECK(t.n == 2 && !strcmp(t.json[1], "{\"type\": \"function\", \"function\": {\"name\": \"ping\", \"description\": \"\", "
                                          "\"parameters\": {}}}"),
          "tool json: %s", t.n == 2 ? t.json[1] : "");
    char *g = NULL;
    bool lazy = true;
    CHECK(serve_tools_grammar(&t, false, &g, &lazy, err, sizeof err), "grammar: %s", err);
    CHECK(!lazy, "a required call's grammar is lazy");
    const char *qwen = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
    CHECK(g && grammar_takes(g, qwen), "the Qwen call refused by\n%s", g);
    CHECK(g && grammar_takes(g, "<tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n</tool_call>"), "ping refused");
    CHECK(g && !grammar_takes(g, "<tool_call>\n{\"name\": \"pong\", \"arguments\": {}}\n</tool_call>"), "unknown name taken");
    CHECK(g && !grammar_takes(g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"),
          "a missing required argument taken");
    CHECK(g && !grammar_takes(g, "Sure. <tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n</tool_call>"),
          "text before a required call taken");
    free(g);
    // auto: lazy; generic: one JSON object, a response allowed unless required
    t.choice = SERVE_TOOLS_AUTO;
    CHECK(serve_tools_grammar(&t, false, &g, &lazy, err, sizeof err) && lazy, "auto is not lazy");
    free(g);
    CHECK(serve_tools_grammar(&t, true, &g, &lazy, err, sizeof err) && !lazy, "generic: %s", err);
    CHECK(g && grammar_takes(g, "{\"tool_call\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}}"),
          "generic call refused");
    CHECK(g && grammar_takes(g, "{\"response\": \"Hi\"}"), "generic response refused");
    free(g);
    t.choice = SERVE_TOOLS_REQUIRED;
    CHECK(serve_tools_grammar(&t, true, &g, &lazy, err, sizeof err), "generic required: %s", err);
    CHECK(g && !grammar_takes(g, "{\"response\": \"Hi\"}"), "a response taken when a call is required");
    free(g);
    serve_tools_free(&t);
    json_free(d);
}

// nlohmann's dump(2) (minja's tool list in the generic prompt): one item a line, two spaces a level.
static void test_indented(void) {
    json_doc *d;
    const json_value *v = parse_body(&d, "{\"a\": [1, {\"b\": null, \"c\": []}], \"d\": {}, \"e\": \"x\\ny\"}");
    kite_buf o = {0};
    if (v) put_json_indented(&o, v, 0);
    kite_buf_append(&o, "", 1);
    CHECK(o.ptr && !strcmp(o.ptr, "{\n  \"a\": [\n    1,\n    {\n      \"b\": null,\n      \"c\": []\n    }\n  ],\n"
                                  "  \"d\": {},\n  \"e\": \"x\\ny\"\n}"),
          "indented: %s", o.ptr);
    kite_buf_free(&o);
    json_free(d);
}

// Ids as llama-server's gen_tool_call_id makes them: 32 of [0-9A-Za-z], a new one each time; a
// model's own id (the generic format's) is kept.
static void test_call_ids(void) {
    char a[SERVE_TOOL_ID_LEN + 1], b[SERVE_TOOL_ID_LEN + 1];
    serve_tool_call_id(a);
    serve_tool_call_id(b);
    CHECK(strlen(a) == 32 && strspn(a, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 32, "id %s", a);
    CHECK(strcmp(a, b) != 0, "two ids alike: %s", a);
    serve_tool_split sp = {.generic = true};
    sink s = {0};
    const char *reply = "{\"tool_calls\": [{\"name\": \"f\", \"arguments\": {}, \"id\": \"call_7\"}, {\"name\": \"g\", \"arguments\": {}}]}";
    CHECK(serve_tool_split_feed(&sp, reply, strlen(reply), on_emit, &s) && serve_tool_split_flush(&sp, on_emit, &s), "feed");
    CHECK(sp.n_calls == 2 && !strcmp(sp.calls[0].id, "call_7") && strlen(sp.calls[1].id) == 32, "generic ids");
    serve_tool_split_free(&sp);
    kite_buf_free(&s.text);
}

// Qwen3.5's XML calls: texts as its Jinja template renders calls (an assistant message's
// tool_calls through @huggingface/jinja), read back into the arguments they were rendered from.
static const char XML_TOOLS[] =
    "{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"plan\", \"parameters\": {\"type\": "
    "\"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\"}, \"zip\": "
    "{\"type\": \"string\"}, \"stops\": {\"type\": \"array\"}}, \"required\": [\"city\", \"days\"]}}}, "
    "{\"type\": \"function\", \"function\": {\"name\": \"ping\"}}], \"tool_choice\": \"required\"}";
// {"city": "Paris \"x\"\nline2", "days": 2, "zip": "0123", "stops": [1, "a"]} as the template writes it
static const char XML_CALL[] = "<tool_call>\n<function=plan>\n<parameter=city>\nParis \"x\"\nline2\n</parameter>\n"
                               "<parameter=days>\n2\n</parameter>\n<parameter=zip>\n0123\n</parameter>\n"
                               "<parameter=stops>\n[1, \"a\"]\n</parameter>\n</function>\n</tool_call>";

static kite_buf xml_pieces;
static int xml_firsts;

// Joins the pieces: "INDEX NAME " before a call's first one.
static bool on_xml_delta(void *user, size_t index, const char *id, const char *name, const char *args, size_t len) {
    (void)user;
    if (id || name) {
        CHECK(id && name && strlen(id) == SERVE_TOOL_ID_LEN, "a first piece without id or name");
        char head[80];
        snprintf(head, sizeof head, "%zu %s ", index, name ? name : "");
        kite_buf_puts(&xml_pieces, head);
        xml_firsts++;
    }
    return kite_buf_append(&xml_pieces, args, len);
}

static void test_xml_calls(void) {
    json_doc *d;
    const json_value *b = parse_body(&d, XML_TOOLS);
    serve_tools t;
    char err[300] = "";
    CHECK(b && serve_tools_parse(b, &t, err, sizeof err), "parse: %s", err);
    kite_buf reply = {0};
    kite_buf_puts(&reply, "Let me plan.\n\n");
    kite_buf_puts(&reply, XML_CALL);
    kite_buf_puts(&reply, "\n<tool_call>\n<function=ping>\n</function>\n</tool_call>");
    kite_buf_append(&reply, "", 1);
    for (size_t step = 1; step <= strlen(reply.ptr); step++) {
        serve_tool_split sp = {.xml = true, .tools = &t};
        sink s = {0};
        const size_t n = strlen(reply.ptr);
        for (size_t i = 0; i < n; i += step)
            CHECK(serve_tool_split_feed(&sp, reply.ptr + i, n - i < step ? n - i : step, on_emit, &s), "feed");
        CHECK(serve_tool_split_flush(&sp, on_emit, &s), "flush");
        kite_buf_append(&s.text, "", 1);
        CHECK(s.n_calls == 2, "step %zu: %d calls", step, s.n_calls);
        CHECK(!strcmp(s.calls[0], "plan {\"city\":\"Paris \\\"x\\\"\\nline2\",\"days\":2,\"zip\":\"0123\",\"stops\":[1,\"a\"]}"),
              "step %zu: %s", step, s.calls[0]);
        CHECK(!strcmp(s.calls[1], "ping {}"), "step %zu: %s", step, s.calls[1]);
        CHECK(!strncmp(s.text.ptr, "Let me plan.", 12) && strspn(s.text.ptr + 12, "\n") == strlen(s.text.ptr + 12),
              "step %zu: text '%s'", step, s.text.ptr);
        kite_buf_free(&s.text);
        serve_tool_split_free(&sp);
    }
    // followed as they are written: each call's pieces join into the arguments read whole, its first
    // piece with the id and name
    for (size_t step = 1; step <= strlen(reply.ptr); step++) {
        serve_tool_split sp = {.xml = true, .tools = &t, .delta = on_xml_delta};
        sink s = {0};
        xml_pieces = (kite_buf){0};
        xml_firsts = 0;
        const size_t n = strlen(reply.ptr);
        for (size_t i = 0; i < n; i += step)
            CHECK(serve_tool_split_feed(&sp, reply.ptr + i, n - i < step ? n - i : step, on_emit, &s), "feed");
        CHECK(serve_tool_split_flush(&sp, on_emit, &s), "flush");
        kite_buf_append(&xml_pieces, "", 1);
        CHECK(s.n_calls == 2 && xml_firsts == 2, "step %zu: %d calls, %d first pieces", step, s.n_calls, xml_firsts);
        CHECK(!strcmp(xml_pieces.ptr, "0 plan {\"city\":\"Paris \\\"x\\\"\\nline2\",\"days\":2,\"zip\":\"0123\",\"stops\":[1,\"a\"]}"
                                      "1 ping {}"),
              "step %zu: %s", step, xml_pieces.ptr);
        kite_buf_free(&xml_pieces);
        kite_buf_free(&s.text);
        serve_tool_split_free(&sp);
    }
    kite_buf_free(&reply);
    // what is not a call stays text: an unclosed value, a block without a function, one cut short
    const char *not_calls[] = {
        "<tool_call>\n<function=plan>\n<parameter=city>\nx\n</function>\n</tool_call>",
        "<tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n</tool_call>",
        "<tool_call>\n<function=ping>\n</function>\nafter\n</tool_call>",
        "<tool_call>\n<function=plan>\n<parameter=city>\nx",
    };
    for (size_t k = 0; k < sizeof not_calls / sizeof *not_calls; k++) {
        serve_tool_split sp = {.xml = true, .tools = &t};
        sink s = {0};
        CHECK(serve_tool_split_feed(&sp, not_calls[k], strlen(not_calls[k]), on_emit, &s), "feed");
        CHECK(serve_tool_split_flush(&sp, on_emit, &s), "flush");
        kite_buf_append(&s.text, "", 1);
        CHECK(s.n_calls == 0 && !strcmp(s.text.ptr, not_calls[k]), "%zu: %d calls, text '%s'", k, s.n_calls, s.text.ptr);
        kite_buf_free(&s.text);
        serve_tool_split_free(&sp);
    }
    // the grammar: the declared functions and parameters, required ones in any order
    char *g = NULL;
    bool lazy = true;
    CHECK(serve_tools_grammar_xml(&t, &g, &lazy, err, sizeof err), "grammar: %s", err);
    CHECK(!lazy, "a required call's grammar is lazy");
    CHECK(g && grammar_takes(g, XML_CALL), "the template's call refused by\n%s", g ? g : "");
    CHECK(g && grammar_takes(g, "<tool_call>\n<function=ping>\n</function>\n</tool_call>"), "ping refused");
    CHECK(g && grammar_takes(g, "<tool_call>\n<function=plan>\n<parameter=days>\n7\n</parameter>\n<parameter=city>\n"
                                "a\n</parameter>\n</function>\n</tool_call>"),
          "required parameters in another order refused");
    CHECK(g && !grammar_takes(g, "<tool_call>\n<function=pong>\n</function>\n</tool_call>"), "unknown name taken");
    CHECK(g && !grammar_takes(g, "<tool_call>\n<function=plan>\n<parameter=city>\na\n</parameter>\n</function>\n"
                                 "</tool_call>"),
          "a missing required parameter taken");
    CHECK(g && !grammar_takes(g, "<tool_call>\n<function=plan>\n<parameter=city>\na\n</parameter>\n<parameter=days>\n"
                                 "two\n</parameter>\n</function>\n</tool_call>"),
          "a non-integer days taken");
    CHECK(g && !grammar_takes(g, "<tool_call>\n<function=plan>\n<parameter=city>\na\n</parameter>\n<parameter=days>\n"
                                 "2\n</parameter>\n<parameter=color>\nred\n</parameter>\n</function>\n</tool_call>"),
          "an undeclared parameter taken");
    free(g);
    t.choice = SERVE_TOOLS_AUTO;
    CHECK(serve_tools_grammar_xml(&t, &g, &lazy, err, sizeof err) && lazy, "auto is not lazy");
    free(g);
    serve_tools_free(&t);
    json_free(d);
}

// serve_tool_reply's text is the same however the reply is cut (found by fuzz_tool_calls: the
// whitespace before a call was dropped when it came as a piece of its own, kept when it ended a
// longer piece).
static bool on_reply_text(void *user, const char *text, size_t len) { return kite_buf_append(user, text, len); }
static bool on_reply_call(void *user, size_t index, const serve_tool_call *call) {
    (void)user, (void)index, (void)call;
    return true;
}

static void test_reply_whitespace(void) {
    static const struct {
        const char *reply, *text;
    } cases[] = {
        {"Let me look.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>", "Let me look."},
        {"a \n b\t\n<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>\n after \n", "a \n b\n after"},
        {"no call \n", "no call \n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const size_t n = strlen(cases[i].reply);
        for (size_t step = 1; step <= n; step++) {
            kite_buf text = {0};
            serve_tool_reply r = {.text = on_reply_text, .call = on_reply_call, .user = &text};
            for (size_t at = 0; at < n; at += step)
                CHECK(serve_tool_reply_feed(&r, cases[i].reply + at, n - at < step ? n - at : step), "feed");
            CHECK(serve_tool_reply_flush(&r), "flush");
            kite_buf_append(&text, "", 1);
            CHECK(!strcmp(text.ptr, cases[i].text), "reply %zu in pieces of %zu: text '%s', want '%s'", i, step, text.ptr,
                  cases[i].text);
            serve_tool_reply_free(&r);
            kite_buf_free(&text);
        }
    }
}

// An XML block followed as it is written (delta) ends at its first "</tool_call>", as a whole
// block does, even when a parameter value seems to run past it (found by fuzz_tool_calls: fed
// whole, the value was read up to the "</parameter>" after the close tag, which swallowed the
// text after the block; fed in pieces, the close tag came first).
typedef struct reply_sink {
    kite_buf text;
    int calls;
} reply_sink;
static bool on_sink_text(void *user, const char *text, size_t len) {
    return kite_buf_append(&((reply_sink *)user)->text, text, len);
}
static bool on_sink_call(void *user, size_t index, const serve_tool_call *call) {
    (void)index, (void)call;
    ((reply_sink *)user)->calls++;
    return true;
}
static bool on_sink_delta(void *user, size_t index, const char *id, const char *name, const char *args, size_t len) {
    (void)user, (void)index, (void)id, (void)name, (void)args, (void)len;
    return true;
}

static void test_xml_close_first(void) {
    static const char reply[] = "<tool_call>\n<function=f>\n<parameter=a>\nx</tool_call> after\n</parameter>\n";
    const size_t n = sizeof reply - 1;
    for (size_t step = 1; step <= n; step++) {
        reply_sink got = {0};
        serve_tool_reply r = {.text = on_sink_text, .call = on_sink_call, .delta = on_sink_delta, .user = &got};
        r.split.xml = true;
        for (size_t at = 0; at < n; at += step)
            CHECK(serve_tool_reply_feed(&r, reply + at, n - at < step ? n - at : step), "feed");
        CHECK(serve_tool_reply_flush(&r), "flush");
        kite_buf_append(&got.text, "", 1);
        CHECK(got.calls == 1 && !strcmp(got.text.ptr, " after\n</parameter>"), "pieces of %zu: %d calls, text '%s'", step,
              got.calls, got.text.ptr);
        serve_tool_reply_free(&r);
        kite_buf_free(&got.text);
    }
}

// The prompt of {"messages": [{role, "Be brief."}, {"user", "Hi"}]} with template tmpl, or the
// error (into out either way).
static bool role_prompt(const char *tmpl, const char *role, char *out, size_t cap) {
    char body[200];
    snprintf(body, sizeof body, "{\"messages\": [{\"role\": \"%s\", \"content\": \"Be brief.\"}, "
             "{\"role\": \"user\", \"content\": \"Hi\"}]}", role);
    json_doc *d = NULL;
    const json_value *b = parse_body(&d, body);
    char *prompt = NULL;
    bool ok = b && chat_request_prompt(tmpl, b, KITE_CHAT_ADD_ASSISTANT, &prompt, NULL, out, cap);
    if (ok) snprintf(out, cap, "%s", prompt);
    free(prompt);
    json_free(d);
    return ok;
}

// OpenAI's roles pass; "developer" is the system's, as llama.cpp maps it, but for GPT-OSS, whose
// template has a developer turn (llama.cpp keeps it there); any other role is refused by name.
static void test_roles(void) {
    char got[512], sys[512];
    CHECK(role_prompt("chatml", "system", sys, sizeof sys), "system: %s", sys);
    CHECK(role_prompt("chatml", "developer", got, sizeof got) && !strcmp(got, sys), "chatml developer: %s", got);
    // llama.cpp's OpenAI-MoE template: <|start|>ROLE<|message|>TEXT<|end|> ... <|start|>assistant
    CHECK(role_prompt("gpt-oss", "developer", got, sizeof got) &&
              !strcmp(got, "<|start|>developer<|message|>Be brief.<|end|><|start|>user<|message|>Hi<|end|>"
                           "<|start|>assistant"),
          "gpt-oss developer: %s", got);
    CHECK(!role_prompt("chatml", "robot", got, sizeof got) &&
              !strcmp(got, "messages[0].role is 'robot': expected system, developer, user, assistant or tool"),
          "robot: %s", got);
    CHECK(!role_prompt("chatml", "", got, sizeof got) && strstr(got, "messages[0].role is ''"), "empty role: %s", got);
}

int main(void) {
    test_roles();
    test_reply_whitespace();
    test_xml_close_first();
    test_xml_calls();
    test_call_ids();
    test_hermes_split();
    test_hermes_deltas();
    test_generic_split();
    test_grammars();
    test_indented();
    return check_done("test_serve_tools");
}
