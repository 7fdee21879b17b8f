// serve.test.mjs - `kite serve` on 127.0.0.1 (a free port, loopback only): /health, /v1/models,
// completions non-streamed and streamed (greedy text equal to `kite run` and to llama.cpp's
// reference continuation of stories260K), chat completions through the chat template, stop
// strings, and hostile requests (malformed JSON, deep nesting, bad types, bad HTTP) answered
// with 4xx and a message while the server keeps serving; then the connection handling (slow and
// idle clients, disconnects, keep-alive, the queue limit, shutdown), continuous batching (parallel
// greedy replies equal to each alone, a later stream answered while an earlier one runs, a
// disconnect freeing the slot), access control (API keys, CORS) and the llama-server endpoints. Every step is time-bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { kiteBin, modelsDir, requireModels, startKiteServe } from './helpers.mjs';

// llama.cpp (llama-simple, greedy, 60 tokens) on stories260K after "Once upon a time"
// (../shared/models/README.md).
const LLAMA_REF_60 =
  ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily';

let server, base, model;
const T = 20000; // ms: the bound of any single request

const startServer = (modelPath, extra = []) => startKiteServe(modelPath, extra, 15000);

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
    // a role OpenAI does not have: refused, not rendered as a turn of its own
    [{ messages: [{ role: 'user', content: 'x' }, { role: 'robot', content: 'y' }] },
      /^messages\[1\]\.role is 'robot': expected system, developer, user, assistant or tool$/],
    [{ messages: [{ role: 'User', content: 'x' }] }, /messages\[0\]\.role is 'User'/],
  ];
  for (const [body, re] of chat) {
    const r = await post('/v1/chat/completions', body);
    assert.equal(r.status, 400);
    const e = (await r.json()).error;
    assert.match(e.message, re);
    assert.equal(e.type, 'invalid_request_error');
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

// ---- connections, access control, llama-server endpoints ----------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs fn with a server started with extra flags, then stops it.
async function withServer(extra, fn) {
  const { proc, base: b } = await startServer(model, extra);
  try {
    return await fn(b, proc);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}

// A raw socket that reads HTTP responses one after another (Content-Length or chunked bodies),
// for keep-alive and pipelining checks.
class RawConn {
  constructor(b) {
    this.buf = Buffer.alloc(0);
    this.ended = false;
    this.waiters = [];
    this.sock = connect(Number(new URL(b).port), '127.0.0.1');
    this.sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    this.sock.on('end', () => ((this.ended = true), this.wake()));
    this.sock.on('close', () => ((this.ended = true), this.wake()));
    this.sock.on('error', () => ((this.ended = true), this.wake()));
  }
  wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  opened() {
    return new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
  }
  send(text) {
    this.sock.write(text);
  }
  // Resolves with the next whole response { status, headers, body } or null when the server closed.
  async response(ms = T) {
    const until = Date.now() + ms;
    for (;;) {
      const r = this.parse();
      if (r) return r;
      if (this.ended) return null;
      if (Date.now() > until) throw new Error('no whole response in time; got: ' + this.buf.toString().slice(0, 200));
      await new Promise((res) => {
        this.waiters.push(res);
        setTimeout(res, 50);
      });
    }
  }
  parse() {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const head = this.buf.subarray(0, end).toString().split('\r\n');
    const status = Number(head[0].split(' ')[1]);
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    let p = end + 4, body;
    if (headers['transfer-encoding'] === 'chunked') {
      const parts = [];
      for (;;) {
        const le = this.buf.indexOf('\r\n', p);
        if (le < 0) return null;
        const n = parseInt(this.buf.subarray(p, le).toString(), 16);
        if (this.buf.length < le + 2 + n + 2) return null;
        parts.push(this.buf.subarray(le + 2, le + 2 + n));
        p = le + 2 + n + 2;
        if (n === 0) break;
      }
      body = Buffer.concat(parts).toString();
    } else {
      const n = Number(headers['content-length'] ?? 0);
      if (this.buf.length < p + n) return null;
      body = this.buf.subarray(p, p + n).toString();
      p += n;
    }
    this.buf = this.buf.subarray(p);
    return { status, headers, body };
  }
  close() {
    this.sock.destroy();
  }
}

const postJson = (b, path, body, headers = {}, signal = AbortSignal.timeout(T)) =>
  fetch(b + path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body), signal });

