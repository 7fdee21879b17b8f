// safetensors.c - the safetensors header reader: every entry checked against the file before
// any tensor is read (a header that lies is refused, naming the tensor).
#include "convert/convert_internal.h"
#include "base/internal.h"

#include <stdio.h>

kite_status kite_safetensors_header_len(const uint8_t *first8, uint64_t len, uint64_t file_size, uint64_t *n_out) {
    if (len < 8 || file_size < 8) return kite__fail(KITE_ERR_INVALID, "safetensors: file shorter than its 8-byte header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | first8[i];
    if (n == 0) return kite__fail(KITE_ERR_INVALID, "safetensors: header length is 0");
    if (n > KITE_SAFETENSORS_MAX_HEADER)
        return kite__fail(KITE_ERR_INVALID, "safetensors: header length %llu is over the format's limit of %u bytes",
                          (unsigned long long)n, KITE_SAFETENSORS_MAX_HEADER);
    if (n > file_size - 8)
        return kite__fail(KITE_ERR_INVALID, "safetensors: header length %llu runs past the end of the %llu-byte file",
                          (unsigned long long)n, (unsigned long long)file_size);
    *n_out = n;
    return KITE_OK;
}

// Bytes per element of a safetensors dtype, 0 when unknown.
static uint32_t dtype_size(const char *d) {
    static const struct { const char *name; uint32_t size; } tab[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4},
        {"I16", 2}, {"U16", 2}, {"I8", 1}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(tab[i].name, d)) return tab[i].size;
    return 0;
}

static bool json_u64(const kite__jval *v, uint64_t *out) {
    if (!v || v->type != KITE__J_NUM || !v->is_int || v->i < 0) return false;
    *out = (uint64_t)v->i;
    return true;
}

// Fills t from one header entry; data_len is the bytes after the header.
static kite_status read_entry(const kite__jval *e, uint64_t data_start, uint64_t data_len, kite_st_tensor *t) {
    const char *name = t->name;
    if (e->type != KITE__J_OBJ) return kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s: entry is not an object", name);
    const kite__jval *dt = kite__json_get(e, "dtype"), *sh = kite__json_get(e, "shape");
    const kite__jval *off = kite__json_get(e, "data_offsets");
    if (!dt || dt->type != KITE__J_STR || dt->slen == 0 || dt->slen >= sizeof t->dtype)
        return kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s: missing or bad \"dtype\"", name);
    memcpy(t->dtype, dt->s, dt->slen + 1);
    uint32_t es = dtype_size(t->dtype);
    if (!es) return kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s: unknown dtype %s", name, t->dtype);
    if (!sh || sh->type != KITE__J_ARR) return kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s: missing \"shape\"", name);
    if (sh->n > 4) return kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s: %zu dimensions (at most 4)", name, sh->n);
    uint64_t count = 1;
    bool overflow = false;
    t->n_dims = (uint32_t)sh->n;
    for (size_t i = 0; i < sh->n; i++) {
        if (!json_u64(sh->items[i], &t->shape[i]))
            return kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s: shape[%zu] is not a non-negative integer", name, i);
        if (t->shape[i] && count > UINT64_MAX / t->shape[i]) overflow = true;
        else count *= t->shape[i];
    }
    uint64_t b, end;
    if (!off || off->type != KITE__J_ARR || off->n != 2 || !json_u64(off->items[0], &b) || !json_u64(off->items[1], &end))
        return kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s: \"data_offsets\" is not [begin, end]", name);
    if (b > end) return kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s: data_offsets begin %llu > end %llu", name,
                                   (unsigned long long)b, (unsigned long long)end);
    if (end > data_len)
        return kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s: data_offsets end %llu is past the data (%llu bytes)", name,
                          (unsigned long long)end, (unsigned long long)data_len);
    if (overflow || count > UINT64_MAX / es || count * es != end - b)
        return kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s: %llu bytes of data for a %s tensor of %s%llu elements", name,
                          (unsigned long long)(end - b), t->dtype, overflow ? "over " : "",
                          (unsigned long long)(overflow ? UINT64_MAX : count));
    t->offset = data_start + b;
    t->nbytes = end - b;
    return KITE_OK;
}

static int by_offset(const void *a, const void *b) {
    const kite_st_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const kite_st_tensor *const *)a)->name, (*(const kite_st_tensor *const *)b)->name);
}

// Refuses overlapping data (tensors sorted by offset) and duplicate names.
static kite_status check_layout(kite_safetensors *st) {
    qsort(st->tensors, st->n, sizeof *st->tensors, by_offset);
    for (uint64_t i = 1; i < st->n; i++) {
        const kite_st_tensor *p = &st->tensors[i - 1], *t = &st->tensors[i];
        if (t->offset < p->offset + p->nbytes)
            return kite__fail(KITE_ERR_INVALID, "safetensors: tensors %s and %s overlap", p->name, t->name);
    }
    kite_st_tensor **v = malloc((st->n ? st->n : 1) * sizeof *v);
    if (!v) return kite__fail(KITE_ERR_NOMEM, "safetensors: out of memory");
    for (uint64_t i = 0; i < st->n; i++) v[i] = &st->tensors[i];
    qsort(v, st->n, sizeof *v, by_name);
    kite_status s = KITE_OK;
    for (uint64_t i = 1; i < st->n && s == KITE_OK; i++)
        if (!strcmp(v[i - 1]->name, v[i]->name)) s = kite__fail(KITE_ERR_INVALID, "safetensors: tensor %s is listed twice", v[i]->name);
    free(v);
    return s;
}

kite_status kite_safetensors_parse(const uint8_t *hdr, uint64_t n, uint64_t file_size, kite_safetensors **out) {
    *out = NULL;
    if (n > KITE_SAFETENSORS_MAX_HEADER || file_size < 8 || n > file_size - 8)
        return kite__fail(KITE_ERR_INVALID, "safetensors: header of %llu bytes does not fit the %llu-byte file",
                          (unsigned long long)n, (unsigned long long)file_size);
    kite__jval *root = NULL;
    kite_status s = kite__hf_json("safetensors: header", hdr, n, &root);
    if (s != KITE_OK) return s;
    if (root->type != KITE__J_OBJ) {
        kite__json_free(root);
        return kite__fail(KITE_ERR_INVALID, "safetensors: header is not a JSON object");
    }
    kite_safetensors *st = calloc(1, sizeof *st);
    if (st) st->tensors = calloc(root->n ? root->n : 1, sizeof *st->tensors);
    if (!st || !st->tensors) {
        free(st);
        kite__json_free(root);
        return kite__fail(KITE_ERR_NOMEM, "safetensors: out of memory");
    }
    st->data_start = 8 + n;
    for (size_t i = 0; i < root->n && s == KITE_OK; i++) {
        const kite__jval *e = root->items[i];
        if (!strcmp(e->key, "__metadata__")) continue;
        kite_st_tensor *t = &st->tensors[st->n];
        if (!(t->name = strdup(e->key))) {
            s = kite__fail(KITE_ERR_NOMEM, "safetensors: out of memory");
            break;
        }
        st->n++;
        s = read_entry(e, st->data_start, file_size - st->data_start, t);
    }
    kite__json_free(root);
    if (s == KITE_OK) s = check_layout(st);
    if (s != KITE_OK) {
        kite_safetensors_free(st);
        return s;
    }
    *out = st;
    return KITE_OK;
}

void kite_safetensors_free(kite_safetensors *st) {
    if (!st) return;
    for (uint64_t i = 0; i < st->n; i++) free(st->tensors[i].name);
    free(st->tensors);
    free(st);
}
