// test_cli_files.c - the CLI against hostile paths. `kite quantize`'s OUT as a FIFO, a device,
// a directory, a socket, a symbolic or a hard link: refused, nothing touched. A short write
// (a file size limit) and every terminating signal: no temporary file left, an existing OUT
// unchanged. FIFOs, devices and endless streams given to every command that reads a path:
// refused at once, never a hang (each run has a timeout, so a regression fails instead of
// blocking). An output naming a file the command reads (quantize's OUT as its --imatrix file;
// imatrix -o, perplexity --kl-divergence-base, chat /save as the model or the text): refused,
// the input unchanged. Perplexity contexts too short to score; the file types `kite quantize
// --help` lists are exactly the ones it runs.
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "check.h"
#include "cli_run.h"

#ifndef TIMEOUT_S
#define TIMEOUT_S 60 // far above any refusal, even under ASan: only a hang reaches it
#endif

static char tmpdir[256];
static char in[512];   // a private copy of stories260K
static unsigned char *orig;
static size_t orig_len;

static void at(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", tmpdir, name); }

// How many files named NAME.tmp-* are in tmpdir (what an interrupted quantize would leave).
static int leftovers(const char *name) {
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s.tmp-", name);
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
    closedir(d);
    return n;
}

static void restore_input(void) { CHECK(check_write_file(in, orig, orig_len), "cannot rewrite %s", in); }

static bool input_unchanged(void) {
    size_t n = 0;
    unsigned char *b = check_read_file(in, &n);
    bool same = b && n == orig_len && !memcmp(b, orig, n);
    free(b);
    return same;
}

// Runs a command that must be refused: no hang, exit 1 or 2, a message containing needle.
static cli_result expect_refused(const char *label, const char *cmd, const char *const *args, const char *stdin_path,
                                 const char *needle) {
    cli_opts o = {.stdin_path = stdin_path, .timeout_s = TIMEOUT_S};
    cli_result r = cli_run_opts(cmd, args, &o);
    CHECK(!r.timed_out, "%s: still running after %d s (blocked?)", label, TIMEOUT_S);
    CHECK(r.code == 1 || r.code == 2, "%s: exit code %d: %s", label, r.code, r.err);
    CHECK(strstr(r.err, needle) != NULL, "%s: message should mention '%s': %s", label, needle, r.err);
    return r;
}

static mode_t kind_of(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 ? (st.st_mode & S_IFMT) : 0;
}

// ---- kite quantize: what OUT may be --------------------------------------------------------

// OUT of each kind is refused; afterwards it is still that kind and no temporary file is left.
static void refuse_out(const char *label, const char *name, const char *needle) {
    char out[512];
    at(out, sizeof out, name);
    mode_t before = kind_of(out);
    const char *a[] = {"-q", in, out, "Q8_0", NULL};
    expect_refused(label, "quantize", a, NULL, needle);
    CHECK(kind_of(out) == before, "%s: OUT changed kind (%o -> %o)", label, (unsigned)before, (unsigned)kind_of(out));
    CHECK(leftovers(name) == 0, "%s: temporary file left", label);
}

static void test_out_kinds(void) {
    char p[512], target[512];
    at(p, sizeof p, "out.fifo");
    CHECK(mkfifo(p, 0644) == 0, "mkfifo");
    refuse_out("OUT a FIFO", "out.fifo", "FIFO");
    unlink(p);

    // a device node: made here when the test may (root), else /dev/null through a link
    at(p, sizeof p, "out.null");
    if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0) {
        refuse_out("OUT a character device", "out.null", "character device");
        unlink(p);
    } else {
        fprintf(stderr, "note: mknod refused (%s): the device case goes through a link to /dev/null\n", strerror(errno));
    }
    at(p, sizeof p, "devnull.gguf");
    CHECK(symlink("/dev/null", p) == 0, "symlink");
    refuse_out("OUT a link to /dev/null", "devnull.gguf", "symbolic link");
    unlink(p);
    struct stat st;
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null is no longer a device");

    at(p, sizeof p, "out.dir");
    CHECK(mkdir(p, 0755) == 0, "mkdir");
    refuse_out("OUT a directory", "out.dir", "directory");
    rmdir(p);

    at(p, sizeof p, "out.sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    bool fits = strlen(p) < sizeof sa.sun_path;
    if (fits) memcpy(sa.sun_path, p, strlen(p) + 1);
    if (fd >= 0 && fits && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        refuse_out("OUT a socket", "out.sock", "socket");
    else fprintf(stderr, "note: cannot make a socket at %s: socket case skipped\n", p);
    if (fd >= 0) close(fd);
    unlink(p);

    // a link to a regular file: refused (not written through), the target untouched
    at(target, sizeof target, "target.gguf");
    CHECK(check_write_file(target, "keep me", 7), "write target");
    at(p, sizeof p, "link.gguf");
    CHECK(symlink(target, p) == 0, "symlink");
    refuse_out("OUT a link to a file", "link.gguf", "symbolic link");
    size_t n = 0;
    unsigned char *b = check_read_file(target, &n);
    CHECK(b && n == 7 && !memcmp(b, "keep me", 7), "the link's target was modified");
    free(b);
    CHECK(leftovers("target.gguf") == 0, "temporary file beside the target");
    unlink(p);
    unlink(target);

    // a link to a FIFO, a dangling link
    char fifo[512];
    at(fifo, sizeof fifo, "t.fifo");
    CHECK(mkfifo(fifo, 0644) == 0, "mkfifo");
    at(p, sizeof p, "fifolink.gguf");
    CHECK(symlink(fifo, p) == 0, "symlink");
    refuse_out("OUT a link to a FIFO", "fifolink.gguf", "symbolic link");
    CHECK(kind_of(fifo) == S_IFIFO, "the FIFO behind the link changed");
    unlink(p);
    unlink(fifo);
    at(p, sizeof p, "dangling.gguf");
    CHECK(symlink("nowhere.gguf", p) == 0, "symlink");
    refuse_out("OUT a dangling link", "dangling.gguf", "symbolic link");
    at(target, sizeof target, "nowhere.gguf");
    CHECK(kind_of(target) == 0, "the dangling link's target was created");
    unlink(p);

    // IN under another name: a hard link, a symbolic link
    at(p, sizeof p, "hard.gguf");
    CHECK(link(in, p) == 0, "link");
    refuse_out("OUT a hard link to IN", "hard.gguf", "input");
    unlink(p);
    at(p, sizeof p, "soft.gguf");
    CHECK(symlink(in, p) == 0, "symlink");
    refuse_out("OUT a symbolic link to IN", "soft.gguf", "input");
    unlink(p);
    // the --imatrix file, an input too (it was replaced by the quantized model)
    at(p, sizeof p, "imatrix.gguf");
    CHECK(check_write_file(p, "keep me", 7), "write the imatrix file");
    const char *im_out[] = {"-q", "--imatrix", p, in, p, "Q4_K_M", NULL};
    cli_result r = expect_refused("OUT the --imatrix file", "quantize", im_out, NULL, "is the input file");
    CHECK(r.code == 2, "OUT the --imatrix file: exit %d, want 2", r.code);
    b = check_read_file(p, &n);
    CHECK(b && n == 7 && !memcmp(b, "keep me", 7), "OUT the --imatrix file: the file was modified");
    free(b);
    CHECK(leftovers("imatrix.gguf") == 0, "OUT the --imatrix file: temporary file left");
    unlink(p);
    CHECK(input_unchanged(), "input modified");
}

// ---- kite quantize: short writes -----------------------------------------------------------

// A 64 KiB file size limit: the ~380 KB Q8_0 output cannot be written.
static void fsize_limit_ign(void) {
    struct rlimit rl = {64 << 10, 64 << 10};
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, SIG_IGN);
}
// The same with SIGXFSZ at its default (kill): kite must not die before removing its file.
static void fsize_limit_dfl(void) {
    struct rlimit rl = {64 << 10, 64 << 10};
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, SIG_DFL);
}

