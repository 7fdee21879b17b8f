// matmul.c - kite_matmul: converts the activations once to the weight type's partner format,
// then splits the weight rows over the pool's threads and runs the active kernel set's tiles.
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
// Row chunks per thread: threads take chunks from a shared counter, so a thread that starts
// late (a busy machine, a slower core) leaves its share to the others instead of stalling the
// whole matmul; a few chunks per thread keep each chunk long enough to stream well.
enum { CHUNKS_PER_THREAD = 4 };
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

typedef struct mm_job {
    const kite__kernels *k;
    kite__tile_fn tile;
    kite_type wtype, partner;
    const float *x; // f32 activations
    char *a;        // converted activations, one row of `as` bytes per token
    size_t as;
    const char *w; // weight rows of `ws` bytes (in `layout`)
    size_t ws;
    kite_weight_layout layout;
    kite__tile_fn gemv_x8; // the set's X8 GEMV for the type, or NULL
    kite__tile_fn gemm_x8; // the set's X8 GEMM tile for the type from KITE_X8_GEMM_MIN tokens, or NULL
    int n_in;
    int64_t n_out, n_tok;
    float *y;
    int64_t chunk_rows, n_chunks; // rows per chunk (a multiple of ROW_ALIGN), chunks in all
    atomic_llong next_chunk;      // the next chunk nobody has taken
    atomic_int failed;            // a worker could not allocate its row buffer
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
        int64_t t0 = atomic_fetch_add_explicit(&j->next_chunk, 4, memory_order_relaxed);
        if (t0 >= j->n_tok) return;
        convert_rows(j, t0, KITE_MIN(j->n_tok, t0 + 4));
    }
}

// Rows per GEMM row block: the set's, else ROW_BLOCK.
static int64_t gemm_row_block(const mm_job *j) { return j->k->gemm_rows ? j->k->gemm_rows : ROW_BLOCK; }

// The GEMM tiles of one row block: rows rb .. rb + nr - 1, their weights at w (in the layout
// `tile` reads), for every token, TOK_BLOCK (or the set's gemm_tokens) tokens a tile.
static void gemm_row_tiles(const mm_job *j, kite__tile_fn tile, const char *w, int64_t rb, int nr) {
    const int64_t tok_block = j->k->gemm_tokens ? j->k->gemm_tokens : TOK_BLOCK;
    for (int64_t tb = 0; tb < j->n_tok; tb += tok_block) {
        int nt = (int)KITE_MIN(tok_block, j->n_tok - tb);
        tile(j->n_in, w, j->ws, nr, j->a + tb * j->as, j->as, nt, j->y + tb * j->n_out + rb, (size_t)j->n_out);
    }
}

static bool x8_direct(const mm_job *j) { return j->gemv_x8 && j->n_tok < KITE_X8_GEMM_MIN; }

// Whether the X8 rows are read back into the row layout (no X8 GEMV or GEMM tile for the count).
static bool x8_read_back(const mm_job *j) { return !x8_direct(j) && !j->gemm_x8; }

// X8 weights: below KITE_X8_GEMM_MIN tokens the set's X8 GEMV reads the groups in place (the tail
// rows are rows), from there its X8 GEMM tiles do; without one each ROW_BLOCK (or gemm_rows) rows
// are read back into the row layout in `rows` first, then the GEMM tiles run on them.
static void run_rows_x8(const mm_job *j, int64_t r0, int64_t r1, char *rows) {
    const int64_t grouped = KITE_MIN(r1, j->n_out & ~(int64_t)7);
    if (x8_direct(j)) {
        KITE_ASSERT(r0 % 8 == 0);
        const int nt = (int)j->n_tok, rest = (int)KITE_MAX(r0, grouped);
        if (grouped > r0)
            j->gemv_x8(j->n_in, j->w + r0 * j->ws, j->ws, (int)(grouped - r0), j->a, j->as, nt, j->y + r0,
                       (size_t)j->n_out);
        if (r1 > rest) j->tile(j->n_in, j->w + rest * j->ws, j->ws, (int)(r1 - rest), j->a, j->as, nt, j->y + rest,
                               (size_t)j->n_out);
        return;
    }
    const int64_t row_block = gemm_row_block(j);
    for (int64_t rb = r0; rb < r1; rb += row_block) {
        int nr = (int)KITE_MIN(row_block, r1 - rb);
        if (x8_read_back(j)) {
            kite__x8_rows(j->wtype, j->w, j->ws, j->n_out, rb, nr, rows);
            gemm_row_tiles(j, j->tile, rows, rb, nr);
            continue;
        }
        // the block's whole groups in place (it starts at one: chunks and blocks are multiples
        // of 8 rows), then its tail rows in the row layout
        const int ng = (int)KITE_MAX(0, KITE_MIN(rb + nr, grouped) - rb);
        KITE_ASSERT(ng == 0 || rb % 8 == 0);
        if (ng > 0) gemm_row_tiles(j, j->gemm_x8, j->w + rb * j->ws, rb, ng);
        if (nr > ng) gemm_row_tiles(j, j->tile, j->w + (rb + ng) * j->ws, rb + ng, nr - ng);
    }
}

