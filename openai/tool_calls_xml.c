// tool_calls_xml.c - Qwen3.5's XML tool calls (llama.cpp's Qwen3-Coder format) for `kite serve`
// and the npm chat: the calls' grammar, a whole block's call, and the streamed arguments of an
// open block. The JSON helpers and the streaming state are tool_calls.c's (tool_calls_internal.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kite.h"
#include "tool_calls.h"
#include "tool_calls_internal.h"

// ---- Qwen3.5's XML calls ------------------------------------------------------------------------
// <tool_call>\n<function=NAME>\n<parameter=ARG>\nVALUE\n</parameter>\n...</function>\n</tool_call>
// (llama.cpp's Qwen3-Coder format): a parameter whose schema allows a string is raw text up to
// "\n</parameter>\n", any other a JSON value of its schema.

static const char XML_VALUE_END[] = "\n</parameter>\n";

// The schema of tool i's parameter key (NULL if none), from its parsed parameters.
static const json_value *param_schema(const json_value *params, const char *key) {
    const json_value *props = params ? json_get(params, "properties") : NULL;
    return props && props->type == JSON_OBJECT ? json_get(props, key) : NULL;
}

// Whether a parameter's schema allows strings (or says nothing of its type: then the value is
// tried as JSON first, as llama.cpp types values of mixed types).
static bool schema_is_string_only(const json_value *sch) {
    const json_value *type = sch ? json_get(sch, "type") : NULL;
    if (!type) return false;
    if (type->type == JSON_STRING) return strcmp(type->str, "string") == 0;
    if (type->type != JSON_ARRAY) return false;
    for (const json_value *x = type->child; x; x = x->next)
        if (x->type != JSON_STRING || strcmp(x->str, "string") != 0) return false;
    return type->len > 0;
}

static bool schema_allows_string(const json_value *sch) {
    const json_value *type = sch ? json_get(sch, "type") : NULL;
    if (!type) return true;
    if (type->type == JSON_STRING) return strcmp(type->str, "string") == 0;
    if (type->type != JSON_ARRAY) return false;
    for (const json_value *x = type->child; x; x = x->next)
        if (x->type == JSON_STRING && strcmp(x->str, "string") == 0) return true;
    return false;
}

// A value written as compact JSON: raw text as a string when its schema says string (or it is not
// JSON), else the JSON value it is.
static void put_xml_value(kite_buf *a, const json_value *sch, const char *v, size_t n) {
    if (!schema_is_string_only(sch)) {
        size_t s = 0, e = n;
        while (s < e && serve__is_space(v[s])) s++;
        while (e > s && serve__is_space(v[e - 1])) e--;
        char err[8];
        json_doc *d = e > s ? json_parse(v + s, e - s, err, sizeof err) : NULL;
        if (d) {
            serve__put_json(a, json_root(d), false);
            json_free(d);
            return;
        }
    }
    serve__put_string(a, v, n);
}

// The tool named name[0..n) (its index), or t->n.
static size_t tool_index(const serve_tools *t, const char *name, size_t n) {
    for (size_t i = 0; t && i < t->n; i++)
        if (strlen(t->names[i]) == n && !memcmp(t->names[i], name, n)) return i;
    return t ? t->n : 0;
}

static bool starts_at(const char *s, size_t at, size_t n, const char *p) {
    const size_t k = strlen(p);
    return at + k <= n && !memcmp(s + at, p, k);
}