static void test_short_write(void) {
    void (*setups[])(void) = {fsize_limit_ign, fsize_limit_dfl};
    const char *labels[] = {"short write (SIGXFSZ ignored)", "short write (SIGXFSZ default)"};
    char out[512];
    at(out, sizeof out, "short.gguf");
    for (int i = 0; i < 2; i++) {
        CHECK(check_write_file(out, "keep me", 7), "write OUT");
        const char *a[] = {"-q", in, out, "Q8_0", "1", NULL};
        cli_opts o = {.timeout_s = TIMEOUT_S, .child_setup = setups[i]};
        cli_result r = cli_run_opts("quantize", a, &o);
        CHECK(r.code == 1, "%s: exit code %d (want 1): %s", labels[i], r.code, r.err);
        CHECK(strstr(r.err, "writing") != NULL, "%s: message: %s", labels[i], r.err);
        size_t n = 0;
        unsigned char *b = check_read_file(out, &n);
        CHECK(b && n == 7 && !memcmp(b, "keep me", 7), "%s: the existing OUT was modified", labels[i]);
        free(b);
        CHECK(leftovers("short.gguf") == 0, "%s: temporary file left", labels[i]);
    }
    unlink(out);
}

// ---- kite quantize: terminating signals ----------------------------------------------------

