// json_schema.c - JSON schema -> GBNF, following llama.cpp's common/json-schema.cpp (which
// schema keywords mean what) and common/json-schema-to-grammar.cpp (the rules it writes, their
// names and order), so the same schema gives the same grammar text. This file: the entry points,
// the walk over a schema (each kind's rules in the files json_schema_internal.h lists) and $ref.
#include "base/internal.h"
#include "grammar/json_schema_internal.h"
#include "grammar/kite_grammar.h"

#include <stdio.h>

static const char SPACE_RULE[] = "| \" \" | \"\\n\"{1,2} [ \\t]{0,20}";

// Whether $ref ref is being converted (a reference back to it is a cycle: it stays a name).
static bool resolving(const conv *c, const char *ref) {
    for (size_t i = 0; i < c->n_resolving; i++)
        if (strcmp(c->resolving[i], ref) == 0) return true;
    return false;
}

// The rule of a {"$ref": ...} schema: the target's rule, named ref-<fragment>.
static char *visit_ref(conv *c, const kite__jval *s, const char *path) {
    const kite__jval *r = kite__js_get(s, "$ref");
    if (r->type != KITE__J_STR) return kite__js_fail(c, path, "$ref must be a string");
    const kite__jval *target = kite__js_resolve_ref(c, r->s, path);
    if (!target) return NULL;
    const char *hash = strchr(r->s, '#');
    const char *frag = hash ? hash + 1 : r->s;
    kite_buf b = {0};
    kite_buf_puts(&b, "ref");
    kite__js_append_rule_name(&b, frag);
    char *ref_name = kite__js_take(&b);
    if (!ref_name) return kite__js_nomem(c);
    if (!kite__js_rule_body(c, ref_name) && !resolving(c, r->s)) {
        char **q = realloc(c->resolving, (c->n_resolving + 1) * sizeof *q);
        if (!q) return free(ref_name), kite__js_nomem(c);
        c->resolving = q;
        c->resolving[c->n_resolving++] = r->s;
        char *got = kite__js_visit(c, target, ref_name, r->s);
        c->n_resolving--;
        free(ref_name);
        ref_name = got;
    }
    return ref_name;
}

char *kite__js_visit(conv *c, const kite__jval *s, const char *name, const char *path) {
    if (c->fatal) return NULL;
    char *rule_name =
        kite__js_is_reserved(name) ? kite__js_fmt("%s-", name) : kite__js_fmt("%s", *name ? name : "root");
    char *sub_name = kite__js_fmt("%s%s", name, *name ? "-" : "");
    char *body = NULL, *res = NULL;
    if (!rule_name || !sub_name) {
        kite__js_nomem(c);
        goto out;
    }
    kind k = kite__js_kind_of(c, s, path);
    if (c->fatal) goto out;
    switch (k) {
    case K_REF: body = visit_ref(c, s, path); break;
    case K_ANY_OF: {
        const kite__jval **alts;
        char *alt_path;
        size_t n = kite__js_alternatives(c, s, path, &alts, &alt_path);
        if (n) body = kite__js_union_rule(c, alts, n, name, alt_path);
        free(alts);
        free(alt_path);
        break;
    }
    case K_ALL_OF: res = kite__js_visit_all_of(c, s, name, rule_name, path); goto out;
    case K_CONST: body = kite__js_constant_rule(kite__js_get(s, "const")); break;
    case K_ENUM: {
        const kite__jval *vals = kite__js_get(s, "enum");
        if (vals->type != KITE__J_ARR || vals->n == 0) {
            kite__js_fail(c, path, "enum must be a non-empty array");
            goto out;
        }
        kite_buf b = {0};
        kite_buf_puts(&b, "(");
        for (size_t i = 0; i < vals->n; i++) {
            char *lit = kite__js_constant_rule(vals->items[i]);
            if (i) kite_buf_puts(&b, " | ");
            if (lit) kite_buf_puts(&b, lit);
            else b.nomem = true;
            free(lit);
        }
        kite_buf_puts(&b, ")");
        body = kite__js_take(&b);
        break;
    }
    case K_OBJECT: res = kite__js_visit_object(c, s, name, rule_name, path); goto out;
    case K_TUPLE: res = kite__js_visit_tuple(c, s, rule_name, sub_name, path); goto out;
    case K_ARRAY: res = kite__js_visit_array(c, s, rule_name, sub_name, path); goto out;
    case K_STRING: res = kite__js_visit_string(c, s, rule_name, path); goto out;
    case K_INTEGER: res = kite__js_visit_integer(c, s, rule_name, path); goto out;
    case K_NUMBER:
        if (kite__js_get(s, "minimum") || kite__js_get(s, "maximum") || kite__js_get(s, "exclusiveMinimum") ||
            kite__js_get(s, "exclusiveMaximum"))
            kite__log(KITE_LOG_WARN, "json schema: bounds of the number at %s are not enforced (as in llama.cpp)", path);
        res = kite__js_visit_primitive(c, rule_name, "number");
        goto out;
    case K_BOOLEAN: res = kite__js_visit_primitive(c, rule_name, "boolean"); goto out;
    case K_NULL: res = kite__js_visit_primitive(c, rule_name, "null"); goto out;
    case K_ANY: body = kite__js_add_primitive(c, "value", kite__js_find_builtin("value")); break;
    }
    res = kite__js_name_body(c, rule_name, body);
    body = NULL;
out:
    free(body);
    free(rule_name);
    free(sub_name);
    if (c->fatal) {
        free(res);
        return NULL;
    }
    return res;
}

