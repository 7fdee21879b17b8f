// test_chat.c - chat templates against llama.cpp: the template sources and expected outputs of
// its tests/test-chat-template.cpp (data/chat_cases.h), and byte equality with its
// llama_chat_apply_template (libllama via dlopen) for every built-in name and source on
// varied conversations.
#include <string.h>

#include "check.h"
#include "chat/kite_chat.h"
#include "data/chat_cases.h"
#include "data/qwen3_cases.h"
#include "kite.h"
#include "llama_ref.h"

// The conversation test-chat-template.cpp uses.
static const kite_chat_msg conversation[] = {
    {"system", "You are a helpful assistant"}, {"user", "Hello"},
    {"assistant", "Hi there"},                 {"user", "Who are you"},
    {"assistant", "   I am an assistant   "},  {"user", "Another question"},
};
#define N_CONV (sizeof conversation / sizeof conversation[0])

static void test_reference_cases(void) {
    for (size_t i = 0; i < sizeof chat_cases / sizeof chat_cases[0]; i++) {
        const chat_case *c = &chat_cases[i];
        kite_chat_msg msgs[N_CONV + 3];
        memcpy(msgs, conversation, sizeof conversation);
        for (int k = 0; k < c->n_extra; k++) msgs[N_CONV + k] = (kite_chat_msg){c->extra[k][0], c->extra[k][1]};
        char *out = NULL;
        size_t len = 0;
        kite_status st = kite_chat_apply(c->tmpl, msgs, N_CONV + (size_t)c->n_extra, true, &out, &len);
        CHECK(st == KITE_OK, "%s: %s (detected %s)", c->name, kite_last_error(), kite_chat_detect(c->tmpl));
        if (st == KITE_OK) {
            CHECK(len == strlen(c->expected) && strcmp(out, c->expected) == 0,
                  "%s (detected as %s):\n got: %s\nwant: %s", c->name, kite_chat_detect(c->tmpl), out, c->expected);
            free(out);
        }
    }
    char *out = NULL;
    CHECK(kite_chat_apply("INVALID TEMPLATE", conversation, N_CONV, true, &out, NULL) == KITE_ERR_UNSUPPORTED && !out,
          "an unknown template was accepted");
    CHECK(kite_chat_detect("INVALID TEMPLATE") == NULL, "unknown template detected");
    CHECK(kite_chat_detect(NULL) == NULL, "NULL detected");
    kite_chat_msg bad = {"user", NULL};
    CHECK(kite_chat_apply("chatml", &bad, 1, true, &out, NULL) == KITE_ERR_INVALID &&
              strstr(kite_last_error(), "content"),
          "a message without content was accepted");
    CHECK(kite_chat_template_from_name("llama3") && !kite_chat_template_from_name("llama-3"), "name lookup");
    CHECK(kite_chat_template_count() >= 50 && kite_chat_template_name(kite_chat_template_count()) == NULL,
          "template list");
}

// ---- against libllama -----------------------------------------------------------------------

typedef int32_t (*apply_fn)(const char *, const llref_chat_message *, size_t, bool, char *, int32_t);

static const kite_chat_msg conv_user_first[] = {
    {"user", "Hi"}, {"assistant", " ok \n"}, {"tool", "{\"r\": 1}"}, {"function", "f()"},
    {"assistant_tool_call", "[call]"}, {"user", "  padded\t "}, {"odd", "x"},
};
static const kite_chat_msg conv_two_systems[] = {
    {"system", "first"}, {"system", " second "}, {"user", "u"}, {"assistant", "a"}, {"system", "late"}, {"user", "y"},
};
static const kite_chat_msg conv_ends_assistant[] = {
    {"system", ""}, {"user", "q"}, {"assistant", "reply"},
};

typedef struct conv {
    const kite_chat_msg *m;
    size_t n;
} conv;

// Our output and llama.cpp's for one template and conversation must be identical.
static int compare_one(apply_fn ref, const char *tmpl, const char *label, conv c, bool add) {
    llref_chat_message lm[16];
    for (size_t i = 0; i < c.n; i++) lm[i] = (llref_chat_message){c.m[i].role, c.m[i].content};
    static char buf[1 << 16];
    int32_t n = ref(tmpl, lm, c.n, add, buf, (int32_t)sizeof buf);
    char *out = NULL;
    size_t len = 0;
    kite_status st = kite_chat_apply(tmpl, c.m, c.n, add, &out, &len);
    int bad = 0;
    if (n < 0) {
        bad = st != KITE_ERR_UNSUPPORTED;
        CHECK(!bad, "%s: llama.cpp refuses it, kite accepts it", label);
    } else {
        bad = st != KITE_OK || (size_t)n != len || memcmp(out, buf, len) != 0;
        CHECK(!bad, "%s (add %d, %zu msgs):\n got: %s\nwant: %.*s", label, add, c.n, st == KITE_OK ? out : "(error)",
              n, buf);
    }
    free(out);
    return bad;
}

