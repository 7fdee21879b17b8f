// kite_base.h - status codes, error messages, string views and logging shared by every module.
#ifndef KITE_BASE_H
#define KITE_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KITE_VERSION "0.1.0"

// Every fallible public call returns a kite_status; KITE_OK is 0.
typedef enum kite_status {
    KITE_OK = 0,
    KITE_ERR_INVALID = 1,     // bad input: malformed file, bad parameter
    KITE_ERR_IO = 2,          // the host's read/write callback failed
    KITE_ERR_NOMEM = 3,       // an allocation failed
    KITE_ERR_UNSUPPORTED = 4, // well-formed but not supported (architecture, type)
    KITE_ERR_ABORTED = 5,     // the caller asked to stop
} kite_status;

// The message of the last error set on this thread ("" if none). The pointer stays valid
// until the next failing call on the same thread.
const char *kite_last_error(void);

// Sets this thread's error message (printf-style; what kite_last_error returns next) and returns
// s, so a host reports its own failures through the same channel as the library's:
// `return kite_set_error(KITE_ERR_INVALID, "option %s: ...", name);`. Messages longer than 511
// bytes are cut.
kite_status kite_set_error(kite_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

// A short name for a status ("invalid input", ...). Never NULL.
const char *kite_status_name(kite_status s);

// A byte string that is not NUL-terminated; usually a view into a file buffer.
typedef struct kite_str {
    const char *ptr;
    uint64_t len;
} kite_str;

// True when s equals the NUL-terminated string z.
bool kite_str_eq(kite_str s, const char *z);

// Log levels and the host-installed sink. The library never prints by itself.
typedef enum kite_log_level { KITE_LOG_DEBUG, KITE_LOG_INFO, KITE_LOG_WARN, KITE_LOG_ERROR } kite_log_level;
typedef void (*kite_log_fn)(kite_log_level level, const char *msg, void *user);

// Installs the log sink (NULL silences logging). Not thread-safe against concurrent logging.
void kite_log_set(kite_log_fn fn, void *user);

// A byte sink the host provides (file, Blob builder, memory buffer). write returns KITE_OK
// or an error status; it must consume all n bytes.
typedef struct kite_sink {
    kite_status (*write)(void *user, const void *data, size_t n);
    void *user;
} kite_sink;

// Progress callback: done/total in arbitrary units; return false to abort the operation.
typedef bool (*kite_progress_fn)(void *user, const char *what, uint64_t done, uint64_t total);

#ifdef __cplusplus
}
#endif
#endif
