// tool_calls.c - OpenAI tool calling for `kite serve` and the npm chat (see tool_calls.h): tools as the chat
// template prints them, the tool-call grammar, and the reply's calls (Hermes blocks and the generic JSON format;
// Qwen3.5's XML calls are tool_calls_xml.c's).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "kite.h"
#include "tool_calls.h"
#include "tool_calls_internal.h"

// ---- JSON text ----------------------------------------------------------------------------------

void serve__put_string(kite_buf *o, const char *s, size_t n) {
    json_writer w = {0};
    jw_string(&w, s, n);
    if (w.out.ptr) kite_buf_append(o, w.out.ptr, w.out.len);
    if (w.out.nomem) o->nomem = true;
    jw_free(&w);
}

// v as JSON text: spaced (tojson: ", " and ": ") or compact.
void serve__put_json(kite_buf *o, const json_value *v, bool spaced) {
    switch (v->type) {
    case JSON_NULL: kite_buf_puts(o, "null"); break;
    case JSON_BOOL: kite_buf_puts(o, v->boolean ? "true" : "false"); break;
    case JSON_NUMBER: {
        json_writer w = {0};
        jw_number(&w, v->number);
        if (w.out.ptr) kite_buf_append(o, w.out.ptr, w.out.len);
        jw_free(&w);
        break;
    }
    case JSON_STRING: serve__put_string(o, v->str, v->len); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        kite_buf_puts(o, v->type == JSON_ARRAY ? "[" : "{");
        for (const json_value *x = v->child; x; x = x->next) {
            if (x != v->child) kite_buf_puts(o, spaced ? ", " : ",");
            if (v->type == JSON_OBJECT) {
                serve__put_string(o, x->key, x->key_len);
                kite_buf_puts(o, spaced ? ": " : ":");
            }
            serve__put_json(o, x, spaced);
        }
        kite_buf_puts(o, v->type == JSON_ARRAY ? "]" : "}");
        break;
    }
}

void serve_tojson(kite_buf *o, const json_value *v) { serve__put_json(o, v, true); }

static void put_indent(kite_buf *o, int n) {
    for (int i = 0; i < n; i++) kite_buf_puts(o, " ");
}

// v as nlohmann's dump(2) writes it: one member or element a line, two spaces a level.
static void put_json_indented(kite_buf *o, const json_value *v, int depth) {
    if ((v->type != JSON_ARRAY && v->type != JSON_OBJECT) || v->len == 0) {
        serve__put_json(o, v, false);
        return;
    }
    kite_buf_puts(o, v->type == JSON_ARRAY ? "[\n" : "{\n");
    for (const json_value *x = v->child; x; x = x->next) {
        put_indent(o, 2 * (depth + 1));
        if (v->type == JSON_OBJECT) {
            serve__put_string(o, x->key, x->key_len);
            kite_buf_puts(o, ": ");
        }
        put_json_indented(o, x, depth + 1);
        kite_buf_puts(o, x->next ? ",\n" : "\n");
    }
    put_indent(o, 2 * depth);
    kite_buf_puts(o, v->type == JSON_ARRAY ? "]" : "}");
}

// The JSON text src (compact, built here) indented into o.
static void put_indented_text(kite_buf *o, const char *src, size_t len) {
    char err[8];
    json_doc *d = json_parse(src, len, err, sizeof err);
    if (!d) {
        o->nomem = true; // only an allocation failure makes text built here unparseable
        return;
    }
    put_json_indented(o, json_root(d), 0);
    json_free(d);
}

char *serve__take(kite_buf *b) {
    if (b->nomem) {
        kite_buf_free(b);
        return NULL;
    }
    if (!b->ptr) return strdup("");
    return b->ptr;
}

// ---- the request ----------------------------------------------------------------------------

bool serve__tools_fail(char *err, size_t es, const char *msg) {
    snprintf(err, es, "%s", msg);
    return false;
}