static void compare_all(apply_fn ref, const char *tmpl, const char *label) {
    const conv convs[] = {
        {conversation, N_CONV},
        {conv_user_first, sizeof conv_user_first / sizeof conv_user_first[0]},
        {conv_two_systems, sizeof conv_two_systems / sizeof conv_two_systems[0]},
        {conv_ends_assistant, sizeof conv_ends_assistant / sizeof conv_ends_assistant[0]},
        {conversation + 1, 1},
        {NULL, 0},
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++)
        for (int add = 0; add < 2; add++) compare_one(ref, tmpl, label, convs[i], add);
}

static void test_against_llama(void) {
    int ci_fail;
    void *h = llama_ref_open(&ci_fail);
    if (ci_fail) check_failed++;
    if (!h) return;
    apply_fn ref;
    *(void **)&ref = dlsym(h, "llama_chat_apply_template");
    int32_t (*builtin_names)(const char **, size_t);
    *(void **)&builtin_names = dlsym(h, "llama_chat_builtin_templates");
    CHECK(ref && builtin_names, "libllama lacks the chat template API");
    if (ref && builtin_names) {
        const char *names[128];
        int32_t n = builtin_names(names, 128);
        CHECK(n > 0 && n <= 128, "llama_chat_builtin_templates gave %d", n);
        for (int32_t i = 0; i < n && i < 128; i++) {
            CHECK(kite_chat_template_from_name(names[i]) != NULL, "llama.cpp's template %s is missing", names[i]);
            compare_all(ref, names[i], names[i]);
        }
        for (size_t i = 0; i < sizeof chat_cases / sizeof chat_cases[0]; i++)
            compare_all(ref, chat_cases[i].tmpl, chat_cases[i].name);
        // a source only llama.cpp's detector names (dots.llm1), and one it cannot place
        compare_all(ref, "{{ '<|userprompt|>' + content + '<|endofuserprompt|>' }}", "dots1 source");
        compare_all(ref, "{{ messages }}", "unknown source");
        // the markers of Qwen3's template (ChatML turns, a reasoning block) and Gemma 3's (turns)
        static const char qwen3_src[] =
            "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}"
            "{%- endif %}{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}",
                          gemma3_src[] = "{{ bos_token }}{%- for message in loop_messages -%}{{ '<start_of_turn>' + "
                                         "role + '\\n' + message['content'] | trim }}<end_of_turn>{%- endfor -%}";
        CHECK(!strcmp(kite_chat_detect(qwen3_src), "chatml") && !strcmp(kite_chat_detect(gemma3_src), "gemma"),
              "qwen3 source as %s, gemma3 source as %s", kite_chat_detect(qwen3_src), kite_chat_detect(gemma3_src));
        compare_all(ref, qwen3_src, "qwen3 source");
        compare_all(ref, gemma3_src, "gemma3 source");
        // real templates shipped in llama.cpp's vocab files (tokenizer.chat_template)
        const struct {
            const char *file, *family;
        } real[] = {{"../vocab/ggml-vocab-phi-3.gguf", "phi3"}, {"../vocab/ggml-vocab-qwen2.gguf", "chatml"}};
        for (int i = 0; i < 2; i++) {
            size_t len;
            unsigned char *buf = check_read_model(real[i].file, &len);
            kite_gguf *g = NULL;
            kite_str src;
            if (!buf) continue;
            CHECK(kite_gguf_parse(buf, len, &g) == KITE_OK && kite_gguf_get_str(g, "tokenizer.chat_template", &src),
                  "%s: no chat template", real[i].file);
            if (g && kite_gguf_get_str(g, "tokenizer.chat_template", &src)) {
                char *t = malloc(src.len + 1);
                memcpy(t, src.ptr, src.len);
                t[src.len] = 0;
                const char *got = kite_chat_detect(t);
                CHECK(got && !strcmp(got, real[i].family), "%s detected as %s, want %s", real[i].file, got,
                      real[i].family);
                compare_all(ref, t, real[i].file);
                free(t);
            }
            kite_gguf_free(g);
            free(buf);
        }
    }
    dlclose(h);
}

