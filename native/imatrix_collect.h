// imatrix_collect.h - an importance matrix as llama-imatrix computes it: for every weight matrix,
// the sum over the tokens of the squared input activations per input column, and how many rows
// went in (per expert for a 3-D expert tensor), gathered from the forward pass's matmul
// observer; written in llama-imatrix's GGUF format or its legacy .dat format.
#ifndef KITE_NATIVE_IMATRIX_COLLECT_H
#define KITE_NATIVE_IMATRIX_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kite.h"
#include "quant/kite_imatrix.h"
#include "safe_output.h"

// Dense matmuls over fewer rows than this are not counted (llama-imatrix skips them: they are
// single-token decode steps, not the text's prefill).
#define IMATRIX_MIN_ROWS 16

typedef struct imatrix_entry {
    char *name;      // the weight tensor ("blk.0.ffn_up_exps.weight")
    int32_t n_in;    // input columns
    int32_t n_mat;   // 1, or the expert count of a 3-D expert tensor
    float *sums;     // (n_mat, n_in) sums of squared activations
    int64_t *counts; // (n_mat) rows summed
} imatrix_entry;

typedef struct imatrix_collector {
    bool process_output;     // also collect output.weight (llama-imatrix --process-output)
    imatrix_entry *entries;  // in order of first use
    size_t n_entries, cap;
    char **datasets;         // the datasets of the matrices added with imatrix_collector_add
    size_t n_datasets;
    char err[256];           // the first failure (then nothing more is collected)
} imatrix_collector;

// A kite_matmul_observer: user is an imatrix_collector. Collects as llama-imatrix's callback:
// every expert matmul; a dense one when it has at least IMATRIX_MIN_ROWS rows and its weight is
// a block's ("blk.*") or, with process_output, output.weight. A non-finite sum or a weight seen
// with another shape sets err.
void imatrix_observe(void *user, const char *weight, int32_t expert, int32_t n_expert, const float *x, int32_t n,
                     int32_t n_in);

// Adds a matrix read from a file to the sums, as llama-imatrix --in-file does: a GGUF file's sums
// and counts as they are; a legacy file's stored values and call count times chunk_size (the
// file keeps means times calls). Its datasets are appended to c->datasets. false with c->err
// set (a weight with another shape, out of memory).
bool imatrix_collector_add(imatrix_collector *c, const kite_imatrix *im, int32_t chunk_size);

// Frees the entries and dataset names (the collector itself is the caller's).
void imatrix_collector_free(imatrix_collector *c);

// The chunks the matrix covers, as llama-imatrix records them: the largest count over the
// entries divided by chunk_size (rounded down).
int32_t imatrix_chunk_count(const imatrix_collector *c, int32_t chunk_size);

// Writes llama-imatrix's GGUF file to o (the caller commits it): the keys
// general.type = "imatrix", imatrix.datasets = the added matrices' datasets, then dataset
// (when not NULL: the text this run read), imatrix.chunk_count,
// imatrix.chunk_size; then per weight in name order "<name>.in_sum2" (f32 [n_in, n_mat]) and
// "<name>.counts" (f32 [1, n_mat]). false with a message in err.
bool imatrix_write_gguf(const imatrix_collector *c, safe_output *o, const char *dataset, int32_t chunk_size,
                        char *err, size_t err_len);

// Writes llama-imatrix's legacy .dat file (--output-format dat), as above: per weight in name
// order (those with any count) its name, its calls ceil(max count / chunk_size) and the mean
// squared activations times those calls (1 times them for an expert never run); then the
// chunk count and the dataset name (dataset, or when NULL the last added matrix's, or none).
bool imatrix_write_dat(const imatrix_collector *c, safe_output *o, const char *dataset, int32_t chunk_size,
                       char *err, size_t err_len);

#endif
