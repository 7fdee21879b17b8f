// json_schema_object.c - object schemas: each property a "key": value rule, the required ones in
// order, the optional ones in any subset (llama.cpp's get_recursive_refs), and additional
// properties under keys that are none of the named ones.
#include "base/internal.h"
#include "grammar/json_schema_internal.h"

// A property's key and the name of its "key": value rule ("*": additional properties).
typedef struct kv {
    char *key, *rule;
} kv;

static const char *kv_rule(kv *kvs, size_t n, const char *key) {
    const char *r = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kvs[i].key, key) == 0) r = kvs[i].rule; // the last one, as a map overwritten
    return r;
}

static bool in_list(char **list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}

// The optional properties ks[0..n) as llama.cpp's get_recursive_refs writes them.
static char *recursive_refs(conv *c, char **ks, size_t n, bool first_optional, kv *kvs, size_t n_kv, const char *name) {
    if (n == 0) return kite__js_fmt("%s", "");
    const char *k = ks[0];
    const char *kvn = kv_rule(kvs, n_kv, k);
    bool star = strcmp(k, "*") == 0;
    char *res = first_optional ? kite__js_fmt("( \",\" space %s )%s", kvn, star ? "*" : "?")
                               : star ? kite__js_fmt("%s ( \",\" space %s )*", kvn, kvn) : kite__js_fmt("%s", kvn);
    if (res && n > 1) {
        char *rest = recursive_refs(c, ks + 1, n - 1, true, kvs, n_kv, name);
        char *rn = kite__js_fmt("%s%s%s-rest", name, *name ? "-" : "", k);
        char *id = rest && rn ? kite__js_add_rule(c, rn, rest) : NULL;
        char *r2 = id ? kite__js_fmt("%s %s", res, id) : NULL;
        free(rest);
        free(rn);
        free(id);
        free(res);
        res = r2;
    }
    return res ? res : kite__js_nomem(c);
}

char *kite__js_build_object_rule(conv *c, prop *props, size_t n_props, char **required, size_t n_req,
                                 const char *name, const kite__jval *additional, const char *path) {
    kv *kvs = calloc(n_props + 2, sizeof *kvs);
    char **req = calloc(n_props + 1, sizeof *req), **opt = calloc(n_props + 2, sizeof *opt);
    char **names = calloc(n_props + 1, sizeof *names);
    size_t n_kv = 0, nr = 0, no = 0;
    char *rule = NULL;
    if (!kvs || !req || !opt || !names) {
        kite__js_nomem(c);
        goto done;
    }
    for (size_t i = 0; i < n_props && !c->fatal; i++) {
        const char *pn = props[i].name;
        char *sub = kite__js_fmt("%s%s%s", name, *name ? "-" : "", pn);
        char *prop_rule = sub ? kite__js_visit(c, props[i].schema, sub, props[i].path) : NULL;
        kite_buf body = {0};
        kite_buf lit = {0};
        kite__json_dump_string(pn, strlen(pn), &lit);
        if (lit.ptr) kite__js_put_literal(&body, lit.ptr, lit.len);
        kite_buf_free(&lit);
        kite_buf_puts(&body, " space \":\" space ");
        if (prop_rule) kite_buf_puts(&body, prop_rule);
        char *bt = kite__js_take(&body);
        char *kvname = sub ? kite__js_fmt("%s-kv", sub) : NULL;
        char *k = prop_rule && bt && kvname ? kite__js_add_rule(c, kvname, bt) : NULL;
        free(sub);
        free(prop_rule);
        free(bt);
        free(kvname);
        if (!k) {
            if (!c->fatal) kite__js_nomem(c);
            goto done;
        }
        kvs[n_kv++] = (kv){kite__js_fmt("%s", pn), k};
        if (in_list(required, n_req, pn)) req[nr++] = (char *)pn;
        else opt[no++] = (char *)pn;
        names[i] = (char *)pn;
    }
    if (additional && !c->fatal) {
        char *sub = kite__js_fmt("%s%sadditional", name, *name ? "-" : "");
        char *ap = kite__js_fmt("%s/additionalProperties", path);
        kind k = kite__js_kind_of(c, additional, ap);
        char *value_rule = NULL, *key_rule = NULL, *kvr = NULL;
        if (!c->fatal && sub && ap) {
            if (k != K_ANY) {
                char *vn = kite__js_fmt("%s-value", sub);
                value_rule = vn ? kite__js_visit(c, additional, vn, ap) : NULL;
                free(vn);
            } else {
                value_rule = kite__js_add_primitive(c, "value", kite__js_find_builtin("value"));
            }
            if (n_props == 0) {
                key_rule = kite__js_add_primitive(c, "string", kite__js_find_builtin("string"));
            } else {
                char *ns = kite__js_not_strings(c, names, n_props);
                char *kn = kite__js_fmt("%s-k", sub);
                key_rule = ns && kn ? kite__js_add_rule(c, kn, ns) : NULL;
                free(ns);
                free(kn);
            }
            char *body = value_rule && key_rule ? kite__js_fmt("%s \":\" space %s", key_rule, value_rule) : NULL;
            char *kn = kite__js_fmt("%s-kv", sub);
            kvr = body && kn ? kite__js_add_rule(c, kn, body) : NULL;
            free(body);
            free(kn);
        }
        free(value_rule);
        free(key_rule);
        free(sub);
        free(ap);
        if (!kvr) {
            if (!c->fatal) kite__js_nomem(c);
            goto done;
        }
        kvs[n_kv++] = (kv){kite__js_fmt("%s", "*"), kvr};
        opt[no++] = "*";
    }
    if (c->fatal) goto done;
    if (nr == 0 && no == 0) {
        rule = kite__js_fmt("%s", "\"{\" space \"}\"");
        goto done;
    }
    kite_buf b = {0};
    kite_buf_puts(&b, "\"{\" space ");
    for (size_t i = 0; i < nr; i++) {
        if (i) kite_buf_puts(&b, " \",\" space ");
        kite_buf_puts(&b, kv_rule(kvs, n_kv, req[i]));
    }
    if (no) {
        kite_buf_puts(&b, " (");
        if (nr) kite_buf_puts(&b, " \",\" space ( ");
        for (size_t i = 0; i < no; i++) {
            if (i) kite_buf_puts(&b, " | ");
            char *r = recursive_refs(c, opt + i, no - i, false, kvs, n_kv, name);
            if (r) kite_buf_puts(&b, r);
            free(r);
        }
        if (nr) kite_buf_puts(&b, " )");
        kite_buf_puts(&b, " )?");
    }
    kite_buf_puts(&b, " space \"}\"");
    rule = kite__js_take(&b);
    if (!rule) kite__js_nomem(c);
done:
    for (size_t i = 0; kvs && i < n_kv; i++) free(kvs[i].key), free(kvs[i].rule);
    free(kvs);
    free(req);
    free(opt);
    free(names);
    if (c->fatal) {
        free(rule);
        return NULL;
    }
    return rule;
}

