// hf_identity.c - the model's identity keys (general.name, basename, finetune, version,
// size_label, license, tags, languages, base_model.*, dataset.*...) as gguf-py's Metadata.load
// and convert_hf_to_gguf.py's prepare_metadata find them: README.md's model card, config.json's
// _name_or_path and the folder's name (its heuristics on "org/Name-7B-Instruct-v0.2" ids), the
// parameter count's size label.
#include "convert/convert_internal.h"
#include "base/internal.h"

#include <math.h>
#include <stdio.h>

// ---- string helpers (ASCII: other bytes are neither cased, digits, nor spaces) -------------

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_alpha(char c) { return is_lower(c) || is_upper(c) || (unsigned char)c >= 0x80; }
static char to_upper(char c) { return is_lower(c) ? (char)(c - 32) : c; }
static char to_lower(char c) { return is_upper(c) ? (char)(c + 32) : c; }
// Python's str.isspace for ASCII.
static bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

// Whether s[0..n) fully matches pattern-free ASCII case-insensitively.
static bool ieq(const char *s, size_t n, const char *z) {
    if (strlen(z) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (to_lower(s[i]) != z[i]) return false;
    return true;
}

// ---- gguf-py's Metadata.get_model_id_components ----------------------------------------------

enum { T_VERSION = 1, T_TYPE = 2, T_SIZE = 4, T_FINETUNE = 8, T_BASENAME = 16 };

// \d+([.]\d+)*, whole.
static bool match_dotted(const char *s) {
    if (!is_digit(*s)) return false;
    for (;;) {
        while (is_digit(*s)) s++;
        if (!*s) return true;
        if (*s != '.' || !is_digit(s[1])) return false;
        s++;
    }
}

// (v|iter)?\d+([.]\d+)*, case-insensitive, whole.
static bool match_version(const char *s) {
    if (to_lower(s[0]) == 'v') return match_dotted(s + 1);
    if (strlen(s) >= 4 && ieq(s, 4, "iter")) return match_dotted(s + 4);
    return match_dotted(s);
}

// i?q\d(_\w)*|b?fp?(16|32), case-insensitive, whole.
static bool match_type(const char *s) {
    const char *p = s;
    if (to_lower(*p) == 'i') p++;
    if (to_lower(*p) == 'q' && is_digit(p[1])) {
        for (p += 2; *p; p += 2)
            if (p[0] != '_' || !(is_digit(p[1]) || is_lower(p[1]) || is_upper(p[1]) || p[1] == '_')) return false;
        return true;
    }
    p = s;
    if (to_lower(*p) == 'b') p++;
    if (to_lower(*p) != 'f') return false;
    p++;
    if (to_lower(*p) == 'p') p++;
    return !strcmp(p, "16") || !strcmp(p, "32");
}

// \d+([._]\d+)?[KMBT][\d]? whole, case-insensitive.
static bool match_size_core(const char *s) {
    if (!is_digit(*s)) return false;
    while (is_digit(*s)) s++;
    if ((*s == '.' || *s == '_') && is_digit(s[1]))
        for (s++; is_digit(*s); s++) {}
    if (!*s || !strchr("kmbt", to_lower(*s))) return false;
    s++;
    if (is_digit(*s)) s++;
    return !*s;
}

// (([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl), case-insensitive, whole.
static bool match_size(const char *s) {
    static const char *const words[] = {"small", "mini", "medium", "large", "xl", "xxl"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (ieq(s, strlen(s), words[i])) return true;
    if (match_size_core(s)) return true;
    if (to_lower(*s) == 'a') return match_size_core(s + 1);
    const char *p = s;
    while (is_digit(*p)) p++;
    return p > s && to_lower(*p) == 'x' && match_size_core(p + 1);
}

// chat|instruct|vision|lora, case-insensitive, whole.
static bool match_finetune(const char *s) {
    size_t n = strlen(s);
    return ieq(s, n, "chat") || ieq(s, n, "instruct") || ieq(s, n, "vision") || ieq(s, n, "lora");
}

// Python's float(s) for what a size label's number can be: \d+(\.\d+)?.
static bool parse_number(const char *s, size_t n, double *out) {
    size_t i = 0;
    while (i < n && is_digit(s[i])) i++;
    if (i == 0) return false;
    if (i < n && s[i] == '.') {
        size_t j = ++i;
        while (i < n && is_digit(s[i])) i++;
        if (i == j) return false;
    }
    if (i != n) return false;
    char tmp[64];
    if (n >= sizeof tmp) return false;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return true;
}

// A size-label part rewritten as gguf-py does ("7b1" -> "7.1B", "1_5b" -> "1.5B"); true when it
// is a context length rather than the model's size (then its suffix is lowercased: a finetune).
static bool size_part(char *part, uint64_t total) {
    size_t n = strlen(part);
    for (size_t i = 0; i < n; i++)
        if (part[i] == '_') part[i] = '.';
    if (is_digit(part[n - 1])) { // "7b1": "7.1b" (the part has room: see annotate)
        char last = part[n - 1], prev = part[n - 2];
        part[n - 2] = '.';
        part[n - 1] = last;
        part[n] = prev;
        part[++n] = 0;
    }
    if (n > 1 && is_digit(part[n - 2]) && strchr("kmbt", part[n - 1])) part[n - 1] = to_upper(part[n - 1]);
    double x = 0;
    if (!total || !parse_number(part, n - 1, &x)) return false;
    const char *at = part[n - 1] ? strchr(" KMBT", part[n - 1]) : NULL;
    double label = x * (at ? pow(1000, (double)(at - " KMBT")) : 0.001);
    if (!(fabs(label - (double)total) > (double)(7 * total / 8))) return false;
    part[n - 1] = to_lower(part[n - 1]);
    return true;
}

typedef struct id_parts {
    char *full, *org, *basename, *finetune, *version, *size_label; // NULL: none
} id_parts;

static void id_parts_free(id_parts *p) {
    free(p->full), free(p->org), free(p->basename), free(p->finetune), free(p->version), free(p->size_label);
    memset(p, 0, sizeof *p);
}

// The parts of kind (and not of kind `not`) joined by '-' (NULL when none); size labels once each.
static char *join_parts(char **parts, const unsigned *types, size_t n, unsigned kind, unsigned not, bool dedup, bool *nomem) {
    kite_buf b = {0};
    bool any = false, ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (!(types[i] & kind) || (types[i] & not)) continue;
        bool seen = false;
        for (size_t k = 0; dedup && k < i && !seen; k++) seen = (types[k] & kind) && !strcmp(parts[k], parts[i]);
        if (seen) continue;
        ok = (!any || kite_buf_append(&b, "-", 1)) && kite_buf_puts(&b, parts[i]);
        any = true;
    }
    char *s = ok && any ? strndup(b.ptr, b.len) : NULL;
    if ((!ok || (any && !s))) *nomem = true;
    kite_buf_free(&b);
    return s;
}

// Metadata.get_model_id_components(id, total): "org/Name-7B-Instruct-v0.2" -> full name "Name-7B-
// Instruct-v0.2", org "org", basename "Name", size label "7B", finetune "Instruct", version "v0.2".
static kite_status model_id_components(const char *id, uint64_t total, id_parts *out) {
    memset(out, 0, sizeof *out);
    const char *slash = strchr(id, '/');
    if (strchr(id, ' ') || !slash) {
        if (!(out->full = strdup(id))) return kite__fail(KITE_ERR_NOMEM, "convert: out of memory");
        if (strchr(id, ' ')) return KITE_OK; // a sentence: the name only
    } else {
        out->full = strdup(slash + 1);
        out->org = id[0] != '.' ? strndup(id, (size_t)(slash - id)) : NULL; // not "./" or "../"
        if (!out->full || (id[0] != '.' && !out->org)) return id_parts_free(out), kite__fail(KITE_ERR_NOMEM, "convert: out of memory");
    }
    // the '-'-separated parts, each with room for size_part's added '.'
    size_t n = 0, len = strlen(out->full);
    char **parts = calloc(len / 2 + 1, sizeof *parts);
    unsigned *types = calloc(len / 2 + 1, sizeof *types);
    char *copy = malloc(2 * len + 2);
    bool nomem = !parts || !types || !copy;
    for (const char *p = out->full; !nomem && *p;) {
        const char *e = strchr(p, '-');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k) {
            parts[n] = copy + (p - out->full) * 2;
            memcpy(parts[n], p, k);
            parts[n++][k] = 0;
        }
        p += k + (e != NULL);
    }
    for (size_t i = 0; !nomem && i < n; i++) {
        char *part = parts[i];
        if (match_version(part)) types[i] |= T_VERSION;
        else if (match_type(part)) types[i] |= T_TYPE;
        else if (i > 0 && match_size(part)) types[i] |= size_part(part, total) ? T_FINETUNE : T_SIZE;
        else if (i > 0 && match_finetune(part)) types[i] |= T_FINETUNE;
    }
    // word size labels ("small") give way to a numeric one
    bool numeric = false;
    for (size_t i = 0; i < n; i++)
        for (const char *c = parts[i]; (types[i] & T_SIZE) && *c; c++) numeric |= is_digit(*c);
    for (size_t i = 0; numeric && i < n; i++) {
        bool alpha = true;
        for (const char *c = parts[i]; *c; c++) alpha &= is_alpha(*c);
        if ((types[i] & T_SIZE) && alpha) types[i] &= ~(unsigned)T_SIZE;
    }
    // the basename: the leading untyped words and versions
    bool at_start = true;
    for (size_t i = 0; i < n; i++) {
        if (at_start && ((!types[i] && is_alpha(parts[i][0])) || (types[i] & T_VERSION))) {
            types[i] |= T_BASENAME;
        } else {
            at_start = false;
            if (!types[i]) types[i] |= T_FINETUNE;
        }
    }
    for (size_t i = n; i-- > 0 && (types[i] & T_BASENAME) && types[i] != T_BASENAME;) types[i] &= ~(unsigned)T_BASENAME;
    if (!nomem) {
        out->basename = join_parts(parts, types, n, T_BASENAME, 0, false, &nomem);
        out->size_label = join_parts(parts, types, n, T_SIZE, 0, true, &nomem);
        out->finetune = join_parts(parts, types, n, T_FINETUNE, 0, false, &nomem);
        out->version = join_parts(parts, types, n, T_VERSION, T_BASENAME, false, &nomem);
    }
    if (!out->size_label && !out->finetune && !out->version) free(out->basename), out->basename = NULL; // too ambiguous
    free(parts);
    free(types);
    free(copy);
    if (nomem) return id_parts_free(out), kite__fail(KITE_ERR_NOMEM, "convert: out of memory");
    return KITE_OK;
}

