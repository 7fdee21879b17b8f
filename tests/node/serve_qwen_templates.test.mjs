// serve_qwen_templates.test.mjs - QwQ's and Qwen3.5's own chat templates (their Jinja sources as
// llama.cpp keeps them in models/templates: data/qwq-32b.jinja, data/qwen3.5-4b.jinja), which
// Kite used to render as plain ChatML: `kite serve`'s /apply-template equals @huggingface/jinja's
// rendering of each source, with enable_thinking true and false as llama-server passes it (QwQ:
// the reply opens "<think>\n", earlier replies lose their reasoning; Qwen3.5: trimmed turns,
// reasoning blocks after the last query, refusals as the template raises them), QwQ's Hermes tool
// calls too; a continued assistant message as llama-server --jinja's /apply-template answered
// (recorded from the bundled llama.cpp, started with qwen3.gguf and each template file).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { modelsDir, requireModels, startKiteServe } from './helpers.mjs';

const QWQ = readFileSync(new URL('./data/qwq-32b.jinja', import.meta.url), 'utf8');
const QWEN35 = readFileSync(new URL('./data/qwen3.5-4b.jinja', import.meta.url), 'utf8');
const T = 60000;

const servers = [];
let qwq, qwen35;

before(async () => {
  requireModels();
  const model = join(modelsDir(), 'arch', 'qwen3.gguf');
  for (const src of [QWQ, QWEN35]) servers.push(await startKiteServe(model, ['-c', '1024', '-np', '1', '--chat-template', src], 30000));
  [qwq, qwen35] = servers.map((s) => s.base);
});

after(() => {
  for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGTERM');
});

const post = (base, path, body) => fetch(base + path, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(T) });

async function kitePrompt(base, body) {
  const r = await post(base, '/apply-template', body);
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  return j.prompt;
}

// The source's rendering as llama.cpp feeds it: calls' arguments as objects, null content as "",
// enable_thinking always given.
function jinja(source, { tools, messages }, thinking) {
  const msgs = messages.map((m) => ({
    ...m,
    content: m.content ?? '',
    ...(m.tool_calls ? { tool_calls: m.tool_calls.map((c) => ({ ...c, function: { ...c.function, arguments: JSON.parse(c.function.arguments) } })) } : {}),
  }));
  return new Template(source).render({ messages: msgs, ...(tools ? { tools } : {}), add_generation_prompt: true, enable_thinking: thinking });
}

const CONVERSATIONS = [
  [{ role: 'user', content: 'Hello' }],
  [{ role: 'system', content: ' Be brief. ' }, { role: 'user', content: 'q1' }, { role: 'assistant', content: '<think>\nr1\n</think>\n\nA1' }, { role: 'user', content: ' q2\n' }],
  [
    { role: 'user', content: 'q1' },
    { role: 'assistant', content: 'pre<think>a</think>mid<think>b</think>\nend' },
    { role: 'user', content: 'q2' },
    { role: 'assistant', content: '\n\n<think>\n\nx\n\n</think>\n\n\nA2\n' },
    { role: 'user', content: '<tool_response>\nz\n</tool_response>' },
  ],
  [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'plain' }, { role: 'user', content: 'q3' }],
];

test('QwQ and Qwen3.5 conversations equal the Jinja rendering of their templates, reasoning on and off', async () => {
  for (const [base, src] of [[qwq, QWQ], [qwen35, QWEN35]]) {
    for (const messages of CONVERSATIONS) {
      for (const thinking of [true, false]) {
        const body = { messages, chat_template_kwargs: { enable_thinking: thinking } };
        assert.equal(await kitePrompt(base, body), jinja(src, body, thinking), JSON.stringify(body));
      }
    }
  }
  // the openings: QwQ's reply starts inside its block (closed at once with reasoning off)
  const hi = { messages: [{ role: 'user', content: 'Hi' }] };
  assert.ok((await kitePrompt(qwq, hi)).endsWith('<|im_start|>assistant\n<think>\n'));
  assert.ok((await kitePrompt(qwq, { ...hi, reasoning_effort: 'none' })).endsWith('<|im_start|>assistant\n<think>\n</think>'));
  assert.ok((await kitePrompt(qwen35, hi)).endsWith('<|im_start|>assistant\n<think>\n'));
});

