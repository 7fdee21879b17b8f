// json_schema_combine.c - schemas made of others: anyOf / oneOf / a type array (a union of their
// rules) and allOf (the properties of its object parts merged, or the values all its enums share).
#include "base/internal.h"
#include "grammar/json_schema_internal.h"

// A schema with "type" replaced by t (shares the other members; freed with the converter).
static const kite__jval *with_type(conv *c, const kite__jval *s, const kite__jval *t) {
    kite__jval *v = calloc(1, sizeof *v);
    kite__jval **made = realloc(c->made, (c->n_made + 1) * sizeof *made);
    if (made) c->made = made;
    if (!v || !made) return free(v), kite__js_nomem(c), NULL;
    *v = *s;
    v->key = NULL;
    v->items = malloc((s->n ? s->n : 1) * sizeof *v->items);
    if (!v->items) return free(v), kite__js_nomem(c), NULL;
    c->made[c->n_made++] = v;
    // the new type member: t's value under the key "type" (t itself is an array element)
    kite__jval *tt = malloc(sizeof *tt);
    kite__jval **copies = realloc(c->copies, (c->n_copies + 1) * sizeof *copies);
    if (copies) c->copies = copies;
    if (!tt || !copies) return free(tt), kite__js_nomem(c), NULL;
    *tt = *t;
    tt->key = (char *)"type";
    c->copies[c->n_copies++] = tt;
    for (size_t i = 0; i < s->n; i++) v->items[i] = strcmp(s->items[i]->key, "type") == 0 ? tt : s->items[i];
    return v;
}

size_t kite__js_alternatives(conv *c, const kite__jval *s, const char *path, const kite__jval ***out,
                             char **alt_path) {
    *out = NULL;
    const char *key = kite__js_get(s, "oneOf") ? "oneOf" : kite__js_get(s, "anyOf") ? "anyOf" : NULL;
    const kite__jval *alts = key ? kite__js_get(s, key) : kite__js_get(s, "type");
    *alt_path = kite__js_fmt("%s/%s", path, key ? key : "type");
    if (!*alt_path) return kite__js_nomem(c), 0;
    if (alts->type != KITE__J_ARR) return kite__js_fail(c, *alt_path, "must be an array of schemas"), 0;
    if (alts->n == 0) return kite__js_fail(c, *alt_path, key ? "must not be empty" : "type must not be empty"), 0;
    const kite__jval **v = malloc(alts->n * sizeof *v);
    if (!v) return kite__js_nomem(c), 0;
    for (size_t i = 0; i < alts->n; i++) v[i] = key ? alts->items[i] : with_type(c, s, alts->items[i]);
    *out = v;
    return alts->n;
}

char *kite__js_union_rule(conv *c, const kite__jval *const *alts, size_t n, const char *name, const char *path) {
    kite_buf b = {0};
    for (size_t i = 0; i < n && !c->fatal; i++) {
        char *nm = kite__js_fmt("%s%s%zu", name, *name ? "-" : "alternative-", i);
        char *p = kite__js_fmt("%s/%zu", path, i);
        char *r = nm && p && alts[i] ? kite__js_visit(c, alts[i], nm, p) : NULL;
        if (r) {
            if (i) kite_buf_puts(&b, " | ");
            kite_buf_puts(&b, r);
        }
        free(nm);
        free(p);
        free(r);
    }
    if (c->fatal) {
        kite_buf_free(&b);
        return NULL;
    }
    return kite__js_take(&b);
}

// allOf: the properties of its object parts merged, or the values all its enums share.
typedef struct allof {
    prop *props;
    size_t n_props;
    char **required;
    size_t n_req;
    char **enums; // literal rules
    size_t *enum_count;
    size_t n_enums;
} allof;

