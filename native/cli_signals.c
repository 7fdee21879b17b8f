// cli_signals.c - signal handling of the long-running commands (cli_signals.h).
#include "cli_signals.h"

#include <stddef.h>

volatile sig_atomic_t cli_stop_requested;

#if !defined(__wasi__) // WASI delivers no signals
static void on_stop_signal(int sig) {
    (void)sig;
    cli_stop_requested = 1;
}

static struct sigaction g_old_sigint;
#endif

void cli_stop_on_signals(void) {
#if !defined(__wasi__)
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
#endif
}

void cli_sigint_catch(void (*handler)(int)) {
#if !defined(__wasi__)
    struct sigaction sa = {0};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, NULL, &g_old_sigint);
    if (g_old_sigint.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, NULL);
#else
    (void)handler;
#endif
}

void cli_sigint_restore(void) {
#if !defined(__wasi__)
    sigaction(SIGINT, &g_old_sigint, NULL);
#endif
}
