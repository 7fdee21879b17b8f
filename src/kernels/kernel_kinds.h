// kernel_kinds.h - the weight-format kinds the ISA tile files (x86, NEON, wasm) switch on, and
// the block facts they share, in one place.
#ifndef KITE_KERNEL_KINDS_H
#define KITE_KERNEL_KINDS_H

#include <stddef.h>

#include "quant/blocks.h"

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

#endif
