// kernel_kinds.h - the weight-format kinds the ISA tile files (x86, NEON, wasm) switch on, and
// the block facts they share, in one place.
#ifndef KITE_KERNEL_KINDS_H
#define KITE_KERNEL_KINDS_H

#include <stddef.h>

#include "blocks/kite_blocks.h"

// 32-element blocks, dotted with Q8_0 (Q8_1 for the two with a min term).
enum { K_Q4_0, K_Q4_1, K_Q5_0, K_Q5_1, K_Q8_0, K_IQ4_NL };

// Plain number types.
enum { K_F32, K_F16, K_BF16 };

// Q4_1/Q5_1 add the min term m * s.
static inline __attribute__((always_inline)) int k_has_min(int kind) { return kind == K_Q4_1 || kind == K_Q5_1; }

// Bytes of one block of a 32-element kind.
static inline __attribute__((always_inline)) size_t k_wsize(int kind) {
    return kind == K_Q4_0 ? sizeof(block_q4_0) : kind == K_Q4_1 ? sizeof(block_q4_1) : kind == K_Q5_0 ? sizeof(block_q5_0)
         : kind == K_Q5_1 ? sizeof(block_q5_1) : kind == K_Q8_0 ? sizeof(block_q8_0) : sizeof(block_iq4_nl);
}

// The rows of a tile for its tokens t .. t + ntok - 1 (a statement in a tile function's body, with
// the tile signature's arguments, w and a as bytes, and t in scope): ntok tokens x 4 rows per
// micro call, then the remaining rows one by one.
#define KITE_TILE_ROWS(micro, kind, len, ntok)                                                                 \
    {                                                                                                         \
        int r = 0;                                                                                            \
        for (; r + 4 <= nr; r += 4) micro(kind, len, w + r * ws, ws, a + t * as, as, y + t * ys + r, ys, 4, ntok); \
        for (; r < nr; r++) micro(kind, len, w + r * ws, ws, a + t * as, as, y + t * ys + r, ys, 1, ntok);  \
    }

// Defines a tile function `name` (the kernels_internal.h tile signature) that walks nt tokens
// and nr rows with an ISA file's micro kernel: KITE_TILE_ROWS for NT_MAX tokens at a time, then
// for the remaining tokens one by one. NT_MAX comes from the ISA file.
#define KITE_TILE(name, micro, kind, len)                                                                      \
    static void name(int n, const void *wv, size_t ws, int nr, const void *av, size_t as, int nt, float *y,   \
                     size_t ys) {                                                                             \
        const uint8_t *w = wv, *a = av;                                                                       \
        int t = 0;                                                                                            \
        for (; t + NT_MAX <= nt; t += NT_MAX) KITE_TILE_ROWS(micro, kind, len, NT_MAX)                        \
        for (; t < nt; t++) KITE_TILE_ROWS(micro, kind, len, 1)                                               \
    }

#endif
