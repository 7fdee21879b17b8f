// quantize_gguf.c - the file-level quantizer: plans each tensor's type (mixture.c), writes the
// GGUF header, then streams every tensor through f32 rows into the host's sink, slice by slice.
#include "quant/kite_quantize.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "base/internal.h"
#include "base/kite_pool.h"
#include "quant/kite_quant.h"


// The value llama.cpp writes to general.quantization_version (GGML_QNT_VERSION).
#define KITE_QNT_VERSION 2
// Scratch per slice: f32 rows plus their quantized form. 16M floats (64 MB) keeps memory
// bounded on any model and slices short enough that progress and Ctrl-C stay responsive.
#define SLICE_F32_ELEMS (16u << 20)
// Below this many elements a slice is not worth waking threads for.
#define MIN_ELEMS_PER_THREAD (64u << 10)

// ---- model facts and tensor order -------------------------------------------------------------

// A key's u32 value, or element 0 of an integer array (per-layer values), or dflt.
static uint32_t get_u32_or_first(const kite_gguf *g, const char *key, uint32_t dflt) {
    uint32_t v;
    if (kite_gguf_get_u32(g, key, &v)) return v;
    const kite_gguf_value *a = kite_gguf_get_arr(g, key, -1);
    if (a && a->arr.n > 0 && kite_gguf_type_size(a->arr.elem) && a->arr.elem != KITE_GGUF_FLOAT32 &&
        a->arr.elem != KITE_GGUF_FLOAT64) {
        int64_t x = kite_gguf_arr_i64(a, 0);
        if (x >= 0 && x <= UINT32_MAX) return (uint32_t)x;
    }
    return dflt;
}

kite_status kite_quantize_model_info(const kite_gguf *g, kite_quant_model *m, char *arch_buf, size_t arch_cap) {
    memset(m, 0, sizeof *m);
    kite_str a;
    if (!kite_gguf_get_str(g, "general.architecture", &a))
        return kite__fail(KITE_ERR_INVALID, "general.architecture is missing: not a model file");
    if (a.len == 0 || a.len >= arch_cap || memchr(a.ptr, 0, (size_t)a.len))
        return kite__fail(KITE_ERR_INVALID, "general.architecture is empty or malformed");
    memcpy(arch_buf, a.ptr, (size_t)a.len);
    arch_buf[a.len] = 0;
    m->arch = arch_buf;
    char key[256];
    snprintf(key, sizeof key, "%s.block_count", arch_buf);
    if (!kite_gguf_get_u32(g, key, &m->n_layer) || m->n_layer == 0)
        return kite__fail(KITE_ERR_INVALID, "%s is missing or zero", key);
    snprintf(key, sizeof key, "%s.attention.head_count", arch_buf);
    m->n_head = get_u32_or_first(g, key, 0);
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch_buf);
    m->n_head_kv = get_u32_or_first(g, key, m->n_head); // absent: no grouping
    snprintf(key, sizeof key, "%s.expert_count", arch_buf);
    m->n_expert = get_u32_or_first(g, key, 0);
    uint32_t nextn = 0;
    snprintf(key, sizeof key, "%s.nextn_predict_layers", arch_buf);
    kite_gguf_get_u32(g, key, &nextn);
    // llama.cpp's LLM_TYPE_70B: the layer counts its loaders map to "70B" (without the
    // multi-token-prediction layers), for the architectures that have that size
    uint32_t nl = m->n_layer > nextn ? m->n_layer - nextn : 0;
    if (!strcmp(arch_buf, "llama")) m->is_70b = m->n_expert != 8 && nl == 80 && m->n_head != m->n_head_kv;
    else if (!strcmp(arch_buf, "qwen2") || !strcmp(arch_buf, "deci") || !strcmp(arch_buf, "olmo")) m->is_70b = nl == 80;
    else if (!strcmp(arch_buf, "jais2")) m->is_70b = nl == 68;
    return KITE_OK;
}

typedef struct order_key {
    long layer; // N of "blk.N.", -1 for tensors outside the layers
    kite_str name;
    uint64_t idx;
} order_key;

