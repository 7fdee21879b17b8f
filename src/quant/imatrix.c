// imatrix.c - reads llama-imatrix's files. GGUF format: per weight tensor W, an F32 tensor
// "W.in_sum2" (ne0 x n_expert sums of squared activations) and "W.counts" (1 x n_expert token
// counts), plus the keys imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size. Legacy .dat
// format (little-endian): int32 n_entries; per entry int32 name length, the name, int32 ncall,
// int32 nval, nval floats (already mean * ncall); then optionally int32 chunk count, int32
// dataset name length and the name.
#include "quant/kite_imatrix.h"

#include <math.h>
#include <stdio.h>

#include "base/internal.h"
#include "gguf/kite_gguf.h"

static void entry_free(kite_imatrix_entry *e) {
    free(e->name);
    free(e->values);
    free(e->sums);
    free(e->counts);
}

void kite_imatrix_free(kite_imatrix *im) {
    if (!im) return;
    for (size_t i = 0; i < im->n_entries; i++) entry_free(&im->entries[i]);
    free(im->entries);
    free(im->dataset);
    for (size_t i = 0; i < im->n_datasets; i++) free(im->datasets[i]);
    free(im->datasets);
    free(im);
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const kite_imatrix_entry *)a)->name, ((const kite_imatrix_entry *)b)->name);
}

const kite_imatrix_entry *kite_imatrix_find(const kite_imatrix *im, const char *name) {
    if (!im || !name) return NULL;
    kite_imatrix_entry key = {.name = (char *)name};
    return bsearch(&key, im->entries, im->n_entries, sizeof key, cmp_entry);
}

// Appends an entry (taking what it points to), or replaces one of the same name (the later one
// wins, as in llama.cpp's map). Frees what it takes on failure.
static kite_status add_entry(kite_imatrix *im, size_t *cap, kite_imatrix_entry e) {
    for (size_t i = 0; i < im->n_entries; i++) {
        if (!strcmp(im->entries[i].name, e.name)) {
            entry_free(&im->entries[i]);
            im->entries[i] = e;
            return KITE_OK;
        }
    }
    if (im->n_entries == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        kite_imatrix_entry *es = realloc(im->entries, nc * sizeof *es);
        if (!es) {
            entry_free(&e);
            return kite__fail(KITE_ERR_NOMEM, "imatrix: out of memory");
        }
        im->entries = es;
        *cap = nc;
    }
    im->entries[im->n_entries++] = e;
    return KITE_OK;
}

// Appends a copy of the first n bytes of s (up to a NUL) to the dataset names; the first one is
// also im->dataset.
static kite_status add_dataset(kite_imatrix *im, const char *s, size_t n) {
    const void *nul = memchr(s, 0, n);
    if (nul) n = (size_t)((const char *)nul - s);
    char **ds = realloc(im->datasets, (im->n_datasets + 1) * sizeof *ds);
    if (!ds) return kite__fail(KITE_ERR_NOMEM, "imatrix: out of memory");
    im->datasets = ds;
    if (!(ds[im->n_datasets] = dup_n(s, n))) return kite__fail(KITE_ERR_NOMEM, "imatrix: out of memory");
    im->n_datasets++;
    if (!im->dataset && !(im->dataset = dup_n(s, n))) return kite__fail(KITE_ERR_NOMEM, "imatrix: out of memory");
    return KITE_OK;
}

// ---- legacy .dat --------------------------------------------------------------------------------

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static bool read_i32(reader *r, int32_t *v) {
    if (r->left < 4) return false;
    memcpy(v, r->p, 4);
    r->p += 4;
    r->left -= 4;
    return true;
}

