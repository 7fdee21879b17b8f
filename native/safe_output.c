// safe_output.c - temp file, fsync, rename: see safe_output.h.
#include "safe_output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_map.h"

int safe_output_check(const char *path, const char *in_path, char *err, size_t err_len) {
    if (in_path && (!strcmp(in_path, path) || kite_file_same(in_path, path))) {
        snprintf(err, err_len, "%s is the input file: choose another name", path);
        return 2;
    }
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return 0; // a new file; its folder is checked when the temp file is made
        snprintf(err, err_len, "cannot check %s: %s", path, strerror(errno));
        return 1;
    }
    if (S_ISREG(st.st_mode)) return 0;
    snprintf(err, err_len, "%s is %s, not a regular file%s: nothing written", path, kite_file_kind((unsigned)st.st_mode),
             S_ISLNK(st.st_mode) ? " (links are not written through: name the target)" : "");
    return 2;
}

bool safe_output_open(safe_output *o, const char *path, char *err, size_t err_len) {
    memset(o, 0, sizeof *o);
    const size_t tl = strlen(path) + 16;
    o->path = strdup(path);
    o->tmp_path = malloc(tl);
    if (!o->path || !o->tmp_path) {
        snprintf(err, err_len, "out of memory");
        safe_output_close(o);
        return false;
    }
#if defined(__wasi__) // no mkstemp/umask/fchmod: one fixed temporary name beside the output
    snprintf(o->tmp_path, tl, "%s.tmp-wasi", path);
    const int fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
#else
    snprintf(o->tmp_path, tl, "%s.tmp-XXXXXX", path);
    const int fd = mkstemp(o->tmp_path);
#endif
    if (fd < 0) {
        const int e = errno;
        snprintf(err, err_len, "cannot create %s: %s", o->tmp_path, strerror(e));
        free(o->tmp_path);
        o->tmp_path = NULL;
        safe_output_close(o);
        errno = e; // callers may name the cause alone
        return false;
    }
#if !defined(__wasi__) // mkstemp makes 0600: give the file the mode a plain create would
    const mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
#endif
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        snprintf(err, err_len, "cannot open %s: %s", o->tmp_path, strerror(errno));
        close(fd);
        safe_output_close(o);
        return false;
    }
    return true;
}

bool safe_output_write(safe_output *o, const void *data, size_t n) {
    if (fwrite(data, 1, n, o->f) == n) return true;
    if (!o->err) o->err = errno ? errno : EIO;
    return false;
}

// Makes a finished rename durable: fsyncs the folder holding path. Best effort (some file
// systems refuse a folder fsync; the data itself was synced before the rename).
static void sync_parent(const char *path) {
#if !defined(__wasi__)
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    const int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
#else
    (void)path;
#endif
}

bool safe_output_commit(safe_output *o, char *err, size_t err_len) {
    // every byte reaches the disk before the rename makes the file visible as the target
    if (!o->err && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0)) o->err = errno;
    if (fclose(o->f) != 0 && !o->err) o->err = errno;
    o->f = NULL;
    if (o->err) {
        snprintf(err, err_len, "writing %s: %s", o->tmp_path, strerror(o->err));
        safe_output_close(o);
        return false;
    }
    struct stat st;
    if (lstat(o->path, &st) == 0 && !S_ISREG(st.st_mode)) { // replaced while we wrote: still not ours
        snprintf(err, err_len, "%s became %s while writing: not replaced", o->path, kite_file_kind((unsigned)st.st_mode));
        safe_output_close(o);
        return false;
    }
    if (rename(o->tmp_path, o->path) != 0) {
        snprintf(err, err_len, "cannot rename %s to %s: %s", o->tmp_path, o->path, strerror(errno));
        safe_output_close(o);
        return false;
    }
    free(o->tmp_path);
    o->tmp_path = NULL;
    sync_parent(o->path);
    return true;
}

void safe_output_close(safe_output *o) {
    if (o->f) fclose(o->f);
    if (o->tmp_path) unlink(o->tmp_path);
    free(o->tmp_path);
    free(o->path);
    memset(o, 0, sizeof *o);
}