// The call in an XML block's inside (between "<tool_call>" and "</tool_call>"), or false.
// Lenient on the whitespace around tags; a value ends at the next "</parameter>" (one newline off
// each end).
bool serve__parse_xml_call(const char *s, size_t n, const serve_tools *t, serve_tool_call *c) {
    size_t at = serve__skip_space(s, 0, n);
    if (!starts_at(s, at, n, "<function=")) return false;
    at += 10;
    const char *gt = serve__find(s + at, n - at, ">");
    if (!gt || gt == s + at || memchr(s + at, '\n', (size_t)(gt - (s + at))) || memchr(s + at, 0, (size_t)(gt - (s + at))))
        return false;
    const char *name = s + at;
    const size_t name_len = (size_t)(gt - name);
    at = (size_t)(gt - s) + 1;
    // the tool's parameters, to type the values
    json_doc *params = NULL;
    const size_t ti = tool_index(t, name, name_len);
    if (t && ti < t->n) {
        char err[8];
        params = json_parse(t->params[ti], strlen(t->params[ti]), err, sizeof err);
    }
    const json_value *pv = params ? json_root(params) : NULL;
    kite_buf a = {0};
    kite_buf_puts(&a, "{");
    bool ok = false, first = true;
    for (;;) {
        at = serve__skip_space(s, at, n);
        if (starts_at(s, at, n, "</function>")) {
            ok = serve__skip_space(s, at + 11, n) == n;
            break;
        }
        if (!starts_at(s, at, n, "<parameter=")) break;
        at += 11;
        const char *kgt = serve__find(s + at, n - at, ">");
        if (!kgt || kgt == s + at || memchr(s + at, '\n', (size_t)(kgt - (s + at)))) break;
        const char *key = s + at;
        const size_t key_len = (size_t)(kgt - key);
        at = (size_t)(kgt - s) + 1;
        if (at < n && s[at] == '\n') at++;
        const char *close = serve__find(s + at, n - at, "</parameter>");
        if (!close) break;
        size_t vlen = (size_t)(close - (s + at));
        if (vlen > 0 && s[at + vlen - 1] == '\n') vlen--;
        char *k = strndup(key, key_len);
        if (!k) break;
        if (!first) kite_buf_puts(&a, ",");
        first = false;
        serve__put_string(&a, key, key_len);
        kite_buf_puts(&a, ":");
        put_xml_value(&a, param_schema(pv, k), s + at, vlen);
        free(k);
        at = (size_t)(close - s) + 12;
    }
    json_free(params);
    kite_buf_puts(&a, "}");
    if (!ok || a.nomem) {
        kite_buf_free(&a);
        return false;
    }
    c->arguments = a.ptr;
    c->name = strndup(name, name_len);
    c->id = NULL;
    if (!c->name) {
        free(c->arguments);
        return false;
    }
    return true;
}

// A parameter's value rule: raw text up to "\n</parameter>\n" (the until-rule: each state the
// length of the terminator's prefix matched), or JSON of its schema then the terminator.
static void put_until_rules(kite_buf *g) {
    const char *lit = XML_VALUE_END;
    const size_t k = strlen(lit);
    // fail[j]: the KMP failure of lit's first j chars
    size_t fail[sizeof XML_VALUE_END] = {0};
    for (size_t j = 2, f = 0; j <= k; j++) {
        while (f > 0 && lit[j - 1] != lit[f]) f = fail[f];
        if (lit[j - 1] == lit[f]) f++;
        fail[j] = f;
    }
    // the distinct characters of lit, as GBNF escapes
    char set[sizeof XML_VALUE_END];
    size_t n_set = 0;
    for (size_t i = 0; i < k; i++)
        if (!memchr(set, lit[i], n_set)) set[n_set++] = lit[i];
    for (size_t j = 0; j < k; j++) {
        kite_buf_printf(g, "xml-until-%zu ::= ", j);
        bool alt = false;
        for (size_t ci = 0; ci < n_set; ci++) {
            const char c = set[ci];
            size_t st = j;
            while (st > 0 && lit[st] != c) st = fail[st];
            if (lit[st] == c) st++;
            if (alt) kite_buf_puts(g, " | ");
            alt = true;
            kite_buf_puts(g, c == '\n' ? "\"\\n\"" : "\"");
            if (c != '\n') kite_buf_append(g, &c, 1), kite_buf_puts(g, "\"");
            if (st == k) continue; // the terminator read: the value ends
            kite_buf_printf(g, " xml-until-%zu", st);
        }
        kite_buf_puts(g, " | [^");
        for (size_t ci = 0; ci < n_set; ci++) kite_buf_puts(g, set[ci] == '\n' ? "\\n" : (char[2]){set[ci], 0});
        kite_buf_puts(g, "] xml-until-0\n");
    }
}

// Rule name pieces: tool i, parameter p.
static void put_param_rule(kite_buf *g, size_t i, size_t p) { kite_buf_printf(g, "xml-args-t%zu-p%zu", i, p); }

// One parameter: "<parameter=KEY>\n" VALUE "\n</parameter>\n".
static void put_param(kite_buf *g, const json_value *prop, size_t i, size_t p) {
    kite_buf_puts(g, "\"<parameter=\" ");
    serve__put_string(g, prop->key, prop->key_len);
    kite_buf_puts(g, " \">\\n\" ");
    if (schema_allows_string(prop)) kite_buf_puts(g, "xml-until-0");
    else {
        put_param_rule(g, i, p);
        kite_buf_puts(g, " \"\\n</parameter>\\n\"");
    }
}

static bool in_required(const json_value *req, const char *key) {
    for (const json_value *x = req ? req->child : NULL; x; x = x->next)
        if (x->type == JSON_STRING && !strcmp(x->str, key)) return true;
    return false;
}