test('keep-alive: several requests (plain, streamed, pipelined) on one socket; Connection: close honoured', async () => {
  const c = new RawConn(base);
  try {
    await c.opened();
    c.send('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const a = await c.response();
    assert.equal(a.status, 200);
    assert.equal(a.headers.connection, 'keep-alive');
    assert.equal(a.headers['keep-alive'], 'timeout=10'); // the default --timeout
    const body = JSON.stringify({ prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stream: true });
    c.send(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const s = await c.response();
    assert.equal(s.status, 200);
    assert.equal(s.headers['transfer-encoding'], 'chunked');
    const events = sseData(s.body);
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(events.slice(0, -1).map((e) => JSON.parse(e).choices[0].text).join(''), kiteRun(['-p', 'Once upon a time', '-n', '8']));
    // Expect: 100-continue: the interim answer comes before the body is sent
    const eb = JSON.stringify({ content: 'Once upon a time' });
    c.send(`POST /tokenize HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${eb.length}\r\n\r\n`);
    const cont = await c.response();
    assert.equal(cont.status, 100);
    c.send(eb);
    const tk = await c.response();
    assert.equal(tk.status, 200);
    assert.ok(JSON.parse(tk.body).tokens.length > 0);
    // two requests in one write: two answers, in order
    c.send('GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const m = await c.response();
    assert.equal(JSON.parse(m.body).object, 'list');
    const h = await c.response();
    assert.equal(h.status, 200);
    assert.equal(h.headers.connection, 'close');
    assert.equal(await c.response(), null, 'the server closes after Connection: close');
  } finally {
    c.close();
  }
  // HTTP/1.0 has no chunked encoding: the stream is unframed and ends with the connection
  const body10 = JSON.stringify({ prompt: 'Once upon a time', max_tokens: 8, temperature: 0, stream: true });
  const r10 = await rawHttp(`POST /v1/completions HTTP/1.0\r\nContent-Length: ${body10.length}\r\n\r\n${body10}`);
  const [head10, rest10] = r10.split('\r\n\r\n');
  assert.match(head10, /^HTTP\/1\.1 200 [^]*Connection: close/);
  assert.doesNotMatch(head10, /Transfer-Encoding/i);
  const ev10 = sseData(rest10);
  assert.equal(ev10.at(-1), '[DONE]');
  assert.equal(ev10.slice(0, -1).map((e) => JSON.parse(e).choices[0].text).join(''), kiteRun(['-p', 'Once upon a time', '-n', '8']));
  // a request followed at once by the client's FIN (shutdown of its side) is still answered
  for (let i = 0; i < 30; i++) {
    assert.match(await rawHttp('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200 [^]*"status":"ok"/, `try ${i}`);
    assert.match(await rawHttp('GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400 /, `try ${i}`);
  }
});

test('no CORS header by default; cross-origin requests are refused', async () => {
  const r = await fetch(base + '/v1/models', { signal: AbortSignal.timeout(T) });
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  const x = await fetch(base + '/v1/models', { headers: { Origin: 'http://evil.example' }, signal: AbortSignal.timeout(T) });
  assert.equal(x.status, 403);
  assert.equal(x.headers.get('access-control-allow-origin'), null);
  assert.match((await x.json()).error.message, /cross-origin.*--cors-origins/);
  const p = await postJson(base, '/v1/completions', { prompt: 'hi', max_tokens: 2 }, { Origin: 'http://evil.example' });
  assert.equal(p.status, 403);
  await p.arrayBuffer();
});

test('API keys (--api-key, --api-key-file): 401 without one, /health open; an empty --api-key refused; listed CORS origins need the key', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'kite-serve-'));
  try {
    const file = join(dir, 'keys.txt');
    writeFileSync(file, 'key-two\n\n  key-three  \n');
    // an origin without a key is refused at start
    const bad = spawn(kiteBin(), ['serve', '-m', model, '--port', '0', '--cors-origins', 'http://app.example']);
    let err = '';
    bad.stderr.on('data', (d) => (err += d));
    // 'close', not 'exit': stderr may still hold unread bytes when 'exit' fires
    const code = await new Promise((r) => bad.on('close', r));
    assert.equal(code, 2);
    assert.match(err, /--cors-origins needs --api-key/);

    // an --api-key without a key (an unset variable) is refused, not a server open to all
    for (const k of ['', ' , ']) {
      const empty = spawnSync(kiteBin(), ['serve', '-m', model, '--port', '0', '--api-key', k], { encoding: 'utf8', timeout: T });
      assert.equal(empty.status, 2, `--api-key '${k}': ${empty.stderr}`);
      assert.match(empty.stderr, /--api-key '.*' holds no key/);
    }

    // a FIFO as the key file is refused at once, not waited on
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const f = spawn(kiteBin(), ['serve', '-m', model, '--port', '0', '--api-key-file', fifo]);
    let ferr = '';
    f.stderr.on('data', (d) => (ferr += d));
    const fcode = await Promise.race([new Promise((r) => f.on('close', r)), sleep(5000).then(() => 'hung')]);
    if (fcode === 'hung') f.kill('SIGKILL');
    assert.equal(fcode, 2);
    assert.match(ferr, /not a regular file/);

    const flags = ['--api-key', 'key-one', '--api-key-file', file, '--cors-origins', 'http://app.example'];
    await withServer(flags, async (b) => {
      const h = await fetch(b + '/health', { signal: AbortSignal.timeout(T) });
      assert.equal(h.status, 200);
      await h.arrayBuffer();
      const no = await fetch(b + '/v1/models', { signal: AbortSignal.timeout(T) });
      assert.equal(no.status, 401);
      const e = await no.json();
      assert.equal(e.error.type, 'authentication_error');
      assert.equal(e.error.code, 401);
      const wrong = await fetch(b + '/v1/models', { headers: { Authorization: 'Bearer key-thre' }, signal: AbortSignal.timeout(T) });
      assert.equal(wrong.status, 401);
      await wrong.arrayBuffer();
      const xkey = await fetch(b + '/v1/models', { headers: { 'X-Api-Key': 'key-two' }, signal: AbortSignal.timeout(T) });
      assert.equal(xkey.status, 200, 'X-Api-Key');
      await xkey.arrayBuffer();
      const v1h = await fetch(b + '/v1/health', { signal: AbortSignal.timeout(T) });
      assert.equal(v1h.status, 200, '/v1/health is open too');
      await v1h.arrayBuffer();
      for (const k of ['key-one', 'key-two', 'key-three']) {
        const ok = await fetch(b + '/v1/models', { headers: { Authorization: `Bearer ${k}` }, signal: AbortSignal.timeout(T) });
        assert.equal(ok.status, 200, k);
        await ok.arrayBuffer();
      }
      const gen = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 4, temperature: 0 });
      assert.equal(gen.status, 401);
      await gen.arrayBuffer();
      // the listed origin: CORS headers, but still the key
      const o = { Origin: 'http://app.example' };
      const pre = await fetch(b + '/v1/completions', { method: 'OPTIONS', headers: o, signal: AbortSignal.timeout(T) });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get('access-control-allow-origin'), 'http://app.example');
      assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/);
      const nokey = await postJson(b, '/v1/completions', { prompt: 'hi', max_tokens: 2 }, o);
      assert.equal(nokey.status, 401);
      await nokey.arrayBuffer();
      const withKey = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 4, temperature: 0 }, { ...o, Authorization: 'Bearer key-two' });
      assert.equal(withKey.status, 200);
      assert.equal(withKey.headers.get('access-control-allow-origin'), 'http://app.example');
      assert.equal((await withKey.json()).choices[0].text, kiteRun(['-p', 'Once upon a time', '-n', '4']));
      const other = await fetch(b + '/v1/models', { headers: { Origin: 'http://other.example', Authorization: 'Bearer key-one' }, signal: AbortSignal.timeout(T) });
      assert.equal(other.status, 403);
      await other.arrayBuffer();
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('20 slow clients and 2 idle ones do not stall a normal request; each slow one gets 408 at the whole-request bound', async () => {
  const timeoutS = 3;
  await withServer(['--timeout', String(timeoutS)], async (b) => {
    const port = Number(new URL(b).port);
    const started = Date.now();
    const slow = [], timers = [];
    for (let i = 0; i < 22; i++) {
      const sock = connect(port, '127.0.0.1');
      const rec = { sock, data: '', closedAt: 0 };
      sock.on('data', (d) => (rec.data += d));
      sock.on('close', () => (rec.closedAt = Date.now()));
      sock.on('error', () => {});
      if (i < 20) {
        // a header trickling in one byte every 100 ms: never complete, never silent for long
        sock.on('connect', () => sock.write('POST /v1/completions HTTP/1.1\r\nX-Slow: '));
        timers.push(setInterval(() => !sock.destroyed && sock.write('a'), 100));
      }
      slow.push(rec);
    }
    try {
      await sleep(300);
      const t0 = Date.now();
      const r = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
      assert.equal(r.status, 200);
      const text = (await r.json()).choices[0].text;
      const waited = Date.now() - t0;
      assert.ok(waited < timeoutS * 1000, `the normal request waited ${waited} ms behind slow clients`);
      assert.equal(text, kiteRun(['-p', 'Once upon a time', '-n', '8']));
      // every slow and idle connection is cut at the bound though the slow ones keep sending
      const limit = started + (timeoutS + 3) * 1000;
      while (slow.some((x) => !x.closedAt) && Date.now() < limit) await sleep(50);
      for (const [i, x] of slow.entries()) {
        assert.ok(x.closedAt, `connection ${i} still open ${Date.now() - started} ms after it started`);
        if (i < 20) {
          assert.match(x.data, /^HTTP\/1\.1 408 /, `slow connection ${i}`);
          assert.match(x.data, /within the limit of 3 s/);
        } else assert.equal(x.data, '', 'an idle connection is closed without an answer');
      }
    } finally {
      for (const t of timers) clearInterval(t);
      for (const x of slow) x.sock.destroy();
    }
  });
});

test('a client that leaves a non-stream request frees the model at once; /health answers during a long stream', async (t) => {
  // 20 ms per token: 1000 tokens would take 20 s (greedy stories260K does not stop early)
  await withServer(['--parallel', '1', '--token-delay', '20', '--metrics'], async (b) => {
    const ac = new AbortController();
    const gone = postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 1000, temperature: 0 }, {}, ac.signal).catch((e) => e);
    await sleep(400);
    ac.abort();
    await gone;
    const t0 = Date.now();
    const r = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 4, temperature: 0 });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).choices[0].text, kiteRun(['-p', 'Once upon a time', '-n', '4']));
    assert.ok(Date.now() - t0 < 5000, `the next request waited ${Date.now() - t0} ms for the abandoned one`);
    const metrics = await (await fetch(b + '/metrics', { signal: AbortSignal.timeout(T) })).text();
    const predicted = Number(metrics.match(/^llamacpp:tokens_predicted_total (\d+)$/m)[1]);
    assert.ok(predicted < 200, `the abandoned request went on generating (${predicted} tokens in all)`);

    // a long stream; cheap endpoints answer while it runs
    const sac = new AbortController();
    const s = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 1000, temperature: 0, stream: true }, {}, sac.signal);
    const reader = s.body.getReader();
    await reader.read(); // the first chunk: generation is under way
    let streamEnded = false;
    const drain = (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {}
      streamEnded = true;
    })();
    for (const path of ['/health', '/v1/models', '/props', '/slots']) {
      const t1 = performance.now();
      const h = await fetch(b + path, { signal: AbortSignal.timeout(T) });
      t.diagnostic(`${path} during the stream: ${(performance.now() - t1).toFixed(1)} ms`); // reported, not asserted
      assert.equal(h.status, 200, path);
      const j = await h.json();
      if (path === '/slots') {
        assert.equal(j.length, 1);
        assert.equal(j[0].is_processing, true);
        assert.equal(j[0].state, 'generating');
      }
    }
    const tk = await postJson(b, '/tokenize', { content: 'Once upon a time' });
    assert.equal(tk.status, 200);
    await tk.arrayBuffer();
    assert.equal(streamEnded, false, 'the cheap endpoints were answered only after the stream ended');
    sac.abort();
    await drain;
  });
});

