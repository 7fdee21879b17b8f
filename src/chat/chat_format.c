// chat_format.c - the built-in chat templates (llama.cpp's set, same output byte for byte).
// Most are a pattern per role; the few with cross-message logic have a function each.
#include "base/internal.h"
#include "chat/chat_internal.h"

#include <ctype.h>

// ---- patterns -----------------------------------------------------------------------------

// Whitespace as C's isspace in the "C" locale (what llama.cpp's trim uses).
static bool is_ws(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Appends s without leading and trailing whitespace.
static void put_trimmed(kite_buf *b, const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n && is_ws(s[i])) i++;
    while (n > i && is_ws(s[n - 1])) n--;
    kite_buf_append(b, s + i, n - i);
}

// Appends a pattern with its placeholders filled in:
//   {c} content   {t} content trimmed   {r} role   {R} role, first letter upper-case
//   {U} role upper-case, "user" spelled HUMAN (Ling / Bailing)
static void render(kite_buf *b, const char *pat, const kite_chat_msg *m) {
    while (*pat) {
        const char *brace = strchr(pat, '{');
        if (!brace || !brace[1] || brace[2] != '}' || !strchr("ctrRU", brace[1])) {
            size_t n = brace ? (size_t)(brace - pat) + 1 : strlen(pat);
            kite_buf_append(b, pat, n);
            pat += n;
            continue;
        }
        kite_buf_append(b, pat, (size_t)(brace - pat));
        switch (brace[1]) {
        case 'c': kite_buf_puts(b, m->content); break;
        case 't': put_trimmed(b, m->content); break;
        case 'r': kite_buf_puts(b, m->role); break;
        case 'R':
            if (m->role[0]) {
                char first = (char)toupper((unsigned char)m->role[0]);
                kite_buf_append(b, &first, 1);
                kite_buf_puts(b, m->role + 1);
            }
            break;
        case 'U':
            if (strcmp(m->role, "user") == 0) {
                kite_buf_puts(b, "HUMAN");
            } else {
                for (const char *r = m->role; *r; r++) {
                    char u = (*r >= 'a' && *r <= 'z') ? (char)(*r - 'a' + 'A') : *r; // ASCII only
                    kite_buf_append(b, &u, 1);
                }
            }
            break;
        }
        pat = brace + 3;
    }
}

static bool is(const kite_chat_msg *m, const char *role) { return strcmp(m->role, role) == 0; }

// ---- pattern templates --------------------------------------------------------------------

typedef struct role_pat {
    const char *role, *pat;
} role_pat;

typedef struct pattern_tmpl {
    const char *begin;        // once before everything
    const char *no_system;    // once at the start when the first message is not "system"
    bool no_system_needs_msg; // ... and only if there is a message at all
    const char *first_system; // pattern of a leading "system" message (NULL: the usual one)
    role_pat roles[5];        // role-specific patterns, first match wins
    const char *other;        // every other role; NULL drops the message
    const char *gen;          // opening of the assistant's reply (add_assistant)
} pattern_tmpl;

static void format_pattern(const pattern_tmpl *t, const kite_chat_msg *msgs, size_t n, bool add, kite_buf *b) {
    if (t->begin) kite_buf_puts(b, t->begin);
    bool lead_sys = n > 0 && is(&msgs[0], "system");
    if (t->no_system && !lead_sys && (n > 0 || !t->no_system_needs_msg)) kite_buf_puts(b, t->no_system);
    for (size_t i = 0; i < n; i++) {
        const char *pat = t->other;
        if (i == 0 && lead_sys && t->first_system) {
            pat = t->first_system;
        } else {
            for (int k = 0; k < 5 && t->roles[k].role; k++) {
                if (is(&msgs[i], t->roles[k].role)) {
                    pat = t->roles[k].pat;
                    break;
                }
            }
        }
        if (pat) render(b, pat, &msgs[i]);
    }
    if (add && t->gen) kite_buf_puts(b, t->gen);
}

// Patterns shared by several names.
#define EXAONE3_ROLES {"system", "[|system|]{t}[|endofturn|]\n"}, {"user", "[|user|]{t}\n"}, \
                      {"assistant", "[|assistant|]{t}[|endofturn|]\n"}
