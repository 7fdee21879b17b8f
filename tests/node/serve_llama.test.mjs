// serve_llama.test.mjs - `kite serve` where a llama-server client notices the difference: the
// /metrics names and types (llamacpp:*), what -c means with --parallel (a slot's share of the
// context, and the exceed_context_size_error a longer prompt gets), 503 "Loading model" while the
// model loads, and the error shape {error: {code, message, type}} with llama-server's types.
// The reference values are llama-server's, recorded from the llama.cpp source node-llama-cpp ships
// (tools/server: server-task.cpp to_metrics, server-context.cpp n_ctx_slot, llama-context.cpp
// n_ctx_seq, server-http.cpp) and checked against a running llama-server when
// build/llama.cpp/bin/llama-server exists (bench/build_llama_cpp.sh builds it). Loopback only,
// every step time-bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { kiteBin, modelsDir, repoRoot, requireModels } from './helpers.mjs';

const T = 20000; // ms: the bound of any single request
const LLAMA_SERVER = process.env.LLAMA_SERVER || join(repoRoot, 'build/llama.cpp/bin/llama-server');
const haveLlama = existsSync(LLAMA_SERVER);

// llama-server's /metrics with --metrics (name -> type), as server_task_result_metrics::to_metrics
// writes them; the labelled spec_decode_num_accepted_tokens_per_pos_total appears only after
// speculative decoding ran.
const LLAMA_METRICS = {
  'llamacpp:prompt_tokens_total': 'counter',
  'llamacpp:prompt_tokens_cached_total': 'counter',
  'llamacpp:prompt_seconds_total': 'counter',
  'llamacpp:tokens_predicted_total': 'counter',
  'llamacpp:tokens_predicted_seconds_total': 'counter',
  'llamacpp:n_decode_total': 'counter',
  'llamacpp:n_tokens_max': 'counter',
  'llamacpp:spec_decode_num_draft_tokens_total': 'counter',
  'llamacpp:spec_decode_num_accepted_tokens_total': 'counter',
  'llamacpp:spec_decode_num_drafts_total': 'counter',
  'llamacpp:prompt_tokens_seconds': 'gauge',
  'llamacpp:predicted_tokens_seconds': 'gauge',
  'llamacpp:requests_processing': 'gauge',
  'llamacpp:requests_deferred': 'gauge',
  'llamacpp:n_busy_slots_per_decode': 'gauge',
};

const model = () => join(modelsDir(), 'stories260K.gguf');

// A free loopback port (asked of the OS, then released).
const freePort = () => new Promise((res) => {
  const srv = createServer().listen(0, '127.0.0.1', () => {
    const p = srv.address().port;
    srv.close(() => res(p));
  });
});

// Starts a server (argv[0] the binary) and resolves with { proc, base } once readyRe matches its
// output.
function start(argv, readyRe, ms = 30000) {
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${argv[0]} did not start in ${ms} ms: ${out.slice(-2000)}`));
    }, ms);
    const onData = (d) => {
      out += d;
      const m = out.match(readyRe);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, base: m[1], output: () => out });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`${argv[0]} exited (${code}): ${out.slice(-2000)}`));
    });
  });
}

const startKite = (extra) =>
  start([kiteBin(), 'serve', '-m', model(), '--host', '127.0.0.1', '--port', '0', ...extra], /listening on (http:\/\/127\.0\.0\.1:\d+)/);

// llama-server on a free port (it has no port 0); CPU only, one thread.
async function startLlama(extra) {
  const port = await freePort();
  return start([LLAMA_SERVER, '-m', model(), '--host', '127.0.0.1', '--port', String(port), '-t', '1', '-ngl', '0', ...extra],
    /listening on (http:\/\/127\.0\.0\.1:\d+)/, 60000);
}

async function withServer(startFn, extra, fn) {
  const s = await startFn(extra);
  try {
    return await fn(s.base, s);
  } finally {
    if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
  }
}

const get = (b, path) => fetch(b + path, { signal: AbortSignal.timeout(T) });
const post = (b, path, body) => fetch(b + path, {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(T),
});

// Prometheus text -> { name: type } of the # TYPE lines, checking every sample has its TYPE.
function metricTypes(text) {
  const types = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^# TYPE (\S+) (\S+)$/);
    if (m) types[m[1]] = m[2];
    else if (line && !line.startsWith('#')) {
      const name = line.split(/[ {]/)[0];
      assert.ok(name in types, `sample ${line} has no # TYPE line before it`);
      assert.ok(Number.isFinite(Number(line.split(' ').at(-1))), `sample ${line} has no number`);
    }
  }
  return types;
}