// Each signal while the temporary file exists: the run stops, removes it and exits 1 (it is
// not killed), leaving no OUT. A run big enough to catch: rand-qwen2 to Q4_K_M.
static void test_signals(void) {
    const char *bin = getenv("KITE_BIN");
    char model[512], out[512];
    snprintf(model, sizeof model, "%s/rand-qwen2-f16.gguf", check_models_dir());
    if (!bin || access(model, R_OK) != 0) {
        fprintf(stderr, "skip: rand-qwen2-f16.gguf missing: signal cases skipped\n");
        return;
    }
    at(out, sizeof out, "sig.gguf");
    static const int sigs[] = {SIGHUP, SIGTERM, SIGQUIT, SIGPIPE, SIGINT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 1);
            dup2(devnull, 2);
            execl(bin, bin, "quantize", model, out, "Q4_K_M", "1", (char *)NULL);
            // a cross build tested under qemu-user cannot exec a foreign binary itself (as cli_run.h)
            execlp("qemu-aarch64", "qemu-aarch64", bin, "quantize", model, out, "Q4_K_M", "1", (char *)NULL);
            _exit(127);
        }
        // the handlers are installed before the temporary file is created: wait for it
        int status, polls = 0;
        while (leftovers("sig.gguf") == 0 && waitpid(pid, &status, WNOHANG) == 0 && polls++ < 60000) usleep(500);
        kill(pid, sigs[i]);
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            fprintf(stderr, "note: the run finished before signal %d arrived\n", sigs[i]);
            unlink(out);
            continue;
        }
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "signal %d: %s %d (want exit 1 after cleaning up)", sigs[i],
              WIFEXITED(status) ? "exit" : "killed by signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        CHECK(leftovers("sig.gguf") == 0, "signal %d: temporary file left", sigs[i]);
        CHECK(kind_of(out) == 0, "signal %d: OUT written", sigs[i]);
        char p[512];
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        while (d && (e = readdir(d))) // clean up for the next case whatever happened
            if (!strncmp(e->d_name, "sig.gguf", 8)) {
                snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
                unlink(p);
            }
        if (d) closedir(d);
    }
}

// ---- inputs that are not regular files -----------------------------------------------------

