// cli_run.h - runs the kite CLI ($KITE_BIN) from a C test and captures its exit code, stdout
// and stderr. Header-only, POSIX (native tests only).
#ifndef KITE_TEST_CLI_RUN_H
#define KITE_TEST_CLI_RUN_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct cli_result {
    int code;       // exit status; 128+N when killed by signal N; -1 when it could not be run
    char out[8192]; // stdout (cut to fit), NUL-terminated
    char err[4096]; // stderr
    bool timed_out; // killed (SIGKILL) after cli_opts.timeout_s
} cli_result;

typedef struct cli_opts {
    const char *stdin_path;    // the child's stdin (NULL: /dev/null)
    int timeout_s;             // > 0: kill the child after this many seconds (a hang fails, not blocks)
    void (*child_setup)(void); // runs in the child just before exec (rlimits, signal dispositions)
} cli_opts;

// Reads what a temporary file received into buf (cap bytes with the NUL) and closes it.
static inline void cli_take(FILE *f, char *buf, size_t cap) {
    size_t n = 0;
    if (f) {
        rewind(f);
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = 0;
}

// Runs `$KITE_BIN CMD ARGS...` (args NULL-terminated, at most 28) as o says. A cross build
// tested under qemu-user cannot exec a foreign binary itself, so on aarch64 an exec refused as
// ENOEXEC goes through qemu-aarch64.
static inline cli_result cli_run_opts(const char *cmd, const char *const *args, const cli_opts *o) {
    cli_result r = {.code = -1};
    const char *bin = getenv("KITE_BIN");
    FILE *out = tmpfile(), *err = tmpfile();
    pid_t pid = bin && *bin && out && err ? fork() : -1;
    if (pid == 0) {
        int in = open(o->stdin_path ? o->stdin_path : "/dev/null", O_RDONLY);
        if (in < 0) _exit(126);
        dup2(in, 0);
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        if (o->child_setup) o->child_setup();
        const char *argv[32] = {"qemu-aarch64", bin, cmd};
        int n = 3;
        for (int i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
        argv[n] = NULL;
        execv(bin, (char *const *)argv + 1);
#if defined(__aarch64__)
        if (errno == ENOEXEC) execvp(argv[0], (char *const *)argv);
#endif
        _exit(127);
    }
    if (pid > 0) {
        int status = 0;
        if (o->timeout_s > 0) {
            // poll every 10 ms up to the deadline, then kill
            struct timespec t0, now, nap = {0, 10 * 1000 * 1000};
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid || (w < 0 && errno != EINTR)) break;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - t0.tv_sec >= o->timeout_s) {
                    kill(pid, SIGKILL);
                    waitpid(pid, &status, 0);
                    r.timed_out = true;
                    break;
                }
                nanosleep(&nap, NULL);
            }
        } else {
            waitpid(pid, &status, 0);
        }
        r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    cli_take(out, r.out, sizeof r.out);
    cli_take(err, r.err, sizeof r.err);
    return r;
}

// Runs `$KITE_BIN CMD ARGS...` with stdin from the file stdin_path (NULL: /dev/null), waiting
// as long as it takes.
static inline cli_result cli_run(const char *cmd, const char *const *args, const char *stdin_path) {
    cli_opts o = {.stdin_path = stdin_path};
    return cli_run_opts(cmd, args, &o);
}

#endif
