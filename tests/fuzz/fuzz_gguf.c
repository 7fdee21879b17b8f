// fuzz_gguf.c - libFuzzer target for the GGUF reader: parse, then walk everything it
// returned (metadata, arrays, tensor data bounds) and render the JSON dump.
#include <stddef.h>
#include <stdint.h>

#include "kite.h"

static kite_status discard(void *user, const void *data, size_t n) {
    (void)user;
    (void)data;
    (void)n;
    return KITE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kite_gguf *g = NULL;
    if (kite_gguf_parse(data, size, &g) != KITE_OK) return 0;
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const kite_gguf_tensor *t = &g->tensors[i];
        if (t->nbytes) sink ^= t->data[0] ^ t->data[t->nbytes - 1];
    }
    kite_sink s = {discard, NULL};
    kite_gguf_info_json(g, &s);
    kite_gguf_free(g);
    (void)sink;
    return 0;
}
