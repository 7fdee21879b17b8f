// ggml_ref.h - loads llama.cpp's own quantizers from node-llama-cpp's libggml-base.so (dlopen),
// so tests compare our bytes with the real reference. Header-only; tests link ${CMAKE_DL_LIBS}.
#ifndef KITE_TEST_GGML_REF_H
#define KITE_TEST_GGML_REF_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__EMSCRIPTEN__) || defined(__wasi__)
#define KITE_NO_DLOPEN 1 // wasm cannot load a native library: comparisons skip, round trips run
#else
#include <dlfcn.h>
#endif

typedef size_t (*ggml_quantize_fn)(const float *src, void *dst, int64_t nrow, int64_t n_per_row,
                                   const float *imatrix);
typedef void (*ggml_row_fn)(const void *src, void *dst, int64_t n); // quantize_row_*_ref / dequantize_row_*

// Returns the dlopen handle of libggml-base.so, or NULL. When missing: under CI=true on x86-64
// it counts as a failure (*ci_fail = 1); on other hosts (aarch64 under qemu cannot load an x86
// library) or outside CI the caller just skips. Prints why.
static inline void *ggml_ref_open(int *ci_fail) {
    *ci_fail = 0;
#ifdef KITE_NO_DLOPEN
    fprintf(stderr, "skip: no dlopen on this target: llama.cpp comparisons skipped\n");
    return NULL;
#else
    const char *root = getenv("KITE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so",
             root && *root ? root : ".");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
#if defined(__x86_64__)
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0) {
        fprintf(stderr, "FAIL: cannot load llama.cpp reference %s: %s (CI=true)\n", path, dlerror());
        *ci_fail = 1;
        return NULL;
    }
#endif
    fprintf(stderr, "skip: llama.cpp reference not loadable (%s): comparisons skipped\n", dlerror());
    return NULL;
#endif
}

// A symbol of the reference library, or NULL (then the caller reports the failure).
static inline void *ggml_ref_sym(void *h, const char *name) {
#ifdef KITE_NO_DLOPEN
    (void)h, (void)name;
    return NULL;
#else
    return h ? dlsym(h, name) : NULL;
#endif
}

#endif
