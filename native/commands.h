// commands.h - the kite CLI's subcommands. Each lives in its own native/cmd_<name>.c and is
// declared weak here, so main.c lists every command and a build without one says so.
#ifndef KITE_NATIVE_COMMANDS_H
#define KITE_NATIVE_COMMANDS_H

// Each command gets argv without the program name (argv[0] is the command name) and
// returns the process exit code: 0 success, 1 runtime error, 2 usage error.
#define KITE_COMMAND(name) __attribute__((weak)) int kite_cmd_##name(int argc, char **argv)

KITE_COMMAND(info);
KITE_COMMAND(quantize);
KITE_COMMAND(run);
KITE_COMMAND(chat);
KITE_COMMAND(tokenize);
KITE_COMMAND(bench);
KITE_COMMAND(perplexity);
KITE_COMMAND(imatrix);
KITE_COMMAND(embed);
KITE_COMMAND(serve);
KITE_COMMAND(convert);

#endif