// Layer number as llama.cpp reads it (sscanf "blk.%d."): -1 when the name does not start so.
static long layer_number(kite_str s) {
    if (s.len < 5 || memcmp(s.ptr, "blk.", 4) != 0) return -1;
    uint64_t i = 4;
    while (i < s.len && (s.ptr[i] == ' ' || (s.ptr[i] >= '\t' && s.ptr[i] <= '\r'))) i++;
    bool neg = false;
    if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+')) neg = s.ptr[i++] == '-';
    if (i >= s.len || s.ptr[i] < '0' || s.ptr[i] > '9') return -1;
    long v = 0;
    for (; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++) v = v < INT_MAX / 10 ? v * 10 + (s.ptr[i] - '0') : INT_MAX;
    return neg ? -v : v;
}

static int cmp_key(const void *pa, const void *pb) {
    const order_key *a = pa, *b = pb;
    if (a->layer != b->layer) return a->layer < b->layer ? -1 : 1;
    uint64_t n = KITE_MIN(a->name.len, b->name.len);
    int c = memcmp(a->name.ptr, b->name.ptr, (size_t)n);
    if (c) return c;
    if (a->name.len != b->name.len) return a->name.len < b->name.len ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx; // duplicates: keep file order
}

kite_status kite_quantize_tensor_order(const kite_gguf *g, uint64_t *order) {
    order_key *k = malloc((size_t)g->n_tensors * sizeof *k + 1);
    if (!k) return kite__fail(KITE_ERR_NOMEM, "out of memory sorting %llu tensors", (unsigned long long)g->n_tensors);
    for (uint64_t i = 0; i < g->n_tensors; i++) k[i] = (order_key){layer_number(g->tensors[i].name), g->tensors[i].name, i};
    qsort(k, (size_t)g->n_tensors, sizeof *k, cmp_key);
    for (uint64_t i = 0; i < g->n_tensors; i++) order[i] = k[i].idx;
    free(k);
    return KITE_OK;
}

// ---- row conversion, optionally on threads ----------------------------------------------------

typedef struct job {
    kite_type src_type, dst_type;
    const uint8_t *src; // rows of src_type
    float *f32;         // scratch for the same rows
    uint8_t *dst;       // rows of dst_type
    int64_t nrows, n_per_row;
    uint64_t src_row_bytes, dst_row_bytes;
    // importance weights of the tensor (NULL: none): n_per_row per expert, where expert e
    // owns tensor rows [e * rows_per_expert, (e+1) * rows_per_expert); row0 is the tensor row
    // of this job's first row
    const float *imatrix;
    int64_t rows_per_expert, row0;
    kite_status status;
    char msg[256];
} job;

// Rows go through f32 in chunks of about this many values, so the floats a chunk dequantizes
// are still in the core's cache when they are checked and quantized (256 KB).
#define CHUNK_F32_ELEMS (64u << 10)

static void run_job(job *j) {
    const int64_t chunk_rows = KITE_MAX(1, (int64_t)CHUNK_F32_ELEMS / j->n_per_row);
    for (int64_t c = 0; j->status == KITE_OK && c < j->nrows; c += chunk_rows) {
        const int64_t cend = KITE_MIN(j->nrows, c + chunk_rows);
        j->status = kite_dequantize_row(j->src_type, j->src + (uint64_t)c * j->src_row_bytes, j->f32 + c * j->n_per_row,
                                        (cend - c) * j->n_per_row);
        // one call per run of rows that share an expert's weights
        for (int64_t r = c; j->status == KITE_OK && r < cend;) {
            int64_t nr = cend - r;
            const float *w = NULL;
            if (j->imatrix) {
                int64_t e = (j->row0 + r) / j->rows_per_expert;
                nr = KITE_MIN(nr, (e + 1) * j->rows_per_expert - (j->row0 + r));
                w = j->imatrix + e * j->n_per_row;
            }
            j->status = kite_quantize_rows_imatrix(j->dst_type, j->f32 + r * j->n_per_row,
                                                   j->dst + (uint64_t)r * j->dst_row_bytes, nr, j->n_per_row, w);
            r += nr;
        }
    }
    if (j->status != KITE_OK) snprintf(j->msg, sizeof j->msg, "%s", kite_last_error());
}

