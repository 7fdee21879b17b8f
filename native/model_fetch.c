// model_fetch.c - the download cache for models named by URL (see model_fetch.h).
#define _GNU_SOURCE
#include "model_fetch.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#if !defined(__wasi__)
#include <fcntl.h>
#include <sys/file.h>
#endif
#include <unistd.h>

#include "http_client.h"
#include "json.h"
#include "sha256.h"
#include "split_name.h"

#define PATH_CAP 4096
// llama.cpp's choice when -hf names no quantization (common/download.cpp find_best_model): a
// Q4_K_M file, else a Q8_0 one, else the first model file (NULL: any)
static const char *const DEFAULT_QUANTS[] = {"Q4_K_M", "Q8_0", NULL};
#define N_DEFAULT_QUANTS (sizeof DEFAULT_QUANTS / sizeof DEFAULT_QUANTS[0])

bool model_fetch_is_url(const char *spec) {
    return spec && (!strncmp(spec, "http://", 7) || !strncmp(spec, "https://", 8) || !strncmp(spec, "hf://", 5));
}

static bool cache_dir(char *out, size_t n) {
    const char *env = getenv("KITE_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int k;
    if (env && *env) k = snprintf(out, n, "%s", env);
    else if (xdg && *xdg) k = snprintf(out, n, "%s/kite", xdg);
    else if (home && *home) k = snprintf(out, n, "%s/.cache/kite", home);
    else {
        fprintf(stderr, "kite: no cache folder: set KITE_CACHE (or HOME)\n");
        return false;
    }
    return k > 0 && (size_t)k < n;
}

// The hub's URL; $HF_TOKEN (as llama.cpp and huggingface_hub read it) goes to it only.
static const char *hf_endpoint(void) {
    const char *e = getenv("KITE_HF_ENDPOINT");
    if (!e || !*e) e = getenv("HF_ENDPOINT");
    e = e && *e ? e : "https://huggingface.co";
    http_set_bearer(e, getenv("HF_TOKEN"));
    return e;
}

// A revision (branch, tag or commit) as URLs and cache paths take it: 1..100 of [A-Za-z0-9._-],
// not '.' or '..' (a branch with '/', such as refs/pr/1, is not taken).
static bool good_rev(const char *rev, size_t n) {
    if (n == 0 || n > 100 || (n <= 2 && !strncmp(rev, "..", n))) return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", rev[i]) || !rev[i]) return false;
    return true;
}

// A URL path as a relative cache path: every segment non-empty, not '.' or '..', printable
// ASCII without backslashes; the query and fragment dropped. False when it is not safe.
static bool safe_rel_path(const char *p, char *out, size_t n) {
    size_t len = strcspn(p, "?#");
    if (len == 0 || len >= n) return false;
    memcpy(out, p, len);
    out[len] = 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] <= ' ' || (unsigned char)out[i] >= 127 || out[i] == '\\' || out[i] == ':') out[i] = '_';
    for (char *seg = out; seg;) {
        char *slash = strchr(seg, '/');
        size_t sl = slash ? (size_t)(slash - seg) : strlen(seg);
        if (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.')) return false;
        seg = slash ? slash + 1 : NULL;
    }
    return true;
}

// URLs that differ only in their query (get?file=a.gguf, get?file=b.gguf) are different files:
// when url_path (a URL from its path on) has a non-empty query (the bytes between '?' and '#';
// the fragment is never sent), the last segment of its cache path rel (capacity n) gets the
// prefix "q" + the first 12 hex digits of the query's SHA-256 + "-", keeping the file's own name
// (and a split set's -0000i-of-0000n.gguf tail) readable. Without a query rel is left as is, so
// caches written before this keep answering. False when the longer name does not fit.
static bool tag_query(const char *url_path, char *rel, size_t n) {
    const char *q = url_path + strcspn(url_path, "?#");
    const size_t ql = *q == '?' ? strcspn(q + 1, "#") : 0;
    if (ql == 0) return true;
    sha256_ctx c;
    char hex[65];
    sha256_init(&c);
    sha256_update(&c, q + 1, ql);
    sha256_final_hex(&c, hex);
    char *name = strrchr(rel, '/');
    name = name ? name + 1 : rel;
    const size_t tag = 1 + 12 + 1, len = strlen(name);
    if ((size_t)(name - rel) + tag + len >= n) return false;
    memmove(name + tag, name, len + 1);
    name[0] = 'q';
    memcpy(name + 1, hex, 12);
    name[13] = '-';
    return true;
}