// tools[i]: {"type": "function", "function": {"name", "description"?, "parameters"?}}.
static bool parse_tool(const json_value *x, size_t i, serve_tools *t, char *err, size_t es) {
    const json_value *type = json_get(x, "type"), *fn = json_get(x, "function");
    if (x->type != JSON_OBJECT) {
        snprintf(err, es, "tools[%zu] must be an object, not %s", i, json_type_name(x->type));
        return false;
    }
    if (!type || type->type != JSON_STRING || strcmp(type->str, "function") != 0) {
        snprintf(err, es, "tools[%zu].type must be \"function\"", i);
        return false;
    }
    if (!fn || fn->type != JSON_OBJECT) {
        snprintf(err, es, "tools[%zu].function must be an object", i);
        return false;
    }
    const json_value *name = json_get(fn, "name"), *desc = json_get(fn, "description"),
                     *params = json_get(fn, "parameters");
    if (!name || name->type != JSON_STRING || name->len == 0 || memchr(name->str, 0, name->len)) {
        snprintf(err, es, "tools[%zu].function.name must be a non-empty string", i);
        return false;
    }
    for (size_t k = 0; k < i; k++)
        if (strcmp(t->names[k], name->str) == 0) {
            snprintf(err, es, "tools[%zu].function.name '%.64s' repeats tools[%zu]'s", i, name->str, k);
            return false;
        }
    if (desc && desc->type != JSON_NULL && desc->type != JSON_STRING) {
        snprintf(err, es, "tools[%zu].function.description must be a string", i);
        return false;
    }
    if (params && params->type != JSON_NULL && params->type != JSON_OBJECT) {
        snprintf(err, es, "tools[%zu].function.parameters must be a JSON schema object, not %s", i,
                 json_type_name(params->type));
        return false;
    }
    // as llama.cpp hands tools to the template: type, then name, description ("" if none) and
    // parameters ({} if none), whatever else the tool carried left out
    kite_buf j = {0}, p = {0};
    kite_buf_puts(&j, "{\"type\": \"function\", \"function\": {\"name\": ");
    serve__put_string(&j, name->str, name->len);
    kite_buf_puts(&j, ", \"description\": ");
    if (desc && desc->type == JSON_STRING) serve__put_string(&j, desc->str, desc->len);
    else kite_buf_puts(&j, "\"\"");
    kite_buf_puts(&j, ", \"parameters\": ");
    if (params && params->type == JSON_OBJECT) serve_tojson(&j, params);
    else kite_buf_puts(&j, "{}");
    kite_buf_puts(&j, "}}");
    // the grammar's schema: no parameters (or {}) is an object of any members
    if (params && params->type == JSON_OBJECT && params->len > 0) serve__put_json(&p, params, false);
    else kite_buf_puts(&p, "{\"type\":\"object\",\"properties\":{}}");
    t->json[i] = serve__take(&j);
    t->params[i] = serve__take(&p);
    t->names[i] = strdup(name->str);
    if (!t->json[i] || !t->params[i] || !t->names[i]) return serve__tools_fail(err, es, "out of memory");
    // a schema the converter refuses is named here, not deep in the call grammar's schema
    char *g = NULL;
    kite_status st = kite_json_schema_to_grammar(t->params[i], strlen(t->params[i]), &g);
    free(g);
    if (st != KITE_OK) {
        snprintf(err, es, "tools[%zu].function.parameters: %s", i, kite_last_error());
        return false;
    }
    return true;
}

bool serve_tools_parse(const json_value *b, serve_tools *t, char *err, size_t es) {
    *t = (serve_tools){0};
    const json_value *tools = json_get(b, "tools"), *tc = json_get(b, "tool_choice"),
                     *par = json_get(b, "parallel_tool_calls");
    if (tools && tools->type != JSON_NULL) {
        if (tools->type != JSON_ARRAY) {
            snprintf(err, es, "'tools' must be an array, not %s", json_type_name(tools->type));
            return false;
        }
        size_t n = tools->len ? tools->len : 1;
        t->json = calloc(n, sizeof *t->json);
        t->names = calloc(n, sizeof *t->names);
        t->params = calloc(n, sizeof *t->params);
        if (!t->json || !t->names || !t->params) return serve__tools_fail(err, es, "out of memory");
        for (const json_value *x = tools->child; x; x = x->next, t->n++)
            if (!parse_tool(x, t->n, t, err, es)) {
                t->n++; // its strings, if any, are freed with the rest
                return false;
            }
    }
    if (par && par->type != JSON_NULL) {
        if (par->type != JSON_BOOL) {
            snprintf(err, es, "'parallel_tool_calls' must be a boolean, not %s", json_type_name(par->type));
            return false;
        }
        t->parallel = par->boolean;
    }
    t->choice = SERVE_TOOLS_AUTO;
    if (!tc || tc->type == JSON_NULL) return true;
    if (tc->type == JSON_STRING) {
        if (strcmp(tc->str, "auto") == 0) t->choice = SERVE_TOOLS_AUTO;
        else if (strcmp(tc->str, "none") == 0) t->choice = SERVE_TOOLS_NONE;
        else if (strcmp(tc->str, "required") == 0) t->choice = SERVE_TOOLS_REQUIRED;
        else {
            snprintf(err, es, "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", "
                              "\"function\": {\"name\": ...}}, not \"%.40s\"", tc->str);
            return false;
        }
    } else {
        const json_value *fn = json_get(tc, "function"), *name = fn ? json_get(fn, "name") : NULL;
        if (tc->type != JSON_OBJECT || !name || name->type != JSON_STRING) {
            snprintf(err, es, "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", "
                              "\"function\": {\"name\": ...}}");
            return false;
        }
        for (size_t k = 0; k < t->n && !t->forced; k++)
            if (strcmp(t->names[k], name->str) == 0) t->forced = t->names[k];
        if (!t->forced) {
            snprintf(err, es, "'tool_choice.function.name' '%.64s' is not one of the tools", name->str);
            return false;
        }
        t->choice = SERVE_TOOLS_REQUIRED;
    }
    if (t->choice == SERVE_TOOLS_REQUIRED && t->n == 0) {
        snprintf(err, es, "'tool_choice' asks for a tool call but 'tools' gives none");
        return false;
    }
    return true;
}