// One slice of rows split over the pool's threads: thread ith converts rows
// [nrows*ith/nt, nrows*(ith+1)/nt); threads past nt (slices too small to share) sit out.
typedef struct slice_run {
    const job *whole;
    job *jobs; // one per pool thread
    int nt;
} slice_run;

static void slice_worker(void *ctx, int ith, int nth) {
    (void)nth;
    slice_run *r = ctx;
    if (ith >= r->nt) return;
    const job *w = r->whole;
    int64_t r0 = w->nrows * ith / r->nt, r1 = w->nrows * (ith + 1) / r->nt;
    job *j = &r->jobs[ith];
    *j = *w;
    j->src = w->src + r0 * w->src_row_bytes;
    j->f32 = w->f32 + r0 * w->n_per_row;
    j->dst = w->dst + r0 * w->dst_row_bytes;
    j->nrows = r1 - r0;
    j->row0 = w->row0 + r0;
    j->status = KITE_OK;
    run_job(j);
}

// Converts a slice of rows on the pool (NULL: on this thread). Each row is quantized on its
// own, so the split cannot change the bytes.
static kite_status convert_rows(kite_pool *pool, job *jobs, const job *whole, const char *name) {
    int64_t n_elems = whole->nrows * whole->n_per_row;
    int nt = kite_pool_size(pool);
    if (nt > whole->nrows) nt = (int)whole->nrows;
    if (n_elems / nt < (int64_t)MIN_ELEMS_PER_THREAD) nt = (int)KITE_MAX(1, n_elems / MIN_ELEMS_PER_THREAD);
    slice_run r = {whole, jobs, nt};
    if (nt > 1) kite_pool_run(pool, slice_worker, &r);
    else slice_worker(&r, 0, 1);
    for (int t = 0; t < nt; t++)
        if (jobs[t].status != KITE_OK) return kite__fail(jobs[t].status, "tensor %s: %s", name, jobs[t].msg);
    return KITE_OK;
}

// ---- the quantizer ----------------------------------------------------------------------------

// A sink wrapper that counts bytes, so the end can check the writer's layout against ours.
typedef struct counting_sink {
    const kite_sink *inner;
    uint64_t n;
} counting_sink;

static kite_status counting_write(void *user, const void *data, size_t n) {
    counting_sink *c = user;
    c->n += n;
    return c->inner->write(c->inner->user, data, n);
}

static kite_status write_zeros(const kite_sink *s, uint64_t n) {
    static const uint8_t zeros[256];
    while (n) {
        size_t k = n > sizeof zeros ? sizeof zeros : (size_t)n;
        KITE_TRY(s->write(s->user, zeros, k));
        n -= k;
    }
    return KITE_OK;
}

// Data-section alignment the writer will use: general.alignment when it is a u32 power of two.
static uint64_t out_alignment(const kite_gguf *in) {
    uint32_t a;
    if (kite_gguf_get_u32(in, "general.alignment", &a) && a && !(a & (a - 1))) {
        const kite_gguf_kv *kv = kite_gguf_find(in, "general.alignment");
        if (kv && kv->val.type == KITE_GGUF_UINT32) return a;
    }
    return KITE_GGUF_DEFAULT_ALIGNMENT;
}

typedef struct plan {
    uint64_t *order;    // write position -> input tensor index
    char **names;       // NUL-terminated copies, by write position
    kite_quant_tensor *qt;
    kite_type *type;    // target type by write position
    const float **imatrix; // importance weights by write position (NULL: none)
    uint32_t n_fallback;
} plan;

static void plan_free(plan *pl, uint64_t n) {
    if (pl->names)
        for (uint64_t i = 0; i < n; i++) free(pl->names[i]);
    free(pl->names);
    free(pl->order);
    free(pl->qt);
    free(pl->type);
    free(pl->imatrix);
}

