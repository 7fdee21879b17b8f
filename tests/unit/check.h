// check.h - the tiny assertion harness of the C tests: CHECK records a failure and goes on,
// check_done() prints "N passed, N failed" and returns the exit code: 1 on a failure, else
// CHECK_SKIP (ctest's SKIP_RETURN_CODE, tests.cmake) when a reference the test needs was
// missing (llama.cpp's libraries, the shared models) outside CI, else 0.
#ifndef KITE_TEST_CHECK_H
#define KITE_TEST_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Exit code of a test that could not run some of its checks because a reference is missing.
#define CHECK_SKIP 77

// (unused in the benches that share the tests' llama.cpp loaders)
static int check_passed __attribute__((unused)), check_failed __attribute__((unused));
static int check_missing __attribute__((unused));

static inline bool check_in_ci(void) {
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

// A reference this test needs is missing (what: a sentence naming it). Under CI=true that is a
// failure; elsewhere the checks that need it are skipped, and the test exits CHECK_SKIP (ctest
// reports it as skipped) unless a check failed.
static inline void check_missing_ref(const char *what) {
    if (check_in_ci()) {
        check_failed++;
        fprintf(stderr, "FAIL: %s (CI=true)\n", what);
    } else {
        check_missing++;
        fprintf(stderr, "skip: %s\n", what);
    }
}

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (cond) {                                                       \
            check_passed++;                                               \
        } else {                                                          \
            check_failed++;                                               \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
        }                                                                 \
    } while (0)

// Directory of the shared test models. In CI (CI=true) a missing directory is a failure;
// elsewhere the caller may skip.
static inline const char *check_models_dir(void) {
    const char *d = getenv("KITE_MODELS");
    return d && *d ? d : "../shared/models";
}

// Reads a whole file into memory (caller frees); NULL if it cannot. *len gets the size.
static inline unsigned char *check_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) *len = (size_t)n;
    return buf;
}

// Whether path names a file this process can open for reading.
static inline bool check_file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

// Writes len bytes to path (created or truncated); false if it cannot.
static inline bool check_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0) && ok;
}

// The path of a test model: stories260K.gguf from the repository's models/ (under KITE_ROOT, set
// by ctest; else the current directory) when it is there, any other (or a missing stories260K)
// under the shared models (check_models_dir). Writes it to path (n bytes) and returns path.
static inline const char *check_model_path(const char *rel, char *path, size_t n) {
    if (!strcmp(rel, "stories260K.gguf")) {
        const char *root = getenv("KITE_ROOT");
        snprintf(path, n, "%s/models/%s", root && *root ? root : ".", rel);
        if (check_file_exists(path)) return path;
    }
    snprintf(path, n, "%s/%s", check_models_dir(), rel);
    return path;
}

// Reads a file that checks need (check_read_file). A missing one fails the test under CI=true,
// else skips those checks; either way reported as "<kind><path> missing<consequence>".
static inline unsigned char *check_read_ref(const char *kind, const char *path, size_t *len, const char *consequence) {
    unsigned char *b = check_read_file(path, len);
    if (!b) {
        char what[4400];
        snprintf(what, sizeof what, "%s%s missing%s", kind, path, consequence);
        check_missing_ref(what);
    }
    return b;
}

// Reads a test model (check_model_path) as a check_read_ref.
static inline unsigned char *check_read_model(const char *rel, size_t *len) {
    char path[4096];
    return check_read_ref("test model ", check_model_path(rel, path, sizeof path), len, "");
}

static inline int check_done(const char *suite) {
    if (check_missing)
        printf("%s: %d passed, %d failed, %d missing reference(s) skipped (see the skip: lines)\n", suite,
               check_passed, check_failed, check_missing);
    else printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    return check_failed ? 1 : check_missing ? CHECK_SKIP : 0;
}

#endif
