// wasm_parallel_download.test.mjs - large downloads in parallel byte ranges (Node; the browser
// side with the OPFS cache is in wasm_parallel_cache.test.mjs). A 127.0.0.1 server serves a
// shared model (tests/node/range_server.mjs): the bytes must arrive identical (the package's
// sha256 check), with several Range requests in flight but never more than `connections`,
// covering the file exactly once; progress reports bytes and a speed; a server without Range,
// one that claims Range but ignores it, or one that names no version of the file (no ETag or
// Last-Modified) gives the same bytes over one stream; a 206 to a request for the whole file
// is read when it is the whole file, else refused; a file that changes between the first
// request and a part (If-Range ignored) is read again whole; an abort and a stall stop every
// part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { serve } from '../../web/serve.mjs';
import { inspect, KiteError } from '../../web/index.js';
import { requireDist, requireModels, model } from './wasm_helpers.mjs';
import { rangeRoutes, requestedRanges } from './range_server.mjs';

requireModels();
const NAME = 'rand-qwen2-f16.gguf';
const bytes = readFileSync(model(NAME));
const sha = createHash('sha256').update(bytes).digest('hex');
const MiB = 2 ** 20;

async function withServer(opts, fn) {
  const routes = rangeRoutes(bytes, opts);
  const srv = await serve({ port: 0, isolation: false, intercept: routes.intercept });
  try {
    return await fn(`http://127.0.0.1:${srv.port}`, routes);
  } finally {
    routes.destroyAll();
    await srv.close();
  }
}

