// matmul.c - kite_matmul and kite_matmul_parts: converts the activations once to the weight
// type's partner format, then splits the rows of the weight matrices (one, or a few that read
// the same activations) over the pool's threads in one run and runs the active kernel set's tiles.
#include "kernels/kernels_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

// Rows per thread are a multiple of this, so every ISA's multi-row kernel (2-4 rows per pass)
// and the packed GEMM's 16-row groups run full except in the last chunk.
enum { ROW_ALIGN = 16 };
// GEMM blocking: a block of ROW_BLOCK weight rows (a few KB to tens of KB) stays in L1/L2 while
// TOK_BLOCK tokens' activations (at most ~100 KB for n_in <= 1536 in Q8) stream past it; a kernel
// set may ask for other sizes (gemm_rows, gemm_tokens: the AMX tiles decode their rows once per
// call, so they take more tokens at a time).
enum { ROW_BLOCK = 16, TOK_BLOCK = 64 };
// Row chunks per thread. Each thread owns a contiguous span of chunks and runs it front to back,
// one unbroken stream of weight rows; a thread done with its span takes chunks from the back of
// the others' spans, so a thread that starts late (a busy machine, a slower core) leaves its
// share to the others instead of stalling the whole matmul. More chunks: finer stealing.
enum { CHUNKS_PER_THREAD = 8 };
// Spans of a run (threads beyond it share spans).
enum { SPANS_MAX = 16 };

// A thread's span of chunks [front, back), both in one word (front low, back high 32 bits):
// the owner takes the front chunk, thieves the back one, each with one compare-exchange.
typedef struct mm_span {
    _Alignas(64) _Atomic uint64_t fb;
} mm_span;
// Tokens below which the caller converts activations alone (a pool dispatch costs more).
enum { PAR_QUANT_MIN_TOK = 4 };
enum { SCRATCH_ALIGN = 64 };

kite_type kite_matmul_act_type(kite_type wtype) { return kite__dot_partner(wtype); }

bool kite_matmul_supports(kite_type wtype) {
    kite_type p = kite__dot_partner(wtype);
    return p != KITE_TYPE_COUNT && kite__kernels_active()->tile[wtype] != NULL;
}

static size_t act_row_bytes(kite_type partner, int64_t n_in) {
    return (size_t)kite_type_row_bytes(partner, (uint64_t)n_in);
}

size_t kite_matmul_scratch_size(kite_type wtype, int64_t n_in, int64_t n_tok) {
    kite_type p = kite__dot_partner(wtype);
    if (p == KITE_TYPE_COUNT || n_in <= 0 || n_tok <= 0) return 0;
    if (p == KITE_TYPE_F32) return SCRATCH_ALIGN; // activations are used in place
    return (size_t)n_tok * act_row_bytes(p, n_in) + SCRATCH_ALIGN;
}

void kite__tile_call(kite__tile_fn tile, int n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,
                     float *y, size_t ys) {
    tile(n, w, ws, nr, a, as, nt, y, ys);
}

// One matrix of a call: its weights, its output columns and its share of the chunks.
typedef struct mm_part {
    kite__tile_fn tile;
    kite_type wtype;
    const char *w; // weight rows of `ws` bytes (in `layout`)
    size_t ws;
    kite_weight_layout layout;
    kite__tile_fn gemv_x8; // the set's X8 GEMV for the type, or NULL
    kite__tile_fn gemm_x8; // the set's X8 GEMM tile for the type from KITE_X8_GEMM_MIN tokens, or NULL
    int64_t n_out;
    float *y;  // row t of the output at y + t * ys
    size_t ys;
    int64_t chunk_rows, first_chunk; // rows per chunk (a multiple of ROW_ALIGN); the part's first chunk
} mm_part;

