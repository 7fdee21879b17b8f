// wasm_tools.test.mjs - tool calling in the package's chat (the st build): qwen3.gguf with Qwen3's
// template as its own tokenizer.chat_template answers the same requests as `kite serve` on that
// file (OpenAI's body, the package's options): the same prompt (its token count), the same greedy
// reply text, the same calls and finish reason; a required call is valid under the tool's schema;
// a conversation with earlier calls (toolCalls / tool_calls) and tool results; a plain chat's
// roles are the server's (developer as system, others refused); bad tools and toolChoice values
// are KiteErrors naming the option; the required call once in Chromium; the
// README's tool-calling example runs as written (on the built-in model: the generic format).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kiteBin, modelsDir, repoRoot, requireModels, requireDist, startKiteServe } from './wasm_helpers.mjs';
import { launchChromium, newPageAt } from './chromium.mjs';
import { serve as serveRepo } from '../../web/serve.mjs';
import { QWEN3_TEMPLATE } from './qwen3_template.mjs';
import { ggufAppend } from './gguf_append.mjs';

const T = 60000; // ms: the bound of any single request

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the weather',
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
  function: { name: 'get_time', description: 'The time in a zone', parameters: { type: 'object', properties: { zone: { type: 'string', maxLength: 16 } }, required: ['zone'] } },
};

let dir, file, server, model;

const startServer = (path) => startKiteServe(path, ['-c', '2048', '-np', '1']);

before(async () => {
  requireModels();
  requireDist(['st']);
  dir = mkdtempSync(join(tmpdir(), 'kite-tools-'));
  // qwen3.gguf with Qwen3's template as its own: the package and the server both read it there
  file = join(dir, 'qwen3-template.gguf');
  writeFileSync(file, ggufAppend(readFileSync(join(modelsDir(), 'arch', 'qwen3.gguf')), [['tokenizer.chat_template', 'str', QWEN3_TEMPLATE]], []));
  server = await startServer(file);
  const { loadModel } = await import('../../web/index.js');
  model = await loadModel(file, { flavor: 'st', nCtx: 2048 });
});

after(async () => {
  await model?.dispose();
  if (server && server.proc.exitCode === null) server.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// kite serve's answer to an OpenAI chat body.
async function serve(body) {
  const r = await fetch(server.base + '/v1/chat/completions', { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(T) });
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  return j;
}

// The package's answer: the streamed text and the result.
async function npm(messages, opts) {
  const g = model.chat(messages, opts);
  const text = await g.text();
  return { text, result: await g.result };
}

// The package's answer equals the server's: prompt and reply token counts, text, calls, finish.
function assertSame(mine, theirs) {
  const choice = theirs.choices[0];
  assert.equal(mine.result.nPrompt, theirs.usage.prompt_tokens, 'the same prompt (token count)');
  assert.equal(mine.result.nGenerated, theirs.usage.completion_tokens, 'as many tokens');
  assert.equal(mine.text, choice.message.content ?? '', 'the same text');
  const calls = choice.message.tool_calls ?? [];
  assert.deepEqual(mine.result.toolCalls.map((c) => ({ type: c.type, function: c.function })),
    calls.map((c) => ({ type: c.type, function: c.function })), 'the same calls');
  const finish = { eog: 'stop', stop: 'stop', length: 'length', tool_calls: 'tool_calls' }[mine.result.stoppedBy];
  assert.equal(finish, choice.finish_reason);
  const ids = mine.result.toolCalls.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length, 'distinct ids');
  // ids as llama-server's gen_tool_call_id makes them (random_string: 32 of [0-9A-Za-z])
  for (const id of ids) assert.match(id, /^[0-9A-Za-z]{32}$/);
  for (const c of calls) assert.match(c.id, /^[0-9A-Za-z]{32}$/);
}

// The tool_calls deltas of kite serve's stream for body.
async function serveDeltas(body) {
  const r = await fetch(server.base + '/v1/chat/completions', { method: 'POST', body: JSON.stringify({ ...body, stream: true }), signal: AbortSignal.timeout(T) });
  assert.equal(r.status, 200);
  const events = (await r.text()).split('\n').filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]');
  return events.flatMap((l) => JSON.parse(l.slice(6)).choices[0].delta.tool_calls ?? []);
}

function assertWeatherArgs(text) {
  const a = JSON.parse(text);
  assert.equal(typeof a, 'object');
  assert.equal(typeof a.city, 'string');
  assert.ok([...a.city].length <= 12, a.city);
  assert.ok(['celsius', 'fahrenheit'].includes(a.unit), a.unit);
  if ('days' in a) assert.ok(Number.isInteger(a.days) && a.days >= 1 && a.days <= 7, String(a.days));
}