#define GRANITE4_TOOL {"assistant_tool_call", "<|start_of_role|>assistant<|end_of_role|><|tool_call|>{c}<|end_of_text|>\n"}
#define GRANITE_TURN "<|start_of_role|>{r}<|end_of_role|>{c}<|end_of_text|>\n"
#define GRANITE_GEN "<|start_of_role|>assistant<|end_of_role|>"

static const pattern_tmpl t_chatml = {.other = "<|im_start|>{r}\n{c}<|im_end|>\n", .gen = "<|im_start|>assistant\n"};
static const pattern_tmpl t_mistral_v7 = {
    .roles = {{"system", "[SYSTEM_PROMPT] {c}[/SYSTEM_PROMPT]"}, {"user", "[INST] {c}[/INST]"}}, .other = " {c}</s>"};
static const pattern_tmpl t_mistral_v7_tekken = {
    .roles = {{"system", "[SYSTEM_PROMPT]{c}[/SYSTEM_PROMPT]"}, {"user", "[INST]{c}[/INST]"}}, .other = "{c}</s>"};
static const pattern_tmpl t_phi3 = {.other = "<|{r}|>\n{c}<|end|>\n", .gen = "<|assistant|>\n"};
static const pattern_tmpl t_phi4 = {.other = "<|im_start|>{r}<|im_sep|>{c}<|im_end|>",
                                    .gen = "<|im_start|>assistant<|im_sep|>"};
static const pattern_tmpl t_falcon3 = {.other = "<|{r}|>\n{c}\n", .gen = "<|assistant|>\n"};
static const pattern_tmpl t_zephyr = {.other = "<|{r}|>\n{c}<|endoftext|>\n", .gen = "<|assistant|>\n"};
static const pattern_tmpl t_openchat = {.roles = {{"system", "{c}<|end_of_turn|>"}},
                                        .other = "GPT4 Correct {R}: {c}<|end_of_turn|>",
                                        .gen = "GPT4 Correct Assistant:"};
static const pattern_tmpl t_vicuna = {
    .roles = {{"system", "{c}\n\n"}, {"user", "USER: {c}\n"}, {"assistant", "ASSISTANT: {c}</s>\n"}},
    .gen = "ASSISTANT:"};
static const pattern_tmpl t_vicuna_orca = {
    .roles = {{"system", "SYSTEM: {c}\n"}, {"user", "USER: {c}\n"}, {"assistant", "ASSISTANT: {c}</s>\n"}},
    .gen = "ASSISTANT:"};
static const pattern_tmpl t_deepseek = {
    .roles = {{"system", "{c}"}, {"user", "### Instruction:\n{c}\n"}, {"assistant", "### Response:\n{c}\n<|EOT|>\n"}},
    .gen = "### Response:\n"};
static const pattern_tmpl t_command_r = {
    .roles = {{"system", "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>{t}<|END_OF_TURN_TOKEN|>"},
              {"user", "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>{t}<|END_OF_TURN_TOKEN|>"},
              {"assistant", "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>{t}<|END_OF_TURN_TOKEN|>"}},
    .gen = "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"};
static const pattern_tmpl t_llama3 = {.other = "<|start_header_id|>{r}<|end_header_id|>\n\n{t}<|eot_id|>",
                                      .gen = "<|start_header_id|>assistant<|end_header_id|>\n\n"};
static const pattern_tmpl t_chatglm3 = {.begin = "[gMASK]sop", .other = "<|{r}|>\n {c}", .gen = "<|assistant|>"};
static const pattern_tmpl t_chatglm4 = {.begin = "[gMASK]<sop>", .other = "<|{r}|>\n{c}", .gen = "<|assistant|>\n"};
static const pattern_tmpl t_glmedge = {.other = "<|{r}|>\n{c}", .gen = "<|assistant|>"};
static const pattern_tmpl t_minicpm = {.roles = {{"user", "<用户>{t}<AI>"}}, .other = "{t}"};
static const pattern_tmpl t_deepseek2 = {
    .roles = {{"system", "{c}\n\n"}, {"user", "User: {c}\n\n"}, {"assistant", "Assistant: {c}<｜end▁of▁sentence｜>"}},
    .gen = "Assistant:"};
