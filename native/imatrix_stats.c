// imatrix_stats.c - llama-imatrix's statistics of an importance matrix: see imatrix_stats.h. The
// arithmetic is single-precision and in llama-imatrix's order, so the printed digits agree.
#include "imatrix_stats.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct weight_stats {
    const imatrix_entry *e;
    char layer[32]; // the number after "blk", or "-"
    char short_name[128]; // the part before "weight" ("attn_q"), or the whole name
    float total, mean, max, min, dev, active, entropy, zd, cossim;
    int elements;
} weight_stats;

// llama-imatrix's name split: layer = the dot-separated part after "blk", name = the part before
// "weight" (the whole name when there is none).
static void split_name(const char *name, char *layer, size_t layer_len, char *short_name, size_t short_len) {
    snprintf(layer, layer_len, "-");
    snprintf(short_name, short_len, "%s", name);
    const char *parts[64];
    size_t lens[64], n = 0;
    for (const char *p = name; n < 64;) {
        const char *dot = strchr(p, '.');
        parts[n] = p;
        lens[n++] = dot ? (size_t)(dot - p) : strlen(p);
        if (!dot) break;
        p = dot + 1;
    }
    for (size_t i = 0; i + 1 < n; i++)
        if (lens[i] == 3 && !memcmp(parts[i], "blk", 3)) {
            snprintf(layer, layer_len, "%.*s", (int)lens[i + 1], parts[i + 1]);
            break;
        }
    for (size_t i = 1; i < n; i++)
        if (lens[i] == 6 && !memcmp(parts[i], "weight", 6)) {
            snprintf(short_name, short_len, "%.*s", (int)lens[i - 1], parts[i - 1]);
            break;
        }
}

// The statistics of one weight's means (sums / count, matrices never run left out); false when
// it has none.
static bool compute(weight_stats *t, const imatrix_entry *e) {
    const size_t n_max = (size_t)e->n_in * (size_t)e->n_mat;
    float *act = malloc((n_max ? n_max : 1) * sizeof *act);
    if (!act) return false;
    size_t n = 0;
    for (int32_t m = 0; m < e->n_mat; m++) {
        if (e->counts[m] == 0) continue;
        for (int32_t j = 0; j < e->n_in; j++) act[n++] = e->sums[(size_t)m * e->n_in + j] / (float)e->counts[m];
    }
    if (n == 0) {
        free(act);
        return false;
    }
    float total = 0.0f, sq = 0.0f, mx = act[0], mn = act[0];
    for (size_t i = 0; i < n; i++) {
        total += act[i];
        sq += act[i] * act[i];
        mx = act[i] > mx ? act[i] : mx;
        mn = act[i] < mn ? act[i] : mn;
    }
    const float mean = total / (float)n, var = sq / (float)n - mean * mean, dev = sqrtf(var > 0.0f ? var : 0.0f);
    size_t inactive = 0, above = 0;
    float entropy = 0.0f;
    for (size_t i = 0; i < n; i++) {
        inactive += fabsf(act[i]) <= 1e-5f;
        if (total > 0.0f) {
            const float p = act[i] / total;
            if (p > 0.0f) entropy -= p * log2f(p);
        }
        if (dev > 0.0f && (act[i] - mean) / dev > 1.0f) above++;
    }
    free(act);
    *t = (weight_stats){.e = e, .total = total, .mean = mean, .max = mx, .min = mn, .dev = dev,
                        .active = 1.0f - (float)inactive / (float)n, .entropy = entropy, .elements = (int)n};
    t->zd = (float)above / (float)t->elements;
    split_name(e->name, t->layer, sizeof t->layer, t->short_name, sizeof t->short_name);
    return true;
}

// Cosine similarity of the raw sums with those of the same weight one block down (0 without one).
static float cossim_down(const weight_stats *all, size_t n, const weight_stats *t) {
    const char *p = strstr(t->e->name, "blk.");
    char *end;
    if (!p) return 0.0f;
    long blk = strtol(p + 4, &end, 10);
    if (end == p + 4 || *end != '.') return 0.0f;
    char want[512];
    snprintf(want, sizeof want, "%.*sblk.%ld%s", (int)(p - t->e->name), t->e->name, blk - 1, end);
    for (size_t i = 0; i < n; i++) {
        const imatrix_entry *a = t->e, *b = all[i].e;
        if (strcmp(b->name, want) != 0) continue;
        const size_t len = (size_t)a->n_in * (size_t)a->n_mat, blen = (size_t)b->n_in * (size_t)b->n_mat;
        float dp = 0.0f, ma = 0.0f, mb = 0.0f;
        for (size_t j = 0; j < len && j < blen; j++) dp += a->sums[j] * b->sums[j];
        for (size_t j = 0; j < len; j++) ma += a->sums[j] * a->sums[j];
        for (size_t j = 0; j < blen; j++) mb += b->sums[j] * b->sums[j];
        return dp / (sqrtf(ma) * sqrtf(mb));
    }
    return 0.0f;
}

static int by_name_then_total(const void *pa, const void *pb) {
    const weight_stats *a = pa, *b = pb;
    const int c = strcmp(a->short_name, b->short_name);
    if (c) return c;
    return a->total > b->total ? -1 : a->total < b->total ? 1 : strcmp(a->e->name, b->e->name);
}