test('503 with Retry-After when the slots and the queue are full', async () => {
  await withServer(['--parallel', '1', '--max-queue', '1', '--token-delay', '20', '--metrics'], async (b) => {
    const acs = [new AbortController(), new AbortController()];
    const body = { prompt: 'Once upon a time', max_tokens: 1000, temperature: 0, stream: true };
    const first = await postJson(b, '/v1/completions', body, {}, acs[0].signal);
    const reader = first.body.getReader();
    await reader.read(); // generating
    const second = postJson(b, '/v1/completions', body, {}, acs[1].signal).catch((e) => e); // waits for the slot
    for (let i = 0; i < 100; i++) { // until the server counts it as waiting
      const m = await (await fetch(b + '/metrics', { signal: AbortSignal.timeout(T) })).text();
      if (/^llamacpp:requests_deferred 1$/m.test(m)) break;
      await sleep(50);
    }
    const third = await postJson(b, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(third.status, 503);
    assert.equal(third.headers.get('retry-after'), '1');
    assert.match((await third.json()).error.message, /busy.*--parallel/);
    const slots = await (await fetch(b + '/slots', { signal: AbortSignal.timeout(T) })).json();
    assert.equal(slots[0].is_processing, true);
    for (const ac of acs) ac.abort();
    await reader.cancel().catch(() => {});
    await second;
    // once they are gone the server serves again
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      const r = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 2, temperature: 0 });
      ok = r.status === 200;
      await r.arrayBuffer();
      if (!ok) await sleep(100);
    }
    assert.ok(ok, 'the server stayed busy after its clients left');
  });
});