static const pattern_tmpl t_deepseek3 = {
    .roles = {{"system", "{c}\n\n"}, {"user", "<｜User｜>{c}"}, {"assistant", "<｜Assistant｜>{c}<｜end▁of▁sentence｜>"}},
    .gen = "<｜Assistant｜>"};
static const pattern_tmpl t_deepseek_ocr = {.other = "{c}"};
static const pattern_tmpl t_exaone3 = {.roles = {EXAONE3_ROLES}, .gen = "[|assistant|]"};
static const pattern_tmpl t_exaone4 = {.roles = {EXAONE3_ROLES, {"tool", "[|tool|]{t}[|endofturn|]\n"}},
                                       .gen = "[|assistant|]"};
static const pattern_tmpl t_exaone_moe = {
    .roles = {{"system", "<|system|>\n{t}<|endofturn|>\n"}, {"user", "<|user|>\n{t}<|endofturn|>\n"},
              {"assistant", "<|assistant|>\n{t}<|endofturn|>\n"}, {"tool", "<|tool|>\n{t}<|endofturn|>\n"}},
    .gen = "<|assistant|>\n"};
static const pattern_tmpl t_granite3 = {
    .roles = {{"assistant_tool_call", "<|start_of_role|>{r}<|end_of_role|><|tool_call|>{c}<|end_of_text|>\n"}},
    .other = GRANITE_TURN, .gen = GRANITE_GEN};
static const pattern_tmpl t_granite4 = {.roles = {GRANITE4_TOOL}, .other = GRANITE_TURN, .gen = GRANITE_GEN};
static const pattern_tmpl t_gigachat = {
    .no_system = "<s>", .first_system = "<s>{c}<|message_sep|>",
    .roles = {{"user", "user<|role_sep|>{c}<|message_sep|>available functions<|role_sep|>[]<|message_sep|>"},
              {"assistant", "assistant<|role_sep|>{c}<|message_sep|>"}},
    .gen = "assistant<|role_sep|>"};
static const pattern_tmpl t_megrez = {.other = "<|role_start|>{r}<|role_end|>{c}<|turn_end|>",
                                      .gen = "<|role_start|>assistant<|role_end|>"};
static const pattern_tmpl t_yandex = {
    .roles = {{"user", " Пользователь: {c}\n\n"}, {"assistant", " Ассистент: {c}\n\n"}}, .gen = " Ассистент:[SEP]"};
static const pattern_tmpl t_bailing = {.other = "<role>{U}</role>{c}", .gen = "<role>ASSISTANT</role>"};
static const pattern_tmpl t_bailing_think = {.other = "<role>{U}</role>{c}", .gen = "<role>ASSISTANT</role><think>"};
static const pattern_tmpl t_bailing2 = {.no_system = "<role>SYSTEM</role>detailed thinking off<|role_end|>",
                                        .other = "<role>{U}</role>{c}<|role_end|>", .gen = "<role>ASSISTANT</role>"};
static const pattern_tmpl t_llama4 = {.other = "<|header_start|>{r}<|header_end|>\n\n{t}<|eot|>",
                                      .gen = "<|header_start|>assistant<|header_end|>\n\n"};
static const pattern_tmpl t_smolvlm = {
    .begin = "<|im_start|>",
    .roles = {{"system", "{c}\n\n"}, {"user", "User: {c}<end_of_utterance>\n"}},
    .other = "Assistant: {c}<end_of_utterance>\n", .gen = "Assistant:"};
static const pattern_tmpl t_dots1 = {
    .roles = {{"system", "<|system|>{c}<|endofsystem|>"}, {"user", "<|userprompt|>{c}<|endofuserprompt|>"}},
    .other = "<|response|>{c}<|endofresponse|>", .gen = "<|response|>"};
static const pattern_tmpl t_hunyuan_moe = {
    .roles = {{"system", "<|startoftext|>{c}<|extra_4|>"}, {"assistant", "{c}<|eos|>"}},
    .other = "<|startoftext|>{c}<|extra_0|>"};