typedef struct mm_job {
    const kite__kernels *k;
    kite_type partner;
    const float *x; // f32 activations
    char *a;        // converted activations, one row of `as` bytes per token
    size_t as;
    int n_in;
    int64_t n_tok;
    mm_part *parts;
    int n_parts;
    bool lockstep;   // a chunk is the same rows of every part (equal n_out)
    int64_t n_chunks; // chunks in all
    kite_matmul_done done;
    void *user;
    atomic_llong next_tok; // the next token whose activation row nobody has converted
    atomic_int failed;       // a worker could not allocate its row buffer
    int n_spans;
    mm_span spans[SPANS_MAX];
} mm_job;

// Converts activation rows [t0, t1) to the partner format.
static void convert_rows(const mm_job *j, int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
        const float *x = j->x + t * j->n_in;
        void *dst = j->a + t * j->as;
        switch (j->partner) {
        case KITE_TYPE_Q8_0: j->k->quant_q8_0(x, dst, j->n_in); break;
        case KITE_TYPE_Q8_1: j->k->quant_q8_1(x, dst, j->n_in); break;
        case KITE_TYPE_Q8_K: j->k->quant_q8_K(x, dst, j->n_in); break;
        case KITE_TYPE_F16: {
            kite_f16 *h = dst;
            for (int i = 0; i < j->n_in; i++) h[i] = kite_f32_to_f16(x[i]);
            break;
        }
        case KITE_TYPE_BF16: {
            kite_bf16 *h = dst;
            for (int i = 0; i < j->n_in; i++) h[i] = kite_f32_to_bf16(x[i]);
            break;
        }
        default: KITE_ASSERT(!"unreachable partner");
        }
    }
}

// Converts tokens taken 4 at a time from the shared counter (a shared pool run).
static void convert_worker(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    (void)ith, (void)nth;
    for (;;) {
        int64_t t0 = atomic_fetch_add_explicit(&j->next_tok, 4, memory_order_relaxed);
        if (t0 >= j->n_tok) return;
        convert_rows(j, t0, KITE_MIN(j->n_tok, t0 + 4));
    }
}

// Rows per GEMM row block: the set's, else ROW_BLOCK.
static int64_t gemm_row_block(const mm_job *j) { return j->k->gemm_rows ? j->k->gemm_rows : ROW_BLOCK; }

// The GEMM tiles of one row block: rows rb .. rb + nr - 1, their weights at w (in the layout
// `tile` reads), for every token, TOK_BLOCK (or the set's gemm_tokens) tokens a tile.
static void gemm_row_tiles(const mm_job *j, const mm_part *p, kite__tile_fn tile, const char *w, int64_t rb, int nr) {
    const int64_t tok_block = j->k->gemm_tokens ? j->k->gemm_tokens : TOK_BLOCK;
    for (int64_t tb = 0; tb < j->n_tok; tb += tok_block) {
        int nt = (int)KITE_MIN(tok_block, j->n_tok - tb);
        tile(j->n_in, w, p->ws, nr, j->a + tb * j->as, j->as, nt, p->y + tb * (int64_t)p->ys + rb, p->ys);
    }
}

static bool x8_direct(const mm_job *j, const mm_part *p) { return p->gemv_x8 && j->n_tok < KITE_X8_GEMM_MIN; }

// Whether the X8 rows are read back into the row layout (no X8 GEMV or GEMM tile for the count).
static bool x8_read_back(const mm_job *j, const mm_part *p) { return !x8_direct(j, p) && !p->gemm_x8; }