static int by_entry_name(const void *pa, const void *pb) {
    return strcmp((*(const imatrix_entry *const *)pa)->name, (*(const imatrix_entry *const *)pb)->name);
}

// The layer number of a weight_stats row, as llama-imatrix's std::stoi reads it: -1 when it is
// not a block's or the number does not fit an int.
static int layer_number(const weight_stats *t) {
    char *end;
    errno = 0;
    const long v = strtol(t->layer, &end, 10);
    return end == t->layer || errno == ERANGE || v > INT_MAX || v < INT_MIN ? -1 : (int)v;
}

static int by_int(const void *a, const void *b) {
    const int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

bool imatrix_print_statistics(const imatrix_collector *c, const char *file, FILE *out, char *err, size_t err_len) {
    weight_stats *ts = calloc(c->n_entries ? c->n_entries : 1, sizeof *ts);
    const imatrix_entry **es = malloc((c->n_entries ? c->n_entries : 1) * sizeof *es);
    if (!ts || !es) {
        free(ts);
        free(es);
        snprintf(err, err_len, "out of memory");
        return false;
    }
    for (size_t i = 0; i < c->n_entries; i++) es[i] = &c->entries[i];
    qsort(es, c->n_entries, sizeof *es, by_entry_name); // llama-imatrix walks its entries by name
    size_t n = 0;
    for (size_t i = 0; i < c->n_entries; i++)
        if (compute(&ts[n], es[i])) n++;
    free(es);
    if (n == 0) {
        free(ts);
        snprintf(err, err_len, "cannot compute statistics for %s: no weight has activations", file);
        return false;
    }
    for (size_t i = 0; i < n; i++) ts[i].cossim = cossim_down(ts, n, &ts[i]);
    qsort(ts, n, sizeof *ts, by_name_then_total);

    fprintf(out, "\nComputing statistics for %s (%d tensors)\n", file, (int)n);
    fprintf(out, "\n%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", " Layer", "       Tensor",
            "          \xce\xa3(Act\xc2\xb2)", "  Min", "            Max", "           \xce\xbc", "   \xcf\x83",
            " % Active", "N", "   Entropy", "E (norm)", "ZD", "  CosSim");
    for (int i = 0; i < 169; i++) fputc('=', out);
    fputc('\n', out);
    for (size_t i = 0; i < n; i++) {
        const weight_stats *t = &ts[i];
        // as llama-imatrix: the log of an int is taken in double
        const double e_norm = t->elements > 0 ? 100.0f * (t->entropy / log2((double)t->elements)) : 0.0;
        fprintf(out, "%5s\t%-20s\t%10.2f\t%8.4f\t%11.4f\t%6.2f\t%6.2f\t%8.2f%%\t%6d\t%10.4f\t%6.2f%%\t%10.2f%%\t%8.4f\n",
                t->layer, t->short_name, t->total, t->min, t->max, t->mean, t->dev, t->active * 100.0f, t->elements,
                t->entropy, e_norm, 100.0f * t->zd, t->cossim);
    }

    // weighted by the number of columns, per layer in ascending order (the layers present only:
    // a hostile name may carry any number)
    int *layer_ids = malloc(n * sizeof *layer_ids);
    if (!layer_ids) {
        free(ts);
        snprintf(err, err_len, "out of memory");
        return false;
    }
    size_t n_layers = 0;
    for (size_t i = 0; i < n; i++)
        if (layer_number(&ts[i]) >= 0) layer_ids[n_layers++] = layer_number(&ts[i]);
    qsort(layer_ids, n_layers, sizeof *layer_ids, by_int);
    size_t n_distinct = 0;
    for (size_t i = 0; i < n_layers; i++)
        if (n_distinct == 0 || layer_ids[n_distinct - 1] != layer_ids[i]) layer_ids[n_distinct++] = layer_ids[i];
    fprintf(out, "\nComputing weighted average statistics per layer (%d layers)\n", (int)n_distinct);
    fprintf(out, "\n%s\t%s\t%s\t%s\n", "  Layer", "     \xce\xbc\xce\xa3(Act\xc2\xb2)", "      \xce\xbcZD", "\xce\xbc" "CosSim");
    fprintf(out, "================================================\n");
    for (size_t k = 0; k < n_distinct; k++) {
        const int l = layer_ids[k];
        float bias = 0.0f, zd = 0.0f, cs = 0.0f;
        int elements = 0;
        for (size_t i = 0; i < n; i++) {
            const weight_stats *t = &ts[i];
            if (layer_number(t) != l) continue;
            bias += (float)t->elements * t->total;
            zd += (float)t->elements * t->zd;
            cs += (float)t->elements * t->cossim;
            elements += t->elements;
        }
        if (elements == 0) continue;
        bias /= (float)elements;
        zd /= (float)elements;
        cs /= (float)elements;
        fprintf(out, "%5d\t%14.2f\t%10.4f%%\t%6.4f\n", l, bias, 100.0f * zd, cs);
    }
    free(layer_ids);
    fputc('\n', out);
    free(ts);
    return true;
}
