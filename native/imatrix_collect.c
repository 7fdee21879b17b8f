// imatrix_collect.c - importance matrix sums from the matmul observer, and llama-imatrix's two
// file formats: see imatrix_collect.h.
#include "imatrix_collect.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safe_output.h"

// ---- collecting ----------------------------------------------------------------------------

// The entry for weight (n_in columns, n_mat matrices), made on first use; NULL with err set
// when it was seen before with another shape, or memory runs out.
static imatrix_entry *entry_for(imatrix_collector *c, const char *weight, int32_t n_in, int32_t n_mat) {
    for (size_t i = 0; i < c->n_entries; i++) {
        imatrix_entry *e = &c->entries[i];
        if (strcmp(e->name, weight) != 0) continue;
        if (e->n_in == n_in && e->n_mat == n_mat) return e;
        // a legacy file keeps an expert tensor as one matrix with one count: its count then
        // stands for every expert (as llama-imatrix broadcasts it)
        if (e->n_mat == 1 && n_mat > 1 && (int64_t)e->n_in == (int64_t)n_in * n_mat) {
            int64_t *counts = realloc(e->counts, (size_t)n_mat * sizeof *counts);
            if (!counts) goto nomem;
            for (int32_t m = 1; m < n_mat; m++) counts[m] = counts[0];
            e->counts = counts;
            e->n_in = n_in;
            e->n_mat = n_mat;
            return e;
        }
        snprintf(c->err, sizeof c->err, "inconsistent shape for %s: %d x %d, then %d x %d", weight, e->n_in, e->n_mat,
                 n_in, n_mat);
        return NULL;
    }
    if (c->n_entries == c->cap) {
        const size_t cap = c->cap ? c->cap * 2 : 64;
        imatrix_entry *es = realloc(c->entries, cap * sizeof *es);
        if (!es) goto nomem;
        c->entries = es;
        c->cap = cap;
    }
    imatrix_entry *e = &c->entries[c->n_entries];
    *e = (imatrix_entry){.name = strdup(weight), .n_in = n_in, .n_mat = n_mat};
    e->sums = calloc((size_t)n_in * (size_t)n_mat, sizeof *e->sums);
    e->counts = calloc((size_t)n_mat, sizeof *e->counts);
    if (!e->name || !e->sums || !e->counts) {
        free(e->name);
        free(e->sums);
        free(e->counts);
        goto nomem;
    }
    c->n_entries++;
    return e;
nomem:
    snprintf(c->err, sizeof c->err, "out of memory for the importance matrix of %s", weight);
    return NULL;
}

void imatrix_observe(void *user, const char *weight, int32_t expert, int32_t n_expert, const float *x, int32_t n,
                     int32_t n_in) {
    imatrix_collector *c = user;
    if (c->err[0]) return;
    // llama-imatrix's choice: every expert product; dense ones of a prompt-sized batch, of the
    // blocks' weights (and the output head only when asked)
    if (expert < 0 && (n < IMATRIX_MIN_ROWS || !(strncmp(weight, "blk.", 4) == 0 ||
                                                 (c->process_output && strcmp(weight, "output.weight") == 0))))
        return;
    imatrix_entry *e = entry_for(c, weight, n_in, expert < 0 ? 1 : n_expert);
    if (!e) return;
    float *acc = e->sums + (size_t)(expert < 0 ? 0 : expert) * (size_t)n_in;
    for (int32_t r = 0; r < n; r++) {
        const float *row = x + (size_t)r * (size_t)n_in;
        for (int32_t j = 0; j < n_in; j++) acc[j] += row[j] * row[j];
    }
    e->counts[expert < 0 ? 0 : expert] += n;
    for (int32_t j = 0; j < n_in; j++)
        if (!isfinite(acc[j])) {
            snprintf(c->err, sizeof c->err, "non-finite values in the activations of %s", weight);
            return;
        }
}

#define MAX_COUNT (INT64_C(1) << 53)