static const pattern_tmpl t_gpt_oss = {.roles = {{"assistant", "<|start|>{r}<|message|>{c}<|return|>"}},
                                       .other = "<|start|>{r}<|message|>{c}<|end|>", .gen = "<|start|>assistant"};
static const pattern_tmpl t_hunyuan_dense = {
    .first_system = "{c}<｜hy_place▁holder▁no▁3｜>",
    .roles = {{"assistant", "<｜hy_Assistant｜>{c}<｜hy_place▁holder▁no▁2｜>"}, {"user", "<｜hy_User｜>{c}<｜hy_Assistant｜>"}}};
static const pattern_tmpl t_hunyuan_vl = {
    .begin = "<｜hy_begin▁of▁sentence｜>", .first_system = "{c}<｜hy_place▁holder▁no▁3｜>",
    .roles = {{"user", "{c}<｜hy_User｜>"}, {"assistant", "{c}<｜hy_Assistant｜>"}}};
static const pattern_tmpl t_kimi_k2 = {
    .roles = {{"system", "<|im_system|>system<|im_middle|>{c}<|im_end|>"},
              {"user", "<|im_user|>user<|im_middle|>{c}<|im_end|>"},
              {"assistant", "<|im_assistant|>assistant<|im_middle|>{c}<|im_end|>"},
              {"tool", "<|im_system|>tool<|im_middle|>{c}<|im_end|>"}},
    .other = "{c}<|im_end|>", .gen = "<|im_assistant|>assistant<|im_middle|>"};
static const pattern_tmpl t_seed_oss = {.roles = {{"assistant", "<seed:bos>{r}\n{t}<seed:eos>"}},
                                        .other = "<seed:bos>{r}\n{c}<seed:eos>", .gen = "<seed:bos>assistant\n"};
static const pattern_tmpl t_grok2 = {
    .roles = {{"system", "System: {t}<|separator|>\n\n"}, {"user", "Human: {t}<|separator|>\n\n"},
              {"assistant", "Assistant: {c}<|separator|>\n\n"}},
    .gen = "Assistant:"};
static const pattern_tmpl t_pangu = {
    .no_system = "[unused9]系统：[unused10]", .no_system_needs_msg = true,
    .roles = {{"system", "[unused9]系统：{c}[unused10]"}, {"user", "[unused9]用户：{c}[unused10]"},
              {"assistant", "[unused9]助手：{c}[unused10]"}, {"tool", "[unused9]工具：{c}[unused10]"},
              {"function", "[unused9]方法：{c}[unused10]"}},
    .gen = "[unused9]助手："};
static const pattern_tmpl t_solar_open = {.other = "<|begin|>{r}<|content|>{c}<|end|>", .gen = "<|begin|>assistant"};

// ---- templates with cross-message logic -----------------------------------------------------

// Llama 2 variants (v: 0 plain, 1 with <<SYS>>, 2 also <s> before later turns, 3 also trimmed
// contents). The first "[INST] " opens the prompt; BOS itself comes from the tokenizer.
static void f_llama2(const kite_chat_msg *m, size_t n, bool add, kite_buf *b, int v) {
    (void)add;
    bool in_turn = true;
    kite_buf_puts(b, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            kite_buf_puts(b, v == 2 ? "<s>[INST] " : "[INST] ");
            in_turn = true;
        }
        const char *c = v == 3 ? "{t}" : "{c}";
        if (is(&m[i], "system")) {
            // without <<SYS>> support the system text still leads the first turn
            if (v == 0) {
                render(b, "{c}\n", &m[i]);
            } else {
                kite_buf_puts(b, "<<SYS>>\n");
                render(b, c, &m[i]);
                kite_buf_puts(b, "\n<</SYS>>\n\n");
            }
        } else if (is(&m[i], "user")) {
            render(b, c, &m[i]);
            kite_buf_puts(b, " [/INST]");
        } else {
            render(b, c, &m[i]);
            kite_buf_puts(b, "</s>");
            in_turn = false;
        }
    }
}

