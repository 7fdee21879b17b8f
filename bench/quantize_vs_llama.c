// quantize_vs_llama.c - benchmark (not a test): quantizes one GGUF with kite (the CLI, as users
// run it) and with llama.cpp's llama_model_quantize (libllama from node-llama-cpp, same thread
// count), prints seconds, MB/s of input and the ratio, and whether the two files are identical.
// Also generates a bigger random-weight llama model from a small one ("gen"), since the shared
// models are too small to time anything but start-up. With IMATRIX=FILE in the environment both
// sides quantize with that importance matrix: kite quantize --imatrix FILE, and llama.cpp with
// the values kite's reader normalizes from it and llama-quantize's kv overrides (as llama-quantize
// hands them over; the byte check then covers the reader too).
//
//   quantize_vs_llama gen SRC.gguf OUT.gguf N_EMBD N_LAYER N_FF
//   quantize_vs_llama run IN.gguf TYPE THREADS [REPS]      (needs KITE_BIN and KITE_ROOT)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kite.h"
#include "quant/kite_imatrix.h"
#include "../tests/unit/llama_quant_ref.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const uint8_t *map_file(const char *path, uint64_t *len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    fstat(fd, &st);
    *len = (uint64_t)st.st_size;
    void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

static kite_status file_write(void *user, const void *d, size_t n) {
    return fwrite(d, 1, n, user) == n ? KITE_OK : KITE_ERR_IO;
}

// ---- gen: a llama model of the given size with src's vocabulary and random F16 weights -------

static uint64_t rng = 88172645463325252ull;
static float gauss(void) { // sum of 4 uniforms: cheap, roughly normal, std ~0.577
    float s = 0;
    for (int i = 0; i < 4; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        s += (float)(rng >> 40) / (float)(1ull << 24) - 0.5f;
    }
    return s;
}

static int gen(const char *src, const char *out, uint32_t n_embd, uint32_t n_layer, uint32_t n_ff) {
    uint64_t len;
    const uint8_t *buf = map_file(src, &len);
    kite_gguf *g = NULL;
    if (!buf || kite_gguf_parse(buf, len, &g) != KITE_OK) {
        fprintf(stderr, "gen: cannot read %s\n", src);
        return 1;
    }
    uint32_t n_head = 16, n_head_kv = 4, hd = n_embd / n_head;
    int64_t ti = kite_gguf_find_tensor(g, "token_embd.weight");
    uint64_t n_vocab = ti >= 0 ? g->tensors[ti].ne[1] : 32000;
    kite_gguf_writer *w = kite_gguf_writer_new();
    kite_gguf_writer_copy_kvs(w, g);
    kite_gguf_writer_set_u32(w, "llama.embedding_length", n_embd);
    kite_gguf_writer_set_u32(w, "llama.block_count", n_layer);
    kite_gguf_writer_set_u32(w, "llama.feed_forward_length", n_ff);
    kite_gguf_writer_set_u32(w, "llama.attention.head_count", n_head);
    kite_gguf_writer_set_u32(w, "llama.attention.head_count_kv", n_head_kv);
    kite_gguf_writer_set_u32(w, "llama.rope.dimension_count", hd);
    typedef struct { char name[64]; uint64_t ne[2]; kite_type t; } spec;
    spec *s = calloc(3 + 9 * (size_t)n_layer, sizeof *s);
    size_t n = 0;
    s[n++] = (spec){"output_norm.weight", {n_embd, 1}, KITE_TYPE_F32};
    s[n++] = (spec){"token_embd.weight", {n_embd, n_vocab}, KITE_TYPE_F16};
    const char *names[] = {"attn_k", "attn_norm", "attn_output", "attn_q", "attn_v", "ffn_down", "ffn_gate", "ffn_norm", "ffn_up"};
    for (uint32_t l = 0; l < n_layer; l++)
        for (int k = 0; k < 9; k++) {
            spec *x = &s[n++];
            snprintf(x->name, sizeof x->name, "blk.%u.%s.weight", l, names[k]);
            x->t = strstr(names[k], "norm") ? KITE_TYPE_F32 : KITE_TYPE_F16;
            uint64_t kv = (uint64_t)hd * n_head_kv;
            uint64_t rows = k == 0 || k == 4 ? kv : k == 6 || k == 8 ? n_ff : n_embd;
            uint64_t cols = k == 5 ? n_ff : n_embd;
            x->ne[0] = cols;
            x->ne[1] = strstr(names[k], "norm") ? 1 : rows;
        }
    for (size_t i = 0; i < n; i++) kite_gguf_writer_add_tensor(w, s[i].name, s[i].t, s[i].ne[1] > 1 ? 2 : 1, s[i].ne);
    FILE *f = fopen(out, "wb");
    kite_sink sink = {file_write, f};
    kite_gguf_writer_write_header(w, &sink);
    for (size_t i = 0; i < n; i++) {
        uint64_t ne = s[i].ne[0] * s[i].ne[1];
        size_t bytes = (size_t)(ne * (s[i].t == KITE_TYPE_F32 ? 4 : 2));
        uint8_t *d = malloc(bytes);
        for (uint64_t j = 0; j < ne; j++) {
            if (s[i].t == KITE_TYPE_F32) ((float *)d)[j] = 1.0f + 0.1f * gauss();
            else ((kite_f16 *)d)[j] = kite_f32_to_f16(0.05f * gauss());
        }
        kite_gguf_writer_write_data(w, &sink, i, d);
        free(d);
    }
    fclose(f);
    kite_gguf_writer_free(w);
    kite_gguf_free(g);
    printf("gen: %s: n_embd %u, %u layers, n_ff %u, vocab %llu\n", out, n_embd, n_layer, n_ff, (unsigned long long)n_vocab);
    return 0;
}