// mkdir -p of path's parent folder.
static bool make_parents(const char *path) {
    char tmp[PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "kite: cannot create the cache folder %s: %s\n", tmp, strerror(errno));
            return false;
        }
        *p = '/';
    }
    return true;
}

// ---- one download ---------------------------------------------------------------------------

typedef struct dl_state {
    const char *part; // the .part file
    const char *etag_file; // PART.etag: the strong ETag the .part file's bytes came with
    const char *if_range;  // that ETag when resuming, else NULL
    FILE *f;
    int64_t from;    // bytes already in the .part file when the request was sent
    int64_t written; // bytes of this response written
    int64_t total;   // the whole file's size, -1 unknown
    bool tty;
    double t0, last;
    int64_t base; // bytes present when this transfer started (for the rate)
    bool failed_write;
} dl_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void draw_progress(dl_state *d, bool final) {
    const double t = now_s();
    if (!d->tty || (!final && t - d->last < 0.2)) return;
    d->last = t;
    const int64_t have = d->base + d->written;
    const double rate = t > d->t0 ? (double)d->written / (t - d->t0) / 1e6 : 0;
    if (d->total > 0)
        fprintf(stderr, "\r\033[K  %.1f / %.1f MB (%.0f%%)  %.1f MB/s", (double)have / 1e6, (double)d->total / 1e6,
                100.0 * (double)have / (double)d->total, rate);
    else
        fprintf(stderr, "\r\033[K  %.1f MB  %.1f MB/s", (double)have / 1e6, rate);
    if (final) fputc('\n', stderr);
}

static bool dl_body(void *user, const http_response *r, const void *data, size_t n) {
    dl_state *d = user;
    if (!d->f) { // the first bytes: append to the partial file if the server honoured the range
        const bool resume = r->status == 206 && d->from > 0 && r->range_start == d->from;
        d->base = resume ? d->from : 0;
        d->total = r->total;
        if (d->from > 0 && !resume)
            fprintf(stderr, "kite: %s; starting over\n",
                    d->if_range ? "the file changed on the server (a new ETag) or the server does not resume"
                                : "the server does not resume");
        else if (resume) fprintf(stderr, "kite: resuming at %.1f MB\n", (double)d->from / 1e6);
        if (!resume) { // note the new bytes' ETag, so a later resume asks for the same version
            FILE *e = r->etag[0] && !r->etag_weak ? fopen(d->etag_file, "w") : NULL;
            if (e) {
                fputs(r->etag, e);
                fclose(e);
            } else {
                unlink(d->etag_file);
            }
        }
        d->f = fopen(d->part, resume ? "ab" : "wb");
        if (!d->f) {
            fprintf(stderr, "kite: cannot write %s: %s\n", d->part, strerror(errno));
            d->failed_write = true;
            return false;
        }
    }
    if (fwrite(data, 1, n, d->f) != n) {
        fprintf(stderr, "kite: writing %s: %s\n", d->part, strerror(errno));
        d->failed_write = true;
        return false;
    }
    d->written += (int64_t)n;
    draw_progress(d, false);
    return true;
}

typedef struct mem_body {
    char buf[1024];
    size_t len;
} mem_body;

static bool mem_sink(void *user, const http_response *r, const void *data, size_t n) {
    (void)r;
    mem_body *m = user;
    if (m->len + n >= sizeof m->buf) return false; // a sidecar is one line
    memcpy(m->buf + m->len, data, n);
    m->len += n;
    m->buf[m->len] = 0;
    return true;
}

static bool is_hex64(const char *s) {
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))) return false;
    return true;
}

