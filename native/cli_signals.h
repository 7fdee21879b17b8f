// cli_signals.h - how the commands that run for a while take Ctrl-C and the stop signals.
// WASI delivers no signals: there these install nothing.
#ifndef KITE_CLI_SIGNALS_H
#define KITE_CLI_SIGNALS_H

#include <signal.h>

// Set (to 1) once SIGINT, SIGTERM or SIGHUP arrives after cli_stop_on_signals (kite imatrix,
// kite perplexity: they stop at the next chunk and write nothing).
extern volatile sig_atomic_t cli_stop_requested;

// Routes SIGINT, SIGTERM and SIGHUP to cli_stop_requested for the rest of the process.
void cli_stop_on_signals(void);

// Interactive Ctrl-C (kite run, kite chat): handler takes SIGINT, without SA_RESTART so that a
// blocking read returns EINTR; unless SIGINT is ignored (a background job of the shell), which
// is then kept. cli_sigint_restore puts back the action found (one catch at a time).
void cli_sigint_catch(void (*handler)(int));
void cli_sigint_restore(void);

#endif