// ---- run ---------------------------------------------------------------------------------------

static double tv_s(struct timeval t) { return (double)t.tv_sec + t.tv_usec * 1e-6; }

// CPU seconds (user + sys, all threads) this process has used so far.
static double self_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

// Runs the kite CLI (with --imatrix im unless im is NULL); returns wall seconds (-1 on failure)
// and its CPU seconds in *cpu.
static double run_kite(const char *bin, const char *in, const char *out, const char *type, const char *threads, const char *im,
                       double *cpu) {
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        if (im) execl(bin, bin, "quantize", "-q", "--imatrix", im, in, out, type, threads, (char *)NULL);
        else execl(bin, bin, "quantize", "-q", in, out, type, threads, (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    *cpu = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? now_s() - t0 : -1;
}

static bool same_files(const char *a, const char *b) {
    uint64_t na, nb;
    const uint8_t *pa = map_file(a, &na), *pb = map_file(b, &nb);
    bool same = pa && pb && na == nb && !memcmp(pa, pb, na);
    if (pa) munmap((void *)pa, na);
    if (pb) munmap((void *)pb, nb);
    return same;
}

static int run(const char *in, const char *type, int threads, int reps) {
    const char *bin = getenv("KITE_BIN");
    lq_ref ref;
    int ci;
    if (!bin || !lq_open(&ref, &ci)) {
        fprintf(stderr, "run: needs KITE_BIN (the kite CLI) and KITE_ROOT (for node_modules' libllama)\n");
        return 1;
    }
    int ft;
    if (!kite_quantize_ftype_from_name(type, &ft)) {
        fprintf(stderr, "run: unknown type %s\n", type);
        return 1;
    }
    // the importance matrix, as llama-quantize hands it to llama_model_quantize
    const char *im_path = getenv("IMATRIX");
    kite_imatrix *im = NULL;
    lq_imat *imd = NULL;
    lq_kv kv[5];
    if (im_path && *im_path) {
        uint64_t il;
        const uint8_t *ib = map_file(im_path, &il);
        if (!ib || kite_imatrix_parse(ib, il, &im) != KITE_OK) {
            fprintf(stderr, "run: cannot read the imatrix %s: %s\n", im_path, kite_last_error());
            return 1;
        }
        munmap((void *)ib, il);
        imd = calloc(im->n_entries + 1, sizeof *imd);
        for (size_t i = 0; i < im->n_entries; i++) imd[i] = (lq_imat){im->entries[i].name, im->entries[i].values, im->entries[i].n};
    } else im_path = NULL;
    struct stat st;
    stat(in, &st);
    double mb = (double)st.st_size / 1e6;
    char out_k[64], out_l[64], th[16]; // per process: two runs at once must not share outputs
    snprintf(out_k, sizeof out_k, "/tmp/qvl_kite.%ld.gguf", (long)getpid());
    snprintf(out_l, sizeof out_l, "/tmp/qvl_llama.%ld.gguf", (long)getpid());
    snprintf(th, sizeof th, "%d", threads);
    double best_k = 1e30, best_l = 1e30, cpu_k = 1e30, cpu_l = 1e30;
    for (int r = 0; r < reps; r++) {
        lq_params p = ref.default_params();
        p.ftype = ft;
        p.nthread = threads;
        if (im) lq_set_imatrix(&p, imd, im->n_entries, kv, im_path, im->dataset, im->chunk_count);
        double t0 = now_s(), c0 = self_cpu_s();
        uint32_t rc = ref.quantize(in, out_l, &p);
        double tl = now_s() - t0, cl = self_cpu_s() - c0, ck = 0;
        double tk = run_kite(bin, in, out_k, type, th, im_path, &ck);
        if (rc != 0 || tk < 0) {
            fprintf(stderr, "run: a quantizer failed (llama rc %u, kite %s)\n", rc, tk < 0 ? "failed" : "ok");
            return 1;
        }
        if (tl < best_l) best_l = tl;
        if (tk < best_k) best_k = tk;
        if (cl < cpu_l) cpu_l = cl;
        if (ck < cpu_k) cpu_k = ck;
    }
    bool same = same_files(out_k, out_l);
    // CPU seconds are printed too: on a shared machine wall time mostly measures the neighbours
    printf("%-7s%s %2d thr | kite %7.2f s %7.1f MB/s (cpu %6.2f s) | llama.cpp %7.2f s %7.1f MB/s (cpu %6.2f s) | "
           "speed x%.2f wall, x%.2f cpu | %s\n", type, im ? " +im" : "", threads, best_k, mb / best_k, cpu_k, best_l, mb / best_l, cpu_l,
           best_l / best_k, cpu_l / cpu_k, same ? "same bytes" : "DIFFERENT BYTES");
    unlink(out_k);
    unlink(out_l);
    free(imd);
    kite_imatrix_free(im);
    return same ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 7 && !strcmp(argv[1], "gen")) return gen(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
    if (argc >= 5 && !strcmp(argv[1], "run")) return run(argv[2], argv[3], atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 1);
    fprintf(stderr, "usage: %s gen SRC.gguf OUT.gguf N_EMBD N_LAYER N_FF | run IN.gguf TYPE THREADS [REPS]\n", argv[0]);
    return 2;
}