static kite_status parse_legacy(const uint8_t *buf, size_t len, kite_imatrix *im) {
    reader r = {buf, len};
    int32_t n_entries;
    if (!read_i32(&r, &n_entries) || n_entries < 1) return kite__fail(KITE_ERR_INVALID, "imatrix: no data in the file");
    size_t cap = 0;
    for (int32_t i = 0; i < n_entries; i++) {
        int32_t nlen, ncall, nval;
        if (!read_i32(&r, &nlen) || nlen < 0 || (size_t)nlen > r.left)
            return kite__fail(KITE_ERR_INVALID, "imatrix: failed reading the name of entry %d", (int)i + 1);
        // the name ends at its first NUL, as llama.cpp reads it
        const char *np = (const char *)r.p;
        const void *nul = memchr(np, 0, (size_t)nlen);
        size_t name_len = nul ? (size_t)((const char *)nul - np) : (size_t)nlen;
        r.p += nlen;
        r.left -= (size_t)nlen;
        if (!read_i32(&r, &ncall) || !read_i32(&r, &nval) || nval < 1)
            return kite__fail(KITE_ERR_INVALID, "imatrix: failed reading the number of values of entry %d (%.*s)", (int)i + 1,
                              (int)KITE_MIN(name_len, 200), np);
        if ((uint64_t)nval * 4 > r.left)
            return kite__fail(KITE_ERR_INVALID, "imatrix: entry %d (%.*s) is truncated: %d values, %zu bytes left", (int)i + 1,
                              (int)KITE_MIN(name_len, 200), np, (int)nval, r.left);
        kite_imatrix_entry e = {.name = dup_n(np, name_len), .values = malloc((size_t)nval * sizeof(float)),
                                .n = (uint64_t)nval, .sums = malloc((size_t)nval * sizeof(float)),
                                .counts = malloc(sizeof(int64_t)), .n_counts = 1};
        if (!e.name || !e.values || !e.sums || !e.counts) {
            entry_free(&e);
            return kite__fail(KITE_ERR_NOMEM, "imatrix: out of memory");
        }
        memcpy(e.sums, r.p, (size_t)nval * 4);
        r.p += (size_t)nval * 4;
        r.left -= (size_t)nval * 4;
        e.counts[0] = ncall;
        // stored as mean * ncall: back to the mean
        for (int32_t k = 0; k < nval; k++) e.values[k] = ncall > 0 ? e.sums[k] / (float)ncall : e.sums[k];
        KITE_TRY(add_entry(im, &cap, e));
    }
    // optional trailer: chunk count, then the dataset name (a short trailer is not an error)
    if (r.left > 0) {
        int32_t n_calls = 0;
        size_t k = KITE_MIN(r.left, 4);
        memcpy(&n_calls, r.p, k);
        r.p += k;
        r.left -= k;
        im->chunk_count = n_calls;
        int32_t dlen;
        if (k == 4 && read_i32(&r, &dlen) && dlen > 0 && (size_t)dlen <= r.left)
            KITE_TRY(add_dataset(im, (const char *)r.p, (size_t)dlen));
    }
    im->legacy = true;
    return KITE_OK;
}

// ---- GGUF ---------------------------------------------------------------------------------------

static bool strip_suffix(kite_str s, const char *suffix, kite_str *base) {
    size_t k = strlen(suffix);
    if (s.len < k || memcmp(s.ptr + s.len - k, suffix, k) != 0) return false;
    *base = (kite_str){s.ptr, s.len - k};
    return true;
}

static bool str_eq(kite_str a, kite_str b) { return a.len == b.len && !memcmp(a.ptr, b.ptr, (size_t)a.len); }

static uint64_t n_elements(const kite_gguf_tensor *t) {
    uint64_t n = 1;
    for (int d = 0; d < KITE_GGUF_MAX_DIMS; d++) n *= t->ne[d];
    return n;
}

// One entry from its sums and counts tensors: sums / count per expert, 1 for experts never run.
static kite_status gguf_entry(kite_imatrix *im, size_t *cap, kite_str name, const kite_gguf_tensor *sums,
                              const kite_gguf_tensor *counts) {
    if (sums->type != KITE_TYPE_F32 || counts->type != KITE_TYPE_F32)
        return kite__fail(KITE_ERR_INVALID, "imatrix: sums and counts for %.*s must be F32", (int)KITE_MIN(name.len, 200), name.ptr);
    const uint64_t nval = n_elements(sums), ncounts = n_elements(counts);
    if (ncounts == 0 || nval == 0 || nval > (1ull << 40))
        return kite__fail(KITE_ERR_INVALID, "imatrix: %.*s has %llu sums and %llu counts", (int)KITE_MIN(name.len, 200), name.ptr,
                          (unsigned long long)nval, (unsigned long long)ncounts);
    const uint64_t ne0 = nval / ncounts;
    // values past ncounts * ne0 stay 0, as in llama.cpp
    kite_imatrix_entry e = {.name = dup_n(name.ptr, (size_t)name.len), .values = calloc((size_t)nval, sizeof(float)),
                            .n = nval, .sums = malloc((size_t)nval * sizeof(float)),
                            .counts = malloc((size_t)ncounts * sizeof(int64_t)), .n_counts = ncounts};
    if (!e.name || !e.values || !e.sums || !e.counts) {
        entry_free(&e);
        return kite__fail(KITE_ERR_NOMEM, "imatrix: out of memory");
    }
    memcpy(e.sums, sums->data, (size_t)nval * 4);
    for (uint64_t j = 0; j < ncounts; j++) {
        float c32;
        memcpy(&c32, counts->data + 4 * j, 4);
        // counts are stored as floats and read back rounded (lround) to an integer
        double cr = round((double)c32);
        e.counts[j] = (cr > -9.2e18 && cr < 9.2e18) ? (int64_t)cr : 0;
        const float count = (float)e.counts[j];
        for (uint64_t i = 0; i < ne0; i++) e.values[j * ne0 + i] = count > 0.0f ? e.sums[j * ne0 + i] / count : 1.0f;
    }
    return add_entry(im, cap, e);
}

