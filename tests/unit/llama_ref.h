// llama_ref.h - loads llama.cpp's libllama from node-llama-cpp (dlopen) so sampler and chat
// tests compare with the real reference. Header-only; the C API structs are restated here.
#ifndef KITE_TEST_LLAMA_REF_H
#define KITE_TEST_LLAMA_REF_H

#include <stdbool.h>
#include <stdint.h>

#include "llama_lib.h"

// Layouts of include/llama.h (C API, stable across these versions).
typedef struct llref_token_data { int32_t id; float logit; float p; } llref_token_data;
typedef struct llref_token_data_array {
    llref_token_data *data;
    size_t size;
    int64_t selected;
    bool sorted;
} llref_token_data_array;
typedef struct llref_chain_params { bool no_perf; } llref_chain_params;
typedef struct llref_chat_message { const char *role; const char *content; } llref_chat_message;

// Returns the dlopen handle of libllama, or NULL (see llama_lib_open: CI=true on x86-64 sets
// *ci_fail, elsewhere the caller skips the comparisons).
static inline void *llama_ref_open(int *ci_fail) { return llama_lib_open("libllama.v0.5.0.so", ci_fail); }

#endif
