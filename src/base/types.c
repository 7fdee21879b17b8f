// types.c - the table of tensor types: names, block sizes and block bytes (ggml-common.h's).
#include "base/kite_types.h"

#include "base/internal.h"

#include <strings.h>

#define QK_K 256

static const kite_type_traits traits[KITE_TYPE_COUNT] = {
    [KITE_TYPE_F32] = {"f32", 1, 4, false},
    [KITE_TYPE_F16] = {"f16", 1, 2, false},
    [KITE_TYPE_Q4_0] = {"q4_0", 32, 2 + 16, true},
    [KITE_TYPE_Q4_1] = {"q4_1", 32, 4 + 16, true},
    [KITE_TYPE_Q5_0] = {"q5_0", 32, 2 + 4 + 16, true},
    [KITE_TYPE_Q5_1] = {"q5_1", 32, 4 + 4 + 16, true},
    [KITE_TYPE_Q8_0] = {"q8_0", 32, 2 + 32, true},
    [KITE_TYPE_Q8_1] = {"q8_1", 32, 4 + 32, true},
    [KITE_TYPE_Q2_K] = {"q2_K", QK_K, 4 + QK_K / 16 + QK_K / 4, true},
    [KITE_TYPE_Q3_K] = {"q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12, true},
    [KITE_TYPE_Q4_K] = {"q4_K", QK_K, 4 + 12 + QK_K / 2, true},
    [KITE_TYPE_Q5_K] = {"q5_K", QK_K, 4 + 12 + QK_K / 2 + QK_K / 8, true},
    [KITE_TYPE_Q6_K] = {"q6_K", QK_K, 2 + QK_K / 16 + 3 * QK_K / 4, true},
    [KITE_TYPE_Q8_K] = {"q8_K", QK_K, 4 + QK_K + QK_K / 16 * 2, true},
    [KITE_TYPE_IQ2_XXS] = {"iq2_xxs", QK_K, 2 + QK_K / 8 * 2, true},
    [KITE_TYPE_IQ2_XS] = {"iq2_xs", QK_K, 2 + QK_K / 8 * 2 + QK_K / 32, true},
    [KITE_TYPE_IQ3_XXS] = {"iq3_xxs", QK_K, 2 + 3 * (QK_K / 8), true},
    [KITE_TYPE_IQ1_S] = {"iq1_s", QK_K, 2 + QK_K / 8 + QK_K / 16, true},
    [KITE_TYPE_IQ4_NL] = {"iq4_nl", 32, 2 + 16, true},
    [KITE_TYPE_IQ3_S] = {"iq3_s", QK_K, 2 + 13 * (QK_K / 32) + QK_K / 64, true},
    [KITE_TYPE_IQ2_S] = {"iq2_s", QK_K, 2 + QK_K / 4 + QK_K / 16, true},
    [KITE_TYPE_IQ4_XS] = {"iq4_xs", QK_K, 2 + 2 + QK_K / 64 + QK_K / 2, true},
    [KITE_TYPE_I8] = {"i8", 1, 1, false},
    [KITE_TYPE_I16] = {"i16", 1, 2, false},
    [KITE_TYPE_I32] = {"i32", 1, 4, false},
    [KITE_TYPE_I64] = {"i64", 1, 8, false},
    [KITE_TYPE_F64] = {"f64", 1, 8, false},
    [KITE_TYPE_IQ1_M] = {"iq1_m", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32, true},
    [KITE_TYPE_BF16] = {"bf16", 1, 2, false},
    [KITE_TYPE_TQ1_0] = {"tq1_0", QK_K, 2 + QK_K / 64 + (QK_K - 4 * QK_K / 64) / 5, true},
    [KITE_TYPE_TQ2_0] = {"tq2_0", QK_K, 2 + QK_K / 4, true},
    [KITE_TYPE_MXFP4] = {"mxfp4", 32, 1 + 16, true},
    [KITE_TYPE_NVFP4] = {"nvfp4", 64, 4 + 32, true},
    [KITE_TYPE_Q1_0] = {"q1_0", 128, 2 + 128 / 8, true},
    [KITE_TYPE_Q2_0] = {"q2_0", 64, 2 + 64 / 4, true},
};

const kite_type_traits *kite_type_get(uint32_t t) {
    if (t >= KITE_TYPE_COUNT || traits[t].name == NULL) return NULL;
    return &traits[t];
}

const char *kite_type_name(uint32_t t) {
    const kite_type_traits *tr = kite_type_get(t);
    return tr ? tr->name : "?";
}

uint64_t kite_type_row_bytes(kite_type t, uint64_t n) {
    const kite_type_traits *tr = kite_type_get(t);
    if (!tr || n % tr->block_size) return 0;
    return n / tr->block_size * tr->type_size;
}

bool kite_type_from_name(const char *name, kite_type *out) {
    for (uint32_t t = 0; t < KITE_TYPE_COUNT; t++) {
        if (traits[t].name && strcasecmp(traits[t].name, name) == 0) {
            *out = (kite_type)t;
            return true;
        }
    }
    return false;
}
