// backend_cpu.c - the CPU backend: the forward pass's ops on host memory, run at once with
// the kernels' dispatch table (any ISA), over a thread pool of its own. Its activations, KV
// cache (f16, for its layers only) and matmul scratch are allocated at creation.
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/kite_f16.h"
#include "kernels/kite_kernels.h"
#include "model/backend.h"
#include "model/ops.h"

// Rotation tables kept per step: one per distinct kite_rope (gemma3's local and global
// layers use two). More distinct ropes in one step recompute the oldest slot.
#define ROPE_SLOTS 4

typedef struct rope_slot {
    kite_rope r;   // the parameters the table was made for
    bool valid;    // made for the current step
    float *cs;     // (n_batch, n_rot) interleaved cos, sin
} rope_slot;

typedef struct cpu_backend {
    kite_backend b;
    kite_backend_config cfg;
    kite_status err;          // the step's first failure
    kite_step step;           // the current step
    float *acts[KITE_ACT_COUNT];
    int32_t out_rows, out_width;
    // Per layer (n_seq, n_head_kv, rows, head_dim) f16 rotated keys of cfg's layers: each KV
    // head's rows contiguous, so that attention, which reads one KV head's rows in position
    // order, streams them (in (rows, kv_dim) order its 128-byte rows sat kv_dim * 2 bytes apart)
    uint16_t *k_cache;
    uint16_t *v_cache;        // the same for values
    int32_t n_head_kv, head_dim;
    // Per layer of cfg (index layer - layer_first): where its cache starts (elements), its rows
    // per sequence, and its ring length (0: row = position). A sliding-window layer keeps only
    // the window as a ring of ring = n_swa + n_batch - 1 rows (a step's earliest token needs
    // n_swa - 1 positions before the step, its last one the step's n_batch) plus n_swa - 1 rows
    // repeating the ring's first ones, so every window is one contiguous run of rows.
    size_t *layer_base;
    int32_t *layer_rows, *layer_ring;
    float *scores;            // (n_threads, KITE_ATTN_GROUP_MAX, n_ctx) attention scores per worker
    void *scratch;            // matmul scratch (quantized activations)
    float *add_tmp;           // (n_batch, add_width) matmul_add's product rows
    int64_t add_width;
    size_t scratch_size;
    rope_slot rope[ROPE_SLOTS];
    int32_t rope_next;        // the slot to reuse next
    kite_attend_fn attend;    // the attention op for this host
    kite_pool *pool;
    kite_matmul_observer observer; // set_observer's, or NULL
    void *observer_user;
    // routed experts (NULL for dense models): rows R = n_batch * n_expert_used
    float *moe_logits;        // (n_batch, n_expert) router logits
    float *moe_probs;         // (n_expert) one token's router softmax
    int32_t *moe_ids;         // (n_batch, n_used) each token's experts, router order
    float *moe_w;             // (n_batch, n_used) their weights
    int32_t *moe_slot;        // (R) the (token, slot) of each row gathered for one expert
    float *moe_x;             // (R, n_embd) the rows gathered for one expert
    float *moe_g, *moe_u;     // (R, n_ff_exp) its gate and up outputs
    float *moe_y;             // (R, n_embd) its down outputs
    float *moe_out;           // (R, n_embd) weighted outputs per (token, slot)
} cpu_backend;

static cpu_backend *cpu(kite_backend *b) { return (cpu_backend *)b; }

static void fail(cpu_backend *c, kite_status s) {
    if (c->err == KITE_OK) c->err = s;
}

// Row 0 of a view.
static float *at(cpu_backend *c, kite_view v) { return c->acts[v.act] + v.off; }

// ---- step --------------------------------------------------------------------------------

static void cpu_begin(kite_backend *b, const kite_step *st) {
    cpu_backend *c = cpu(b);
    KITE_ASSERT(st->n > 0 && st->n <= c->cfg.n_batch);
    c->step = *st;
    c->err = KITE_OK;
    for (int i = 0; i < ROPE_SLOTS; i++) c->rope[i].valid = false;
}

static kite_status cpu_end(kite_backend *b) {
    cpu_backend *c = cpu(b);
    kite_status s = c->err;
    c->err = KITE_OK;
    c->acts[KITE_ACT_OUT] = NULL;
    return s;
}

static void cpu_write(kite_backend *b, kite_view dst, int32_t n, int32_t width, const float *host) {
    cpu_backend *c = cpu(b);
    for (int32_t t = 0; t < n; t++)
        memcpy(at(c, dst) + (size_t)t * dst.stride, host + (size_t)t * width, (size_t)width * sizeof(float));
}

static void cpu_read(kite_backend *b, kite_view src, int32_t n, int32_t width, float *host) {
    cpu_backend *c = cpu(b);
    for (int32_t t = 0; t < n; t++)
        memcpy(host + (size_t)t * width, at(c, src) + (size_t)t * src.stride, (size_t)width * sizeof(float));
}

static void cpu_bind_output(kite_backend *b, float *out, int32_t n_rows, int32_t width) {
    cpu_backend *c = cpu(b);
    c->acts[KITE_ACT_OUT] = out;
    c->out_rows = n_rows;
    c->out_width = width;
}

// ---- ops ---------------------------------------------------------------------------------

static void cpu_embed(kite_backend *b, const kite_weight *w, const int32_t *tokens, int32_t n, kite_view dst) {
    cpu_backend *c = cpu(b);
    const void *data;
    const kite_weight_layout layout = kite__weight_bytes(w, &data);
    for (int32_t t = 0; t < n && c->err == KITE_OK; t++) {
        kite_status s = kite__embed_row(w->type, layout, data, w->n_in, w->n_out, tokens[t],
                                        at(c, dst) + (size_t)t * dst.stride);
        if (s != KITE_OK) fail(c, s);
    }
}

