// backend.h - the seam the forward pass runs on (internal to src/model). A backend is one
// compute device instance: it owns a set of activation buffers, the KV cache of the layers
// placed on it, and implements the ops of the forward pass over them. forward.c is written
// once against this table; each backend implements ops, not models. Weights are named by their
// kite_weight (its bytes on the host: the file's rows, or Q4_K / Q6_K rows repacked at load on
// x86 and wasm: w->layout KITE_LAYOUT_X8, which kite__x8_rows reads back); a backend that
// computes elsewhere keeps its own copy, made when it is created (create() below gets the layers
// it will run), and must read w->layout (the WebGPU backend turns its X8 matrices back into rows
// first).
//
// Placement (kite_ctx_params.n_gpu_layers, as llama.cpp's -ngl N): the token embedding always
// runs on the host CPU backend; the last N repeating layers run on the offload backend, and the
// output head too once N exceeds the layer count. At a boundary the residual stream (n_embd
// floats per token) is the only thing copied across, through host memory.
//
// Ops record work on the backend; a backend may run them at once (CPU) or queue them and run
// the queue at end() (a GPU command stream). Ops report no status: the first failure is kept
// and end() returns it, so a GPU backend can record a whole step without a round trip.
#ifndef KITE_MODEL_BACKEND_H
#define KITE_MODEL_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "base/kite_base.h"
#include "model/model_internal.h"

// Activation buffers every backend holds: f32, one row per token of the step.
typedef enum kite_act {
    KITE_ACT_X,   // (n_batch, n_embd) the residual stream
    KITE_ACT_XN,  // (n_batch, max(n_embd, q_dim)) a sublayer's normed input, then its output
    KITE_ACT_QKV, // (n_batch, q_dim + 2 kv_dim) fused q|k|v projections
    KITE_ACT_Q,   // (n_batch, q_dim)
    KITE_ACT_K,   // (n_batch, kv_dim)
    KITE_ACT_V,   // (n_batch, kv_dim)
    KITE_ACT_ATT, // (n_batch, q_dim) attention output
    KITE_ACT_FF,  // (n_batch, 2 n_ff) gate|up (fused) or up
    KITE_ACT_FF2, // (n_batch, n_ff) the FFN's hidden state
    KITE_ACT_OUT, // logits: the host rows given to bind_output (only on the output backend)
    KITE_ACT_COUNT
} kite_act;

// Rows of an activation: row t starts at element off + t * stride of buffer act.
typedef struct kite_view {
    kite_act act;
    int32_t off, stride;
} kite_view;

// Rotary embedding of one layer (llama.cpp's rope with freq_base, linear freq_scale, optional
// per-frequency divisors and a cos/sin multiplier). Positions are the step's (see begin()).
typedef struct kite_rope {
    int32_t n_rot;       // rotated dims per head (the first n_rot of head_dim)
    bool neox;           // pairs (i, i + n_rot/2) instead of (2i, 2i+1)
    float freq_base;     // theta base
    float freq_scale;    // 1 / linear scaling factor
    float attn_factor;   // multiplies cos and sin
    const float *factors; // (n_rot/2) divisors of the frequencies, or NULL
} kite_rope;

// Attention of one layer over its KV cache.
typedef struct kite_attn {
    int32_t n_head, n_head_kv, head_dim;
    float scale;    // multiplies q.k
    int32_t window; // sliding window: a query at position p sees keys at positions > p - window (0 = all)
    float softcap;  // scores become softcap * tanh(score / softcap) before the softmax (0 = off; gemma2)
} kite_attn;

// One step of the forward pass: n tokens (rows), token t at position pos[t] of sequence seq[t].
// Tokens of one sequence come in position order; a step may mix sequences (continuous batching).
typedef struct kite_step {
    int32_t n;
    const int32_t *pos; // (n)
    const int32_t *seq; // (n) in [0, n_seq)
} kite_step;
// A layer's routed experts (qwen3moe): the router, the 3-D expert tensors as the matrices of
// expert 0 plus the byte stride to the next expert's, and the routing rule (softmax over the
// n_expert router logits, top n_used, weights renormalised to sum 1; SwiGLU experts).
typedef struct kite_moe {
    const kite_weight *gate_inp; // (n_embd -> n_expert)
    const kite_weight *gate, *up, *down;
    uint64_t gate_stride, up_stride, down_stride;
    int32_t n_expert, n_used, n_ff; // n_ff: each expert's hidden width
} kite_moe;

// What a backend is created for.
typedef struct kite_backend_config {
    const kite_model *m;
    int32_t n_ctx;            // cache positions per sequence
    int32_t n_seq;            // sequences, each with its own n_ctx positions of cache
    int32_t n_batch, n_threads;
    bool flash_attn;          // follow llama.cpp's flash-attention rounding
    int32_t layer_first;      // the repeating layers it runs: [layer_first, layer_last)
    int32_t layer_last;
    bool embed;               // it runs the token embedding
    bool output;              // it runs the output head (final norm, output matmul, bias)
} kite_backend_config;