// X8 weights: below KITE_X8_GEMM_MIN tokens the set's X8 GEMV reads the groups in place (the tail
// rows are rows), from there its X8 GEMM tiles do; without one each ROW_BLOCK (or gemm_rows) rows
// are read back into the row layout in `rows` first, then the GEMM tiles run on them.
static void run_rows_x8(const mm_job *j, const mm_part *p, int64_t r0, int64_t r1, char *rows) {
    const int64_t grouped = KITE_MIN(r1, p->n_out & ~(int64_t)7);
    if (x8_direct(j, p)) {
        KITE_ASSERT(r0 % 8 == 0);
        const int nt = (int)j->n_tok, rest = (int)KITE_MAX(r0, grouped);
        if (grouped > r0)
            p->gemv_x8(j->n_in, p->w + r0 * p->ws, p->ws, (int)(grouped - r0), j->a, j->as, nt, p->y + r0, p->ys);
        if (r1 > rest)
            p->tile(j->n_in, p->w + rest * p->ws, p->ws, (int)(r1 - rest), j->a, j->as, nt, p->y + rest, p->ys);
        return;
    }
    const int64_t row_block = gemm_row_block(j);
    for (int64_t rb = r0; rb < r1; rb += row_block) {
        int nr = (int)KITE_MIN(row_block, r1 - rb);
        if (x8_read_back(j, p)) {
            kite__x8_rows(p->wtype, p->w, p->ws, p->n_out, rb, nr, rows);
            gemm_row_tiles(j, p, p->tile, rows, rb, nr);
            continue;
        }
        // the block's whole groups in place (it starts at one: chunks and blocks are multiples
        // of 8 rows), then its tail rows in the row layout
        const int ng = (int)KITE_MAX(0, KITE_MIN(rb + nr, grouped) - rb);
        KITE_ASSERT(ng == 0 || rb % 8 == 0);
        if (ng > 0) gemm_row_tiles(j, p, p->gemm_x8, p->w + rb * p->ws, rb, ng);
        if (nr > ng) gemm_row_tiles(j, p, p->tile, p->w + (rb + ng) * p->ws, rb + ng, nr - ng);
    }
}

// Rows [r0, r1) for every token: one tile call for GEMV, ROW_BLOCK x TOK_BLOCK tiles for GEMM.
static void run_rows(const mm_job *j, const mm_part *p, int64_t r0, int64_t r1, char *rows) {
    if (p->layout == KITE_LAYOUT_X8) {
        run_rows_x8(j, p, r0, r1, rows);
        return;
    }
    if (j->n_tok == 1) { // GEMV: the tile kernel walks the whole chunk a few rows at a time
        p->tile(j->n_in, p->w + r0 * p->ws, p->ws, (int)(r1 - r0), j->a, j->as, 1, p->y + r0, p->ys);
        return;
    }
    const int64_t row_block = gemm_row_block(j);
    for (int64_t rb = r0; rb < r1; rb += row_block)
        gemm_row_tiles(j, p, p->tile, p->w + rb * p->ws, rb, (int)KITE_MIN(row_block, r1 - rb));
}

// Takes chunks of span s into [*c, *c + *k): from the front half of what is left (at least
// one), or from the back one; false when the span is empty. The owner's few large takes are few
// kernel calls (each GEMV call sets itself up again: the wasm ones widen the activations into a
// table); the thieves' single chunks keep the end of a run balanced.
static bool span_take(mm_span *s, bool back, int64_t *c, int64_t *k) {
    uint64_t v = atomic_load_explicit(&s->fb, memory_order_relaxed);
    for (;;) {
        const uint32_t f = (uint32_t)v, b = (uint32_t)(v >> 32);
        if (f >= b) return false;
        const uint32_t n = back ? 1 : (b - f + 1) / 2;
        const uint64_t nv = back ? ((uint64_t)(b - 1) << 32 | f) : ((uint64_t)b << 32 | (f + n));
        if (atomic_compare_exchange_weak_explicit(&s->fb, &v, nv, memory_order_relaxed, memory_order_relaxed)) {
            *c = back ? b - 1 : f;
            *k = n;
            return true;
        }
    }
}

// The next chunks [*c, *c + *k) for thread ith: from its own span's front, else one from
// another span's back; false when no chunk is left.
static bool next_chunks(mm_job *j, int ith, int64_t *c, int64_t *k) {
    const int own = ith % j->n_spans;
    if (span_take(&j->spans[own], false, c, k)) return true;
    for (int o = 1; o < j->n_spans; o++)
        if (span_take(&j->spans[(own + o) % j->n_spans], true, c, k)) return true;
    return false;
}