void serve_tools_free(serve_tools *t) {
    for (size_t i = 0; i < t->n; i++) {
        if (t->json) free(t->json[i]);
        if (t->names) free(t->names[i]);
        if (t->params) free(t->params[i]);
    }
    free(t->json);
    free(t->names);
    free(t->params);
    *t = (serve_tools){0};
}

bool serve_tools_active(const serve_tools *t) { return t->n > 0 && t->choice != SERVE_TOOLS_NONE; }

static const char GENERIC_RESPOND[] =
    "Respond in JSON format, either with `tool_call` (a request to call tools) or with `response` reply to the "
    "user's request";
static const char GENERIC_EXAMPLE[] = "{\n  \"tool_calls\": [\n    {\n      \"name\": \"tool_name\",\n      \"arguments\": "
                                      "{\n        \"arg1\": \"some_value\"\n      },\n      \"id\": \"call_1___\"\n    }\n  ]\n}";

char *serve_tools_generic_system(const serve_tools *t) {
    kite_buf o = {0};
    if (serve_tools_active(t)) kite_buf_puts(&o, GENERIC_RESPOND);
    if (t->n > 0) {
        if (o.len) kite_buf_puts(&o, "\n\n");
        kite_buf_puts(&o, "You can call any of the following tools to satisfy the user's requests: ");
        kite_buf arr = {0};
        kite_buf_puts(&arr, "[");
        for (size_t i = 0; i < t->n; i++) {
            if (i) kite_buf_puts(&arr, ",");
            kite_buf_puts(&arr, t->json[i]);
        }
        kite_buf_puts(&arr, "]");
        if (arr.nomem) o.nomem = true;
        else put_indented_text(&o, arr.ptr, arr.len);
        kite_buf_free(&arr);
        kite_buf_puts(&o, "\n\nExample tool call syntax:\n\n");
        kite_buf_puts(&o, GENERIC_EXAMPLE);
        kite_buf_puts(&o, "\n\n");
    }
    return serve__take(&o);
}

char *serve_tools_generic_calls(const json_value *tool_calls, const char *content) {
    kite_buf c = {0}, o = {0};
    kite_buf_puts(&c, "{\"tool_calls\":[");
    size_t k = 0;
    for (const json_value *x = tool_calls->child; x; x = x->next) {
        const json_value *fn = json_get(x, "function"), *id = json_get(x, "id");
        const json_value *name = json_get(fn, "name"), *args = json_get(fn, "arguments");
        if (k++) kite_buf_puts(&c, ",");
        kite_buf_puts(&c, "{\"name\":");
        serve__put_json(&c, name, false);
        kite_buf_puts(&c, ",\"arguments\":");
        json_doc *parsed = NULL;
        char err[8];
        if (args->type == JSON_STRING && (parsed = json_parse(args->str, args->len, err, sizeof err)))
            serve__put_json(&c, json_root(parsed), false);
        else serve__put_json(&c, args, false);
        json_free(parsed);
        if (id && id->type != JSON_NULL) {
            kite_buf_puts(&c, ",\"id\":");
            serve__put_json(&c, id, false);
        }
        kite_buf_puts(&c, "}");
    }
    kite_buf_puts(&c, "]");
    if (content[0]) {
        kite_buf_puts(&c, ",\"content\":");
        serve__put_string(&c, content, strlen(content));
    }
    kite_buf_puts(&c, "}");
    if (c.nomem) o.nomem = true;
    else put_indented_text(&o, c.ptr, c.len);
    kite_buf_free(&c);
    return serve__take(&o);
}

