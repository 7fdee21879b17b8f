// serve_tools.test.mjs - OpenAI tool calling in `kite serve` (127.0.0.1, a free port): prompts
// with tools, tool calls and tool results equal to the Jinja rendering of Qwen3's and Qwen2.5's
// own templates (@huggingface/jinja; for the first Qwen3 conversation llama-server --jinja
// answered /apply-template with the same text), a required call that the grammar makes valid
// even from the random qwen3 model, the answer and stream shapes, and 400s naming bad members;
// then the generic JSON format for templates without tool calls (chatml here), whose prompts are
// minja's polyfill test vectors with llama.cpp's generic system instruction.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { kiteBin, modelsDir, requireModels, startKiteServe } from './helpers.mjs';
import { QWEN3_TEMPLATE } from './qwen3_template.mjs';

// Qwen/Qwen2.5-7B-Instruct's chat_template (as llama.cpp keeps it in models/templates).
const QWEN25_TEMPLATE = readFileSync(new URL('./data/qwen2.5-7b-instruct.jinja', import.meta.url), 'utf8');
const T = 60000; // ms: the bound of any single request

const startServer = (modelPath, extra = []) => startKiteServe(modelPath, ['-c', '2048', '-np', '2', ...extra], 30000);

const servers = [];
let qwen3, qwen25, chatml;

before(async () => {
  requireModels();
  const model = join(modelsDir(), 'arch', 'qwen3.gguf');
  for (const extra of [['--chat-template', QWEN3_TEMPLATE], ['--chat-template', QWEN25_TEMPLATE], ['--chat-template', 'chatml']])
    servers.push(await startServer(model, extra));
  [qwen3, qwen25, chatml] = servers.map((s) => s.base);
});

after(() => {
  for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGTERM');
});

const post = (base, path, body) =>
  fetch(base + path, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(T) });

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the weather — "now" or later\n',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', description: 'the city', maxLength: 12 },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'integer', minimum: 1, maximum: 7 },
      },
      required: ['city', 'unit'],
    },
  },
};
const TIME = {
  type: 'function',
  function: { name: 'get_time', description: 'The time in a zone', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } },
};

// Conversations with tools, calls and results (the arguments as JSON text, as OpenAI clients send them).
const CALL = (id, name, args) => ({ id, type: 'function', function: { name, arguments: JSON.stringify(args) } });
const CONVERSATIONS = [
  { tools: [WEATHER], messages: [{ role: 'user', content: 'Weather in Paris?' }] },
  {
    tools: [WEATHER, TIME],
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Paris, and the time in Tokyo? é' },
      { role: 'assistant', content: '', tool_calls: [CALL('c1', 'get_weather', { city: 'Paris', unit: 'celsius', days: 2 }), CALL('c2', 'get_time', { zone: 'Asia/Tokyo' })] },
      { role: 'tool', tool_call_id: 'c1', content: '{"temp": 20.5}' },
      { role: 'tool', tool_call_id: 'c2', content: '09:00' },
      { role: 'assistant', content: '20.5 °C; it is 09:00.' },
      { role: 'user', content: 'Thanks' },
    ],
  },
  {
    tools: [TIME],
    messages: [
      { role: 'user', content: 'Time in Oslo?' },
      { role: 'assistant', content: '<think>\nThe user wants the time.\n</think>\n\nLet me check.', tool_calls: [CALL('c3', 'get_time', { zone: 'Europe/Oslo' })] },
      { role: 'tool', tool_call_id: 'c3', content: '10:30' },
    ],
  },
  // no tools in this request, but a call and its result earlier in the conversation
  {
    messages: [
      { role: 'user', content: 'Time in Oslo?' },
      { role: 'assistant', content: null, tool_calls: [CALL('c4', 'get_time', { zone: 'Europe/Oslo', nested: { a: [1, 2.5, true, null] } })] },
      { role: 'tool', tool_call_id: 'c4', content: '10:30' },
      { role: 'assistant', content: 'It is 10:30.' },
      { role: 'user', content: 'And now?' },
    ],
  },
];