static kite_status parse_gguf(const uint8_t *buf, size_t len, kite_imatrix *im) {
    kite_gguf *g = NULL;
    kite_status s = kite_gguf_parse(buf, len, &g);
    if (s != KITE_OK) return kite__fail(s, "imatrix: %s", kite_last_error());
    if (g->n_tensors < 1) {
        kite_gguf_free(g);
        return kite__fail(KITE_ERR_INVALID, "imatrix: no data in the file");
    }
    const kite_gguf_kv *ds = kite_gguf_find(g, "imatrix.datasets");
    const kite_gguf_kv *cc = kite_gguf_find(g, "imatrix.chunk_count");
    const kite_gguf_kv *cs = kite_gguf_find(g, "imatrix.chunk_size");
    if (!ds || !cc || !cs) {
        kite_gguf_free(g);
        return kite__fail(KITE_ERR_INVALID, "imatrix: missing imatrix metadata (imatrix.datasets, imatrix.chunk_count, "
                                            "imatrix.chunk_size): not a file llama-imatrix wrote");
    }
    if (cc->val.type != KITE_GGUF_UINT32 || cs->val.type != KITE_GGUF_UINT32) {
        kite_gguf_free(g);
        return kite__fail(KITE_ERR_INVALID, "imatrix: imatrix.chunk_count and imatrix.chunk_size must be u32");
    }
    im->chunk_count = (int32_t)(uint32_t)cc->val.u;
    if (ds->val.type == KITE_GGUF_ARRAY && ds->val.arr.elem == KITE_GGUF_STRING)
        for (uint64_t i = 0; s == KITE_OK && i < ds->val.arr.n; i++)
            s = add_dataset(im, ds->val.arr.strs[i].ptr, (size_t)ds->val.arr.strs[i].len);
    // pair W.in_sum2 with W.counts; other tensors are ignored
    size_t cap = 0;
    for (uint64_t i = 0; s == KITE_OK && i < g->n_tensors; i++) {
        kite_str base;
        const kite_gguf_tensor *t = &g->tensors[i];
        bool is_sums = strip_suffix(t->name, ".in_sum2", &base);
        if (!is_sums && !strip_suffix(t->name, ".counts", &base)) continue;
        const char *other = is_sums ? ".counts" : ".in_sum2";
        const kite_gguf_tensor *mate = NULL;
        for (uint64_t k = 0; k < g->n_tensors; k++) {
            kite_str b2;
            if (strip_suffix(g->tensors[k].name, other, &b2) && str_eq(b2, base)) mate = &g->tensors[k];
        }
        if (!mate || memchr(base.ptr, 0, (size_t)base.len)) {
            s = kite__fail(KITE_ERR_INVALID, "imatrix: mismatched sums and counts for %.*s", (int)KITE_MIN(base.len, 200), base.ptr);
            break;
        }
        if (is_sums) s = gguf_entry(im, &cap, base, t, mate);
    }
    kite_gguf_free(g);
    return s;
}

kite_status kite_imatrix_parse(const uint8_t *buf, size_t len, kite_imatrix **out) {
    *out = NULL;
    kite_imatrix *im = calloc(1, sizeof *im);
    if (!im) return kite__fail(KITE_ERR_NOMEM, "imatrix: out of memory");
    kite_status s = len >= 4 && !memcmp(buf, "GGUF", 4) ? parse_gguf(buf, len, im) : parse_legacy(buf, len, im);
    if (s == KITE_OK && im->n_entries == 0) s = kite__fail(KITE_ERR_INVALID, "imatrix: the file has no entries");
    if (s != KITE_OK) {
        kite_imatrix_free(im);
        return s;
    }
    qsort(im->entries, im->n_entries, sizeof *im->entries, cmp_entry);
    *out = im;
    return KITE_OK;
}

static bool contains_any(const char *name, const char *const *parts, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (parts[i] && strstr(name, parts[i])) return true;
    return false;
}

void kite_imatrix_filter(kite_imatrix *im, const char *const *include, size_t n_include, const char *const *exclude,
                         size_t n_exclude) {
    size_t k = 0;
    for (size_t i = 0; i < im->n_entries; i++) {
        kite_imatrix_entry *e = &im->entries[i];
        bool keep = !contains_any(e->name, exclude, n_exclude) && (n_include == 0 || contains_any(e->name, include, n_include));
        if (keep) {
            im->entries[k++] = *e;
        } else {
            entry_free(e);
        }
    }
    im->n_entries = k;
}