async function waitFor(cond, ms) {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

test('parallel ranges: identical bytes, bounded connections, each byte asked for once', async () => {
  requireDist(['st']);
  await withServer({}, async (base, routes) => {
    const seen = [];
    const info = await inspect(`${base}/r/${NAME}`, {
      sha256: sha, connections: 3, partSize: 4 * MiB, onProgress: (p) => seen.push(p),
    });
    assert.equal(info.tensors?.length > 0 || info.n_tensors > 0, true, 'parsed');
    const parts = Math.ceil(bytes.length / (4 * MiB));
    // the first request is a plain GET (read for part 0, then cancelled); one Range per other part
    assert.equal(routes.log.length, parts, JSON.stringify(routes.log));
    assert.equal(routes.log[0].range, undefined);
    const ranges = requestedRanges(routes.log.slice(1), bytes.length).sort((a, b) => a[0] - b[0]);
    let next = 4 * MiB;
    for (const [a, b] of ranges) {
      assert.equal(a, next, 'parts follow one another with no gap or overlap');
      next = b + 1;
    }
    assert.equal(next, bytes.length);
    for (const x of routes.log.slice(1)) assert.equal(x.ifRange, '"kite-test-1"', 'every part is tied to the ETag');
    assert.ok(routes.maxInFlight >= 2, `requests overlapped (max in flight ${routes.maxInFlight})`);
    assert.ok(routes.maxRangedInFlight <= 3, `at most 3 ranged requests at once (${routes.maxRangedInFlight})`);
    // progress: bytes only go up, end at the size, and the speed is reported
    // (the download's reports: the sha256 check then reports its own pass from 0)
    const all = seen.filter((p) => p.stage === 'read' && p.total === bytes.length);
    const reads = all.slice(0, all.findIndex((p) => p.loaded === bytes.length) + 1);
    for (let i = 1; i < reads.length; i++) assert.ok(reads[i].loaded >= reads[i - 1].loaded);
    assert.ok(reads.some((p) => p.loaded === bytes.length));
    assert.ok(reads.some((p) => p.bytesPerSecond > 0), 'bytesPerSecond reported');
    assert.ok(reads.every((p) => p.secondsLeft === null || p.secondsLeft >= 0));
  });
});

test('a server without Range, one that ignores it, or one naming no version gives the same bytes over one stream', async () => {
  requireDist(['st']);
  await withServer({}, async (base, routes) => {
    await inspect(`${base}/norange/${NAME}`, { sha256: sha, connections: 4, partSize: 4 * MiB });
    assert.deepEqual(routes.log.map((x) => x.range), [undefined], 'one request, no Range');
    routes.log.length = 0;
    await inspect(`${base}/liar/${NAME}`, { sha256: sha, connections: 4, partSize: 4 * MiB });
    // the first part's Range came back whole: the parts stop and one stream reads the file
    assert.equal(routes.log[0].range, undefined);
    assert.equal(routes.log[routes.log.length - 1].range, undefined, JSON.stringify(routes.log));
    // connections: 1 never asks for a range
    routes.log.length = 0;
    await inspect(`${base}/r/${NAME}`, { sha256: sha, connections: 1, partSize: 4 * MiB });
    assert.deepEqual(routes.log.map((x) => x.range), [undefined]);
  });
  // No ETag or Last-Modified: nothing could tell parts of two versions apart, so one stream.
  await withServer({ etag: null }, async (base, routes) => {
    await inspect(`${base}/r/${NAME}`, { sha256: sha, connections: 4, partSize: 4 * MiB });
    assert.deepEqual(routes.log.map((x) => x.range), [undefined], 'one request, no Range');
  });
});

test('a 206 to a request for the whole file: bytes 0-(N-1)/N is read, a part is refused naming the URL', async () => {
  requireDist(['st']);
  await withServer({}, async (base, routes) => {
    await inspect(`${base}/whole206/${NAME}`, { sha256: sha, connections: 4, partSize: 4 * MiB });
    assert.deepEqual(routes.log.map((x) => x.range), [undefined], 'one request, no Range');
    const url = `${base}/half206/${NAME}`;
    await assert.rejects(inspect(url, { connections: 4, partSize: 4 * MiB }), (e) => e instanceof KiteError &&
      e.message.includes(url) && e.message.includes(`HTTP 206, Content-Range "bytes 0-${(bytes.length >> 1) - 1}/${bytes.length}"`));
  });
});

test('a file changed between the first request and a part (If-Range ignored): one stream reads the new file', async () => {
  requireDist(['st']);
  // The new version differs inside part 0 (tensor data, after the 5.9 MB header) and in the
  // last byte: part 0 of the old file beside the new file's other parts would be neither.
  const changed = Buffer.from(bytes);
  changed[8 * MiB - 100] ^= 1;
  changed[changed.length - 1] ^= 1;
  const changedSha = createHash('sha256').update(changed).digest('hex');
  await withServer({ changed }, async (base, routes) => {
    await inspect(`${base}/changing/${NAME}`, { sha256: changedSha, connections: 2, partSize: 8 * MiB });
    assert.equal(routes.log[0].range, undefined);
    assert.ok(routes.log.length > 1 && routes.log.at(-1).range === undefined, `started over: ${JSON.stringify(routes.log)}`);
  });
});

test('an abort or a stall stops every part and closes every connection', async () => {
  requireDist(['st']);
  await withServer({ holdFrom: 8 * MiB }, async (base, routes) => {
    const ac = new AbortController();
    let got = 0;
    const p = inspect(`${base}/hold/${NAME}`, {
      signal: ac.signal, connections: 4, partSize: 4 * MiB, stallTimeout: 60000,
      onProgress: (x) => { got = Math.max(got, x.loaded); },
    });
    // (progress reports are throttled: the last one of a burst may not come while the rest is held)
    assert.ok(await waitFor(() => got >= 4 * MiB && routes.open.size >= 2, 10000), `parts under way (${got} bytes)`);
    const t0 = Date.now();
    ac.abort();
    await assert.rejects(p, (e) => e instanceof KiteError && e.name === 'AbortError');
    assert.ok(Date.now() - t0 < 2000, `rejected ${Date.now() - t0} ms after the abort`);
    assert.ok(await waitFor(() => routes.open.size === 0, 5000), 'every connection closed');

    routes.log.length = 0;
    const t1 = Date.now();
    await assert.rejects(
      inspect(`${base}/hold/${NAME}`, { connections: 4, partSize: 4 * MiB, stallTimeout: 700 }),
      (e) => e instanceof KiteError && /stalled/.test(e.message) && e.message.includes(`/hold/${NAME}`));
    assert.ok(Date.now() - t1 < 10000);
    assert.ok(await waitFor(() => routes.open.size === 0, 5000), 'every connection closed after the stall');
  });
});

test('connections and partSize are checked like every option', async () => {
  for (const [k, v] of [['connections', 0], ['connections', 17], ['connections', 1.5], ['partSize', 1000], ['partSize', '4M']]) {
    await assert.rejects(inspect('http://127.0.0.1:9/x.gguf', { [k]: v }), (e) => e instanceof KiteError && e.message.includes(k));
  }
});