char *serve_tools_generic_result(const json_value *msg, const char *content) {
    kite_buf c = {0}, o = {0};
    const json_value *name = json_get(msg, "name"), *id = json_get(msg, "tool_call_id");
    kite_buf_puts(&c, "{\"tool_response\":{");
    if (name && name->type != JSON_NULL) {
        kite_buf_puts(&c, "\"tool\":");
        serve__put_json(&c, name, false);
        kite_buf_puts(&c, ",");
    }
    kite_buf_puts(&c, "\"content\":");
    serve__put_string(&c, content, strlen(content));
    if (id && id->type != JSON_NULL) {
        kite_buf_puts(&c, ",\"tool_call_id\":");
        serve__put_json(&c, id, false);
    }
    kite_buf_puts(&c, "}}");
    if (c.nomem) o.nomem = true;
    else put_indented_text(&o, c.ptr, c.len);
    kite_buf_free(&c);
    return serve__take(&o);
}

// One call's schema: {"name": const, "arguments": the parameters}.
static void put_call_schema(kite_buf *s, const serve_tools *t, size_t i) {
    kite_buf_puts(s, "{\"type\":\"object\",\"properties\":{\"name\":{\"const\":");
    serve__put_string(s, t->names[i], strlen(t->names[i]));
    kite_buf_puts(s, "},\"arguments\":");
    kite_buf_puts(s, t->params[i]);
    kite_buf_puts(s, "},\"required\":[\"name\",\"arguments\"]}");
}

// A call's schema in the generic format: the name as a typed const, and an "id" when calls
// are parallel.
static void put_generic_call_schema(kite_buf *s, const serve_tools *t, size_t i) {
    kite_buf_puts(s, "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"const\":");
    serve__put_string(s, t->names[i], strlen(t->names[i]));
    kite_buf_puts(s, "},\"arguments\":");
    kite_buf_puts(s, t->params[i]);
    kite_buf_puts(s, t->parallel ? ",\"id\":{\"type\":\"string\",\"minLength\":4}},\"required\":[\"name\",\"arguments\",\"id\"]}"
                                 : "},\"required\":[\"name\",\"arguments\"]}");
}

// The schemas of the calls the request allows (every tool, or the one tool_choice names), each
// by put_one: the one schema alone, several as {"anyOf": [...]}.
static void put_allowed_calls(kite_buf *s, const serve_tools *t,
                              void (*put_one)(kite_buf *, const serve_tools *, size_t)) {
    size_t n_alt = 0;
    for (size_t i = 0; i < t->n; i++) n_alt += !t->forced || t->forced == t->names[i];
    if (n_alt > 1) kite_buf_puts(s, "{\"anyOf\":[");
    for (size_t i = 0, k = 0; i < t->n; i++) {
        if (t->forced && t->forced != t->names[i]) continue;
        if (k++) kite_buf_puts(s, ",");
        put_one(s, t, i);
    }
    if (n_alt > 1) kite_buf_puts(s, "]}");
}

// The generic format's schema: {"tool_call": call} or {"tool_calls": [call, ...]}, or
// {"response": string} unless a call is required (llama.cpp's generic handler; a parallel call
// carries an "id" of 4 characters or more).
static bool generic_grammar(const serve_tools *t, char **out, char *err, size_t es) {
    kite_buf s = {0};
    const bool req = t->choice == SERVE_TOOLS_REQUIRED;
    if (!req) kite_buf_puts(&s, "{\"anyOf\":[");
    kite_buf_puts(&s, t->parallel ? "{\"type\":\"object\",\"properties\":{\"tool_calls\":{\"type\":\"array\",\"items\":"
                                  : "{\"type\":\"object\",\"properties\":{\"tool_call\":");
    put_allowed_calls(&s, t, put_generic_call_schema);
    kite_buf_puts(&s, t->parallel ? ",\"minItems\":1}},\"required\":[\"tool_calls\"]}" : "},\"required\":[\"tool_call\"]}");
    if (!req)
        kite_buf_puts(&s, ",{\"type\":\"object\",\"properties\":{\"response\":{\"type\":\"string\"}},\"required\":[\"response\"]}]}");
    if (s.nomem) {
        kite_buf_free(&s);
        return serve__tools_fail(err, es, "out of memory");
    }
    kite_status st = kite_json_schema_to_grammar(s.ptr, s.len, out);
    kite_buf_free(&s);
    if (st != KITE_OK) snprintf(err, es, "'tools': a function's parameters: %s", kite_last_error());
    return st == KITE_OK;
}

