// hf_model_card.c - README.md's YAML front matter (the model card's metadata) as gguf-py's
// Metadata.load_model_card reads it, for the keys its heuristics use; only the YAML subset
// model cards use for them is parsed (see kite__hf_model_card).
#include "convert/convert_internal.h"
#include "base/internal.h"

#include <stdio.h>

// The top-level keys Metadata.apply_metadata_heuristic reads.
static const char *const wanted[] = {
    "name", "author", "version", "organization", "description", "finetune", "basename", "size_label", "url", "doi", "uuid",
    "repo_url", "model_name", "model_author", "model_version", "model_organization", "model_description", "model_finetune",
    "model_basename", "model_size_label", "model_url", "model_doi", "model_uuid", "model_repo_url", "model_creator",
    "model_type", "base_model", "base_models", "base_model_sources", "datasets", "dataset", "dataset_sources", "license",
    "license_name", "license_link", "tags", "pipeline_tag", "languages", "language",
};

typedef struct line {
    const char *p;
    size_t n;
} line;

typedef struct card {
    line *lines;
    size_t n_lines;
    kite__jval *obj;
} card;

static size_t indent_of(line l) {
    size_t i = 0;
    while (i < l.n && l.p[i] == ' ') i++;
    return i;
}

// A line with nothing but spaces or a comment.
static bool blank(line l) {
    size_t i = indent_of(l);
    return i == l.n || l.p[i] == '#';
}

static kite__jval *new_val(kite__jtype t) {
    kite__jval *v = calloc(1, sizeof *v);
    if (v) v->type = t;
    return v;
}

static kite__jval *new_str(const char *s, size_t n) {
    kite__jval *v = new_val(KITE__J_STR);
    if (v && !(v->s = malloc(n + 1))) {
        free(v);
        return NULL;
    }
    if (v) {
        memcpy(v->s, s, n);
        v->s[n] = 0;
        v->slen = n;
    }
    return v;
}

// Appends item to the array or object v (taking it); false when out of memory (item freed).
static bool push(kite__jval *v, kite__jval *item) {
    if (!item) return false;
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 4;
        kite__jval **items = realloc(v->items, cap * sizeof *items);
        if (!items) {
            kite__json_free(item);
            return false;
        }
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = item;
    return true;
}

typedef enum { SC_OK, SC_UNSUPPORTED, SC_NOMEM } sc_result;

// A scalar at s[0..n): double- or single-quoted, or plain (ended by " #" comment, or in a flow
// sequence by ',' or ']'). *used: the bytes taken (through the closing quote / before the end
// character); *out a string, or null for a plain null / ~ / empty value.
static sc_result scalar(const char *s, size_t n, bool flow, size_t *used, kite__jval **out) {
    *out = NULL;
    if (n && (s[0] == '"' || s[0] == '\'')) {
        kite_buf b = {0};
        size_t i = 1;
        bool closed = false;
        for (; i < n && !closed; i++) {
            char c = s[i];
            if (s[0] == '\'') {
                if (c == '\'' && i + 1 < n && s[i + 1] == '\'') i++;
                else if (c == '\'') {
                    closed = true;
                    continue;
                }
            } else if (c == '"') {
                closed = true;
                continue;
            } else if (c == '\\') {
                static const char from[] = "\"\\/ntr0", to[] = "\"\\/\n\t\r";
                const char *e = i + 1 < n ? strchr(from, s[i + 1]) : NULL;
                if (!e || !s[i + 1]) {
                    kite_buf_free(&b);
                    return SC_UNSUPPORTED; // \u, \x and the rest: not in the subset
                }
                c = *e == '0' ? 0 : to[e - from];
                i++;
            }
            if (!kite_buf_append(&b, &c, 1)) {
                kite_buf_free(&b);
                return SC_NOMEM;
            }
        }
        if (!closed) {
            kite_buf_free(&b);
            return SC_UNSUPPORTED; // a quoted scalar over several lines
        }
        *used = i;
        *out = new_str(b.len ? b.ptr : "", b.len);
        kite_buf_free(&b);
        return *out ? SC_OK : SC_NOMEM;
    }
    if (n && strchr("[]{}&*!|>%@`,", s[0])) return SC_UNSUPPORTED;
    size_t e = 0;
    while (e < n && !(flow && (s[e] == ',' || s[e] == ']')) && !(e && s[e] == '#' && s[e - 1] == ' ')) {
        if (s[e] == ':' && (e + 1 == n || s[e + 1] == ' ')) return SC_UNSUPPORTED; // a mapping
        e++;
    }
    *used = e;
    while (e && s[e - 1] == ' ') e--;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t k = 0; k < sizeof nulls / sizeof nulls[0]; k++)
        if (strlen(nulls[k]) == e && !strncmp(s, nulls[k], e)) return (*out = new_val(KITE__J_NULL)) ? SC_OK : SC_NOMEM;
    return (*out = new_str(s, e)) ? SC_OK : SC_NOMEM;
}