// Mistral's official v1 / v3 / v3-tekken (v: 0, 1, 2): turns open with [INST] lazily; v1 puts
// a space before [INST] and [/INST], tekken none after, v3 trims assistant replies.
static void f_mistral(const kite_chat_msg *m, size_t n, bool add, kite_buf *b, int v) {
    (void)add;
    const char *lead = v == 0 ? " " : "", *trail = v == 2 ? "" : " ";
    bool in_turn = false;
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            kite_buf_puts(b, lead);
            kite_buf_puts(b, "[INST]");
            kite_buf_puts(b, trail);
            in_turn = true;
        }
        if (is(&m[i], "system")) {
            render(b, "{c}\n\n", &m[i]);
        } else if (is(&m[i], "user")) {
            render(b, "{c}", &m[i]);
            kite_buf_puts(b, lead);
            kite_buf_puts(b, "[/INST]");
        } else {
            kite_buf_puts(b, trail);
            render(b, v == 1 ? "{t}</s>" : "{c}</s>", &m[i]);
            in_turn = false;
        }
    }
}

// AlphaMonarch: every turn but the first starts with <s>.
static void f_monarch(const kite_chat_msg *m, size_t n, bool add, kite_buf *b, int v) {
    (void)v;
    for (size_t i = 0; i < n; i++) render(b, i == 0 ? "{r}\n{c}</s>\n" : "<s>{r}\n{c}</s>\n", &m[i]);
    if (add) kite_buf_puts(b, "<s>assistant\n");
}

// Gemma: no system role; system texts (trimmed) are carried into the next non-model turn.
static void f_gemma(const kite_chat_msg *m, size_t n, bool add, kite_buf *b, int v) {
    (void)v;
    kite_buf sys = {0};
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "system")) {
            put_trimmed(&sys, m[i].content);
            continue;
        }
        bool model = is(&m[i], "assistant");
        kite_buf_puts(b, "<start_of_turn>");
        kite_buf_puts(b, model ? "model" : m[i].role);
        kite_buf_puts(b, "\n");
        if (sys.len && !model) {
            kite_buf_append(b, sys.ptr, sys.len);
            kite_buf_puts(b, "\n\n");
            sys.len = 0;
        }
        render(b, "{t}<end_of_turn>\n", &m[i]);
    }
    b->nomem |= sys.nomem;
    free(sys.ptr);
    if (add) kite_buf_puts(b, "<start_of_turn>model\n");
}

// Orion: system texts go into the next user turn; every user turn ends with the assistant cue.
static void f_orion(const kite_chat_msg *m, size_t n, bool add, kite_buf *b, int v) {
    (void)v;
    (void)add;
    kite_buf sys = {0};
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "system")) {
            kite_buf_puts(&sys, m[i].content);
        } else if (is(&m[i], "user")) {
            kite_buf_puts(b, "Human: ");
            if (sys.len) {
                kite_buf_append(b, sys.ptr, sys.len);
                kite_buf_puts(b, "\n\n");
                sys.len = 0;
            }
            render(b, "{c}\n\nAssistant: </s>", &m[i]);
        } else {
            render(b, "{c}</s>", &m[i]);
        }
    }
    b->nomem |= sys.nomem;
    free(sys.ptr);
}

// RWKV World: the reply cue follows a user message that ends the conversation, whatever
// add_assistant says ("\n\n" is the model's end-of-turn).
static void f_rwkv(const kite_chat_msg *m, size_t n, bool add, kite_buf *b, int v) {
    (void)v;
    (void)add;
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "system")) render(b, "System: {t}\n\n", &m[i]);
        else if (is(&m[i], "user")) render(b, i + 1 == n ? "User: {t}\n\nAssistant:" : "User: {t}\n\n", &m[i]);
        else if (is(&m[i], "assistant")) render(b, "Assistant: {t}\n\n", &m[i]);
    }
}

// ---- the table ----------------------------------------------------------------------------

typedef void (*format_fn)(const kite_chat_msg *m, size_t n, bool add, kite_buf *b, int variant);

typedef struct builtin {
    const char *name;
    const pattern_tmpl *pat; // either a pattern table ...
    format_fn fn;            // ... or a function with its variant number
    int variant;
} builtin;