// The template's rendering of a conversation as llama.cpp feeds it: calls' arguments parsed into
// objects, null content as "".
function jinjaPrompt(source, { tools, messages }, extra = {}) {
  const msgs = messages.map((m) => ({
    ...m,
    content: m.content ?? '',
    ...(m.tool_calls ? { tool_calls: m.tool_calls.map((c) => ({ ...c, function: { ...c.function, arguments: JSON.parse(c.function.arguments) } })) } : {}),
  }));
  return new Template(source).render({ messages: msgs, ...(tools ? { tools } : {}), add_generation_prompt: true, ...extra });
}

async function kitePrompt(base, body) {
  const r = await post(base, '/apply-template', body);
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  return j.prompt;
}

test('prompts with tools, calls and tool results equal the Jinja rendering of Qwen3\'s template', async () => {
  for (const conv of CONVERSATIONS) assert.equal(await kitePrompt(qwen3, conv), jinjaPrompt(QWEN3_TEMPLATE, conv));
  // reasoning off: the empty think block after the assistant's opening, as enable_thinking false
  const conv = CONVERSATIONS[1];
  assert.equal(
    await kitePrompt(qwen3, { ...conv, chat_template_kwargs: { enable_thinking: false } }),
    jinjaPrompt(QWEN3_TEMPLATE, conv, { enable_thinking: false }),
  );
});