// Only spaces or a comment in s[0..n).
static bool rest_empty(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && s[i] == ' ') i++;
    return i == n || s[i] == '#';
}

// A flow sequence of scalars on one line, "[a, 'b', c]".
static sc_result flow_seq(const char *s, size_t n, kite__jval **out) {
    kite__jval *arr = new_val(KITE__J_ARR);
    if (!arr) return SC_NOMEM;
    size_t i = 1;
    sc_result r = SC_OK;
    for (;;) {
        while (i < n && s[i] == ' ') i++;
        if (i < n && s[i] == ']' && arr->n == 0) break;
        size_t used = 0;
        kite__jval *v = NULL;
        if ((r = scalar(s + i, n - i, true, &used, &v)) != SC_OK) break;
        if (!push(arr, v)) {
            r = SC_NOMEM;
            break;
        }
        i += used;
        while (i < n && s[i] == ' ') i++;
        if (i < n && s[i] == ',') i++;
        else if (i < n && s[i] == ']') break;
        else {
            r = SC_UNSUPPORTED;
            break;
        }
    }
    if (r == SC_OK && !rest_empty(s + i + 1, n - i - 1)) r = SC_UNSUPPORTED;
    if (r != SC_OK) kite__json_free(arr), arr = NULL;
    *out = arr;
    return r;
}

// A value that starts on its key's line (s[0..n), after the ": ").
static sc_result inline_value(const char *s, size_t n, kite__jval **out) {
    while (n && s[0] == ' ') s++, n--;
    if (n && s[0] == '[') return flow_seq(s, n, out);
    size_t used = 0;
    sc_result r = scalar(s, n, false, &used, out);
    if (r == SC_OK && !rest_empty(s + used, n - used)) r = SC_UNSUPPORTED;
    if (r != SC_OK) kite__json_free(*out), *out = NULL;
    return r;
}

// "key: rest" at l.p[at..]: the key (plain or quoted) into *key (malloc'd) and where the rest
// starts; false when the line is no such entry.
static bool split_key(line l, size_t at, char **key, size_t *rest) {
    const char *s = l.p + at;
    size_t n = l.n - at, used = 0, k = 0;
    kite__jval *q = NULL;
    if (n && (s[0] == '"' || s[0] == '\'')) {
        if (scalar(s, n, false, &used, &q) != SC_OK || q->type != KITE__J_STR || used >= n || s[used] != ':' ||
            (used + 1 < n && s[used + 1] != ' ')) {
            kite__json_free(q);
            return false;
        }
        *key = q->s;
        q->s = NULL;
        kite__json_free(q);
        *rest = at + used + 1;
        return true;
    }
    while (k < n && !(s[k] == ':' && (k + 1 == n || s[k + 1] == ' '))) k++;
    if (k == n || k == 0 || strchr("-[]{}#&*!|>%@`\"'", s[0])) return false;
    size_t e = k;
    while (e && s[e - 1] == ' ') e--;
    if (!(*key = malloc(e + 1))) return false;
    memcpy(*key, s, e);
    (*key)[e] = 0;
    *rest = at + k + 1;
    return true;
}

