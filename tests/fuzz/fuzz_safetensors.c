// fuzz_safetensors.c - libFuzzer target for the safetensors header reader: the input is a
// whole file; what it accepts must lie inside the file, in offset order, without overlaps,
// each tensor's bytes its shape's element count times the dtype size.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kite.h"

static uint64_t dtype_size(const char *d) {
    if (!strcmp(d, "F64") || !strcmp(d, "I64") || !strcmp(d, "U64")) return 8;
    if (!strcmp(d, "F32") || !strcmp(d, "I32") || !strcmp(d, "U32")) return 4;
    if (!strcmp(d, "F16") || !strcmp(d, "BF16") || !strcmp(d, "I16") || !strcmp(d, "U16")) return 2;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t n = 0;
    if (kite_safetensors_header_len(data, size, size, &n) != KITE_OK) return 0;
    kite_safetensors *st = NULL;
    if (kite_safetensors_parse(data + 8, n, size, &st) != KITE_OK) return 0;
    uint64_t prev_end = st->data_start;
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < st->n; i++) {
        const kite_st_tensor *t = &st->tensors[i];
        uint64_t count = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) count *= t->shape[d];
        if (t->offset < prev_end || t->offset + t->nbytes > size || t->n_dims > 4 || count * dtype_size(t->dtype) != t->nbytes)
            abort();
        if (t->nbytes) sink ^= data[t->offset] ^ data[t->offset + t->nbytes - 1];
        prev_end = t->offset + t->nbytes;
    }
    kite_safetensors_free(st);
    (void)sink;
    return 0;
}
