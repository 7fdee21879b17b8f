// serve_loop.c - `kite serve`'s connections: a poll() thread that accepts and reads requests
// (each bounded in time as a whole) and a pool of workers that answer them (see serve_loop.h).
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include "serve_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// Bytes of large requests (over 64 KiB) held for all connections at most: many clients each
// sending a large body slowly get 503 instead of growing the server's memory without bound;
// small requests always fit (MAX_CONNS x 64 KiB).
#define BUFFER_BUDGET ((size_t)64 << 20)

static int wake_pipe[2] = {-1, -1}; // a byte here wakes the poll thread (signals, finished work)

static void on_signal(int sig) {
    (void)sig;
    http_stop = 1;
    int saved = errno;
    if (wake_pipe[1] >= 0) (void)!write(wake_pipe[1], "s", 1);
    errno = saved;
}

void serve_loop_stop(void) { on_signal(SIGTERM); }

static void wake(void) { (void)!write(wake_pipe[1], "w", 1); }

void serve_loop_signals(void) {
    if (wake_pipe[0] < 0 && pipe(wake_pipe) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL, 0) | O_NONBLOCK);
            fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
        }
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct conn {
    int fd; // -1: a free entry
    char *buf;
    size_t have, cap;
    long long deadline; // ms: the request being read must be complete by then (or idle: closed)
    bool busy;          // a worker has it
    bool sent_continue; // "100 Continue" sent for the request being read
    bool peer_closed;   // the client shut its side: answer what came whole, then close
} conn;

typedef struct job {
    int conn;
    int fd;
    http_request req;
} job;

typedef struct returned {
    int conn;
    bool keep; // keep-alive: read the next request; else close
} returned;

typedef struct loop {
    serve_state *s;
    const serve_loop_opts *opt;
    conn *conns;
    int n_open;
    size_t buffered; // bytes of connection buffers (bounded by BUFFER_BUDGET)
    pthread_mutex_t mu;
    pthread_cond_t work;       // a job was queued (or stop)
    pthread_cond_t worker_end; // a worker exited
    job *queue;
    int q_cap, q_head, q_len;
    returned *back; // finished connections for the poll thread
    returned *back_copy; // the poll thread's copy of back (taken under the lock)
    int n_back;
    int workers_alive;
} loop;

// ---- the poll thread's side ------------------------------------------------------------------

static void close_conn(loop *L, conn *c) {
    L->buffered -= c->cap;
    close(c->fd);
    free(c->buf);
    *c = (conn){.fd = -1};
    L->n_open--;
}

// A short answer written from the poll thread: never waits (a client that cannot take it now
// gets nothing), always closes afterwards unless keep says otherwise.
static void quick_answer(int fd, int status, const char *message, const char *extra, bool keep) {
    http_out o = {.fd = fd, .keep_alive = keep, .stall_ms = 0};
    serve_error(&o, status, message, extra);
}

// Queues complete requests of c (several when pipelined); answers what cannot be queued.
static void take_requests(loop *L, conn *c) {
    while (!c->busy && c->fd >= 0) {
        http_request req;
        size_t used = 0;
        char err[256];
        int r = http_parse_request(c->buf, c->have, L->opt->max_body, &req, &used, err, sizeof err);
        if (r == 0) {
            if (c->peer_closed) { // the rest of the request will never come
                close_conn(L, c);
                return;
            }
            if (used > 0 && req.expect_continue && !c->sent_continue) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                http_out o = {.fd = c->fd, .stall_ms = 0};
                http_write(&o, cont, sizeof cont - 1);
                c->sent_continue = true;
            }
            return;
        }
        if (r != 1) {
            quick_answer(c->fd, r, err, NULL, false);
            close_conn(L, c);
            return;
        }
        memmove(c->buf, c->buf + used, c->have - used);
        c->have -= used;
        c->sent_continue = false;
        if (c->peer_closed) req.keep_alive = false;
        bool gen = serve_is_generation(&req);
        pthread_mutex_lock(&L->mu);
        bool room = L->q_len < L->q_cap;
        pthread_mutex_unlock(&L->mu);
        if (!room || (gen && !serve_admit(L->s))) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     room ? "the server is busy: %d generation requests are running or queued (--parallel + "
                            "--max-queue); retry later"
                          : "the server is busy: its request queue of %d is full; retry later",
                     room ? L->s->n_parallel + L->s->max_queue : L->q_cap);
            quick_answer(c->fd, 503, msg, "Retry-After: 1\r\n", req.keep_alive);
            bool keep = req.keep_alive;
            http_request_free(&req);
            if (!keep) {
                close_conn(L, c);
                return;
            }
            continue;
        }
        pthread_mutex_lock(&L->mu);
        job *j = &L->queue[(L->q_head + L->q_len) % L->q_cap];
        j->conn = (int)(c - L->conns);
        j->fd = c->fd;
        j->req = req;
        L->q_len++;
        c->busy = true;
        pthread_cond_signal(&L->work);
        pthread_mutex_unlock(&L->mu);
    }
}

