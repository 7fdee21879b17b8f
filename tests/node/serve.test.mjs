// serve.test.mjs - `kite serve` on 127.0.0.1 (a free port, loopback only): /health, /v1/models,
// completions non-streamed and streamed (greedy text equal to `kite run` and to llama.cpp's
// reference continuation of stories260K), chat completions through the chat template, stop
// strings, and hostile requests (malformed JSON, deep nesting, bad types, bad HTTP) answered
// with 4xx and a message while the server keeps serving. Every step is time-bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { kiteBin, modelsDir, requireModels } from './helpers.mjs';

// llama.cpp (llama-simple, greedy, 60 tokens) on stories260K after "Once upon a time"
// (../shared/models/README.md).
const LLAMA_REF_60 =
  ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily';

let server, base, model;
const T = 20000; // ms: the bound of any single request

// Starts `kite serve` on a free loopback port; resolves with { proc, base }.
function startServer(modelPath) {
  const proc = spawn(kiteBin(), ['serve', '-m', modelPath, '--host', '127.0.0.1', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`kite serve did not start in 15 s: ${err}`));
    }, 15000);
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, base: m[1] });
      }
    });
    proc.on('exit', (code) => reject(new Error(`kite serve exited (${code}): ${err}`)));
  });
}

before(async () => {
  requireModels();
  model = join(modelsDir(), 'stories260K.gguf');
  ({ proc: server, base } = await startServer(model));
});

after(() => {
  if (server && server.exitCode === null) server.kill('SIGTERM');
});

const post = (path, body) =>
  fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(T),
  });

// The data payloads of a Server-Sent Events body.
const sseData = (text) =>
  text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));

const kiteRun = (args, m = model) =>
  execFileSync(kiteBin(), ['run', '-m', m, '--no-stats', '--temp', '0', ...args], { timeout: T }).toString();

// A raw HTTP exchange (for requests fetch refuses to send); resolves with the whole reply.
const rawHttp = (payload) =>
  new Promise((resolve, reject) => {
    const port = Number(new URL(base).port);
    const sock = connect(port, '127.0.0.1', () => sock.end(payload));
    let reply = '';
    sock.setTimeout(T, () => {
      sock.destroy();
      reject(new Error('raw request timed out'));
    });
    sock.on('data', (d) => (reply += d));
    sock.on('end', () => resolve(reply));
    sock.on('error', reject);
  });

test('GET /health and /v1/models', async () => {
  const h = await fetch(base + '/health', { signal: AbortSignal.timeout(T) });
  assert.equal(h.status, 200);
  assert.deepEqual(await h.json(), { status: 'ok' });
  const m = await fetch(base + '/v1/models', { signal: AbortSignal.timeout(T) });
  assert.equal(m.status, 200);
  const list = await m.json();
  assert.equal(list.object, 'list');
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].id, 'stories260K.gguf');
  assert.equal(list.data[0].object, 'model');
});

test('greedy completion equals kite run and llama.cpp', async () => {
  const r = await post('/v1/completions', { prompt: 'Once upon a time', max_tokens: 60, temperature: 0 });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.object, 'text_completion');
  assert.equal(j.choices[0].text, kiteRun(['-p', 'Once upon a time', '-n', '60']));
  assert.equal(j.choices[0].text, LLAMA_REF_60);
  assert.equal(j.choices[0].finish_reason, 'length');
  assert.equal(j.usage.completion_tokens, 60);
  assert.equal(j.usage.total_tokens, j.usage.prompt_tokens + 60);
});

test('streamed completion: SSE chunks that join to the same text, then [DONE]', async () => {
  const r = await post('/v1/completions', { prompt: 'Once upon a time', max_tokens: 24, temperature: 0, stream: true });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/event-stream/);
  const events = sseData(await r.text());
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  assert.ok(chunks.length >= 3, `only ${chunks.length} chunks`);
  const text = chunks.map((c) => c.choices[0].text).join('');
  assert.equal(text, kiteRun(['-p', 'Once upon a time', '-n', '24']));
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');
  for (const c of chunks.slice(0, -1)) assert.equal(c.choices[0].finish_reason, null);
});