bool serve_tools_grammar(const serve_tools *t, bool generic, char **out, bool *lazy, char *err, size_t es) {
    *out = NULL;
    *lazy = !generic && t->choice != SERVE_TOOLS_REQUIRED;
    if (generic) return generic_grammar(t, out, err, es);
    kite_buf s = {0};
    put_allowed_calls(&s, t, put_call_schema);
    if (s.nomem) {
        kite_buf_free(&s);
        return serve__tools_fail(err, es, "out of memory");
    }
    char *rules = NULL;
    kite_status st = kite_json_schema_to_grammar_rule(s.ptr, s.len, "tool-call", &rules);
    kite_buf_free(&s);
    if (st != KITE_OK) {
        snprintf(err, es, "'tools': a function's parameters: %s", kite_last_error());
        return false;
    }
    kite_buf g = {0};
    kite_buf_puts(&g, t->parallel ? "root ::= tool-call-item (space tool-call-item)*\n" : "root ::= tool-call-item\n");
    kite_buf_puts(&g, "tool-call-item ::= \"" SERVE_TOOL_TRIGGER "\" space tool-call space \"</tool_call>\"\n");
    kite_buf_puts(&g, rules);
    free(rules);
    if (!(*out = serve__take(&g))) return serve__tools_fail(err, es, "out of memory");
    return true;
}

// ---- the reply --------------------------------------------------------------------------------

static const char CLOSE_TAG[] = "</tool_call>";

bool serve__is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// The call in a block's inside ({"name": "...", "arguments": {...}}), or false.
static bool parse_call(const char *s, size_t n, serve_tool_call *c) {
    while (n > 0 && serve__is_space(*s)) s++, n--;
    while (n > 0 && serve__is_space(s[n - 1])) n--;
    char err[8];
    json_doc *d = json_parse(s, n, err, sizeof err);
    if (!d) return false;
    const json_value *v = json_root(d), *name = json_get(v, "name"), *args = json_get(v, "arguments");
    bool ok = name && name->type == JSON_STRING && name->len > 0 && !memchr(name->str, 0, name->len) && args &&
              (args->type == JSON_OBJECT || args->type == JSON_STRING);
    if (ok) {
        kite_buf a = {0};
        if (args->type == JSON_OBJECT) serve__put_json(&a, args, false);
        else kite_buf_append(&a, args->str, args->len); // already the arguments' text
        c->arguments = serve__take(&a);
        c->name = strdup(name->str);
        // the model's own id (the generic format's parallel calls have one), as llama.cpp keeps it
        const json_value *id = json_get(v, "id");
        const bool has_id = id && id->type == JSON_STRING && id->len > 0 && !memchr(id->str, 0, id->len);
        c->id = has_id ? strdup(id->str) : NULL;
        ok = c->arguments && c->name && (!has_id || c->id);
        if (!ok) {
            free(c->arguments);
            free(c->name);
            free(c->id);
        }
    }
    json_free(d);
    return ok;
}

// The longest suffix of s[0..n) that begins the open tag.
static size_t tag_prefix(const char *s, size_t n) {
    const size_t tl = sizeof SERVE_TOOL_TRIGGER - 1;
    for (size_t k = n < tl - 1 ? n : tl - 1; k > 0; k--)
        if (memcmp(s + n - k, SERVE_TOOL_TRIGGER, k) == 0) return k;
    return 0;
}

const char *serve__find(const char *s, size_t n, const char *needle) {
    const size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0) return s + i;
    return NULL;
}

static void drop_front(kite_buf *b, size_t n) {
    memmove(b->ptr, b->ptr + n, b->len - n);
    b->len -= n;
}

