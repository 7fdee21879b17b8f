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
// The most experts accepted (llama.cpp's LLAMA_MAX_EXPERTS).
#define KITE__HF_MAX_EXPERTS 1024u

// Parses text[0..len) as JSON; the error names the file (`what`).
kite_status kite__hf_json(const char *what, const uint8_t *text, uint64_t len, kite__jval **out);

// A config.json member read as a non-negative integer that fits u32: 1 present (in *out), 0
// absent (or null), -1 present with another type or range (the error is set, naming key).
int kite__hf_u32(const kite__jval *obj, const char *key, uint32_t *out);
// As kite__hf_u32 for a number (integer or not).
int kite__hf_num(const kite__jval *obj, const char *key, double *out);

// The tensor-name layouts (and the per-family rules that go with them).
typedef enum kite__hf_family {
    KITE__HF_LLAMA,  // llama / mistral / smollm3 / qwen2 / qwen3 names (qwen3moe: + router, experts)
    KITE__HF_GEMMA2, // + post-attention / pre- and post-feedforward norms, norms stored as w (1 + w written)
    KITE__HF_GEMMA3, // gemma2's, + q/k norms
    KITE__HF_PHI3,   // fused qkv_proj / gate_up_proj, longrope factor tensors
} kite__hf_family;

// What the tensor step needs to know of the model (from config.json).
typedef struct kite__hf_model {
    const char *arch;       // GGUF architecture name
    kite__hf_family family;
    bool llama_like;        // llama / smollm3: q/k rows permuted, vocab_size + rope dim keys
    bool base;              // LlamaModel / Qwen2Model / Qwen3Model: names lack "model.", no lm_head
    bool rope_theta_set;    // config.json gave rope_theta (rope_theta holds 10000 otherwise)
    // phi3 longrope: config.json's long_factor / short_factor arrays (NULL: none), pointing into
    // the config tree, so valid only while it is (the tensor plan copies them)
    const kite__jval *rope_long, *rope_short;
    uint32_t n_layer, n_head, n_head_kv, n_embd, head_dim; // head_dim: config's or n_embd / n_head
    uint32_t n_expert;      // qwen3moe: routed experts per layer (0: a dense model)
    bool rope_llama3;       // rope_type llama3: rope_freqs.weight is generated
    float rope_theta, rope_factor, rope_low, rope_high;
    uint32_t rope_orig_ctx;
} kite__hf_model;

// Reads the architecture and hyperparameters from config.json into m and adds the
// general.architecture, general.type and <arch>.* keys to w (as llama.cpp's TextModel /
// LlamaModel set_gguf_parameters do; general.file_type and the identity keys are added by the
// caller). KITE_ERR_UNSUPPORTED names an architecture or rope type it does not convert;
// KITE_ERR_INVALID a bad or missing value.
kite_status kite__hf_config(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m);

// config.json -> the keys of Gemma2ForCausalLM, Gemma3ForCausalLM and Phi3ForCausalLM, as
// llama.cpp's Gemma2Model / Gemma3Model / Phi3MiniModel set_gguf_parameters write them
// (hf_config_arch.c); m->arch is set. Errors as kite__hf_config's.
kite_status kite__hf_config_gemma2(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m);
kite_status kite__hf_config_gemma3(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m);
kite_status kite__hf_config_phi3(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m);

// Adds <arch>.<suffix> = the first of keys (NULL-terminated) that config.json has, as u32 into
// *out (out may be NULL); a required one refuses when absent, naming keys[0].
kite_status kite__hf_put_hparam(const kite__jval *cfg, kite_gguf_writer *w, const char *arch, const char *suffix,
                                const char *const *keys, bool required, uint32_t *out);
// The rope keys of llama.cpp's TextModel.set_gguf_parameters from rope_parameters /
// rope_scaling, flat or per attention type ({"full_attention": {...}, "sliding_attention":
// {...}}): the scaling (linear, yarn; llama3 for llama-like arches) and rope.freq_base
// (sets m->rope_theta, m->rope_theta_set) from the flat one or full_attention's, the flat
// form falling back to config.json's rope_theta (or its other names); rope.freq_base_swa from
// sliding_attention's rope_theta, or in the flat form rope_local_base_freq (or the other
// local-theta names).
kite_status kite__hf_put_rope(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m);

// A small file whole, as kite_hf_files.read_all gives it (*data NULL when absent); where the
// host leaves read_all NULL, through exists, size and read_at (a file of at most 1 GiB).
kite_status kite__hf_read_all(const kite_hf_files *f, const char *name, uint8_t **data, uint64_t *len);

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
// token ids (tokenizer_config.json's texts, as tokenizer.json's TemplateProcessing rewrites
// them: a trailing token other than the eos becomes the eos, the eos the eot (then eom); looked
// up in tokenizer.json's added_tokens, then config.json's integer *_token_id; no cls id, which
// gguf-py does not write), add_bos / add_eos / add_sep (the TemplateProcessing's single and
// pair templates, then tokenizer_config.json), tokenizer.chat_template. tok and tc may be NULL (file
// absent).
kite_status kite__hf_special_keys(const kite_hf_files *f, const kite__jval *tok, const kite__jval *tc, const kite__jval *cfg,
                                  const kite__hf_model *m, uint32_t n_vocab, kite_gguf_writer *w);

