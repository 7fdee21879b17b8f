// check_weights.h - the model's dense matrices in one list, for the tests of the X8 repack
// (test_model.c, test_repack_behind.c).
#ifndef KITE_TEST_CHECK_WEIGHTS_H
#define KITE_TEST_CHECK_WEIGHTS_H

#include "model/model_internal.h"

// The dense matrices of m (the layers', then the head), at most cap of them into out; returns
// how many.
static inline int check_dense_weights(const kite_model *m, const kite_weight **out, int cap) {
    int n = 0;
    for (int il = 0; il < m->hp.n_layer; il++) {
        const kite_layer *L = &m->layers[il];
        const kite_weight *ws[] = KITE_LAYER_DENSE_WEIGHTS(L);
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            if (ws[i]->data && n < cap) out[n++] = ws[i];
    }
    if (m->output.data && n < cap) out[n++] = &m->output;
    return n;
}

#endif