void serve_tool_call_id(char out[SERVE_TOOL_ID_LEN + 1]) {
    static const char ALNUM[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char r[SERVE_TOOL_ID_LEN];
    if (getentropy(r, sizeof r) != 0) { // no entropy source: the clock and a counter, mixed
        static uint64_t counter;
        uint64_t x = (uint64_t)time(NULL) ^ (uint64_t)clock() << 20 ^ ++counter * 0x9E3779B97F4A7C15u;
        for (size_t i = 0; i < sizeof r; i++) {
            x += 0x9E3779B97F4A7C15u;
            uint64_t z = (x ^ x >> 30) * 0xBF58476D1CE4E5B9u;
            z = (z ^ z >> 27) * 0x94D049BB133111EBu;
            r[i] = (unsigned char)(z ^ z >> 31);
        }
    }
    for (size_t i = 0; i < SERVE_TOOL_ID_LEN; i++) out[i] = ALNUM[r[i] % (sizeof ALNUM - 1)];
    out[SERVE_TOOL_ID_LEN] = 0;
}

static void call_free(serve_tool_call *c) {
    free(c->id);
    free(c->name);
    free(c->arguments);
}

// Gives c an id of its own when it has none. false when out of memory.
static bool ensure_id(serve_tool_call *c, const char *id) {
    if (c->id) return true;
    char fresh[SERVE_TOOL_ID_LEN + 1];
    if (!id) serve_tool_call_id(fresh);
    return (c->id = strdup(id ? id : fresh)) != NULL;
}

// Adds a call to the list and emits it.
static bool add_call(serve_tool_split *s, serve_tool_call c, serve_tool_emit emit, void *user) {
    serve_tool_call *grown = ensure_id(&c, NULL) ? realloc(s->calls, (s->n_calls + 1) * sizeof *grown) : NULL;
    if (!grown) {
        call_free(&c);
        return false;
    }
    s->calls = grown;
    s->calls[s->n_calls++] = c;
    return emit(user, NULL, 0, &s->calls[s->n_calls - 1]);
}

// Adds a call found whole: it goes out through delta too (name and arguments in one piece).
static bool add_whole_call(serve_tool_split *s, serve_tool_call c, serve_tool_emit emit, void *user) {
    if (!ensure_id(&c, NULL) ||
        (s->delta && !s->delta(user, s->n_calls, c.id, c.name, c.arguments, strlen(c.arguments)))) {
        call_free(&c);
        return false;
    }
    return add_call(s, c, emit, user);
}

// The generic format's reply: {"tool_call": call}, {"tool_calls": [calls]} or {"response": text};
// anything else is text as it is.
static bool generic_flush(serve_tool_split *s, serve_tool_emit emit, void *user) {
    char err[8];
    json_doc *d = json_parse(s->held.ptr ? s->held.ptr : "", s->held.len, err, sizeof err);
    const json_value *v = d ? json_root(d) : NULL;
    const json_value *one = v ? json_get(v, "tool_call") : NULL, *many = v ? json_get(v, "tool_calls") : NULL,
                     *resp = v ? json_get(v, "response") : NULL;
    bool ok = true, done = false;
    if (many && many->type == JSON_ARRAY) {
        done = true;
        for (const json_value *x = many->child; x && ok; x = x->next) {
            kite_buf t = {0};
            serve__put_json(&t, x, false);
            serve_tool_call c = {0};
            if (!t.nomem && parse_call(t.ptr, t.len, &c)) ok = add_whole_call(s, c, emit, user);
            kite_buf_free(&t);
        }
    } else if (one && one->type == JSON_OBJECT) {
        kite_buf t = {0};
        serve__put_json(&t, one, false);
        serve_tool_call c = {0};
        if (!t.nomem && parse_call(t.ptr, t.len, &c)) ok = add_whole_call(s, c, emit, user), done = true;
        kite_buf_free(&t);
    } else if (resp) {
        done = true;
        if (resp->type == JSON_STRING) ok = resp->len == 0 || emit(user, resp->str, resp->len, NULL);
        else {
            kite_buf t = {0};
            serve__put_json(&t, resp, false);
            ok = !t.nomem && emit(user, t.ptr, t.len, NULL);
            kite_buf_free(&t);
        }
    }
    json_free(d);
    if (!done && ok && s->held.len) ok = emit(user, s->held.ptr, s->held.len, NULL);
    s->held.len = 0;
    return ok;
}

// ---- a call followed as it is written (serve_tool_split.delta) ----

static void open_reset(serve_tool_split *s) {
    free(s->open_name);
    s->open_name = NULL;
    s->open_stage = 0;
    s->scan = s->args.len = s->args_sent = 0;
    s->depth = 0;
    s->in_string = s->escape = false;
}

size_t serve__skip_space(const char *s, size_t at, size_t n) {
    while (at < n && serve__is_space(s[at])) at++;
    return at;
}

// The JSON string token at s[at..n) (at: its opening quote): its end (past the closing quote),
// or 0 when it is not closed yet.
static size_t string_end(const char *s, size_t at, size_t n) {
    for (size_t i = at + 1; i < n; i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == '"') return i + 1;
    }
    return 0;
}

// The decoded text of the string token s[at..end), malloc'd; NULL when it is not a string without
// NUL bytes (or out of memory).
static char *string_value(const char *s, size_t at, size_t end) {
    char err[8];
    json_doc *d = json_parse(s + at, end - at, err, sizeof err);
    const json_value *v = d ? json_root(d) : NULL;
    char *out = v && v->type == JSON_STRING && !memchr(v->str, 0, v->len) ? strdup(v->str) : NULL;
    json_free(d);
    return out;
}

