// chat_detect.c - recognizing a built-in chat template from its name or its Jinja source by
// the same marker substrings, in the same order, as llama.cpp's llm_chat_detect_template.
#include "chat/chat_internal.h"

#include <string.h>

static bool has(const char *s, const char *marker) { return strstr(s, marker) != NULL; }

// The family of a [INST]-style source: Mistral's official v1/v3/v7 or a llama-2 variant.
static const char *detect_inst(const char *t) {
    if (has(t, "[SYSTEM_PROMPT]")) return "mistral-v7";
    // Mistral's official v1 / v3 / v3-tekken templates (mistralai cookbook).
    if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
        if (has(t, " [INST]")) return "mistral-v1";
        if (has(t, "\"[INST]\"")) return "mistral-v3-tekken";
        return "mistral-v3";
    }
    if (has(t, "content.strip()")) return "llama2-sys-strip";
    if (has(t, "bos_token + '[INST]")) return "llama2-sys-bos";
    if (has(t, "<<SYS>>")) return "llama2-sys";
    return "llama2";
}

// Sources recognized by one marker or an ordered list of them: first row that matches wins.
// The order matters (several families share markers) and follows llama.cpp.
typedef struct rule {
    const char *all[3]; // every non-NULL marker must occur
    const char *name;
} rule;

static const rule rules_after_inst[] = {
    {{"<|assistant|>", "<|end|>"}, "phi3"},
    {{"[gMASK]<sop>"}, "chatglm4"},
    {{"<|assistant|>", "<|user|>", "<|tool_declare|>"}, "exaone-moe"},
    {{"<|assistant|>", "<|user|>", "</s>"}, "falcon3"},
    {{"<|assistant|>", "<|user|>"}, "glmedge"},
    {{"<|{{ item['role'] }}|>", "<|begin_of_image|>"}, "glmedge"},
    {{"<|user|>", "<|endoftext|>"}, "zephyr"},
    {{"bos_token + message['role']"}, "monarch"},
    {{"<start_of_turn>"}, "gemma"},
    {{"'\\n\\nAssistant: ' + eos_token"}, "orion"},
    {{"GPT4 Correct "}, "openchat"},
    {{"USER: ", "ASSISTANT: ", "SYSTEM: "}, "vicuna-orca"},
    {{"USER: ", "ASSISTANT: "}, "vicuna"},
    {{"### Instruction:", "<|EOT|>"}, "deepseek"},
    {{"<|START_OF_TURN_TOKEN|>", "<|USER_TOKEN|>"}, "command-r"},
    {{"<|start_header_id|>", "<|end_header_id|>"}, "llama3"},
    {{"[gMASK]sop"}, "chatglm3"},
    {{"<用户>"}, "minicpm"},
    {{"'Assistant: ' + message['content'] + eos_token"}, "deepseek2"},
    {{"<｜Assistant｜>", "<｜User｜>", "<｜end▁of▁sentence｜>"}, "deepseek3"},
    {{"[|system|]", "[|assistant|]", "[|endofturn|]"}, NULL}, // EXAONE 3 or 4: see below
    {{"rwkv-world"}, "rwkv-world"},
    {{"{{- 'User: ' + message['content']|trim + '\\n\\n' -}}"}, "rwkv-world"},
    {{"<|start_of_role|>"}, NULL}, // Granite 3.x / 4.0 / 4.1: see below
    {{"message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]"},
     "gigachat"},
    {{"<|role_start|>"}, "megrez"},
    {{" Ассистент:"}, "yandex"},
    {{"<role>ASSISTANT</role>", "'HUMAN'"}, "bailing"},
    {{"<role>ASSISTANT</role>", "\"HUMAN\"", "<think>"}, "bailing-think"},
    {{"<role>ASSISTANT</role>", "<role>HUMAN</role>", "<|role_end|>"}, "bailing2"},
    {{"<|header_start|>", "<|header_end|>"}, "llama4"},
    {{"<|endofuserprompt|>"}, "dots1"},
    {{"<|extra_0|>", "<|extra_4|>"}, "hunyuan-moe"},
    {{"<|start|>", "<|channel|>"}, "gpt-oss"},
    {{"<｜hy_Assistant｜>", "<｜hy_begin▁of▁sentence｜>"}, "hunyuan-vl"},
    {{"<｜hy_Assistant｜>", "<｜hy_place▁holder▁no▁3｜>"}, "hunyuan-dense"},
    {{"<|im_assistant|>assistant<|im_middle|>"}, "kimi-k2"},
    {{"<seed:bos>"}, "seed_oss"},
    {{"'Assistant: '  + message['content'] + '<|separator|>"}, "grok-2"},
    {{"[unused9]系统：[unused10]"}, "pangu-embedded"},
    {{"<|begin|>", "<|end|>", "<|content|>"}, "solar-open"},
};

static bool matches(const char *t, const rule *r) {
    for (int i = 0; i < 3 && r->all[i]; i++)
        if (!has(t, r->all[i])) return false;
    return true;
}

const char *kite_chat_detect(const char *t) {
    if (!t) return NULL;
    const char *named = kite_chat_template_from_name(t);
    if (named) return named;
    if (has(t, "<|im_start|>")) {
        if (has(t, "<|im_sep|>")) return "phi4";
        // SmolVLM starts with <|im_start|> but its turns are not ChatML
        if (has(t, "<end_of_utterance>")) return "smolvlm";
        return "chatml";
    }
    if (strncmp(t, "mistral", 7) == 0 || has(t, "[INST]")) return detect_inst(t);
    for (size_t i = 0; i < sizeof rules_after_inst / sizeof rules_after_inst[0]; i++) {
        const rule *r = &rules_after_inst[i];
        if (!matches(t, r)) continue;
        if (r->name) return r->name;
        if (has(t, "[|system|]")) return has(t, "[|tool|]") ? "exaone4" : "exaone3";
        // Granite: tool-calling sources are 4.x; 4.0 names its default system message
        if (has(t, "<tool_call>") || has(t, "<tools>"))
            return has(t, "g4_default_system_message") ? "granite-4.0" : "granite-4.1";
        return "granite";
    }
    return NULL;
}