// Bytes of weights chunk c reads (its rows of every part in lockstep, else of its part).
static int64_t chunk_bytes(const mm_job *j, int64_t c) {
    if (j->lockstep) {
        const int64_t cr = j->parts[0].chunk_rows, rows = KITE_MIN(cr, j->parts[0].n_out - c * cr);
        int64_t ws = 0;
        for (int i = 0; i < j->n_parts; i++) ws += (int64_t)j->parts[i].ws;
        return rows * ws;
    }
    int i = j->n_parts - 1;
    while (j->parts[i].first_chunk > c) i--;
    const mm_part *p = &j->parts[i];
    return KITE_MIN(p->chunk_rows, p->n_out - (c - p->first_chunk) * p->chunk_rows) * (int64_t)p->ws;
}

// Splits the job's chunks into contiguous spans, one per thread (up to SPANS_MAX), of about
// equal bytes: each cut at the chunk boundary nearest to its share (parts of different sizes
// have chunks of different sizes, so equal chunk counts could be unequal work).
static void spans_init(mm_job *j, int nth, int64_t total_bytes) {
    j->n_spans = KITE_MAX(1, KITE_MIN(nth, SPANS_MAX));
    int64_t c = 0, done = 0;
    for (int s = 0; s < j->n_spans; s++) {
        const uint64_t f = (uint64_t)c;
        if (s == j->n_spans - 1) {
            c = j->n_chunks;
        } else {
            const int64_t share = total_bytes / j->n_spans * (s + 1) + total_bytes % j->n_spans * (s + 1) / j->n_spans;
            for (int64_t b; c < j->n_chunks && done + (b = chunk_bytes(j, c)) / 2 < share; c++) done += b;
        }
        atomic_init(&j->spans[s].fb, (uint64_t)c << 32 | f);
    }
}

static void matmul_worker(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    (void)nth;
    char *rows = NULL; // X8 weights read back into rows (not needed by the X8 GEMV or GEMM tile)
    size_t most = 0;   // the widest row of a part that reads its X8 rows back
    for (int i = 0; i < j->n_parts; i++) {
        const mm_part *p = &j->parts[i];
        if (p->layout == KITE_LAYOUT_X8 && x8_read_back(j, p)) most = KITE_MAX(most, p->ws);
    }
    if (most && !(rows = malloc((size_t)gemm_row_block(j) * most))) {
        atomic_store(&j->failed, 1);
        return;
    }
    int64_t c, k;
    while (next_chunks(j, ith, &c, &k)) {
        if (j->lockstep) { // the same rows of every part, then the callback
            const int64_t cr = j->parts[0].chunk_rows, r0 = c * cr, r1 = KITE_MIN(j->parts[0].n_out, (c + k) * cr);
            for (int i = 0; i < j->n_parts; i++) run_rows(j, &j->parts[i], r0, r1, rows);
            if (j->done) j->done(j->user, -1, r0, r1);
            continue;
        }
        for (const int64_t end = c + k; c < end;) { // the chunks of each part in the range, one call
            int i = j->n_parts - 1;
            while (j->parts[i].first_chunk > c) i--;
            const mm_part *p = &j->parts[i];
            const int64_t last = i + 1 < j->n_parts ? KITE_MIN(end, j->parts[i + 1].first_chunk) : end;
            const int64_t r0 = (c - p->first_chunk) * p->chunk_rows,
                          r1 = KITE_MIN(p->n_out, (last - p->first_chunk) * p->chunk_rows);
            run_rows(j, p, r0, r1, rows);
            if (j->done) j->done(j->user, i, r0, r1);
            c = last;
        }
    }
    free(rows);
}

kite_status kite_matmul(kite_pool *pool, kite_type wtype, const void *w, int64_t n_in, int64_t n_out,
                        const float *x, int64_t n_tok, float *y, void *scratch, size_t scratch_size) {
    return kite_matmul_layout(pool, wtype, KITE_LAYOUT_ROWS, w, n_in, n_out, x, n_tok, y, scratch, scratch_size);
}