test('chat completion goes through the chat template (as kite run --chat-template)', async () => {
  const want = kiteRun(['-p', 'Tell me a story', '-n', '20', '--chat-template', 'chatml']);
  const r = await post('/v1/chat/completions', {
    messages: [{ role: 'user', content: 'Tell me a story' }],
    max_tokens: 20,
    temperature: 0,
  });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.object, 'chat.completion');
  assert.equal(j.choices[0].message.role, 'assistant');
  assert.equal(j.choices[0].message.content, want);

  const s = await post('/v1/chat/completions', {
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me ' }, { type: 'text', text: 'a story' }] }],
    max_tokens: 20,
    temperature: 0,
    stream: true,
  });
  const events = sseData(await s.text());
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), want);
  assert.equal(chunks.at(-1).object, 'chat.completion.chunk');
});

test('stop strings end the text before the match, never streaming part of it', async () => {
  const body = { prompt: 'Once upon a time', max_tokens: 60, temperature: 0, stop: ['Lily.', 'xyz'] };
  const j = await (await post('/v1/completions', body)).json();
  assert.equal(j.choices[0].text, ', there was a little girl named ');
  assert.equal(j.choices[0].finish_reason, 'stop');
  const events = sseData(await (await post('/v1/completions', { ...body, stream: true })).text());
  const text = events.slice(0, -1).map((e) => JSON.parse(e).choices[0].text).join('');
  assert.equal(text, ', there was a little girl named ');
});

test('same seed, same sampled text', async () => {
  const body = { prompt: 'Once upon a time', max_tokens: 30, temperature: 1.0, seed: 1234 };
  const a = (await (await post('/v1/completions', body)).json()).choices[0].text;
  const b = (await (await post('/v1/completions', body)).json()).choices[0].text;
  assert.equal(a, b);
  assert.equal(a, kiteRun(['-p', 'Once upon a time', '-n', '30', '--temp', '1.0', '--seed', '1234']));
});

