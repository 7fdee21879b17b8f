// wasm_cache_write.test.mjs - the browser model cache's OPFS writes, which run beside the
// download in a worker of their own (web/cache_file.js), in headless Chromium against a
// 127.0.0.1 server that logs the requests for the model: a write that fails midway (the
// origin's quota reached after some of the file was stored) still loads the model, keeps no
// entry, and the next visit downloads the file again and stores it; a first visit cut off
// mid-download (the page reloaded: its workers, the writer's too, end with writes queued)
// leaves no entry that serves a later load without a request: that load asks the server again
// and gets the right bytes (its SHA-256 checked).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inServedChromium, requireDist, repoRoot } from './wasm_helpers.mjs';

const bytes = readFileSync(join(repoRoot, 'models/stories260K.gguf'));
const sha = createHash('sha256').update(bytes).digest('hex');
const ETAG = `"${sha.slice(0, 16)}"`;
const PIECE = 64 * 1024;

// /slow/<name>.gguf: the file (or the rest asked for by Range + If-Range) in 64 KiB pieces a
// 20 ms apart, so the cache writes come one by one; /hold/<name>.gguf: its first request gets
// half the file, the rest never (the page goes away), later ones as /slow/. Every request for
// a model is logged: { path, range }.
function modelRoutes() {
  const log = [];
  const intercept = async (req, res, headers) => {
    const m = /^\/(slow|hold)\/[\w-]+\.gguf$/.exec(new URL(req.url, 'http://x').pathname);
    if (!m) return false;
    const range = req.headers.range;
    log.push({ path: req.url, range });
    const base = { ...headers, 'content-type': 'application/octet-stream', etag: ETAG, 'accept-ranges': 'bytes' };
    if (m[1] === 'hold' && log.filter((x) => x.path === req.url).length === 1) {
      res.writeHead(200, { ...base, 'content-length': bytes.length });
      res.write(bytes.subarray(0, bytes.length >> 1));
      return true; // (the response stays open until the browser goes)
    }
    const r = range && /^bytes=(\d+)-$/.exec(range);
    const start = r && req.headers['if-range'] === ETAG ? Number(r[1]) : 0;
    res.writeHead(start ? 206 : 200, {
      ...base, 'content-length': bytes.length - start,
      ...(start ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    });
    for (let off = start; off < bytes.length; off += PIECE) {
      res.write(bytes.subarray(off, Math.min(bytes.length, off + PIECE)));
      await new Promise((done) => setTimeout(done, 20));
    }
    res.end();
    return true;
  };
  return { log, intercept };
}

// Runs pageFns in turn (inServedChromium's sessions), each given { origin, sha, session }; no
// uncaught page error; resolves to { results, log: the request log }.
async function inChromium(pageFns, setup) {
  requireDist(['st']);
  const routes = modelRoutes();
  const { results, errors } = await inServedChromium(routes.intercept,
    pageFns.map((fn) => (page, origin, session) => page.evaluate(fn, { origin, sha, session })), setup);
  assert.deepEqual(errors, []);
  return { results, log: routes.log };
}

// In the page: a load while the quota (set small by the test) is reached midway; the quota is
// lifted (window.kiteQuota, from the test) once 3/4 of the file came, so the writes after the
// failed one, and the record, would succeed if the load went on storing; then two more loads.
async function inPageQuotaMidway({ origin, sha }) {
  const kite = await import('/web/index.js');
  const url = `${origin}/slow/quota-midway.gguf`;
  let lifted = null;
  const load = async (onProgress) => {
    const m = await kite.loadModel(url, { flavor: 'st', vocabOnly: true, cache: 'opfs', sha256: sha, onProgress });
    await m.dispose();
    return { cache: m.cache, arch: m.info.model.arch, listed: (await kite.listCachedModels()).filter((e) => e.url === url) };
  };
  const out = { full: await load((p) => { if (!lifted && p.total > 0 && p.loaded * 4 >= p.total * 3) lifted = window.kiteQuota(null); }) };
  await lifted;
  out.again = await load();
  out.hit = await load();
  return out;
}

test('Chromium: an OPFS cache write that fails midway (quota) still loads, keeps nothing, and the next visit downloads and stores the file', async () => {
  const { results: [r], log } = await inChromium([inPageQuotaMidway], async (page, origin) => {
    const cdp = await page.context().newCDPSession(page);
    // 500 KiB: the first pieces of the 1.1 MiB file are written, a later one is refused
    const quota = (quotaSize) => cdp.send('Storage.overrideQuotaForOrigin', quotaSize == null ? { origin } : { origin, quotaSize });
    await quota(500 * 1024);
    await page.exposeFunction('kiteQuota', quota);
  });
  assert.equal(r.full.arch, 'llama');
  assert.equal(r.full.cache.stored, false, JSON.stringify(r.full.cache));
  assert.match(r.full.cache.warning ?? '', /^not cached: the storage quota is (likely )?full/, r.full.cache.warning);
  assert.deepEqual(r.full.listed, [], 'nothing kept of the failed write');
  assert.deepEqual(r.again.cache, { storage: 'opfs', hit: false, resumedFrom: 0, stored: true }, 'downloaded again, whole');
  assert.equal(r.again.listed.length, 1);
  assert.equal(r.again.listed[0].complete, true);
  assert.equal(r.again.listed[0].sha256, sha);
  assert.deepEqual(r.hit.cache, { storage: 'opfs', hit: true, resumedFrom: 0, stored: true });
  assert.deepEqual(log.map((x) => x.range ?? null), [null, null], 'two downloads of the whole file, none for the hit');
});

// Session 0: a first visit of /hold/ that stops at half the file; the session ends (the page is
// reloaded) while the load waits for the rest.
async function inPageCutOff({ origin }) {
  const kite = await import('/web/index.js');
  const url = `${origin}/hold/cut-off.gguf`;
  let half;
  const halfway = new Promise((r) => (half = r));
  kite.loadModel(url, {
    flavor: 'st', vocabOnly: true, cache: 'opfs',
    onProgress: (p) => { if (p.loaded * 2 >= p.total && p.total > 0) half(); },
  }).catch(() => {});
  await halfway;
  await new Promise((r) => setTimeout(r, 200)); // (writes of what came queued or done)
  return 'halfway';
}

// Session 1: the entry as listed, then two loads of the same URL.
async function inPageAfterCutOff({ origin, sha }) {
  const kite = await import('/web/index.js');
  const url = `${origin}/hold/cut-off.gguf`;
  const out = { listed: (await kite.listCachedModels()).filter((e) => e.url === url) };
  for (const name of ['next', 'then']) {
    const m = await kite.loadModel(url, { flavor: 'st', vocabOnly: true, cache: 'opfs', sha256: sha });
    await m.dispose();
    out[name] = { cache: m.cache, arch: m.info.model.arch };
  }
  return out;
}

test('Chromium: a first visit cut off mid-download (the page reloaded) leaves no entry that serves: the next load asks the server and gets the right bytes', async () => {
  const { results: [first, r], log } = await inChromium([inPageCutOff, inPageAfterCutOff]);
  assert.equal(first, 'halfway');
  for (const e of r.listed) assert.equal(e.complete, false, `a partial entry only: ${JSON.stringify(e)}`);
  assert.equal(log.length, 2, `one request after the cut: ${JSON.stringify(log)}`);
  assert.equal(r.next.arch, 'llama');
  assert.equal(r.next.cache.hit, false);
  assert.equal(r.next.cache.stored, true);
  // it resumes from what the cut visit stored, at most the half that came
  assert.ok(r.next.cache.resumedFrom <= bytes.length >> 1, JSON.stringify(r.next.cache));
  assert.equal(log[1].range ?? null, r.next.cache.resumedFrom ? `bytes=${r.next.cache.resumedFrom}-` : null);
  assert.deepEqual(r.then.cache, { storage: 'opfs', hit: true, resumedFrom: 0, stored: true });
});