test("toolChoice 'required': a valid call, the text and call kite serve answers", async () => {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const mine = await npm(messages, { tools: [WEATHER], toolChoice: 'required', temperature: 0, maxTokens: 120 });
  assert.equal(mine.result.stoppedBy, 'tool_calls');
  assert.equal(mine.text, '', 'the call is taken out of the text');
  assert.equal(mine.result.toolCalls.length, 1);
  const call = mine.result.toolCalls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assertWeatherArgs(call.function.arguments);
  assertSame(mine, await serve({ messages, tools: [WEATHER], tool_choice: 'required', temperature: 0, max_tokens: 120 }));
});

test('onToolCallDelta: the calls in pieces as they are generated, as kite serve streams them', async () => {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  for (const parallel of [false, true]) {
    const deltas = [];
    const opts = { tools: [WEATHER, TIME], toolChoice: 'required', parallelToolCalls: parallel, temperature: 0, maxTokens: 200 };
    const mine = await npm(messages, { ...opts, onToolCallDelta: (d) => deltas.push(d) });
    assert.ok(mine.result.toolCalls.length >= 1);
    // llama-server's delta shapes (server_chat_msg_diff_to_json_oaicompat): a call's first piece has
    // index, id, type and name; the next ones index and function.arguments only
    assert.ok(deltas.length > 2 * mine.result.toolCalls.length, `${deltas.length} pieces`);
    mine.result.toolCalls.forEach((c, i) => {
      const own = deltas.filter((d) => d.index === i);
      assert.deepEqual(own[0], { index: i, id: c.id, type: 'function', function: { name: c.function.name, ...(own[0].function.arguments ? { arguments: own[0].function.arguments } : {}) } });
      for (const d of own.slice(1)) assert.deepEqual(Object.keys(d).sort(), ['function', 'index']);
      assert.equal(own.map((d) => d.function.arguments ?? '').join(''), c.function.arguments);
    });
    // the same pieces as kite serve's stream (ids aside: each run draws its own)
    const theirs = await serveDeltas({ messages, tools: [WEATHER, TIME], tool_choice: 'required', parallel_tool_calls: parallel, temperature: 0, max_tokens: 200 });
    const noId = ({ id, ...d }) => d;
    assert.deepEqual(deltas.map(noId), theirs.map(noId));
  }
});

test('a named function, and several calls with parallelToolCalls, as kite serve', async () => {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const named = { type: 'function', function: { name: 'get_time' } };
  const mine = await npm(messages, { tools: [WEATHER, TIME], toolChoice: named, temperature: 0, maxTokens: 80 });
  assert.deepEqual(mine.result.toolCalls.map((c) => c.function.name), ['get_time']);
  assertSame(mine, await serve({ messages, tools: [WEATHER, TIME], tool_choice: named, temperature: 0, max_tokens: 80 }));
  const par = await npm(messages, { tools: [WEATHER, TIME], toolChoice: 'required', parallelToolCalls: true, temperature: 0, maxTokens: 200 });
  assert.ok(par.result.toolCalls.length > 1, JSON.stringify(par.result.toolCalls));
  assertSame(par, await serve({ messages, tools: [WEATHER, TIME], tool_choice: 'required', parallel_tool_calls: true, temperature: 0, max_tokens: 200 }));
});

test("a conversation with earlier calls and tool results ('auto', then 'none'), as kite serve", async () => {
  const call = (id, name, args) => ({ id, type: 'function', function: { name, arguments: JSON.stringify(args) } });
  const wire = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather in Paris, and the time in Tokyo? é' },
    { role: 'assistant', content: '', tool_calls: [call('c1', 'get_weather', { city: 'Paris', unit: 'celsius' }), call('c2', 'get_time', { zone: 'Asia/Tokyo' })] },
    { role: 'tool', tool_call_id: 'c1', content: '{"temp": 20.5}' },
    { role: 'tool', tool_call_id: 'c2', content: '09:00' },
  ];
  // the package's spelling (toolCalls, toolCallId) and OpenAI's give the same run
  const camel = wire.map(({ tool_calls, tool_call_id, ...m }) => ({ ...m, ...(tool_calls ? { toolCalls: tool_calls } : {}), ...(tool_call_id ? { toolCallId: tool_call_id } : {}) }));
  for (const choice of ['auto', 'none']) {
    const theirs = await serve({ messages: wire, tools: [WEATHER, TIME], tool_choice: choice, temperature: 0, max_tokens: 24 });
    const mine = await npm(camel, { tools: [WEATHER, TIME], toolChoice: choice, temperature: 0, maxTokens: 24 });
    assertSame(mine, theirs);
    assertSame(await npm(wire, { tools: [WEATHER, TIME], toolChoice: choice, temperature: 0, maxTokens: 24 }), theirs);
  }
  // no tools now: the earlier calls still render in the template's tool format
  const theirs = await serve({ messages: wire, temperature: 0, max_tokens: 16 });
  const mine = await npm(camel, { temperature: 0, maxTokens: 16 });
  assertSame(mine, theirs);
  assert.deepEqual(mine.result.toolCalls, []);
});

