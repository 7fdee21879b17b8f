// model_internal.h - the model's weight views and the context's state, shared by the files of
// src/model (load, context, forward, generate); not part of the public API.
#ifndef KITE_MODEL_INTERNAL_H
#define KITE_MODEL_INTERNAL_H

#include <stdatomic.h>

#include "base/internal.h"
#include "grammar/kite_grammar.h"
#include "kernels/kite_kernels.h"
#include "model/kite_model.h"
#include "model/ops.h"

// Longest tensor name a weight keeps, NUL included (ggml's GGML_MAX_NAME).
#define KITE_WEIGHT_NAME_MAX 64

// A weight matrix: n_out rows of n_in elements of `type`, as it lies in the file (layout ROWS) or
// repacked by kite__model_repack into memory the model owns (layout X8). A repack behind the
// first tokens (kite_model_params.repack_behind) leaves data / layout as the file's and publishes
// the X8 copy in x8 when it is done (read both with kite__weight_bytes).
typedef struct kite_weight {
    const void *data;
    kite_type type;
    kite_weight_layout layout;
    _Atomic(const void *) x8; // the X8 copy of a repack behind, once published; else NULL
    int32_t n_in;  // row length (ne[0])
    int32_t n_out; // row count (ne[1])
    char name[KITE_WEIGHT_NAME_MAX]; // the file's tensor name ("blk.0.attn_q.weight"), for observers
} kite_weight;

// One transformer block. Fused arches (phi3) fill wqkv / w_gate_up instead of the split ones.
typedef struct kite_layer {
    const float *attn_norm;  // (n_embd)
    kite_weight wq;          // (n_embd -> n_head*head_dim)
    kite_weight wk, wv;      // (n_embd -> n_head_kv*head_dim)
    kite_weight wqkv;        // phi3: (n_embd -> (n_head + 2*n_head_kv)*head_dim)
    const float *bq, *bk, *bv; // qwen2 biases or NULL
    kite_weight wo;          // (n_head*head_dim -> n_embd)
    const float *ffn_norm;   // (n_embd)
    kite_weight w_gate, w_up; // (n_embd -> n_ff)
    kite_weight w_gate_up;   // phi3: (n_embd -> 2*n_ff), gate rows first
    kite_weight w_down;      // (n_ff -> n_embd)
    const float *attn_q_norm, *attn_k_norm; // qwen3, gemma3: per-head RMS norm weights (head_dim)
    const float *attn_post_norm; // gemma: RMS norm of the attention output (n_embd), else NULL
    const float *ffn_post_norm;  // gemma: RMS norm of the FFN output (n_embd), else NULL
    kite_weight ffn_gate_inp;    // MoE router (n_embd -> n_expert), else empty
    // MoE experts: the weight of expert 0 (n_embd -> n_ff_exp, down: n_ff_exp -> n_embd); expert
    // e's matrix lies exp_stride bytes further for each step of e (the file's 3-D tensors)
    kite_weight gate_exps, up_exps, down_exps;
    uint64_t gate_exps_stride, up_exps_stride, down_exps_stride;
    bool swa;                // this layer attends over the sliding window only (hp.n_swa)
    bool use_rope;           // false for smollm3's NoPE layers
    float rope_base, rope_scale; // this layer's rope theta base and frequency scale
} kite_layer;

// An initializer of an array of the dense matrices of layer L (a kite_layer *, const or not):
// q, k, v, fused qkv, attention output, gate, up, fused gate_up, down; those the architecture
// lacks have data NULL. What the X8 repack may move and a backend that reads rows must convert.
#define KITE_LAYER_DENSE_WEIGHTS(L) \
    {&(L)->wq, &(L)->wk, &(L)->wv, &(L)->wqkv, &(L)->wo, &(L)->w_gate, &(L)->w_up, &(L)->w_gate_up, &(L)->w_down}

struct kite_model {
    kite_hparams hp;
    kite_gguf *gguf;           // the metadata: parts[0]
    kite_gguf **parts;         // (n_parts) every file of a split set (llama-gguf-split), else one
    int32_t n_parts;
    kite_vocab *vocab;
    kite_weight tok_embd;      // (n_embd -> n_vocab) rows looked up per token
    const float *output_norm;  // (n_embd)
    kite_weight output;        // (n_embd -> n_vocab); token_embd when the file ties them
    const float *output_bias;  // (n_vocab) or NULL
    const float *rope_short;   // phi3 LongRoPE factors (n_rot/2) or NULL
    const float *rope_long;
    kite_layer *layers;        // (n_layer)
    void *repacked;            // the X8 copies of kite__model_repack, or NULL
    _Atomic uint64_t repacked_bytes; // the weight bytes in it (published ones, for a repack behind)
    // a repack behind the first tokens (model_repack.c), NULL when none was started; while it
    // runs, each forward step is a read section (kite__model_read_begin / _end) so that the
    // file's rows a step may still read are released only after the steps that began before the
    // X8 copy was published have ended
    struct kite_repack_behind *behind;
    _Atomic bool behind_running;     // the repack behind still publishes or releases
    _Atomic uint32_t read_epoch;     // its grace periods: the parity of the readers counted now
    _Atomic uint32_t readers[2];     // forward steps in a read section, by the parity they began in
    // the vocabulary's token texts as code points for grammar masking, built on first use
    // (kite__model_grammar_vocab) and shared by every sequence
    _Atomic(kite_grammar_vocab *) grammar_vocab;
    // DRY's sequence breakers as token sequences (gen_dry.c), made once per breaker list: [0] for
    // llama.cpp's default list, [1] for the last other list a generation asked for; dry_lock (a
    // spin lock held only to look up or swap a slot) guards both
    _Atomic bool dry_lock;
    struct kite_dry_breakers *dry_breakers[2];
};

