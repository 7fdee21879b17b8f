// kite_quantize.h - file-level quantization of a GGUF model: llama-quantize's file types, its
// per-tensor mixture rules, and a streaming quantizer that writes the new file into a host sink.
#ifndef KITE_QUANTIZE_H
#define KITE_QUANTIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kite_base.h"
#include "base/kite_types.h"
#include "gguf/kite_gguf.h"
#include "quant/kite_imatrix.h"

#ifdef __cplusplus
extern "C" {
#endif

// File types, numbered as llama.cpp's llama_ftype (the value stored in general.file_type).
typedef enum kite_ftype {
    KITE_FTYPE_ALL_F32 = 0,
    KITE_FTYPE_MOSTLY_F16 = 1,
    KITE_FTYPE_MOSTLY_Q4_0 = 2,
    KITE_FTYPE_MOSTLY_Q4_1 = 3,
    KITE_FTYPE_MOSTLY_Q8_0 = 7,
    KITE_FTYPE_MOSTLY_Q5_0 = 8,
    KITE_FTYPE_MOSTLY_Q5_1 = 9,
    KITE_FTYPE_MOSTLY_Q2_K = 10,
    KITE_FTYPE_MOSTLY_Q3_K_S = 11,
    KITE_FTYPE_MOSTLY_Q3_K_M = 12,
    KITE_FTYPE_MOSTLY_Q3_K_L = 13,
    KITE_FTYPE_MOSTLY_Q4_K_S = 14,
    KITE_FTYPE_MOSTLY_Q4_K_M = 15,
    KITE_FTYPE_MOSTLY_Q5_K_S = 16,
    KITE_FTYPE_MOSTLY_Q5_K_M = 17,
    KITE_FTYPE_MOSTLY_Q6_K = 18,
    KITE_FTYPE_MOSTLY_IQ2_XXS = 19,
    KITE_FTYPE_MOSTLY_IQ2_XS = 20,
    KITE_FTYPE_MOSTLY_Q2_K_S = 21,
    KITE_FTYPE_MOSTLY_IQ3_XS = 22,
    KITE_FTYPE_MOSTLY_IQ3_XXS = 23,
    KITE_FTYPE_MOSTLY_IQ1_S = 24,
    KITE_FTYPE_MOSTLY_IQ4_NL = 25,
    KITE_FTYPE_MOSTLY_IQ3_S = 26,
    KITE_FTYPE_MOSTLY_IQ3_M = 27,
    KITE_FTYPE_MOSTLY_IQ2_S = 28,
    KITE_FTYPE_MOSTLY_IQ2_M = 29,
    KITE_FTYPE_MOSTLY_IQ4_XS = 30,
    KITE_FTYPE_MOSTLY_IQ1_M = 31,
    KITE_FTYPE_MOSTLY_BF16 = 32,
    KITE_FTYPE_MOSTLY_TQ1_0 = 36,
    KITE_FTYPE_MOSTLY_TQ2_0 = 37,
    KITE_FTYPE_MOSTLY_MXFP4_MOE = 38,
    KITE_FTYPE_MOSTLY_NVFP4 = 39,
    KITE_FTYPE_MOSTLY_Q1_0 = 40,
    KITE_FTYPE_MOSTLY_Q2_0 = 41,
} kite_ftype;

// One --tensor-type override: tensors whose name matches `pattern` (an ECMAScript regular
// expression searched anywhere in the name, as std::regex_search) get `type`. First match wins.
typedef struct kite_quantize_tensor_type {
    const char *pattern;
    kite_type type;
} kite_quantize_tensor_type;

// Filled by kite_quantize_gguf when kite_quantize_params.stats is set.
typedef struct kite_quantize_stats {
    uint64_t n_tensors;    // tensors in the file
    uint64_t n_quantized;  // tensors whose type changed
    uint64_t n_fallback;   // tensors whose row length forced another type (as llama-quantize counts)
    uint64_t bytes_in;     // tensor data bytes of the input (unpadded)
    uint64_t bytes_out;    // tensor data bytes of the output (unpadded)
    uint64_t n_elements;   // weights in the model
} kite_quantize_stats;

typedef struct kite_quantize_params {
    int ftype;                 // a kite_ftype (llama_ftype number)
    int n_threads;             // worker threads; <= 1 runs on the caller's thread only
    bool allow_requantize;     // allow already-quantized inputs (quality suffers)
    bool pure;                 // one type for every quantizable tensor: no mixture rules
    bool leave_output_tensor;  // keep output.weight as it is
    int output_tensor_type;    // a kite_type for output.weight (and tied token_embd), or -1
    int token_embedding_type;  // a kite_type for token_embd.weight, or -1
    const kite_quantize_tensor_type *tensor_types; // overrides, in priority order (may be NULL)
    size_t n_tensor_types;
    kite_quantize_stats *stats; // optional out: sizes and counts after a successful run
    // Optional: called with input tensor bytes (a slice or a whole tensor) once they are no
    // longer read, so a host that mapped the file can drop those pages (madvise) and keep
    // resident memory bounded.
    void (*release)(void *user, const void *data, uint64_t len);
    void *release_user;
    // Optional importance matrix (llama-quantize --imatrix, after --include/--exclude-weights):
    // each tensor with an entry of its name is quantized with those column weights (a 3-D
    // expert tensor takes ne0 values per expert); with at least one entry the mixture rules
    // take llama.cpp's imatrix branches and the low-bit types are allowed for tensors that
    // have an entry. NULL or no entries: no importance matrix.
    const kite_imatrix *imatrix;
    // The file name recorded in quantize.imatrix.file (llama-quantize records the path it was
    // given, cut to 127 bytes); may be NULL (then "").
    const char *imatrix_file;
} kite_quantize_params;

// Defaults: Q8_0, 1 thread, no overrides (llama_model_quantize_default_params' choices).
kite_quantize_params kite_quantize_default_params(void);

// Looks up a file type by llama-quantize's name, case-insensitively ("Q4_K_M", "q8_0", "F16",
// aliases "Q4_K" = Q4_K_M, "Q5_K" = Q5_K_M, "Q3_K" = Q3_K_M) or by its number ("15").
// Returns false for an unknown name.
bool kite_quantize_ftype_from_name(const char *name, int *ftype);

// llama-quantize's name of a file type ("Q4_K_M"), or NULL if unknown.
const char *kite_quantize_ftype_name(int ftype);

// The i-th file type name of llama-quantize's list (the order of its --help; the aliases Q3_K,
// Q4_K, Q5_K included) and, if ftype is not NULL, its number. NULL when i is past the end.
const char *kite_quantize_ftype_at(size_t i, int *ftype);

// Whether kite makes files of this type without (with_imatrix false) or with an importance
// matrix: KITE_OK, else KITE_ERR_UNSUPPORTED with a message saying why (without one: the type
// needs one, as llama-quantize's rule for its layer matrices says; or kite has no quantizer for
// its main tensor type), KITE_ERR_INVALID for an unknown number. kite_quantize_gguf refuses
// these types before writing anything (with_imatrix: p->imatrix has entries).
kite_status kite_quantize_ftype_check_for(int ftype, bool with_imatrix);

// kite_quantize_ftype_check_for(ftype, false).
kite_status kite_quantize_ftype_check(int ftype);

// Checks params without a file: the ftype is known, override types are valid, every pattern
// compiles. Returns KITE_ERR_INVALID with a message naming the bad item.
kite_status kite_quantize_params_check(const kite_quantize_params *p);

// ---- the mixture policy -----------------------------------------------------------------

// Model facts the mixture rules read (from the GGUF metadata; see kite_quantize_model_info).
typedef struct kite_quant_model {
    const char *arch;   // general.architecture ("llama", "falcon", ...)
    uint32_t n_layer;   // {arch}.block_count
    uint32_t n_head;    // {arch}.attention.head_count (layer 0)
    uint32_t n_head_kv; // {arch}.attention.head_count_kv (layer 0; defaults to n_head)
    uint32_t n_expert;  // {arch}.expert_count (0 without experts)
    bool is_70b;        // llama.cpp classes the model as LLM_TYPE_70B (attn_v gets more bits)
} kite_quant_model;

// One tensor as the mixture rules see it.
typedef struct kite_quant_tensor {
    const char *name;
    kite_type type; // its current type
    int64_t ne[KITE_GGUF_MAX_DIMS]; // unused dims are 1
} kite_quant_tensor;

// The per-tensor type choice of llama.cpp's llama_model_quantize (with p->imatrix's rules when
// it has entries), as one pure function: t[0..n) in the order the file will be written (some rules count tensors of a
// kind as they come). Writes the target type of each tensor to out[i] (its current type when
// it is not to be quantized) and, if n_fallback is not NULL, how many tensors fell back to
// another type because of their row length. Errors (KITE_ERR_INVALID, message names the
// tensor): a pattern that does not compile, an unknown ftype, a layer number it cannot read
// where experts need one, or a target type without a fallback for its row length.
kite_status kite_quantize_choose_types(const kite_quant_model *m, const kite_quantize_params *p,
                                       const kite_quant_tensor *t, size_t n, kite_type *out,
                                       uint32_t *n_fallback);

// True when llama.cpp refuses to produce type t for this tensor without an importance matrix
// (IQ1/IQ2/IQ3_XXS types, and Q2_K inside a Q2_K_S file; never the embedding or output).
bool kite_quantize_needs_imatrix(const char *name, kite_type t, int ftype);

// Reads the kite_quant_model facts from a parsed file; m->arch is set to arch_buf, which gets
// a NUL-terminated copy of general.architecture (arch_cap bytes at most). Errors
// (KITE_ERR_INVALID) when general.architecture or {arch}.block_count is missing or malformed.
kite_status kite_quantize_model_info(const kite_gguf *g, kite_quant_model *m, char *arch_buf, size_t arch_cap);

// Index order llama-quantize writes tensors in: non-layer tensors first, then by layer number
// ("blk.N."), names compared bytewise within each group. Fills order[0..g->n_tensors) with
// input tensor indices. KITE_ERR_NOMEM if it cannot allocate its sort keys.
kite_status kite_quantize_tensor_order(const kite_gguf *g, uint64_t *order);

// ---- the file quantizer ----------------------------------------------------------------

// Quantizes the model in `in` into a new GGUF streamed to `out`: the same bytes as llama.cpp's
// llama_model_quantize with the same params (keys copied in order, general.quantization_version
// and general.file_type set last, split keys dropped; with an importance matrix then the
// quantize.imatrix.* keys llama-quantize adds: file, dataset, entries_count, chunks_count; tensors in
// llama-quantize's order, each converted through f32 rows). Memory stays bounded: one slice of
// rows at a time (at most a few tens of MB of scratch beside the output header). Uses
// p->n_threads threads where the build has threads (KITE_THREADS), else one.
// progress (may be NULL) is called with the tensor name, input bytes done and total; returning
// false stops the run with KITE_ERR_ABORTED. On error the sink may have received part of a
// file: the host discards it. Errors: KITE_ERR_INVALID (bad params, one file of a split set
// (split.count > 1: it holds only part of the tensors), pattern, type for a tensor's shape,
// requantizing without allow_requantize, NaN/Inf weights, an importance matrix with a NaN/Inf value
// or an entry whose size is not the tensor's ne0 * ne2, a type that needs an importance matrix for
// a tensor without one), KITE_ERR_UNSUPPORTED (a target or source type kite cannot convert),
// KITE_ERR_IO (the sink failed), KITE_ERR_NOMEM.
kite_status kite_quantize_gguf(const kite_gguf *in, const kite_sink *out, const kite_quantize_params *p,
                               kite_progress_fn progress, void *user);

#ifdef __cplusplus
}
#endif
#endif