// Metadata.id_to_title: '-' as spaces, each all-lowercase word title-cased unless a version
// ("v1.2") or starting with a digit; words joined by single spaces.
static char *id_to_title(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n;) {
        while (i < n && (is_space(s[i]) || s[i] == '-')) i++;
        size_t b = i;
        while (i < n && !is_space(s[i]) && s[i] != '-') i++;
        if (b == i) break;
        bool lower = false, upper = false;
        for (size_t k = b; k < i; k++) lower |= is_lower(s[k]), upper |= is_upper(s[k]);
        // ^(v\d+(?:\.\d+)*|\d.*)$: kept as written
        bool keep = is_digit(s[b]);
        if (s[b] == 'v') {
            char *w = strndup(s + b + 1, i - b - 1);
            if (!w) return free(out), NULL;
            keep = match_dotted(w);
            free(w);
        }
        if (o > out) *o++ = ' ';
        for (size_t k = b; k < i; k++) {
            char c = s[k];
            if (lower && !upper && !keep) {
                bool prev_cased = k > b && (is_lower(s[k - 1]) || is_upper(s[k - 1]));
                c = prev_cased ? to_lower(c) : to_upper(c);
            }
            *o++ = c;
        }
    }
    *o = 0;
    return out;
}

// ---- the metadata -------------------------------------------------------------------------