// A block sequence in lines [b, e) (the first non-blank one a "- " item): scalar items, or
// items that are one-level mappings of scalars ("- name: x" then "  author: y").
static sc_result block_seq(const card *c, size_t b, size_t e, kite__jval **out) {
    kite__jval *arr = new_val(KITE__J_ARR);
    if (!arr) return SC_NOMEM;
    sc_result r = SC_OK;
    size_t d = SIZE_MAX;
    for (size_t i = b; r == SC_OK && i < e; i++) {
        line l = c->lines[i];
        if (blank(l)) continue;
        size_t at = indent_of(l);
        if (d == SIZE_MAX) d = at;
        if (at != d || l.p[at] != '-' || (at + 1 < l.n && l.p[at + 1] != ' ')) {
            r = SC_UNSUPPORTED;
            break;
        }
        size_t content = at + 1;
        while (content < l.n && l.p[content] == ' ') content++;
        char *key = NULL;
        size_t rest = 0;
        kite__jval *v = NULL;
        if (split_key(l, content, &key, &rest)) { // a mapping item: its entries at column `content`
            kite__jval *obj = new_val(KITE__J_OBJ);
            if (!obj) {
                free(key);
                r = SC_NOMEM;
                break;
            }
            for (size_t j = i;;) {
                kite__jval *m = NULL;
                if ((r = inline_value(c->lines[j].p + rest, c->lines[j].n - rest, &m)) != SC_OK) {
                    free(key);
                    break;
                }
                m->key = key;
                if (!push(obj, m)) {
                    r = SC_NOMEM;
                    break;
                }
                while (j + 1 < e && blank(c->lines[j + 1])) j++;
                if (j + 1 >= e || indent_of(c->lines[j + 1]) <= d) break;
                i = ++j;
                if (indent_of(c->lines[j]) != content || !split_key(c->lines[j], content, &key, &rest)) {
                    r = SC_UNSUPPORTED;
                    break;
                }
            }
            v = obj;
            if (r != SC_OK) {
                kite__json_free(obj);
                break;
            }
        } else {
            if ((r = inline_value(l.p + content, l.n - content, &v)) != SC_OK) break;
            size_t j = i + 1;
            while (j < e && blank(c->lines[j])) j++;
            if (j < e && indent_of(c->lines[j]) > d) {
                kite__json_free(v); // a scalar continued on the next lines
                r = SC_UNSUPPORTED;
                break;
            }
        }
        if (!push(arr, v)) r = SC_NOMEM;
    }
    if (r != SC_OK) kite__json_free(arr), arr = NULL;
    *out = arr;
    return r;
}

// Sets c->obj's member key (replacing an earlier one, as a YAML loader keeps the last).
static bool set_member(card *c, char *key, kite__jval *v) {
    v->key = key;
    for (size_t i = 0; i < c->obj->n; i++)
        if (!strcmp(c->obj->items[i]->key, key)) {
            kite__json_free(c->obj->items[i]);
            c->obj->items[i] = v;
            return true;
        }
    return push(c->obj, v);
}