test("an assistant's reasoningContent (reasoning_content) goes into its turn as kite serve renders it", async () => {
  const wire = [
    { role: 'user', content: 'q1' },
    { role: 'assistant', content: 'A1', reasoning_content: 'r1' },
    { role: 'user', content: 'q2' },
    { role: 'assistant', content: 'A2', reasoning_content: 'the reasoning of A2, long enough to count' },
    { role: 'user', content: '<tool_response>\nz\n</tool_response>' },
  ];
  const camel = wire.map(({ reasoning_content, ...m }) => ({ ...m, ...(reasoning_content !== undefined ? { reasoningContent: reasoning_content } : {}) }));
  const theirs = await serve({ messages: wire, temperature: 0, max_tokens: 8 });
  assertSame(await npm(camel, { temperature: 0, maxTokens: 8 }), theirs);
  assertSame(await npm(wire, { temperature: 0, maxTokens: 8 }), theirs);
  // without it the block is not there: fewer prompt tokens
  const plain = await npm(wire.map(({ reasoning_content, ...m }) => m), { temperature: 0, maxTokens: 8 });
  assert.ok(plain.result.nPrompt < theirs.usage.prompt_tokens);
});

test('a last assistant message is continued (assistant prefill), as kite serve does', async () => {
  const cases = [
    [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello, I' }],
    [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '', reasoning_content: 'let me think' }],
  ];
  for (const messages of cases) {
    const theirs = await serve({ messages, temperature: 0, max_tokens: 10 });
    assertSame(await npm(messages, { temperature: 0, maxTokens: 10 }), theirs);
    // addAssistant false: the old rendering (every message a whole turn, no opening): another prompt
    const whole = await npm(messages, { temperature: 0, maxTokens: 10, addAssistant: false });
    assert.notEqual(whole.result.nPrompt, theirs.usage.prompt_tokens);
  }
  // a reasoning budget sees the continued message: it leaves the reply inside a <think> block
  // (written so that this vocabulary, which lacks the <think> token, spells the tag as the budget
  // does: '<', 'think', '>'), so the budget closes it (this model never closes it itself)
  const open = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '<think> partial' }];
  const plainOpen = (await serve({ messages: open, temperature: 0, max_tokens: 10 })).choices[0].message.content;
  for (const budget of [0, 2]) {
    const budgeted = await serve({ messages: open, temperature: 0, max_tokens: 10, reasoning_budget_tokens: budget });
    assert.notEqual(budgeted.choices[0].message.content, plainOpen, 'the budget changes the reply (the check is not vacuous)');
    assertSame(await npm(open, { temperature: 0, maxTokens: 10, reasoningBudget: budget }), budgeted);
  }
  await assert.rejects(npm([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'a' }, { role: 'assistant', content: 'b' }], { maxTokens: 1 }).then((r) => r),
    /Cannot have 2 or more assistant messages at the end of the list/);
});

