// kite_model.h - model loading (hparams + weight views from GGUF), the inference context
// (F16 KV cache, scratch), the forward pass, the generate loop and perplexity.
#ifndef KITE_MODEL_H
#define KITE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kite_base.h"
#include "base/kite_types.h"
#include "gguf/kite_gguf.h"
#include "grammar/kite_grammar.h"
#include "sampler/kite_sampler.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kite_model kite_model;
typedef struct kite_ctx kite_ctx;
typedef struct kite_vocab kite_vocab;

// Architecture families with a forward pass.
typedef enum kite_arch {
    KITE_ARCH_LLAMA = 0, // llama, mistral, smollm, tinyllama: separate q/k/v, gate/up
    KITE_ARCH_PHI3 = 1,  // fused qkv and gate_up, neox rope, optional LongRoPE factors
    KITE_ARCH_QWEN2 = 2, // llama-like with q/k/v biases, neox rope
    KITE_ARCH_QWEN3 = 3,    // llama-like, per-head q/k RMS norms before neox rope, no biases
    KITE_ARCH_QWEN3MOE = 4, // qwen3 attention, routed experts (softmax top-k) for the FFN
    KITE_ARCH_GEMMA2 = 5,   // scaled embeddings, pre/post norms, GeGLU, sliding window on even
                            // layers, attention and final logit soft-capping
    KITE_ARCH_GEMMA3 = 6,   // gemma2 with q/k norms, 5 of 6 layers sliding, per-layer rope bases,
                            // no attention soft-cap
    KITE_ARCH_SMOLLM3 = 7,  // llama-like, every 4th layer without rope
} kite_arch;

// The gated feed-forward's activation.
typedef enum kite_ffn_act {
    KITE_FFN_SILU = 0, // SwiGLU
    KITE_FFN_GELU = 1, // GeGLU with ggml's tanh-approximated GELU
} kite_ffn_act;

// Shapes and numeric constants read from the GGUF metadata ("<arch>.*" keys).
typedef struct kite_hparams {
    kite_arch arch;
    const char *arch_name;  // general.architecture: "llama", "phi3", "qwen2", "qwen3", ...
    int32_t n_vocab;        // rows of token_embd
    int32_t n_ctx_train;    // <arch>.context_length
    int32_t n_embd;         // model width
    int32_t n_layer;        // transformer blocks
    int32_t n_head;         // query heads
    int32_t n_head_kv;      // key/value heads (GQA when < n_head)
    int32_t head_dim;       // n_embd / n_head (or attention.key_length)
    int32_t n_ff;           // feed-forward width
    int32_t n_rot;          // rotated dims per head (rope.dimension_count)
    bool rope_neox;         // rotate (i, i + n_rot/2) pairs instead of (2i, 2i+1)
    float norm_eps;         // RMSNorm epsilon
    float rope_freq_base;   // theta base (10000 unless given)
    float rope_freq_scale;  // 1 / rope.scaling.factor (linear scaling), 1 if none
    float rope_attn_factor; // cos/sin multiplier (rope.scaling.attn_factor; LongRoPE)
    int32_t n_ctx_orig;     // rope.scaling.original_context_length (LongRoPE long/short switch)
    kite_ffn_act ffn_act;   // SwiGLU, or GeGLU (gemma)
    float embd_scale;       // token embeddings are multiplied by this (sqrt(n_embd) for gemma, else 1)
    float attn_scale;       // query scale before q.k: 1/sqrt(head_dim) unless the arch says otherwise
    float attn_softcap;     // scores become c * tanh(s / c) before the softmax; 0 = off (gemma2)
    float final_softcap;    // logits become c * tanh(l / c); 0 = off (gemma2, gemma3)
    int32_t n_swa;          // sliding window in tokens on the layers that slide (0 = none): a query
                            // at position p sees keys at positions > p - n_swa
    float rope_freq_base_swa;  // rope theta base of sliding-window layers
    float rope_freq_scale_swa; // rope frequency scale of sliding-window layers
    int32_t n_expert;       // routed experts (0 = a dense FFN)
    int32_t n_expert_used;  // experts per token (top-k of the router's softmax)
    int32_t n_ff_exp;       // each expert's feed-forward width
} kite_hparams;