enum {
    F_NAME, F_AUTHOR, F_VERSION, F_ORGANIZATION, F_FINETUNE, F_BASENAME, F_DESCRIPTION, F_SIZE_LABEL, F_LICENSE,
    F_LICENSE_NAME, F_LICENSE_LINK, F_SOURCE_URL, F_SOURCE_DOI, F_SOURCE_UUID, F_SOURCE_REPO_URL, F_COUNT
};
// GGUF keys, in set_gguf_meta_model's order.
static const char *const field_keys[F_COUNT] = {
    "general.name", "general.author", "general.version", "general.organization", "general.finetune", "general.basename",
    "general.description", "general.size_label", "general.license", "general.license.name", "general.license.link",
    "general.source.url", "general.source.doi", "general.source.uuid", "general.source.repo_url",
};
static const int write_order[F_COUNT] = {F_NAME, F_AUTHOR, F_VERSION, F_ORGANIZATION, F_FINETUNE, F_BASENAME,
                                         F_DESCRIPTION, F_SIZE_LABEL, F_LICENSE, F_LICENSE_NAME, F_LICENSE_LINK,
                                         F_SOURCE_URL, F_SOURCE_DOI, F_SOURCE_UUID, F_SOURCE_REPO_URL};

// A base model's or data set's entry fields (general.base_model.N.<field>), in the writer's order.
static const char *const entry_fields[] = {"name", "author", "version", "organization", "description", "url", "doi", "uuid", "repo_url"};
#define N_ENTRY (sizeof entry_fields / sizeof entry_fields[0])
enum { E_NAME = 0, E_VERSION = 2, E_ORGANIZATION = 3, E_REPO_URL = 8 };

