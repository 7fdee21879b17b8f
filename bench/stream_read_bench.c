// stream_read_bench.c - the memory bandwidth a streaming read reaches on this machine: each
// thread reads its own contiguous slice of a buffer much larger than the last-level cache with
// the widest vector loads the CPU has (AVX-512, else AVX2, else 64-bit words), summing them so
// no load can be dropped; prints GB/s (1e9 bytes) per thread count, best and median of the
// passes. It is the ceiling decode's weight streaming is measured against
// (bench/decode_bandwidth.sh). Not a test: prints numbers.
//   stream_read_bench [--mib N] [--threads 1,2] [--reps R] [--isa avx512|avx2|scalar] [--file PATH] [--huge]
// --mib: buffer size (default: 8x the last-level cache, at least 1024 MiB); --file: read a
// mapping of PATH instead (page-cache pages, as decode reads an mmap'd model; its first pass
// faults the pages in and is not counted); --huge: the anonymous buffer marked MADV_HUGEPAGE
// (transparent huge pages, as Kite's repacked weights are), else 4 KB pages where THP is "madvise".
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef uint64_t (*read_fn)(const uint8_t *p, size_t n);

// Each reader sums n bytes (n a multiple of 256) as 64-bit lanes in four independent
// accumulators, so the adds never wait on each other and the loads are the only limit.
static uint64_t read_scalar(const uint8_t *p, size_t n) {
    const uint64_t *q = (const uint64_t *)p;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < n / 8; i += 4) s0 += q[i], s1 += q[i + 1], s2 += q[i + 2], s3 += q[i + 3];
    return s0 + s1 + s2 + s3;
}

#ifdef HAVE_X86
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 256) {
        s0 = _mm256_add_epi64(s0, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(p + i)),
                                                   _mm256_load_si256((const __m256i *)(p + i + 32))));
        s1 = _mm256_add_epi64(s1, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(p + i + 64)),
                                                   _mm256_load_si256((const __m256i *)(p + i + 96))));
        s2 = _mm256_add_epi64(s2, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(p + i + 128)),
                                                   _mm256_load_si256((const __m256i *)(p + i + 160))));
        s3 = _mm256_add_epi64(s3, _mm256_add_epi64(_mm256_load_si256((const __m256i *)(p + i + 192)),
                                                   _mm256_load_si256((const __m256i *)(p + i + 224))));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    uint64_t l[4];
    _mm256_storeu_si256((__m256i *)l, s);
    return l[0] + l[1] + l[2] + l[3];
}

__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint8_t *p, size_t n) {
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 256) {
        s0 = _mm512_add_epi64(s0, _mm512_load_si512((const void *)(p + i)));
        s1 = _mm512_add_epi64(s1, _mm512_load_si512((const void *)(p + i + 64)));
        s2 = _mm512_add_epi64(s2, _mm512_load_si512((const void *)(p + i + 128)));
        s3 = _mm512_add_epi64(s3, _mm512_load_si512((const void *)(p + i + 192)));
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3)));
}
#endif

// ---- threads: each pass, every thread reads its slice between two barriers ----------------
typedef struct {
    const uint8_t *p;
    size_t n;
    read_fn fn;
    int reps;
    pthread_barrier_t *bar;
    double *t0, *t1, *cpu; // per pass: wall start, wall end, thread CPU seconds
    uint64_t sink;
} reader;