test('hostile requests get 4xx with a message naming the problem; the server keeps serving', async () => {
  const cases = [
    ['{"prompt": "hi",}', /expected a string key/],
    ['{"prompt": "hi"', /expected ',' or '}'/],
    ['', /expected a value/],
    ['[' .repeat(100000), /nesting deeper than 64/],
    ['{"prompt": "\\ud800"}', /surrogate/],
    [Buffer.from([0x7b, 0x22, 0x70, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), /UTF-8/],
    ['{"prompt": 01}', /leading zeros/],
    ['{"prompt": "hi"} x', /after the JSON value/],
    ['[1, 2]', /must be a JSON object/],
    [JSON.stringify({ prompt: 'hi', temperature: 'hot' }), /'temperature' must be a number/],
    [JSON.stringify({ prompt: 'hi', top_p: 7 }), /'top_p' = 7 is out of range/],
    [JSON.stringify({ prompt: 'hi', max_tokens: 1.5 }), /'max_tokens' must be an integer/],
    [JSON.stringify({ prompt: 'hi', stop: [1] }), /'stop' entry must be a string/],
    [JSON.stringify({ prompt: 'a\u0000b' }), /NUL/],
    [JSON.stringify({ max_tokens: 3 }), /'prompt' is missing/],
  ];
  for (const [body, re] of cases) {
    const r = await post('/v1/completions', body);
    assert.equal(r.status, 400, `status for ${String(body).slice(0, 40)}`);
    const j = await r.json();
    assert.match(j.error.message, re, String(body).slice(0, 40));
  }
  const chat = [
    [{ messages: [] }, /non-empty array/],
    [{ messages: [{ content: 'x' }] }, /messages\[0\]\.role is missing/],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, /text/],
  ];
  for (const [body, re] of chat) {
    const r = await post('/v1/chat/completions', body);
    assert.equal(r.status, 400);
    assert.match((await r.json()).error.message, re);
  }
  const nf = await fetch(base + '/v1/nothing', { signal: AbortSignal.timeout(T) });
  assert.equal(nf.status, 404);
  const wrong = await fetch(base + '/v1/completions', { signal: AbortSignal.timeout(T) });
  assert.equal(wrong.status, 405);
  assert.match(await rawHttp('GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400 /);
  assert.match(
    await rawHttp('POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
    /^HTTP\/1\.1 501 [^]*Content-Length/,
  );
  assert.match(await rawHttp('POST /v1/completions HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n'), /^HTTP\/1\.1 413 /);
  assert.match(await rawHttp('POST /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 411 /);
  assert.match(await rawHttp('GET /' + 'a'.repeat(20000) + ' HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 431 /);
  const h = await fetch(base + '/health', { signal: AbortSignal.timeout(T) });
  assert.equal(h.status, 200);
});

test("the server's JSON parser accepts and rejects exactly what V8's JSON.parse does", async () => {
  // Mutations of valid documents (seeded, reproducible), sent to the chat endpoint: a body
  // JSON.parse accepts must not be refused as invalid JSON, and one it rejects must be.
  // Outside the comparison: lone UTF-16 surrogates (JSON.parse keeps them, we refuse them) and
  // numbers beyond double range (JSON.parse gives Infinity, we refuse them).
  const seeds = [
    '{"a":[1,2.5e3,-0.125,true,false,null,"s\\n\\"x\\u00e9"],"b":{"c":{}},"d":[]}',
    '[{"k":"v"},[0,-0,1E2,3e-2],"\\t\\/\\\\",{"x":{"y":[null]}}]',
    '{"messages":"no","z":-12.5e+1}',
  ];
  const alphabet = '{}[]:,"\\ 0123456789.eE+-truefalsn\t\nu';
  let state = 20261123;
  const rand = (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  let accepted = 0, rejected = 0;
  for (let i = 0; i < 1500; i++) {
    let s = seeds[rand(seeds.length)];
    for (let k = 1 + rand(3); k > 0; k--) {
      const at = rand(s.length + 1), op = rand(3), ch = alphabet[rand(alphabet.length)];
      s = op === 0 ? s.slice(0, at) + ch + s.slice(at) : op === 1 ? s.slice(0, at) + s.slice(at + 1) : s.slice(0, at) + ch + s.slice(at + 1);
    }
    if (/\\u[dD][89a-fA-F]/i.test(s) || /[eE][+-]?\d{3}/.test(s)) continue;
    let valid = true;
    try {
      JSON.parse(s);
    } catch {
      valid = false;
    }
    const r = await post('/v1/chat/completions', s);
    const msg = r.status === 200 ? '' : (await r.json()).error.message;
    if (r.status === 200) await r.arrayBuffer();
    assert.equal(/^invalid JSON/.test(msg), !valid, `body ${JSON.stringify(s)}: JSON.parse ${valid ? 'accepts' : 'rejects'} it, server said ${r.status} ${msg}`);
    valid ? accepted++ : rejected++;
  }
  assert.ok(accepted > 100 && rejected > 100, `too one-sided: ${accepted} accepted, ${rejected} rejected`);
});

test("chat uses the model's own template (phi-3) as kite run --chat-template auto does", async () => {
  const phi3 = join(modelsDir(), 'rand-phi3-f16.gguf');
  const { proc, base: b } = await startServer(phi3);
  try {
    const models = await (await fetch(b + '/v1/models', { signal: AbortSignal.timeout(T) })).json();
    assert.equal(models.data[0].meta.chat_template, 'phi3');
    const r = await fetch(b + '/v1/chat/completions', {
      method: 'POST',
      body: JSON.stringify({ messages: [{ role: 'user', content: 'The capital of France is' }], max_tokens: 8, temperature: 0 }),
      signal: AbortSignal.timeout(T),
    });
    const j = await r.json();
    assert.equal(r.status, 200);
    assert.equal(j.choices[0].message.content, kiteRun(['-p', 'The capital of France is', '-n', '8', '--chat-template', 'auto'], phi3));
    // <|user|>\n{text}<|end|>\n<|assistant|>\n: the markers are single special tokens
    assert.ok(j.usage.prompt_tokens < 20, `prompt of ${j.usage.prompt_tokens} tokens: template markers not parsed as special`);
  } finally {
    proc.kill('SIGTERM');
  }
});
