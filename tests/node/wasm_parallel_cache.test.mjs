// wasm_parallel_cache.test.mjs - parallel ranged downloads in headless Chromium with the OPFS
// model cache, against a 127.0.0.1 server holding a shared model (range_server.mjs): the bytes
// arrive identical (sha256 option), over several Range requests; the second load makes no
// request; a download aborted midway keeps its finished parts, and the next load asks only for
// the bytes still missing (each range tied to the ETag), or starts over when the stored file
// lost bytes its record claims; a server without Range still works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { launchChromium, newPageAt } from './chromium.mjs';
import { serve } from '../../web/serve.mjs';
import { requireDist, requireModels, model } from './wasm_helpers.mjs';
import { rangeRoutes, requestedRanges } from './range_server.mjs';

requireModels();
const NAME = 'rand-llama-spm-f16.gguf';
const bytes = readFileSync(model(NAME));
const sha = createHash('sha256').update(bytes).digest('hex');
const MiB = 2 ** 20;
const ETAG = '"kite-test-1"';

// In the page: one vocabulary-only load; returns its cache status, its progress and its error.
async function loadInPage({ url, sha, opts, abortAt }) {
  const kite = await import('/web/index.js');
  const ac = new AbortController();
  const seen = [];
  try {
    const m = await kite.loadModel(url, {
      flavor: 'st', vocabOnly: true, sha256: sha, signal: ac.signal, ...opts,
      onProgress: (p) => {
        seen.push({ loaded: p.loaded, total: p.total, bytesPerSecond: p.bytesPerSecond });
        if (abortAt && p.loaded >= abortAt) ac.abort();
      },
    });
    const cache = m.cache;
    await m.dispose();
    return { cache, seen, list: await kite.listCachedModels() };
  } catch (e) {
    return { error: e.message, name: e.name, seen, list: await kite.listCachedModels() };
  }
}

test('Chromium: parallel ranges into OPFS, no request on the second load, an aborted download resumes per part', async () => {
  requireDist(['st']);
  const routes = rangeRoutes(bytes, { etag: ETAG });
  const server = await serve({ port: 0, intercept: routes.intercept });
  const browser = await launchChromium();
  try {
    const origin = `http://127.0.0.1:${server.port}`;
    const { page, errors } = await newPageAt(browser, `${origin}/package.json`);
    const opts = { connections: 3, partSize: 2 * MiB };
    const parts = Math.ceil(bytes.length / (2 * MiB));

    const first = await page.evaluate(loadInPage, { url: `${origin}/r/${NAME}`, sha, opts });
    assert.equal(first.error, undefined, first.error);
    assert.deepEqual(first.cache, { storage: 'opfs', hit: false, resumedFrom: 0, stored: true });
    assert.equal(routes.log.length, parts, 'a GET for part 0, then one Range per part');
    // at most 3 ranged requests at once (the first, full GET is cancelled after part 0 and may
    // still drain on the server a moment longer)
    assert.ok(routes.maxInFlight >= 2 && routes.maxRangedInFlight <= 3, `in flight ${routes.maxInFlight}, ranged ${routes.maxRangedInFlight}: ${JSON.stringify(routes.log)}`);
    assert.ok(first.seen.some((p) => p.bytesPerSecond > 0), 'progress has a speed');
    const entry = first.list.find((e) => e.url.endsWith(`/r/${NAME}`));
    assert.equal(entry.complete, true);
    assert.equal(entry.size, bytes.length);

    routes.log.length = 0;
    const second = await page.evaluate(loadInPage, { url: `${origin}/r/${NAME}`, sha, opts });
    assert.equal(second.cache.hit, true);
    assert.equal(routes.log.length, 0, 'no request for a cached model');

    // Parts from 8 MiB on are held: abort once the 8 MiB before them are in (parts 0..3).
    routes.log.length = 0;
    routes.holdFrom(8 * MiB);
    const cut = await page.evaluate(loadInPage, { url: `${origin}/hold/${NAME}`, sha, opts, abortAt: 8 * MiB });
    assert.equal(cut.name, 'AbortError', cut.error);
    const partial = cut.list.find((e) => e.url.endsWith(`/hold/${NAME}`));
    assert.equal(partial?.complete, false, JSON.stringify(cut.list));
    routes.destroyAll();
    routes.holdFrom(Infinity);
    routes.log.length = 0;
    const resumed = await page.evaluate(loadInPage, { url: `${origin}/hold/${NAME}`, sha, opts });
    assert.equal(resumed.error, undefined, resumed.error);
    assert.ok(resumed.cache.resumedFrom >= 4 * MiB, `resumed from ${resumed.cache.resumedFrom}`);
    assert.equal(resumed.cache.stored, true);
    // Only the missing bytes were asked for, each range tied to the ETag.
    assert.ok(routes.log.every((x) => x.range && x.ifRange === ETAG), JSON.stringify(routes.log));
    const asked = requestedRanges(routes.log, bytes.length).reduce((n, [a, b]) => n + b - a + 1, 0);
    assert.equal(asked, bytes.length - resumed.cache.resumedFrom, JSON.stringify(routes.log.map((x) => x.range)));
    assert.equal(resumed.list.find((e) => e.url.endsWith(`/hold/${NAME}`)).complete, true);

    // An aborted download whose stored file then lost bytes its record claims (damaged
    // storage): the next load starts over instead of failing on every load.
    routes.holdFrom(8 * MiB);
    const lossy = `${origin}/hold/lossy-${NAME}`;
    const cut2 = await page.evaluate(loadInPage, { url: lossy, sha, opts, abortAt: 8 * MiB });
    assert.equal(cut2.name, 'AbortError', cut2.error);
    routes.destroyAll();
    routes.holdFrom(Infinity);
    await page.evaluate(async (url) => {
      const key = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(url))),
        (b) => b.toString(16).padStart(2, '0')).join('');
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('kite-models');
      // (the abort rejected at once and ended the load's worker; its cache writer, a worker of
      // that worker, lets the file go a moment later)
      for (let tries = 0; ; tries++) {
        try {
          const w = await (await dir.getFileHandle(`${key}.gguf`)).createWritable({ keepExistingData: true });
          await w.truncate(2 ** 20);
          await w.close();
          break;
        } catch (e) {
          if (e.name !== 'NoModificationAllowedError' || tries === 40) throw e;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }, lossy);
    const restarted = await page.evaluate(loadInPage, { url: lossy, sha, opts });
    assert.equal(restarted.error, undefined, restarted.error);
    assert.equal(restarted.cache.resumedFrom, 0);
    assert.equal(restarted.cache.stored, true);

    // No Range at all: one stream, still cached.
    routes.log.length = 0;
    const plain = await page.evaluate(loadInPage, { url: `${origin}/norange/${NAME}`, sha, opts });
    assert.equal(plain.error, undefined, plain.error);
    assert.equal(plain.cache.stored, true);
    assert.deepEqual(routes.log.map((x) => x.range), [undefined]);

    await page.evaluate(async () => {
      const kite = await import('/web/index.js');
      for (const e of await kite.listCachedModels()) await kite.deleteCachedModel(e.url);
    });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    routes.destroyAll();
    await server.close();
  }
});