test("Qwen3.5's template refuses what it raises on", async () => {
  for (const [messages, msg, served] of [
    [[{ role: 'system', content: 'S' }], 'No user query found in messages.'],
    [[{ role: 'user', content: 'a' }, { role: 'system', content: 'S' }], 'System message must be at the beginning.'],
    // (a role OpenAI lacks is refused before the template: named as the request's member)
    [[{ role: 'user', content: 'a' }, { role: 'critic', content: 'x' }], 'Unexpected message role.', /messages\[1\]\.role is 'critic'/],
  ]) {
    assert.throws(() => jinja(QWEN35, { messages }, true), new RegExp(msg.replace('.', '\\.')));
    const r = await post(qwen35, '/apply-template', { messages });
    assert.equal(r.status, 400);
    assert.match((await r.json()).error.message, served ?? new RegExp(msg.replace('.', '\\.')));
  }
});

const TIME = { type: 'function', function: { name: 'get_time', description: 'The time in a zone', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } } };
const CALL = (id, name, args) => ({ id, type: 'function', function: { name, arguments: JSON.stringify(args) } });

test("QwQ's tools, calls and results equal its Jinja rendering; a required call is a valid Hermes call", async () => {
  const convs = [
    { tools: [TIME], messages: [{ role: 'user', content: 'Time?' }] },
    {
      tools: [TIME],
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Time?' },
        { role: 'assistant', content: '<think>\nr\n</think>\n\nLet me.', tool_calls: [CALL('c', 'get_time', { zone: 'Oslo' })] },
        { role: 'tool', tool_call_id: 'c', content: '10:30' },
        { role: 'assistant', content: '<think>x</think>It is 10:30.' },
        { role: 'user', content: 'ok' },
      ],
    },
    { messages: [{ role: 'user', content: 'Time?' }, { role: 'assistant', content: null, tool_calls: [CALL('c', 'get_time', { zone: 'Oslo' })] }, { role: 'tool', tool_call_id: 'c', content: '10:30' }] },
  ];
  for (const conv of convs) assert.equal(await kitePrompt(qwq, conv), jinja(QWQ, conv, true), JSON.stringify(conv));
  const short = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string', maxLength: 8 } }, required: ['zone'] } } };
  const j = await (await post(qwq, '/v1/chat/completions', { messages: [{ role: 'user', content: 'Time?' }], tools: [short], tool_choice: 'required', temperature: 0, max_tokens: 200 })).json();
  assert.equal(j.choices[0].finish_reason, 'tool_calls', JSON.stringify(j));
  assert.equal(j.choices[0].message.tool_calls[0].function.name, 'get_time');
  assert.equal(typeof JSON.parse(j.choices[0].message.tool_calls[0].function.arguments).zone, 'string');
});

test('a continued assistant message as llama-server writes it for each template', async () => {
  const hi = { role: 'user', content: 'Hi' };
  const cases = [
    [qwq, { messages: [hi, { role: 'assistant', content: 'Hello, I' }] }, '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think></think>Hello, I'],
    [qwq, { messages: [hi, { role: 'assistant', content: '', reasoning_content: 'let me' }] }, '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>let me'],
    [qwen35, { messages: [hi, { role: 'assistant', content: 'Hello, I' }] }, '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello, I'],
    [qwen35, { messages: [hi, { role: 'assistant', content: '', reasoning_content: 'let me' }] }, '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nlet me'],
  ];
  for (const [base, body, want] of cases) assert.equal(await kitePrompt(base, body), want, JSON.stringify(body));
});

// Qwen3.5's own tool format (llama.cpp's Qwen3-Coder XML calls): tools in the system turn with the
// template's instructions, calls as <function=NAME> <parameter=ARG> blocks (strings raw, other
// values as the Jinja's tojson / string filter write them), results as <tool_response> blocks.
const PLAN = {
  type: 'function',
  function: {
    name: 'plan_trip',
    description: 'Plans a trip',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' }, budget: { type: 'number' }, hotel: { type: 'boolean' }, stops: { type: 'array', items: { type: 'string' } }, opts: { type: 'object' } },
      required: ['city', 'days'],
    },
  },
};

