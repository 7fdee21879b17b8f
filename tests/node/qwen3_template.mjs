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

// Multi-turn conversations for the Jinja comparison (thinking on and off, with and without the
// assistant's opening): replies with and without reasoning blocks before and after the last
// query, odd newlines around the tags, several tags, a tool exchange (tool answers after the
// last query, and a user message that is a wrapped tool answer, which is not a query), a late
// system message, a role the template drops, and spaces next to the tags (only newlines are
// stripped). Each ends in a user message: llama-server answers
// a conversation ending in an assistant message by continuing that message (its assistant
// prefill), which is not the template's rendering; every prefix of them is rendered without the
// assistant's opening (add_generation_prompt false) in the comparisons, so those that end in an
// assistant turn are covered there.
export const MULTI_TURN = [
  [
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: '<think>\n\n</think>\n\nHello!' },
    { role: 'user', content: 'And now?' },
  ],
  [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: '<think>\nAdd them.\n</think>\n\n4' },
    { role: 'user', content: 'And 3+3?' },
    { role: 'assistant', content: '<think>\nAgain.\n</think>\n\n6' },
    { role: 'user', content: 'And 4+4?' },
  ],
  [
    { role: 'user', content: 'q1' },
    { role: 'assistant', content: 'plain answer' },
    { role: 'user', content: 'q2' },
    { role: 'assistant', content: '\n\n<think>\n\n\nr with\n\nlines\n\n</think>\n\n\n\nanswer\n' },
    { role: 'assistant', content: 'second reply, no block' },
    { role: 'assistant', content: 'pre<think>a</think>mid<think>b</think>\nend' },
    { role: 'user', content: 'q3' },
  ],
  [
    { role: 'user', content: 'weather?' },
    { role: 'assistant', content: '<think>call the tool</think>Let me check.' },
    { role: 'tool', content: '{"t": 21}' },
    { role: 'tool', content: '{"rain": false}' },
    { role: 'user', content: '<tool_response>\nlate\n</tool_response>' },
    { role: 'assistant', content: '<think>\nIt is warm.\n</think>\n\n21 degrees, dry.' },
    { role: 'system', content: 'late system' },
    { role: 'critic', content: 'dropped' },
    { role: 'user', content: 'thanks' },
  ],
  [
    { role: 'assistant', content: 'I start.</think>' },
    { role: 'user', content: 'ok' },
    { role: 'assistant', content: 'no open tag</think>\nx' },
    { role: 'user', content: 'bye' },
  ],
  [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: '<think>\n \n r \n</think>\n\n  b \n' },
    { role: 'user', content: 'c' },
    { role: 'assistant', content: '<think> x </think> \n y' },
    { role: 'tool', content: 't' },
  ],
];