// The published SHA-256 of url: the ETag when it is one, else a sidecar, the file's path +
// ".sha256" with the file's query after it (PATH.sha256?download=true for PATH?download=true;
// "HEX" or sha256sum's "HEX  NAME"). Writes a description of the source to what.
static bool expected_sha256(const char *url, const char *etag, char hex[65], const char **what) {
    if (strlen(etag) == 64 && is_hex64(etag)) {
        memcpy(hex, etag, 65);
        *what = "the server's ETag";
    } else {
        char side[PATH_CAP + 8], err[256];
        const size_t pl = strcspn(url, "?#"), ql = url[pl] == '?' ? strcspn(url + pl, "#") : 0;
        snprintf(side, sizeof side, "%.*s.sha256%.*s", (int)pl, url, (int)ql, url + pl);
        mem_body m = {{0}, 0};
        http_response r = {0};
        if (!http_get(side, 0, NULL, mem_sink, &m, &r, err, sizeof err) || r.status != 200 || m.len < 64 ||
            !is_hex64(m.buf) || (m.len > 64 && m.buf[64] != ' ' && m.buf[64] != '\n' && m.buf[64] != '\r'))
            return false;
        memcpy(hex, m.buf, 64);
        hex[64] = 0;
        *what = "the .sha256 file beside it";
    }
    for (int i = 0; i < 64; i++)
        if (hex[i] >= 'A' && hex[i] <= 'F') hex[i] = (char)(hex[i] - 'A' + 'a');
    return true;
}

// Whether the downloaded file starts with GGUF's magic. An error page a server sent as 200 (a
// rate limit, a proxy's login page) is not a model, and kept in the cache it would be opened by
// every later run without a request: it is refused here, showing what it starts with.
static bool starts_gguf(const char *url, const char *part, long long size) {
    unsigned char head[16];
    FILE *f = fopen(part, "rb");
    const size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    if (n >= 4 && !memcmp(head, "GGUF", 4)) return true;
    char shown[sizeof head + 1];
    for (size_t i = 0; i < n; i++) shown[i] = head[i] >= 0x20 && head[i] < 0x7f && head[i] != '"' ? (char)head[i] : '.';
    shown[n] = 0;
    fprintf(stderr, "kite: %s: not a GGUF file (%lld bytes starting \"%s\"): the server may have sent an error page; "
                    "the download was removed\n", url, size, shown);
    return false;
}

// Downloads url to dest (through dest.part); see model_fetch_url.
static bool download(const char *url, const char *dest) {
    if (!make_parents(dest)) return false;
    char part[PATH_CAP + 8];
    snprintf(part, sizeof part, "%s.part", dest);
    char etag_file[PATH_CAP + 16], etag[160] = "";
    snprintf(etag_file, sizeof etag_file, "%s.etag", part);
    struct stat st;
    dl_state d = {.part = part, .etag_file = etag_file, .total = -1, .tty = isatty(2)};
    if (stat(part, &st) == 0 && S_ISREG(st.st_mode)) d.from = st.st_size;
    FILE *e = d.from > 0 ? fopen(etag_file, "r") : NULL;
    if (e) {
        if (fgets(etag, sizeof etag, e) && etag[0] && !strpbrk(etag, "\"\r\n")) d.if_range = etag;
        fclose(e);
    }
    if (d.from > 0 && !d.if_range) { // a plain range could append another version of the file to these bytes
        fprintf(stderr, "kite: %s has no ETag to resume against (the server sent none); starting over\n", part);
        d.from = 0;
    }
    fprintf(stderr, "kite: downloading %s\n      to %s\n", url, dest);
    d.t0 = d.last = now_s();
    char err[1024];
    http_response r = {0};
    bool ok = http_get(url, d.from, d.if_range, dl_body, &d, &r, err, sizeof err);
    if (d.f && fclose(d.f) != 0 && !d.failed_write) {
        fprintf(stderr, "kite: writing %s: %s\n", part, strerror(errno));
        d.failed_write = true;
    }
    if (d.f) draw_progress(&d, true);
    if (!ok || d.failed_write) {
        if (!d.failed_write) fprintf(stderr, "kite: %s\n", err);
        if (d.base + d.written > 0 && access(etag_file, F_OK) == 0) {
            fprintf(stderr, "kite: download incomplete (%.1f MB kept in %s); run again to resume\n",
                    (double)(d.base + d.written) / 1e6, part);
        } else if (d.base + d.written > 0) { // nothing to tie a resume to: nothing worth keeping
            unlink(part);
            fprintf(stderr, "kite: download incomplete; the server sent no ETag to resume against, so the next run "
                            "starts over\n");
        }
        return false;
    }
    if (r.status == 416 && d.from > 0) { // the range starts at the end: the partial file is whole
        d.base = d.from;
        d.total = -1;
    } else if (r.status / 100 != 2) {
        fprintf(stderr, "kite: %s: HTTP %d%s\n", url, r.status,
                r.status == 401 || r.status == 403 ? " (a gated or private Hugging Face repository needs $HF_TOKEN)" : "");
        return false;
    } else if (!d.f) { // an empty 2xx body: create the (empty) file
        FILE *f = fopen(part, "wb");
        if (f) fclose(f);
        d.total = r.total;
    }
    // size: what the server announced
    if (stat(part, &st) != 0) {
        fprintf(stderr, "kite: %s: %s\n", part, strerror(errno));
        return false;
    }
    if (d.total >= 0 && st.st_size != d.total) {
        fprintf(stderr, "kite: %s: got %lld bytes, the server announced %lld; run again to resume\n", url,
                (long long)st.st_size, (long long)d.total);
        return false;
    }
    if (!starts_gguf(url, part, (long long)st.st_size)) {
        unlink(part);
        unlink(etag_file);
        return false;
    }
    // checksum: where the server publishes one
    char want[65], got[65];
    const char *source = NULL;
    if (expected_sha256(url, r.etag, want, &source)) {
        if (!sha256_file_hex(part, got)) {
            fprintf(stderr, "kite: reading %s: %s\n", part, strerror(errno));
            return false;
        }
        if (strcmp(want, got) != 0) {
            fprintf(stderr, "kite: %s: SHA-256 mismatch: the file has %s, %s says %s; the download was removed\n",
                    url, got, source, want);
            unlink(part);
            unlink(etag_file);
            return false;
        }
        fprintf(stderr, "kite: %lld bytes, SHA-256 %s matches %s\n", (long long)st.st_size, got, source);
    } else {
        fprintf(stderr, "kite: %lld bytes%s; the server publishes no SHA-256 (no ETag digest, no .sha256 file), so "
                        "only the size was checked\n",
                (long long)st.st_size, d.total >= 0 ? " as announced" : "");
    }
    if (rename(part, dest) != 0) {
        fprintf(stderr, "kite: cannot rename %s to %s: %s\n", part, dest, strerror(errno));
        return false;
    }
    unlink(etag_file);
    return true;
}

