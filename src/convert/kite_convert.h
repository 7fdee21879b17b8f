// kite_convert.h - Hugging Face checkpoints to GGUF: the safetensors header reader and the
// converter (config.json + tokenizer.json + *.safetensors -> one GGUF), as llama.cpp's
// convert_hf_to_gguf.py writes it for the architectures and tokenizers listed below.
#ifndef KITE_CONVERT_H
#define KITE_CONVERT_H

#include "base/kite_base.h"
#include "base/kite_types.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- safetensors ----------------------------------------------------------------------
//
// A file is: u64 little-endian header length N, N bytes of JSON {"name": {"dtype": "BF16",
// "shape": [rows, cols], "data_offsets": [begin, end]}, ..., "__metadata__": {...}}, then the
// data; offsets are relative to the data's start (8 + N).

// Largest header accepted (the safetensors format's own limit: 100 MB).
#define KITE_SAFETENSORS_MAX_HEADER 100000000u

typedef struct kite_st_tensor {
    char *name;         // NUL-terminated
    char dtype[8];      // as written ("F32", "F16", "BF16", "I64"...; longer names are refused)
    uint32_t n_dims;    // 0..4
    uint64_t shape[4];  // outermost first, as in the file (PyTorch order)
    uint64_t offset;    // absolute file offset of the first byte
    uint64_t nbytes;
} kite_st_tensor;

typedef struct kite_safetensors {
    uint64_t n;             // tensors, in the order of their data (by offset)
    kite_st_tensor *tensors;
    uint64_t data_start;    // 8 + N
} kite_safetensors;

// The header length N from a file's first 8 bytes, checked: KITE_ERR_INVALID when fewer than 8
// bytes, N is 0, N > KITE_SAFETENSORS_MAX_HEADER, or 8 + N > file_size.
kite_status kite_safetensors_header_len(const uint8_t *first8, uint64_t len, uint64_t file_size, uint64_t *n_out);

// Parses the header JSON hdr[0..n) of a file of file_size bytes. Checks every entry: dtype a
// string of at most 7 bytes, shape at most 4 non-negative dims, data_offsets [begin, end] with
// begin <= end and end within the file, end - begin equal to the shape's element count times
// the dtype's size (for the dtypes it knows: F64/F32/F16/BF16/I64/I32/I16/I8/U8/BOOL, F8_*),
// no two tensors overlapping, no duplicate names. Errors (KITE_ERR_INVALID) name the tensor and
// what is wrong; KITE_ERR_NOMEM. On success *out is owned by the caller (kite_safetensors_free).
kite_status kite_safetensors_parse(const uint8_t *hdr, uint64_t n, uint64_t file_size, kite_safetensors **out);

// Frees what kite_safetensors_parse returned. NULL is allowed.
void kite_safetensors_free(kite_safetensors *st);

// ---- the converter ----------------------------------------------------------------------

// How the converter reads the checkpoint folder; names are relative to it ("config.json",
// "model-00001-of-00002.safetensors"). The three readers return KITE_OK or an error with its
// message set (kite_set_error).
typedef struct kite_hf_files {
    void *user;
    // Whether the folder has an entry of this name (of any kind: a folder named like a file is
    // then refused by the readers, naming it).
    bool (*exists)(void *user, const char *name);
    // The whole of a small file into *data (malloc'd; the converter frees it) and *len; *data
    // NULL (and KITE_OK) when the file does not exist. May be NULL: the converter then reads
    // such a file through exists, size and read_at.
    kite_status (*read_all)(void *user, const char *name, uint8_t **data, uint64_t *len);
    // A file's size; an error when it does not exist.
    kite_status (*size)(void *user, const char *name, uint64_t *size);
    // Exactly n bytes at offset into dst.
    kite_status (*read_at)(void *user, const char *name, uint64_t offset, void *dst, uint64_t n);
} kite_hf_files;