// Options of kite_model_load. Zero-initialize (or pass NULL) for defaults.
typedef struct kite_model_params {
    bool vocab_only; // parse metadata and vocabulary only; no forward pass possible
    // Optional: when the load repacks weights for the host's decode kernels (KITE_REPACK; see
    // kite_model_load), called with each source range it no longer reads, so a host that mapped
    // the file read-only can drop those pages (madvise MADV_DONTNEED) and keep resident memory
    // at the file's size. The model never reads such a range again (the host may unmap it);
    // never called for a range another view still uses.
    void (*release)(void *user, const void *data, uint64_t len);
    void *release_user;
    bool no_repack; // keep every weight in the file's layout (as KITE_REPACK=0; llama.cpp's --no-repack)
    // The buffers are the host's writable memory, read by nothing but the model while it lives
    // (the wasm exports' file blocks, the WASI CLI's heap copy): the load repacks weights in
    // place (no second buffer, no release calls), so the buffers' tensor bytes change.
    bool in_place;
    // The layers a context's offload backend that reads the file's row layout (webgpu) will take,
    // counted as kite_ctx_params.n_gpu_layers counts them (the last n repeating layers): the load
    // leaves their matrices, and the output head when n > 0, in the file's layout, so that backend
    // uploads them as they lie (it refuses repacked ones). 0: every matrix as the host's kernels
    // prefer. The host's kernels read either layout (a fallback to the CPU decodes these as rows).
    int32_t offload_layers;
    // Repack behind the first tokens (native builds; ignored with in_place or offload_layers > 0,
    // and where the build has no threads): the load returns with every matrix in the file's
    // layout and a background thread (not one of a context's) writes the X8 copies one matrix at a
    // time, each published for the matmuls that start after it; the forward passes read the
    // file's rows until then, with the same bits (every layout gives the same results). The
    // release callback is then called from that thread, for a matrix's source once no forward
    // step that began before its copy was published still runs. KITE_REPACK_BEHIND=0 in the
    // environment turns it off (the load repacks before it returns, as without the flag).
    bool repack_behind;
} kite_model_params;

// Parses the GGUF file in buf[0..len), checks the architecture, shapes and every tensor the
// forward pass needs, and loads the vocabulary. The weights stay in buf (no copy), which must
// outlive the model. Exception: where the kernels decode a type faster from another layout
// (x86: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_0, IQ4_XS and the 32-element types' matrices, wasm: those and the other X8 types of kite_kernels.h,
// 8 rows interleaved; kite_matmul_prefers_x8), those matrices are copied into that layout in memory the model owns
// (p->in_place: rewritten in buf);
// KITE_REPACK=0 in the environment keeps every weight in buf, KITE_REPACK=1 repacks (the
// default: see model_repack.c). An unknown architecture returns KITE_ERR_UNSUPPORTED naming it;
// a missing or misshapen tensor returns KITE_ERR_INVALID naming it. On success *out must be
// freed with kite_model_free.
kite_status kite_model_load(const uint8_t *buf, uint64_t len, const kite_model_params *p, kite_model **out);

// As kite_model_load for a model split into n files (llama-gguf-split's
// NAME-00001-of-0000N.gguf ...), bufs[i][0..lens[i]) in order: the first holds the metadata,
// each its split.no, and the tensors of all of them make the model. A split.count other than n,
// a file out of order or a tensor in two files is KITE_ERR_INVALID, named. kite_model_load on
// the first file of a set alone says so.
kite_status kite_model_load_split(const uint8_t *const *bufs, const uint64_t *lens, int32_t n,
                                  const kite_model_params *p, kite_model **out);

// Frees the model (not the buffer). NULL is allowed.
void kite_model_free(kite_model *m);

// Views owned by the model (valid until kite_model_free).
const kite_gguf *kite_model_gguf(const kite_model *m);
const kite_vocab *kite_model_vocab(const kite_model *m);
const kite_hparams *kite_model_hparams(const kite_model *m);

// ---- the file's recommended sampling (general.sampling.*) ----------------------------------

// The sampling settings a GGUF file may recommend (llama.cpp's converters write them from
// generation_config.json), one bit each in the masks of kite_sampling_from_file.
enum {
    KITE_SAMPLING_TEMP = 1u << 0,           // general.sampling.temp (f32)        -> temp
    KITE_SAMPLING_TOP_K = 1u << 1,          // general.sampling.top_k (int)       -> top_k
    KITE_SAMPLING_TOP_P = 1u << 2,          // general.sampling.top_p (f32)       -> top_p
    KITE_SAMPLING_MIN_P = 1u << 3,          // general.sampling.min_p (f32)       -> min_p
    KITE_SAMPLING_REPEAT_PENALTY = 1u << 4, // general.sampling.penalty_repeat    -> repeat_penalty
    KITE_SAMPLING_PENALTY_LAST_N = 1u << 5, // general.sampling.penalty_last_n    -> penalty_last_n
    KITE_SAMPLING_XTC_PROBABILITY = 1u << 6, // general.sampling.xtc_probability (f32) -> xtc_probability
    KITE_SAMPLING_XTC_THRESHOLD = 1u << 7,  // general.sampling.xtc_threshold (f32) -> xtc_threshold
    KITE_SAMPLING_MIROSTAT = 1u << 8,       // general.sampling.mirostat (int)    -> mirostat
    KITE_SAMPLING_MIROSTAT_TAU = 1u << 9,   // general.sampling.mirostat_tau (f32) -> mirostat_tau
    KITE_SAMPLING_MIROSTAT_ETA = 1u << 10,  // general.sampling.mirostat_eta (f32) -> mirostat_eta
    KITE_SAMPLING_ALL = (1u << 11) - 1,
};