char *kite__js_visit_object(conv *c, const kite__jval *s, const char *name, const char *rule_name, const char *path) {
    const kite__jval *ps = kite__js_get(s, "properties");
    if (ps && ps->type != KITE__J_OBJ) {
        kite__js_fail(c, path, "properties must be an object");
        return NULL;
    }
    const kite__jval *ap = kite__js_get(s, "additionalProperties");
    const kite__jval *additional = NULL;
    static const kite__jval any = {.type = KITE__J_OBJ};
    if (ap) {
        if (ap->type == KITE__J_BOOL) additional = ap->b ? &any : NULL;
        else if (ap->type == KITE__J_OBJ) additional = ap;
        else {
            kite__js_fail(c, path, "additionalProperties must be a boolean or a schema");
            return NULL;
        }
    } else if (!ps) {
        additional = &any; // {"type": "object"} on its own: any object
    }
    size_t n_props = ps ? ps->n : 0;
    if (n_props == 0 && additional && kite__js_kind_of(c, additional, path) == K_ANY)
        return kite__js_name_body(c, rule_name, kite__js_add_primitive(c, "object", kite__js_find_builtin("object")));
    const kite__jval *req = kite__js_get(s, "required");
    prop *props = calloc(n_props + 1, sizeof *props);
    char **required = calloc((req && req->type == KITE__J_ARR ? req->n : 0) + 1, sizeof *required);
    size_t n_req = 0;
    if (!props || !required) {
        free(props);
        free(required);
        kite__js_nomem(c);
        return NULL;
    }
    for (size_t i = 0; req && req->type == KITE__J_ARR && i < req->n; i++)
        if (req->items[i]->type == KITE__J_STR) required[n_req++] = req->items[i]->s;
    for (size_t i = 0; i < n_props; i++)
        props[i] = (prop){ps->items[i]->key, ps->items[i], kite__js_sub_path(path, "properties/", ps->items[i]->key)};
    char *ap_path = kite__js_fmt("%s", path);
    char *body =
        kite__js_build_object_rule(c, props, n_props, required, n_req, name, additional, ap_path ? ap_path : path);
    free(ap_path);
    for (size_t i = 0; i < n_props; i++) free(props[i].path);
    free(props);
    free(required);
    return kite__js_name_body(c, rule_name, body);
}