// llama.cpp's built-in names (llama_chat_builtin_templates), plus "dots1", which it detects but
// does not list by name.
static const builtin builtins[] = {
    {"chatml", &t_chatml, NULL, 0},
    {"llama2", NULL, f_llama2, 0},
    {"llama2-sys", NULL, f_llama2, 1},
    {"llama2-sys-bos", NULL, f_llama2, 2},
    {"llama2-sys-strip", NULL, f_llama2, 3},
    {"mistral-v1", NULL, f_mistral, 0},
    {"mistral-v3", NULL, f_mistral, 1},
    {"mistral-v3-tekken", NULL, f_mistral, 2},
    {"mistral-v7", &t_mistral_v7, NULL, 0},
    {"mistral-v7-tekken", &t_mistral_v7_tekken, NULL, 0},
    {"phi3", &t_phi3, NULL, 0},
    {"phi4", &t_phi4, NULL, 0},
    {"falcon3", &t_falcon3, NULL, 0},
    {"zephyr", &t_zephyr, NULL, 0},
    {"monarch", NULL, f_monarch, 0},
    {"gemma", NULL, f_gemma, 0},
    {"orion", NULL, f_orion, 0},
    {"openchat", &t_openchat, NULL, 0},
    {"vicuna", &t_vicuna, NULL, 0},
    {"vicuna-orca", &t_vicuna_orca, NULL, 0},
    {"deepseek", &t_deepseek, NULL, 0},
    {"deepseek2", &t_deepseek2, NULL, 0},
    {"deepseek3", &t_deepseek3, NULL, 0},
    {"deepseek-ocr", &t_deepseek_ocr, NULL, 0},
    {"command-r", &t_command_r, NULL, 0},
    {"llama3", &t_llama3, NULL, 0},
    {"chatglm3", &t_chatglm3, NULL, 0},
    {"chatglm4", &t_chatglm4, NULL, 0},
    {"glmedge", &t_glmedge, NULL, 0},
    {"minicpm", &t_minicpm, NULL, 0},
    {"exaone3", &t_exaone3, NULL, 0},
    {"exaone4", &t_exaone4, NULL, 0},
    {"exaone-moe", &t_exaone_moe, NULL, 0},
    {"rwkv-world", NULL, f_rwkv, 0},
    {"granite", &t_granite3, NULL, 0},
    {"granite-4.0", &t_granite4, NULL, 0},
    {"granite-4.1", &t_granite4, NULL, 0},
    {"gigachat", &t_gigachat, NULL, 0},
    {"megrez", &t_megrez, NULL, 0},
    {"yandex", &t_yandex, NULL, 0},
    {"bailing", &t_bailing, NULL, 0},
    {"bailing-think", &t_bailing_think, NULL, 0},
    {"bailing2", &t_bailing2, NULL, 0},
    {"llama4", &t_llama4, NULL, 0},
    {"smolvlm", &t_smolvlm, NULL, 0},
    {"hunyuan-moe", &t_hunyuan_moe, NULL, 0},
    {"gpt-oss", &t_gpt_oss, NULL, 0},
    {"hunyuan-dense", &t_hunyuan_dense, NULL, 0},
    {"hunyuan-vl", &t_hunyuan_vl, NULL, 0},
    {"kimi-k2", &t_kimi_k2, NULL, 0},
    {"seed_oss", &t_seed_oss, NULL, 0},
    {"grok-2", &t_grok2, NULL, 0},
    {"pangu-embedded", &t_pangu, NULL, 0},
    {"solar-open", &t_solar_open, NULL, 0},
    {"dots1", &t_dots1, NULL, 0},
};
#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

static const builtin *find(const char *name) {
    for (size_t i = 0; name && i < N_BUILTINS; i++)
        if (strcmp(builtins[i].name, name) == 0) return &builtins[i];
    return NULL;
}

const char *kite_chat_template_from_name(const char *name) {
    const builtin *b = find(name);
    return b ? b->name : NULL;
}

size_t kite_chat_template_count(void) { return N_BUILTINS; }

const char *kite_chat_template_name(size_t i) { return i < N_BUILTINS ? builtins[i].name : NULL; }