static void test_inputs(void) {
    char fifo[512], text[512], big[512], out[512];
    at(fifo, sizeof fifo, "in.fifo");
    CHECK(mkfifo(fifo, 0644) == 0, "mkfifo");
    at(text, sizeof text, "text.txt");
    CHECK(check_write_file(text, "Once upon a time", 16), "write text");
    at(out, sizeof out, "q.gguf");

    const char *info_fifo[] = {fifo, NULL};
    expect_refused("info FIFO", "info", info_fifo, NULL, "FIFO");
    const char *info_zero[] = {"/dev/zero", NULL};
    expect_refused("info /dev/zero", "info", info_zero, NULL, "character device");
    const char *tok_model[] = {"-m", fifo, "-p", "hi", NULL};
    expect_refused("tokenize -m FIFO", "tokenize", tok_model, NULL, "FIFO");
    const char *tok_file[] = {"-m", in, "-f", fifo, NULL};
    expect_refused("tokenize -f FIFO", "tokenize", tok_file, NULL, "FIFO");
    const char *tok_zero[] = {"-m", in, "-f", "/dev/zero", NULL};
    expect_refused("tokenize -f /dev/zero", "tokenize", tok_zero, NULL, "character device");
    const char *tok_stdin[] = {"-m", in, "--stdin", NULL};
    expect_refused("tokenize --stdin < /dev/zero", "tokenize", tok_stdin, "/dev/zero", "256 MiB");
    const char *ppl_file[] = {"-m", in, "-f", fifo, NULL};
    expect_refused("perplexity -f FIFO", "perplexity", ppl_file, NULL, "FIFO");
    const char *ppl_zero[] = {"-m", in, "-f", "/dev/zero", NULL};
    expect_refused("perplexity -f /dev/zero", "perplexity", ppl_zero, NULL, "character device");
    const char *ppl_model[] = {"-m", fifo, "-f", text, NULL};
    expect_refused("perplexity -m FIFO", "perplexity", ppl_model, NULL, "FIFO");
    const char *run_model[] = {"-m", fifo, "-p", "hi", "-n", "1", NULL};
    expect_refused("run -m FIFO", "run", run_model, NULL, "FIFO");
    const char *chat_model[] = {"-m", fifo, NULL};
    expect_refused("chat -m FIFO", "chat", chat_model, NULL, "FIFO");
    const char *run_file[] = {"-m", in, "-f", fifo, "-n", "1", NULL};
    expect_refused("run -f FIFO", "run", run_file, NULL, "FIFO");
    const char *run_zero[] = {"-m", in, "-f", "/dev/zero", "-n", "1", NULL};
    expect_refused("run -f /dev/zero", "run", run_zero, NULL, "character device");
    // a NUL byte in the prompt's text: refused, not the prompt cut there
    char nul[512];
    at(nul, sizeof nul, "nul.txt");
    CHECK(check_write_file(nul, "Once\0 upon a time", 17), "write nul.txt");
    const char *run_nul[] = {"-m", in, "-f", nul, "-n", "1", NULL};
    expect_refused("run -f FILE with a NUL", "run", run_nul, NULL, "NUL byte (at byte 4)");
    const char *run_nul_stdin[] = {"-m", in, "-p", "-", "-n", "1", NULL};
    expect_refused("run -p - with a NUL", "run", run_nul_stdin, nul, "stdin holds a NUL byte");
    const char *run_nul_grammar[] = {"-m", in, "--grammar-file", nul, "-p", "Once", "-n", "1", NULL};
    expect_refused("run --grammar-file FILE with a NUL", "run", run_nul_grammar, NULL, "NUL byte (at byte 4)");
    unlink(nul);
    // ... nor one made by escape processing (llama.cpp's -e \xHH), in the prompt or a stop text
    const char *run_nul_esc[] = {"-m", in, "-p", "Once\\x00 upon", "-n", "1", NULL};
    cli_result r =
        expect_refused("run -p with \\x00", "run", run_nul_esc, NULL, "the prompt holds a NUL byte (\\x00 at byte 4)");
    CHECK(r.code == 2, "run -p with \\x00: exit %d, want 2", r.code);
    const char *run_nul_stop[] = {"-m", in, "-p", "Once", "--stop", "a\\x00b", "-n", "1", NULL};
    expect_refused("run --stop with \\x00", "run", run_nul_stop, NULL,
                   "the --stop text holds a NUL byte (\\x00 at byte 1)");
    const char *run_esc_off[] = {"-m", in, "-p", "Once\\x00 upon", "--no-escape", "-n", "1", NULL};
    r = cli_run("run", run_esc_off, NULL);
    CHECK(r.code == 0, "run --no-escape -p 'Once\\x00 upon' (taken literally): exit %d: %s", r.code, r.err);
    const char *run_stdin[] = {"-m", in, "-p", "-", "-n", "1", NULL};
    expect_refused("run -p - < /dev/zero", "run", run_stdin, "/dev/zero", "too large");
    // chat's /load and /save name files too
    char cmds[512], saved[512];
    at(cmds, sizeof cmds, "cmds.txt");
    char script[1200];
    snprintf(script, sizeof script, "/load %s\n/save %s\n", fifo, fifo);
    CHECK(check_write_file(cmds, script, strlen(script)), "write chat script");
    const char *chat_cmds[] = {"-m", in, NULL};
    cli_opts co = {.stdin_path = cmds, .timeout_s = TIMEOUT_S};
    cli_result cr = cli_run_opts("chat", chat_cmds, &co);
    CHECK(!cr.timed_out, "chat /load FIFO: still running after %d s (blocked?)", TIMEOUT_S);
    CHECK(strstr(cr.err, "in.fifo is a FIFO") && strstr(cr.err, "not saved"), "chat /load, /save FIFO: %s", cr.err);
    CHECK(kind_of(fifo) == S_IFIFO, "chat /save replaced the FIFO");
    at(saved, sizeof saved, "chat.json");
    snprintf(script, sizeof script, "/save %s\n", saved);
    CHECK(check_write_file(cmds, script, strlen(script)), "write chat script");
    cr = cli_run_opts("chat", chat_cmds, &co);
    CHECK(kind_of(saved) == S_IFREG, "chat /save to a new name did not write it: %s", cr.err);
    unlink(saved);
    unlink(cmds);
    const char *chat_stdin[] = {"-m", in, NULL};
    expect_refused("chat < /dev/zero", "chat", chat_stdin, "/dev/zero", "256 MiB");
    const char *bench_model[] = {"-m", fifo, NULL};
    expect_refused("bench -m FIFO", "bench", bench_model, NULL, "FIFO");
    const char *q_in[] = {"-q", fifo, out, "Q8_0", NULL};
    expect_refused("quantize IN a FIFO", "quantize", q_in, NULL, "FIFO");
    CHECK(kind_of(out) == 0 && leftovers("q.gguf") == 0, "quantize of a FIFO left a file");

    // a text file past the limit (sparse: no disk used) is refused by its size, the limit named
    at(big, sizeof big, "big.txt");
    int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)257 << 20) == 0, "sparse file");
    if (fd >= 0) close(fd);
    const char *ppl_big[] = {"-m", in, "-f", big, NULL};
    expect_refused("perplexity -f 257 MiB", "perplexity", ppl_big, NULL, "256 MiB");
    const char *tok_big[] = {"-m", in, "-f", big, NULL};
    expect_refused("tokenize -f 257 MiB", "tokenize", tok_big, NULL, "256 MiB");
    unlink(big);
    unlink(fifo);
    unlink(text);
}

