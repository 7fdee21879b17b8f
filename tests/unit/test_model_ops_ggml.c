// test_model_ops_ggml.c - the forward pass's GELU against llama.cpp's own: the f16 table that
// node-llama-cpp's libggml-cpu fills at ggml_cpu_init (ggml_table_gelu_f16, what ggml's GeGLU
// and GELU look up), every f16 input in (-10, 10) compared bit for bit.
#include <math.h>
#include <string.h>

#include "base/kite_f16.h"
#include "check.h"
#include "llama_lib.h"
#include "model/ops.h"

// The table of one CPU variant of libggml-cpu, or NULL (skipped, or a CI failure).
static const uint16_t *ggml_gelu_table(const char *file, int *ci_fail) {
    void *h = llama_lib_open(file, ci_fail);
    if (!h) return NULL;
    void (*init)(void) = (void (*)(void))llama_lib_sym(h, "ggml_cpu_init");
    const uint16_t *table = llama_lib_sym(h, "ggml_table_gelu_f16");
    CHECK(init && table, "%s lacks ggml_cpu_init or ggml_table_gelu_f16", file);
    if (!init || !table) return NULL;
    init();
    return table;
}

int main(void) {
    int ci_fail = 0;
    // sse42: plain mul/add; haswell: built with FMA, which the compiler may fuse into the
    // formula (the two tables differ in one entry). Ours must equal one of them everywhere.
    const uint16_t *a = ggml_gelu_table("libggml-cpu-sse42.so", &ci_fail);
    const uint16_t *b = ggml_gelu_table("libggml-cpu-haswell.so", &ci_fail);
    if (!a || !b) {
        CHECK(!ci_fail, "libggml-cpu not loadable under CI");
        return check_done("test_model_ops_ggml");
    }
    int n = 0, diff_a = 0, diff_b = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        const float x = kite_f16_to_f32((uint16_t)i);
        if (!(x > -10.0f && x < 10.0f)) continue;
        const float got = kite__gelu_ggml(x);
        const float ra = kite_f16_to_f32(a[i]), rb = kite_f16_to_f32(b[i]);
        n++;
        diff_a += memcmp(&got, &ra, 4) != 0;
        diff_b += memcmp(&got, &rb, 4) != 0;
        CHECK(!memcmp(&got, &ra, 4) || !memcmp(&got, &rb, 4), "gelu(%a): ours %a, ggml %a / %a", x, got, ra, rb);
    }
    fprintf(stderr, "gelu: %d f16 inputs, %d differ from sse42's table, %d from haswell's\n", n, diff_a, diff_b);
    return check_done("test_model_ops_ggml");
}
