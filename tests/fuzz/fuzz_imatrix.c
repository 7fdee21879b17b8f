// fuzz_imatrix.c - libFuzzer target for the importance matrix reader (src/quant/imatrix.c, both
// of llama-imatrix's formats) and what `kite imatrix --in-file` does with a parsed file: add it
// to a collector twice (the second time through the shape checks), filter it, print its
// statistics. Any bytes must parse or fail with a message, never crash. Seeds: a GGUF and a
// legacy matrix of stories260K that scripts/test.sh makes with `kite imatrix`.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imatrix_collect.c"
#include "imatrix_stats.c"
#include "file_map.c"
#include "safe_output.c"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    kite_imatrix *im = NULL;
    if (kite_imatrix_parse(data, size, &im) != KITE_OK) {
        if (!kite_last_error()[0]) abort(); // a refusal always says why
        return 0;
    }
    for (size_t i = 0; i < im->n_entries; i++) {
        const kite_imatrix_entry *e = &im->entries[i];
        if (kite_imatrix_find(im, e->name) != e) abort(); // sorted, unique names
        volatile float sink = 0.0f;
        for (uint64_t j = 0; j < e->n; j++) sink += e->values[j] + e->sums[j]; // every value readable
        for (uint64_t j = 0; j < e->n_counts; j++) sink += (float)e->counts[j];
        (void)sink;
    }
    imatrix_collector c = {0};
    if (imatrix_collector_add(&c, im, 64)) imatrix_collector_add(&c, im, 64);
    if (!c.err[0]) {
        FILE *out = fopen("/dev/null", "w");
        char err[256];
        if (out) {
            imatrix_print_statistics(&c, "fuzz", out, err, sizeof err);
            fclose(out);
        }
    }
    imatrix_collector_free(&c);
    const char *exclude[] = {"attn"}, *include[] = {"blk.1"};
    kite_imatrix_filter(im, include, 1, exclude, 1);
    kite_imatrix_free(im);
    return 0;
}
