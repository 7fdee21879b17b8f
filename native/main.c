// main.c - the kite CLI: dispatches to one subcommand per file (native/cmd_*.c).
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "http_client.h"
#include "kite.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} command;

static const command commands[] = {
    {"info", kite_cmd_info, "info FILE.gguf [--json]        show metadata and tensors"},
    {"quantize", kite_cmd_quantize, "quantize IN.gguf OUT.gguf TYPE [NTHREADS]   quantize a model"},
    {"convert", kite_cmd_convert, "convert HF_DIR OUT.gguf [--outtype T]   Hugging Face checkpoint to GGUF"},
    {"run", kite_cmd_run, "run -m MODEL -p PROMPT [-n N]    generate text (-cnv: chat)"},
    {"chat", kite_cmd_chat, "chat -m MODEL                     interactive chat (/help inside)"},
    {"tokenize", kite_cmd_tokenize, "tokenize -m MODEL -p TEXT [--ids] print token ids"},
    {"bench", kite_cmd_bench, "bench -m MODEL [-p 128 -n 64]     prefill/decode speed"},
    {"perplexity", kite_cmd_perplexity, "perplexity -m MODEL -f TEXT [-c N]  measure perplexity"},
    {"imatrix", kite_cmd_imatrix, "imatrix -m MODEL -f TEXT [-o OUT]  importance matrix for quantize --imatrix"},
    {"embed", kite_cmd_embed, "embed -m MODEL -p TEXT           text embedding (pooled hidden states)"},
    {"serve", kite_cmd_serve, "serve -m MODEL [--port 8080]     OpenAI-compatible HTTP server"},
};

static void usage(FILE *f) {
    fprintf(f, "kite %s - run and quantize LLMs (GGUF)\n\nusage: kite COMMAND [options]\n\ncommands:\n",
            KITE_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s%s\n", commands[i].usage, commands[i].fn ? "" : " (not in this build)");
    fprintf(f, "\nMODEL: a GGUF path, or a URL downloaded once into $KITE_CACHE (default ~/.cache/kite):\n"
               "  http(s)://HOST/PATH.gguf, hf://OWNER/REPO[@REV]/FILE.gguf, or -hf OWNER/REPO[@REV][:QUANT].\n"
               "Run 'kite COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        const char *curl = http_tls_version();
        printf("kite %s (https downloads: %s)\n", KITE_VERSION, curl ? curl : "no, built without libcurl");
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) != 0) continue;
        if (!commands[i].fn) {
            fprintf(stderr, "kite: command '%s' is not part of this build\n", name);
            return 2;
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "kite: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