// ---- outputs naming an input ---------------------------------------------------------------

// Every other command that writes a file, told to write over the model it reads (or over its
// text): refused with a message saying so, the file unchanged (imatrix -o, perplexity
// --kl-divergence-base and chat's /save used to replace the model).
static void test_outputs_over_inputs(void) {
    char text[512], cmds[512], script[1200];
    at(text, sizeof text, "story.txt");
    char story[4096] = "";
    for (int i = 0; i < 40; i++) strcat(story, "Once upon a time, there was a little girl named Lily. ");
    CHECK(check_write_file(text, story, strlen(story)), "write text");
    const char *im[] = {"-m", in, "-f", text, "-c", "16", "--chunks", "2", "-o", in, NULL};
    cli_result r = expect_refused("imatrix -o MODEL", "imatrix", im, NULL, "is the model file");
    CHECK(r.code == 2, "imatrix -o MODEL: exit %d, want 2", r.code);
    CHECK(input_unchanged(), "imatrix -o MODEL replaced the model");
    restore_input(); // the next case starts from the whole model whatever happened
    const char *kld[] = {"-m", in, "-f", text, "-c", "16", "--chunks", "2", "--kl-divergence-base", in, NULL};
    r = expect_refused("perplexity --kl-divergence-base MODEL", "perplexity", kld, NULL, "is the model file");
    CHECK(r.code == 2, "perplexity --kl-divergence-base MODEL: exit %d, want 2", r.code);
    CHECK(input_unchanged(), "perplexity --kl-divergence-base MODEL replaced the model");
    restore_input(); // the next case starts from the whole model whatever happened
    const char *kld_text[] = {"-m", in, "-f", text, "-c", "16", "--chunks", "2", "--kl-divergence-base", text, NULL};
    expect_refused("perplexity --kl-divergence-base TEXT", "perplexity", kld_text, NULL, "is the input file");
    size_t n = 0;
    char *back = (char *)check_read_file(text, &n);
    CHECK(back && n == strlen(story) && !memcmp(back, story, n), "perplexity --kl-divergence-base TEXT replaced the text");
    free(back);
    // chat: /save over the model is refused and the session goes on (the next /save works)
    char saved[512];
    at(saved, sizeof saved, "chat.json");
    at(cmds, sizeof cmds, "cmds.txt");
    snprintf(script, sizeof script, "/save %s\n/save %s\n", in, saved);
    CHECK(check_write_file(cmds, script, strlen(script)), "write chat script");
    const char *chat_args[] = {"-m", in, NULL};
    cli_opts co = {.stdin_path = cmds, .timeout_s = TIMEOUT_S};
    cli_result cr = cli_run_opts("chat", chat_args, &co);
    CHECK(!cr.timed_out && cr.code == 0, "chat /save MODEL: exit %d: %s", cr.code, cr.err);
    CHECK(strstr(cr.err, "is the model file") && strstr(cr.err, "not saved"), "chat /save MODEL: %s", cr.err);
    CHECK(input_unchanged(), "chat /save MODEL replaced the model");
    CHECK(kind_of(saved) == S_IFREG, "chat: the /save after the refused one did not write: %s", cr.err);
    unlink(saved);
    unlink(cmds);
    unlink(text);
    CHECK(leftovers("in.gguf") == 0 && leftovers("story.txt") == 0, "temporary file left");
}