// Hands a matmul's input rows to the observer, if one is set (expert -1: not an expert's).
static void observe(const cpu_backend *c, const kite_weight *w, int32_t expert, int32_t n_expert, const float *x,
                    int32_t n) {
    if (c->observer) c->observer(c->observer_user, w->name, expert, n_expert, x, n, w->n_in);
}

static void cpu_set_observer(kite_backend *b, kite_matmul_observer fn, void *user) {
    cpu_backend *c = cpu(b);
    c->observer = fn;
    c->observer_user = user;
}

static void cpu_matmul(kite_backend *b, const kite_weight *w, kite_view x, int32_t n, kite_view y) {
    cpu_backend *c = cpu(b);
    KITE_ASSERT(x.stride == w->n_in && y.stride == w->n_out);
    if (c->err != KITE_OK) return;
    observe(c, w, -1, 1, at(c, x), n);
    const void *data;
    const kite_weight_layout layout = kite__weight_bytes(w, &data);
    kite_status s = kite_matmul_layout(c->pool, w->type, layout, data, w->n_in, w->n_out, at(c, x), n, at(c, y),
                                       c->scratch, c->scratch_size);
    if (s != KITE_OK) fail(c, s);
}

// ---- row-wise ops over the pool --------------------------------------------------------------
// The element-wise ops work token by token, each row alone: for a batch the pool's threads take
// rows ROWS_CHUNK at a time (the same bits as one thread); below ROWS_PAR_MIN rows one thread does
// them all (a pool dispatch costs more). Serial, they were 8-10% of a 2-thread prefill. An op
// with a `block` function gets its rows `chunk` at a time in one call (the RMS norms: the kernels
// norm up to RMS_ROWS rows at once, one row per vector lane); every row has the bits it has alone,
// so no split changes a result.
enum { ROWS_CHUNK = 4, ROWS_PAR_MIN = 16, RMS_ROWS = 16 };

typedef struct row_op {
    cpu_backend *c;
    kite_view dst, a, b; // the views the op reads and writes (unused ones zero)
    const float *w;
    int32_t width, n_heads, head_dim;
    float eps;
    bool geglu; // glu_row: GeGLU, else SwiGLU
    bool neox;  // rope_row: NeoX's rotation (halves), else pairs
    const float *cs;      // rope_row: the step's cos/sin table
    const int32_t *rows;  // rope_row: the step's token of each row (NULL: row t)
    int32_t n_rot, layer; // rope_row: dimensions rotated; kv_row: the layer
    void (*fn)(const struct row_op *op, int32_t t); // one row, or NULL: block
    void (*block)(const struct row_op *op, int32_t t0, int32_t nt); // rows t0 .. t0 + nt - 1, nt <= chunk
    int32_t chunk; // rows taken at a time (0: ROWS_CHUNK)
    int32_t n;
    atomic_int next;
} row_op;

static int32_t chunk_of(const row_op *op) { return op->chunk ? op->chunk : ROWS_CHUNK; }

// Rows t0 .. t0 + chunk - 1 (those below n).
static void run_chunk(const row_op *op, int32_t t0) {
    const int32_t nt = op->n - t0 < chunk_of(op) ? op->n - t0 : chunk_of(op);
    if (op->block) op->block(op, t0, nt);
    else
        for (int32_t t = t0; t < t0 + nt; t++) op->fn(op, t);
}

static void row_op_worker(void *ctx, int ith, int nth) {
    row_op *op = ctx;
    (void)ith, (void)nth;
    for (int32_t t0; (t0 = atomic_fetch_add_explicit(&op->next, chunk_of(op), memory_order_relaxed)) < op->n;)
        run_chunk(op, t0);
}

static void run_rows(row_op *op) {
    if (op->n < ROWS_PAR_MIN || kite_pool_size(op->c->pool) < 2) {
        for (int32_t t0 = 0; t0 < op->n; t0 += chunk_of(op)) run_chunk(op, t0);
        return;
    }
    atomic_init(&op->next, 0);
    kite_pool_run_shared(op->c->pool, row_op_worker, op);
}

static float *row_of(const row_op *op, kite_view v, int32_t t) { return at(op->c, v) + (size_t)t * v.stride; }

static void rmsnorm_block(const row_op *op, int32_t t0, int32_t nt) {
    float *y[RMS_ROWS];
    const float *x[RMS_ROWS];
    for (int32_t k = 0; k < nt; k++) y[k] = row_of(op, op->dst, t0 + k), x[k] = row_of(op, op->a, t0 + k);
    kite_kernels_rmsnorm_rows(y, x, op->w, op->width, nt, op->eps);
}

static void cpu_rmsnorm(kite_backend *b, kite_view dst, kite_view src, const float *w, int32_t n, int32_t width,
                        float eps) {
    row_op op = {.c = cpu(b), .dst = dst, .a = src, .w = w, .width = width, .eps = eps, .block = rmsnorm_block,
                 .chunk = RMS_ROWS, .n = n};
    run_rows(&op);
}

static void cpu_add(kite_backend *b, kite_view dst, kite_view src, int32_t n, int32_t width) {
    cpu_backend *c = cpu(b);
    if (dst.stride == width && src.stride == width) { // contiguous rows: one loop
        kite__add(at(c, dst), at(c, src), n * width);
        return;
    }
    for (int32_t t = 0; t < n; t++)
        kite__add(at(c, dst) + (size_t)t * dst.stride, at(c, src) + (size_t)t * src.stride, width);
}

static void cpu_add_bias(kite_backend *b, kite_view dst, const float *bias, int32_t n, int32_t width) {
    cpu_backend *c = cpu(b);
    for (int32_t t = 0; t < n; t++) kite__add(at(c, dst) + (size_t)t * dst.stride, bias, width);
}