bool imatrix_collector_add(imatrix_collector *c, const kite_imatrix *im, int32_t chunk_size) {
    for (size_t i = 0; !c->err[0] && i < im->n_entries; i++) {
        const kite_imatrix_entry *f = &im->entries[i];
        if (f->n_counts == 0 || f->n % f->n_counts != 0 || f->n / f->n_counts > INT32_MAX || f->n_counts > INT32_MAX) {
            snprintf(c->err, sizeof c->err, "%s: %llu sums do not split into %llu matrices", f->name,
                     (unsigned long long)f->n, (unsigned long long)f->n_counts);
            return false;
        }
        int32_t n_in = (int32_t)(f->n / f->n_counts), n_mat = (int32_t)f->n_counts;
        // a legacy matrix (one count) joins an entry of the same size whatever its expert count
        for (size_t k = 0; im->legacy && k < c->n_entries; k++)
            if (!strcmp(c->entries[k].name, f->name) && (uint64_t)c->entries[k].n_in * (uint64_t)c->entries[k].n_mat == f->n) {
                n_in = c->entries[k].n_in;
                n_mat = c->entries[k].n_mat;
            }
        imatrix_entry *e = entry_for(c, f->name, n_in, n_mat);
        if (!e) return false;
        // a count is a number of rows: past 2^53 (or below 0) it is no real count, and the sum
        // of two must not overflow
        for (int32_t m = 0; m < e->n_mat; m++) {
            const int64_t add = im->legacy ? (int64_t)f->counts[0] * chunk_size : f->counts[m];
            if (add < 0 || add > MAX_COUNT || e->counts[m] > MAX_COUNT - add) {
                snprintf(c->err, sizeof c->err, "%s: count %lld out of range", f->name, (long long)add);
                return false;
            }
            e->counts[m] += add;
        }
        for (uint64_t j = 0; j < f->n; j++) e->sums[j] += im->legacy ? f->sums[j] * (float)chunk_size : f->sums[j];
    }
    for (size_t i = 0; !c->err[0] && i < im->n_datasets; i++) {
        char **ds = realloc(c->datasets, (c->n_datasets + 1) * sizeof *ds);
        if (ds) c->datasets = ds;
        if (!ds || !(ds[c->n_datasets] = strdup(im->datasets[i])))
            snprintf(c->err, sizeof c->err, "out of memory for the dataset names");
        else
            c->n_datasets++;
    }
    return !c->err[0];
}

void imatrix_collector_free(imatrix_collector *c) {
    for (size_t i = 0; i < c->n_entries; i++) {
        free(c->entries[i].name);
        free(c->entries[i].sums);
        free(c->entries[i].counts);
    }
    free(c->entries);
    c->entries = NULL;
    c->n_entries = c->cap = 0;
    for (size_t i = 0; i < c->n_datasets; i++) free(c->datasets[i]);
    free(c->datasets);
    c->datasets = NULL;
    c->n_datasets = 0;
}

static int64_t max_count(const imatrix_entry *e) {
    int64_t m = 0;
    for (int32_t i = 0; i < e->n_mat; i++) m = e->counts[i] > m ? e->counts[i] : m;
    return m;
}

int32_t imatrix_chunk_count(const imatrix_collector *c, int32_t chunk_size) {
    int64_t m = 0;
    for (size_t i = 0; i < c->n_entries; i++) {
        const int64_t k = max_count(&c->entries[i]) / chunk_size;
        m = k > m ? k : m;
    }
    return m > INT32_MAX ? INT32_MAX : (int32_t)m;
}

// ---- writing -------------------------------------------------------------------------------

static int by_name(const void *a, const void *b) {
    return strcmp((*(const imatrix_entry *const *)a)->name, (*(const imatrix_entry *const *)b)->name);
}

// The entries sorted by name (bytewise, as llama-imatrix's std::sort of std::string); NULL on
// out-of-memory (err set).
static const imatrix_entry **sorted(const imatrix_collector *c, char *err, size_t err_len) {
    const imatrix_entry **s = malloc((c->n_entries ? c->n_entries : 1) * sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < c->n_entries; i++) s[i] = &c->entries[i];
    qsort(s, c->n_entries, sizeof *s, by_name);
    return s;
}

static kite_status sink_write(void *user, const void *data, size_t n) {
    return safe_output_write(user, data, n) ? KITE_OK : KITE_ERR_IO;
}

// The message for a failed write to o.
static bool write_failed(const safe_output *o, char *err, size_t err_len) {
    if (!err[0])
        snprintf(err, err_len, "writing %s: %s", o->tmp_path ? o->tmp_path : o->path,
                 o->err ? strerror(o->err) : kite_last_error());
    return false;
}