// ---- perplexity: the shortest context ------------------------------------------------------

static void test_ppl_ctx(void) {
    char text[512];
    at(text, sizeof text, "story.txt");
    const char *story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
    CHECK(check_write_file(text, story, strlen(story)), "write text");
    const char *c2[] = {"-m", in, "-f", text, "-c", "2", NULL};
    cli_result r = expect_refused("perplexity -c 2", "perplexity", c2, NULL, "at least");
    CHECK(r.code == 2, "perplexity -c 2: exit %d, want 2", r.code);
    CHECK(strstr(r.out, "PPL") == NULL, "perplexity -c 2 printed a result: %s", r.out);
    // the smallest context the CLI takes gives a finite number
    const char *c4[] = {"-m", in, "-f", text, "-c", "4", NULL};
    cli_opts o = {.timeout_s = TIMEOUT_S};
    r = cli_run_opts("perplexity", c4, &o);
    CHECK(r.code == 0, "perplexity -c 4: exit %d: %s", r.code, r.err);
    const char *ppl = strstr(r.out, "PPL = ");
    double v = ppl ? strtod(ppl + 6, NULL) : NAN;
    CHECK(isfinite(v) && v > 1.0, "perplexity -c 4: '%s'", r.out);
    unlink(text);
}

// ---- kite quantize: the types --help lists -------------------------------------------------

// llama-quantize's QUANT_OPTIONS names (tools/quantize/quantize.cpp), COPY aside; the first
// eight need an importance matrix there (tensor_requires_imatrix in src/llama-quant.cpp: the
// IQ1/IQ2 types, IQ3_XXS, and Q2_K inside Q2_K_S).
static const char *const needs_imatrix[] = {"IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M", "IQ3_XXS", "Q2_K_S"};
static const char *const llama_types[] = {
    "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M", "IQ3_XXS", "Q2_K_S", "Q1_0", "Q2_0", "Q4_0", "Q4_1",
    "MXFP4_MOE", "Q5_0", "Q5_1", "TQ1_0", "TQ2_0", "Q2_K", "IQ3_S", "IQ3_M", "Q3_K", "IQ3_XS", "Q3_K_S", "Q3_K_M",
    "Q3_K_L", "IQ4_NL", "IQ4_XS", "Q4_K", "Q4_K_S", "Q4_K_M", "Q5_K", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0", "F16",
    "BF16", "F32"};