// All orders of the required parameters idx[0..n) (few of them), as alternatives.
static void put_permutations(kite_buf *g, const json_value **props, size_t *idx, size_t n, size_t at, size_t i,
                             bool *first) {
    if (at == n) {
        if (!*first) kite_buf_puts(g, " | ");
        *first = false;
        kite_buf_puts(g, "(");
        for (size_t k = 0; k < n; k++) {
            if (k) kite_buf_puts(g, " ");
            put_param(g, props[idx[k]], i, idx[k]);
        }
        kite_buf_puts(g, ")");
        return;
    }
    for (size_t k = at; k < n; k++) {
        size_t tmp = idx[at];
        idx[at] = idx[k], idx[k] = tmp;
        put_permutations(g, props, idx, n, at + 1, i, first);
        idx[k] = idx[at], idx[at] = tmp;
    }
}

#define XML_MAX_PERMUTED 4 // more required parameters than this must come in the schema's order
#define XML_MAX_PARAMS 256

bool serve_tools_grammar_xml(const serve_tools *t, char **out, bool *lazy, char *err, size_t es) {
    *out = NULL;
    *lazy = t->choice != SERVE_TOOLS_REQUIRED;
    kite_buf g = {0}, s = {0};
    kite_buf_puts(&g, t->parallel ? "root ::= xml-call (space xml-call)* space\n" : "root ::= xml-call space\n");
    kite_buf_puts(&g, "xml-call ::= \"" SERVE_TOOL_TRIGGER "\\n\" (");
    kite_buf_puts(&s, "{\"type\":\"object\",\"properties\":{");
    bool ok = true, first_tool = true, any_json = false;
    for (size_t i = 0; i < t->n && ok; i++) {
        if (t->forced && t->forced != t->names[i]) continue;
        char jerr[80];
        json_doc *d = json_parse(t->params[i], strlen(t->params[i]), jerr, sizeof jerr);
        if (!d) {
            ok = serve__tools_fail(err, es, "out of memory");
            break;
        }
        const json_value *pv = json_root(d), *props = json_get(pv, "properties"), *req = json_get(pv, "required");
        const json_value *list[XML_MAX_PARAMS];
        size_t np = 0, nreq = 0, idx[XML_MAX_PARAMS];
        for (const json_value *x = props && props->type == JSON_OBJECT ? props->child : NULL; x; x = x->next) {
            if (np == XML_MAX_PARAMS) {
                snprintf(err, es, "tools[%zu].function.parameters: more than %d properties", i, XML_MAX_PARAMS);
                ok = false;
                break;
            }
            if (!schema_allows_string(x)) {
                if (any_json) kite_buf_puts(&s, ",");
                any_json = true;
                kite_buf_printf(&s, "\"t%zu-p%zu\":{\"anyOf\":[", i, np);
                serve__put_json(&s, x, false);
                kite_buf_puts(&s, "]}");
            }
            if (in_required(req, x->key)) idx[nreq++] = np;
            list[np++] = x;
        }
        if (ok) {
            if (!first_tool) kite_buf_puts(&g, " | ");
            first_tool = false;
            kite_buf_puts(&g, "(\"<function=\" ");
            serve__put_string(&g, t->names[i], strlen(t->names[i]));
            kite_buf_puts(&g, " \">\\n\" ");
            if (nreq > 0) {
                kite_buf_puts(&g, "(");
                bool first = true;
                if (nreq <= XML_MAX_PERMUTED) put_permutations(&g, list, idx, nreq, 0, i, &first);
                else put_permutations(&g, list, idx, nreq, nreq, i, &first); // the schema's order
                kite_buf_puts(&g, ") ");
            }
            if (np > nreq) {
                kite_buf_puts(&g, "(");
                for (size_t p = 0, k = 0; p < np; p++) {
                    if (in_required(req, list[p]->key)) continue;
                    if (k++) kite_buf_puts(&g, " | ");
                    put_param(&g, list[p], i, p);
                }
                kite_buf_puts(&g, ")* ");
            } else if (!props || props->type != JSON_OBJECT || np == 0) {
                // no declared parameters: any named one, raw text
                kite_buf_puts(&g, "(\"<parameter=\" [^>\\n]+ \">\\n\" xml-until-0)* ");
            }
            kite_buf_puts(&g, "\"</function>\\n\")");
        }
        json_free(d);
    }
    kite_buf_puts(&g, ") \"</tool_call>\"\n");
    kite_buf_puts(&s, "}}");
    put_until_rules(&g);
    if (ok && any_json && !s.nomem) {
        char *rules = NULL;
        kite_status st = kite_json_schema_to_grammar_rule(s.ptr, s.len, "xml-args", &rules);
        if (st != KITE_OK) {
            snprintf(err, es, "'tools': a function's parameters: %s", kite_last_error());
            ok = false;
        } else kite_buf_puts(&g, rules);
        free(rules);
    } else if (ok) {
        kite_buf_puts(&g, "space ::= | \" \" | \"\\n\"{1,2} [ \\t]{0,20}\n");
    }
    kite_buf_free(&s);
    if (!ok) {
        kite_buf_free(&g);
        return false;
    }
    if (!(*out = serve__take(&g))) return serve__tools_fail(err, es, "out of memory");
    return true;
}

