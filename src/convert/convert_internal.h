// convert_internal.h - what the converter's files share: JSON helpers, the model description
// read from config.json, and the steps (hparams, vocab) that add GGUF keys.
#ifndef KITE_CONVERT_INTERNAL_H
#define KITE_CONVERT_INTERNAL_H

#include "convert/kite_convert.h"
#include "gguf/kite_gguf.h"
#include "grammar/json_tree.h"

// The largest vocabulary accepted (real ones have up to about 262k tokens): larger sizes are
// refused before per-token tables are allocated.
#define KITE__HF_MAX_VOCAB (1u << 24)

// Parses text[0..len) as JSON; the error names the file (`what`).
kite_status kite__hf_json(const char *what, const uint8_t *text, uint64_t len, kite__jval **out);

// A config.json member read as a non-negative integer that fits u32: 1 present (in *out), 0
// absent (or null), -1 present with another type or range (the error is set, naming key).
int kite__hf_u32(const kite__jval *obj, const char *key, uint32_t *out);
// As kite__hf_u32 for a number (integer or not).
int kite__hf_num(const kite__jval *obj, const char *key, double *out);

// What the tensor step needs to know of the model (from config.json).
typedef struct kite__hf_model {
    const char *arch;       // GGUF architecture name
    bool llama_like;        // llama / smollm3: q/k rows permuted, vocab_size + rope dim keys
    uint32_t n_layer, n_head, n_head_kv, n_embd, head_dim; // head_dim: config's or n_embd / n_head
    bool rope_llama3;       // rope_type llama3: rope_freqs.weight is generated
    float rope_theta, rope_factor, rope_low, rope_high;
    uint32_t rope_orig_ctx;
} kite__hf_model;

// Reads the architecture and hyperparameters from config.json into m and adds the
// general.architecture and <arch>.* keys to w (as llama.cpp's TextModel / LlamaModel
// set_gguf_parameters do; general.name when name is not NULL; general.file_type is added by the caller). KITE_ERR_UNSUPPORTED
// names an architecture or rope type it does not convert; KITE_ERR_INVALID a bad or missing
// value.
kite_status kite__hf_config(const kite__jval *cfg, const char *name, kite_gguf_writer *w, kite__hf_model *m);

// JSON helpers: whether v is an object with "type": type; a bool member (def when absent).
bool kite__hf_is_type(const kite__jval *v, const char *type);
bool kite__hf_bool(const kite__jval *v, const char *key, bool def);
// Reads an optional JSON file of the checkpoint; *out NULL when absent.
kite_status kite__hf_read_json(const kite_hf_files *f, const char *name, kite__jval **out);
// Sets key to an array of n strings / a bool.
kite_status kite__hf_put_strs(kite_gguf_writer *w, const char *key, kite_str *strs, uint64_t n);
kite_status kite__hf_set_bool(kite_gguf_writer *w, const char *key, bool b);
// llama.cpp's does_token_look_special: <|...|>, <｜...｜>, <unused...>, <pad>, <mask>...
bool kite__hf_looks_special(const char *t);

// The keys both vocabulary kinds add after their tokens (gguf-py's SpecialVocab): special
// token ids (tokenizer_config.json's texts looked up in tokenizer.json's added_tokens, then
// config.json's *_token_id), add_bos / add_eos (tokenizer.json's TemplateProcessing, then
// tokenizer_config.json), tokenizer.chat_template. tok and tc may be NULL (file absent).
kite_status kite__hf_special_keys(const kite_hf_files *f, const kite__jval *tok, const kite__jval *tc, const kite__jval *cfg,
                                  const kite__hf_model *m, uint32_t n_vocab, kite_gguf_writer *w);

// The SentencePiece vocabulary (tokenizer.model, model[0..len)) as llama.cpp's
// _set_vocab_sentencepiece writes it: tokens, scores, types (+ added_tokens.json,
// tokenizer_config.json's added_tokens_decoder), then the special keys.
kite_status kite__hf_spm_vocab(const kite_hf_files *f, const uint8_t *model, uint64_t len, const kite__jval *tok,
                               const kite__jval *tc, const kite__jval *cfg, const kite__hf_model *m, kite_gguf_writer *w);

// Adds the tokenizer.ggml.* and tokenizer.chat_template keys, as llama.cpp's llama / qwen2
// set_vocab: tokenizer.model (SentencePiece) when present, else tokenizer.json's byte-level
// BPE (_set_vocab_gpt2); then SpecialVocab's keys from tokenizer_config.json (optional),
// chat_template.jinja (optional) and config.json.
kite_status kite__hf_vocab(const kite_hf_files *files, const kite__jval *cfg, const kite__hf_model *m,
                           kite_gguf_writer *w);

// llama.cpp's rope_freqs for rope_type llama3: head_dim / 2 factors (llama.py's
// generate_extra_tensors formula; see hf_config.c for the arithmetic's precision).
void kite__hf_llama3_rope_factors(const kite__hf_model *m, float *out);

#endif