// Makes the file's recommended sampling the defaults, as llama.cpp's tools do
// (common_init_sampler_from_model): each setting of *p whose bit is not in given (the settings
// the user gave, which always win) and whose key g holds becomes the file's value. Returns the
// bits of the settings it set. A key of the wrong type (the floats must be f32/f64, top_k and
// penalty_last_n an integer type) or with a value out of the range the CLI's flag takes (a
// non-finite float; kite_sampler.h's KITE_SAMPLER_* ranges: temp 0..100, top_k 0..16777216, top_p
// and min_p 0..1, penalty_repeat 0.0001..100, penalty_last_n 0..KITE_SAMPLER_MAX_PENALTY_LAST_N,
// xtc_probability and xtc_threshold 0..1, mirostat 0..2, mirostat_tau 0..100, mirostat_eta 0..1)
// leaves its setting alone and is
// named, with its value, in warn[0..warn_len) ("" when every key was good; warn may be NULL).
// (llama.cpp takes a file's negative penalty_last_n, which its sampler turns into 0, penalties
// off; Kite warns and keeps its window, as for any value its --repeat-last-n refuses.)
// These are the keys llama.cpp reads; general.sampling.sequence (a sampler order) is not read.
uint32_t kite_sampling_from_file(const kite_gguf *g, uint32_t given, kite_sampler_params *p, char *warn,
                                 size_t warn_len);

// The tokenizer a grammar's <...> token literals resolve with: v's tokens, special tokens
// recognized, no BOS/EOS. v must outlive the parse.
kite_grammar_tokenizer kite_vocab_grammar_tokenizer(const kite_vocab *v);

// kite_grammar_parse_tokens with the model's vocabulary (so <think>, <|im_end|>, <[id]> resolve
// to its tokens), as a generation with a grammar parses it.
kite_status kite_model_grammar_parse(const kite_model *m, const char *text, const char *root, kite_grammar **out);

// Bytes of weights read for one token's forward pass (every matrix once, plus one embedding
// row): the numerator of the GB/s figure of a decode benchmark.
uint64_t kite_model_weight_bytes(const kite_model *m);

// Bytes of weights the load moved into a layout of the model's own (the X8 repack of Q4_K and
// Q6_K on x86 and wasm; see kite_model_load): 0 when every weight stays in the file's layout.
// While a repack behind runs, the bytes published so far.
uint64_t kite_model_repacked_bytes(const kite_model *m);

// Waits until the repack behind the first tokens (kite_model_params.repack_behind), if one runs,
// has published every X8 copy and released their sources (a benchmark of the decode measures
// after it). KITE_OK, or the repack's failure with its message: the matrices it could not
// repack keep the file's layout, which every kernel reads, so the model still works. Not
// thread-safe against itself or kite_model_free.
kite_status kite_model_repack_wait(kite_model *m);

// ---- context ------------------------------------------------------------------------

// Attention rounding: llama.cpp's flash-attention path or its plain one (they round
// differently, and greedy tokens can differ between them where logits nearly tie).
typedef enum kite_flash_attn {
    KITE_FA_AUTO = 0, // as llama.cpp's default on CPU: on
    KITE_FA_ON = 1,
    KITE_FA_OFF = 2,
} kite_flash_attn;

typedef struct kite_ctx_params {
    int32_t n_ctx;              // KV cache length in tokens (all sequences together: each of n_seq
                                // gets n_ctx / n_seq); 0 = min(n_ctx_train, 4096)
    int32_t n_seq;              // independent sequences (server slots) decoded in one batch; 0 = 1
    int32_t n_threads;          // worker threads; 0 = 1
    int32_t n_batch;            // most tokens per forward pass (prefill splits longer inputs); 0 = 512
    kite_flash_attn flash_attn; // attention numerics to follow (see above)
    int32_t n_gpu_layers;       // as llama.cpp's -ngl: the last n repeating layers, and the output
                                // head too when n > n_layer, run on the offload backend; 0 = none
    const char *gpu_backend;    // the offload backend by name; NULL = the best one built in (when
                                // none is, the layers stay on the CPU and a log line says so).
                                // "cpu" is a second CPU instance with its own thread pool
} kite_ctx_params;