typedef struct kite_backend kite_backend;

// The table a backend fills. Every op works on the rows [0, n) of the current step.
struct kite_backend {
    const char *name;
    uint64_t kv_bytes; // bytes its KV cache (keys and values) takes, set at creation

    // Frees the backend and everything it holds.
    void (*free)(kite_backend *b);

    // Starts a step (st->n <= n_batch); st's arrays stay valid until end().
    void (*begin)(kite_backend *b, const kite_step *st);
    // Runs what is queued and returns the first failure of the step's ops (KITE_OK if none).
    kite_status (*end)(kite_backend *b);

    // Host <-> activation rows (the residual at a backend boundary): width floats per row,
    // host rows contiguous.
    void (*write)(kite_backend *b, kite_view dst, int32_t n, int32_t width, const float *host);
    void (*read)(kite_backend *b, kite_view src, int32_t n, int32_t width, float *host);
    // Makes KITE_ACT_OUT the host rows out[0 .. n_rows * width) for this step.
    void (*bind_output)(kite_backend *b, float *out, int32_t n_rows, int32_t width);

    // dst row t = row tokens[t] of the embedding table w (any block type), as f32.
    void (*embed)(kite_backend *b, const kite_weight *w, const int32_t *tokens, int32_t n, kite_view dst);
    // y rows = x rows times w's rows (x: n rows of w->n_in, y: n rows of w->n_out; both contiguous).
    void (*matmul)(kite_backend *b, const kite_weight *w, kite_view x, int32_t n, kite_view y);
    // dst row = src row / sqrt(mean(src row^2) + eps) * w (width elements, w on the host).
    void (*rmsnorm)(kite_backend *b, kite_view dst, kite_view src, const float *w, int32_t n, int32_t width,
                    float eps);
    // dst row += src row.
    void (*add)(kite_backend *b, kite_view dst, kite_view src, int32_t n, int32_t width);
    // dst row += bias (width elements on the host).
    void (*add_bias)(kite_backend *b, kite_view dst, const float *bias, int32_t n, int32_t width);
    // x row *= s.
    void (*scale)(kite_backend *b, kite_view x, int32_t n, int32_t width, float s);
    // dst row = silu(gate row) * up row (dst may be gate).
    void (*swiglu)(kite_backend *b, kite_view dst, kite_view gate, kite_view up, int32_t n, int32_t width);
    // dst row i = src row rows[i], for i < n.
    void (*gather)(kite_backend *b, kite_view dst, kite_view src, const int32_t *rows, int32_t n, int32_t width);
    // dst row = gelu(gate row) * up row, GELU as ggml's CPU backend tabulates it (dst may be gate).
    void (*geglu)(kite_backend *b, kite_view dst, kite_view gate, kite_view up, int32_t n, int32_t width);
    // x row = cap * tanh(x row / cap) (logit soft-capping).
    void (*softcap)(kite_backend *b, kite_view x, int32_t n, int32_t width, float cap);
    // RMSNorm of each of n_heads heads (head_dim apart) of every row in place, with the same
    // head_dim weights (on the host) for every head (qwen3 / gemma3 q and k norms).
    void (*rmsnorm_heads)(kite_backend *b, kite_view x, int32_t n, int32_t n_heads, int32_t head_dim, const float *w,
                          float eps);
    // out rows (n_embd) = the routed-expert FFN of x rows (n_embd, contiguous): for each token the
    // sum, in the router's order, of weight * down(silu(gate x) * up x) over its experts. The
    // tokens routed to one expert run as one batch through its matrices (as ggml's mul_mat_id).
    // out may be x.
    void (*moe)(kite_backend *b, const kite_moe *moe, kite_view x, kite_view out, int32_t n);
    // Rotates each of n_heads heads (head_dim apart) of every row by its token's position: row
    // i is the step's token rows[i] (rows NULL: token i), as in attention.
    void (*rope)(kite_backend *b, kite_view x, int32_t n, int32_t n_heads, int32_t head_dim, const int32_t *rows,
                 const kite_rope *r);
    // Stores k and v rows (n_head_kv * head_dim) into layer's cache at each token's sequence
    // and position.
    void (*kv_store)(kite_backend *b, int32_t layer, kite_view k, kite_view v, int32_t n);
    // Causal attention of q rows (n_head heads) over layer's cache of each token's sequence, up
    // to the token's own position (only the last a->window positions when set; scores
    // soft-capped when set); out rows get n_head * head_dim floats. q row i is the query of the
    // step's token rows[i] (its position and sequence; rows NULL: token i), so a step can attend
    // for some of its tokens only (the last layer's output rows) after storing every token's K
    // and V. On the CPU each query gets the bits it gets when every token attends (the rounding
    // mode follows the step's size, as in llama.cpp's graph, where every token attends).
    void (*attention)(kite_backend *b, int32_t layer, kite_view q, kite_view out, int32_t n, const int32_t *rows,
                      const kite_attn *a);