char *kite__js_name_body(conv *c, const char *rule_name, char *body) {
    char *res = NULL;
    if (body && !c->fatal) res = kite__js_add_rule(c, rule_name, body);
    else if (!body && !c->fatal) kite__js_nomem(c);
    free(body);
    return res;
}

// ---- public -------------------------------------------------------------------------------

static void free_conv(conv *c) {
    for (size_t i = 0; i < c->n_rules; i++) free(c->names[i]), free(c->bodies[i]);
    free(c->names);
    free(c->bodies);
    free(c->resolving);
    for (size_t i = 0; i < c->n_made; i++) free(c->made[i]->items), free(c->made[i]);
    free(c->made);
    for (size_t i = 0; i < c->n_copies; i++) free(c->copies[i]);
    free(c->copies);
    kite_buf_free(&c->errors);
}

// The rules of schema with its own rule named `name` ("" = root).
static kite_status schema_rules(const char *schema, size_t len, const char *name, char **out) {
    if (!schema || !out || !name) return kite__fail(KITE_ERR_INVALID, "json schema: NULL argument");
    *out = NULL;
    kite__jval *root = NULL;
    KITE_TRY(kite__json_parse(schema, len, &root));
    conv c = {.root = root};
    kite__js_set_rule(&c, "space", SPACE_RULE);
    char *r = kite__js_visit(&c, root, name, "#");
    // a primitive's rule is named after its type (integer, string, ...), as in llama.cpp, where
    // the caller refers to the name returned: here the named rule must be there
    if (r && *name && strcmp(r, name) != 0) free(kite__js_add_rule(&c, name, r));
    free(r);
    kite_status st = KITE_OK;
    if (c.fatal == KITE_ERR_NOMEM) st = kite__fail(KITE_ERR_NOMEM, "json schema: out of memory");
    else if (c.fatal) st = kite__fail(KITE_ERR_INVALID, "json schema: %s", c.fatal_msg);
    else if (c.errors.len) st = kite__fail(KITE_ERR_INVALID, "json schema: %s", c.errors.ptr);
    if (st == KITE_OK) {
        // rules sorted by name (llama.cpp keeps them in a std::map)
        for (size_t i = 1; i < c.n_rules; i++)
            for (size_t j = i; j > 0 && strcmp(c.names[j - 1], c.names[j]) > 0; j--) {
                char *t = c.names[j];
                c.names[j] = c.names[j - 1];
                c.names[j - 1] = t;
                t = c.bodies[j];
                c.bodies[j] = c.bodies[j - 1];
                c.bodies[j - 1] = t;
            }
        kite_buf b = {0};
        for (size_t i = 0; i < c.n_rules; i++) {
            kite_buf_puts(&b, c.names[i]);
            kite_buf_puts(&b, " ::= ");
            kite_buf_puts(&b, c.bodies[i]);
            kite_buf_puts(&b, "\n");
        }
        *out = kite__js_take(&b);
        if (!*out) st = kite__fail(KITE_ERR_NOMEM, "json schema: out of memory");
    }
    if (st == KITE_OK) { // what the schema asks for may still exceed the grammar's limits
        kite_grammar *g = NULL;
        if (kite_grammar_parse(*out, *name ? name : NULL, &g) != KITE_OK) {
            char why[300];
            snprintf(why, sizeof why, "%s", kite_last_error());
            st = kite__fail(KITE_ERR_INVALID, "json schema: its grammar is refused (%s)", why);
            free(*out);
            *out = NULL;
        }
        kite_grammar_free(g);
    }
    free_conv(&c);
    kite__json_free(root);
    return st;
}

kite_status kite_json_schema_to_grammar(const char *schema, size_t len, char **out) {
    return schema_rules(schema, len, "", out);
}

kite_status kite_json_schema_to_grammar_rule(const char *schema, size_t len, const char *name, char **out) {
    if (!name || !*name || strcmp(name, "root") == 0)
        return kite__fail(KITE_ERR_INVALID, "json schema: the rule needs a name other than root");
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return kite__fail(KITE_ERR_INVALID, "json schema: '%s' is not a rule name (letters, digits, '-')", name);
    return schema_rules(schema, len, name, out);
}

kite_status kite_json_object_grammar(char **out) {
    static const char schema[] = "{\"type\": \"object\"}";
    return kite_json_schema_to_grammar(schema, sizeof schema - 1, out);
}