// A context with defaults for all fields (zeros).
kite_ctx_params kite_ctx_default_params(void);

// Creates an inference context on a loaded model: its layers placed on backends (see
// n_gpu_layers), each with its F16 KV cache, scratch buffers and thread pool. The model must
// outlive it. Bad parameters return KITE_ERR_INVALID; an offload backend that is not built in
// KITE_ERR_UNSUPPORTED naming it.
kite_status kite_ctx_new(kite_model *m, const kite_ctx_params *p, kite_ctx **out);

// Frees a context. NULL is allowed.
void kite_ctx_free(kite_ctx *c);

// The name of the backend that runs repeating layer il (0 <= il < n_layer), or the output head
// (il == n_layer): "cpu", or an offload backend's name. NULL when il is out of range.
const char *kite_ctx_layer_backend(const kite_ctx *c, int32_t il);

// Runs the forward pass on n tokens appended to sequence 0 (batched prefill in pieces of
// n_batch; a context of one sequence only) and sets *logits to the last token's logits (n_vocab floats, owned by
// the context, valid until the next call). Errors: a token out of range, or the context
// would overflow n_ctx (KITE_ERR_INVALID; the position is then unchanged).
kite_status kite_ctx_eval(kite_ctx *c, const int32_t *tokens, int32_t n, const float **logits);

// As kite_ctx_eval, but writes the logits of every one of the n tokens to all_logits
// (n * n_vocab floats, row i for tokens[i]). Used by perplexity.
kite_status kite_ctx_eval_all(kite_ctx *c, const int32_t *tokens, int32_t n, float *all_logits);

// Tokens of several sequences in one forward pass (continuous batching): token i is appended to
// sequence seq[i] at that sequence's next position; one sequence's tokens come in order.
typedef struct kite_batch {
    const int32_t *tokens; // (n) token ids
    const int32_t *seq;    // (n) sequences in [0, n_seq); NULL = all sequence 0
    const bool *want;      // (n) true where the token's logits are wanted; NULL = none
    int32_t n;
} kite_batch;

// Runs the batch (in pieces of n_batch) and writes the logits of the wanted tokens, in batch
// order, to logits (n_wanted * n_vocab floats). Each token's logits are the same bits as when
// its sequence runs alone with the same step sizes (the kernels' order does not depend on the
// batch). Errors (nothing is appended then): a token or sequence out of range, a sequence
// whose cache would overflow (KITE_ERR_INVALID).
kite_status kite_ctx_decode(kite_ctx *c, const kite_batch *b, float *logits);

// Forgets sequence seq's cache (its next token is at position 0). KITE_ERR_INVALID if out of range.
kite_status kite_ctx_seq_reset(kite_ctx *c, int32_t seq);

// Tokens in sequence seq's cache; -1 if seq is out of range.
int32_t kite_ctx_seq_pos(const kite_ctx *c, int32_t seq);

// The token ids in sequence seq's cache, in position order (*n of them; valid until the context
// next changes). kite_ctx_decode records them; a reset or truncation forgets the tail. NULL with
// *n = 0 if seq is out of range.
const int32_t *kite_ctx_seq_tokens(const kite_ctx *c, int32_t seq, int32_t *n);

// Keeps the first n tokens of sequence seq's cache and forgets the rest: its next token goes to
// position n (the cache is indexed by position, so nothing is recomputed; a prompt that shares
// a prefix with what the sequence holds evaluates only the rest, as llama-server's
// cache_prompt). n == 0 is kite_ctx_seq_reset. Errors (nothing changes): seq out of range, n < 0
// or more than the sequence holds (KITE_ERR_INVALID); a model with sliding-window layers whose
// CPU cache is a ring (kite_ctx_kv_bytes) that has since moved past the window before position
// n, which happens when more than n_batch tokens are cut (KITE_ERR_UNSUPPORTED: reset and
// evaluate again).
kite_status kite_ctx_seq_truncate(kite_ctx *c, int32_t seq, int32_t n);