// Whether s[at..n) is too short to tell whether it starts with p (a proper prefix of it).
static bool prefix_of(const char *s, size_t at, size_t n, const char *p) {
    const size_t k = strlen(p);
    return n - at < k && !memcmp(s + at, p, n - at);
}

// Follows the open XML block (serve_tool_split.delta set): once "<function=NAME>" is read the block
// is a call, its first delta the id, the name and "{"; each parameter when its "</parameter>"
// comes, as `"key":value` (after a ","); "}" at "</function>" (stage 2). -1: not a call's start.
bool serve__follow_xml(serve_tool_split *s, void *user) {
    const char *h = s->held.ptr;
    // the block ends at the first "</tool_call>", as a whole block's call does (a parameter value
    // that seems to run past it does not): what is held after it is not read here
    const size_t ol = sizeof SERVE_TOOL_TRIGGER - 1;
    const char *end = serve__find(h + ol, s->held.len - ol, "</tool_call>");
    const size_t n = end ? (size_t)(end - h) : s->held.len;
    const bool first = s->open_stage == 0;
    if (first) {
        const size_t at = serve__skip_space(h, sizeof SERVE_TOOL_TRIGGER - 1, n);
        if (at == n || prefix_of(h, at, n, "<function=")) return true;
        if (!starts_at(h, at, n, "<function=")) {
            s->open_stage = -1;
            return true;
        }
        const char *gt = serve__find(h + at + 10, n - at - 10, ">");
        const size_t to = gt ? (size_t)(gt - h) : n;
        if (memchr(h + at + 10, '\n', to - at - 10) || memchr(h + at + 10, 0, to - at - 10) || (gt && to == at + 10)) {
            s->open_stage = -1;
            return true;
        }
        if (!gt) return true;
        if (!(s->open_name = strndup(h + at + 10, to - at - 10)) || !kite_buf_puts(&s->args, "{")) return false;
        s->scan = to + 1;
        s->open_stage = 1;
        s->depth = 0; // parameters read
    }
    while (s->open_stage == 1) {
        const size_t at = serve__skip_space(h, s->scan, n);
        if (at == n || prefix_of(h, at, n, "</function>") || prefix_of(h, at, n, "<parameter=")) break;
        if (starts_at(h, at, n, "</function>")) {
            if (!kite_buf_puts(&s->args, "}")) return false;
            s->scan = at + 11;
            s->open_stage = 2;
            break;
        }
        const char *gt = starts_at(h, at, n, "<parameter=") ? serve__find(h + at + 11, n - at - 11, ">") : NULL;
        const char *close = gt ? serve__find(gt + 1, (size_t)(h + n - gt - 1), "</parameter>") : NULL;
        if (!starts_at(h, at, n, "<parameter=") || (gt && (gt == h + at + 11 || memchr(h + at + 11, '\n', (size_t)(gt - h - at - 11))))) {
            // not a parameter: the arguments end here, the rest of the block is left out
            if (!kite_buf_puts(&s->args, "}")) return false;
            s->scan = at;
            s->open_stage = 2;
            break;
        }
        if (!close) break; // the value goes on
        const char *v = gt + 1;
        size_t vlen = (size_t)(close - v);
        if (vlen > 0 && *v == '\n') v++, vlen--;
        if (vlen > 0 && v[vlen - 1] == '\n') vlen--;
        char *key = strndup(h + at + 11, (size_t)(gt - h - at - 11));
        if (!key) return false;
        json_doc *params = NULL;
        const size_t ti = tool_index(s->tools, s->open_name, strlen(s->open_name));
        if (s->tools && ti < s->tools->n) {
            char err[8];
            params = json_parse(s->tools->params[ti], strlen(s->tools->params[ti]), err, sizeof err);
        }
        if (s->depth++ > 0) kite_buf_puts(&s->args, ",");
        serve__put_string(&s->args, key, strlen(key));
        kite_buf_puts(&s->args, ":");
        put_xml_value(&s->args, param_schema(params ? json_root(params) : NULL, key), v, vlen);
        json_free(params);
        free(key);
        if (s->args.nomem) return false;
        s->scan = (size_t)(close - h) + 12;
    }
    return s->open_stage < 1 ? true : serve__send_args(s, first, user);
}