// ---- reasoning blocks ------------------------------------------------------------------------

static bool refuse_emit(void *user, const char *t, size_t n, bool thinking) {
    (void)user, (void)t, (void)n, (void)thinking;
    return false;
}

typedef struct split_out {
    char text[2][256]; // [0] answer, [1] reasoning
    size_t len[2];
    int runs;
} split_out;

static bool collect_split(void *user, const char *t, size_t n, bool thinking) {
    split_out *o = user;
    CHECK(n > 0, "empty run");
    memcpy(o->text[thinking] + o->len[thinking], t, n);
    o->len[thinking] += n;
    o->runs++;
    return true;
}

// Splits `in` fed as pieces cut at every pair of positions (so tags split across 1-3 pieces)
// and checks the answer and reasoning texts each time.
static void check_split(const char *in, const char *answer, const char *reasoning) {
    const size_t n = strlen(in);
    for (size_t a = 0; a <= n; a++)
        for (size_t b = a; b <= n; b++) {
            split_out o = {0};
            kite_think_split s;
            kite_think_split_init(&s);
            kite_think_split_feed(&s, in, a, collect_split, &o);
            kite_think_split_feed(&s, in + a, b - a, collect_split, &o);
            kite_think_split_feed(&s, in + b, n - b, collect_split, &o);
            kite_think_split_flush(&s, collect_split, &o);
            o.text[0][o.len[0]] = o.text[1][o.len[1]] = 0;
            CHECK(!strcmp(o.text[0], answer) && !strcmp(o.text[1], reasoning),
                  "split of %s at %zu,%zu: answer '%s' reasoning '%s'", in, a, b, o.text[0], o.text[1]);
        }
}

static void test_think_split(void) {
    // Qwen3's layout: the block first, a blank line, then the answer
    check_split("<think>\nLet me see.\n</think>\n\nParis.", "Paris.", "\nLet me see.\n");
    check_split("No block here.", "No block here.", "");
    check_split("a < b, <thin and </think> stay text", "a < b, <thin and </think> stay text", "");
    check_split("<<think>x</think>y", "<y", "x");
    check_split("<think>unfinished", "", "unfinished");
    check_split("<think>a</thin", "", "a</thin"); // an unfinished closing tag is reasoning
    check_split("ends in <thi", "ends in <thi", "");
    check_split("<think></think>\n", "", "");
    check_split("x\n<think>r</think>\n\ny\n", "x\ny\n", "r");
    // the emit callback can stop the feed
    kite_think_split s;
    kite_think_split_init(&s);
    CHECK(!kite_think_split_feed(&s, "abc", 3, refuse_emit, NULL), "a refusing emit did not stop the feed");
}

// Reasoning off (KITE_CHAT_NO_THINKING): the reply opening gets the empty block only where the
// source writes one for enable_thinking false (tests/node/think.test.mjs compares the rendering
// of Qwen3's real template with llama-server's); other templates and names are unchanged.
static void test_no_thinking(void) {
    static const char qwen3_gen[] = "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
                                    "{%- if enable_thinking is defined and enable_thinking is false %}"
                                    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"
                                    "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}";
    const kite_chat_msg msgs[] = {{"user", "Hello"}};
    CHECK(!strcmp(kite_chat_no_think_text(qwen3_gen), "<think>\n\n</think>\n\n"), "qwen3: '%s'",
          kite_chat_no_think_text(qwen3_gen));
    CHECK(!strcmp(kite_chat_no_think_text("chatml"), "") && !strcmp(kite_chat_no_think_text(NULL), "") &&
              !strcmp(kite_chat_no_think_text("{{ '<|im_start|>' }} enable_thinking"), ""),
          "a template without the block has no reasoning-off text");
    const char *tmpls[] = {qwen3_gen, "chatml", "gemma"};
    for (size_t t = 0; t < 3; t++) {
        char *plain = NULL, *off = NULL, *no_add = NULL, *hist = NULL;
        CHECK(kite_chat_apply(tmpls[t], msgs, 1, true, &plain, NULL) == KITE_OK &&
                  kite_chat_apply_ex(tmpls[t], msgs, 1, KITE_CHAT_ADD_ASSISTANT | KITE_CHAT_NO_THINKING, &off, NULL) ==
                      KITE_OK &&
                  kite_chat_apply_ex(tmpls[t], msgs, 1, KITE_CHAT_NO_THINKING, &no_add, NULL) == KITE_OK &&
                  kite_chat_apply(tmpls[t], msgs, 1, false, &hist, NULL) == KITE_OK,
              "template %zu: %s", t, kite_last_error());
        if (plain && off && no_add && hist) {
            const char *extra = kite_chat_no_think_text(tmpls[t]);
            CHECK(strlen(off) == strlen(plain) + strlen(extra) && !strncmp(off, plain, strlen(plain)) &&
                      !strcmp(off + strlen(plain), extra),
                  "template %zu: reasoning off gives '%s'", t, off);
            CHECK(!strcmp(no_add, hist), "template %zu: without the assistant's opening nothing is added", t);
        }
        free(plain), free(off), free(no_add), free(hist);
    }
    char *out = NULL;
    CHECK(kite_chat_apply_ex("chatml", msgs, 1, 4, &out, NULL) == KITE_ERR_INVALID && !out, "unknown flag accepted");
}