// How many leading tokens of tokens[0..n) sequence seq's cache holds (the same ids at positions
// 0, 1, ...) and can keep: the longest common prefix, or 0 when kite_ctx_seq_truncate could not
// cut the sequence back to it (a sliding-window ring, see there). 0 if seq is out of range.
// The caller keeps at most n - 1 of them when it needs the last token's logits.
int32_t kite_ctx_seq_common_prefix(const kite_ctx *c, int32_t seq, const int32_t *tokens, int32_t n);

// Forgets every sequence's cache: the next eval starts at position 0.
void kite_ctx_reset(kite_ctx *c);

// Tokens held in sequence 0's cache (the position the next token gets).
int32_t kite_ctx_pos(const kite_ctx *c);

// Cache positions of one sequence (n_ctx / n_seq).
int32_t kite_ctx_n_ctx(const kite_ctx *c);

// Sequences of the context.
int32_t kite_ctx_n_seq(const kite_ctx *c);

// Bytes the context's KV cache takes on all its backends (sliding-window layers keep only
// their window: n_swa + n_batch - 1 positions plus n_swa - 1 repeated, when that is shorter).
uint64_t kite_ctx_kv_bytes(const kite_ctx *c);

// The model a context runs.
kite_model *kite_ctx_model(const kite_ctx *c);

// ---- matmul observer (importance matrices) --------------------------------------------

// Receives the input of one matrix product just before it runs: n rows of n_in floats
// (contiguous, valid only during the call) multiplied by the weight tensor named `weight` (its
// name in the file: "blk.0.attn_q.weight", "output.weight", or "token_embd.weight" for a tied
// output head). For a 3-D expert tensor ("blk.0.ffn_up_exps.weight") the rows are those routed to
// expert `expert` of n_expert, one row per (token, expert slot); else expert = -1, n_expert = 1.
// Every matmul of the forward pass is reported (the token embedding is a lookup, not one), in
// the order it runs, on the thread that called eval/decode.
typedef void (*kite_matmul_observer)(void *user, const char *weight, int32_t expert, int32_t n_expert,
                                     const float *x, int32_t n, int32_t n_in);

// Sets (fn non-NULL) or clears ctx's matmul observer. Only backends that compute in host memory
// can report inputs: KITE_ERR_UNSUPPORTED, naming the backend, when a layer or the output head
// of c runs on one that cannot (nothing is set then).
kite_status kite_ctx_set_matmul_observer(kite_ctx *c, kite_matmul_observer fn, void *user);

// ---- generation ---------------------------------------------------------------------

typedef struct kite_gen_stats {
    int32_t n_prompt;      // prompt tokens (those evaluated plus those reused from the cache)
    int32_t n_cached;      // of n_prompt, tokens already in the cache (reuse_prefix), not evaluated
    int32_t n_generated;   // tokens sampled
    double prefill_s;      // seconds spent evaluating the prompt
    double decode_s;       // seconds spent in the decode loop
    bool stopped_eog;      // stopped on an end-of-generation token
    bool stopped_string;   // stopped on a stop string
} kite_gen_stats;

typedef struct kite_gen_params {
    int32_t n_predict;            // most tokens to generate; < 0 = until EOG or the context is full
    kite_sampler_params sampling; // temp <= 0 is greedy (argmax; see kite_sampler_params)
    const char *const *stop;      // n_stop stop strings (output ends before the match)
    int32_t n_stop;
    bool no_bos;                  // never prepend BOS, even if the vocabulary asks for it
    bool parse_special;           // tokenize special-token text in the prompt (chat templates)
    bool keep_context;            // append to the KV cache instead of resetting it first (chat);
                                  // a reply cut at n_predict then has its last token evaluated too
    bool reuse_prefix;            // (without keep_context) the prompt is tokenized as for a fresh
                                  // run, but the leading tokens the cache already holds (at most all
                                  // but the last) are kept instead of evaluated again (llama-server's
                                  // cache_prompt): stats->n_cached says how many; the rest of the
                                  // cache is forgotten. The same tokens as a fresh run's, the logits
                                  // those of a run that evaluated the prompt in the same pieces.
    void (*on_token)(void *user, int32_t id); // optional: each sampled id, before its text
    kite_gen_stats *stats;        // optional output
    const char *grammar;          // optional GBNF text (start rule "root"): only text it accepts
                                  // is generated (kite_json_schema_to_grammar makes one from a
                                  // JSON schema); a bad grammar fails the start with its error
    const char *const *grammar_triggers; // optional, with grammar: n_grammar_triggers words that
    int32_t n_grammar_triggers;          // make it lazy (kite_grammar_state_set_triggers): the
                                         // output is free until one of them is generated, and a
                                         // sentence of the grammar from that word on
    // Optional reasoning budget, as llama.cpp's --reasoning-budget N >= 0: once the reply opens
    // a reasoning block (the tokens of reasoning_start), at most reasoning_budget tokens follow
    // before the tokens of reasoning_message (may be NULL) and reasoning_end are forced one by
    // one (a token that leaves a UTF-8 character unfinished is let through first); the block's
    // own end stops the count, a new start re-arms it. reasoning_prefill (may be NULL) is the
    // text the prompt already put in the reply (the assistant's opening), seen first. Tags are
    // tokenized with special tokens parsed. Either tag NULL: no budget (a zeroed struct has none).
    // A budget of -1: no limit, the blocks are only followed. With a lazy grammar, as llama.cpp's
    // common sampler does, the grammar neither constrains nor reads the tokens of a reasoning
    // block: a trigger word written while reasoning does not start it.
    const char *reasoning_start, *reasoning_end, *reasoning_message, *reasoning_prefill;
    int32_t reasoning_budget;
    // DRY's sequence breakers as text (sampling.dry_breakers is ignored: the start makes them
    // from these over the model's vocabulary, as llama.cpp does, when DRY is on): NULL gives
    // llama.cpp's defaults "\n", ":", "\"", "*"; otherwise the n_dry_sequence_breakers strings
    // (0: none, llama.cpp's --dry-sequence-breaker none).
    const char *const *dry_sequence_breakers;
    int32_t n_dry_sequence_breakers;
} kite_gen_params;

