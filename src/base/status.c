// status.c - per-thread error messages and the log sink.
#include "base/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512];
static kite_log_fn log_fn;
static void *log_user;

const char *kite_last_error(void) { return last_error; }

const char *kite_status_name(kite_status s) {
    switch (s) {
    case KITE_OK: return "ok";
    case KITE_ERR_INVALID: return "invalid input";
    case KITE_ERR_IO: return "i/o error";
    case KITE_ERR_NOMEM: return "out of memory";
    case KITE_ERR_UNSUPPORTED: return "unsupported";
    case KITE_ERR_ABORTED: return "aborted";
    }
    return "unknown status";
}

static kite_status vfail(kite_status s, const char *fmt, va_list ap) {
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    return s;
}

kite_status kite__fail(kite_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(s, fmt, ap);
    va_end(ap);
    return s;
}

kite_status kite_set_error(kite_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(s, fmt, ap);
    va_end(ap);
    return s;
}

bool kite_str_eq(kite_str s, const char *z) {
    size_t n = strlen(z);
    return s.len == n && memcmp(s.ptr, z, n) == 0;
}

void kite_log_set(kite_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void kite__log(kite_log_level level, const char *fmt, ...) {
    if (!log_fn) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_fn(level, buf, log_user);
}

void kite__assert_fail(const char *expr, const char *file, int line) {
    kite__fail(KITE_ERR_INVALID, "internal error: %s (%s:%d)", expr, file, line);
    kite__log(KITE_LOG_ERROR, "internal error: %s (%s:%d)", expr, file, line);
    abort();
}