typedef struct entry {
    char *f[N_ENTRY];
} entry;

typedef struct str_list { // written when not empty
    char **s;
    size_t n;
} str_list;

typedef struct entry_list {
    bool set; // present: its count is written even when 0
    entry *e;
    size_t n;
} entry_list;

typedef struct meta {
    char *f[F_COUNT];
    str_list tags, languages;
    entry_list base_models, datasets;
} meta;

static void meta_free(meta *m) {
    for (int i = 0; i < F_COUNT; i++) free(m->f[i]);
    str_list *sl[2] = {&m->tags, &m->languages};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < sl[k]->n; i++) free(sl[k]->s[i]);
        free(sl[k]->s);
    }
    entry_list *el[2] = {&m->base_models, &m->datasets};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < el[k]->n; i++)
            for (size_t j = 0; j < N_ENTRY; j++) free(el[k]->e[i].f[j]);
        free(el[k]->e);
    }
}

static kite_status nomem(void) { return kite__fail(KITE_ERR_NOMEM, "convert: out of memory"); }

// Sets field f to a copy of s when it is unset (s NULL: nothing).
static kite_status set_if_unset(meta *m, int f, const char *s) {
    if (m->f[f] || !s) return KITE_OK;
    return (m->f[f] = strdup(s)) ? KITE_OK : nomem();
}

// use_model_card_metadata: the card's key (a string; for the license also a list, joined with
// ','), when the field is still unset. Other types are skipped with a warning (gguf-py would fail).
static kite_status use_card(meta *m, const kite__jval *card, int f, const char *key) {
    const kite__jval *v = kite__json_get(card, key);
    if (!v || v->type == KITE__J_NULL || m->f[f]) return KITE_OK;
    if (v->type == KITE__J_STR) return set_if_unset(m, f, v->s);
    if (v->type == KITE__J_ARR && f == F_LICENSE) {
        kite_buf b = {0};
        bool ok = true;
        for (size_t i = 0; i < v->n && ok; i++) {
            if (v->items[i]->type != KITE__J_STR) {
                kite_buf_free(&b);
                kite__log(KITE_LOG_WARN, "README.md: the model card's license list has an entry that is not a string; skipped");
                return KITE_OK;
            }
            ok = (i == 0 || kite_buf_append(&b, ",", 1)) && kite_buf_puts(&b, v->items[i]->s);
        }
        m->f[f] = ok ? strndup(b.len ? b.ptr : "", b.len) : NULL;
        kite_buf_free(&b);
        return m->f[f] ? KITE_OK : nomem();
    }
    kite__log(KITE_LOG_WARN, "README.md: the model card's \"%s\" is not a string; skipped", key);
    return KITE_OK;
}

static kite_status list_add(str_list *l, const char *s) {
    char **p = realloc(l->s, (l->n + 1) * sizeof *p);
    if (!p) return nomem();
    l->s = p;
    return (l->s[l->n] = strdup(s)) ? (l->n++, KITE_OK) : nomem();
}

// use_array_model_card_metadata: the card's string or list of strings appended to l.
static kite_status use_card_list(str_list *l, const kite__jval *card, const char *key) {
    const kite__jval *v = kite__json_get(card, key);
    if (!v || v->type == KITE__J_NULL) return KITE_OK;
    if (v->type == KITE__J_STR) return list_add(l, v->s);
    for (size_t i = 0; v->type == KITE__J_ARR && i < v->n; i++) {
        if (v->items[i]->type == KITE__J_STR) KITE_TRY(list_add(l, v->items[i]->s));
        else kite__log(KITE_LOG_WARN, "README.md: the model card's \"%s\" has an entry that is not a string; skipped", key);
    }
    return KITE_OK;
}

