// file_map.c - mmap (or read, on WASI) a whole file read-only; the input is never written.
#include "file_map.h"

#include "base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if !defined(__wasi__)
#include <sys/mman.h>
#endif

bool kite_file_map_open(const char *path, kite_file_map *m, char *err, size_t err_size) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "%s is not a regular file", path);
        close(fd);
        return false;
    }
    m->size = (uint64_t)st.st_size;
    if (m->size == 0) {
        m->data = (const uint8_t *)"";
        close(fd);
        return true;
    }
#if !defined(__wasi__)
    void *p = mmap(NULL, (size_t)m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
        close(fd);
        m->data = p;
        m->mapped = true;
        return true;
    }
#endif
    uint8_t *buf = malloc((size_t)m->size);
    if (!buf) {
        snprintf(err, err_size, "%s: out of memory reading %llu bytes", path, (unsigned long long)m->size);
        close(fd);
        return false;
    }
    uint64_t got = 0;
    while (got < m->size) {
        ssize_t n = read(fd, buf + got, (size_t)(m->size - got));
        if (n <= 0) {
            snprintf(err, err_size, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "unexpected end of file");
            free(buf);
            close(fd);
            return false;
        }
        got += (uint64_t)n;
    }
    close(fd);
    m->data = buf;
    return true;
}

void kite_file_map_close(kite_file_map *m) {
    if (m->data && m->size) {
#if !defined(__wasi__)
        if (m->mapped) munmap((void *)m->data, (size_t)m->size);
        else
#endif
            free((void *)m->data);
    }
    memset(m, 0, sizeof *m);
}

bool kite_file_same(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

char *kite_read_stream(FILE *f, size_t *len) {
    kite__buf b = {0};
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && kite__buf_append(&b, chunk, n)) {}
    if (!b.nomem && !ferror(f) && !b.ptr) b.ptr = calloc(1, 1); // an empty stream is "" too
    if (b.nomem || ferror(f) || !b.ptr) {
        kite__buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.ptr;
}