// n_predict -1, llama.cpp's sampling defaults (kite_sampler_default_params), no stop strings.
kite_gen_params kite_gen_default_params(void);

// Tokenizes prompt (with BOS when the vocabulary says so), evaluates it, then samples tokens
// and streams their text to on_piece until an end-of-generation token, a stop string,
// n_predict tokens or a full context. on_piece returning false stops with KITE_ERR_ABORTED.
// Text that could be the start of a stop string is held back until it is decided.
kite_status kite_generate(kite_ctx *c, const char *prompt, const kite_gen_params *p,
                          bool (*on_piece)(void *user, const char *piece, size_t len), void *user);

// ---- generation in steps (one sequence; a server batches several) --------------------
// kite_generate is a driver over this: start, then repeatedly evaluate the tokens that
// kite_gen_seq_next names (in its sequence of the context, with any other sequences' tokens in
// the same kite_ctx_decode batch) and hand back the last one's logits with kite_gen_seq_step.

typedef struct kite_gen_seq kite_gen_seq;

// A sampled token as on_token sees it.
typedef struct kite_gen_token {
    int32_t id;          // the token (never an end-of-generation token)
    size_t offset;       // bytes of text generated before this token's (before stop-string cuts)
    const float *logits; // the n_vocab logits it was sampled from (valid during the callback)
    int32_t n_vocab;
} kite_gen_token;

typedef struct kite_gen_seq_params {
    kite_gen_params gen; // n_predict, sampling, stop, no_bos, parse_special, on_token (called with
                         // user); keep_context: a reply cut at n_predict has its last token
                         // evaluated too; stats is not used (see kite_gen_seq_stats)
    // Optional: after each sampled token, before its text; returning false stops (KITE_ERR_ABORTED).
    bool (*on_token)(void *user, const kite_gen_token *t);
    // Optional: text that is final (held back while it could begin a stop string); returning
    // false stops (KITE_ERR_ABORTED).
    bool (*on_piece)(void *user, const char *piece, size_t len);
    void *user;
} kite_gen_seq_params;

// Tokenizes prompt (with BOS when the vocabulary asks for it, unless gen.no_bos, and only when
// pos == 0) for a sequence holding pos tokens of a cache of n_ctx positions, and sets up its
// sampler (the prompt's tokens feed its repetition penalties). p is copied; the stop strings and
// user must outlive the sequence. Errors: NULL prompt, a bad stop list, no tokens, a prompt that
// does not fit (KITE_ERR_INVALID, nothing allocated). On success free *out with kite_gen_seq_free.
kite_status kite_gen_seq_start(const kite_model *m, const char *prompt, int32_t pos, int32_t n_ctx,
                               const kite_gen_seq_params *p, kite_gen_seq **out);

// kite_gen_seq_start for a prompt already tokenized: tokens[0..n_tokens) (copied; BOS included
// when wanted; gen.no_bos and gen.parse_special do not apply). Errors as kite_gen_seq_start's,
// and a token outside the vocabulary (KITE_ERR_INVALID).
kite_status kite_gen_seq_start_tokens(const kite_model *m, const int32_t *tokens, int32_t n_tokens, int32_t pos,
                                      int32_t n_ctx, const kite_gen_seq_params *p, kite_gen_seq **out);