bool kite__chat_format(const char *name, const kite_chat_msg *msgs, size_t n, bool add, kite_buf *out) {
    const builtin *b = find(name);
    if (!b) return false;
    if (b->pat) format_pattern(b->pat, msgs, n, add, out);
    else b->fn(msgs, n, add, out, b->variant);
    return true;
}

kite_status kite_chat_apply_ex(const char *tmpl, const kite_chat_msg *msgs, size_t n, unsigned flags, char **out,
                               size_t *out_len) {
    if (!out) return kite__fail(KITE_ERR_INVALID, "chat: NULL output pointer");
    if (flags & ~(unsigned)(KITE_CHAT_ADD_ASSISTANT | KITE_CHAT_NO_THINKING))
        return kite__fail(KITE_ERR_INVALID, "chat: unknown flags 0x%x", flags);
    if (n > 0 && !msgs) return kite__fail(KITE_ERR_INVALID, "chat: %zu messages but no array", n);
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return kite__fail(KITE_ERR_INVALID, "chat: message %zu has no %s", i, msgs[i].role ? "content" : "role");
    const char *name = kite_chat_detect(tmpl ? tmpl : "chatml");
    if (!name) return kite__fail(KITE_ERR_UNSUPPORTED, "chat: template not recognized (not a built-in name or a known family)");
    const bool add = (flags & KITE_CHAT_ADD_ASSISTANT) != 0;
    const bool no_think = add && (flags & KITE_CHAT_NO_THINKING);
    kite_buf b = {0};
    const unsigned own_flags = (add ? KITE_CHAT_ADD_ASSISTANT : 0u) | (no_think ? KITE_CHAT_NO_THINKING : 0u);
    if (kite__chat_is_qwen3(tmpl)) {
        kite__chat_format_qwen3(msgs, n, add, no_think, &b);
    } else if (kite__chat_is_qwen35(tmpl)) {
        kite_chat_turn *t = n ? calloc(n, sizeof *t) : NULL;
        if (n && !t) return kite__fail(KITE_ERR_NOMEM, "chat: out of memory");
        for (size_t i = 0; i < n; i++) t[i] = (kite_chat_turn){.role = msgs[i].role, .content = msgs[i].content};
        const char *why = kite__chat_qwen35_render(&b, t, n, NULL, 0, own_flags);
        free(t);
        if (why) {
            kite_buf_free(&b);
            return kite__fail(KITE_ERR_INVALID, "chat template: %s", why);
        }
    } else if (kite__chat_is_qwq(tmpl)) {
        kite_chat_turn *t = n ? calloc(n, sizeof *t) : NULL;
        if (n && !t) return kite__fail(KITE_ERR_NOMEM, "chat: out of memory");
        for (size_t i = 0; i < n; i++) t[i] = (kite_chat_turn){.role = msgs[i].role, .content = msgs[i].content};
        kite__chat_qwq_render(&b, tmpl, t, n, NULL, 0, own_flags);
        free(t);
    } else {
        kite__chat_format(name, msgs, n, add, &b);
        if (no_think) kite_buf_puts(&b, kite_chat_no_think_text(tmpl));
    }
    return kite__chat_buf_finish(&b, n, out, out_len);
}

kite_status kite__chat_buf_finish(kite_buf *b, size_t n, char **out, size_t *out_len) {
    if (!b->ptr && !b->nomem) { // nothing written: still return an empty string
        b->ptr = malloc(1);
        if (b->ptr) b->ptr[0] = 0;
        else b->nomem = true;
    }
    if (b->nomem) {
        free(b->ptr);
        return kite__fail(KITE_ERR_NOMEM, "chat: out of memory formatting %zu messages", n);
    }
    *out = b->ptr;
    if (out_len) *out_len = b->len;
    return KITE_OK;
}

kite_status kite_chat_apply(const char *tmpl, const kite_chat_msg *msgs, size_t n, bool add_assistant, char **out,
                            size_t *out_len) {
    return kite_chat_apply_ex(tmpl, msgs, n, add_assistant ? KITE_CHAT_ADD_ASSISTANT : 0, out, out_len);
}