test("a plain chat's roles are kite serve's: developer renders as system, any other role is refused by name", async () => {
  const turns = (role) => [{ role, content: 'Be brief.' }, { role: 'user', content: 'Hi' }];
  // Qwen3's template writes a first system message and has no branch for developer: rendered as
  // developer, the message would be left out of the prompt
  const dev = await npm(turns('developer'), { temperature: 0, maxTokens: 4 });
  assert.equal(dev.result.nPrompt, (await serve({ messages: turns('developer'), temperature: 0, max_tokens: 4 })).usage.prompt_tokens);
  const sys = await npm(turns('system'), { temperature: 0, maxTokens: 4 });
  assert.equal(dev.result.nPrompt, sys.result.nPrompt);
  assert.equal(dev.text, sys.text);
  // kite serve's 400 message (openai/chat_request.c), in the plain chat and in the tool-calling one
  const robot = [{ role: 'user', content: 'x' }, { role: 'robot', content: 'y' }];
  const refused = /^kite: chat: messages\[1\]\.role is 'robot': expected system, developer, user, assistant or tool$/;
  for (const opts of [{}, { tools: [WEATHER] }]) {
    const g = model.chat(robot, { maxTokens: 1, ...opts });
    await assert.rejects(g.text(), (e) => e.name === 'KiteError' && e.status === 'invalid input' && refused.test(e.message), JSON.stringify(opts));
    await assert.rejects(g.result);
  }
  await assert.rejects(model.chat([{ role: 'User', content: 'x' }], { maxTokens: 1 }).text(), (e) => /^kite: chat: messages\[0\]\.role is 'User'/.test(e.message));
});

test('bad tools, toolChoice and parallelToolCalls values are KiteErrors naming the option', async () => {
  const msgs = [{ role: 'user', content: 'x' }];
  const bad = (opts, re) => assert.throws(() => model.chat(msgs, opts), (e) => e.name === 'KiteError' && e.status === 'invalid input' && re.test(e.message), JSON.stringify(opts));
  bad({ tools: {} }, /option tools must be an array/);
  bad({ tools: [{}] }, /option tools must be/);
  bad({ tools: [{ type: 'function', function: { description: 'no name' } }] }, /option tools must be/);
  bad({ tools: [{ type: 'function', function: { name: 'f', parameters: 'object' } }] }, /option tools must be/);
  bad({ tools: [WEATHER], toolChoice: 'maybe' }, /option toolChoice must be 'auto', 'none', 'required' or/);
  bad({ tools: [WEATHER], toolChoice: { type: 'function' } }, /option toolChoice must be/);
  bad({ tools: [WEATHER], parallelToolCalls: 'yes' }, /option parallelToolCalls must be true or false/);
  bad({ tools: [WEATHER], grammar: 'root ::= "x"' }, /option tools or grammar, not both/);
  bad({ tools: [WEATHER], jsonSchema: { type: 'object' } }, /option tools or jsonSchema, not both/);
  assert.throws(() => model.chat([{ role: 'user', content: 'x', toolCalls: [] }], {}), /messages\[0\]\.toolCalls is for an assistant message/);
  // what only the C side knows (kite serve's checks) rejects the run, naming the option too
  const late = async (opts, re) => {
    const g = model.chat(msgs, { maxTokens: 1, ...opts });
    await assert.rejects(g.text(), (e) => e.name === 'KiteError' && e.status === 'invalid input' && re.test(e.message));
    await assert.rejects(g.result);
  };
  await late({ tools: [WEATHER], toolChoice: { type: 'function', function: { name: 'nope' } } }, /^kite: chat: 'toolChoice\.function\.name' 'nope' is not one of the tools/);
  await late({ toolChoice: 'required' }, /^kite: chat: 'toolChoice' asks for a tool call but 'tools' gives none/);
  await late({ tools: [WEATHER, WEATHER] }, /^kite: chat: option tools: tools\[1\]\.function\.name 'get_weather' repeats tools\[0\]'s/);
  const badCall = [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, toolCalls: [{ type: 'function', function: { name: 'f', arguments: '{oops' } }] }];
  const g = model.chat(badCall, { maxTokens: 1 });
  await assert.rejects(g.text(), /messages\[1\]\.tool_calls\[0\]\.function\.arguments is not JSON/);
  // the model still answers after the refusals
  const ok = await npm(msgs, { tools: [WEATHER], toolChoice: 'required', temperature: 0, maxTokens: 120 });
  assert.equal(ok.result.toolCalls.length, 1);
});

test("in Chromium (st build) the required call is kite serve's too", async () => {
  // the server serves the repository only: the model goes under build/
  const sub = join(repoRoot, 'build/wasm-tools-models');
  rmSync(sub, { recursive: true, force: true });
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, 'qwen3-template.gguf'), readFileSync(file));
  const web = await serveRepo({ port: 0 });
  const browser = await launchChromium();
  try {
    const origin = `http://127.0.0.1:${web.port}`;
    const { page, errors } = await newPageAt(browser, `${origin}/package.json`);
    const r = await page.evaluate(async ({ url, tools }) => {
      const kite = await import('/web/index.js');
      const m = await kite.loadModel(url, { flavor: 'st', simd: 'simd128', nCtx: 2048 });
      try {
        const g = m.chat([{ role: 'user', content: 'Weather in Paris?' }], { tools, toolChoice: 'required', temperature: 0, maxTokens: 120 });
        const text = await g.text();
        return { build: m.build, text, result: await g.result };
      } finally {
        await m.dispose();
      }
    }, { url: `${origin}/build/wasm-tools-models/qwen3-template.gguf`, tools: [WEATHER] });
    assert.equal(r.build, 'kite-st');
    assert.equal(r.result.stoppedBy, 'tool_calls');
    assertSame(r, await serve({ messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [WEATHER], tool_choice: 'required', temperature: 0, max_tokens: 120 }));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await web.close();
    rmSync(sub, { recursive: true, force: true });
  }
});