// Reads a block's head, {"name": "...", "arguments": {, from s[at..n): 1 with the name and the
// offset of the arguments' "{", 0 when more text is needed, -1 when the block does not start so.
static int read_head(const char *s, size_t at, size_t n, char **name, size_t *args_at) {
    static const char *const keys[2] = {"name", "arguments"};
    *name = NULL;
    at = serve__skip_space(s, at, n);
    if (at == n) return 0;
    if (s[at++] != '{') return -1;
    for (int k = 0; k < 2; k++) {
        at = serve__skip_space(s, at, n);
        if (k == 1) { // the comma after the name
            if (at == n) goto more;
            if (s[at++] != ',') goto no;
            at = serve__skip_space(s, at, n);
        }
        if (at == n) goto more;
        if (s[at] != '"') goto no;
        size_t end = string_end(s, at, n);
        if (!end) goto more;
        char *key = string_value(s, at, end);
        const bool same = key && !strcmp(key, keys[k]);
        free(key);
        if (!same) goto no;
        at = serve__skip_space(s, end, n);
        if (at == n) goto more;
        if (s[at++] != ':') goto no;
        at = serve__skip_space(s, at, n);
        if (at == n) goto more;
        if (k == 1) {
            if (s[at] != '{') goto no;
            *args_at = at;
            return 1;
        }
        if (s[at] != '"') goto no;
        if (!(end = string_end(s, at, n))) goto more;
        if (!(*name = string_value(s, at, end)) || !**name) goto no;
        at = end;
    }
no:
    free(*name);
    *name = NULL;
    return -1;
more:
    free(*name);
    *name = NULL;
    return 0;
}

// Sends the arguments read and not yet sent (whole UTF-8 characters), with the call's name the
// first time.
bool serve__send_args(serve_tool_split *s, bool first, void *user) {
    const size_t ready = s->args_sent + json_utf8_complete(s->args.ptr + s->args_sent, s->args.len - s->args_sent);
    if (!first && ready == s->args_sent) return true;
    const char *from = s->args.ptr ? s->args.ptr + s->args_sent : "";
    if (first) serve_tool_call_id(s->open_id);
    bool ok = s->delta(user, s->n_calls, first ? s->open_id : NULL, first ? s->open_name : NULL, from,
                       ready - s->args_sent);
    s->args_sent = ready;
    return ok;
}

// Follows the open block (held starts with "<tool_call>"): its head, then its arguments piece by
// piece up to their closing brace.
static bool follow_open(serve_tool_split *s, void *user) {
    const size_t ol = sizeof SERVE_TOOL_TRIGGER - 1;
    const bool first = s->open_stage == 0;
    if (first) {
        // the head lies before the block's first close tag (a name running past it is not a
        // call's, however the text was cut: fed whole, the name was read through it)
        const char *close = serve__find(s->held.ptr + ol, s->held.len - ol, CLOSE_TAG);
        const size_t n = close ? (size_t)(close - s->held.ptr) : s->held.len;
        const int r = read_head(s->held.ptr, ol, n, &s->open_name, &s->scan);
        if (r <= 0) {
            if (r < 0) s->open_stage = -1;
            return true;
        }
        s->open_stage = 1;
    }
    if (s->open_stage != 1) return true;
    for (; s->scan < s->held.len && s->open_stage == 1; s->scan++) {
        const char c = s->held.ptr[s->scan];
        if (s->in_string) {
            if (s->escape) s->escape = false;
            else if (c == '\\') s->escape = true;
            else if (c == '"') s->in_string = false;
        } else if (serve__is_space(c)) {
            continue;
        } else if (c == '"') {
            s->in_string = true;
        } else if (c == '{' || c == '[') {
            s->depth++;
        } else if ((c == '}' || c == ']') && --s->depth == 0) {
            s->open_stage = 2;
        }
        if (!kite_buf_append(&s->args, &c, 1)) return false;
    }
    return serve__send_args(s, first, user);
}

// The followed block as a call: its name and the arguments read (the rest of them sent first).
static bool commit_open(serve_tool_split *s, serve_tool_emit emit, void *user) {
    if (!serve__send_args(s, false, user)) return false;
    s->args.len = s->args_sent; // a block cut short in a UTF-8 character: the pieces sent are the call
    serve_tool_call c = {.name = s->open_name, .arguments = malloc(s->args.len + 1)};
    s->open_name = NULL;
    if (!c.arguments || !ensure_id(&c, s->open_id)) {
        call_free(&c);
        return false;
    }
    if (s->args.len) memcpy(c.arguments, s->args.ptr, s->args.len);
    c.arguments[s->args.len] = 0;
    return add_call(s, c, emit, user);
}


