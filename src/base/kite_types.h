// kite_types.h - tensor element types, numbered exactly as ggml/GGUF number them (append-only).
#ifndef KITE_TYPES_H
#define KITE_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kite_type {
    KITE_TYPE_F32 = 0,
    KITE_TYPE_F16 = 1,
    KITE_TYPE_Q4_0 = 2,
    KITE_TYPE_Q4_1 = 3,
    KITE_TYPE_Q5_0 = 6,
    KITE_TYPE_Q5_1 = 7,
    KITE_TYPE_Q8_0 = 8,
    KITE_TYPE_Q8_1 = 9,
    KITE_TYPE_Q2_K = 10,
    KITE_TYPE_Q3_K = 11,
    KITE_TYPE_Q4_K = 12,
    KITE_TYPE_Q5_K = 13,
    KITE_TYPE_Q6_K = 14,
    KITE_TYPE_Q8_K = 15,
    KITE_TYPE_IQ2_XXS = 16,
    KITE_TYPE_IQ2_XS = 17,
    KITE_TYPE_IQ3_XXS = 18,
    KITE_TYPE_IQ1_S = 19,
    KITE_TYPE_IQ4_NL = 20,
    KITE_TYPE_IQ3_S = 21,
    KITE_TYPE_IQ2_S = 22,
    KITE_TYPE_IQ4_XS = 23,
    KITE_TYPE_I8 = 24,
    KITE_TYPE_I16 = 25,
    KITE_TYPE_I32 = 26,
    KITE_TYPE_I64 = 27,
    KITE_TYPE_F64 = 28,
    KITE_TYPE_IQ1_M = 29,
    KITE_TYPE_BF16 = 30,
    KITE_TYPE_TQ1_0 = 34,
    KITE_TYPE_TQ2_0 = 35,
    KITE_TYPE_MXFP4 = 39,
    KITE_TYPE_NVFP4 = 40,
    KITE_TYPE_Q1_0 = 41,
    KITE_TYPE_Q2_0 = 42,
    KITE_TYPE_COUNT = 43,
} kite_type;

// Storage facts of one type: `block_size` elements take `type_size` bytes.
typedef struct kite_type_traits {
    const char *name;    // ggml's name: "f32", "q4_K", ...
    uint32_t block_size; // elements per block (1 for plain types)
    uint32_t type_size;  // bytes per block
    bool quantized;      // a block format (not a plain number type)
} kite_type_traits;

// Traits of type t, or NULL when t is not a type this build knows (hostile input).
const kite_type_traits *kite_type_get(uint32_t t);

// ggml's name of t ("q4_K"), or "?" when unknown.
const char *kite_type_name(uint32_t t);

// Bytes of a row of n elements; n must be a multiple of the block size (0 otherwise).
uint64_t kite_type_row_bytes(kite_type t, uint64_t n);

// Looks a type up by name, case-insensitively ("Q4_K", "q8_0", "F16", "bf16").
// Returns true and sets *out when found.
bool kite_type_from_name(const char *name, kite_type *out);

#ifdef __cplusplus
}
#endif
#endif