const llamacppOnly = (types) => Object.fromEntries(Object.entries(types).filter(([k]) => k.startsWith('llamacpp:')));

test('/metrics: the llamacpp:* names and types of llama-server, with the counts of the requests served', async () => {
  requireModels();
  await withServer(startKite, ['--metrics', '--parallel', '2'], async (b) => {
    const r = await post(b, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 7, temperature: 0 });
    const u = (await r.json()).usage;
    const m = await get(b, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    assert.match(m.headers.get('process-start-time-unix'), /^\d+$/);
    const text = await m.text();
    assert.deepEqual(llamacppOnly(metricTypes(text)), LLAMA_METRICS);
    const v = (name) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))[1]);
    assert.equal(v('llamacpp:prompt_tokens_total'), u.prompt_tokens);
    assert.equal(v('llamacpp:tokens_predicted_total'), u.completion_tokens);
    // one forward pass per generated token after the prompt's (7 tokens: the prompt pass + 6)
    assert.equal(v('llamacpp:n_decode_total'), u.completion_tokens);
    assert.equal(v('llamacpp:n_busy_slots_per_decode'), 1);
    assert.equal(v('llamacpp:n_tokens_max'), u.prompt_tokens + u.completion_tokens - 1);
    assert.equal(v('llamacpp:requests_processing'), 0);
    assert.equal(v('llamacpp:requests_deferred'), 0);
    assert.ok(v('llamacpp:predicted_tokens_seconds') > 0);
    assert.equal(v('kite:slots_total'), 2);
  });
});

test('/metrics of a running llama-server has the same llamacpp:* names and types', { skip: !haveLlama && 'no build/llama.cpp/bin/llama-server' }, async () => {
  requireModels();
  await withServer(startLlama, ['--metrics', '--parallel', '2', '-c', '512'], async (b) => {
    const r = await post(b, '/completion', { prompt: 'Once upon a time', n_predict: 4, temperature: 0 });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    const types = metricTypes(await (await get(b, '/metrics')).text());
    assert.deepEqual(types, LLAMA_METRICS);
  });
});

// The exceed_context_size_error body, with what a check may rely on.
async function assertTooLong(r, nCtx) {
  assert.equal(r.status, 400);
  const e = (await r.json()).error;
  assert.equal(e.type, 'exceed_context_size_error');
  assert.equal(e.code, 400);
  assert.equal(e.n_ctx, nCtx);
  assert.ok(e.n_prompt_tokens >= nCtx, `n_prompt_tokens ${e.n_prompt_tokens}`);
  assert.equal(typeof e.message, 'string');
}

// -c 1024 --parallel 4: 256 tokens a slot (llama.cpp: n_ctx_seq = n_ctx / n_seq_max without
// --kv-unified). stories260K's tokenizer: "Once upon a time" is 4 tokens + BOS, and each repeat
// with a leading space 4 more, so 'Once upon a time' + ' Once upon a time' x k is 5 + 4k tokens.
const promptOf = (k) => 'Once upon a time' + ' Once upon a time'.repeat(k);
async function checkShare(b, { perSlot }) {
  const props = await (await get(b, '/props')).json();
  assert.equal(props.default_generation_settings.n_ctx, perSlot);
  assert.equal(props.total_slots, 4);
  const slots = await (await get(b, '/slots')).json();
  assert.deepEqual(slots.map((s) => s.n_ctx), [perSlot, perSlot, perSlot, perSlot]);
  const k = Math.ceil((perSlot - 5) / 4); // just over the share
  const tok = await (await post(b, '/tokenize', { content: promptOf(k), add_special: true })).json();
  assert.ok(tok.tokens.length >= perSlot && tok.tokens.length < perSlot + 4, `${tok.tokens.length} tokens`);
  await assertTooLong(await post(b, '/completion', { prompt: promptOf(k), n_predict: 1 }), perSlot);
  await assertTooLong(await post(b, '/v1/completions', { prompt: promptOf(k), max_tokens: 1 }), perSlot);
  const fits = await post(b, '/completion', { prompt: promptOf(k - 2), n_predict: 1, temperature: 0 });
  assert.equal(fits.status, 200);
  assert.equal((await fits.json()).tokens_predicted, 1);
}