// Rows [r0, r1) for every token: one tile call for GEMV, ROW_BLOCK x TOK_BLOCK tiles for GEMM.
static void run_rows(const mm_job *j, int64_t r0, int64_t r1) {
    if (j->n_tok == 1) { // GEMV: the tile kernel walks the whole chunk a few rows at a time
        j->tile(j->n_in, j->w + r0 * j->ws, j->ws, (int)(r1 - r0), j->a, j->as, 1, j->y + r0, (size_t)j->n_out);
        return;
    }
    const int64_t row_block = gemm_row_block(j);
    for (int64_t rb = r0; rb < r1; rb += row_block)
        gemm_row_tiles(j, j->tile, j->w + rb * j->ws, rb, (int)KITE_MIN(row_block, r1 - rb));
}

static void matmul_worker(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    (void)ith, (void)nth;
    char *rows = NULL; // X8 weights read back into rows (not needed by the X8 GEMV or GEMM tile)
    if (j->layout == KITE_LAYOUT_X8 && x8_read_back(j)) {
        rows = malloc((size_t)gemm_row_block(j) * j->ws);
        if (!rows) {
            atomic_store(&j->failed, 1);
            return;
        }
    }
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&j->next_chunk, 1, memory_order_relaxed);
        if (c >= j->n_chunks) break;
        int64_t r0 = c * j->chunk_rows;
        if (j->layout == KITE_LAYOUT_X8)
            run_rows_x8(j, r0, KITE_MIN(j->n_out, r0 + j->chunk_rows), rows);
        else
            run_rows(j, r0, KITE_MIN(j->n_out, r0 + j->chunk_rows));
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
    const kite__kernels *k = kite__kernels_active();
    kite_type partner = kite__dot_partner(wtype);
    if (partner == KITE_TYPE_COUNT || (unsigned)wtype >= KITE_TYPE_COUNT || !k->tile[wtype])
        return kite__fail(KITE_ERR_UNSUPPORTED, "matmul: no kernel for weight type %s", kite_type_name(wtype));
    const kite_type_traits *wt = kite_type_get(wtype), *pt = kite_type_get(partner);
    if (n_in <= 0 || n_out <= 0 || n_tok <= 0 || n_in > INT32_MAX / 2)
        return kite__fail(KITE_ERR_INVALID, "matmul: bad shape n_in=%lld n_out=%lld n_tok=%lld", (long long)n_in,
                          (long long)n_out, (long long)n_tok);
    if (n_in % wt->block_size != 0 || n_in % pt->block_size != 0)
        return kite__fail(KITE_ERR_INVALID, "matmul: row length %lld is not a multiple of the %s block size",
                          (long long)n_in, n_in % wt->block_size ? wt->name : pt->name);
    if (!w || !x || !y) return kite__fail(KITE_ERR_INVALID, "matmul: NULL operand");
    if (layout != KITE_LAYOUT_ROWS && !(layout == KITE_LAYOUT_X8 && kite_matmul_x8_type(wtype)))
        return kite__fail(KITE_ERR_UNSUPPORTED, "matmul: no layout %d for %s", (int)layout, kite_type_name(wtype));

    mm_job j = {
        .k = k, .tile = k->tile[wtype], .wtype = wtype, .partner = partner, .x = x, .w = w,
        .ws = (size_t)kite_type_row_bytes(wtype, (uint64_t)n_in), .n_in = (int)n_in,
        .n_out = n_out, .n_tok = n_tok, .y = y, .layout = layout,
        .gemv_x8 = layout == KITE_LAYOUT_X8 ? k->gemv_x8[wtype] : NULL,
        .gemm_x8 = layout == KITE_LAYOUT_X8 && n_tok >= KITE_X8_GEMM_MIN ? k->gemm_x8[wtype] : NULL,
    };
    void *owned = NULL;
    if (partner == KITE_TYPE_F32) {
        j.a = (char *)x;
        j.as = (size_t)n_in * sizeof(float);
    } else {
        size_t need = kite_matmul_scratch_size(wtype, n_in, n_tok);
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
            atomic_init(&j.next_chunk, 0);
            kite_pool_run_shared(pool, convert_worker, &j);
        } else {
            convert_rows(&j, 0, n_tok);
        }
    }
    int nth = kite_pool_size(pool);
    int64_t per = (n_out + (int64_t)nth * CHUNKS_PER_THREAD - 1) / ((int64_t)nth * CHUNKS_PER_THREAD);
    j.chunk_rows = nth == 1 ? n_out : (per + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
    j.n_chunks = (n_out + j.chunk_rows - 1) / j.chunk_rows;
    atomic_store(&j.next_chunk, 0); // (reused after the conversion run)
    atomic_init(&j.failed, 0);
    kite_pool_run_shared(pool, matmul_worker, &j);
    free(owned);
    if (atomic_load(&j.failed)) return kite__fail(KITE_ERR_NOMEM, "matmul: out of memory for a row block");
    return KITE_OK;
}