static kite_status parse_lines(card *c) {
    for (size_t i = 0; i < c->n_lines;) {
        line l = c->lines[i];
        if (blank(l)) {
            i++;
            continue;
        }
        // the entry's block: the lines after it that are indented, blank, or "- " items
        size_t e = i + 1;
        while (e < c->n_lines && (blank(c->lines[e]) || c->lines[e].p[0] == ' ' ||
                                  (c->lines[e].p[0] == '-' && (c->lines[e].n == 1 || c->lines[e].p[1] == ' '))))
            e++;
        char *key = NULL;
        size_t rest = 0;
        if (l.p[0] == ' ' || !split_key(l, 0, &key, &rest)) {
            kite__log(KITE_LOG_WARN, "README.md: model card line %zu is not a \"key: value\" entry; skipped", i + 2);
            i = e;
            continue;
        }
        bool want = false;
        for (size_t k = 0; k < sizeof wanted / sizeof wanted[0] && !want; k++) want = !strcmp(key, wanted[k]);
        if (!want) {
            free(key);
            i = e;
            continue;
        }
        kite__jval *v = NULL;
        bool has_block = false;
        for (size_t j = i + 1; j < e; j++) has_block |= !blank(c->lines[j]);
        sc_result r;
        if (!rest_empty(l.p + rest, l.n - rest)) {
            r = has_block ? SC_UNSUPPORTED : inline_value(l.p + rest, l.n - rest, &v);
        } else {
            r = has_block ? block_seq(c, i + 1, e, &v) : ((v = new_val(KITE__J_NULL)) ? SC_OK : SC_NOMEM);
        }
        if (r == SC_UNSUPPORTED)
            kite__log(KITE_LOG_WARN, "README.md: the model card's \"%s\" (line %zu) is not in the YAML subset kite reads "
                                     "(scalars, [a, b] and \"- \" lists of scalars or of key: value entries); skipped", key, i + 2);
        if (r != SC_OK) free(key);
        // (set_member frees v and key when it fails)
        if (r == SC_NOMEM || (r == SC_OK && !set_member(c, key, v))) return kite__fail(KITE_ERR_NOMEM, "README.md: out of memory");
        i = e;
    }
    return KITE_OK;
}

// Appends line l to b, tabs as two spaces (as gguf-py rewrites them before YAML reads them), and
// a newline.
static bool append_line(kite_buf *b, line l) {
    for (size_t k = 0; k < l.n; k++)
        if (!(l.p[k] == '\t' ? kite_buf_append(b, "  ", 2) : kite_buf_append(b, &l.p[k], 1))) return false;
    return kite_buf_append(b, "\n", 1);
}

kite_status kite__hf_model_card(const uint8_t *text, uint64_t len, kite__jval **out) {
    *out = NULL;
    // the front matter: the lines after a first line "---", up to the next "---" or the end
    kite_buf b = {0};
    card c = {0};
    bool front = false, ok = true;
    for (uint64_t i = 0, n_lines = 0; i < len && ok; n_lines++) {
        uint64_t e = i;
        while (e < len && text[e] != '\n' && text[e] != '\r') e++;
        line l = {(const char *)text + i, (size_t)(e - i)};
        i = e < len && text[e] == '\r' && e + 1 < len && text[e + 1] == '\n' ? e + 2 : e + 1;
        bool dashes = l.n == 3 && !memcmp(l.p, "---", 3);
        if (n_lines == 0 && !dashes) break;
        if (n_lines > 0 && dashes) break;
        if (n_lines == 0) front = true;
        else ok = append_line(&b, l);
    }
    kite_status s = ok ? KITE_OK : kite__fail(KITE_ERR_NOMEM, "README.md: out of memory");
    if (s != KITE_OK || !front) {
        kite_buf_free(&b);
        return s;
    }
    for (size_t i = 0; i < b.len; i++) c.n_lines += b.ptr[i] == '\n';
    c.lines = calloc(c.n_lines + 1, sizeof *c.lines);
    c.obj = new_val(KITE__J_OBJ);
    if (!c.lines || !c.obj) s = kite__fail(KITE_ERR_NOMEM, "README.md: out of memory");
    for (size_t i = 0, k = 0, start = 0; s == KITE_OK && i < b.len; i++)
        if (b.ptr[i] == '\n') {
            c.lines[k++] = (line){b.ptr + start, i - start};
            start = i + 1;
        }
    if (s == KITE_OK) s = parse_lines(&c);
    free(c.lines);
    kite_buf_free(&b);
    if (s != KITE_OK) kite__json_free(c.obj);
    else *out = c.obj;
    return s;
}