// Qwen3's real template against a Jinja engine's rendering of it (data/qwen3_cases.h): every
// prefix of multi-turn conversations whose replies carry <think>...</think> blocks (kept after
// the last query, dropped before it), tool answers and odd roles; with and without the
// assistant's opening, thinking on and off.
static void test_qwen3_jinja(void) {
    CHECK(!strcmp(kite_chat_detect(qwen3_template), "chatml"), "qwen3 detected as %s", kite_chat_detect(qwen3_template));
    for (size_t i = 0; i < sizeof qwen3_cases / sizeof qwen3_cases[0]; i++) {
        const qwen3_case *q = &qwen3_cases[i];
        char *out = NULL;
        size_t len = 0;
        kite_status st = kite_chat_apply_ex(qwen3_template, qwen3_convs[q->conv], (size_t)q->n, q->flags, &out, &len);
        CHECK(st == KITE_OK && len == strlen(q->expected) && !strcmp(out, q->expected),
              "qwen3 conversation %d, %d messages, flags %u:\n got: %s\nwant: %s", q->conv, q->n, q->flags,
              st == KITE_OK ? out : kite_last_error(), q->expected);
        free(out);
    }
    // the reasoning-off text on its own still names the block (hosts add it to the history)
    CHECK(!strcmp(kite_chat_no_think_text(qwen3_template), "<think>\n\n</think>\n\n"), "qwen3 no-think text");
}

// The reply's opening and the reasoning layout of the templates in tests/node/data (the
// serve_qwen_templates node test checks the whole prompts against @huggingface/jinja): what each
// source's add_generation_prompt writes after "<|im_start|>assistant\n", enable_thinking true and
// false; the tags around a turn's reasoning as its assistant turns write them.
static void test_reply_openings(void) {
    static const struct {
        const char *file, *on, *off, *start, *end;
    } cases[] = {
        {"qwen3-0.6b.jinja", "", "<think>\n\n</think>\n\n", "<think>\n", "\n</think>\n\n"},
        {"qwq-32b.jinja", "<think>\n", "<think>\n</think>", "<think>", "</think>"},
        {"qwen3.5-4b.jinja", "<think>\n", "<think>\n\n</think>\n\n", "<think>\n", "\n</think>\n\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *root = getenv("KITE_ROOT");
        char path[4096];
        snprintf(path, sizeof path, "%s/tests/node/data/%s", root && *root ? root : ".", cases[i].file);
        size_t len = 0;
        unsigned char *raw = check_read_file(path, &len);
        CHECK(raw != NULL, "cannot read %s", path);
        if (!raw) continue;
        char *src = malloc(len + 1);
        memcpy(src, raw, len);
        src[len] = 0;
        CHECK(!strcmp(kite_chat_reply_opening(src, false), cases[i].on), "%s: opening '%s'", cases[i].file,
              kite_chat_reply_opening(src, false));
        CHECK(!strcmp(kite_chat_reply_opening(src, true), cases[i].off), "%s: opening off '%s'", cases[i].file,
              kite_chat_reply_opening(src, true));
        const char *start = NULL, *end = NULL;
        CHECK(kite_chat_reasoning_layout(src, &start, &end) && !strcmp(start, cases[i].start) && !strcmp(end, cases[i].end),
              "%s: layout", cases[i].file);
        free(src);
        free(raw);
    }
    CHECK(!strcmp(kite_chat_reply_opening("chatml", false), "") && !kite_chat_reasoning_layout("chatml", NULL, NULL),
          "chatml has no reasoning");
}

int main(void) {
    test_reply_openings();
    test_think_split();
    test_qwen3_jinja();
    test_no_thinking();
    test_reference_cases();
    test_against_llama();
    return check_done("test_chat");
}