bool serve_tool_split_feed(serve_tool_split *s, const char *text, size_t len, serve_tool_emit emit, void *user) {
    if (len && !kite_buf_append(&s->held, text, len)) return false;
    if (s->generic) return true; // decided at the end
    for (;;) {
        if (!s->in_call) {
            const char *open = serve__find(s->held.ptr, s->held.len, SERVE_TOOL_TRIGGER);
            size_t cut = open ? (size_t)(open - s->held.ptr) : s->held.len - tag_prefix(s->held.ptr, s->held.len);
            if (cut > 0 && !emit(user, s->held.ptr, cut, NULL)) return false;
            if (cut > 0) drop_front(&s->held, cut);
            if (!open) return true;
            s->in_call = true;
            open_reset(s);
        }
        const size_t ol = sizeof SERVE_TOOL_TRIGGER - 1;
        if (s->xml) {
            if (!s->delta) s->open_stage = -1; // parsed whole when it closes
            else if (!serve__follow_xml(s, user)) return false;
        } else if (s->delta && !follow_open(s, user)) return false;
        if (s->open_stage == 1 && !s->xml) return true; // in the arguments: a close tag there is their text
        const size_t from = s->open_stage >= 1 ? s->scan : ol;
        const char *close = serve__find(s->held.ptr + from, s->held.len - from, CLOSE_TAG);
        if (!close) return true;
        const size_t end = (size_t)(close - s->held.ptr) + sizeof CLOSE_TAG - 1;
        serve_tool_call c = {0};
        if (s->open_stage == 1 || s->open_stage == 2) { // (XML stage 1: closed before "</function>")
            if (s->open_stage == 1 && !kite_buf_puts(&s->args, "}")) return false;
            if (!commit_open(s, emit, user)) return false;
        } else if (s->xml ? serve__parse_xml_call(s->held.ptr + ol, (size_t)(close - s->held.ptr) - ol, s->tools, &c)
                          : parse_call(s->held.ptr + ol, (size_t)(close - s->held.ptr) - ol, &c)) {
            if (!add_whole_call(s, c, emit, user)) return false;
        } else if (!emit(user, s->held.ptr, end, NULL)) { // not a call: it stays text
            return false;
        }
        drop_front(&s->held, end);
        s->in_call = false;
        open_reset(s);
    }
}

bool serve_tool_split_flush(serve_tool_split *s, serve_tool_emit emit, void *user) {
    if (s->generic) return generic_flush(s, emit, user);
    bool ok;
    if (s->in_call && s->open_stage >= 1) { // cut short, already going out
        ok = !(s->xml && s->open_stage == 1 && !kite_buf_puts(&s->args, "}")) && commit_open(s, emit, user);
    }
    else ok = s->held.len == 0 || emit(user, s->held.ptr, s->held.len, NULL);
    s->held.len = 0;
    s->in_call = false;
    open_reset(s);
    return ok;
}

void serve_tool_split_free(serve_tool_split *s) {
    for (size_t i = 0; i < s->n_calls; i++) call_free(&s->calls[i]);
    free(s->calls);
    kite_buf_free(&s->held);
    free(s->open_name);
    kite_buf_free(&s->args);
    *s = (serve_tool_split){0};
}

static bool on_reply_split(void *user, const char *text, size_t len, const serve_tool_call *call) {
    serve_tool_reply *r = user;
    if (call) {
        r->ws.len = 0;
        return r->call(r->user, r->split.n_calls - 1, call);
    }
    // the text's trailing whitespace is held back however the text was cut: "a\n" in one piece
    // or "a" then "\n" (a call next drops it)
    size_t keep = len;
    while (keep > 0 && serve__is_space(text[keep - 1])) keep--;
    if (keep > 0) {
        if (r->ws.len > 0 && !r->text(r->user, r->ws.ptr, r->ws.len)) return false;
        r->ws.len = 0;
        if (!r->text(r->user, text, keep)) return false;
    }
    return kite_buf_append(&r->ws, text + keep, len - keep);
}

static bool on_reply_delta(void *user, size_t index, const char *id, const char *name, const char *args, size_t len) {
    serve_tool_reply *r = user;
    r->ws.len = 0; // a call comes: the whitespace before it goes
    return r->delta(r->user, index, id, name, args, len);
}

bool serve_tool_reply_feed(serve_tool_reply *r, const char *text, size_t len) {
    r->split.delta = r->delta ? on_reply_delta : NULL;
    return serve_tool_split_feed(&r->split, text, len, on_reply_split, r);
}

bool serve_tool_reply_flush(serve_tool_reply *r) {
    r->split.delta = r->delta ? on_reply_delta : NULL;
    if (!serve_tool_split_flush(&r->split, on_reply_split, r)) return false;
    bool ok = r->ws.len == 0 || r->split.n_calls > 0 || r->text(r->user, r->ws.ptr, r->ws.len);
    r->ws.len = 0;
    return ok;
}

void serve_tool_reply_free(serve_tool_reply *r) {
    serve_tool_split_free(&r->split);
    kite_buf_free(&r->ws);
}
