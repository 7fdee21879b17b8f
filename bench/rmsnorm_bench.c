// rmsnorm_bench.c - kite_kernels_rmsnorm_rows in each kernel set the host runs, on the shapes of
// the forward pass (a prefill's 128 rows of n_embd; one token's q / k heads): ns per call, min and
// median over rounds, the sets interleaved in every round; "cold": each call on other rows of a
// 128 MiB pool (not in any cache, as the forward pass's matmul outputs often are not). Usage:
// rmsnorm_bench [rounds]
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/kite_kernels.h"

enum { MAX_SETS = 8, MAX_ROUNDS = 64 };
static const size_t POOL = (size_t)32 << 20; // floats

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const int rounds = argc > 1 && atoi(argv[1]) > 0 && atoi(argv[1]) <= MAX_ROUNDS ? atoi(argv[1]) : 15;
    static const struct { const char *name; int rows, n, cold; } shapes[] = {
        {"qwen3 prefill 128 x 1024", 128, 1024, 0}, {"gemma3 prefill 128 x 1152", 128, 1152, 0},
        {"qwen3 q heads 16 x 128", 16, 128, 0},     {"qwen3 k heads 8 x 128", 8, 128, 0},
        {"gemma3 q heads 4 x 256", 4, 256, 0},      {"cold qwen3 prefill 128 x 1024", 128, 1024, 1},
        {"cold qwen3 q heads 16 x 128", 16, 128, 1}, {"cold qwen3 q heads of 64 tokens 1024 x 128", 1024, 128, 1},
    };
    const int n_sets = kite_kernels_isa_count() < MAX_SETS ? kite_kernels_isa_count() : MAX_SETS;
    float *x = malloc(sizeof(float) * POOL), *y = malloc(sizeof(float) * POOL);
    float *w = malloc(sizeof(float) * 1152);
    if (!x || !y || !w) return 1;
    for (size_t i = 0; i < POOL; i++) y[i] = 0.0f;
    for (size_t i = 0; i < POOL; i++) x[i] = (float)((int)(i * 7919 % 2001) - 1000) * 1e-3f;
    for (int i = 0; i < 1152; i++) w[i] = 1.0f + (float)(i % 17) * 0.01f;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int rows = shapes[s].rows, n = shapes[s].n;
        float *yp[1024];
        const float *xp[1024];
        for (int r = 0; r < rows; r++) yp[r] = y + (size_t)r * n, xp[r] = x + (size_t)r * n;
        const int reps = 2000000 / (rows * n) + 1;
        const size_t span = (size_t)rows * n, copies = shapes[s].cold ? POOL / span : 1;
        size_t c = 0;
        double t[MAX_SETS][MAX_ROUNDS];
        for (int k = 0; k < rounds; k++)
            for (int i = 0; i < n_sets; i++) {
                kite_kernels_set_isa(kite_kernels_isa_name(i));
                const double t0 = now_ns();
                for (int r = 0; r < reps; r++) {
                    if (copies > 1) { // the next copy of the rows
                        c = (c + 1) % copies;
                        for (int q = 0; q < rows; q++)
                            yp[q] = y + c * span + (size_t)q * n, xp[q] = x + c * span + (size_t)q * n;
                    }
                    kite_kernels_rmsnorm_rows(yp, xp, w, n, rows, 1e-6f);
                }
                t[i][k] = (now_ns() - t0) / reps;
            }
        printf("%s (%d rounds):\n", shapes[s].name, rounds);
        for (int i = 0; i < n_sets; i++) {
            qsort(t[i], (size_t)rounds, sizeof(double), cmp);
            printf("  %-8s min %9.0f ns  median %9.0f ns\n", kite_kernels_isa_name(i), t[i][0], t[i][rounds / 2]);
        }
    }
    free(x), free(y), free(w);
    return 0;
}