// ---- URL -> cache path ----------------------------------------------------------------------

// model_fetch_url for one file.
static bool fetch_one(const char *spec, char *out, size_t n) {
    char dir[PATH_CAP], rel[PATH_CAP], url[PATH_CAP];
    if (!cache_dir(dir, sizeof dir)) return false;
    int k;
    if (!strncmp(spec, "hf://", 5)) { // hf://owner/repo/path/in/repo
        // It names a file, as llama.cpp's -hf and the npm package's hf:// do: a query or fragment
        // would reach the URL but not the cache path, so two references would share one file.
        if (strpbrk(spec, "?#")) {
            fprintf(stderr, "kite: hf:// reference '%s' has a %s: an hf:// reference names a file "
                            "(hf://OWNER/REPO/FILE.gguf); give the https://huggingface.co/OWNER/REPO/resolve/main/... URL "
                            "to send one\n",
                    spec, strchr(spec, '?') ? "query ('?')" : "fragment ('#')");
            return false;
        }
        // OWNER/REPO@REV: the revision's files, cached under OWNER/REPO@REV (apart from main's)
        const char *p = spec + 5, *s1 = strchr(p, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        const char *at = s2 ? memchr(s1 + 1, '@', (size_t)(s2 - s1 - 1)) : NULL, *repo_end = at ? at : s2;
        if (!s1 || !s2 || s1 == p || repo_end == s1 + 1 || !s2[1] || memchr(p, '@', (size_t)(s1 - p)) ||
            (at && !good_rev(at + 1, (size_t)(s2 - at - 1))) || !safe_rel_path(p, rel, sizeof rel)) {
            fprintf(stderr, "kite: bad model URL '%s' (expected hf://OWNER/REPO[@REV]/FILE.gguf)\n", spec);
            return false;
        }
        k = snprintf(url, sizeof url, "%s/%.*s/resolve/%.*s/%s", hf_endpoint(), (int)(repo_end - p), p,
                     at ? (int)(s2 - at - 1) : 4, at ? at + 1 : "main", s2 + 1);
        if (k > 0 && (size_t)k < sizeof url) k = snprintf(out, n, "%s/hf/%s", dir, rel);
    } else {
        const char *host = strstr(spec, "://") + 3, *slash = strchr(host, '/');
        char hostpart[300];
        size_t hl = slash ? (size_t)(slash - host) : strlen(host);
        if (hl == 0 || hl >= sizeof hostpart || !slash || !safe_rel_path(slash + 1, rel, sizeof rel)) {
            fprintf(stderr, "kite: bad model URL '%s' (expected http(s)://HOST/PATH/FILE.gguf)\n", spec);
            return false;
        }
        if (!tag_query(slash + 1, rel, sizeof rel)) {
            fprintf(stderr, "kite: model URL too long: %s\n", spec);
            return false;
        }
        memcpy(hostpart, host, hl);
        hostpart[hl] = 0;
        for (char *c = hostpart; *c; c++)
            if (*c == ':' || *c == '/' || *c == '@' || *c == '\\') *c = '_';
        k = snprintf(url, sizeof url, "%s", spec);
        if (k > 0 && (size_t)k < sizeof url) k = snprintf(out, n, "%s/url/%s/%s", dir, hostpart, rel);
    }
    if (k <= 0 || (size_t)k >= n) {
        fprintf(stderr, "kite: model URL too long: %s\n", spec);
        return false;
    }
    struct stat st;
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return true; // cached: no request
#if !defined(__wasi__)
    // one download of a file at a time: a second kite waits for the first, then uses its file
    char lock[PATH_CAP + 8];
    snprintf(lock, sizeof lock, "%s.lock", out);
    int fd = make_parents(out) ? open(lock, O_CREAT | O_RDWR | O_CLOEXEC, 0644) : -1;
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "kite: another kite process is downloading %s; waiting for it\n", out);
        flock(fd, LOCK_EX);
    }
    bool ok = (stat(out, &st) == 0 && S_ISREG(st.st_mode)) || download(url, out);
    if (fd >= 0) close(fd); // releases the lock (the lock file stays: removing it would race)
    return ok;