// kite_gen_seq_start for c's sequence 0, its cache prepared as kite_generate does: reset first,
// or appended to (p->gen.keep_context), or cut back to the prefix it shares with the prompt
// (p->gen.reuse_prefix: kite_gen_seq_use_cache). The errors of those two; *out is NULL then.
kite_status kite_gen_seq_start_ctx(kite_ctx *c, const char *prompt, const kite_gen_seq_params *p, kite_gen_seq **out);

// The tokens to evaluate next, in order (*tokens points into the sequence, valid until the next
// step): first the prompt's tokens not yet evaluated, then each sampled token. 0 when done.
int32_t kite_gen_seq_next(const kite_gen_seq *g, const int32_t **tokens);

// Says that the first n_done (1 .. kite_gen_seq_next's count) of those tokens were appended to
// the sequence's cache. When they were all of them, logits must be the last one's (n_vocab
// floats) and the sequence samples a token, streams text and checks its stops (end of
// generation, a stop string, n_predict, a full cache); otherwise logits is not read (a prompt
// evaluated in pieces). Returns KITE_OK while going on and when finished normally; an error
// (KITE_ERR_ABORTED when a callback returned false, KITE_ERR_NOMEM, KITE_ERR_INVALID for a bad
// n_done) ends the sequence. When it ends normally the held-back text is released.
kite_status kite_gen_seq_step(kite_gen_seq *g, int32_t n_done, const float *logits);

// True once the sequence ended (normally or with an error).
bool kite_gen_seq_done(const kite_gen_seq *g);

// Counts and timings so far: prefill_s runs from start to the prompt's logits, decode_s from
// there to the end.
kite_gen_stats kite_gen_seq_stats(const kite_gen_seq *g);

// The prompt's token ids (*tokens points into the sequence, valid while it lives); their count.
int32_t kite_gen_seq_prompt(const kite_gen_seq *g, const int32_t **tokens);

// Reuses what sequence seq of c already holds, for a generation started at pos 0 (tokenized as a
// fresh run) before its first step: keeps the common prefix of its prompt with that sequence's
// cache (kite_ctx_seq_common_prefix, at most all but the last prompt token, whose logits are
// needed), cuts the sequence back to it (kite_ctx_seq_truncate: the rest of the cache is
// forgotten; all of it when nothing is shared), and starts the prompt's evaluation after it.
// kite_gen_seq_stats's n_cached then says how many; *n_cached (may be NULL) gets it too.
// Errors (nothing changes): a sequence started at pos > 0 or already stepped, seq out of range
// (KITE_ERR_INVALID), a context with another n_ctx per sequence than the one started for.
kite_status kite_gen_seq_use_cache(kite_gen_seq *g, kite_ctx *c, int32_t seq, int32_t *n_cached);

// Frees the sequence (not the context's cache: the caller resets that). NULL is allowed.
void kite_gen_seq_free(kite_gen_seq *g);

// ---- embeddings ---------------------------------------------------------------------

// How token states are pooled into one embedding (llama.cpp's pooling_type numbers).
typedef enum kite_pooling {
    KITE_POOLING_MEAN = 1, // mean over the tokens
    KITE_POOLING_CLS = 2,  // the first token's state
    KITE_POOLING_LAST = 3, // the last token's state
} kite_pooling;

// The pooling the model's GGUF asks for (<arch>.pooling_type), mean when it names none.
kite_pooling kite_model_pooling(const kite_model *m);

// The embedding of tokens[0..n): the final-normed hidden states (n_embd floats each, before the
// output head) pooled as asked, written to out (n_embd floats; not normalized). Runs in sequence 0
// from an empty cache and leaves it empty. Errors: bad pooling, no tokens, more than n_ctx.
kite_status kite_ctx_embed(kite_ctx *c, const int32_t *tokens, int32_t n, kite_pooling pooling, float *out);

// kite_ctx_embed in sequence seq (emptied first and left empty; the others are not touched), so
// a server can embed in a free slot's sequence. KITE_ERR_INVALID if seq is out of range.
kite_status kite_ctx_embed_seq(kite_ctx *c, int32_t seq, const int32_t *tokens, int32_t n, kite_pooling pooling,
                               float *out);

// ---- perplexity ---------------------------------------------------------------------