// Continuous batching: the slots' decode steps run as one batch. A sequence's greedy text is the
// same batched as alone: the kernels' results do not depend on the batch, as long as attention
// takes the same path (ggml's flash attention, which kite follows, switches to a tiled kernel at
// 64 tokens per step: these prompts are short, so no step of the batch reaches it).
const BATCH_PROMPTS = ['Once upon a time', 'The little dog', 'Lily and Ben went', 'One day, a bird'];

test('continuous batching: parallel greedy requests give exactly the texts each gives alone (kite run)', async () => {
  const n = 40;
  const alone = BATCH_PROMPTS.map((p) => kiteRun(['-p', p, '-n', String(n)]));
  // 5 ms per step keeps all four generating at the same time
  await withServer(['--parallel', '4', '--token-delay', '5', '--metrics'], async (b) => {
    const slotsSeen = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const sl = await (await fetch(b + '/slots', { signal: AbortSignal.timeout(T) })).json();
        slotsSeen.push(sl.filter((x) => x.is_processing).length);
        await sleep(10);
      }
    })();
    const replies = await Promise.all(
      BATCH_PROMPTS.map(async (prompt, i) => {
        const stream = i % 2 === 1; // streamed and whole replies in the same batch
        const r = await postJson(b, '/v1/completions', { prompt, max_tokens: n, temperature: 0, stream });
        assert.equal(r.status, 200);
        if (!stream) return (await r.json()).choices[0].text;
        return sseData(await r.text()).slice(0, -1).map((e) => JSON.parse(e).choices[0].text).join('');
      }),
    );
    polling = false;
    await poll;
    for (const [i, text] of replies.entries()) assert.equal(text, alone[i], `prompt ${JSON.stringify(BATCH_PROMPTS[i])}`);
    assert.ok(Math.max(...slotsSeen) >= 2, `never two slots busy at once: ${slotsSeen}`);
    const props = await (await fetch(b + '/props', { signal: AbortSignal.timeout(T) })).json();
    assert.equal(props.concurrent_generations, 4);
  });
  // a prompt longer than the batch size is fed in pieces (-b 8): the same text as kite run -b 8
  const long = 'Once upon a time, there was a little girl named Lily. She loved to play outside';
  await withServer(['-b', '8'], async (b) => {
    const r = await postJson(b, '/v1/completions', { prompt: long, max_tokens: 20, temperature: 0 });
    assert.equal((await r.json()).choices[0].text, kiteRun(['-p', long, '-n', '20', '-b', '8']));
  });
});

test('continuous batching: a later stream starts and ends while an earlier one is still generating', async () => {
  await withServer(['--parallel', '2', '--token-delay', '10'], async (b) => {
    const events = [];
    const ac = new AbortController();
    const first = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 400, temperature: 0, stream: true }, {}, ac.signal);
    const reader = first.body.getReader();
    await reader.read();
    events.push('first: first chunk');
    const drain = (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (new TextDecoder().decode(value).includes('[DONE]')) events.push('first: done');
        }
      } catch {}
      events.push('first: closed');
    })();
    const second = await postJson(b, '/v1/completions', { prompt: 'The little dog', max_tokens: 8, temperature: 0, stream: true });
    const r2 = second.body.getReader();
    await r2.read();
    events.push('second: first chunk');
    let text = '';
    for (;;) {
      const { done, value } = await r2.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    events.push('second: done');
    assert.equal(sseData(text).at(-1), '[DONE]');
    ac.abort();
    await drain;
    // 400 tokens at 10 ms per step take 4 s; the second reply (8 tokens) came in between
    assert.deepEqual(events.slice(0, 3), ['first: first chunk', 'second: first chunk', 'second: done']);
    assert.ok(!events.includes('first: done'), `events: ${events}`);
  });
});