kite_status kite_matmul_layout(kite_pool *pool, kite_type wtype, kite_weight_layout layout, const void *w,
                               int64_t n_in, int64_t n_out, const float *x, int64_t n_tok, float *y, void *scratch,
                               size_t scratch_size) {
    const kite_matmul_part part = {.wtype = wtype, .layout = layout, .w = w, .n_out = n_out, .y = y, .y_stride = n_out};
    return kite_matmul_parts(pool, &part, 1, false, n_in, x, n_tok, NULL, NULL, scratch, scratch_size);
}

// Checks one part of a call; fills its kernels.
static kite_status part_setup(const kite__kernels *k, const kite_matmul_part *in, int64_t n_in, int64_t n_tok,
                              mm_part *p) {
    const kite_type wtype = in->wtype;
    kite_type partner = kite__dot_partner(wtype);
    if (partner == KITE_TYPE_COUNT || (unsigned)wtype >= KITE_TYPE_COUNT || !k->tile[wtype])
        return kite__fail(KITE_ERR_UNSUPPORTED, "matmul: no kernel for weight type %s", kite_type_name(wtype));
    const kite_type_traits *wt = kite_type_get(wtype), *pt = kite_type_get(partner);
    if (n_in <= 0 || in->n_out <= 0 || n_tok <= 0 || n_in > INT32_MAX / 2 || in->y_stride < in->n_out)
        return kite__fail(KITE_ERR_INVALID, "matmul: bad shape n_in=%lld n_out=%lld n_tok=%lld", (long long)n_in,
                          (long long)in->n_out, (long long)n_tok);
    if (n_in % wt->block_size != 0 || n_in % pt->block_size != 0)
        return kite__fail(KITE_ERR_INVALID, "matmul: row length %lld is not a multiple of the %s block size",
                          (long long)n_in, n_in % wt->block_size ? wt->name : pt->name);
    if (!in->w || !in->y) return kite__fail(KITE_ERR_INVALID, "matmul: NULL operand");
    const kite_weight_layout layout = in->layout;
    if (layout != KITE_LAYOUT_ROWS && !(layout == KITE_LAYOUT_X8 && kite_matmul_x8_type(wtype)))
        return kite__fail(KITE_ERR_UNSUPPORTED, "matmul: no layout %d for %s", (int)layout, kite_type_name(wtype));
    *p = (mm_part){
        .tile = k->tile[wtype], .wtype = wtype, .w = in->w, .ws = (size_t)kite_type_row_bytes(wtype, (uint64_t)n_in),
        .layout = layout, .n_out = in->n_out, .y = in->y, .ys = (size_t)in->y_stride,
        .gemv_x8 = layout == KITE_LAYOUT_X8 ? k->gemv_x8[wtype] : NULL,
        .gemm_x8 = layout == KITE_LAYOUT_X8 && n_tok >= KITE_X8_GEMM_MIN ? k->gemm_x8[wtype] : NULL,
    };
    return KITE_OK;
}

