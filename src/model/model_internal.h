// model_internal.h - the model's weight views and the context's state, shared by the files of
// src/model (load, context, forward, generate); not part of the public API.
#ifndef KITE_MODEL_INTERNAL_H
#define KITE_MODEL_INTERNAL_H

#include "base/internal.h"
#include "model/kite_model.h"
#include "model/ops.h"

// A weight matrix as it lies in the file: n_out rows of n_in elements of `type`.
typedef struct kite_weight {
    const void *data;
    kite_type type;
    int32_t n_in;  // row length (ne[0])
    int32_t n_out; // row count (ne[1])
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
} kite_layer;

struct kite_model {
    kite_hparams hp;
    kite_gguf *gguf;
    kite_vocab *vocab;
    kite_weight tok_embd;      // (n_embd -> n_vocab) rows looked up per token
    const float *output_norm;  // (n_embd)
    kite_weight output;        // (n_embd -> n_vocab); token_embd when the file ties them
    const float *output_bias;  // (n_vocab) or NULL
    const float *rope_short;   // phi3 LongRoPE factors (n_rot/2) or NULL
    const float *rope_long;
    kite_layer *layers;        // (n_layer)
};

typedef struct kite_pool kite_pool;

// Activations of one forward pass over up to n_batch tokens (all f32, row per token).
typedef struct kite_acts {
    float *x;      // (n_batch, n_embd) residual stream
    float *xn;     // (n_batch, n_embd) normed input of a sublayer
    float *qkv;    // (n_batch, (n_head + 2*n_head_kv)*head_dim) fused projections
    float *q;      // (n_batch, n_head*head_dim)
    float *k, *v;  // (n_batch, n_head_kv*head_dim)
    float *att;    // (n_batch, n_head*head_dim) attention output
    float *ff;     // (n_batch, 2*n_ff) gate | up (or fused gate_up)
    float *ff2;    // (n_batch, n_ff) up (split arches)
    float *logits; // (n_batch, n_vocab) when all logits are wanted, else (1, n_vocab)
    float *scores; // (n_threads, n_ctx) attention scores per worker
    float *rope;   // (n_batch, n_rot) cos/sin table of the batch's positions
    void *scratch; // matmul scratch (quantized activations)
    size_t scratch_size;
} kite_acts;

struct kite_ctx {
    kite_model *m;
    int32_t n_ctx, n_batch, n_threads;
    int32_t pos;        // tokens in the cache
    bool flash_attn;    // follow llama.cpp's flash-attention rounding
    uint16_t *k_cache;  // (n_layer, n_ctx, n_head_kv*head_dim) f16, rotated keys
    uint16_t *v_cache;  // (n_layer, n_ctx, n_head_kv*head_dim) f16
    const float *rope_factors; // LongRoPE long or short factors for this n_ctx, or NULL
    kite_acts a;
    kite_attend_fn attend; // the attention op for this host
    kite_pool *pool;
};

// Runs the forward pass over tokens[0..n) at positions pos..pos+n (n <= n_batch, fits n_ctx)
// and writes logits: for every token into logits_out (n * n_vocab) when all is true, else the
// last token's into c->a.logits. Advances c->pos.
kite_status kite__forward(kite_ctx *c, const int32_t *tokens, int32_t n, bool all, float *logits_out);

#endif