test("the README's tool-calling example runs as written", () => {
  requireDist(['st', 'mt']);
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('toolChoice'));
  assert.ok(block, 'the README has the example');
  const main = join(dir, 'tools_example.mjs');
  writeFileSync(main, block.replace("from 'kite-llm'", `from '${pathToFileURL(join(repoRoot, 'web/index.js')).href}'`));
  const r = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, r.stderr);
  const [first] = r.stdout.split('\n');
  assert.match(first, /^tool_calls get_weather \{ city: '.{0,10}' \}$/);
});

// Qwen3.5's template (its XML calls) as the file's own: the package answers as kite serve does,
// the calls' values typed by their schemas. JSON-typed parameters only: the tiny random model
// would run a raw string value on to maxTokens.
test("Qwen3.5's XML calls: the package's chat answers as kite serve does, values typed by the schema", async () => {
  const src = readFileSync(new URL('./data/qwen3.5-4b.jinja', import.meta.url), 'utf8');
  const f = join(dir, 'qwen35-template.gguf');
  writeFileSync(f, ggufAppend(readFileSync(join(modelsDir(), 'arch', 'qwen3.gguf')), [['tokenizer.chat_template', 'str', src]], []));
  const srv = await startServer(f);
  const { loadModel } = await import('../../web/index.js');
  const m = await loadModel(f, { flavor: 'st', nCtx: 2048 });
  try {
    const BOOK = { type: 'function', function: { name: 'book', parameters: { type: 'object', properties: { days: { type: 'integer', minimum: 1, maximum: 9 }, hotel: { type: 'boolean' } }, required: ['days', 'hotel'] } } };
    const post = async (body) => {
      const r = await fetch(srv.base + '/v1/chat/completions', { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(T) });
      return r;
    };
    const conversations = [
      [{ role: 'user', content: 'Book it' }],
      [{ role: 'user', content: 'Book it' }, { role: 'assistant', content: '', tool_calls: [{ id: 'a', type: 'function', function: { name: 'book', arguments: '{"days": 2, "hotel": true}' } }] }, { role: 'tool', tool_call_id: 'a', content: 'booked' }, { role: 'user', content: 'Again' }],
    ];
    for (const messages of conversations) {
      const opts = { tools: [TIME, BOOK], toolChoice: { type: 'function', function: { name: 'book' } }, temperature: 0, maxTokens: 120, thinking: 'off' };
      const deltas = [];
      const g = m.chat(messages, { ...opts, onToolCallDelta: (d) => deltas.push(d) });
      const mine = { text: await g.text(), result: await g.result };
      assert.equal(mine.result.stoppedBy, 'tool_calls');
      assert.equal(mine.result.toolCalls.length, 1);
      const args = JSON.parse(mine.result.toolCalls[0].function.arguments);
      assert.ok(Number.isInteger(args.days) && args.days >= 1 && args.days <= 9, JSON.stringify(args));
      assert.equal(typeof args.hotel, 'boolean');
      const body = { messages, tools: [TIME, BOOK], tool_choice: opts.toolChoice, temperature: 0, max_tokens: 120, chat_template_kwargs: { enable_thinking: false } };
      const r = await post(body);
      const theirs = await r.json();
      assert.equal(r.status, 200, JSON.stringify(theirs));
      assertSame(mine, theirs);
      const stream = await (await post({ ...body, stream: true })).text();
      const sd = stream.split('\n').filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]').flatMap((l) => JSON.parse(l.slice(6)).choices[0].delta.tool_calls ?? []);
      const noId = ({ id, ...d }) => d;
      assert.deepEqual(deltas.map(noId), sd.map(noId));
    }
  } finally {
    await m.dispose();
    if (srv.proc.exitCode === null) srv.proc.kill('SIGTERM');
  }
});