static kite_status entry_set(entry *e, int f, const char *s) {
    free(e->f[f]);
    return (e->f[f] = strdup(s)) ? KITE_OK : nomem();
}

// A base model / data set named by a Hugging Face id "org/name" (or a sentence): name,
// organization, version from the id, and its huggingface.co address when repo_url is set.
static kite_status entry_from_id(entry *e, const char *id, uint64_t total, bool repo_url) {
    id_parts p;
    KITE_TRY(model_id_components(id, total, &p));
    kite_status s = KITE_OK;
    char *t = NULL;
    if (p.full && (s = (t = id_to_title(p.full)) ? entry_set(e, E_NAME, t) : nomem()) == KITE_OK) free(t), t = NULL;
    if (s == KITE_OK && p.org) s = (t = id_to_title(p.org)) ? entry_set(e, E_ORGANIZATION, t) : nomem();
    free(t);
    if (s == KITE_OK && p.version) s = entry_set(e, E_VERSION, p.version);
    if (s == KITE_OK && repo_url && p.org && p.full) {
        size_t n = strlen(p.org) + strlen(p.full) + 32;
        char *u = malloc(n);
        if (u) snprintf(u, n, "https://huggingface.co/%s/%s", p.org, p.full);
        s = u ? entry_set(e, E_REPO_URL, u) : nomem();
        free(u);
    }
    id_parts_free(&p);
    return s;
}

// An http(s) / ssh address: its repo_url, and for "https://huggingface.co/org/name" the id's parts.
static kite_status entry_from_url(entry *e, const char *url, uint64_t total) {
    KITE_TRY(entry_set(e, E_REPO_URL, url));
    // gguf-py: "huggingface.co" in it, then re.match(r"https?://huggingface.co/([^/]+/[^/]+)$")
    if (!strstr(url, "huggingface.co") || strncmp(url, "http", 4)) return KITE_OK;
    const char *p = url + 4 + (url[4] == 's');
    if (strncmp(p, "://huggingface", 14) || !p[14] || p[14] == '\n' || strncmp(p + 15, "co/", 3)) return KITE_OK;
    const char *id = p + 18, *slash = strchr(id, '/');
    if (!slash || slash == id || !slash[1] || strchr(slash + 1, '/')) return KITE_OK;
    return entry_from_id(e, id, total, false);
}

// The card's base_model (or base_models / base_model_sources) or datasets (or dataset /
// dataset_sources) entries: ids, addresses, or key: value mappings.
static kite_status use_card_entries(entry_list *l, const kite__jval *card, const char *const keys[3], uint64_t total) {
    const kite__jval *v = NULL;
    for (int k = 0; k < 3 && !l->set; k++)
        if ((v = kite__json_get(card, keys[k]))) l->set = true;
    if (!v || (v->type != KITE__J_STR && v->type != KITE__J_ARR)) return KITE_OK;
    size_t n = v->type == KITE__J_STR ? 1 : v->n;
    if (!(l->e = calloc(n ? n : 1, sizeof *l->e))) return nomem();
    for (size_t i = 0; i < n; i++) {
        const kite__jval *x = v->type == KITE__J_STR ? v : v->items[i];
        entry *e = &l->e[l->n++];
        if (x->type == KITE__J_STR && (!strncmp(x->s, "http://", 7) || !strncmp(x->s, "https://", 8) || !strncmp(x->s, "ssh://", 6))) {
            KITE_TRY(entry_from_url(e, x->s, total));
        } else if (x->type == KITE__J_STR) {
            KITE_TRY(entry_from_id(e, x->s, total, true));
        } else if (x->type == KITE__J_OBJ) {
            for (size_t j = 0; j < N_ENTRY; j++) {
                const kite__jval *f = kite__json_get(x, entry_fields[j]);
                if (f && f->type == KITE__J_STR) KITE_TRY(entry_set(e, (int)j, f->s));
                else if (f && f->type != KITE__J_NULL)
                    kite__log(KITE_LOG_WARN, "README.md: the model card's %s entry %zu: \"%s\" is not a string; skipped", keys[0], i,
                              entry_fields[j]);
            }
        } else {
            kite__log(KITE_LOG_WARN, "README.md: the model card's %s entry %zu is not in a known format; skipped", keys[0], i);
        }
    }
    return KITE_OK;
}