#else
    return download(url, out);
#endif
}

bool model_fetch_url(const char *spec, char *out, size_t n) {
    if (!fetch_one(spec, out, n)) return false;
    // the name is the URL's path; its query (and fragment) goes with each file of a split set, as
    // Hugging Face's ?download=true, and so gives them all one cache-name prefix (tag_query)
    char path_part[PATH_CAP];
    const size_t pl = strcspn(spec, "?#");
    int no;
    size_t plen;
    if (pl >= sizeof path_part) return true; // (cannot be: fetch_one refuses a URL this long)
    memcpy(path_part, spec, pl);
    path_part[pl] = 0;
    const int count = split_name(path_part, &no, &plen);
    if (count <= 1 || no != 1) return true;
    // a split set's first file: the others go beside it, where the loader opens them
    for (int i = 2; i <= count; i++) {
        char part[PATH_CAP], url[PATH_CAP], path[PATH_CAP];
        split_part(part, sizeof part, path_part, plen, i, count);
        const int k = snprintf(url, sizeof url, "%s%s", part, spec + pl);
        if (k <= 0 || (size_t)k >= sizeof url) {
            fprintf(stderr, "kite: model URL too long: %s\n", part);
            return false;
        }
        if (!fetch_one(url, path, sizeof path)) return false;
    }
    return true;
}

// A split set's file k of N (NAME-0000k-of-0000N.gguf) becomes its first, NAME-00001-of-0000N.gguf,
// from which the set loads; any other name stays.
static void first_of_split(char *name) {
    int no;
    size_t plen;
    if (split_name(name, &no, &plen) > 1) memcpy(name + plen + 1, "00001", 5); // "-0000k-of-..." -> "-00001-of-..."
}

// True when name (a file's path in the repo) is a .gguf whose path contains quant
// (case-insensitive; NULL: any), at depth (0: top level, 1: in a first-level folder).
static bool gguf_matches(const char *name, const char *quant, int depth) {
    size_t l = strlen(name);
    const char *slash = strchr(name, '/');
    if (depth == 0 ? slash != NULL : !slash || slash == name || strchr(slash + 1, '/')) return false;
    if (l < 5 || strcasecmp(name + l - 5, ".gguf") != 0) return false;
    if (strcasestr(name, "mmproj")) return false; // vision projectors are not the model
    return !quant || strcasestr(name, quant);
}

static void free_entries(struct dirent **e, int n) {
    for (int i = 0; i < n; i++) free(e[i]);
    free(e);
}

