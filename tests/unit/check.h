// check.h - the tiny assertion harness of the C tests: CHECK records a failure and goes on,
// check_done() prints "N passed, N failed" and returns the exit code.
#ifndef KITE_TEST_CHECK_H
#define KITE_TEST_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

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

// Writes len bytes to path (created or truncated); false if it cannot.
static inline bool check_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0) && ok;
}

// Reads a shared model file; a missing file fails the test under CI=true, else skips it.
static inline unsigned char *check_read_model(const char *rel, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", check_models_dir(), rel);
    unsigned char *b = check_read_file(path, len);
    if (!b) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0) {
            check_failed++;
            fprintf(stderr, "FAIL: test model %s missing (CI=true)\n", path);
        } else {
            fprintf(stderr, "skip: test model %s missing\n", path);
        }
    }
    return b;
}

static inline int check_done(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