static kite_status make_plan(const kite_gguf *in, const kite_quantize_params *p, plan *pl) {
    uint64_t n = in->n_tensors;
    memset(pl, 0, sizeof *pl);
    size_t cnt = (size_t)n + 1;
    pl->order = calloc(cnt, sizeof *pl->order);
    pl->names = calloc(cnt, sizeof *pl->names);
    pl->qt = calloc(cnt, sizeof *pl->qt);
    pl->type = calloc(cnt, sizeof *pl->type);
    pl->imatrix = calloc(cnt, sizeof *pl->imatrix);
    if (!pl->order || !pl->names || !pl->qt || !pl->type || !pl->imatrix) return kite__fail(KITE_ERR_NOMEM, "out of memory planning %llu tensors", (unsigned long long)n);
    KITE_TRY(kite_quantize_tensor_order(in, pl->order));
    for (uint64_t i = 0; i < n; i++) {
        const kite_gguf_tensor *t = &in->tensors[pl->order[i]];
        if (memchr(t->name.ptr, 0, (size_t)t->name.len))
            return kite__fail(KITE_ERR_INVALID, "tensor %llu: name contains a NUL byte", (unsigned long long)pl->order[i]);
        if (i > 0 && cmp_key(&(order_key){layer_number(t->name), t->name, 0},
                             &(order_key){layer_number(in->tensors[pl->order[i - 1]].name), in->tensors[pl->order[i - 1]].name, 0}) == 0)
            return kite__fail(KITE_ERR_INVALID, "duplicate tensor name %.*s", (int)KITE_MIN(t->name.len, 200), t->name.ptr);
        pl->names[i] = malloc((size_t)t->name.len + 1);
        if (!pl->names[i]) return kite__fail(KITE_ERR_NOMEM, "out of memory");
        memcpy(pl->names[i], t->name.ptr, (size_t)t->name.len);
        pl->names[i][t->name.len] = 0;
        pl->qt[i].name = pl->names[i];
        pl->qt[i].type = t->type;
        for (int d = 0; d < KITE_GGUF_MAX_DIMS; d++) {
            if (t->ne[d] > INT64_MAX) return kite__fail(KITE_ERR_INVALID, "tensor %s: dimension too large", pl->names[i]);
            pl->qt[i].ne[d] = (int64_t)t->ne[d];
        }
    }
    char arch[128];
    kite_quant_model m;
    KITE_TRY(kite_quantize_model_info(in, &m, arch, sizeof arch));
    KITE_TRY(kite_quantize_choose_types(&m, p, pl->qt, (size_t)n, pl->type, &pl->n_fallback));
    const kite_imatrix *im = p->imatrix && p->imatrix->n_entries ? p->imatrix : NULL;
    // llama_model_quantize refuses an importance matrix with a non-finite value anywhere
    for (size_t e = 0; im && e < im->n_entries; e++)
        for (uint64_t k = 0; k < im->entries[e].n; k++)
            if (!isfinite(im->entries[e].values[k]))
                return kite__fail(KITE_ERR_INVALID, "importance matrix entry %s: value %llu is %s", im->entries[e].name,
                                  (unsigned long long)k, isnan(im->entries[e].values[k]) ? "NaN" : "infinite");
    // every conversion must be one kite can do, checked before a byte is written
    for (uint64_t i = 0; i < n; i++) {
        kite_type from = pl->qt[i].type, to = pl->type[i];
        // without any importance matrix llama.cpp refuses these types even where a tensor keeps
        // its type (with one, only tensors it converts need an entry)
        if (!im && kite_quantize_needs_imatrix(pl->names[i], to, p->ftype))
            return kite__fail(KITE_ERR_INVALID,
                              "tensor %s: type %s needs an importance matrix (--imatrix): this very low-bit quantization "
                              "gives garbage without one",
                              pl->names[i], kite_type_name(to));
        if (from == to) continue;
        const kite_imatrix_entry *e = kite_imatrix_find(im, pl->names[i]);
        if (e) {
            // one weight per column, per expert (ne0 * ne2); the token embedding is looked up by
            // row, not multiplied, so a stray entry of another size is ignored there
            uint64_t want = (uint64_t)pl->qt[i].ne[0] * (uint64_t)pl->qt[i].ne[2];
            if (e->n == want && pl->qt[i].ne[3] != 1) // llama.cpp would read past the entry's end
                return kite__fail(KITE_ERR_INVALID, "tensor %s: an importance matrix for a 4-D tensor is not supported", pl->names[i]);
            if (e->n == want) pl->imatrix[i] = e->values;
            else if (strcmp(pl->names[i], "token_embd.weight") != 0)
                return kite__fail(KITE_ERR_INVALID, "tensor %s: importance matrix size %llu is different from the tensor's %llu (ne0 * ne2)",
                                  pl->names[i], (unsigned long long)e->n, (unsigned long long)want);
        }
        if (!pl->imatrix[i] && kite_quantize_needs_imatrix(pl->names[i], to, p->ftype))
            return kite__fail(KITE_ERR_INVALID,
                              "tensor %s: type %s needs an importance matrix (--imatrix) with an entry for this tensor: "
                              "this very low-bit quantization gives garbage without one",
                              pl->names[i], kite_type_name(to));
        const kite_type_traits *tr = kite_type_get(from);
        if (tr && tr->quantized && !p->allow_requantize)
            return kite__fail(KITE_ERR_INVALID, "tensor %s is already %s: requantizing is disabled (allow it with --allow-requantize)",
                              pl->names[i], kite_type_name(from));
        if (!(tr && (tr->quantized || from == KITE_TYPE_F32 || from == KITE_TYPE_F16 || from == KITE_TYPE_BF16)) ||
            !kite_quant_can_dequantize(from))
            return kite__fail(KITE_ERR_UNSUPPORTED, "tensor %s: cannot convert from type %s", pl->names[i], kite_type_name(from));
        if (!kite_quant_can_quantize(to))
            return kite__fail(KITE_ERR_UNSUPPORTED, "tensor %s: kite cannot quantize to type %s", pl->names[i], kite_type_name(to));
    }
    return KITE_OK;
}