static void allof_component(conv *c, allof *a, const kite__jval *comp, bool is_required, const char *path) {
    if (c->fatal) return;
    kind k = kite__js_kind_of(c, comp, path);
    if (c->fatal) return;
    if (k == K_REF) {
        const kite__jval *r = kite__js_get(comp, "$ref");
        if (r->type != KITE__J_STR) return (void)kite__js_fail(c, path, "$ref must be a string");
        const kite__jval *t = kite__js_resolve_ref(c, r->s, path);
        if (t) allof_component(c, a, t, is_required, r->s);
    } else if (k == K_OBJECT) {
        const kite__jval *ps = kite__js_get(comp, "properties");
        if (ps && ps->type != KITE__J_OBJ) return (void)kite__js_fail(c, path, "properties must be an object");
        for (size_t i = 0; ps && i < ps->n; i++) {
            prop *q = realloc(a->props, (a->n_props + 1) * sizeof *q);
            if (!q) return (void)kite__js_nomem(c);
            a->props = q;
            char *pp = kite__js_sub_path(path, "properties/", ps->items[i]->key);
            a->props[a->n_props++] = (prop){ps->items[i]->key, ps->items[i], pp};
            if (is_required) {
                char **r = realloc(a->required, (a->n_req + 1) * sizeof *r);
                if (!r) return (void)kite__js_nomem(c);
                a->required = r;
                a->required[a->n_req++] = ps->items[i]->key;
            }
        }
    } else if (k == K_ENUM) {
        const kite__jval *vals = kite__js_get(comp, "enum");
        if (vals->type != KITE__J_ARR || vals->n == 0)
            return (void)kite__js_fail(c, path, "enum must be a non-empty array");
        for (size_t i = 0; i < vals->n; i++) {
            char *lit = kite__js_constant_rule(vals->items[i]);
            if (!lit) return (void)kite__js_nomem(c);
            size_t at = 0;
            while (at < a->n_enums && strcmp(a->enums[at], lit) < 0) at++; // kept sorted, as a std::map
            if (at < a->n_enums && strcmp(a->enums[at], lit) == 0) {
                a->enum_count[at]++;
                free(lit);
                continue;
            }
            char **e = realloc(a->enums, (a->n_enums + 1) * sizeof *e);
            if (e) a->enums = e;
            size_t *ec = realloc(a->enum_count, (a->n_enums + 1) * sizeof *ec);
            if (ec) a->enum_count = ec;
            if (!e || !ec) return free(lit), (void)kite__js_nomem(c);
            memmove(a->enums + at + 1, a->enums + at, (a->n_enums - at) * sizeof *e);
            memmove(a->enum_count + at + 1, a->enum_count + at, (a->n_enums - at) * sizeof *ec);
            a->enums[at] = lit;
            a->enum_count[at] = 1;
            a->n_enums++;
        }
    }
}

char *kite__js_visit_all_of(conv *c, const kite__jval *s, const char *name, const char *rule_name,
                           const char *path) {
    const kite__jval *children = kite__js_get(s, "allOf");
    char *ap = kite__js_fmt("%s/allOf", path);
    if (!ap) return kite__js_nomem(c);
    if (children->type != KITE__J_ARR || children->n == 0) {
        kite__js_fail(c, ap, children->type != KITE__J_ARR ? "must be an array of schemas" : "must not be empty");
        free(ap);
        return NULL;
    }
    allof a = {0};
    for (size_t i = 0; i < children->n && !c->fatal; i++) {
        const kite__jval *ch = children->items[i];
        char *cp = kite__js_fmt("%s/%zu", ap, i);
        if (!cp) {
            kite__js_nomem(c);
            break;
        }
        if (kite__js_kind_of(c, ch, cp) == K_ANY_OF && !c->fatal) {
            const kite__jval **alts;
            char *alt_path;
            size_t n = kite__js_alternatives(c, ch, cp, &alts, &alt_path);
            for (size_t j = 0; j < n; j++) allof_component(c, &a, alts[j], false, alt_path);
            free(alts);
            free(alt_path);
        } else {
            allof_component(c, &a, ch, true, cp);
        }
        free(cp);
    }
    char *res = NULL;
    if (!c->fatal) {
        kite_buf b = {0};
        size_t n_inter = 0;
        for (size_t i = 0; i < a.n_enums; i++)
            if (a.enum_count[i] == children->n) {
                kite_buf_puts(&b, n_inter++ ? " | " : "(");
                kite_buf_puts(&b, a.enums[i]);
            }
        if (n_inter) {
            kite_buf_puts(&b, ")");
            char *body = kite__js_take(&b);
            res = body ? kite__js_add_rule(c, rule_name, body) : kite__js_nomem(c);
            free(body);
        } else {
            kite_buf_free(&b);
            char *body = kite__js_build_object_rule(c, a.props, a.n_props, a.required, a.n_req, name, NULL, path);
            res = body ? kite__js_add_rule(c, rule_name, body) : NULL;
            free(body);
        }
    }
    for (size_t i = 0; i < a.n_props; i++) free(a.props[i].path);
    free(a.props);
    free(a.required);
    for (size_t i = 0; i < a.n_enums; i++) free(a.enums[i]);
    free(a.enums);
    free(a.enum_count);
    free(ap);
    return res;
}