// The name / organization / basename / finetune / version / size label of a model id, each
// where still unset (apply_metadata_heuristic's _name_or_path and folder-name steps).
static kite_status use_model_id(meta *m, const char *id, uint64_t total) {
    id_parts p;
    KITE_TRY(model_id_components(id, total, &p));
    kite_status s = KITE_OK;
    if (!m->f[F_NAME] && p.full) s = (m->f[F_NAME] = id_to_title(p.full)) ? KITE_OK : nomem();
    if (s == KITE_OK && !m->f[F_ORGANIZATION] && p.org) s = (m->f[F_ORGANIZATION] = id_to_title(p.org)) ? KITE_OK : nomem();
    if (s == KITE_OK) s = set_if_unset(m, F_BASENAME, p.basename);
    if (s == KITE_OK) s = set_if_unset(m, F_FINETUNE, p.finetune);
    if (s == KITE_OK) s = set_if_unset(m, F_VERSION, p.version);
    if (s == KITE_OK) s = set_if_unset(m, F_SIZE_LABEL, p.size_label);
    id_parts_free(&p);
    return s;
}

// The card's fields, in apply_metadata_heuristic's order (the first one found wins).
static kite_status use_model_card(meta *m, const kite__jval *card, uint64_t total) {
    static const struct {
        int f;
        const char *key;
    } fields[] = {
        {F_NAME, "name"}, {F_AUTHOR, "author"}, {F_VERSION, "version"}, {F_ORGANIZATION, "organization"},
        {F_DESCRIPTION, "description"}, {F_FINETUNE, "finetune"}, {F_BASENAME, "basename"}, {F_SIZE_LABEL, "size_label"},
        {F_SOURCE_URL, "url"}, {F_SOURCE_DOI, "doi"}, {F_SOURCE_UUID, "uuid"}, {F_SOURCE_REPO_URL, "repo_url"},
        {F_NAME, "model_name"}, {F_AUTHOR, "model_author"}, {F_VERSION, "model_version"},
        {F_ORGANIZATION, "model_organization"}, {F_DESCRIPTION, "model_description"}, {F_FINETUNE, "model_finetune"},
        {F_BASENAME, "model_basename"}, {F_SIZE_LABEL, "model_size_label"}, {F_SOURCE_URL, "model_url"},
        {F_SOURCE_DOI, "model_doi"}, {F_SOURCE_UUID, "model_uuid"}, {F_SOURCE_REPO_URL, "model_repo_url"},
        {F_AUTHOR, "model_creator"}, {F_BASENAME, "model_type"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) KITE_TRY(use_card(m, card, fields[i].f, fields[i].key));
    static const char *const base_keys[3] = {"base_model", "base_models", "base_model_sources"};
    static const char *const data_keys[3] = {"datasets", "dataset", "dataset_sources"};
    KITE_TRY(use_card_entries(&m->base_models, card, base_keys, total));
    KITE_TRY(use_card_entries(&m->datasets, card, data_keys, total));
    KITE_TRY(use_card(m, card, F_LICENSE, "license"));
    KITE_TRY(use_card(m, card, F_LICENSE_NAME, "license_name"));
    KITE_TRY(use_card(m, card, F_LICENSE_LINK, "license_link"));
    KITE_TRY(use_card_list(&m->tags, card, "tags"));
    KITE_TRY(use_card_list(&m->tags, card, "pipeline_tag"));
    KITE_TRY(use_card_list(&m->languages, card, "languages"));
    return use_card_list(&m->languages, card, "language");
}

// ---- gguf-py's size_label ------------------------------------------------------------------

// model_weight_count_rounded_notation(n, 2): "135M", "1.5B", "7.6B", "42K"...
static void rounded_notation(uint64_t count, char *out, size_t n) {
    double x = (double)count, scaled;
    char suffix;
    if (x > 1e12) scaled = x * 1e-12, suffix = 'T';
    else if (x > 1e9) scaled = x * 1e-9, suffix = 'B';
    else if (x > 1e6) scaled = x * 1e-6, suffix = 'M';
    else scaled = x * 1e-3, suffix = 'K';
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", nearbyint(scaled)); // Python's round(): half to even
    size_t lead = 0;
    while (digits[lead] == '0') lead++;
    int sig = (int)(strlen(digits) - lead), fix = sig < 2 ? 2 - sig : 0;
    snprintf(out, n, "%.*f%c", fix, scaled, suffix);
}

void kite__hf_size_label(const kite__hf_params *p, char *out, size_t n) {
    if (p->expert_count > 0) {
        char pretty[48];
        rounded_notation(p->shared + p->expert, pretty, sizeof pretty);
        snprintf(out, n, "%llux%s", (unsigned long long)p->expert_count, pretty);
    } else {
        rounded_notation(p->total, out, n);
    }
}

// ---- writing ---------------------------------------------------------------------------------

// add_string: an empty string is not written.
static kite_status put_str(kite_gguf_writer *w, const char *key, const char *s) {
    return s && *s ? kite_gguf_writer_set_str(w, key, s) : KITE_OK;
}

static kite_status put_entries(kite_gguf_writer *w, const char *what, const entry_list *l) {
    if (!l->set) return KITE_OK;
    char key[96];
    snprintf(key, sizeof key, "general.%s.count", what);
    KITE_TRY(kite_gguf_writer_set_u32(w, key, (uint32_t)l->n));
    for (size_t i = 0; i < l->n; i++)
        for (size_t j = 0; j < N_ENTRY; j++) {
            snprintf(key, sizeof key, "general.%s.%zu.%s", what, i, entry_fields[j]);
            KITE_TRY(put_str(w, key, l->e[i].f[j]));
        }
    return KITE_OK;
}

static kite_status put_list(kite_gguf_writer *w, const char *key, const str_list *l) {
    if (!l->n) return KITE_OK; // add_array: an empty list is not written
    kite_str *v = malloc(l->n * sizeof *v);
    if (!v) return nomem();
    for (size_t i = 0; i < l->n; i++) v[i] = (kite_str){l->s[i], strlen(l->s[i])};
    kite_status s = kite__hf_put_strs(w, key, v, l->n);
    free(v);
    return s;
}

kite_status kite__hf_identity_keys(const kite_hf_files *f, const kite__jval *cfg, const char *dir_name, const char *name,
                                   const kite__hf_params *params, kite_gguf_writer *w) {
    meta m = {0};
    kite__jval *card = NULL;
    uint8_t *text = NULL;
    uint64_t len = 0;
    uint64_t total = params->total;
    kite_status s = kite__hf_read_all(f, "README.md", &text, &len);
    if (s == KITE_OK && text) s = kite__hf_model_card(text, len, &card);
    free(text);
    if (s == KITE_OK && card) s = use_model_card(&m, card, total);
    kite__json_free(card);
    const kite__jval *np = kite__json_get(cfg, "_name_or_path");
    if (s == KITE_OK && np && np->type == KITE__J_STR) {
        size_t slashes = 0;
        for (const char *c = np->s; *c; c++) slashes += *c == '/';
        if (slashes <= 1) s = use_model_id(&m, np->s, total); // a model id, not a path on some computer
    }
    if (s == KITE_OK && dir_name) s = use_model_id(&m, dir_name, total);
    if (s == KITE_OK && name) { // --model-name
        free(m.f[F_NAME]);
        s = (m.f[F_NAME] = strdup(name)) ? KITE_OK : nomem();
    }
    if (s == KITE_OK && dir_name) s = set_if_unset(&m, F_NAME, dir_name);
    if (s == KITE_OK && !m.f[F_SIZE_LABEL] && total > 0) {
        char label[64];
        kite__hf_size_label(params, label, sizeof label);
        s = set_if_unset(&m, F_SIZE_LABEL, label);
    }
    for (int i = 0; s == KITE_OK && i < F_COUNT; i++) s = put_str(w, field_keys[write_order[i]], m.f[write_order[i]]);
    if (s == KITE_OK) s = put_entries(w, "base_model", &m.base_models);
    if (s == KITE_OK) s = put_entries(w, "dataset", &m.datasets);
    if (s == KITE_OK) s = put_list(w, "general.tags", &m.tags);
    if (s == KITE_OK) s = put_list(w, "general.languages", &m.languages);
    meta_free(&m);
    return s;
}
