// kite_imatrix.h - importance matrices as llama-imatrix writes them (its GGUF format, and the
// legacy .dat format), read into the per-column weights llama-quantize gives its quantizers.
#ifndef KITE_IMATRIX_H
#define KITE_IMATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kite_base.h"

#ifdef __cplusplus
extern "C" {
#endif

// One weight tensor's importance: values[n] are the mean squared activations of its input
// columns (for a 3-D expert tensor, ne0 values per expert, expert after expert), normalized
// as llama-quantize normalizes them. sums[n] and counts[n_counts] are what the file stores, for
// tools that add matrices up (llama-imatrix --in-file): the GGUF format's in_sum2 and its counts
// rounded to integers (one per expert); the legacy format's stored values (mean * calls) and
// its one call count.
typedef struct kite_imatrix_entry {
    char *name; // the weight tensor's name ("blk.0.ffn_up.weight"), NUL-terminated
    float *values;
    uint64_t n;
    float *sums;
    int64_t *counts;
    uint64_t n_counts;
} kite_imatrix_entry;

typedef struct kite_imatrix {
    kite_imatrix_entry *entries; // sorted by name (bytewise), names unique
    size_t n_entries;
    char *dataset;       // the first dataset it was computed on, or NULL
    char **datasets;     // every dataset the file names, in its order (the legacy format: one at most)
    size_t n_datasets;
    int32_t chunk_count; // chunks it was computed on (0: not recorded)
    bool legacy;         // read from the legacy .dat format
} kite_imatrix;

// Parses an importance matrix file held in memory: the GGUF format when it starts with "GGUF",
// else the legacy format. Values come out as llama-quantize uses them: GGUF sums divided by
// their per-expert counts (1 where a count is 0: an expert never run), legacy sums divided by
// their call count. Errors (KITE_ERR_INVALID, message names the entry): a truncated or
// malformed file, no entries, a GGUF file without llama-imatrix's metadata keys (datasets,
// chunk_count, chunk_size), sums without counts or the other way round, non-F32 tensors;
// KITE_ERR_NOMEM. Values are not checked here: NaN or infinite values are refused by
// kite_quantize_gguf for the entries left after kite_imatrix_filter, as llama-quantize does.
// The result owns its memory (free with kite_imatrix_free); buf may be released afterwards.
kite_status kite_imatrix_parse(const uint8_t *buf, size_t len, kite_imatrix **out);

void kite_imatrix_free(kite_imatrix *im);

// The entry for a weight tensor, or NULL.
const kite_imatrix_entry *kite_imatrix_find(const kite_imatrix *im, const char *name);

// llama-quantize's --exclude-weights / --include-weights: drops every entry whose name contains
// one of exclude[0..n_exclude) as a substring, then, when n_include > 0, keeps only entries
// whose name contains one of include[0..n_include). May leave no entries (then the file counts
// as no importance matrix at all, as in llama-quantize).
void kite_imatrix_filter(kite_imatrix *im, const char *const *include, size_t n_include, const char *const *exclude,
                         size_t n_exclude);

#ifdef __cplusplus
}
#endif
#endif