test('-c with --parallel is shared out among the slots, as llama-server does; -kvu keeps it per slot', async () => {
  requireModels();
  await withServer(startKite, ['-c', '1024', '--parallel', '4'], (b) => checkShare(b, { perSlot: 256 }));
  await withServer(startKite, ['-c', '512', '--parallel', '4', '--kv-unified'], (b) => checkShare(b, { perSlot: 512 }));
  // no --parallel: llama-server's automatic 4 slots with the unified cache, each may fill -c
  await withServer(startKite, ['-c', '512'], (b) => checkShare(b, { perSlot: 512 }));
  await withServer(startKite, ['-c', '1024', '--parallel', '4', '--no-kv-unified'], (b) => checkShare(b, { perSlot: 256 }));
  // llama-server keeps its automatic slots unified even after --no-kv-unified
  await withServer(startKite, ['-c', '512', '--no-kv-unified'], (b) => checkShare(b, { perSlot: 512 }));
  // -c smaller than the slots: refused at the start, naming the problem
  await assert.rejects(startKite(['-c', '3', '--parallel', '4']), /-c 3 leaves no room for 4 slots/);
});

test('llama-server gives the same shares and the same error', { skip: !haveLlama && 'no build/llama.cpp/bin/llama-server' }, async () => {
  requireModels();
  await withServer(startLlama, ['-c', '1024', '--parallel', '4'], (b) => checkShare(b, { perSlot: 256 }));
  await withServer(startLlama, ['-c', '512', '--parallel', '4', '--kv-unified'], (b) => checkShare(b, { perSlot: 512 }));
  await withServer(startLlama, ['-c', '512', '--no-kv-unified'], (b) => checkShare(b, { perSlot: 512 }));
});