// Scans the cached copy of a repository (cache/hf/OWNER/REPO[@REV]) for a match: a top-level
// file, else one in a first-level folder (as the hub's list is picked), each folder in name
// order (the same pick on every run); its path there to name.
static bool cached_repo_file(const char *repo_dir, const char *quant, char *name, size_t n) {
    struct dirent **top = NULL;
    const int n_top = scandir(repo_dir, &top, NULL, alphasort);
    if (n_top < 0) return false;
    bool found = false;
    char sub_dir[PATH_CAP], rel[600]; // a folder's path; FOLDER/NAME
    for (int depth = 0; depth < 2 && !found; depth++) {
        for (int i = 0; i < n_top && !found; i++) {
            const char *d_name = top[i]->d_name;
            if (d_name[0] == '.') continue;
            if (depth == 0) {
                found = gguf_matches(d_name, quant, 0) && snprintf(name, n, "%s", d_name) > 0;
                continue;
            }
            struct dirent **sub = NULL;
            const int k = snprintf(sub_dir, sizeof sub_dir, "%s/%s", repo_dir, d_name);
            const int n_sub = k > 0 && (size_t)k < sizeof sub_dir ? scandir(sub_dir, &sub, NULL, alphasort) : -1;
            for (int j = 0; j < n_sub && !found; j++) {
                const int r = snprintf(rel, sizeof rel, "%s/%s", d_name, sub[j]->d_name);
                found = r > 0 && (size_t)r < sizeof rel && sub[j]->d_name[0] != '.' && gguf_matches(rel, quant, 1) &&
                        snprintf(name, n, "%s", rel) > 0;
            }
            if (n_sub >= 0) free_entries(sub, n_sub);
        }
    }
    free_entries(top, n_top);
    return found;
}

// The cached file -hf picks with the hub unreachable, as llama.cpp's -hf picks among its cached
// files then: QUANT's match, or without QUANT the DEFAULT_QUANTS in turn (cached_repo_file).
static bool cached_pick(const char *repo_dir, const char *quant, char *name, size_t n) {
    if (quant) return cached_repo_file(repo_dir, quant, name, n);
    for (size_t t = 0; t < N_DEFAULT_QUANTS; t++)
        if (cached_repo_file(repo_dir, DEFAULT_QUANTS[t], name, n)) return true;
    return false;
}

typedef struct big_body {
    char *p;
    size_t len, cap;
} big_body;

static bool big_sink(void *user, const http_response *r, const void *data, size_t n) {
    (void)r;
    big_body *b = user;
    if (b->len + n + 1 > (16u << 20)) return false; // a file list is far smaller
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return true;
}

// The hub's pick from its file list (json, len: ENDPOINT/api/models/REPO's answer at url): the
// first file matching QUANT, or without QUANT the DEFAULT_QUANTS in turn; for each, a top-level
// file before one in a first-level folder (big repositories keep a quant's split set in one).
// False (said on stderr) when the list is not one or nothing fits.
static bool listed_pick(const char *repo, const char *url, const char *json, size_t len, const char *quant, char *name,
                        size_t n) {
    char jerr[256];
    json_doc *doc = json_parse(json ? json : "", len, jerr, sizeof jerr);
    const json_value *sib = doc ? json_get(json_root(doc), "siblings") : NULL;
    if (!sib || sib->type != JSON_ARRAY) {
        fprintf(stderr, "kite: -hf %s: %s: no file list (%s)\n", repo, url, doc ? "no 'siblings' array" : jerr);
        json_free(doc);
        return false;
    }
    bool found = false;
    const size_t tiers = quant ? 1 : N_DEFAULT_QUANTS;
    for (size_t pass = 0; pass < 2 * tiers && !found; pass++) {
        const char *want = quant ? quant : DEFAULT_QUANTS[pass / 2];
        for (const json_value *e = sib->child; e && !found; e = e->next) {
            const json_value *f = json_get(e, "rfilename");
            found = f && f->type == JSON_STRING && gguf_matches(f->str, want, (int)(pass % 2)) &&
                    snprintf(name, n, "%s", f->str) > 0;
        }
    }
    json_free(doc);
    if (!found)
        fprintf(stderr, "kite: -hf %s: the repository has no .gguf file%s%s\n", repo, quant ? " matching " : "",
                quant ? quant : "");
    return found;
}