// The SentencePiece vocabulary (tokenizer.model, model[0..len)) as llama.cpp's
// _set_vocab_sentencepiece writes it: tokens, scores, types (+ added_tokens.json,
// tokenizer_config.json's added_tokens_decoder; for phi3 Phi3MiniModel.set_vocab's rules, which
// also take tokenizer.json's added_tokens), then the special keys. *n_vocab: the token count.
kite_status kite__hf_spm_vocab(const kite_hf_files *f, const uint8_t *model, uint64_t len, const kite__jval *tok,
                               const kite__jval *tc, const kite__jval *cfg, const kite__hf_model *m, kite_gguf_writer *w,
                               uint32_t *n_vocab);

// Adds the tokenizer.ggml.* and tokenizer.chat_template keys, as llama.cpp's llama / qwen2
// set_vocab: tokenizer.model (SentencePiece) when present, else tokenizer.json's byte-level
// BPE (_set_vocab_gpt2; Gemma 2 / 3 need tokenizer.model, Phi-3 too unless tokenizer_config.json
// says GPT2Tokenizer); then SpecialVocab's keys from tokenizer_config.json (optional),
// chat_template.jinja (optional) and config.json. *n_vocab: the token count written.
kite_status kite__hf_vocab(const kite_hf_files *files, const kite__jval *cfg, const kite__hf_model *m,
                           kite_gguf_writer *w, uint32_t *n_vocab);

// general.sampling.* from generation_config.json (optional), as gguf-py's Metadata.load takes
// them (top_k, top_p, min_p, temperature, repetition_penalty...; a file that does not parse is
// skipped, as there; a value of the wrong type is refused) (hf_general.c).
kite_status kite__hf_sampling_keys(const kite_hf_files *f, kite_gguf_writer *w);

// The parameter count gguf-py's GGUFWriter.get_total_parameter_count gives the tensors written:
// every element (total); expert tensors ("_exps." with 3 dimensions) split into one expert's
// share (expert, summed over tensors) and their expert count (expert_count: the mean over them,
// 0 for a dense model); shared = the rest.
typedef struct kite__hf_params {
    uint64_t total, shared, expert, expert_count;
} kite__hf_params;

// gguf-py's size_label: "135M", "1.5B" (two significant digits at least, Python's rounding), or
// for a MoE "<experts>x<shared + one expert's>" ("128x3.3B"); into out[0..n).
void kite__hf_size_label(const kite__hf_params *p, char *out, size_t n);

// README.md's YAML front matter (text[0..len); gguf-py's load_model_card: lines after a first
// "---" up to the next, tabs as two spaces) as an object of the top-level keys gguf-py's
// heuristics read (name, license, tags, language, base_model, datasets...). The YAML subset read:
// "key: value" entries whose value is a scalar (plain, '...' or "..." with \ \" \n \t escapes;
// null / ~ / nothing is null; other plain scalars are strings), a one-line [a, b] list, or a
// "- " list of scalars or of one-level "key: value" mappings. Any other form of a key it reads
// is logged as a warning (kite__log) and left out; other keys are not looked at. *out NULL when
// the file has no front matter. Errors: KITE_ERR_NOMEM only.
kite_status kite__hf_model_card(const uint8_t *text, uint64_t len, kite__jval **out);

// The identity keys of gguf-py's Metadata (general.name, author, version, organization,
// finetune, basename, description, size_label, license (+ .name, .link), source.*,
// base_model.*, dataset.*, tags, languages), found as Metadata.load and prepare_metadata do:
// README.md's model card first, then config.json's _name_or_path (a model id, not a path), then
// the folder's name dir_name (may be NULL), each filling what is still unset; name (may be NULL)
// overrides general.name (llama.cpp's --model-name); the size label from params when no name
// gave one. Empty strings and lists are not written (as gguf-py's writer). Errors: the files'
// reader's, KITE_ERR_NOMEM.
kite_status kite__hf_identity_keys(const kite_hf_files *f, const kite__jval *cfg, const char *dir_name, const char *name,
                                   const kite__hf_params *params, kite_gguf_writer *w);

// llama.cpp's rope_freqs for rope_type llama3: head_dim / 2 factors (llama.py's
// generate_extra_tensors formula; see hf_config.c for the arithmetic's precision).
void kite__hf_llama3_rope_factors(const kite__hf_model *m, float *out);

#endif
