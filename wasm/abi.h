// abi.h - the parameter blocks JS fills for each wasm call (one struct per call, never a long
// list of positional arguments). JS never hard-codes their layout: it reads the offsets, the
// status codes and the defaults from kw_abi_json() (exports_abi.c), generated from these
// definitions with offsetof, so the two sides cannot disagree.
//
// Field types as the table names them: i32 (int32_t), u32 (uint32_t), f32 (float), f64
// (double); a pointer or size_t is u32 in the wasm32 builds and u64 in the memory64 ones (the
// table's pointerSize says which). Fields marked "out" are written by the call.
#ifndef KITE_WASM_ABI_H
#define KITE_WASM_ABI_H

#include <stddef.h>
#include <stdint.h>

typedef struct kw_model kw_model;

// kw_model_load: a GGUF held in a kw_alloc block.
typedef struct kw_load_args {
    uint8_t *buf;       // the file; owned by the model on success, still the caller's on failure
    size_t len;         // its size in bytes
    int32_t n_ctx;      // KV cache length in tokens; 0: the model's default
    int32_t n_threads;  // pool threads (>= 1)
    int32_t vocab_only; // 1: metadata and vocabulary only, no context
    kw_model *model;    // out: the loaded model
    uint8_t **more;     // a split set's other files (n_more kw_alloc blocks, in order), or NULL;
    size_t *more_lens;  // their sizes; owned like buf
    int32_t n_more;
    int32_t offload_layers; // the layers (the last ones, and the head) a webgpu context will take:
                            // kept in the file's layout (kite_model_params.offload_layers)
} kw_load_args;

// kw_tokenize.
typedef struct kw_tokenize_args {
    const kw_model *model;
    const char *text;       // NUL-terminated UTF-8
    int32_t add_special;    // add BOS/EOS as the vocabulary says
    int32_t parse_special;  // special-token text becomes those tokens
    int32_t *ids;           // out: n_ids token ids (free with kw_free)
    int32_t n_ids;          // out
} kw_tokenize_args;

// kw_generate, or the same run in steps for an asynchronous backend (webgpu): kw_gen_start,
// then kw_gen_eval / (await the backend) / kw_gen_step until n_eval is 0, then kw_gen_finish.
// kw_gen_args_init fills every input with the core's defaults first
// (kite_gen_default_params: llama.cpp's sampling defaults), so JS only sets what it was given.
typedef struct kw_gen_args {
    kw_model *model;
    const char *prompt;         // NUL-terminated UTF-8
    const char *const *stops;   // n_stop NUL-terminated stop strings
    int32_t n_stop;
    int32_t n_predict;          // most tokens; < 0: until EOG or a full context
    float temp;
    int32_t top_k;
    float top_p;
    float min_p;
    float repeat_penalty;
    int32_t repeat_last_n;
    double seed;                // a double so every uint32 crosses from JS exactly
    int32_t no_bos;             // do not prepend BOS
    int32_t keep_context;       // continue from the KV cache (chat)
    int32_t parse_special;      // special-token text in the prompt becomes those tokens
    const char *grammar;        // GBNF the output must match (llama.cpp's syntax), or NULL
    const char *json_schema;    // a JSON schema (text) the output must match, or NULL
    int32_t reasoning_budget;   // chat replies: -1 unlimited, else as kite run --reasoning-budget N
                                // (the model's template must write <think> and </think>)
    const char *reasoning_message; // forced before </think> when the budget runs out, or NULL
    int32_t no_thinking;        // the prompt's reply opening had reasoning off (the budget sees it)
    double n_prompt;            // out: prompt tokens (evaluated or held by the cache)
    double n_generated;         // out: tokens sampled
    double prefill_s;           // out: seconds evaluating the prompt
    double decode_s;            // out: seconds in the decode loop
    int32_t stopped_eog;        // out: ended on an end-of-generation token
    int32_t stopped_string;     // out: ended on a stop string
    int32_t n_eval;             // out (kw_gen_eval): tokens submitted by the step; 0 when done
    const char *grammar_trigger; // the grammar is lazy: free text until this word (NULL: not lazy)
    int32_t tool_reply;         // the reply is split into text and tool calls (Module.kiteToolCall gets
                                // each call): kw_chat_request's tool_reply (0: no split), + 4: each
                                // call also goes to Module.kiteToolDelta in pieces as it is written
    int32_t reply_at;           // chat: the byte of prompt where the reply's own text begins
                                // (kw_chat_request's reply_at: what the reasoning budget has seen
                                // of the reply), or -1: the template's reply opening
    int32_t reuse_prefix;       // (without keep_context) keep the tokens the KV cache shares with
                                // the prompt, evaluate the rest (kite_gen_params.reuse_prefix)
    double n_cached;            // out: of n_prompt, tokens the cache held (not evaluated)
    int32_t sampling_given;     // KITE_SAMPLING_* bits (kw_abi_json's samplingBits) of the sampling
                                // fields the caller gave; the model's recommended values
                                // (general.sampling.*) replace the others' defaults
    float typical_p;            // kite_sampler_params' typical_p .. mirostat_eta
    float top_n_sigma;
    float xtc_probability;
    float xtc_threshold;
    int32_t mirostat;
    float mirostat_tau;
    float mirostat_eta;
    float dry_multiplier;       // kite_sampler_params' dry_* (DRY; multiplier 0: off)
    float dry_base;
    int32_t dry_allowed_length;
    int32_t dry_penalty_last_n;
    const char *const *dry_breakers; // n_dry_breakers strings (kite_gen_params'
    int32_t n_dry_breakers;          // dry_sequence_breakers); -1: llama.cpp's defaults
} kw_gen_args;