typedef struct kite_ppl_result {
    double ppl;       // exp(mean negative log-likelihood)
    double nll;       // mean negative log-likelihood
    double ppl_err;   // llama.cpp's +/- figure: ppl * stddev(nll) / sqrt(n_scored - 1)
    int32_t n_chunks; // chunks evaluated
    int64_t n_scored; // tokens scored
} kite_ppl_result;

// Perplexity as llama-perplexity computes it: the tokens are cut into chunks of n_chunk
// (= the context's n_ctx), each evaluated from an empty cache with its first token replaced by
// BOS when the vocabulary adds one; the second half of each chunk is scored (each token by the
// logits of the one before). Needs at least 2 chunks and n_ctx >= KITE_PPL_MIN_CTX (a smaller
// chunk has no token to score): KITE_ERR_INVALID otherwise. progress (optional) gets the chunk
// done and the running perplexity; returning false aborts.
#define KITE_PPL_MIN_CTX 3
kite_status kite_perplexity(kite_ctx *c, const int32_t *tokens, int64_t n_tokens,
                            bool (*progress)(void *user, int32_t chunk, int32_t n_chunks, double ppl),
                            void *user, kite_ppl_result *out);

// The logits of each chunk's scored half, for KL divergence: after chunk `chunk` (0-based) was
// evaluated, tokens holds its n_ctx tokens as they are in the input (before the BOS
// substitution) and logits the n_ctx - 1 - first rows (n_vocab floats each) of positions first
// .. n_ctx - 2, row j scoring tokens[first + j + 1]. Returning false aborts.
typedef bool (*kite_ppl_chunk_fn)(void *user, int32_t chunk, const int32_t *tokens, int32_t n_ctx, int32_t first,
                                  const float *logits);

// kite_perplexity with a chunk callback (may be NULL) and at most max_chunks chunks (0: all);
// max_chunks 1 needs one chunk of tokens only (a KL-divergence base file of one chunk).
kite_status kite_perplexity_ex(kite_ctx *c, const int32_t *tokens, int64_t n_tokens, int32_t max_chunks,
                               bool (*progress)(void *user, int32_t chunk, int32_t n_chunks, double ppl),
                               kite_ppl_chunk_fn on_chunk, void *user, kite_ppl_result *out);

// ---- KL divergence (llama-perplexity's --kl-divergence) ------------------------------

// Length in uint16 of one compressed row of log-probabilities: two floats (scale, the floor's
// log-probability) then one 16-bit level per token, padded to an even count.
int32_t kite_kld_row_len(int32_t n_vocab);

// Writes logits' log-softmax to row (kite_kld_row_len(n_vocab) uint16) in llama-perplexity's
// compressed form: levels over [max - 16, max] (lower ones clamp to the floor), and returns
// -log p(tok).
double kite_kld_encode_row(const float *logits, int32_t n_vocab, int32_t tok, uint16_t *row);

// Running sums of a KL-divergence run (zero-initialize).
typedef struct kite_kld_stats {
    double sum_nll, sum_nll2, sum_nll_base, sum_nll_base2, sum_nll_nll_base;
    double sum_kld, sum_kld2, sum_p_diff, sum_p_diff2, sum_p_diff4;
    float max_p_diff;
    int64_t n_same_top, count;
} kite_kld_stats;

// Adds one scored position: the model's logits against the base's compressed row, tok the token
// that came. Optionally returns that position's KL divergence and change in p(tok).
void kite_kld_add_row(kite_kld_stats *st, const float *logits, int32_t n_vocab, const uint16_t *base_row, int32_t tok,
                      float *kld, float *p_diff);

// Percentiles reported: 100, 99.9, 99, 95, 90, 50 (median), 10, 5, 1, 0.1, 0.
#define KITE_KLD_N_PCT 11

// The summary llama-perplexity prints (values as fractions, not percent).
typedef struct kite_kld_report {
    int64_t count;
    double ppl, ppl_err, ppl_base, ppl_base_err, ppl_cor;
    double ln_ppl_ratio, ln_ppl_ratio_err, ppl_ratio;
    double kld_mean, kld_err;
    double p_diff_mean, p_diff_err, p_diff_rms, p_diff_rms_err;
    double same_top, same_top_err;
    float kld_pct[KITE_KLD_N_PCT], p_diff_pct[KITE_KLD_N_PCT];
} kite_kld_report;

// Fills r from st; with the per-position values (st->count of each; sorted in place) also the
// percentiles. The arrays may be NULL.
void kite_kld_report_make(const kite_kld_stats *st, float *kld_values, float *p_diff_values, kite_kld_report *r);

#ifdef __cplusplus
}
#endif
#endif