test('a client that leaves a stream frees its slot at once for a queued request', async () => {
  await withServer(['--parallel', '1', '--token-delay', '20', '--metrics'], async (b) => {
    const ac = new AbortController();
    const first = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 1000, temperature: 0, stream: true }, {}, ac.signal);
    const reader = first.body.getReader();
    await reader.read(); // generating (1000 tokens would take 20 s)
    const queued = postJson(b, '/v1/completions', { prompt: 'The little dog', max_tokens: 4, temperature: 0 });
    for (let i = 0; i < 100; i++) { // until the server counts it as waiting for the slot
      const m = await (await fetch(b + '/metrics', { signal: AbortSignal.timeout(T) })).text();
      if (/^llamacpp:requests_deferred 1$/m.test(m)) break;
      await sleep(50);
    }
    ac.abort();
    await reader.cancel().catch(() => {});
    const r = await queued;
    assert.equal(r.status, 200);
    assert.equal((await r.json()).choices[0].text, kiteRun(['-p', 'The little dog', '-n', '4']));
    const m = await (await fetch(b + '/metrics', { signal: AbortSignal.timeout(T) })).text();
    const predicted = Number(m.match(/^llamacpp:tokens_predicted_total (\d+)$/m)[1]);
    assert.ok(predicted < 300, `the abandoned stream went on generating (${predicted} tokens in all)`);
  });
});

test('SIGTERM exits within a second despite a stuck connection and a running generation', async () => {
  const { proc, base: b } = await startServer(model, ['--token-delay', '20']);
  const port = Number(new URL(b).port);
  const stuck = connect(port, '127.0.0.1', () => stuck.write('POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"pro'));
  stuck.on('error', () => {});
  const ac = new AbortController();
  const s = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 1000, stream: true }, {}, ac.signal);
  const reader = s.body.getReader();
  await reader.read();
  await sleep(100);
  const t0 = Date.now();
  const exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  proc.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(5000).then(() => 'timeout')]);
  const ms = Date.now() - t0;
  stuck.destroy();
  ac.abort();
  if (code === 'timeout') proc.kill('SIGKILL');
  assert.equal(code, 0);
  assert.ok(ms < 1000, `exit took ${ms} ms`);
});