static void cpu_scale(kite_backend *b, kite_view x, int32_t n, int32_t width, float s) {
    cpu_backend *c = cpu(b);
    for (int32_t t = 0; t < n; t++) {
        float *row = at(c, x) + (size_t)t * x.stride;
        for (int32_t i = 0; i < width; i++) row[i] *= s;
    }
}

// dst = act(gate) * up for one row (the gate row holds the product, then it moves to dst if that
// is another row)
static void glu_row(const row_op *op, int32_t t) {
    float *g = row_of(op, op->a, t), *d = row_of(op, op->dst, t);
    if (op->geglu)
        kite__geglu(g, row_of(op, op->b, t), op->width);
    else
        kite__swiglu(g, row_of(op, op->b, t), op->width);
    if (d != g) memmove(d, g, (size_t)op->width * sizeof(float));
}

static void cpu_swiglu(kite_backend *b, kite_view dst, kite_view gate, kite_view up, int32_t n, int32_t width) {
    row_op op = {.c = cpu(b), .dst = dst, .a = gate, .b = up, .width = width, .fn = glu_row, .n = n};
    run_rows(&op);
}

static void cpu_gather(kite_backend *b, kite_view dst, kite_view src, const int32_t *rows, int32_t n, int32_t width) {
    cpu_backend *c = cpu(b);
    for (int32_t i = 0; i < n; i++)
        memmove(at(c, dst) + (size_t)i * dst.stride, at(c, src) + (size_t)rows[i] * src.stride,
                (size_t)width * sizeof(float));
}

static void cpu_geglu(kite_backend *b, kite_view dst, kite_view gate, kite_view up, int32_t n, int32_t width) {
    row_op op = {.c = cpu(b), .dst = dst, .a = gate, .b = up, .width = width, .geglu = true, .fn = glu_row, .n = n};
    run_rows(&op);
}

// Soft-capping a whole vocabulary's logits (gemma2 / gemma3-shaped models): every element alone,
// so the pool's threads take SOFTCAP_CHUNK elements of a row at a time, also for a single row
// (decode); the same bits at any split.
enum { SOFTCAP_CHUNK = 8192 };

typedef struct softcap_job {
    float *x;
    int32_t n, width, stride, chunks_per_row;
    float cap;
    atomic_int next;
} softcap_job;