bool imatrix_write_gguf(const imatrix_collector *c, safe_output *o, const char *dataset, int32_t chunk_size,
                        char *err, size_t err_len) {
    err[0] = 0;
    const imatrix_entry **es = sorted(c, err, err_len);
    if (!es) return false;
    kite_gguf_writer *w = kite_gguf_writer_new();
    kite_str *ds = malloc((c->n_datasets + 1) * sizeof *ds);
    bool ok = w != NULL && ds != NULL;
    size_t n_ds = 0;
    for (size_t i = 0; ok && i < c->n_datasets; i++) ds[n_ds++] = (kite_str){c->datasets[i], strlen(c->datasets[i])};
    if (ok && dataset) ds[n_ds++] = (kite_str){dataset, strlen(dataset)};
    if (ok) {
        const kite_gguf_value datasets = {.type = KITE_GGUF_ARRAY,
                                          .arr = {.elem = KITE_GGUF_STRING, .n = n_ds, .strs = ds}};
        ok = kite_gguf_writer_set_str(w, "general.type", "imatrix") == KITE_OK &&
             kite_gguf_writer_set(w, "imatrix.datasets", &datasets) == KITE_OK &&
             kite_gguf_writer_set_u32(w, "imatrix.chunk_count", (uint32_t)imatrix_chunk_count(c, chunk_size)) ==
                 KITE_OK &&
             kite_gguf_writer_set_u32(w, "imatrix.chunk_size", (uint32_t)chunk_size) == KITE_OK;
    }
    // one tensor pair per weight; ggml writes a trailing dimension of 1 as absent
    char name[300];
    for (size_t i = 0; ok && i < c->n_entries; i++) {
        const imatrix_entry *e = es[i];
        const uint64_t ne_sum[2] = {(uint64_t)e->n_in, (uint64_t)e->n_mat}, ne_cnt[2] = {1, (uint64_t)e->n_mat};
        const uint32_t dims = e->n_mat > 1 ? 2 : 1;
        snprintf(name, sizeof name, "%s.in_sum2", e->name);
        ok = kite_gguf_writer_add_tensor(w, name, KITE_TYPE_F32, dims, ne_sum) == KITE_OK;
        snprintf(name, sizeof name, "%s.counts", e->name);
        ok = ok && kite_gguf_writer_add_tensor(w, name, KITE_TYPE_F32, dims, ne_cnt) == KITE_OK;
    }
    if (!ok) snprintf(err, err_len, "%s", w && ds ? kite_last_error() : "out of memory");
    const kite_sink sink = {sink_write, o};
    ok = ok && kite_gguf_writer_write_header(w, &sink) == KITE_OK;
    float *cnt = NULL;
    for (size_t i = 0; ok && i < c->n_entries; i++) {
        const imatrix_entry *e = es[i];
        float *f = realloc(cnt, (size_t)e->n_mat * sizeof *f);
        if (!f) {
            snprintf(err, err_len, "out of memory");
            ok = false;
            break;
        }
        cnt = f;
        for (int32_t j = 0; j < e->n_mat; j++) cnt[j] = (float)e->counts[j];
        ok = kite_gguf_writer_write_data(w, &sink, 2 * i, e->sums) == KITE_OK &&
             kite_gguf_writer_write_data(w, &sink, 2 * i + 1, cnt) == KITE_OK;
    }
    free(cnt);
    free(ds);
    kite_gguf_writer_free(w);
    free(es);
    return ok || write_failed(o, err, err_len);
}

bool imatrix_write_dat(const imatrix_collector *c, safe_output *o, const char *dataset, int32_t chunk_size,
                       char *err, size_t err_len) {
    err[0] = 0;
    const imatrix_entry **es = sorted(c, err, err_len);
    if (!es) return false;
    // entries with no data at all are left out (partial ones store 1 for a missing expert)
    int32_t n_store = 0;
    for (size_t i = 0; i < c->n_entries; i++) n_store += max_count(es[i]) > 0;
    bool ok = safe_output_write(o, &n_store, 4);
    float *tmp = NULL;
    for (size_t i = 0; ok && i < c->n_entries; i++) {
        const imatrix_entry *e = es[i];
        const int64_t mc = max_count(e);
        if (mc == 0) continue;
        const int32_t len = (int32_t)strlen(e->name), nval = e->n_in * e->n_mat;
        const int32_t ncall = (int32_t)((mc + chunk_size - 1) / chunk_size); // rounded up: never 0
        float *t = realloc(tmp, (size_t)nval * sizeof *t);
        if (!t) {
            snprintf(err, err_len, "out of memory");
            ok = false;
            break;
        }
        tmp = t;
        for (int32_t m = 0; m < e->n_mat; m++)
            for (int32_t j = 0; j < e->n_in; j++) {
                float count = (float)e->counts[m], value = e->sums[(size_t)m * e->n_in + j];
                if (count == 0.0f) value = count = 1.0f;
                tmp[(size_t)m * e->n_in + j] = (value / count) * (float)ncall;
            }
        ok = safe_output_write(o, &len, 4) && safe_output_write(o, e->name, (size_t)len) &&
             safe_output_write(o, &ncall, 4) && safe_output_write(o, &nval, 4) &&
             safe_output_write(o, tmp, (size_t)nval * sizeof(float));
    }
    free(tmp);
    if (!dataset) dataset = c->n_datasets ? c->datasets[c->n_datasets - 1] : "";
    const int32_t chunks = imatrix_chunk_count(c, chunk_size), dlen = (int32_t)strlen(dataset);
    ok = ok && safe_output_write(o, &chunks, 4) && safe_output_write(o, &dlen, 4) &&
         safe_output_write(o, dataset, (size_t)dlen);
    free(es);
    return ok || write_failed(o, err, err_len);
}
