// qwen3_template.mjs - Qwen3's chat template (the chat_template of Qwen/Qwen3-0.6B's
// tokenizer_config.json, as llama.cpp keeps it in models/templates/Qwen-Qwen3-0.6B.jinja) and
// the prompts llama.cpp renders from it: the reference for Kite's reasoning-off rendering.
import { readFileSync } from 'node:fs';

export const QWEN3_TEMPLATE = readFileSync(new URL('./data/qwen3-0.6b.jinja', import.meta.url), 'utf8');

export const CONVERSATIONS = [
  [{ role: 'user', content: 'Hello' }],
  [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: '4' },
    { role: 'user', content: 'And 3+3?' },
  ],
];

// llama-server built from source (bench/build_llama_cpp.sh), started as
//   llama-server -m ../shared/models/arch/qwen3.gguf --jinja --chat-template-file data/qwen3-0.6b.jinja
// then POST /apply-template {"messages": CONVERSATIONS[i]}: the "prompt" of its answers with no
// template kwargs (thinking; the same with {"enable_thinking": true}) and with
// "chat_template_kwargs": {"enable_thinking": false} (off; the same with "reasoning_effort":
// "none"). A string for enable_thinking is refused with 400 and BAD_TYPE_MESSAGE.
export const LLAMA_SERVER_PROMPTS = [
  {
    thinking: '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
    off: '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
  },
  {
    thinking: '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n' +
      '<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n',
    off: '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n' +
      '<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
  },
];
export const BAD_TYPE_MESSAGE = 'invalid type for "enable_thinking" (expected boolean, got string)';
