// wasm_download.test.mjs - downloads that stall: a server on 127.0.0.1 that sends the headers
// and part of the file, then nothing. An AbortSignal must reject loadModel, inspect and
// quantize promptly with an AbortError and close the connection; the stall timeout must
// reject with a KiteError naming the URL; a server that never answers counts as a stall too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, inspect, quantize, KiteError } from '../../web/index.js';
import { requireDist, repoRoot } from './wasm_helpers.mjs';

const file = readFileSync(join(repoRoot, 'models/stories260K.gguf'));

// /part: headers with the full Content-Length and the first 64 KB, then silence.
// /silent: no response at all. Tracks open connections so a test can see them closed.
function stallingServer() {
  const open = new Set();
  const server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    if (req.url === '/silent') return;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length });
    res.write(file.subarray(0, 65536));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const base = `http://127.0.0.1:${server.address().port}`;
      resolve({
        base,
        open,
        close: () => {
          for (const r of open) r.destroy();
          server.closeAllConnections?.();
          return new Promise((r) => server.close(r));
        },
      });
    });
  });
}

const calls = {
  loadModel: (url, o) => loadModel(url, { flavor: 'st', ...o }),
  inspect: (url, o) => inspect(url, o),
  quantize: (url, o) => quantize(url, 'Q8_0', { flavor: 'st', ...o }),
};

async function waitFor(cond, ms) {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

test('an AbortSignal stops a stalled download at once (loadModel, inspect, quantize)', async () => {
  requireDist(['st']);
  const srv = await stallingServer();
  try {
    for (const [name, call] of Object.entries(calls)) {
      const ac = new AbortController();
      let got = 0;
      const p = call(`${srv.base}/part`, {
        signal: ac.signal,
        stallTimeout: 60000,
        onProgress: (x) => { got = Math.max(got, x.loaded); },
      });
      // wait until the first bytes arrived: the download is under way, then stalls
      assert.ok(await waitFor(() => got >= 65536 || srv.open.size > 0, 10000), `${name}: the request reached the server`);
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      ac.abort();
      await assert.rejects(p, (e) => {
        assert.ok(e instanceof KiteError, `${name}: KiteError (got ${e?.constructor?.name}: ${e?.message})`);
        assert.equal(e.name, 'AbortError', name);
        return true;
      });
      assert.ok(Date.now() - t0 < 2000, `${name}: rejected ${Date.now() - t0} ms after the abort`);
      assert.ok(await waitFor(() => srv.open.size === 0, 5000), `${name}: the connection was closed`);
    }
  } finally {
    await srv.close();
  }
});

test('a stalled download fails after stallTimeout with the URL in the message', async () => {
  requireDist(['st']);
  const srv = await stallingServer();
  try {
    for (const [name, call] of Object.entries(calls)) {
      for (const path of ['/part', '/silent']) {
        const url = `${srv.base}${path}`;
        const t0 = Date.now();
        await assert.rejects(call(url, { stallTimeout: 500 }), (e) => {
          assert.ok(e instanceof KiteError, `${name} ${path}: KiteError (got ${e?.constructor?.name}: ${e?.message})`);
          assert.match(e.message, /stalled/, `${name} ${path}`);
          assert.ok(e.message.includes(url), `${name} ${path}: names the URL: ${e.message}`);
          return true;
        });
        const dt = Date.now() - t0;
        assert.ok(dt >= 450 && dt < 10000, `${name} ${path}: failed after ${dt} ms`);
        assert.ok(await waitFor(() => srv.open.size === 0, 5000), `${name} ${path}: the connection was closed`);
      }
    }
  } finally {
    await srv.close();
  }
});

test('stallTimeout is checked like every option', async () => {
  for (const bad of [0, -1, NaN, '5s'])
    await assert.rejects(loadModel('http://127.0.0.1:9/x.gguf', { stallTimeout: bad }), (e) => e instanceof KiteError && /stallTimeout/.test(e.message));
});