bool model_fetch_hf_repo(const char *spec, char *out, size_t n) {
    char repo[512], quant_buf[64], dir[PATH_CAP], repo_dir[PATH_CAP + 600], name[512];
    const char *colon = strchr(spec, ':'), *quant = NULL;
    size_t rl = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *slash = memchr(spec, '/', rl), *at = memchr(spec, '@', rl);
    // repo: OWNER/REPO[@REV], as cache paths and hf:// references name a revision's files
    const size_t name_len = at ? (size_t)(at - spec) : rl;
    if (rl == 0 || rl >= sizeof repo || !slash || slash == spec || slash + 1 >= spec + name_len ||
        memchr(slash + 1, '/', rl - (size_t)(slash + 1 - spec)) || (at && !good_rev(at + 1, rl - name_len - 1)) ||
        (colon && (!colon[1] || strlen(colon + 1) >= sizeof quant_buf))) {
        fprintf(stderr, "kite: -hf expects OWNER/REPO[@REV][:QUANT], got '%s'\n", spec);
        return false;
    }
    memcpy(repo, spec, rl);
    repo[rl] = 0;
    char safe[512];
    if (!safe_rel_path(repo, safe, sizeof safe) || strcmp(safe, repo) != 0) {
        fprintf(stderr, "kite: -hf: bad repository name '%s'\n", repo);
        return false;
    }
    if (colon) quant = strcpy(quant_buf, colon + 1);
    if (!cache_dir(dir, sizeof dir)) return false;
    snprintf(repo_dir, sizeof repo_dir, "%s/hf/%s", dir, repo);
    // without QUANT, the file picked the first time (noted in REPO_DIR/.default), else a cached Q4_K_M
    char note[PATH_CAP + 700];
    snprintf(note, sizeof note, "%s/.default", repo_dir);
    bool found = false;
    if (!quant) {
        FILE *f = fopen(note, "r");
        char line[512], path[PATH_CAP + 1300];
        struct stat st;
        if (f && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(path, sizeof path, "%s/%s", repo_dir, line);
            if ((gguf_matches(line, NULL, 0) || gguf_matches(line, NULL, 1)) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                snprintf(name, sizeof name, "%s", line);
                found = true;
            }
        }
        if (f) fclose(f);
    }
    // (a cached Q8_0 or other file is not taken while the hub can be asked: it may list a Q4_K_M)
    if (!found) found = cached_repo_file(repo_dir, quant ? quant : DEFAULT_QUANTS[0], name, sizeof name);
    if (found) first_of_split(name);
    bool offline_pick = false; // picked from the cache because the hub could not be reached
    if (!found) { // ask the hub for the repository's files
        char url[PATH_CAP], err[1024];
        snprintf(url, sizeof url, "%s/api/models/%.*s%s%s", hf_endpoint(), (int)name_len, repo, at ? "/revision/" : "",
                 at ? repo + name_len + 1 : "");
        big_body b = {0};
        http_response r = {0};
        const bool listed = http_get(url, 0, NULL, big_sink, &b, &r, err, sizeof err) && r.status == 200;
        if (!listed && !r.status && cached_pick(repo_dir, quant, name, sizeof name)) {
            // the hub cannot be reached (no answer at all): a cached file, as llama.cpp's -hf falls back
            fprintf(stderr, "kite: -hf %s: %s: %s; using the cached %s\n", repo, url, err, name);
            offline_pick = true;
        } else if (!listed) {
            if (r.status && r.status != 200)
                fprintf(stderr, "kite: -hf %s: %s: HTTP %d%s\n", repo, url, r.status,
                        r.status == 401 || r.status == 403 ? " (a gated or private repository needs $HF_TOKEN)" : "");
            else fprintf(stderr, "kite: -hf %s: %s: %s\n", repo, url, err);
            free(b.p);
            return false;
        } else if (!listed_pick(repo, url, b.p, b.len, quant, name, sizeof name)) {
            free(b.p);
            return false;
        }
        free(b.p);
        first_of_split(name);
    }
    char hf[PATH_CAP];
    snprintf(hf, sizeof hf, "hf://%s/%s", repo, name);
    if (!model_fetch_url(hf, out, n)) return false;
    // remember the choice (a hint only: a failed write just costs a request next time); not one
    // made offline, so that the hub's list decides once it can be reached
    if (!quant && !offline_pick) {
        FILE *f = fopen(note, "w");
        if (f) {
            fprintf(f, "%s\n", name);
            fclose(f);
        }
    }
    return true;
}