test('prompts with tools, calls and tool results equal the Jinja rendering of Qwen2.5\'s template', async () => {
  for (const conv of CONVERSATIONS) assert.equal(await kitePrompt(qwen25, conv), jinjaPrompt(QWEN25_TEMPLATE, conv));
  // a plain conversation gets the template's default system message too (as llama-server --jinja)
  const plain = { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Bye' }] };
  assert.equal(await kitePrompt(qwen25, plain), jinjaPrompt(QWEN25_TEMPLATE, plain));
  assert.match(await kitePrompt(qwen25, plain), /^<\|im_start\|>system\nYou are Qwen, created by Alibaba Cloud\./);
});

// Assistant messages with OpenAI's reasoning_content (llama-server hands it to the template, whose
// Jinja uses it for the <think> block instead of splitting the content): after the last real query
// the block is written (empty on the last turn), before it dropped; null falls back to the split;
// calls beside it. For the first one llama-server --jinja's /apply-template answered the same text.
const REASONING = [
  {
    messages: [
      { role: 'user', content: 'q1' },
      { role: 'assistant', content: 'A1', reasoning_content: 'r1' },
      { role: 'user', content: 'q2' },
      { role: 'assistant', content: '\nA2 <think>x</think> y', reasoning_content: '\n\nr2\n' },
      { role: 'user', content: '<tool_response>\nz\n</tool_response>' },
      { role: 'assistant', content: 'A3', reasoning_content: '' },
      { role: 'user', content: '<tool_response>\nw\n</tool_response>' },
    ],
  },
  {
    tools: [TIME],
    messages: [
      { role: 'user', content: 'Time in Oslo?' },
      { role: 'assistant', content: null, reasoning_content: 'Call it.', tool_calls: [CALL('c3', 'get_time', { zone: 'Europe/Oslo' })] },
      { role: 'tool', tool_call_id: 'c3', content: '10:30' },
      { role: 'assistant', content: '<think>\nold\n</think>\n\nIt is 10:30.', reasoning_content: null },
      { role: 'user', content: 'Thanks' },
    ],
  },
];

test("reasoning_content in assistant messages renders as Qwen3's Jinja does (Qwen2.5's ignores it)", async () => {
  for (const conv of REASONING) {
    assert.equal(await kitePrompt(qwen3, conv), jinjaPrompt(QWEN3_TEMPLATE, conv));
    assert.equal(await kitePrompt(qwen25, conv), jinjaPrompt(QWEN25_TEMPLATE, conv));
  }
  assert.equal(await kitePrompt(qwen3, REASONING[0]),
    '<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n' +
    '<think>\nr2\n</think>\n\nA2 <think>x</think> y<|im_end|>\n<|im_start|>user\n<tool_response>\nz\n</tool_response><|im_end|>\n' +
    '<|im_start|>assistant\nA3<|im_end|>\n<|im_start|>user\n<tool_response>\nw\n</tool_response><|im_end|>\n<|im_start|>assistant\n',
    "llama-server --jinja's /apply-template");
  const r = await post(qwen3, '/apply-template', { messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y', reasoning_content: 5 }, { role: 'user', content: 'z' }] });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error.message, /messages\[1\]\.reasoning_content must be a string, not number/);
});

// A conversation that ends in an assistant message is continued (llama-server's assistant
// prefill): the prompts llama-server --jinja's /apply-template answered for these bodies (the
// bundled llama.cpp, started with qwen3.gguf and --chat-template-file data/qwen3-0.6b.jinja).
const HI = { role: 'user', content: 'Hi' };
const PREFILL_QWEN3 = [
  [{ messages: [HI, { role: 'assistant', content: 'Hello, I' }] },
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello, I'],
  [{ messages: [HI, { role: 'assistant', content: '<think>\nhmm\n</think>\n\nHello, I' }] },
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n<think>\nhmm\n</think>\n\nHello, I'],
  [{ messages: [HI, { role: 'assistant', content: '', reasoning_content: 'let me' }] },
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nlet me'],
  [{ messages: [HI, { role: 'assistant', content: 'Hello', reasoning_content: 'r' }] },
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\nHello'],
  [{ messages: [HI, { role: 'assistant', content: 'Hello' }], chat_template_kwargs: { enable_thinking: false } },
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello'],
  [{ messages: [{ role: 'system', content: 'S' }, HI, { role: 'assistant', content: '<think>\npartial' }] },
    '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n<think>\npartial'],
  [{ messages: [{ role: 'assistant', content: 'X' }] }, '<|im_start|>assistant\n<think>\n\n</think>\n\nX'],
  [{ messages: [HI, { role: 'assistant', content: [{ type: 'text', text: 'p1' }, { type: 'text', text: ' p2' }] }] },
    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\np1\n\n p2'],
];
// ... and with --chat-template-file data/qwen2.5-7b-instruct.jinja (no reasoning blocks)
const QWEN25_SYS = '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n';
const PREFILL_QWEN25 = [
  [{ messages: [HI, { role: 'assistant', content: 'Hello', reasoning_content: 'r' }] }, `${QWEN25_SYS}<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello`],
  [{ messages: [HI, { role: 'assistant', content: '', reasoning_content: 'let me' }] }, `${QWEN25_SYS}<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n`],
  [{ messages: [{ role: 'system', content: 'S' }, HI, { role: 'assistant', content: '<think>\npartial' }] },
    '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\npartial'],
];

test('a conversation ending in an assistant message is continued, as llama-server does', async () => {
  for (const [body, want] of PREFILL_QWEN3) assert.equal(await kitePrompt(qwen3, body), want, JSON.stringify(body));
  for (const [body, want] of PREFILL_QWEN25) assert.equal(await kitePrompt(qwen25, body), want, JSON.stringify(body));
  // with tools: the messages before it in the tool format, the opening, the message (llama-server
  // answered the same)
  const tooled = { tools: [TIME], messages: [...CONVERSATIONS[2].messages, { role: 'assistant', content: 'It is' }] };
  const before = jinjaPrompt(QWEN3_TEMPLATE, { ...tooled, messages: tooled.messages.slice(0, -1) });
  assert.equal(await kitePrompt(qwen3, tooled), `${before}<think>\n\n</think>\n\nIt is`);
  // llama-server's refusals
  for (const [messages, msg] of [
    [[HI, { role: 'assistant', content: 'a' }, { role: 'assistant', content: 'b' }], 'Cannot have 2 or more assistant messages at the end of the list.'],
    [[HI, { role: 'assistant', content: 'A', tool_calls: [CALL('a', 'f', {})] }], 'Cannot continue an assistant message that contains tool calls.'],
  ]) {
    const r = await post(qwen3, '/v1/chat/completions', { messages, max_tokens: 1 });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.message, msg);
  }
  // the reply continues the message: the same tokens as a raw completion of that prompt
  const body = { messages: PREFILL_QWEN3[0][0].messages, temperature: 0, max_tokens: 12 };
  const chat = await (await post(qwen3, '/v1/chat/completions', body)).json();
  const raw = await (await post(qwen3, '/completion', { prompt: PREFILL_QWEN3[0][1], temperature: 0, n_predict: 12 })).json();
  assert.ok(raw.content.length > 0);
  assert.equal(chat.choices[0].message.content, raw.content);
});

// Checks the arguments against WEATHER's schema.
function assertWeatherArgs(text) {
  const a = JSON.parse(text);
  assert.equal(typeof a, 'object');
  assert.equal(typeof a.city, 'string');
  assert.ok([...a.city].length <= 12, a.city);
  assert.ok(['celsius', 'fahrenheit'].includes(a.unit), a.unit);
  if ('days' in a) assert.ok(Number.isInteger(a.days) && a.days >= 1 && a.days <= 7, String(a.days));
}

test('tool_choice required: the grammar makes the random model answer with a valid call', async () => {
  const body = { messages: CONVERSATIONS[0].messages, tools: [WEATHER], tool_choice: 'required', temperature: 0, max_tokens: 120 };
  const r = await post(qwen3, '/v1/chat/completions', body);
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  const choice = j.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.role, 'assistant');
  assert.equal(choice.message.content, '');
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.match(call.id, /^[0-9A-Za-z]{32}$/, "llama-server's gen_tool_call_id: 32 random characters of [0-9A-Za-z]");
  assert.equal(call.function.name, 'get_weather');
  assertWeatherArgs(call.function.arguments);

  // streamed: the same call in llama-server's deltas (server_chat_msg_diff_to_json_oaicompat): the
  // first with index, id, type and name, then pieces of the arguments as they are generated (index
  // and function.arguments only), joining into the call's arguments; then finish_reason tool_calls
  const s = await post(qwen3, '/v1/chat/completions', { ...body, stream: true });
  assert.equal(s.status, 200);
  const events = (await s.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const deltas = chunks.flatMap((c) => c.choices[0].delta.tool_calls ?? []);
  assert.ok(deltas.length > 2, `${deltas.length} deltas: the arguments come in pieces`);
  assert.deepEqual(Object.keys(deltas[0]).sort(), ['function', 'id', 'index', 'type']);
  assert.equal(deltas[0].index, 0);
  assert.equal(deltas[0].type, 'function');
  assert.match(deltas[0].id, /^[0-9A-Za-z]{32}$/);
  assert.notEqual(deltas[0].id, call.id, 'a new id for each reply');
  assert.equal(deltas[0].function.name, 'get_weather');
  for (const d of deltas.slice(1)) {
    assert.deepEqual(Object.keys(d).sort(), ['function', 'index']);
    assert.deepEqual(Object.keys(d.function), ['arguments']);
    assert.equal(d.index, 0);
  }
  assert.equal(deltas.map((d) => d.function.arguments ?? '').join(''), call.function.arguments);
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'tool_calls');
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), '');
});

test('tool_choice naming a function calls that one; parallel_tool_calls allows several', async () => {
  const body = { messages: CONVERSATIONS[0].messages, tools: [WEATHER, TIME], tool_choice: { type: 'function', function: { name: 'get_time' } }, temperature: 0, max_tokens: 80 };
  const j = await (await post(qwen3, '/v1/chat/completions', body)).json();
  const calls = j.choices[0].message.tool_calls;
  assert.equal(j.choices[0].finish_reason, 'tool_calls', JSON.stringify(j));
  assert.equal(calls.length, 1);
  assert.equal(calls[0].function.name, 'get_time');
  assert.equal(typeof JSON.parse(calls[0].function.arguments).zone, 'string');
  // Qwen2.5's template and a required choice among two tools, several calls allowed: each is one of them
  const p = await (await post(qwen25, '/v1/chat/completions', { ...body, tool_choice: 'required', parallel_tool_calls: true, seed: 3, temperature: 1, max_tokens: 200 })).json();
  for (const c of p.choices[0].message.tool_calls ?? []) {
    assert.ok(['get_weather', 'get_time'].includes(c.function.name));
    if (c.function.name === 'get_weather') assertWeatherArgs(c.function.arguments);
    else assert.equal(typeof JSON.parse(c.function.arguments).zone, 'string');
  }
  assert.ok(p.choices[0].message.tool_calls?.length >= 1 || p.choices[0].finish_reason === 'length', JSON.stringify(p));
});

test('tool_choice auto: the lazy grammar leaves text without a call alone (same reply as tool_choice none)', async () => {
  const body = { messages: CONVERSATIONS[0].messages, tools: [WEATHER], temperature: 0, max_tokens: 24 };
  const auto = await (await post(qwen3, '/v1/chat/completions', body)).json();
  const none = await (await post(qwen3, '/v1/chat/completions', { ...body, tool_choice: 'none' })).json();
  assert.equal(auto.choices[0].message.tool_calls, undefined);
  assert.equal(auto.choices[0].message.content, none.choices[0].message.content);
  assert.notEqual(auto.choices[0].finish_reason, 'tool_calls');
  assert.ok(auto.choices[0].message.content.length > 0);
});

test('bad tools and tool_choice get 400 naming the member', async () => {
  const msgs = CONVERSATIONS[0].messages;
  const cases = [
    [{ tools: { type: 'function' } }, "'tools' must be an array"],
    [{ tools: [{ type: 'retrieval' }] }, 'tools[0].type must be "function"'],
    [{ tools: [WEATHER, { type: 'function', function: { description: 'x' } }] }, 'tools[1].function.name'],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: [] } }] }, 'tools[0].function.parameters'],
    [{ tools: [WEATHER, { type: 'function', function: { name: 'f', parameters: { type: 'frobnicate' } } }] }, 'tools[1].function.parameters: json schema'],
    [{ tools: [WEATHER, WEATHER] }, 'tools[1].function.name'],
    [{ tools: [WEATHER], tool_choice: 'always' }, "'tool_choice'"],
    [{ tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice.function.name'],
    [{ tool_choice: 'required' }, "'tool_choice'"],
    [{ tools: [WEATHER], parallel_tool_calls: 'yes' }, "'parallel_tool_calls'"],
    [{ tools: [WEATHER], grammar: 'root ::= "a"' }, "'tools'"],
    [{ messages: [...msgs, { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{"a":' } }] }] }, 'messages[1].tool_calls[0].function.arguments'],
  ];
  for (const [extra, want] of cases) {
    const r = await post(qwen3, '/v1/chat/completions', { messages: msgs, max_tokens: 1, ...extra });
    const j = await r.json();
    assert.equal(r.status, 400, JSON.stringify(extra));
    assert.ok(j.error.message.includes(want), `${JSON.stringify(extra)}: ${j.error.message}`);
  }
  // tools on /v1/completions are refused by name
  const c = await post(qwen3, '/v1/completions', { prompt: 'x', tools: [WEATHER], max_tokens: 1 });
  assert.equal(c.status, 400);
  assert.match((await c.json()).error.message, /'tools'/);
});

// ---- the generic format (llama.cpp's fallback: common_chat_params_init_generic + minja's polyfills) ----

// minja's tests/test-polyfills.cpp (ToolsPolyfill, ToolCallPolyfill, ToolPolyfill) with
// TEMPLATE_CHATML, and the system instruction llama.cpp's generic handler adds before them.
const SPECIAL = {
  type: 'function',
  function: { name: 'special_function', description: "I'm special", parameters: { type: 'object', properties: { arg1: { type: 'integer', description: 'The arg.' } }, required: ['arg1'] } },
};
const TOOLS_POLYFILL =
  "You can call any of the following tools to satisfy the user's requests: [\n" +
  '  {\n    "type": "function",\n    "function": {\n      "name": "special_function",\n      "description": "I\'m special",\n' +
  '      "parameters": {\n        "type": "object",\n        "properties": {\n          "arg1": {\n            "type": "integer",\n' +
  '            "description": "The arg."\n          }\n        },\n        "required": [\n          "arg1"\n        ]\n      }\n    }\n  }\n]\n\n' +
  'Example tool call syntax:\n\n{\n  "tool_calls": [\n    {\n      "name": "tool_name",\n      "arguments": {\n        "arg1": "some_value"\n' +
  '      },\n      "id": "call_1___"\n    }\n  ]\n}\n\n';
const GENERIC_RESPOND = "Respond in JSON format, either with `tool_call` (a request to call tools) or with `response` reply to the user's request";
const USER = { role: 'user', content: 'I need help' };

test('generic format: tools, calls and results as llama.cpp writes them into a template without tool calls', async () => {
  // tools (tool_choice auto): the instruction, then the polyfill's tool list and example
  assert.equal(
    await kitePrompt(chatml, { messages: [USER], tools: [SPECIAL] }),
    `<|im_start|>system\n${GENERIC_RESPOND}\n\n${TOOLS_POLYFILL}<|im_end|>\n<|im_start|>user\nI need help<|im_end|>\n<|im_start|>assistant\n`,
  );
  // tool_choice none: the tools only (ToolsPolyfill as it is); a system message comes first
  assert.equal(
    await kitePrompt(chatml, { messages: [USER], tools: [SPECIAL], tool_choice: 'none' }),
    `<|im_start|>system\n${TOOLS_POLYFILL}<|im_end|>\n<|im_start|>user\nI need help<|im_end|>\n<|im_start|>assistant\n`,
  );
  assert.equal(
    await kitePrompt(chatml, { messages: [{ role: 'system', content: 'I am The System!' }, USER], tools: [SPECIAL] }),
    `<|im_start|>system\nI am The System!\n\n${GENERIC_RESPOND}\n\n${TOOLS_POLYFILL}<|im_end|>\n<|im_start|>user\nI need help<|im_end|>\n<|im_start|>assistant\n`,
  );
  // a call (ToolCallPolyfill) and a result (ToolPolyfill; its content is a string here, as OpenAI's);
  // a user turn after the call (llama-server refuses to continue a last message with calls)
  const call = { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'special_function', arguments: '{"arg1": 1}' }, id: '123456789' }] };
  assert.equal(
    await kitePrompt(chatml, { messages: [USER, call, { role: 'user', content: 'ok' }] }),
    '<|im_start|>user\nI need help<|im_end|>\n<|im_start|>assistant\n{\n  "tool_calls": [\n    {\n      "name": "special_function",\n' +
      '      "arguments": {\n        "arg1": 1\n      },\n      "id": "123456789"\n    }\n  ]\n}<|im_end|>\n<|im_start|>user\nok<|im_end|>\n<|im_start|>assistant\n',
  );
  assert.equal(
    await kitePrompt(chatml, { messages: [USER, call, { role: 'tool', content: 'result 123', tool_call_id: '123456789' }] }),
    '<|im_start|>user\nI need help<|im_end|>\n<|im_start|>assistant\n{\n  "tool_calls": [\n    {\n      "name": "special_function",\n' +
      '      "arguments": {\n        "arg1": 1\n      },\n      "id": "123456789"\n    }\n  ]\n}<|im_end|>\n' +
      '<|im_start|>user\n{\n  "tool_response": {\n    "content": "result 123",\n    "tool_call_id": "123456789"\n  }\n}<|im_end|>\n<|im_start|>assistant\n',
  );
});

test('generic format: a required call is one JSON object the grammar keeps to the schema; auto may answer with "response"', async () => {
  // (WEATHER's strings are bounded, so the random model's call ends within max_tokens)
  const body = { messages: CONVERSATIONS[0].messages, tools: [WEATHER], tool_choice: 'required', temperature: 0, max_tokens: 300 };
  const j = await (await post(chatml, '/v1/chat/completions', body)).json();
  const c = j.choices[0];
  assert.equal(c.finish_reason, 'tool_calls', JSON.stringify(j));
  assert.equal(c.message.content, '');
  assert.equal(c.message.tool_calls.length, 1);
  const fn = c.message.tool_calls[0].function;
  assert.equal(fn.name, 'get_weather');
  assertWeatherArgs(fn.arguments);
  // streamed: the call as one delta
  const s = await post(chatml, '/v1/chat/completions', { ...body, stream: true });
  const chunks = (await s.text()).split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
  const deltas = chunks.flatMap((x) => x.choices[0].delta.tool_calls ?? []);
  assert.deepEqual(deltas.map((d) => [d.function.name, d.function.arguments]), [[fn.name, fn.arguments]]);
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'tool_calls');
  // auto: {"response": ...} or a call; a finished response is the content, unwrapped
  const a = await (await post(chatml, '/v1/chat/completions', { ...body, tool_choice: 'auto', max_tokens: 200 })).json();
  const m = a.choices[0].message;
  if (a.choices[0].finish_reason === 'stop') assert.ok(!m.content.startsWith('{"response"'), m.content);
  if (m.tool_calls) assert.equal(a.choices[0].finish_reason, 'tool_calls');
});