// Streams one tensor that changes type: slices of whole rows, dequantized to f32 then
// quantized, written as they are done.
static kite_status convert_tensor(const kite_gguf_tensor *t, const char *name, kite_type to, const float *imatrix, const kite_sink *sink,
                                  const kite_quantize_params *p, kite_pool *pool, job *jobs, float **f32, uint8_t **dst, size_t *cap_f32,
                                  size_t *cap_dst, kite_progress_fn progress, void *user, uint64_t *done,
                                  uint64_t total, uint64_t *written) {
    int64_t n_per_row = (int64_t)t->ne[0];
    int64_t nrows = (int64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
    uint64_t src_rb = kite_type_row_bytes(t->type, t->ne[0]);
    uint64_t dst_rb = kite_type_row_bytes(to, t->ne[0]);
    if (n_per_row <= 0 || src_rb == 0 || dst_rb == 0) {
        if (nrows == 0 || n_per_row == 0) return KITE_OK; // an empty tensor has no rows to write
        return kite__fail(KITE_ERR_INVALID, "tensor %s: row length %lld does not fit type %s", name, (long long)n_per_row,
                          kite_type_name(src_rb ? to : t->type));
    }
    if ((uint64_t)nrows * src_rb != t->nbytes)
        return kite__fail(KITE_ERR_INVALID, "tensor %s: size %llu does not match its shape", name, (unsigned long long)t->nbytes);
    int64_t rows_per_slice = KITE_MAX(1, (int64_t)SLICE_F32_ELEMS / n_per_row);
    rows_per_slice = KITE_MIN(rows_per_slice, nrows);
    size_t need_f32 = (size_t)(rows_per_slice * n_per_row), need_dst = (size_t)(rows_per_slice * dst_rb);
    if (need_f32 > *cap_f32) {
        free(*f32);
        *f32 = malloc(need_f32 * sizeof(float));
        *cap_f32 = *f32 ? need_f32 : 0;
        if (!*f32) return kite__fail(KITE_ERR_NOMEM, "tensor %s: out of memory for %zu floats of scratch", name, need_f32);
    }
    if (need_dst > *cap_dst) {
        free(*dst);
        *dst = malloc(need_dst);
        *cap_dst = *dst ? need_dst : 0;
        if (!*dst) return kite__fail(KITE_ERR_NOMEM, "tensor %s: out of memory for %zu bytes of scratch", name, need_dst);
    }
    for (int64_t r = 0; r < nrows; r += rows_per_slice) {
        int64_t nr = KITE_MIN(rows_per_slice, nrows - r);
        job j = {t->type, to, t->data + (uint64_t)r * src_rb, *f32, *dst, nr, n_per_row, src_rb, dst_rb,
                 imatrix, (int64_t)KITE_MAX(1, t->ne[1]), r, KITE_OK, {0}};
        KITE_TRY(convert_rows(pool, jobs, &j, name));
        KITE_TRY(sink->write(sink->user, *dst, (size_t)(nr * dst_rb)));
        if (p->release) p->release(p->release_user, j.src, (uint64_t)nr * src_rb);
        *written += (uint64_t)nr * dst_rb;
        *done += (uint64_t)nr * src_rb;
        if (progress && !progress(user, name, *done, total)) return kite__fail(KITE_ERR_ABORTED, "quantization aborted");
    }
    return KITE_OK;
}

kite_status kite_quantize_gguf(const kite_gguf *in, const kite_sink *out, const kite_quantize_params *p,
                               kite_progress_fn progress, void *user) {
    KITE_TRY(kite_quantize_params_check(p));
    KITE_TRY(kite_quantize_ftype_check_for(p->ftype, p->imatrix && p->imatrix->n_entries > 0));
    // one file of a split set holds only some of the tensors: its output would be a model
    // missing the rest (and, with the split keys dropped below, not even known as a part)
    uint64_t n_split = 1;
    if (kite_gguf_find(in, "split.count") && kite_gguf_get_u64(in, "split.count", &n_split) && n_split > 1)
        return kite__fail(KITE_ERR_INVALID,
                          "the model is split into %llu files (split.count): quantize takes one whole file (merge "
                          "the set first: llama-gguf-split --merge)",
                          (unsigned long long)n_split);
    plan pl;
    kite_status s = make_plan(in, p, &pl);
    if (s != KITE_OK) {
        plan_free(&pl, in->n_tensors);
        return s;
    }
    kite_gguf_writer *w = kite_gguf_writer_new();
    // A pool of p->n_threads threads (NULL without threads or when it cannot start: then all
    // work runs here), and one job record per thread.
    kite_pool *pool = p->n_threads > 1 ? kite_pool_new(p->n_threads) : NULL;
    job *jobs = calloc((size_t)kite_pool_size(pool), sizeof *jobs);
    float *f32 = NULL;
    uint8_t *dst = NULL;
    size_t cap_f32 = 0, cap_dst = 0;
    counting_sink cs = {out, 0};
    kite_sink sink = {counting_write, &cs};
    kite_quantize_stats st;
    memset(&st, 0, sizeof st);
    st.n_tensors = in->n_tensors;
    if (!w || !jobs) {
        s = kite__fail(KITE_ERR_NOMEM, "out of memory");
        goto done;
    }
    // Metadata as llama.cpp writes it: every input key in order, then the two quantization
    // keys moved to the end (its setters remove and append), then the split keys dropped.
    s = kite_gguf_writer_copy_kvs(w, in);
    if (s != KITE_OK) goto done;
    kite_gguf_writer_remove(w, "general.quantization_version");
    if ((s = kite_gguf_writer_set_u32(w, "general.quantization_version", KITE_QNT_VERSION)) != KITE_OK) goto done;
    kite_gguf_writer_remove(w, "general.file_type");
    if ((s = kite_gguf_writer_set_u32(w, "general.file_type", (uint32_t)p->ftype)) != KITE_OK) goto done;
    kite_gguf_writer_remove(w, "split.no");
    kite_gguf_writer_remove(w, "split.count");
    kite_gguf_writer_remove(w, "split.tensors.count");
    if (p->imatrix && p->imatrix->n_entries) {
        // llama-quantize records where the weights came from (its kv overrides, set after the
        // keys above; each setter removes the key, then appends it)
        char val[128];
        snprintf(val, sizeof val, "%s", p->imatrix_file ? p->imatrix_file : "");
        kite_gguf_writer_remove(w, "quantize.imatrix.file");
        if ((s = kite_gguf_writer_set_str(w, "quantize.imatrix.file", val)) != KITE_OK) goto done;
        if (p->imatrix->dataset) {
            snprintf(val, sizeof val, "%s", p->imatrix->dataset);
            kite_gguf_writer_remove(w, "quantize.imatrix.dataset");
            if ((s = kite_gguf_writer_set_str(w, "quantize.imatrix.dataset", val)) != KITE_OK) goto done;
        }
        kite_gguf_writer_remove(w, "quantize.imatrix.entries_count");
        if ((s = kite_gguf_writer_set_u32(w, "quantize.imatrix.entries_count", (uint32_t)p->imatrix->n_entries)) != KITE_OK) goto done;
        if (p->imatrix->chunk_count > 0) {
            kite_gguf_writer_remove(w, "quantize.imatrix.chunks_count");
            if ((s = kite_gguf_writer_set_u32(w, "quantize.imatrix.chunks_count", (uint32_t)p->imatrix->chunk_count)) != KITE_OK)
                goto done;
        }
    }

    uint64_t total = 0;
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        const kite_gguf_tensor *t = &in->tensors[pl.order[i]];
        uint64_t ne[KITE_GGUF_MAX_DIMS];
        for (int d = 0; d < KITE_GGUF_MAX_DIMS; d++) ne[d] = t->ne[d];
        // ggml_n_dims: llama.cpp writes trailing size-1 dimensions away
        uint32_t nd = 1;
        for (int d = KITE_GGUF_MAX_DIMS - 1; d >= 1; d--)
            if (ne[d] > 1) {
                nd = (uint32_t)d + 1;
                break;
            }
        if ((s = kite_gguf_writer_add_tensor(w, pl.names[i], pl.type[i], nd, ne)) != KITE_OK) goto done;
        total += t->nbytes;
        st.n_elements += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    uint64_t expect = kite_gguf_writer_total_size(w);
    if ((s = kite_gguf_writer_write_header(w, &sink)) != KITE_OK) goto done;

    const uint64_t align = out_alignment(in);
    uint64_t done_bytes = 0;
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        const kite_gguf_tensor *t = &in->tensors[pl.order[i]];
        uint64_t written = 0;
        if (progress && !progress(user, pl.names[i], done_bytes, total)) {
            s = kite__fail(KITE_ERR_ABORTED, "quantization aborted");
            goto done;
        }
        if (pl.type[i] == t->type) { // same type: the bytes pass through
            if ((s = sink.write(sink.user, t->data, (size_t)t->nbytes)) != KITE_OK) goto done;
            written = t->nbytes;
            done_bytes += t->nbytes;
        } else {
            s = convert_tensor(t, pl.names[i], pl.type[i], pl.imatrix[i], &sink, p, pool, jobs, &f32, &dst, &cap_f32, &cap_dst, progress, user,
                               &done_bytes, total, &written);
            if (s != KITE_OK) goto done;
            st.n_quantized++;
        }
        if (p->release && t->nbytes && pl.type[i] == t->type) p->release(p->release_user, t->data, t->nbytes);
        st.bytes_in += t->nbytes;
        st.bytes_out += written;
        if ((s = write_zeros(&sink, (align - written % align) % align)) != KITE_OK) goto done;
    }
    if (progress && !progress(user, "done", total, total)) {
        s = kite__fail(KITE_ERR_ABORTED, "quantization aborted");
        goto done;
    }
    // the writer laid the file out from the shapes; the bytes streamed must agree exactly
    KITE_ASSERT(cs.n == expect);
    st.n_fallback = pl.n_fallback;
    if (p->stats) *p->stats = st;
done:
    kite_pool_free(pool);
    free(jobs);
    free(f32);
    free(dst);
    kite_gguf_writer_free(w);
    plan_free(&pl, in->n_tensors);
    return s;
}
