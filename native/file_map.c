// file_map.c - mmap (or read, on WASI) a whole file read-only; the input is never written.
#include "file_map.h"

#include "base/kite_buf.h"

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

const char *kite_file_kind(unsigned mode) {
    // tests, not a switch: WASI gives S_IFIFO and S_IFSOCK the same value
    mode_t m = (mode_t)mode;
    if (S_ISREG(m)) return "a regular file";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISLNK(m)) return "a symbolic link";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

// Opens path read-only and checks that it is a regular file, without ever blocking: open()
// waits for a writer on a FIFO (and a device may block too), so the open is non-blocking and
// the type is checked on the descriptor (no race with a rename between a stat and the open).
// Returns the descriptor, or -1 with a reason in err.
static int open_regular(const char *path, struct stat *st, char *err, size_t err_size) {
#ifdef O_NONBLOCK
    int fd = open(path, O_RDONLY | O_NONBLOCK);
#else
    int fd = open(path, O_RDONLY);
#endif
    if (fd < 0) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        snprintf(err, err_size, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, err_size, "%s is %s, not a regular file", path, kite_file_kind((unsigned)st->st_mode));
        close(fd);
        return -1;
    }
    // O_NONBLOCK means nothing to regular-file reads (they never block in that sense)
    return fd;
}

bool kite_file_map_open(const char *path, kite_file_map *m, char *err, size_t err_size) {
    memset(m, 0, sizeof *m);
    struct stat st;
    int fd = open_regular(path, &st, err, err_size);
    if (fd < 0) return false;
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

bool kite_file_map_drop(const kite_file_map *m, const void *data, uint64_t len) {
    const uintptr_t lo = (uintptr_t)data, base = (uintptr_t)m->data;
    if (!m->data || lo < base || lo - base > m->size || len > m->size - (lo - base)) return false;
#if !defined(__wasi__)
    if (m->mapped) {
        const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        const uintptr_t a = (lo + page - 1) & ~(page - 1), b = (lo + (uintptr_t)len) & ~(page - 1);
        // an inaccessible anonymous mapping over the range: madvise(MADV_DONTNEED) alone let the
        // kernel map the still-cached pages back in with their neighbours' faults (whole large
        // folios: Qwen3-0.6B Q4_K_M kept 80 MB of them resident); a failure changes nothing
        if (b > a) mmap((void *)a, (size_t)(b - a), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    }
#endif
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

char *kite_read_stream(FILE *f, size_t max, size_t *len, bool *too_long) {
    kite_buf b = {0};
    char chunk[1 << 16];
    size_t n;
    *too_long = false;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n > max - b.len) { // an endless stream (/dev/zero) must not grow memory without bound
            *too_long = true;
            kite_buf_free(&b);
            return NULL;
        }
        if (!kite_buf_append(&b, chunk, n)) break;
    }
    if (!b.nomem && !ferror(f) && !b.ptr) b.ptr = calloc(1, 1); // an empty stream is "" too
    if (b.nomem || ferror(f) || !b.ptr) {
        kite_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.ptr;
}

char *kite_read_text_file(const char *path, size_t max, size_t *len, char *err, size_t err_size) {
    struct stat st;
    int fd = open_regular(path, &st, err, err_size);
    if (fd < 0) return NULL;
    if ((uint64_t)st.st_size > (uint64_t)max) {
        if (max % ((size_t)1 << 20) == 0)
            snprintf(err, err_size, "%s is %llu bytes; text inputs are limited to %zu MiB", path,
                     (unsigned long long)st.st_size, max >> 20);
        else
            snprintf(err, err_size, "%s is %llu bytes; text inputs are limited to %zu bytes", path,
                     (unsigned long long)st.st_size, max);
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    // read to the end, not to st_size: the file may grow while it is read, up to the limit
    bool too_long = false;
    char *text = kite_read_stream(f, max, len, &too_long);
    if (!text && too_long)
        snprintf(err, err_size, "%s grew past the limit on text inputs (%zu bytes) while being read", path, max);
    else if (!text)
        snprintf(err, err_size, "cannot read %s: %s", path, ferror(f) ? strerror(errno) : "out of memory");
    fclose(f);
    return text;
}

ssize_t kite_read_line(char **line, size_t *cap, FILE *f, size_t max) {
    size_t n = 0;
    int ch = EOF;
    for (;;) {
        if (n >= max) return -2; // an endless line (/dev/zero) stops here, not at the end of memory
        ch = getc_unlocked(f);
        if (ch == EOF) break;
        if (n + 2 > *cap) { // room for this byte and the NUL
            size_t nc = *cap ? *cap * 2 : 256;
            char *p = realloc(*line, nc);
            if (!p) return -1;
            *line = p;
            *cap = nc;
        }
        (*line)[n++] = (char)ch;
        if (ch == '\n') break;
    }
    if (n == 0) return -1; // end of input (or a read error: ferror / errno tell)
    (*line)[n] = 0;
    return (ssize_t)n;
}