test("Qwen3.5's tools, XML calls and results equal its Jinja rendering, prefix by prefix", async () => {
  const convs = [
    { tools: [TIME], messages: [{ role: 'user', content: 'Time?' }] },
    { tools: [TIME, PLAN], messages: [{ role: 'system', content: ' Be brief.\n' }, { role: 'user', content: 'Time?' }] },
    { tools: [TIME], messages: [{ role: 'system', content: '  ' }, { role: 'user', content: 'Time?' }] },
    {
      tools: [TIME, PLAN],
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Plan Oslo' },
        { role: 'assistant', content: '<think>\nr\n</think>\n\nLet me.', tool_calls: [CALL('a', 'plan_trip', { city: 'Oslo "old"\ntown', days: 3, budget: 1.5, hotel: true, stops: ['a', 'b'], opts: { x: 1, y: [2, 'z'] } }), CALL('b', 'get_time', { zone: 'Oslo' })] },
        { role: 'tool', tool_call_id: 'a', content: 'planned' },
        { role: 'tool', tool_call_id: 'b', content: '10:30' },
        { role: 'assistant', content: '', reasoning_content: ' thought ', tool_calls: [CALL('c', 'get_time', { zone: 'UTC' })] },
        { role: 'tool', tool_call_id: 'c', content: ' 9:30 ' },
        { role: 'assistant', content: '<think>x</think>Done.' },
        { role: 'user', content: 'ok' },
        { role: 'assistant', content: null, tool_calls: [CALL('d', 'plan_trip', { days: 2, city: '' })] },
        { role: 'tool', tool_call_id: 'd', content: 'ok2' },
      ],
    },
  ];
  let compared = 0;
  for (const conv of convs) {
    for (let k = 1; k <= conv.messages.length; k++) {
      for (const thinking of [true, false]) {
        const body = { ...conv, messages: conv.messages.slice(0, k), chat_template_kwargs: { enable_thinking: thinking } };
        if (body.messages.at(-1).role === 'assistant') continue; // a continued message: its own path
        let want;
        try {
          want = jinja(QWEN35, body, thinking);
        } catch {
          continue; // the template refuses it (no user query yet)
        }
        assert.equal(await kitePrompt(qwen35, body), want, JSON.stringify(body));
        compared++;
      }
    }
  }
  assert.ok(compared >= 16, `${compared} prompts compared`);
});

const kiteChat = async (body) => {
  const r = await post(qwen35, '/v1/chat/completions', { temperature: 0, max_tokens: 300, chat_template_kwargs: { enable_thinking: false }, ...body });
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  return j;
};

// tiny random-weight model: a raw string value runs on to max_tokens, so these calls carry JSON values only
const BOOK = {
  type: 'function',
  function: {
    name: 'book',
    parameters: { type: 'object', properties: { days: { type: 'integer', minimum: 1, maximum: 9 }, hotel: { type: 'boolean' }, tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 2 } }, required: ['days', 'hotel', 'tags'] },
  },
};

test("Qwen3.5's required call is a well-formed XML call: the named function, values typed by its schema", async () => {
  const j = await kiteChat({ messages: [{ role: 'user', content: 'Book it' }], tools: [TIME, BOOK], tool_choice: { type: 'function', function: { name: 'book' } } });
  const m = j.choices[0].message;
  assert.equal(j.choices[0].finish_reason, 'tool_calls', JSON.stringify(j));
  assert.equal(m.tool_calls.length, 1);
  assert.equal(m.tool_calls[0].function.name, 'book');
  const args = JSON.parse(m.tool_calls[0].function.arguments);
  assert.deepEqual(Object.keys(args).sort(), ['days', 'hotel', 'tags']);
  assert.ok(Number.isInteger(args.days) && args.days >= 1 && args.days <= 9, JSON.stringify(args));
  assert.equal(typeof args.hotel, 'boolean');
  assert.ok(Array.isArray(args.tags) && args.tags.length <= 2 && args.tags.every((t) => t === 'a' || t === 'b'), JSON.stringify(args));
});

test("Qwen3.5's streamed call: its deltas join into the call the whole reply gives", async () => {
  const body = { messages: [{ role: 'user', content: 'Book it' }], tools: [BOOK], tool_choice: 'required' };
  const whole = (await kiteChat(body)).choices[0].message.tool_calls[0];
  const r = await post(qwen35, '/v1/chat/completions', { temperature: 0, max_tokens: 300, chat_template_kwargs: { enable_thinking: false }, ...body, stream: true });
  const text = await r.text();
  let name = '', args = '', id = null, finish = null, pieces = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const c = JSON.parse(line.slice(6)).choices[0];
    if (c?.finish_reason) finish = c.finish_reason;
    for (const d of c?.delta?.tool_calls ?? []) {
      assert.equal(d.index, 0);
      if (d.id) id = d.id;
      if (d.function?.name) name += d.function.name;
      if (d.function?.arguments) args += d.function.arguments, pieces++;
    }
  }
  assert.equal(finish, 'tool_calls', text);
  assert.ok(pieces >= 4, `${pieces} pieces: "{", one a parameter, "}"`);
  assert.ok(id, text);
  assert.equal(name, whole.function.name);
  assert.equal(args, whole.function.arguments);
});