// kw_chat_request: an OpenAI chat request (JSON text: messages with tool_calls / tool results,
// tools, tool_choice, parallel_tool_calls) rendered with the model's template as kite serve does
// (openai/chat_request.c), with its tool-call grammar (openai/tool_calls.c).
typedef struct kw_chat_request_args {
    const kw_model *model;
    const char *request;  // NUL-terminated JSON text
    int32_t flags;        // kite_chat_apply_ex's KITE_CHAT_* flags
    char *prompt;         // out: the prompt (free with kw_free)
    char *grammar;        // out: the tool calls' GBNF (free with kw_free), or NULL
    int32_t lazy;         // out: the grammar waits for "<tool_call>" (kw_gen_args.grammar_trigger)
    int32_t tool_reply;   // out: 0 no tool calls, 1 <tool_call> blocks, 2 the generic JSON reply,
                          // 3 Qwen3.5's XML <tool_call> blocks
    int32_t reply_at;     // out: the byte of prompt where the reply's own text begins (after the
                          // assistant's opening, at its "<think>"; a continued message's text)
} kw_chat_request_args;

// kw_quantize: a GGUF held in a kw_alloc block, quantized to a llama-quantize type name; the
// new file streams to JS through Module.kiteSink. kw_quant_args_init fills the defaults.
typedef struct kw_quant_args {
    const uint8_t *buf;
    size_t len;
    const char *type;           // "Q4_K_M", "q8_0", "15", ...
    int32_t n_threads;
    int32_t allow_requantize;   // accept already-quantized inputs
    int32_t pure;               // one type for every quantizable tensor
    int32_t leave_output_tensor; // keep output.weight as it is
    const uint8_t *imatrix;     // an importance matrix file (llama-imatrix GGUF or legacy .dat), or NULL
    size_t imatrix_len;         // its size in bytes
    const char *imatrix_file;   // its name, recorded as quantize.imatrix.file (NULL: "")
    const char *const *include_weights; // use the imatrix only for tensors whose name contains one
    int32_t n_include;
    const char *const *exclude_weights; // never for tensors whose name contains one
    int32_t n_exclude;
    double n_tensors;           // out: tensors in the file
    double n_quantized;         // out: tensors whose type changed
    double n_fallback;          // out: tensors whose row length forced another type
    double bytes_in;            // out: tensor data bytes in
    double bytes_out;           // out: tensor data bytes out
    double n_elements;          // out: weights in the model
} kw_quant_args;

// kw_model_offload: a new context for a loaded model whose last n_gpu_layers repeating layers,
// and the output head once n_gpu_layers exceeds the layer count, run on an offload backend.
typedef struct kw_offload_args {
    kw_model *model;
    int32_t n_ctx;        // KV cache length in tokens; 0: the model's default
    int32_t n_gpu_layers; // as llama.cpp's -ngl
    const char *backend;  // the offload backend by name ("webgpu")
} kw_offload_args;

// kw_eval: tokens evaluated after what the context holds; the last token's logits. On an
// asynchronous backend (webgpu) the logits hold their values once its settle() resolves.
typedef struct kw_eval_args {
    kw_model *model;
    const int32_t *tokens;
    int32_t n;
    const float *logits; // out: n_vocab floats owned by the context
    int32_t n_vocab;     // out
} kw_eval_args;

// What the JS callbacks (Module.kiteSink, kiteProgress, kitePiece) return.
enum { KW_CB_CONTINUE = 0, KW_CB_STOP = 1 };

#endif
