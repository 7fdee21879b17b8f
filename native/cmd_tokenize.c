// cmd_tokenize.c - `kite tokenize`: print the token ids of a text the way llama-tokenize does
// (a line "id -> 'piece'" per token, or "[1, 2, 3]" with --ids).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "file_map.h"
#include "kite.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite tokenize -m MODEL.gguf (-p TEXT | -f FILE | --stdin) [options]\n"
            "  -m, --model FILE        model or vocab-only GGUF file\n"
            "  -p, --prompt TEXT       text to tokenize\n"
            "  -f, --file FILE         read the text from a regular file (at most 256 MiB)\n"
            "  --stdin                 read the text from standard input (at most 256 MiB)\n"
            "  --ids                   print only the ids, as [1, 2, 3]\n"
            "  --no-bos                do not add BOS even if the model asks for it\n"
            "  --no-parse-special      treat control-token text (e.g. <|im_end|>) as plain text\n"
            "  --show-count            print the number of tokens at the end\n");
}

int kite_cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL;
    bool from_stdin = false, ids_only = false, no_bos = false, parse_special = true, show_count = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && has_value) model = argv[++i];
        else if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && has_value) prompt = argv[++i];
        else if ((!strcmp(a, "-f") || !strcmp(a, "--file")) && has_value) file = argv[++i];
        else if (!strcmp(a, "--stdin")) from_stdin = true;
        else if (!strcmp(a, "--ids")) ids_only = true;
        else if (!strcmp(a, "--no-bos")) no_bos = true;
        else if (!strcmp(a, "--no-parse-special")) parse_special = false;
        else if (!strcmp(a, "--show-count")) show_count = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "kite tokenize: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!model || (prompt != NULL) + (file != NULL) + from_stdin != 1) {
        fprintf(stderr, "kite tokenize: need -m MODEL and exactly one of -p TEXT / -f FILE / --stdin\n");
        usage(stderr);
        return 2;
    }

    size_t len = 0;
    char *owned = NULL;
    if (file) {
        char err[512];
        owned = kite_read_text_file(file, KITE_TEXT_MAX, &len, err, sizeof err);
        if (!owned) {
            fprintf(stderr, "kite tokenize: %s\n", err);
            return 1;
        }
        prompt = owned;
    } else if (from_stdin) {
        bool too_long = false;
        owned = kite_read_stream(stdin, KITE_TEXT_MAX, &len, &too_long);
        if (!owned) {
            if (too_long)
                fprintf(stderr, "kite tokenize: standard input holds more than %zu MiB, the limit on text inputs\n",
                        KITE_TEXT_MAX >> 20);
            else fprintf(stderr, "kite tokenize: cannot read standard input\n");
            return 1;
        }
        prompt = owned;
    } else {
        len = strlen(prompt);
    }

    int rc = 1;
    kite_file_map map = {0};
    kite_gguf *g = NULL;
    kite_vocab *v = NULL;
    int32_t *ids = NULL;
    char err[512];
    if (!kite_file_map_open(model, &map, err, sizeof err)) {
        fprintf(stderr, "kite tokenize: %s\n", err);
        goto done;
    }
    if (kite_gguf_parse(map.data, map.size, &g) != KITE_OK || kite_vocab_load(g, &v) != KITE_OK) {
        fprintf(stderr, "kite tokenize: %s: %s\n", model, kite_last_error());
        goto done;
    }
    // As llama-tokenize: special tokens are added when the model adds BOS and --no-bos is absent.
    bool add_special = kite_vocab_add_bos(v) && !no_bos;
    int32_t n = 0;
    if (kite_tokenize_alloc(v, prompt, len, add_special, parse_special, &ids, &n) != KITE_OK) {
        fprintf(stderr, "kite tokenize: %s\n", kite_last_error());
        goto done;
    }
    if (ids_only) printf("[");
    for (int32_t i = 0; i < n; i++) {
        if (ids_only) {
            printf(i ? ", %d" : "%d", ids[i]);
            continue;
        }
        char buf[256];
        int32_t k = kite_token_to_piece(v, ids[i], buf, sizeof buf, true);
        char *piece = buf;
        if (k < 0) { // a piece longer than buf
            piece = malloc((size_t)-k);
            k = piece ? kite_token_to_piece(v, ids[i], piece, -k, true) : 0;
        }
        printf("%6d -> '", ids[i]);
        fwrite(piece, 1, (size_t)(k > 0 ? k : 0), stdout);
        printf("'\n");
        if (piece != buf) free(piece);
    }
    if (ids_only) printf("]\n");
    if (show_count) printf("Total number of tokens: %d\n", n);
    rc = 0;
done:
    free(ids);
    kite_vocab_free(v);
    kite_gguf_free(g);
    kite_file_map_close(&map);
    free(owned);
    return rc;
}
