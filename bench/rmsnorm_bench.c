// rmsnorm_bench.c - kite_kernels_rmsnorm_rows in each kernel set the host runs, on the shapes of
// the forward pass (a prefill's 128 rows of n_embd; one token's q / k heads): ns per call, min and
// median over rounds, the sets interleaved in every round. Usage: rmsnorm_bench [rounds]
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/kite_kernels.h"

enum { MAX_SETS = 8, MAX_ROUNDS = 64 };

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
    static const struct { const char *name; int rows, n; } shapes[] = {
        {"qwen3 prefill 128 x 1024", 128, 1024}, {"gemma3 prefill 128 x 1152", 128, 1152},
        {"qwen3 q heads 16 x 128", 16, 128},     {"qwen3 k heads 8 x 128", 8, 128},
        {"gemma3 q heads 4 x 256", 4, 256},
    };
    const int n_sets = kite_kernels_isa_count() < MAX_SETS ? kite_kernels_isa_count() : MAX_SETS;
    float *x = malloc(sizeof(float) * 128 * 1152), *y = malloc(sizeof(float) * 128 * 1152);
    float *w = malloc(sizeof(float) * 1152);
    if (!x || !y || !w) return 1;
    for (int i = 0; i < 128 * 1152; i++) x[i] = (float)((i * 7919) % 2001 - 1000) * 1e-3f;
    for (int i = 0; i < 1152; i++) w[i] = 1.0f + (float)(i % 17) * 0.01f;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int rows = shapes[s].rows, n = shapes[s].n;
        float *yp[128];
        const float *xp[128];
        for (int r = 0; r < rows; r++) yp[r] = y + (size_t)r * n, xp[r] = x + (size_t)r * n;
        const int reps = 2000000 / (rows * n) + 1;
        double t[MAX_SETS][MAX_ROUNDS];
        for (int k = 0; k < rounds; k++)
            for (int i = 0; i < n_sets; i++) {
                kite_kernels_set_isa(kite_kernels_isa_name(i));
                const double t0 = now_ns();
                for (int r = 0; r < reps; r++) kite_kernels_rmsnorm_rows(yp, xp, w, n, rows, 1e-6f);
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