test('503 "Loading model" on every endpoint while the model loads, as llama-server answers', async () => {
  requireModels();
  // the port is printed once ready, so the server gets a known free one
  const port = await freePort();
  const proc = spawn(kiteBin(), ['serve', '-m', model(), '--host', '127.0.0.1', '--port', String(port), '--load-delay', '3000',
    '--api-key', 'k'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const b = `http://127.0.0.1:${port}`;
    let r = null;
    for (let i = 0; i < 100 && !r; i++) {
      r = await get(b, '/health').catch(() => null);
      if (!r) await new Promise((res) => setTimeout(res, 20));
    }
    assert.ok(r, 'the server did not accept connections while loading');
    assert.equal(r.status, 503);
    assert.deepEqual(await r.json(), { error: { message: 'Loading model', type: 'unavailable_error', code: 503 } });
    const gen = await post(b, '/v1/completions', { prompt: 'Once', max_tokens: 1 });
    assert.equal(gen.status, 503);
    assert.equal((await gen.json()).error.type, 'unavailable_error');
    let ok = false;
    for (let i = 0; i < 200 && !ok; i++) {
      ok = (await get(b, '/health')).status === 200;
      if (!ok) await new Promise((res) => setTimeout(res, 25));
    }
    assert.ok(ok, '/health never turned 200');
    const denied = await get(b, '/v1/models');
    assert.equal(denied.status, 401);
    assert.equal((await denied.json()).error.type, 'authentication_error');
  } finally {
    proc.kill('SIGKILL');
  }
});

async function checkErrorTypes(b) {
  const off = await get(b, '/metrics');
  assert.equal(off.status, 501);
  const e = (await off.json()).error;
  assert.equal(e.type, 'not_supported_error');
  assert.equal(e.code, 501);
  assert.match(e.message, /--metrics/);
  const nf = await get(b, '/no-such-endpoint');
  assert.equal(nf.status, 404);
  assert.deepEqual(Object.keys((await nf.json()).error).sort(), ['code', 'message', 'type']);
}

test("error bodies carry llama-server's types: 501 not_supported_error, 404 not_found_error", async () => {
  requireModels();
  await withServer(startKite, [], checkErrorTypes);
});

test('llama-server gives the same error types', { skip: !haveLlama && 'no build/llama.cpp/bin/llama-server' }, async () => {
  requireModels();
  await withServer(startLlama, ['-c', '512'], checkErrorTypes);
});

// The fields of /v1/models, /props and /slots that llama-server's clients (its web UI, dashboards)
// read, with stories260K's values (../shared/models/README.md: vocab 512, n_embd 64, context 2048).
async function checkShapes(b) {
  const models = await (await get(b, '/v1/models')).json();
  const meta = models.data[0].meta;
  assert.deepEqual([meta.n_vocab, meta.n_ctx_train, meta.n_embd], [512, 2048, 64]);
  const props = await (await get(b, '/props')).json();
  assert.equal(props.total_slots, 2);
  assert.equal(props.default_generation_settings.n_ctx, 256);
  assert.equal(typeof props.default_generation_settings.params.temperature, 'number');
  assert.deepEqual([props.bos_token, props.eos_token], ['<s>', '</s>']);
  assert.deepEqual(props.modalities, { vision: false, audio: false, video: false });
  assert.equal(props.endpoint_slots, true);
  assert.equal(props.is_sleeping, false);
  assert.equal(typeof props.chat_template, 'string');
  const before = await (await get(b, '/slots')).json();
  assert.ok(before.every((s) => !('id_task' in s)), 'id_task before any request');
  const r = await post(b, '/completion', { prompt: 'Once upon a time', n_predict: 3, temperature: 0 });
  assert.equal((await r.json()).tokens_predicted, 3);
  const slots = await (await get(b, '/slots')).json();
  assert.equal(slots.length, 2);
  for (const s of slots) {
    assert.equal(s.n_ctx, 256);
    assert.equal(s.is_processing, false);
    assert.equal(s.speculative, false);
  }
  // the slot that served it names the request and has llama-server's next_token entry
  const used = slots.filter((s) => 'id_task' in s);
  assert.equal(used.length, 1, JSON.stringify(slots));
  assert.equal(typeof used[0].id_task, 'number');
  assert.equal(used[0].next_token[0].has_next_token, false);
  assert.equal(typeof used[0].next_token[0].n_decoded, 'number');
  assert.ok(used[0].n_prompt_tokens >= 5, `n_prompt_tokens ${used[0].n_prompt_tokens}`);
  return used[0];
}

test('/v1/models, /props and /slots carry the fields llama-server clients read', async () => {
  requireModels();
  const used = await withServer(startKite, ['-c', '512', '--parallel', '2'], checkShapes);
  // Kite's counts (llama-server's: the tokens in the slot's cache, 7, and 0 decoded once done)
  assert.equal(used.n_prompt_tokens, 5);
  assert.equal(used.next_token[0].n_decoded, 3);
});

test('llama-server has the same fields and values', { skip: !haveLlama && 'no build/llama.cpp/bin/llama-server' }, async () => {
  requireModels();
  await withServer(startLlama, ['-c', '512', '--parallel', '2'], checkShapes);
});

// Runs kite serve with args until it exits (at most ms); { code, stderr, ms }.
function runToExit(args, ms, onSpawn = () => {}) {
  const t0 = Date.now();
  const proc = spawn(kiteBin(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  onSpawn(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`kite serve still running after ${ms} ms: ${stderr}`));
    }, ms);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - t0 });
    });
  });
}

test('listening before the model loads: a model that fails exits 1 naming it; SIGTERM while loading exits 0 at once', async () => {
  requireModels();
  const bad = await runToExit(['serve', '-m', '/nonexistent/model.gguf', '--host', '127.0.0.1', '--port', '0'], 10000);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /nonexistent\/model\.gguf/);
  assert.doesNotMatch(bad.stderr, /still running/);
  // SIGTERM once it answers 503 (loading), so the signal handlers are in place
  const port = await freePort();
  let loadingSeen = false;
  const term = await runToExit(['serve', '-m', model(), '--host', '127.0.0.1', '--port', String(port), '--load-delay', '20000'],
    15000, async (p) => {
      for (let i = 0; i < 200 && !loadingSeen; i++) {
        const r = await get(`http://127.0.0.1:${port}`, '/health').catch(() => null);
        loadingSeen = r?.status === 503;
        if (!loadingSeen) await new Promise((res) => setTimeout(res, 25));
      }
      p.kill('SIGTERM');
    });
  assert.ok(loadingSeen, 'never saw the loading state');
  assert.equal(term.code, 0, term.stderr);
  assert.ok(term.ms < 10000, `took ${term.ms} ms`);
});