// Rows per chunk of a part of n_out rows of ws bytes in a run of total_bytes of weights over
// nth threads: about nth * CHUNKS_PER_THREAD chunks of equal bytes in all, a ROW_ALIGN multiple
// (one part alone: its rows split into that many chunks); at one thread the whole part.
static int64_t chunk_rows_for(int64_t n_out, int64_t ws, int64_t total_bytes, int nth) {
    if (nth == 1) return n_out;
    const int64_t n_chunks = (int64_t)nth * CHUNKS_PER_THREAD, bytes = (total_bytes + n_chunks - 1) / n_chunks;
    const int64_t per = (bytes + ws - 1) / ws;
    return (per + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
}

kite_status kite_matmul_parts(kite_pool *pool, const kite_matmul_part *parts, int n_parts, bool lockstep, int64_t n_in,
                              const float *x, int64_t n_tok, kite_matmul_done done, void *user, void *scratch,
                              size_t scratch_size) {
    const kite__kernels *k = kite__kernels_active();
    if (n_parts < 1 || n_parts > KITE_MATMUL_PARTS_MAX || !x)
        return kite__fail(KITE_ERR_INVALID, "matmul: %d parts", n_parts);
    mm_part ps[KITE_MATMUL_PARTS_MAX];
    for (int i = 0; i < n_parts; i++) {
        KITE_TRY(part_setup(k, &parts[i], n_in, n_tok, &ps[i]));
        if (lockstep && parts[i].n_out != parts[0].n_out)
            return kite__fail(KITE_ERR_INVALID, "matmul: lockstep parts of %lld and %lld rows",
                              (long long)parts[0].n_out, (long long)parts[i].n_out);
    }
    const kite_type partner = kite__dot_partner(parts[0].wtype);
    for (int i = 1; i < n_parts; i++)
        if (kite__dot_partner(parts[i].wtype) != partner) { // activations of two formats: one call each
            for (int q = 0; q < n_parts; q++) {
                KITE_TRY(kite_matmul_parts(pool, &parts[q], 1, false, n_in, x, n_tok, NULL, NULL, scratch,
                                           scratch_size));
                if (done && !lockstep) done(user, q, 0, parts[q].n_out);
            }
            if (done && lockstep) done(user, -1, 0, parts[0].n_out);
            return KITE_OK;
        }

    mm_job j = {.k = k, .partner = partner, .x = x, .n_in = (int)n_in, .n_tok = n_tok, .parts = ps,
                .n_parts = n_parts, .lockstep = lockstep, .done = done, .user = user};
    void *owned = NULL;
    if (partner == KITE_TYPE_F32) {
        j.a = (char *)x;
        j.as = (size_t)n_in * sizeof(float);
    } else {
        size_t need = kite_matmul_scratch_size(parts[0].wtype, n_in, n_tok);
        if (!scratch) {
            scratch = owned = malloc(need);
            if (!owned) return kite__fail(KITE_ERR_NOMEM, "matmul: cannot allocate %zu scratch bytes", need);
            scratch_size = need;
        }
        if (scratch_size < need)
            return kite__fail(KITE_ERR_INVALID, "matmul: scratch of %zu bytes, %zu needed", scratch_size, need);
        uintptr_t p = ((uintptr_t)scratch + SCRATCH_ALIGN - 1) & ~(uintptr_t)(SCRATCH_ALIGN - 1);
        j.a = (char *)p;
        j.as = act_row_bytes(partner, n_in);
        if (pool && n_tok >= PAR_QUANT_MIN_TOK) {
            atomic_init(&j.next_tok, 0);
            kite_pool_run_shared(pool, convert_worker, &j);
        } else {
            convert_rows(&j, 0, n_tok);
        }
    }
    const int nth = kite_pool_size(pool);
    int64_t total = 0; // bytes of weights in the run
    for (int i = 0; i < n_parts; i++) total += ps[i].n_out * (int64_t)ps[i].ws;
    if (lockstep) { // chunks of the same rows of every part, as one matrix of their summed rows would have
        int64_t ws = 0; // bytes of a chunk row: that row of every part
        for (int i = 0; i < n_parts; i++) ws += (int64_t)ps[i].ws;
        const int64_t cr = chunk_rows_for(ps[0].n_out, ws, total, nth);
        for (int i = 0; i < n_parts; i++) ps[i].chunk_rows = cr;
        j.n_chunks = (ps[0].n_out + cr - 1) / cr;
    } else {
        for (int i = 0; i < n_parts; i++) {
            ps[i].chunk_rows = chunk_rows_for(ps[i].n_out, (int64_t)ps[i].ws, total, nth);
            ps[i].first_chunk = j.n_chunks;
            j.n_chunks += (ps[i].n_out + ps[i].chunk_rows - 1) / ps[i].chunk_rows;
        }
    }
    spans_init(&j, nth, total);
    atomic_init(&j.failed, 0);
    kite_pool_run_shared(pool, matmul_worker, &j);
    free(owned);
    if (atomic_load(&j.failed)) return kite__fail(KITE_ERR_NOMEM, "matmul: out of memory for a row block");
    return KITE_OK;
}