static void softcap_worker(void *ctx, int ith, int nth) {
    softcap_job *j = ctx;
    (void)ith, (void)nth;
    for (int32_t k; (k = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->n * j->chunks_per_row;) {
        const int32_t t = k / j->chunks_per_row, i0 = k % j->chunks_per_row * SOFTCAP_CHUNK;
        const int32_t len = j->width - i0 < SOFTCAP_CHUNK ? j->width - i0 : SOFTCAP_CHUNK;
        kite__softcap(j->x + (size_t)t * j->stride + i0, len, j->cap);
    }
}

static void cpu_softcap(kite_backend *b, kite_view x, int32_t n, int32_t width, float cap) {
    cpu_backend *c = cpu(b);
    softcap_job j = {.x = at(c, x), .n = n, .width = width, .stride = x.stride, .cap = cap,
                     .chunks_per_row = (width + SOFTCAP_CHUNK - 1) / SOFTCAP_CHUNK};
    atomic_init(&j.next, 0);
    if ((int64_t)n * j.chunks_per_row < 2) softcap_worker(&j, 0, 1); // one chunk: no workers woken
    else kite_pool_run_shared(c->pool, softcap_worker, &j);           // (inline without a pool)
}

// The heads of tokens t0 .. t0 + nt - 1.
static void rmsnorm_heads_block(const row_op *op, int32_t t0, int32_t nt) {
    kite__rmsnorm_heads_rows(row_of(op, op->a, t0), op->a.stride, nt, op->n_heads, op->head_dim, op->w, op->eps);
}

static void cpu_rmsnorm_heads(kite_backend *b, kite_view x, int32_t n, int32_t n_heads, int32_t head_dim,
                              const float *w, float eps) {
    // a chunk: the tokens whose heads fill RMS_ROWS lanes (one token where it has that many)
    const int32_t chunk = n_heads >= RMS_ROWS || n_heads < 1 ? 1 : RMS_ROWS / n_heads;
    row_op op = {.c = cpu(b), .a = x, .w = w, .n_heads = n_heads, .head_dim = head_dim, .eps = eps,
                 .block = rmsnorm_heads_block, .chunk = chunk, .n = n};
    run_rows(&op);
}

// ---- fused matmuls: one pool run for the matrices that read the same rows ------------------
// The threads take chunks of rows of any of the matrices and finish each chunk's element-wise
// op (bias, SwiGLU/GeGLU, residual add) on those rows at once, so a layer's q|k|v or gate|up
// cost one dispatch and the activations are quantized once. Every element gets the bits the
// separate ops give it (the same matmul rows, then the same element-wise op).

typedef struct fused_op {
    cpu_backend *c;
    int n;                      // rows (tokens)
    float *y[KITE_MATMUL_PARTS_MAX];
    int64_t ys[KITE_MATMUL_PARTS_MAX];
    const float *bias[KITE_MATMUL_PARTS_MAX]; // matmul_cat: added to each part's columns, or NULL
    const float *src;           // matmul_add: the product rows (src_stride apart) added into y[0]
    int64_t src_stride;
    int glu;                    // 0: none, 1: SwiGLU, 2: GeGLU of y[0] (gate) and y[1] (up) into y[0]
} fused_op;

static void fused_done(void *user, int part, int64_t r0, int64_t r1) {
    const fused_op *f = user;
    const int32_t w = (int32_t)(r1 - r0);
    for (int32_t t = 0; t < f->n; t++) {
        if (f->glu) {
            float *g = f->y[0] + t * f->ys[0] + r0;
            const float *u = f->y[1] + t * f->ys[1] + r0;
            if (f->glu == 2) kite__geglu(g, u, w);
            else kite__swiglu(g, u, w);
        } else if (f->src) {
            kite__add(f->y[0] + t * f->ys[0] + r0, f->src + t * f->src_stride + r0, w);
        } else if (part >= 0 && f->bias[part]) {
            kite__add(f->y[part] + t * f->ys[part] + r0, f->bias[part] + r0, w);
        }
    }
}

static kite_matmul_part part_of(const kite_weight *w, float *y, int64_t ys) {
    const void *data;
    const kite_weight_layout layout = kite__weight_bytes(w, &data);
    return (kite_matmul_part){.wtype = w->type, .layout = layout, .w = data, .n_out = w->n_out, .y = y, .y_stride = ys};
}

static void run_fused(cpu_backend *c, const kite_matmul_part *parts, int count, bool lockstep, const float *x,
                      int64_t n_in, int32_t n, fused_op *f) {
    kite_status s = kite_matmul_parts(c->pool, parts, count, lockstep, n_in, x, n, fused_done, f, c->scratch,
                                      c->scratch_size);
    if (s != KITE_OK) fail(c, s);
}

static void cpu_matmul_cat(kite_backend *b, const kite_weight *const *ws, const float *const *bias, int32_t count,
                           kite_view x, int32_t n, kite_view y) {
    cpu_backend *c = cpu(b);
    KITE_ASSERT(count >= 1 && count <= KITE_MATMUL_PARTS_MAX && x.stride == ws[0]->n_in);
    if (c->err != KITE_OK) return;
    fused_op f = {.c = c, .n = n};
    kite_matmul_part parts[KITE_MATMUL_PARTS_MAX];
    int64_t col = 0;
    for (int32_t i = 0; i < count; i++) {
        KITE_ASSERT(ws[i]->n_in == ws[0]->n_in);
        observe(c, ws[i], -1, 1, at(c, x), n);
        f.y[i] = at(c, y) + col;
        f.ys[i] = y.stride;
        f.bias[i] = bias ? bias[i] : NULL;
        parts[i] = part_of(ws[i], f.y[i], y.stride);
        col += ws[i]->n_out;
    }
    KITE_ASSERT(col <= y.stride);
    run_fused(c, parts, count, false, at(c, x), ws[0]->n_in, n, &f);
}

// gate and up (or phi3's gate_up, gate rows then up rows) into dst through KITE_ACT_FF, then the GLU
static void ffn_glu(kite_backend *b, const kite_weight *gate, const kite_weight *up, kite_view x, int32_t n,
                    kite_view dst, int glu) {
    cpu_backend *c = cpu(b);
    if (c->err != KITE_OK) return;
    const int64_t f = up ? gate->n_out : gate->n_out / 2;
    KITE_ASSERT(x.stride == gate->n_in && dst.act != KITE_ACT_FF && dst.stride >= f);
    if (!up) { // one matrix: no chunk holds both halves, so its product into FF, then the GLU op
        const kite_view g = {KITE_ACT_FF, 0, (int32_t)(2 * f)}, u = {KITE_ACT_FF, (int32_t)f, (int32_t)(2 * f)};
        cpu_matmul(b, gate, x, n, g);
        if (glu == 2) cpu_geglu(b, dst, g, u, n, (int32_t)f);
        else cpu_swiglu(b, dst, g, u, n, (int32_t)f);
        return;
    }
    fused_op op = {.c = c, .n = n, .glu = glu};
    KITE_ASSERT(up->n_out == f && up->n_in == gate->n_in);
    observe(c, gate, -1, 1, at(c, x), n);
    observe(c, up, -1, 1, at(c, x), n);
    op.y[0] = at(c, dst);
    op.ys[0] = dst.stride;
    op.y[1] = c->acts[KITE_ACT_FF];
    op.ys[1] = f;
    const kite_matmul_part parts[2] = {part_of(gate, op.y[0], op.ys[0]), part_of(up, op.y[1], op.ys[1])};
    run_fused(c, parts, 2, true, at(c, x), gate->n_in, n, &op);
}

static void cpu_ffn_swiglu(kite_backend *b, const kite_weight *gate, const kite_weight *up, kite_view x, int32_t n,
                           kite_view dst) {
    ffn_glu(b, gate, up, x, n, dst, 1);
}

static void cpu_ffn_geglu(kite_backend *b, const kite_weight *gate, const kite_weight *up, kite_view x, int32_t n,
                          kite_view dst) {
    ffn_glu(b, gate, up, x, n, dst, 2);
}

// y rows += w times x rows: the product into the backend's add scratch, each chunk added as it
// is done
static void cpu_matmul_add(kite_backend *b, const kite_weight *w, kite_view x, int32_t n, kite_view y) {
    cpu_backend *c = cpu(b);
    KITE_ASSERT(x.stride == w->n_in && y.stride == w->n_out && w->n_out <= c->add_width);
    if (c->err != KITE_OK) return;
    observe(c, w, -1, 1, at(c, x), n);
    fused_op f = {.c = c, .n = n, .y = {at(c, y)}, .ys = {y.stride}, .src = c->add_tmp, .src_stride = w->n_out};
    const kite_matmul_part part = part_of(w, c->add_tmp, w->n_out);
    run_fused(c, &part, 1, false, at(c, x), w->n_in, n, &f);
}

// ---- routed experts -----------------------------------------------------------------------

static kite_status mm(cpu_backend *c, const kite_weight *w, const float *x, int32_t n, float *y) {
    const void *data;
    const kite_weight_layout layout = kite__weight_bytes(w, &data);
    return kite_matmul_layout(c->pool, w->type, layout, data, w->n_in, w->n_out, x, n, y, c->scratch, c->scratch_size);
}

// One expert's matrix of a 3-D expert tensor.
static kite_weight expert_matrix(const kite_weight *w0, uint64_t stride, int32_t e) {
    kite_weight w = *w0;
    w.data = (const uint8_t *)w0->data + stride * (uint64_t)e;
    return w;
}

static kite_status moe_run(cpu_backend *c, const kite_moe *moe, const float *x, int32_t n, float *out) {
    const int32_t E = c->cfg.m->hp.n_embd, X = moe->n_expert, K = moe->n_used, FE = moe->n_ff;
    observe(c, moe->gate_inp, -1, 1, x, n);
    KITE_TRY(mm(c, moe->gate_inp, x, n, c->moe_logits));
    for (int32_t t = 0; t < n; t++)
        kite__moe_route(c->moe_logits + (size_t)t * X, X, K, c->moe_probs, c->moe_ids + (size_t)t * K,
                        c->moe_w + (size_t)t * K);
    for (int32_t e = 0; e < X; e++) {
        int32_t m = 0; // rows gathered for expert e
        for (int32_t t = 0; t < n; t++)
            for (int32_t j = 0; j < K; j++)
                if (c->moe_ids[(size_t)t * K + j] == e) {
                    memcpy(c->moe_x + (size_t)m * E, x + (size_t)t * E, (size_t)E * sizeof(float));
                    c->moe_slot[m++] = t * K + j;
                }
        if (m == 0) continue;
        const kite_weight wg = expert_matrix(moe->gate, moe->gate_stride, e),
                          wu = expert_matrix(moe->up, moe->up_stride, e),
                          wd = expert_matrix(moe->down, moe->down_stride, e);
        observe(c, &wg, e, X, c->moe_x, m);
        KITE_TRY(mm(c, &wg, c->moe_x, m, c->moe_g));
        observe(c, &wu, e, X, c->moe_x, m);
        KITE_TRY(mm(c, &wu, c->moe_x, m, c->moe_u));
        kite__swiglu(c->moe_g, c->moe_u, m * FE);
        observe(c, &wd, e, X, c->moe_g, m);
        KITE_TRY(mm(c, &wd, c->moe_g, m, c->moe_y));
        for (int32_t r = 0; r < m; r++) { // weighted, into the row of its (token, slot)
            const int32_t slot = c->moe_slot[r];
            const float w = c->moe_w[slot], *y = c->moe_y + (size_t)r * E;
            float *dst = c->moe_out + (size_t)slot * E;
            for (int32_t i = 0; i < E; i++) dst[i] = y[i] * w;
        }
    }
    // each token's slots summed in the router's order (the order of llama.cpp's adds)
    for (int32_t t = 0; t < n; t++) {
        float *o = out + (size_t)t * E;
        memcpy(o, c->moe_out + (size_t)t * K * E, (size_t)E * sizeof(float));
        for (int32_t j = 1; j < K; j++) kite__add(o, c->moe_out + ((size_t)t * K + j) * E, E);
    }
    return KITE_OK;
}

static void cpu_moe(kite_backend *b, const kite_moe *moe, kite_view x, kite_view out, int32_t n) {
    cpu_backend *c = cpu(b);
    const int32_t E = c->cfg.m->hp.n_embd;
    KITE_ASSERT(x.stride == E && out.stride == E && c->moe_x && moe->n_expert <= c->cfg.m->hp.n_expert &&
                moe->n_used <= c->cfg.m->hp.n_expert_used && moe->n_ff <= c->cfg.m->hp.n_ff_exp);
    if (c->err != KITE_OK) return;
    kite_status s = moe_run(c, moe, at(c, x), n, at(c, out));
    if (s != KITE_OK) fail(c, s);
}

// The step's cos/sin table for r, made on first use in the step.
static const float *rope_table(cpu_backend *c, const kite_rope *r) {
    for (int i = 0; i < ROPE_SLOTS; i++) {
        const rope_slot *s = &c->rope[i];
        if (s->valid && s->r.n_rot == r->n_rot && s->r.freq_base == r->freq_base &&
            s->r.freq_scale == r->freq_scale && s->r.attn_factor == r->attn_factor && s->r.factors == r->factors)
            return s->cs;
    }
    rope_slot *s = &c->rope[c->rope_next];
    c->rope_next = (c->rope_next + 1) % ROPE_SLOTS;
    for (int32_t t = 0; t < c->step.n; t++)
        kite__rope_cache(s->cs + (size_t)t * r->n_rot, c->step.pos[t], r->n_rot, r->freq_base, r->freq_scale,
                         r->attn_factor, r->factors);
    s->r = *r;
    s->valid = true;
    return s->cs;
}

// RoPE on row t of op->dst
static void rope_row(const row_op *op, int32_t t) {
    kite__rope_apply(row_of(op, op->dst, t), op->n_heads, op->head_dim, op->n_rot,
                     op->cs + (size_t)(op->rows ? op->rows[t] : t) * op->n_rot, op->neox);
}

// (the table is built on the caller's thread, then the rows are rotated over the pool)
static void cpu_rope(kite_backend *b, kite_view x, int32_t n, int32_t n_heads, int32_t head_dim, const int32_t *rows,
                     const kite_rope *r) {
    cpu_backend *c = cpu(b);
    if (r->n_rot == 0) return;
    row_op op = {.c = c, .dst = x, .n_heads = n_heads, .head_dim = head_dim, .neox = r->neox, .cs = rope_table(c, r),
                 .rows = rows, .n_rot = r->n_rot, .fn = rope_row, .n = n};
    run_rows(&op);
}

// Offset of KV head kvh's row `row` of (layer, sequence) in this backend's cache; the head's next
// row follows head_dim elements on.
static size_t cache_row(const cpu_backend *c, int32_t layer, int32_t seq, int32_t kvh, int32_t row) {
    KITE_ASSERT(layer >= c->cfg.layer_first && layer < c->cfg.layer_last && seq >= 0 && seq < c->cfg.n_seq);
    const int32_t l = layer - c->cfg.layer_first;
    KITE_ASSERT(row >= 0 && row < c->layer_rows[l] && kvh >= 0 && kvh < c->n_head_kv);
    const size_t head = (size_t)seq * (size_t)c->n_head_kv + (size_t)kvh;
    return c->layer_base[l] + (head * (size_t)c->layer_rows[l] + (size_t)row) * (size_t)c->head_dim;
}

// The row of a position (its ring slot on a sliding-window layer).
static int32_t pos_row(const cpu_backend *c, int32_t layer, int32_t pos) {
    KITE_ASSERT(pos >= 0 && pos < c->cfg.n_ctx);
    const int32_t ring = c->layer_ring[layer - c->cfg.layer_first];
    return ring ? pos % ring : pos;
}

// Row t of k (op->a) and v (op->b) into the cache of layer op->layer at the token's position.
static void kv_row(const row_op *op, int32_t t) {
    const cpu_backend *c = op->c;
    const int32_t layer = op->layer;
    const int32_t ring = c->layer_ring[layer - c->cfg.layer_first], n_swa = c->cfg.m->hp.n_swa;
    const int32_t row = pos_row(c, layer, c->step.pos[t]);
    const float *kr = row_of(op, op->a, t), *vr = row_of(op, op->b, t);
    // a ring's first n_swa - 1 rows are kept twice: at the slot and after the ring
    for (int32_t copy = 0; copy < (ring && row < n_swa - 1 ? 2 : 1); copy++) {
        for (int32_t kvh = 0; kvh < c->n_head_kv; kvh++) {
            const size_t off = cache_row(c, layer, c->step.seq[t], kvh, row + copy * ring);
            const size_t in = (size_t)kvh * (size_t)c->head_dim;
            kite_kernels_f32_to_f16_row(kr + in, c->k_cache + off, c->head_dim);
            kite_kernels_f32_to_f16_row(vr + in, c->v_cache + off, c->head_dim);
        }
    }
}

// (the rows of a step are distinct positions, or distinct sequences: no two write one cache row)
static void cpu_kv_store(kite_backend *b, int32_t layer, kite_view k, kite_view v, int32_t n) {
    row_op op = {.c = cpu(b), .a = k, .b = v, .layer = layer, .fn = kv_row, .n = n};
    run_rows(&op);
}

// ---- attention: tasks of a few consecutive tokens x the query heads of one KV head, spread -----
// ---- over the pool; each task's queries that share a cache run go to the op together ------

typedef struct attn_job {
    cpu_backend *c;
    const kite_attn *a;
    const float *q;
    float *out;
    const int32_t *rows; // the step's token of each query row (NULL: row t is token t)
    int32_t q_stride, out_stride, n_tok, layer;
    kite_attn_mode mode;
    int32_t task_tokens;  // consecutive tokens per task
    int32_t task_heads;   // query heads per task, all of one KV head
    atomic_int next_task; // the next task nobody has taken
} attn_job;

// ggml's CPU flash attention runs batches of at least 64 queries through a tiled f32 kernel when
// the head size is a multiple of its f32 vector width (16 floats in the AVX-512 build that
// node-llama-cpp loads on x86-64 hosts with it), else row by row with an f16 accumulator.
// Following it makes flash-attention logits depend on the step size, as llama.cpp's do: a
// prompt evaluated in steps of 64 or more tokens rounds differently from one evaluated in
// smaller steps (perplexity moves with -b); without flash attention, and for steps below 64,
// the bits never depend on the split (test_batch_invariance).
#define FA_TILE_MIN_TOKENS 64
#define FA_TILE_HEAD_MULTIPLE 16

static kite_attn_mode attn_mode(const cpu_backend *c, int32_t n_tok, int32_t head_dim) {
    if (!c->cfg.flash_attn) return KITE_ATTN_MATMUL;
    if (n_tok >= FA_TILE_MIN_TOKENS && head_dim % FA_TILE_HEAD_MULTIPLE == 0) return KITE_ATTN_FA_F32;
    return KITE_ATTN_FA_F16;
}

static void attn_worker(void *arg, int ith, int nth) {
    attn_job *j = arg;
    cpu_backend *c = j->c;
    const kite_attn *a = j->a;
    const int32_t hd = a->head_dim, group = a->n_head / a->n_head_kv; // query heads per KV head (GQA)
    const int32_t tt = j->task_tokens, th = j->task_heads, head_tasks = a->n_head / th;
    const int32_t n_tasks = (j->n_tok + tt - 1) / tt * head_tasks;
    float *scores = c->scores + (size_t)ith * KITE_ATTN_GROUP_MAX * c->cfg.n_ctx;
    (void)nth;
    // Tasks come from a shared counter (kite_pool_run_shared): a thread that is descheduled
    // on a busy machine holds no share of the work hostage.
    for (int32_t task; (task = atomic_fetch_add_explicit(&j->next_task, 1, memory_order_relaxed)) < n_tasks;) {
        const int32_t t0 = task / head_tasks * tt, h0 = task % head_tasks * th, kvh = h0 / group;
        const int32_t t1 = t0 + tt < j->n_tok ? t0 + tt : j->n_tok;
        kite_attn_group g = {.mode = j->mode, .head_dim = hd, .kv_stride = hd, .scale = a->scale,
                             .softcap = a->softcap, .scores = scores, .scores_stride = c->cfg.n_ctx};
        int32_t g_seq = -1, g_start = -1;
        for (int32_t t = t0; t <= t1; t++) {
            // causal: token t sees its sequence's cache up to and including its own position; a
            // sliding window also hides the keys `window` or more positions back
            const int32_t tok = t < t1 && j->rows ? j->rows[t] : t; // the step's token of query row t
            const int32_t end = t < t1 ? c->step.pos[tok] + 1 : 0;
            const int32_t start = a->window > 0 && end > a->window ? end - a->window : 0;
            // the group so far goes to the op when this token's keys start at another cache row
            if (g.n_q > 0 && (t == t1 || c->step.seq[tok] != g_seq || start != g_start)) {
                kite_kernels_attend_group(&g);
                g.n_q = 0;
            }
            if (t == t1) break;
            g_seq = c->step.seq[tok];
            g_start = start;
            const size_t off = cache_row(c, j->layer, g_seq, kvh, pos_row(c, j->layer, start));
            g.k = c->k_cache + off;
            g.v = c->v_cache + off;
            for (int32_t h = h0; h < h0 + th; h++) {
                const float *q = j->q + (size_t)t * j->q_stride + (size_t)h * hd;
                float *out = j->out + (size_t)t * j->out_stride + (size_t)h * hd;
                g.q[g.n_q] = q;
                g.out[g.n_q] = out;
                g.n_kv[g.n_q++] = end - start;
            }
        }
    }
}

static void cpu_attention(kite_backend *b, int32_t layer, kite_view q, kite_view out, int32_t n, const int32_t *rows,
                          const kite_attn *a) {
    cpu_backend *c = cpu(b);
    // the mode by the step's tokens, not the rows attending here: llama.cpp's graph attends for
    // every token of the step, so its rounding follows the step's size
    attn_job job = {.c = c, .a = a, .q = at(c, q), .out = at(c, out), .rows = rows, .q_stride = q.stride,
                    .out_stride = out.stride, .n_tok = n, .layer = layer,
                    .mode = attn_mode(c, c->step.n, a->head_dim)};
    // a task's queries: the KV head's query heads (at most KITE_ATTN_GROUP_MAX, a divisor of
    // the group) times as many consecutive tokens as fill KITE_ATTN_GROUP_MAX, fewer while that
    // leaves under 4 tasks per thread (short steps: decoding). FA_F16 (decode) asks for one
    // task per thread only: its group ops share the cache rows' conversions among the heads (the
    // wasm op; the x86 ops take its queries one by one, so their bits never depend on this)
    const int32_t group = a->n_head / a->n_head_kv;
    const int32_t min_tasks = (job.mode == KITE_ATTN_FA_F16 ? 1 : 4) * KITE_MAX(c->cfg.n_threads, 1);
    job.task_heads = KITE_ATTN_GROUP_MAX;
    while (group % job.task_heads != 0) job.task_heads--;
    job.task_tokens = KITE_ATTN_GROUP_MAX / job.task_heads;
    while (job.task_tokens > 1 && (n + job.task_tokens - 1) / job.task_tokens * (a->n_head / job.task_heads) <
                                      min_tasks)
        job.task_tokens /= 2;
    while (job.task_heads > 1 && n * (a->n_head / job.task_heads) < min_tasks) {
        job.task_heads--;
        while (group % job.task_heads != 0) job.task_heads--;
    }
    atomic_init(&job.next_task, 0);
    kite_pool_run_shared(c->pool, attn_worker, &job);
}

// ---- creation ----------------------------------------------------------------------------

static void cpu_free(kite_backend *b) {
    cpu_backend *c = cpu(b);
    if (!c) return;
    kite_pool_free(c->pool);
    for (int i = 0; i < KITE_ACT_COUNT; i++)
        if (i != KITE_ACT_OUT) free(c->acts[i]);
    for (int i = 0; i < ROPE_SLOTS; i++) free(c->rope[i].cs);
    void *moe[] = {c->moe_logits, c->moe_probs, c->moe_ids, c->moe_w, c->moe_slot,
                   c->moe_x,      c->moe_g,     c->moe_u,   c->moe_y, c->moe_out};
    for (size_t i = 0; i < sizeof moe / sizeof moe[0]; i++) free(moe[i]);
    free(c->k_cache);
    free(c->v_cache);
    free(c->layer_base);
    free(c->layer_rows);
    free(c->layer_ring);
    free(c->scores);
    free(c->scratch);
    free(c->add_tmp);
    free(c);
}

// Scratch for the largest matmul of the weights this backend runs.
static size_t max_scratch(const kite_backend_config *cfg) {
    const kite_model *m = cfg->m;
    size_t s = 0;
    if (cfg->output) s = kite_matmul_scratch_size(m->output.type, m->output.n_in, cfg->n_batch);
    for (int32_t il = cfg->layer_first; il < cfg->layer_last; il++) {
        const kite_layer *L = &m->layers[il];
        // an expert gets at most every token of the batch, each once
        const kite_weight *ws[] = {&L->wq,     &L->wk,        &L->wv,        &L->wqkv,     &L->wo,
                                   &L->w_gate, &L->w_up,      &L->w_gate_up, &L->w_down,   &L->ffn_gate_inp,
                                   &L->gate_exps, &L->up_exps, &L->down_exps};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            if (ws[i]->data) s = KITE_MAX(s, kite_matmul_scratch_size(ws[i]->type, ws[i]->n_in, cfg->n_batch));
    }
    return s;
}

kite_status kite__backend_cpu_new(const kite_backend_config *cfg, kite_backend **out) {
    *out = NULL;
    const kite_hparams *hp = &cfg->m->hp;
    cpu_backend *c = calloc(1, sizeof *c);
    if (!c) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    c->b = (kite_backend){
        .name = "cpu",
        .free = cpu_free,
        .begin = cpu_begin,
        .end = cpu_end,
        .write = cpu_write,
        .read = cpu_read,
        .bind_output = cpu_bind_output,
        .embed = cpu_embed,
        .matmul = cpu_matmul,
        .matmul_add = cpu_matmul_add,
        .ffn_swiglu = cpu_ffn_swiglu,
        .ffn_geglu = cpu_ffn_geglu,
        .matmul_cat = cpu_matmul_cat,
        .rmsnorm = cpu_rmsnorm,
        .add = cpu_add,
        .add_bias = cpu_add_bias,
        .scale = cpu_scale,
        .swiglu = cpu_swiglu,
        .gather = cpu_gather,
        .geglu = cpu_geglu,
        .softcap = cpu_softcap,
        .rmsnorm_heads = cpu_rmsnorm_heads,
        .moe = cpu_moe,
        .rope = cpu_rope,
        .kv_store = cpu_kv_store,
        .attention = cpu_attention,
        .set_observer = cpu_set_observer,
    };
    c->cfg = *cfg;
    c->attend = kite_kernels_attend();

    const size_t B = (size_t)cfg->n_batch, E = (size_t)hp->n_embd, hd = (size_t)hp->head_dim;
    const size_t q_dim = hd * hp->n_head, kv_dim = hd * hp->n_head_kv, F = (size_t)hp->n_ff;
    const size_t n_layers = (size_t)(cfg->layer_last - cfg->layer_first);
    bool ok = true;
    ok = ok && (c->layer_base = malloc(KITE_MAX(n_layers, 1) * sizeof *c->layer_base));
    ok = ok && (c->layer_rows = malloc(KITE_MAX(n_layers, 1) * sizeof *c->layer_rows));
    ok = ok && (c->layer_ring = malloc(KITE_MAX(n_layers, 1) * sizeof *c->layer_ring));
    size_t kv_elems = 0;
    for (size_t l = 0; ok && l < n_layers; l++) {
        const bool swa = cfg->m->layers[cfg->layer_first + (int32_t)l].swa && hp->n_swa > 0;
        // the ring pays off once it is shorter than the context (context.c knows its length too:
        // a sequence cut back must still find its window there)
        const int32_t ring = swa ? kite__swa_ring(hp, cfg->n_batch, cfg->n_ctx) : 0;
        c->layer_ring[l] = ring;
        c->layer_rows[l] = ring ? ring + hp->n_swa - 1 : cfg->n_ctx;
        c->layer_base[l] = kv_elems;
        kv_elems += (size_t)cfg->n_seq * (size_t)c->layer_rows[l] * kv_dim;
    }
    c->b.kv_bytes = (uint64_t)kv_elems * 2 * sizeof(uint16_t);
    const size_t widths[KITE_ACT_COUNT] = {
        [KITE_ACT_X] = E,           [KITE_ACT_XN] = KITE_MAX(E, q_dim), [KITE_ACT_QKV] = q_dim + 2 * kv_dim,
        [KITE_ACT_Q] = q_dim,       [KITE_ACT_K] = kv_dim,              [KITE_ACT_V] = kv_dim,
        [KITE_ACT_ATT] = q_dim,     [KITE_ACT_FF] = 2 * F,              [KITE_ACT_FF2] = F,
    };
    for (int i = 0; i < KITE_ACT_COUNT; i++)
        if (widths[i]) ok = ok && (c->acts[i] = malloc(B * widths[i] * sizeof(float)));
    for (int i = 0; i < ROPE_SLOTS; i++) ok = ok && (c->rope[i].cs = malloc(B * (size_t)KITE_MAX(hp->n_rot, 2) * sizeof(float)));
    c->n_head_kv = hp->n_head_kv;
    c->head_dim = hp->head_dim;
    if (kv_elems) {
        // on 64-byte lines: a head's row (128 B at head size 64) then spans 2 cache lines, not 3,
        // which decode's attention, waiting on these rows at depth, reads a third fewer of
        const size_t kv_bytes = (kv_elems * sizeof(uint16_t) + 63) & ~(size_t)63;
        ok = ok && (c->k_cache = aligned_alloc(64, kv_bytes));
        ok = ok && (c->v_cache = aligned_alloc(64, kv_bytes));
    }
    ok = ok && (c->scores = malloc((size_t)KITE_MAX(cfg->n_threads, 1) * KITE_ATTN_GROUP_MAX * (size_t)cfg->n_ctx *
                                   sizeof(float)));
    c->scratch_size = max_scratch(cfg);
    c->add_width = (int64_t)E; // matmul_add's targets: the residual rows
    ok = ok && (c->add_tmp = malloc(B * E * sizeof(float)));
    ok = ok && (c->scratch = malloc(c->scratch_size ? c->scratch_size : 1));
    if (hp->n_expert > 0 && n_layers > 0) {
        const size_t X = (size_t)hp->n_expert, R = B * (size_t)hp->n_expert_used, FE = (size_t)hp->n_ff_exp;
        ok = ok && (c->moe_logits = malloc(B * X * sizeof(float)));
        ok = ok && (c->moe_probs = malloc(X * sizeof(float)));
        ok = ok && (c->moe_ids = malloc(R * sizeof(int32_t)));
        ok = ok && (c->moe_w = malloc(R * sizeof(float)));
        ok = ok && (c->moe_slot = malloc(R * sizeof(int32_t)));
        ok = ok && (c->moe_x = malloc(R * E * sizeof(float)));
        ok = ok && (c->moe_g = malloc(R * FE * sizeof(float)));
        ok = ok && (c->moe_u = malloc(R * FE * sizeof(float)));
        ok = ok && (c->moe_y = malloc(R * E * sizeof(float)));
        ok = ok && (c->moe_out = malloc(R * E * sizeof(float)));
    }
    if (!ok) {
        cpu_free(&c->b);
        return kite__fail(KITE_ERR_NOMEM, "out of memory for a context of %d tokens (KV cache %llu MiB)", cfg->n_ctx,
                          (unsigned long long)(kv_elems * 4 >> 20));
    }
    if (cfg->n_threads > 1) c->pool = kite_pool_new(cfg->n_threads); // NULL (inline) is a valid fallback
    *out = &c->b;
    return KITE_OK;
}