// Moves the matrices the kernel set decodes faster from the X8 layout into m->repacked (as
// KITE_REPACK says; model_repack.c), calling p->release (p may be NULL) for each source range.
kite_status kite__model_repack(kite_model *m, const kite_model_params *p);

// The bytes of w a reader uses now and their layout: the published X8 copy of a repack behind,
// else w->data in w->layout. A step reads each matrix through one such call per matmul, so a
// matmul in flight keeps the layout it started with.
static inline kite_weight_layout kite__weight_bytes(const kite_weight *w, const void **data) {
    const void *x8 = atomic_load_explicit(&((kite_weight *)w)->x8, memory_order_acquire);
    *data = x8 ? x8 : w->data;
    return x8 ? KITE_LAYOUT_X8 : w->layout;
}

// Enters a read section of m's weights (a forward step): until kite__model_read_end, the source
// rows of a matrix the repack behind publishes stay readable. Returns the token for _end (-1
// when no repack runs behind: then nothing is counted).
int kite__model_read_begin(kite_model *m);
void kite__model_read_end(kite_model *m, int token);

// Stops and joins the repack behind (kite_model_free, before the buffers go).
void kite__model_repack_stop(kite_model *m);

// The model's token table for grammars, built on the first call (thread-safe). NULL with the
// error set when it cannot be built.
const kite_grammar_vocab *kite__model_grammar_vocab(const kite_model *m);

// The sampler for gen->sampling, with DRY's sequence breakers made from
// gen->dry_sequence_breakers over m's vocabulary when DRY is on (model/gen_dry.c).
kite_status kite__gen_sampler_new(const kite_model *m, const kite_gen_params *gen, kite_sampler **out);

// DRY's sequence breakers for the n strings strs (NULL: llama.cpp's default list, n unread; a NULL string
// counts as an empty one, which is skipped) over m's vocabulary, in kite_sampler_params.
// dry_breakers's flat form: *out is the caller's copy (free it; NULL when *n_out is 0). The walk
// over the vocabulary runs once per model for the default list and once for each change of the
// other list (the last one is kept); safe to call from several threads at once.
kite_status kite__model_dry_breakers(const kite_model *m, const char *const *strs, int32_t n, int32_t **out,
                                     size_t *n_out);

// Frees the DRY breakers m keeps (kite_model_free).
void kite__model_dry_breakers_free(kite_model *m);

typedef struct kite_backend kite_backend;

// Most backends one context runs on: the host CPU and one offload backend.
#define KITE_MAX_BACKENDS 2

struct kite_ctx {
    kite_model *m;
    int32_t n_ctx;                  // cache positions per sequence
    int32_t n_seq;                  // sequences (each with n_ctx positions of cache)
    int32_t n_batch, n_threads;
    int32_t *seq_pos;               // (n_seq) tokens in each sequence's cache
    int32_t *seq_tok;               // (n_seq, n_ctx) the token ids in each sequence's cache
    int32_t *seq_hwm;               // (n_seq) positions ever written since its reset (a ring's reach)
    int32_t swa_ring;               // the ring length of the CPU backend's sliding-window layers (0: none)
    const float *rope_factors;      // LongRoPE long or short factors for this n_ctx, or NULL
    float *logits;                  // (n_vocab) the last token's logits
    float *host_x;                  // (n_batch, n_embd) residual staging at a backend boundary
    int32_t *step_pos, *step_seq;   // (n_batch) the positions and sequences of a step's tokens
    int32_t *out_rows;              // (n_batch) the rows of a step whose logits are wanted
    int32_t *row_ids;               // (n_batch) 0, 1, 2, ...: rows kept in place by a gather
    bool observed;                  // a matmul observer is set: every row runs every layer (the
                                    // observer sees all of them, as llama-imatrix's all-logits batches)
    bool out_hidden;                // output the final-normed hidden states instead of logits
    kite_backend *backends[KITE_MAX_BACKENDS]; // [0] the host CPU, [1] the offload backend if any
    int32_t n_backends;
    kite_backend *input_backend;    // runs the token embedding (the host CPU)
    kite_backend *output_backend;   // runs the final norm and output head
    kite_backend **layer_backend;   // (n_layer) where each repeating layer runs
};

typedef struct kite_step kite_step;

// The ring length of a sliding-window layer's cache on the CPU backend, or 0 when it keeps every
// position: the window of n_swa positions plus a step's n_batch - 1 (a step's earliest token needs
// n_swa - 1 positions before the step), used once the ring and its n_swa - 1 repeated rows are
// shorter than the n_ctx positions of a sequence.
static inline int32_t kite__swa_ring(const kite_hparams *hp, int32_t n_batch, int32_t n_ctx) {
    if (hp->n_swa <= 0) return 0;
    const int64_t ring = (int64_t)hp->n_swa + n_batch - 1, rows = ring + hp->n_swa - 1;
    return rows < n_ctx ? (int32_t)ring : 0;
}

// Runs the forward pass over one step (st->n <= n_batch tokens, their positions and sequences;
// the caller checked ids, positions and sequences) and writes the logits of rows out_rows[0 ..
// n_out) to logits (n_out * n_vocab floats, in out_rows order). Positions are the caller's to
// advance.
kite_status kite__forward(kite_ctx *c, const kite_step *st, const int32_t *tokens, const int32_t *out_rows,
                          int32_t n_out, float *logits);

#endif