static double thread_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *reader_main(void *arg) {
    reader *r = arg;
    for (int i = 0; i < r->reps; i++) {
        pthread_barrier_wait(r->bar);
        const double c0 = thread_cpu_now();
        r->t0[i] = now();
        r->sink += r->fn(r->p, r->n);
        r->t1[i] = now();
        r->cpu[i] = thread_cpu_now() - c0;
        pthread_barrier_wait(r->bar);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Reads buf[0, n) with nt threads, reps passes; prints best, median and worst GB/s. A pass's
// wall time runs from the first thread's start to the last one's end; its CPU-time figure
// divides each thread's bytes by that thread's CPU seconds and adds them up (the rate without
// the time other jobs held the cores: steadier on a shared machine, but blind to the threads
// not overlapping).
static void measure(const uint8_t *buf, size_t n, int nt, int reps, read_fn fn, uint64_t *sink) {
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nt);
    reader *rs = calloc((size_t)nt, sizeof *rs);
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    double *times = calloc((size_t)nt * reps * 3, sizeof *times);
    double *wall = calloc((size_t)reps, sizeof *wall), *cpu = calloc((size_t)reps, sizeof *cpu);
    const size_t slice = n / (size_t)nt / 256 * 256;
    for (int t = 0; t < nt; t++) {
        double *tt = times + (size_t)t * reps * 3;
        rs[t] = (reader){buf + (size_t)t * slice, slice, fn, reps, &bar, tt, tt + reps, tt + 2 * reps, 0};
        if (t > 0) pthread_create(&th[t], NULL, reader_main, &rs[t]);
    }
    reader_main(&rs[0]); // the main thread is reader 0
    for (int t = 1; t < nt; t++) pthread_join(th[t], NULL);
    for (int i = 0; i < reps; i++) {
        double t0 = rs[0].t0[i], t1 = rs[0].t1[i];
        cpu[i] = 0;
        for (int t = 0; t < nt; t++) {
            if (rs[t].t0[i] < t0) t0 = rs[t].t0[i];
            if (rs[t].t1[i] > t1) t1 = rs[t].t1[i];
            cpu[i] += (double)slice / rs[t].cpu[i] / 1e9;
        }
        wall[i] = (double)slice * nt / (t1 - t0) / 1e9;
    }
    for (int t = 0; t < nt; t++) *sink += rs[t].sink;
    qsort(wall, (size_t)reps, sizeof *wall, cmp_double);
    qsort(cpu, (size_t)reps, sizeof *cpu, cmp_double);
    printf("threads %d: read %.1f GB/s best, %.1f median, %.1f worst; CPU time %.1f / %.1f / %.1f "
           "(%d passes of %.0f MiB)\n",
           nt, wall[reps - 1], wall[reps / 2], wall[0], cpu[reps - 1], cpu[reps / 2], cpu[0], reps,
           (double)slice * nt / (1 << 20));
    fflush(stdout);
    pthread_barrier_destroy(&bar);
    free(wall), free(cpu), free(times), free(th), free(rs);
}

int main(int argc, char **argv) {
    long mib = 0;
    int reps = 10;
    const char *threads = "1,2", *isa = NULL, *file = NULL;
    int huge = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mib") && i + 1 < argc) mib = atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc) isa = argv[++i];
        else if (!strcmp(argv[i], "--file") && i + 1 < argc) file = argv[++i];
        else if (!strcmp(argv[i], "--huge")) huge = 1;
        else {
            fprintf(stderr, "usage: stream_read_bench [--mib N] [--threads 1,2] [--reps R] "
                            "[--isa avx512|avx2|scalar] [--file PATH] [--huge]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    read_fn fn = read_scalar;
    const char *fn_name = "scalar";
#ifdef HAVE_X86
    __builtin_cpu_init();
    if ((!isa || !strcmp(isa, "avx512")) && __builtin_cpu_supports("avx512f")) fn = read_avx512, fn_name = "avx512";
    else if ((!isa || !strcmp(isa, "avx2") || !strcmp(isa, "avx512")) && __builtin_cpu_supports("avx2"))
        fn = read_avx2, fn_name = "avx2";
#else
    (void)isa; /* only x86 has vector variants to pick from */
#endif
    long llc = 0;
#ifdef _SC_LEVEL3_CACHE_SIZE
    llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    if (mib <= 0) {
        mib = 8 * (llc > 0 ? llc : 0) >> 20;
        if (mib < 1024) mib = 1024;
    }
    uint8_t *buf;
    size_t n;
    if (file) {
        int fd = open(file, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 4096) {
            fprintf(stderr, "stream_read_bench: cannot read %s\n", file);
            return 1;
        }
        n = (size_t)st.st_size / 256 * 256;
        buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (buf == MAP_FAILED) {
            fprintf(stderr, "stream_read_bench: cannot map %s\n", file);
            return 1;
        }
    } else {
        n = (size_t)mib << 20;
        buf = aligned_alloc(2 << 20, n);
        if (!buf) {
            fprintf(stderr, "stream_read_bench: out of memory for %ld MiB\n", mib);
            return 1;
        }
#ifdef MADV_HUGEPAGE
        if (huge) madvise(buf, n, MADV_HUGEPAGE); // advice: 4 KB pages where refused
#endif
        memset(buf, 1, n); // every page faulted in before any pass
    }
    uint64_t sink = fn(buf, n); // warm-up pass (for --file: faults the mapping in)
    printf("streaming read, %s loads, %.0f MiB %s%s (last-level cache %.0f MiB)\n", fn_name, (double)n / (1 << 20),
           file ? "mapped from the file" : "anonymous buffer", huge && !file ? " (huge pages advised)" : "",
           (double)llc / (1 << 20));
    for (const char *s = threads; *s;) {
        int nt = atoi(s);
        if (nt >= 1 && nt <= 256) measure(buf, n, nt, reps, fn, &sink);
        s = strchr(s, ',');
        if (!s) break;
        s++;
    }
    if (sink == 42) printf(" "); // the sums are used: no compiler may drop the loads
    return 0;
}