test('unsupported parameters give 400 naming them; limits are named with integers', async () => {
  const cases = [
    [{ tools: { type: 'function', function: { name: 'f' } } }, /'tools'/], // chat: not an array; completions: no tools
    [{ tool_choice: 'required' }, /'tool_choice'/],
    [{ response_format: { type: 'xml' } }, /'response_format' of type 'xml'/],
    [{ response_format: { type: 'json_schema', json_schema: {} } }, /'response_format'/],
    [{ n: 2 }, /'n' = 2/],
    [{ logit_bias: { 1: 5 } }, /'logit_bias'/],
    [{ grammar: 'root ::= "a' }, /'grammar': grammar: line 1, column 10: unterminated string literal/],
    [{ json_schema: { type: 'kaboom' } }, /'json_schema': json schema: JSON schema error at #: unrecognized type kaboom/],
    [{ max_tokens: 1e9 }, /'max_tokens' = 1000000000 is out of range \[-1, 16777216\]/],
    [{ top_k: 99999999 }, /\[0, 16777216\]/],
    [{ repeat_last_n: 2000000 }, /'repeat_last_n' = 2000000 is out of range \[0, 1048576\]/], // the sampler's window limit
    [{ repeat_last_n: -1 }, /'repeat_last_n' = -1 is out of range \[0, 1048576\]/], // as llama-server's hard limit [0, INT32_MAX]
  ];
  for (const [extra, re] of cases) {
    for (const path of ['/v1/chat/completions', '/v1/completions']) {
      const body = path.includes('chat') ? { messages: [{ role: 'user', content: 'hi' }], ...extra } : { prompt: 'hi', ...extra };
      const r = await post(path, body);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(extra)}`);
      const msg = (await r.json()).error.message;
      assert.match(msg, re);
      assert.doesNotMatch(msg, /e\+/, 'a number printed in exponent form');
    }
  }
  // what asks for nothing is accepted
  const fine = await post('/v1/chat/completions', {
    messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, tools: [], logprobs: false, response_format: { type: 'text' }, n: 1, tool_choice: 'none',
  });
  assert.equal(fine.status, 200);
  await fine.arrayBuffer();
  // a prompt longer than the context: 400 naming the limit
  await withServer(['-c', '64'], async (b) => {
    const r = await postJson(b, '/v1/completions', { prompt: 'Once upon a time '.repeat(40), max_tokens: 2 });
    assert.equal(r.status, 400);
    assert.match((await r.json()).error.message, /prompt is \d+ tokens; the limit is 63/);
  });
  assert.match(await rawHttp(`POST /v1/completions HTTP/1.1\r\nContent-Length: ${9 * 1024 * 1024}\r\n\r\n`), /^HTTP\/1\.1 413 [^]*limit of 8388608 bytes/);
});

test('300 idle connections (over the limit of 256) do not lock a new client out', async () => {
  await withServer([], async (b) => {
    const port = Number(new URL(b).port);
    const idle = [];
    try {
      for (let i = 0; i < 300; i++) {
        const sock = connect(port, '127.0.0.1');
        sock.on('error', () => {});
        idle.push(sock);
      }
      await Promise.all(idle.map((s) => (s.readyState === 'open' ? null : new Promise((r) => s.once('connect', r).once('close', r)))));
      await sleep(200);
      const r = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 3, temperature: 0 });
      assert.equal(r.status, 200);
      assert.equal((await r.json()).choices[0].text, kiteRun(['-p', 'Once upon a time', '-n', '3']));
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});

test('reasoning off renders Qwen3\'s template as llama-server does: chat_template_kwargs.enable_thinking, reasoning_effort "none", --reasoning off', async () => {
  const { QWEN3_TEMPLATE, CONVERSATIONS, LLAMA_SERVER_PROMPTS, BAD_TYPE_MESSAGE } = await import('./qwen3_template.mjs');
  const apply = (b, body) => fetch(b + '/apply-template', { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(T) });
  const prompt = async (b, body) => {
    const r = await apply(b, body);
    assert.equal(r.status, 200);
    return (await r.json()).prompt;
  };
  await withServer(['--chat-template', QWEN3_TEMPLATE], async (b) => {
    // a role OpenAI lacks (Qwen3's template drops it, llama-server passes it on) is refused by
    // name; the conversation without it renders as the template renders the whole
    const openaiRoles = async (all) => {
      const messages = all.filter((m) => ['system', 'developer', 'user', 'assistant', 'tool'].includes(m.role));
      if (messages.length < all.length) {
        const r = await apply(b, { messages: all });
        assert.equal(r.status, 400);
        assert.match((await r.json()).error.message, /^messages\[\d+\]\.role is 'critic': expected system, developer, user, assistant or tool$/);
      }
      return messages;
    };
    for (const [i, all] of CONVERSATIONS.entries()) {
      const want = LLAMA_SERVER_PROMPTS[i];
      const messages = await openaiRoles(all);
      assert.equal(await prompt(b, { messages }), want.thinking);
      assert.equal(await prompt(b, { messages, chat_template_kwargs: { enable_thinking: true } }), want.thinking);
      assert.equal(await prompt(b, { messages, chat_template_kwargs: { enable_thinking: false } }), want.off);
      assert.equal(await prompt(b, { messages, reasoning_effort: 'none' }), want.off);
    }
    // multi-turn conversations with reasoning in the replies: the Jinja engine's rendering
    const { MULTI_TURN } = await import('./qwen3_template.mjs');
    const { renderQwen3 } = await import('../unit/data/gen_qwen3_cases.mjs');
    for (const all of MULTI_TURN) {
      const messages = await openaiRoles(all);
      assert.equal(await prompt(b, { messages }), renderQwen3(all, true, false));
      assert.equal(await prompt(b, { messages, chat_template_kwargs: { enable_thinking: false } }), renderQwen3(all, true, true));
    }
    // a reasoning budget (llama-server's reasoning_budget_tokens / thinking_budget_tokens): this
    // random model opens no block, so the reply is the same; bad values are refused
    const chat = async (extra) => {
      const r = await fetch(b + '/v1/chat/completions', { method: 'POST', body: JSON.stringify({ messages: CONVERSATIONS[0], max_tokens: 6, temperature: 0, ...extra }), signal: AbortSignal.timeout(T) });
      return { status: r.status, body: await r.json() };
    };
    const plain = await chat({});
    assert.equal(plain.status, 200);
    for (const extra of [{ reasoning_budget_tokens: 0 }, { thinking_budget_tokens: 2, reasoning_budget_message: 'ok' }]) {
      const r = await chat(extra);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.choices[0].message.content, plain.body.choices[0].message.content);
    }
    for (const [extra, msg] of [[{ reasoning_budget_tokens: -2 }, /'reasoning_budget_tokens' = -2 is out of range \[-1, 2147483647\]/], [{ reasoning_budget_tokens: 'x' }, /'reasoning_budget_tokens' must be a number/], [{ reasoning_budget_message: 3 }, /reasoning_budget_message/]]) {
      const r = await chat(extra);
      assert.equal(r.status, 400);
      assert.match(r.body.error.message, msg);
    }
    const bad = await apply(b, { messages: CONVERSATIONS[0], chat_template_kwargs: { enable_thinking: 'false' } });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.message, BAD_TYPE_MESSAGE);
  });
  // the server's default, which a request may turn back on
  await withServer(['--chat-template', QWEN3_TEMPLATE, '--reasoning', 'off'], async (b) => {
    assert.equal(await prompt(b, { messages: CONVERSATIONS[0] }), LLAMA_SERVER_PROMPTS[0].off);
    assert.equal(await prompt(b, { messages: CONVERSATIONS[0], chat_template_kwargs: { enable_thinking: true } }), LLAMA_SERVER_PROMPTS[0].thinking);
  });
  // a template without the setting (this model's chatml) is unchanged, as a Jinja template ignores it
  const plain = await prompt(base, { messages: CONVERSATIONS[0] });
  assert.equal(await prompt(base, { messages: CONVERSATIONS[0], chat_template_kwargs: { enable_thinking: false } }), plain);
});

test('llama-server endpoints: /completion, /tokenize and /detokenize (as llama.cpp), /apply-template, /props, /slots, /metrics', async () => {
  const want = kiteRun(['-p', 'Once upon a time', '-n', '12']);
  const c = await (await post('/completion', { prompt: 'Once upon a time', n_predict: 12, temperature: 0 })).json();
  assert.equal(c.content, want);
  assert.equal(c.stop, true);
  assert.equal(c.stop_type, 'limit');
  assert.equal(c.tokens_predicted, 12);
  const sc = sseData(await (await post('/completion', { prompt: 'Once upon a time', n_predict: 12, temperature: 0, stream: true })).text());
  const parts = sc.map((e) => JSON.parse(e));
  assert.equal(parts.map((p) => p.content).join(''), want);
  assert.equal(parts.at(-1).stop, true);
  assert.ok(parts.slice(0, -1).every((p) => p.stop === false));

  // token ids from llama.cpp itself
  const { llama, llamaDispose } = await import('./llama_ref.mjs');
  const text = 'Once upon a time, Lily saw a big red ball.';
  let ref;
  try {
    const m = await (await llama()).loadModel({ modelPath: model, gpuLayers: 0 });
    ref = Array.from(m.tokenize(text, false));
    await m.dispose();
  } finally {
    await llamaDispose();
  }
  const tk = await (await post('/tokenize', { content: text })).json();
  assert.deepEqual(tk.tokens, ref);
  const withBos = await (await post('/tokenize', { content: text, add_special: true })).json();
  assert.deepEqual(withBos.tokens, [1, ...ref]);
  const pieces = await (await post('/tokenize', { content: 'Once upon', with_pieces: true })).json();
  assert.deepEqual(pieces.tokens.map((p) => p.piece).join(''), ' Once upon');
  const dt = await (await post('/detokenize', { tokens: ref })).json();
  assert.equal(dt.content, text);
  const badTok = await post('/detokenize', { tokens: [1, 99999] });
  assert.equal(badTok.status, 400);
  assert.match((await badTok.json()).error.message, /tokens\[1\] is not a token id in \[0, 512\)/);

  // chatml as published: <|im_start|>role\ncontent<|im_end|>\n ... then the assistant's turn
  const at = await (await post('/apply-template', { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] })).json();
  assert.equal(at.prompt, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
  // OpenAI's developer role is the system's (llama.cpp maps it so for every template but GPT-OSS's)
  const dev = await (await post('/apply-template', { messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] })).json();
  assert.equal(dev.prompt, at.prompt);

  const props = await (await fetch(base + '/props', { signal: AbortSignal.timeout(T) })).json();
  assert.equal(props.total_slots, 4);
  assert.equal(props.default_generation_settings.n_ctx, 2048);
  assert.equal(props.default_generation_settings.params.temperature, 0.8);
  const slots = await (await fetch(base + '/slots', { signal: AbortSignal.timeout(T) })).json();
  assert.equal(slots.length, 4);
  assert.ok(slots.every((x) => x.is_processing === false));
  const off = await fetch(base + '/metrics', { signal: AbortSignal.timeout(T) });
  assert.equal(off.status, 501);
  assert.match((await off.json()).error.message, /--metrics/);
  await withServer(['--metrics', '--parallel', '2'], async (b) => {
    const r = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 7, temperature: 0 });
    const u = (await r.json()).usage;
    const m = await fetch(b + '/metrics', { signal: AbortSignal.timeout(T) });
    assert.match(m.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const t = await m.text();
    assert.match(t, /^# TYPE llamacpp:tokens_predicted_total counter$/m);
    assert.match(t, new RegExp(`^llamacpp:tokens_predicted_total ${u.completion_tokens}$`, 'm'));
    assert.match(t, new RegExp(`^llamacpp:prompt_tokens_total ${u.prompt_tokens}$`, 'm'));
    assert.match(t, /^kite:slots_total 2$/m);
    assert.match(t, /^llamacpp:requests_processing 0$/m);
  });
});

test('logprobs: the log-softmax of the logits as llama.cpp computes them, in the chat, completions and native shapes', async () => {
  const prompt = 'Once upon a time';
  const n = 6;
  const nat = await (await post('/completion', { prompt, n_predict: n, temperature: 0, n_probs: 3 })).json();
  const probs = nat.completion_probabilities;
  assert.equal(probs.length, n);
  // llama.cpp's distribution at each position (temperature 1, no truncation: the full softmax)
  const { llama, llamaDispose } = await import('./llama_ref.mjs');
  const ref = [];
  try {
    const m = await (await llama()).loadModel({ modelPath: model, gpuLayers: 0 });
    const ctx = await m.createContext({ contextSize: 256, threads: 1 });
    const seq = ctx.getSequence();
    const ids = [m.tokens.bos, ...m.tokenize(prompt, false)];
    for (let k = 0; k < n; k++) {
      await seq.clearHistory();
      const it = seq.evaluateWithMetadata([...ids, ...probs.slice(0, k).map((p) => p.id)], { probabilities: true }, { temperature: 1, topK: 0, topP: 1, minP: 0 });
      ref.push((await it.next()).value.probabilities);
      await it.return();
    }
    await ctx.dispose();
    await m.dispose();
  } finally {
    await llamaDispose();
  }
  for (const [k, p] of probs.entries()) {
    const r = ref[k];
    assert.equal(r.size, 512);
    assert.ok(Math.abs(p.logprob - Math.log(r.get(p.id))) < 1e-3, `token ${k}: ${p.logprob} vs ${Math.log(r.get(p.id))}`);
    const top = [...r.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
    assert.deepEqual(p.top_logprobs.map((t) => t.id), top.map(([id]) => id), `top ids at ${k}`);
    for (const [j, t] of p.top_logprobs.entries()) assert.ok(Math.abs(t.logprob - Math.log(top[j][1])) < 1e-3);
    assert.equal(Buffer.from(p.bytes).toString(), p.token);
  }
  assert.equal(probs.map((p) => p.token).join(''), nat.content);

  // the same numbers in OpenAI's legacy completions shape, streamed or not
  const c = await (await post('/v1/completions', { prompt, max_tokens: n, temperature: 0, logprobs: 3 })).json();
  const lp = c.choices[0].logprobs;
  assert.deepEqual(lp.token_logprobs, probs.map((p) => p.logprob));
  assert.deepEqual(lp.tokens.join(''), c.choices[0].text);
  assert.deepEqual(lp.text_offset, lp.tokens.map((_, i) => lp.tokens.slice(0, i).join('').length));
  assert.deepEqual(Object.keys(lp.top_logprobs[0]), probs[0].top_logprobs.map((t) => t.token));
  const sc = sseData(await (await post('/v1/completions', { prompt, max_tokens: n, temperature: 0, logprobs: 1, stream: true })).text());
  const streamed = sc.slice(0, -1).flatMap((e) => JSON.parse(e).choices[0].logprobs?.token_logprobs ?? []);
  assert.deepEqual(streamed, lp.token_logprobs);

  // chat: logprobs + top_logprobs, and a stop string drops the tokens it cut
  const msgs = [{ role: 'user', content: 'Tell me a story' }];
  const ch = await (await post('/v1/chat/completions', { messages: msgs, max_tokens: 12, temperature: 0, logprobs: true, top_logprobs: 2 })).json();
  const content = ch.choices[0].logprobs.content;
  assert.equal(content.length, 12);
  assert.equal(content.map((t) => t.token).join(''), ch.choices[0].message.content);
  for (const t of content) {
    assert.equal(t.top_logprobs.length, 2);
    assert.equal(t.top_logprobs[0].logprob, t.logprob); // greedy: the chosen token is the likeliest
  }
  const text = ch.choices[0].message.content;
  const cut = text.slice(text.length >> 1, (text.length >> 1) + 3);
  const stopped = await (await post('/v1/chat/completions', { messages: msgs, max_tokens: 12, temperature: 0, logprobs: true, stop: [cut] })).json();
  const kept = stopped.choices[0].message.content;
  assert.equal(kept, text.slice(0, text.indexOf(cut)));
  const keptTokens = stopped.choices[0].logprobs.content;
  assert.ok(keptTokens.length < 12);
  assert.ok(keptTokens.map((t) => t.token).join('').startsWith(kept));
  const bad = await post('/v1/chat/completions', { messages: msgs, top_logprobs: 2 });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /'top_logprobs' needs 'logprobs': true/);
  const tooMany = await post('/v1/completions', { prompt, logprobs: 21 });
  assert.equal(tooMany.status, 400);
  assert.match((await tooMany.json()).error.message, /'logprobs' = 21 is out of range \[0, 20\]/);
});

test('many large bodies at once: 503 beyond the server-wide buffer budget, then normal service', async () => {
  await withServer(['--timeout', '5'], async (b) => {
    const port = Number(new URL(b).port);
    const chunk = Buffer.alloc(6 << 20, 0x20);
    const conns = [];
    for (let i = 0; i < 12; i++) {
      const sock = connect(port, '127.0.0.1');
      const rec = { sock, data: '' };
      sock.on('data', (d) => (rec.data += d));
      sock.on('error', () => {});
      sock.on('connect', () => {
        sock.write(`POST /v1/completions HTTP/1.1\r\nContent-Length: ${8 << 20}\r\n\r\n`);
        sock.write(chunk); // 6 of the 8 MiB announced: the rest never comes
      });
      conns.push(rec);
    }
    try {
      const until = Date.now() + 4000;
      while (!conns.some((c) => c.data) && Date.now() < until) await sleep(50);
      await sleep(300);
      const refused = conns.filter((c) => /^HTTP\/1\.1 503 /.test(c.data));
      assert.ok(refused.length >= 1, 'no connection was refused');
      assert.ok(refused.length < 12, 'every connection was refused');
      assert.match(refused[0].data, /too many large requests at once \(limit 64 MiB in all\)/);
      const r = await postJson(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 3, temperature: 0 });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    } finally {
      for (const c of conns) c.sock.destroy();
    }
  });
});

test('embeddings: /v1/embeddings and /embedding give kite embed\'s vectors (checked against llama.cpp in embed.test.mjs)', async () => {
  const text = 'Once upon a time, there was a little girl';
  const cli = (args) => JSON.parse(execFileSync(kiteBin(), ['embed', '-m', model, '-p', text, ...args], { encoding: 'utf8', timeout: T }));
  const want = cli([]); // the model's pooling (mean: stories260K names none), Euclidean-normalized
  const close = (a, b, what) => {
    assert.equal(a.length, b.length, what);
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `${what}[${i}]: ${v} vs ${b[i]}`));
  };
  const r = await post('/v1/embeddings', { input: [text, 'hi'], model: 'any' });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.object, 'list');
  assert.equal(j.model, 'any');
  assert.equal(j.data.length, 2);
  assert.deepEqual(j.data.map((d) => [d.index, d.object]), [[0, 'embedding'], [1, 'embedding']]);
  close(j.data[0].embedding, want, 'input[0]');
  assert.ok(j.usage.prompt_tokens > 0 && j.usage.prompt_tokens === j.usage.total_tokens);
  // token ids in, the same vector; base64 out, the same float32 bytes
  const ids = (await (await post('/tokenize', { content: text, add_special: true })).json()).tokens;
  const byIds = (await (await post('/v1/embeddings', { input: ids })).json()).data[0].embedding;
  close(byIds, want, 'token ids');
  const b64 = (await (await post('/v1/embeddings', { input: text, encoding_format: 'base64' })).json()).data[0].embedding;
  const buf = Buffer.from(b64, 'base64');
  close(Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4)), want, 'base64');
  // llama-server's native shape, and no normalization on request
  const nat = await (await post('/embedding', { content: text, embd_normalize: -1 })).json();
  assert.equal(nat.length, 1);
  assert.equal(nat[0].index, 0);
  close(nat[0].embedding[0], cli(['--embd-normalize', '-1']), 'embd_normalize -1');
  for (const [body, re] of [
    [{ input: [] }, /'input' must be/],
    [{ input: [[]] }, /input\[0\] is empty/],
    [{ input: [1, 99999] }, /input\[0\]\[1\] is not a token id in \[0, 512\)/],
    [{ input: 'x'.repeat(10), dimensions: 8 }, /'dimensions'/],
    [{ input: 'x', encoding_format: 'hex' }, /encoding_format/],
  ]) {
    const e = await post('/v1/embeddings', body);
    assert.equal(e.status, 400, JSON.stringify(body));
    assert.match((await e.json()).error.message, re);
  }
  await withServer(['-c', '16'], async (b) => {
    const e = await postJson(b, '/v1/embeddings', { input: 'Once upon a time '.repeat(10) });
    assert.equal(e.status, 400);
    assert.match((await e.json()).error.message, /input\[0\] is \d+ tokens; the limit is 16/);
  });
});
