// serve_loop.h - the connection handling of `kite serve`: one thread accepts connections and
// reads their requests with poll() (each request bounded in time as a whole, so slow or idle
// clients cost a buffer, not a thread); complete requests go through a bounded queue to a pool
// of worker threads; keep-alive connections come back to the poll thread for their next request.
#ifndef KITE_NATIVE_SERVE_LOOP_H
#define KITE_NATIVE_SERVE_LOOP_H

#include "serve_api.h"

typedef struct serve_loop_opts {
    int listen_fd;   // from http_listen
    int n_workers;   // worker threads
    int timeout_s;   // a request (headers + body) must arrive within this; also the idle limit
    int max_conns;   // open connections at most (more get 503 and are closed)
    size_t max_body; // request body limit in bytes
} serve_loop_opts;

// Installs SIGINT/SIGTERM handlers that set http_stop and wake the loop (call before starting
// threads). SIGPIPE is ignored.
void serve_loop_signals(void);

// Makes serve_loop_run return as SIGTERM would (any thread may call it).
void serve_loop_stop(void);

// Serves until SIGINT/SIGTERM; returns within about a second of the signal, even with a stuck
// connection. Returns true when every worker finished (the model may be freed), false when one
// is still inside a request (the caller must then exit without freeing what workers use).
bool serve_loop_run(serve_state *s, const serve_loop_opts *opts);

#endif
