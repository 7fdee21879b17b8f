// llama_lib.h - the one loader of llama.cpp's prebuilt libraries (node-llama-cpp's, under
// KITE_ROOT/node_modules) that the reference headers of the tests and benches build on:
// where the files are, CI=true turns a missing library into a failure, other hosts skip.
// Header-only; targets link ${CMAKE_DL_LIBS}.
#ifndef KITE_TEST_LLAMA_LIB_H
#define KITE_TEST_LLAMA_LIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#if defined(__EMSCRIPTEN__) || defined(__wasi__)
#define KITE_NO_DLOPEN 1 // wasm cannot load a native library: comparisons skip, round trips run
#else
#include <dlfcn.h>
#endif

// Where node-llama-cpp puts its x86-64 Linux build, relative to the repository root.
#define KITE_LLAMA_LIB_DIR "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"

// Writes the path of llama.cpp library `file` (e.g. "libllama.v0.5.0.so") into out: under
// KITE_ROOT (set by ctest), else under the current directory.
static inline void llama_lib_path(const char *file, char *out, size_t cap) {
    const char *root = getenv("KITE_ROOT");
    snprintf(out, cap, "%s/" KITE_LLAMA_LIB_DIR "/%s", root && *root ? root : ".", file);
}

// Returns the dlopen handle of llama.cpp library `file`, or NULL. When it cannot be loaded on
// an x86-64 host under CI=true that counts as a failure (*ci_fail = 1); elsewhere (outside CI,
// hosts that cannot load an x86-64 library such as aarch64 under qemu, wasm) the caller just
// skips its comparisons. Prints why in both cases.
static inline void *llama_lib_open(const char *file, int *ci_fail) {
    *ci_fail = 0;
#if defined(KITE_NO_DLOPEN)
    (void)file;
    fprintf(stderr, "skip: no dlopen on this target: llama.cpp comparisons skipped\n");
    return NULL;
#elif !defined(__x86_64__)
    (void)file;
    fprintf(stderr, "skip: llama.cpp reference is an x86-64 library: comparisons skipped on this host\n");
    return NULL;
#else
    char path[4096];
    llama_lib_path(file, path, sizeof path);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    if (check_in_ci()) {
        fprintf(stderr, "FAIL: cannot load llama.cpp reference %s: %s (CI=true)\n", path, dlerror());
        *ci_fail = 1;
        return NULL;
    }
    char what[4200];
    snprintf(what, sizeof what, "llama.cpp reference %s not loadable (%s; npm ci installs node-llama-cpp): comparisons skipped", path, dlerror());
    check_missing_ref(what);
    return NULL;
#endif
}

// A symbol of a library from llama_lib_open, or NULL (then the caller reports the failure).
static inline void *llama_lib_sym(void *h, const char *name) {
#ifdef KITE_NO_DLOPEN
    (void)h, (void)name;
    return NULL;
#else
    return h ? dlsym(h, name) : NULL;
#endif
}

#endif