    // Optional fused ops (NULL: forward.c runs the ops each stands for). A backend that has one
    // computes what those ops compute in fewer passes over memory or dispatches: the CPU's
    // matmul_add, ffn_swiglu, ffn_geglu and matmul_cat give the separate ops' bits (the same
    // matrix rows and element-wise ops, in one pool run); a GPU's are within its matmul's
    // tolerance.
    // y rows += x rows times w's rows (a matmul into a scratch row, then add: the residual add
    // after the attention output and FFN down projections; x and y contiguous, distinct).
    void (*matmul_add)(kite_backend *b, const kite_weight *w, kite_view x, int32_t n, kite_view y);
    // dst rows (f wide) = silu(x rows times gate's rows) * (x rows times up's rows) (matmuls,
    // then swiglu), f = gate->n_out; up NULL: gate holds the gate rows then the up rows (f =
    // gate->n_out / 2; phi3's fused gate_up). x contiguous; dst rows f apart, not KITE_ACT_FF
    // (the backend may use that as scratch).
    void (*ffn_swiglu)(kite_backend *b, const kite_weight *gate, const kite_weight *up, kite_view x, int32_t n,
                       kite_view dst);
    // As ffn_swiglu with geglu for swiglu (gemma's FFN): dst rows (f = gate->n_out wide) =
    // gelu(x rows times gate's rows) * (x rows times up's rows), GELU as geglu's. up not NULL.
    void (*ffn_geglu)(kite_backend *b, const kite_weight *gate, const kite_weight *up, kite_view x, int32_t n,
                      kite_view dst);
    // y rows = x rows times the rows of ws[0], ..., ws[count - 1] one after another (y's
    // columns from y.off, the sum of their n_out; rows y.stride apart: a layer's q|k|v, or k|v
    // into its columns), as a matmul of each into its columns and then, where bias is not
    // NULL, add_bias of bias[i] (ws[i]->n_out floats on the host, or NULL: none) to the
    // columns of ws[i] (qwen2's q, k and v biases). count 1: a matmul and its bias.
    void (*matmul_cat)(kite_backend *b, const kite_weight *const *ws, const float *const *bias, int32_t count,
                       kite_view x, int32_t n, kite_view y);
    // q rows (n_head heads) and k rows (n_head_kv heads) rotated by r, as rope of k and then
    // rope of q with the same rows (row i the step's token rows[i]; NULL: token i); where
    // q_norm / k_norm is not NULL, each head of q / k is RMS-normed with those head_dim weights
    // (on the host) and eps first, as rmsnorm_heads (qwen3's and gemma3's q and k norms).
    // r->n_rot 0: the norms alone. n_head or n_head_kv may be 0: one tensor alone (its view
    // given for both).
    void (*rope_qk)(kite_backend *b, kite_view q, kite_view k, int32_t n, int32_t n_head, int32_t n_head_kv,
                    int32_t head_dim, const int32_t *rows, const kite_rope *r, const float *q_norm,
                    const float *k_norm, float eps);
    // dst rows += rmsnorm(src rows) (width elements, w on the host): rmsnorm into a scratch
    // row, then add (gemma's post-attention and post-FFN norms before the residual add). dst
    // and src distinct activations.
    void (*rmsnorm_add)(kite_backend *b, kite_view dst, kite_view src, const float *w, int32_t n, int32_t width,
                        float eps);

    // Optional (NULL: the backend cannot): from now on hands the input rows of every matmul it
    // runs (matmul and moe's router and experts) to fn before the product, as
    // kite_matmul_observer describes; fn = NULL stops it.
    void (*set_observer)(kite_backend *b, kite_matmul_observer fn, void *user);
};

// Creates a backend by name for cfg: "cpu" (today's kernels, its own thread pool of
// cfg->n_threads). Backends not built into this binary return KITE_ERR_UNSUPPORTED naming
// them; allocation failures KITE_ERR_NOMEM.
kite_status kite__backend_new(const char *name, const kite_backend_config *cfg, kite_backend **out);

// Whether the named backend can hand rows back to the host in the middle of a step (read()).
// One that cannot (WebGPU: results arrive after the step's end) also runs the output head
// whenever it runs any layer, so a step never has to come back from it before its end.
bool kite__backend_reads_mid_step(const char *name);

// The CPU backend (backend_cpu.c).
kite_status kite__backend_cpu_new(const kite_backend_config *cfg, kite_backend **out);

// The WebGPU backend (backend_webgpu.c; Emscripten builds with KITE_WEBGPU): ops recorded by
// web/webgpu/backend.js. It must run the output head; end() submits without waiting (the
// worker awaits the JS side's settle() before it reads the logits).
kite_status kite__backend_webgpu_new(const kite_backend_config *cfg, kite_backend **out);

#endif