typedef struct kite_convert_opts {
    // Output type of the weight matrices: KITE_TYPE_F32, F16, BF16 or Q8_0; any other value
    // (e.g. -1) is llama.cpp's "auto": BF16 when the first matrix of the checkpoint is BF16,
    // else F16. Vectors and norms are F32 always; a Q8_0 matrix whose rows are not a multiple
    // of 32 falls back to F16 (as llama.cpp's converter does).
    int outtype;
    const char *name;              // general.name, over what the heuristics find (llama.cpp's --model-name); NULL: none
    kite_progress_fn progress;     // per tensor written; may be NULL
    void *progress_user;
    // The checkpoint folder's name (its last path component: "SmolLM2-135M-Instruct"), which
    // llama.cpp's name heuristics read last (general.name, basename, size_label, finetune,
    // version when the model card and config.json's _name_or_path leave them unset); NULL: none.
    const char *dir_name;
} kite_convert_opts;

// Converts a Hugging Face checkpoint folder to a GGUF written to out, as llama.cpp's
// convert_hf_to_gguf.py does (same tensor names, row order, types, metadata keys).
// Architectures (config.json "architectures"[0]): LlamaForCausalLM, MistralForCausalLM ->
// llama (q/k rows permuted to llama.cpp's rotary layout; rope_type llama3 ->
// rope_freqs.weight), SmolLM3ForCausalLM -> smollm3 (llama's mapping; NoPE every 4th layer), Qwen2ForCausalLM ->
// qwen2, Qwen3ForCausalLM -> qwen3, Qwen3MoeForCausalLM -> qwen3moe (each layer's
// experts.E.{gate,up,down}_proj stacked into ffn_{gate,up,down}_exps, expert outermost, read
// expert by expert; the router mlp.gate -> ffn_gate_inp, F32; a missing expert, shared experts,
// dense layers or norm_topk_prob false refused), Gemma2ForCausalLM -> gemma2 and
// Gemma3ForCausalLM -> gemma3 (RMS norm weights written as 1 + w, in the source dtype's arithmetic as torch does it; a
// query_pre_attn_scalar or window pattern llama.cpp would not run is refused; tokenizer.model
// required; gemma3's embedding rows past the vocabulary dropped), Phi3ForCausalLM
// -> phi3 (fused qkv / gate_up; longrope -> rope_factors_long/short.weight); the base models
// LlamaModel, Qwen2Model, Qwen3Model as their ForCausalLM (tensor names read under "model.";
// no lm_head, so the output is tied; an lm_head is refused as unmappable). Rope settings:
// rope_scaling or rope_parameters, flat or per attention type (full_attention's scaling and
// base, sliding_attention's base). Tokenizer: a SentencePiece tokenizer.model when present
// (as llama.cpp tries it first; phi3: required unless tokenizer_config.json's tokenizer_class is
// GPT2Tokenizer, which means tokenizer.json), else tokenizer.json with a byte-level BPE model
// whose pre-tokenizer is GPT-2's, Llama 3's, Qwen2's, o200k's (gpt-4o) or SmolLM's (single
// digits + GPT-2);
// tokenizer_config.json for the special tokens, add_bos/add_eos and the chat template;
// generation_config.json (optional) for general.sampling.* (top_k, top_p, min_p, temperature,
// repetition_penalty..., as gguf-py's Metadata; skipped when it does not parse); the model's
// identity (general.name, basename, finetune, version, size_label, license, tags, languages,
// base_model.*, dataset.*) as gguf-py's Metadata heuristics find it in README.md's YAML front
// matter (a subset of YAML: other forms are logged as warnings and skipped), config.json's
// _name_or_path and opts->dir_name, the size label otherwise from the parameter count.
// Weights: model.safetensors, or the shards that model.safetensors.index.json lists; dtypes
// F32, F16, BF16. Read one row block at a time (never a whole checkpoint in memory).
// Errors: KITE_ERR_UNSUPPORTED (architecture, tokenizer, dtype), KITE_ERR_INVALID (a missing
// or malformed file, a tensor that does not map or has the wrong shape, a safetensors header
// that lies), the files' or the sink's error; each message names the file / tensor / key.
// Config, tokenizer and every safetensors header are read and checked before the first byte
// goes to out; tensor data are read while they are written, so an error there (a read error,
// a NaN for Q8_0) leaves a partial stream, which the host discards.
kite_status kite_convert_hf(const kite_hf_files *files, const kite_convert_opts *opts, const kite_sink *out);

#ifdef __cplusplus
}
#endif
#endif