// Reads what c's socket has; false when the connection was closed.
static bool read_conn(loop *L, conn *c) {
    size_t limit = HTTP_MAX_HEADER + L->opt->max_body + 1;
    for (int rounds = 0; rounds < 16; rounds++) { // at most ~1 MiB per wake-up: fair to the others
        if (c->have == c->cap) {
            if (c->cap >= limit) return true; // the parser reports the limit
            size_t ncap = c->cap ? c->cap * 2 : 4096;
            if (ncap > limit) ncap = limit;
            if (ncap > 65536 && L->buffered - c->cap + ncap > BUFFER_BUDGET) { // small ones always fit
                char msg[160];
                snprintf(msg, sizeof msg, "the server is receiving too many large requests at once (limit %zu MiB in all); "
                         "retry later", BUFFER_BUDGET >> 20);
                quick_answer(c->fd, 503, msg, "Retry-After: 1\r\n", false);
                close_conn(L, c);
                return false;
            }
            char *nb = realloc(c->buf, ncap);
            if (!nb) {
                quick_answer(c->fd, 500, "out of memory", NULL, false);
                close_conn(L, c);
                return false;
            }
            L->buffered += ncap - c->cap;
            c->buf = nb;
            c->cap = ncap;
        }
        size_t want = c->cap - c->have;
        if (want > 65536) want = 65536;
        ssize_t r = recv(c->fd, c->buf + c->have, want, MSG_DONTWAIT);
        if (r > 0) {
            c->have += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (r == 0) { // the client shut its side (maybe after a whole request: it is still answered)
            c->peer_closed = true;
            return true;
        }
        close_conn(L, c); // failed: a partial request is dropped
        return false;
    }
    return true;
}

static void accept_new(loop *L) {
    for (int k = 0; k < 64; k++) {
        int fd = http_accept(L->opt->listen_fd);
        if (fd < 0) return;
        int slot = -1, idle = -1;
        for (int i = 0; i < L->opt->max_conns && slot < 0; i++) {
            const conn *c = &L->conns[i];
            if (c->fd < 0) slot = i;
            else if (!c->busy && c->have == 0 && (idle < 0 || c->deadline < L->conns[idle].deadline)) idle = i;
        }
        if (slot < 0 && idle >= 0) { // full: the longest-idle connection makes room (its client reconnects)
            close_conn(L, &L->conns[idle]);
            slot = idle;
        }
        if (slot < 0) {
            char msg[120];
            snprintf(msg, sizeof msg, "the server has %d connections open, its limit; retry later", L->opt->max_conns);
            quick_answer(fd, 503, msg, "Retry-After: 1\r\n", false);
            close(fd);
            continue;
        }
        L->conns[slot] = (conn){.fd = fd, .deadline = now_ms() + L->opt->timeout_s * 1000LL};
        L->n_open++;
    }
}

// Connections whose request did not arrive in time: 408 when part of one came, else closed.
static void expire(loop *L, long long now) {
    for (int i = 0; i < L->opt->max_conns; i++) {
        conn *c = &L->conns[i];
        if (c->fd < 0 || c->busy || now < c->deadline) continue;
        if (c->have > 0) {
            char msg[120];
            snprintf(msg, sizeof msg, "the request did not arrive within the limit of %d s (--timeout)",
                     L->opt->timeout_s);
            quick_answer(c->fd, 408, msg, NULL, false);
        }
        close_conn(L, c);
    }
}

// Connections the workers are done with: back to reading (keep-alive) or closed.
static void take_back(loop *L) {
    char drain[64];
    while (read(wake_pipe[0], drain, sizeof drain) > 0) {
    }
    pthread_mutex_lock(&L->mu);
    int n = L->n_back;
    returned *back = L->back_copy;
    memcpy(back, L->back, (size_t)n * sizeof *back);
    L->n_back = 0;
    pthread_mutex_unlock(&L->mu);
    long long now = now_ms();
    for (int i = 0; i < n; i++) {
        conn *c = &L->conns[back[i].conn];
        c->busy = false;
        if (!back[i].keep) {
            close_conn(L, c);
            continue;
        }
        c->deadline = now + L->opt->timeout_s * 1000LL;
        if (c->cap > 65536 && c->have <= 4096) { // a large request is done: give its buffer back
            char *nb = realloc(c->buf, 4096);
            if (nb) {
                L->buffered -= c->cap - 4096;
                c->buf = nb;
                c->cap = 4096;
            }
        }
        take_requests(L, c); // a pipelined request may be waiting in the buffer
    }
}

// ---- workers ----------------------------------------------------------------------------------

static void *worker_main(void *arg) {
    loop *L = arg;
    for (;;) {
        pthread_mutex_lock(&L->mu);
        while (L->q_len == 0 && !http_stop) pthread_cond_wait(&L->work, &L->mu);
        if (http_stop) break;
        job j = L->queue[L->q_head];
        L->q_head = (L->q_head + 1) % L->q_cap;
        L->q_len--;
        pthread_mutex_unlock(&L->mu);

        http_out o = {.fd = j.fd, .keep_alive = j.req.keep_alive, .stall_ms = L->opt->timeout_s * 1000,
                      .idle_s = L->opt->timeout_s, .http10 = j.req.http10};
        serve_handle(L->s, &o, &j.req);
        http_request_free(&j.req);

        pthread_mutex_lock(&L->mu);
        L->back[L->n_back++] = (returned){.conn = j.conn, .keep = o.keep_alive && !o.failed && !http_stop};
        pthread_mutex_unlock(&L->mu);
        wake();
    }
    L->workers_alive--;
    pthread_cond_broadcast(&L->worker_end);
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

// ---- the loop ---------------------------------------------------------------------------------

bool serve_loop_run(serve_state *s, const serve_loop_opts *opt) {
    loop L = {.s = s, .opt = opt, .q_cap = opt->n_workers * 2};
    L.conns = calloc((size_t)opt->max_conns, sizeof *L.conns);
    L.queue = calloc((size_t)L.q_cap, sizeof *L.queue);
    L.back = calloc((size_t)opt->max_conns, sizeof *L.back);
    L.back_copy = calloc((size_t)opt->max_conns, sizeof *L.back_copy);
    struct pollfd *pfd = calloc((size_t)opt->max_conns + 2, sizeof *pfd);
    int *who = calloc((size_t)opt->max_conns + 2, sizeof *who);
    pthread_t *threads = calloc((size_t)opt->n_workers, sizeof *threads);
    if (!L.conns || !L.queue || !L.back || !L.back_copy || !pfd || !who || !threads) {
        fprintf(stderr, "kite serve: out of memory\n");
        free(L.conns), free(L.queue), free(L.back), free(L.back_copy), free(pfd), free(who), free(threads);
        return true;
    }
    for (int i = 0; i < opt->max_conns; i++) L.conns[i].fd = -1;
    pthread_mutex_init(&L.mu, NULL);
    pthread_cond_init(&L.work, NULL);
    pthread_cond_init(&L.worker_end, NULL);

    // Workers never take SIGINT/SIGTERM: the poll thread does, and wakes on the pipe.
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int started = 0;
    // under L.mu: a worker that finds http_stop already set must not count itself out before
    // workers_alive counts it in
    pthread_mutex_lock(&L.mu);
    for (; started < opt->n_workers; started++)
        if (pthread_create(&threads[started], NULL, worker_main, &L) != 0) break;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    L.workers_alive = started;
    pthread_mutex_unlock(&L.mu);
    if (started == 0) {
        fprintf(stderr, "kite serve: cannot start worker threads\n");
        http_stop = 1;
    }

    while (!http_stop) {
        int n = 0;
        pfd[n] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
        who[n++] = -1;
        pfd[n] = (struct pollfd){.fd = opt->listen_fd, .events = POLLIN};
        who[n++] = -2;
        for (int i = 0; i < opt->max_conns; i++) {
            if (L.conns[i].fd < 0 || L.conns[i].busy || L.conns[i].peer_closed) continue;
            pfd[n] = (struct pollfd){.fd = L.conns[i].fd, .events = POLLIN};
            who[n++] = i;
        }
        poll(pfd, (nfds_t)n, 100); // 100 ms ticks: timeouts are checked at least this often
        if (http_stop) break;
        take_back(&L);
        for (int k = 2; k < n; k++) {
            conn *c = &L.conns[who[k]];
            if (!pfd[k].revents || c->fd != pfd[k].fd || c->busy) continue;
            if (read_conn(&L, c)) take_requests(&L, c);
        }
        if (pfd[1].revents) accept_new(&L);
        expire(&L, now_ms());
    }

    // Shut down: stuck clients are cut off, workers notice http_stop within ~100 ms.
    pthread_mutex_lock(&L.mu);
    for (int i = 0; i < opt->max_conns; i++)
        if (L.conns[i].fd >= 0 && L.conns[i].busy) shutdown(L.conns[i].fd, SHUT_RDWR);
    pthread_cond_broadcast(&L.work);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 800 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (L.workers_alive > 0)
        if (pthread_cond_timedwait(&L.worker_end, &L.mu, &until) != 0) break;
    bool all_done = L.workers_alive == 0;
    pthread_mutex_unlock(&L.mu);
    if (!all_done) return false; // a worker is inside the model: leave everything as it is
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < L.q_len; i++) http_request_free(&L.queue[(L.q_head + i) % L.q_cap].req);
    for (int i = 0; i < opt->max_conns; i++)
        if (L.conns[i].fd >= 0) close_conn(&L, &L.conns[i]);
    pthread_cond_destroy(&L.worker_end);
    pthread_cond_destroy(&L.work);
    pthread_mutex_destroy(&L.mu);
    free(L.conns), free(L.queue), free(L.back), free(L.back_copy), free(pfd), free(who), free(threads);
    return true;
}
#endif