// Collects the words of the lines indented by 4 or more spaces right after the line holding
// `header` (up to a line indented less or starting with '(') into words, space-separated.
static void help_list(const char *help, const char *header, char *words, size_t cap) {
    words[0] = 0;
    const char *p = strstr(help, header);
    if (!p) return;
    p = strchr(p + 1, '\n');
    while (p && !strncmp(p + 1, "    ", 4)) {
        const char *b = p + 1 + strspn(p + 1, " "), *e = strchr(b, '\n');
        if (!e || *b == '(') break;
        size_t n = (size_t)(e - b), room = cap - strlen(words) - 2;
        strncat(words, b, n < room ? n : room);
        strncat(words, " ", cap - strlen(words) - 1);
        p = e;
    }
}

static bool has_word(const char *words, const char *w) {
    size_t n = strlen(w);
    for (const char *p = words; (p = strstr(p, w)) != NULL; p += n)
        if ((p == words || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return true;
    return false;
}

static void test_quant_types(void) {
    const char *h[] = {"--help", NULL};
    cli_result r = cli_run("quantize", h, NULL);
    CHECK(r.code == 0, "quantize --help: exit %d", r.code);
    char ok[1024], with_im[1024], refused[1024];
    help_list(r.out, "\nTYPE (", ok, sizeof ok);
    help_list(r.out, "  with --imatrix only", with_im, sizeof with_im);
    help_list(r.out, "a quantizer kite does not have yet", refused, sizeof refused);
    CHECK(*ok && *with_im && *refused, "cannot find the type lists in --help: %s", r.out);
    char out[512];
    at(out, sizeof out, "t.gguf");
    int n_ok = 0;
    for (size_t i = 0; i < sizeof llama_types / sizeof *llama_types; i++) {
        const char *t = llama_types[i];
        bool listed = has_word(ok, t), im_listed = has_word(with_im, t), refused_listed = has_word(refused, t);
        CHECK(listed + im_listed + refused_listed == 1, "%s: in %d of --help's three lists", t,
              listed + im_listed + refused_listed);
        bool imatrix = false;
        for (size_t k = 0; k < sizeof needs_imatrix / sizeof *needs_imatrix; k++) imatrix |= !strcmp(t, needs_imatrix[k]);
        CHECK(im_listed == imatrix, "%s: %s the --imatrix list", t, im_listed ? "wrongly in" : "missing from");
        const char *a[] = {"-q", in, out, t, "2", NULL};
        cli_opts o = {.timeout_s = TIMEOUT_S};
        cli_result q = cli_run_opts("quantize", a, &o);
        if (listed) { // every type --help offers runs
            n_ok++;
            CHECK(q.code == 0, "%s is listed but fails: exit %d: %s", t, q.code, q.err);
            CHECK(kind_of(out) == S_IFREG, "%s: no output", t);
            CHECK(!imatrix, "%s needs an importance matrix yet is listed as accepted", t);
        } else { // and every other one is refused up front (without --imatrix), saying why
            CHECK(q.code == 2, "%s is not listed but exits %d: %s", t, q.code, q.err);
            CHECK(strstr(q.err, imatrix ? "importance matrix" : "cannot quantize") != NULL, "%s: message: %s", t, q.err);
            CHECK(kind_of(out) == 0 && leftovers("t.gguf") == 0, "%s: refused but wrote a file", t);
        }
        unlink(out);
    }
    CHECK(n_ok >= 19, "only %d types accepted (the 19 of README's list at least)", n_ok);
}

int main(void) {
    if (!getenv("KITE_BIN")) {
        fprintf(stderr, "skip: KITE_BIN not set\n");
        return check_done("test_cli_files");
    }
    orig = check_read_model("stories260K.gguf", &orig_len);
    if (!orig) return check_done("test_cli_files");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kite_cli_files_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "cannot make a temp dir\n");
        return 1;
    }
    at(in, sizeof in, "in.gguf");
    CHECK(check_write_file(in, orig, orig_len), "cannot write %s", in);
    test_out_kinds();
    test_short_write();
    test_signals();
    test_inputs();
    test_outputs_over_inputs();
    test_ppl_ctx();
    test_quant_types();
    CHECK(input_unchanged(), "input modified");
    unlink(in);
    free(orig);
    CHECK(rmdir(tmpdir) == 0, "files left in %s", tmpdir);
    return check_done("test_cli_files");
}
