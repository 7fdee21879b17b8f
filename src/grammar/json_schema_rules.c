// json_schema_rules.c - the rule table of the JSON schema converter: the built-in rules (value,
// string, number, date, ... as llama.cpp writes them), adding a rule under a free name, and the
// converter's errors. Their contracts are in json_schema_internal.h.
#include "base/internal.h"
#include "grammar/json_schema_internal.h"

#include <stdio.h>

// A schema may not need more rules than this: rules are looked up by name one by one, and a
// request's schema must not cost quadratic time.
#define MAX_RULES 5000

// ---- the built-in rules ----------------------------------------------------------------------

static const builtin PRIMITIVES[] = {
    {"boolean", "(\"true\" | \"false\")", {0}},
    {"decimal-part", "[0-9]{1,16}", {0}},
    {"integral-part", "[0] | [1-9] [0-9]{0,15}", {0}},
    {"number", "(\"-\"? integral-part) (\".\" decimal-part)? ([eE] [-+]? integral-part)?",
     {"integral-part", "decimal-part"}},
    {"integer", "(\"-\"? integral-part)", {"integral-part"}},
    {"value", "object | array | string | number | boolean | null", {"object", "array", "string", "number", "boolean", "null"}},
    {"object", "\"{\" space ( string \":\" space value (\",\" space string \":\" space value)* )? space \"}\"",
     {"string", "value"}},
    {"array", "\"[\" space ( value (\",\" space value)* )? space \"]\"", {"value"}},
    {"uuid",
     "\"\\\"\" [0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12} "
     "\"\\\"\"",
     {0}},
    {"char", "[^\"\\\\\\x7F\\x00-\\x1F] | [\\\\] ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4})", {0}},
    {"string", "\"\\\"\" char* \"\\\"\"", {"char"}},
    {"null", "\"null\"", {0}},
    // string formats
    {"date", "[0-9]{4} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | [1-2] [0-9] | \"3\" [0-1] )", {0}},
    {"time",
     "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{3} )? ( \"Z\" | ( \"+\" | \"-\" ) "
     "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )",
     {0}},
    {"date-time", "date \"T\" time", {"date", "time"}},
    {"date-string", "\"\\\"\" date \"\\\"\"", {"date"}},
    {"time-string", "\"\\\"\" time \"\\\"\"", {"time"}},
    {"date-time-string", "\"\\\"\" date-time \"\\\"\"", {"date-time"}},
};

const builtin *kite__js_find_builtin(const char *name) {
    for (size_t i = 0; i < sizeof PRIMITIVES / sizeof PRIMITIVES[0]; i++)
        if (strcmp(PRIMITIVES[i].name, name) == 0) return &PRIMITIVES[i];
    return NULL;
}

bool kite__js_is_reserved(const char *name) {
    return strcmp(name, "root") == 0 || kite__js_find_builtin(name) != NULL;
}

// ---- errors and the rule table ----------------------------------------------------------------

char *kite__js_fail(conv *c, const char *path, const char *msg) {
    if (c->fatal == KITE_OK) {
        c->fatal = KITE_ERR_INVALID;
        snprintf(c->fatal_msg, sizeof c->fatal_msg, "JSON schema error at %s: %s", path, msg);
    }
    return NULL;
}

char *kite__js_nomem(conv *c) {
    if (c->fatal == KITE_OK) {
        c->fatal = KITE_ERR_NOMEM;
        snprintf(c->fatal_msg, sizeof c->fatal_msg, "out of memory");
    }
    return NULL;
}

const char *kite__js_rule_body(const conv *c, const char *name) {
    for (size_t i = 0; i < c->n_rules; i++)
        if (strcmp(c->names[i], name) == 0) return c->bodies[i];
    return NULL;
}

bool kite__js_set_rule(conv *c, const char *name, const char *body) {
    for (size_t i = 0; i < c->n_rules; i++)
        if (strcmp(c->names[i], name) == 0) {
            char *b = kite__js_fmt("%s", body);
            if (!b) return kite__js_nomem(c), false;
            free(c->bodies[i]);
            c->bodies[i] = b;
            return true;
        }
    if (c->n_rules >= MAX_RULES) {
        if (c->fatal == KITE_OK) {
            c->fatal = KITE_ERR_INVALID;
            snprintf(c->fatal_msg, sizeof c->fatal_msg, "the schema needs more than %d grammar rules", MAX_RULES);
        }
        return false;
    }
    if (c->n_rules == c->cap_rules) {
        size_t cap = c->cap_rules ? 2 * c->cap_rules : 32;
        char **n = realloc(c->names, cap * sizeof *n);
        if (!n) return kite__js_nomem(c), false;
        c->names = n;
        char **b = realloc(c->bodies, cap * sizeof *b);
        if (!b) return kite__js_nomem(c), false;
        c->bodies = b;
        c->cap_rules = cap;
    }
    char *nm = kite__js_fmt("%s", name), *bd = kite__js_fmt("%s", body);
    if (!nm || !bd) {
        free(nm);
        free(bd);
        return kite__js_nomem(c), false;
    }
    c->names[c->n_rules] = nm;
    c->bodies[c->n_rules++] = bd;
    return true;
}

char *kite__js_add_rule(conv *c, const char *name, const char *body) {
    if (!body || c->fatal) return NULL;
    kite_buf b = {0};
    kite__js_append_rule_name(&b, name);
    char *esc = kite__js_take(&b);
    if (!esc) return kite__js_nomem(c);
    const char *have = kite__js_rule_body(c, esc);
    if (!have || strcmp(have, body) == 0) {
        if (!kite__js_set_rule(c, esc, body)) return free(esc), NULL;
        return esc;
    }
    for (int i = 0;; i++) {
        char *k = kite__js_fmt("%s%d", esc, i);
        if (!k) return free(esc), kite__js_nomem(c);
        have = kite__js_rule_body(c, k);
        if (!have || strcmp(have, body) == 0) {
            free(esc);
            if (!kite__js_set_rule(c, k, body)) return free(k), NULL;
            return k;
        }
        free(k);
    }
}

char *kite__js_add_primitive(conv *c, const char *name, const builtin *r) {
    char *n = kite__js_add_rule(c, name, r->content);
    for (int i = 0; n && i < 6 && r->deps[i]; i++) {
        const builtin *d = kite__js_find_builtin(r->deps[i]);
        if (!kite__js_rule_body(c, r->deps[i])) free(kite__js_add_primitive(c, r->deps[i], d));
    }
    return n;
}

char *kite__js_visit_primitive(conv *c, const char *rule_name, const char *type) {
    return kite__js_add_primitive(c, strcmp(rule_name, "root") == 0 ? "root" : type, kite__js_find_builtin(type));
}
