// json_schema_array.c - array schemas: a tuple (items or prefixItems an array of schemas, one
// rule each) and an array of one item schema repeated minItems..maxItems times.
#include "base/internal.h"
#include "grammar/json_schema_internal.h"

char *kite__js_visit_tuple(conv *c, const kite__jval *s, const char *rule_name, const char *sub_name,
                           const char *path) {
    const char *key = kite__js_get(s, "items") ? "items" : "prefixItems";
    const kite__jval *items = kite__js_get(s, key);
    kite_buf b = {0};
    kite_buf_puts(&b, "\"[\" space ");
    for (size_t i = 0; i < items->n && !c->fatal; i++) {
        if (i) kite_buf_puts(&b, " \",\" space ");
        char *nm = kite__js_fmt("%stuple-%zu", sub_name, i);
        char *p = kite__js_fmt("%s/%s/%zu", path, key, i);
        char *r = nm && p ? kite__js_visit(c, items->items[i], nm, p) : NULL;
        if (r) kite_buf_puts(&b, r);
        free(nm);
        free(p);
        free(r);
    }
    kite_buf_puts(&b, " space \"]\"");
    return kite__js_name_body(c, rule_name, kite__js_take(&b));
}

char *kite__js_visit_array(conv *c, const kite__jval *s, const char *rule_name, const char *sub_name,
                           const char *path) {
    const char *key = kite__js_get(s, "items") ? "items" : kite__js_get(s, "prefixItems") ? "prefixItems" : NULL;
    const kite__jval *items = key ? kite__js_get(s, key) : NULL;
    int min = kite__js_get_count(c, s, "minItems", path, 0), max = kite__js_get_count(c, s, "maxItems", path, -1);
    if (c->fatal) return NULL;
    if (kite__js_is_true(kite__js_get(s, "uniqueItems")))
        kite__log(KITE_LOG_WARN, "json schema: uniqueItems of the array at %s is not enforced (as in llama.cpp)", path);
    if (max >= 0 && max < min) {
        kite__js_fail(c, path, "maxItems is below minItems");
        return NULL;
    }
    char *ip = key ? kite__js_fmt("%s/%s", path, key) : kite__js_fmt("%s", path);
    kind ik = items ? kite__js_kind_of(c, items, ip ? ip : path) : K_ANY;
    if (c->fatal) {
        free(ip);
        return NULL;
    }
    if (ik == K_ANY && min == 0 && max < 0) {
        free(ip);
        return kite__js_visit_primitive(c, rule_name, "array");
    }
    char *in = kite__js_fmt("%sitem", sub_name);
    char *item_rule = NULL;
    if (items && in && ip) item_rule = kite__js_visit(c, items, in, ip);
    else if (in) item_rule = kite__js_add_primitive(c, "value", kite__js_find_builtin("value"));
    free(in);
    free(ip);
    if (!item_rule) return NULL;
    kite_buf b = {0};
    kite_buf_puts(&b, "\"[\" space ");
    kite__js_put_repetition(&b, item_rule, min, max < 0 ? INT32_MAX : max, "\",\" space");
    kite_buf_puts(&b, " space \"]\"");
    free(item_rule);
    return kite__js_name_body(c, rule_name, kite__js_take(&b));
}
