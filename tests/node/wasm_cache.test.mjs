// wasm_cache.test.mjs - the browser model cache, in headless Chromium against a 127.0.0.1
// server that counts the requests for the model: the second load of a URL makes no request
// (OPFS, and the Cache API when asked for; OPFS also while another worker holds the stored file), listCachedModels/deleteCachedModel see and remove
// it, a download cut in the middle resumes with a Range request tied to the ETag, and a
// SHA-256 that does not match is refused and not kept, and so is an HTML error page served as
// 200; a cached copy that fails the SHA-256 given now, or whose body is shorter than its record,
// is downloaded again, and so is one changed in place (same size) on the next page session's
// load; a quota too small, or storage already full, loads the model uncached, saying why;
// deleteCachedModel refuses a URL a load is downloading (OPFS and Cache API); cacheKey names an
// entry whatever the URL's query; a load never removes another tab's download record; data files
// without a usable record are swept unless a load holds them. In Node: sha256 checks any source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, KiteError } from '../../web/index.js';
import { inServedChromium, requireDist, repoRoot, serveDir } from './wasm_helpers.mjs';

const stories = join(repoRoot, 'models/stories260K.gguf');
const bytes = readFileSync(stories);
const sha = createHash('sha256').update(bytes).digest('hex');
const ETAG = `"${sha.slice(0, 16)}"`;

test('Node: sha256 is checked for paths and URLs', async () => {
  requireDist(['st']);
  const srv = await serveDir(join(repoRoot, 'models'));
  try {
    for (const src of [stories, `${srv.url}stories260K.gguf`]) {
      const m = await loadModel(src, { flavor: 'st', sha256: sha.toUpperCase() });
      assert.equal(m.info.model.arch, 'llama');
      assert.equal(m.cache, null, 'no cache in Node');
      await m.dispose();
      const wrong = sha.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      await assert.rejects(loadModel(src, { flavor: 'st', sha256: wrong }),
        (e) => e instanceof KiteError && /SHA-256 mismatch/.test(e.message) && e.message.includes(sha));
    }
  } finally {
    await srv.close();
  }
});

// Model routes: /m/<name>.gguf serves the file with an ETag and honours Range + If-Range;
// /cut/<name>.gguf cuts its first full response after half the bytes; /nolen/<name>.gguf
// sends it chunked, without a Content-Length; /html/<name>.gguf answers its first request with
// an HTML error page as 200 (a rate limit, a proxy's login page), later ones as /m/;
// /w206/<name>.gguf answers a request without Range with 206 and the whole file;
// /moved/<name>.gguf sends `older` (the file before the server's copy changed) to its first
// request, the file to later ones; /short/<name>.gguf sends its first request only the first
// half of the file (a Content-Length to match), later ones the file; /hold/<name>.gguf sends
// half the file, then the rest once /release has been asked for.
const older = Buffer.from(bytes);
older[older.length - 1] ^= 1;
const ERROR_PAGE = '<!DOCTYPE html><html><body>Too many requests, try later</body></html>';
function modelRoutes() {
  const log = [];
  let cutDone = false;
  let release;
  const released = new Promise((r) => (release = r));
  const intercept = async (req, res, headers) => {
    if (req.url === '/release') {
      release();
      res.writeHead(200, headers);
      res.end('released');
      return true;
    }
    const m = /^\/(m|cut|nolen|html|w206|moved|short|hold)\/[\w-]+\.gguf$/.exec(new URL(req.url, 'http://x').pathname);
    if (!m) return false;
    const range = req.headers.range;
    log.push({ path: req.url, range, ifRange: req.headers['if-range'] });
    const base = { ...headers, 'content-type': 'application/octet-stream', etag: ETAG, 'accept-ranges': 'bytes' };
    if (m[1] === 'html' && log.filter((x) => x.path === req.url).length === 1) {
      res.writeHead(200, { ...headers, 'content-type': 'text/html', 'content-length': ERROR_PAGE.length });
      res.end(ERROR_PAGE);
      return true;
    }
    if (m[1] === 'moved' && log.filter((x) => x.path === req.url).length === 1) {
      res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': older.length });
      res.end(older);
      return true;
    }
    if (m[1] === 'short' && log.filter((x) => x.path === req.url).length === 1) {
      res.writeHead(200, { ...base, 'content-length': bytes.length >> 1 });
      res.end(bytes.subarray(0, bytes.length >> 1));
      return true;
    }
    if (m[1] === 'w206' && !range) {
      res.writeHead(206, { ...base, 'content-length': bytes.length, 'content-range': `bytes 0-${bytes.length - 1}/${bytes.length}` });
      res.end(bytes);
      return true;
    }
    const r = range && /^bytes=(\d+)-$/.exec(range);
    if (r && req.headers['if-range'] === ETAG) {
      const start = Number(r[1]);
      res.writeHead(206, { ...base, 'content-length': bytes.length - start, 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` });
      res.end(bytes.subarray(start));
      return true;
    }
    if (m[1] === 'nolen') {
      res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream' });
      res.end(bytes);
      return true;
    }
    res.writeHead(200, { ...base, 'content-length': bytes.length });
    if (m[1] === 'hold') {
      res.write(bytes.subarray(0, bytes.length >> 1));
      await released;
      res.end(bytes.subarray(bytes.length >> 1));
      return true;
    }
    if (m[1] === 'cut' && !cutDone) {
      cutDone = true;
      res.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(() => res.destroy(), 100));
      return true;
    }
    res.end(bytes);
    return true;
  };
  return { log, intercept };
}

// A worker standing in for another tab's load: sent a cache key, it holds the OPFS data file
// KEY.gguf open (a synchronous access handle, exclusive) and answers 'held'; sent 'close', lets
// it go. (Pages get it as args.holderWorker: page functions take no closures.)
const holderWorker = `let h;
  onmessage = async (e) => {
    if (e.data === 'close') { h.close(); return postMessage('closed'); }
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('kite-models');
    h = await (await dir.getFileHandle(e.data + '.gguf')).createSyncAccessHandle();
    postMessage('held');
  };`;

// In the page: loads, generates, lists and deletes; returns what it saw.
async function inPage({ origin, flavor, holderWorker }) {
  const kite = await import('/web/index.js');
  const gen = async (url, opts = {}) => {
    const m = await kite.loadModel(url, { flavor, threads: 2, ...opts });
    try {
      return { text: await m.generate('Once upon a time', { maxTokens: 16, temperature: 0 }).text(), cache: m.cache };
    } finally {
      await m.dispose();
    }
  };
  const out = {};
  const url = `${origin}/m/stories.gguf`;
  out.first = await gen(url);
  out.second = await gen(url);
  // Another tab (a worker here) holds the stored file's synchronous access handle, which is
  // exclusive: the load reads the File instead, still from the cache.
  const key = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(url))),
    (b) => b.toString(16).padStart(2, '0')).join('');
  const holder = new Worker(URL.createObjectURL(new Blob([holderWorker], { type: 'text/javascript' })));
  const ask = (msg) => new Promise((done) => { holder.onmessage = (e) => done(e.data); holder.postMessage(msg); });
  out.holder = await ask(key);
  out.held = await gen(url);
  await ask('close');
  holder.terminate();
  out.list = await kite.listCachedModels();
  out.deleted = await kite.deleteCachedModel(url);
  out.listAfter = await kite.listCachedModels();
  out.third = await gen(url, { cache: false });

  const capi = `${origin}/m/capi.gguf`;
  out.capi1 = await gen(capi, { cache: 'cache-api' });
  out.capi2 = await gen(capi, { cache: 'cache-api' });
  out.capiList = (await kite.listCachedModels()).filter((e) => e.url === capi);

  const cut = `${origin}/cut/stories.gguf`;
  try {
    await gen(cut);
    out.cutError = null;
  } catch (e) {
    out.cutError = e.message;
  }
  out.partial = (await kite.listCachedModels()).filter((e) => e.url === cut);
  out.resumed = await gen(cut);
  out.resumedAgain = await gen(cut);

  // No length: loaded uncached through either store, nothing listed.
  out.nolen = await gen(`${origin}/nolen/stories.gguf`);
  out.nolenCapi = await gen(`${origin}/nolen/capi.gguf`, { cache: 'cache-api' });
  out.nolenList = (await kite.listCachedModels()).filter((e) => e.url.includes('/nolen/'));

  const bad = `${origin}/m/bad.gguf`;
  try {
    await gen(bad, { sha256: '0'.repeat(64) });
    out.badError = null;
  } catch (e) {
    out.badError = e.message;
  }
  out.badList = (await kite.listCachedModels()).filter((e) => e.url === bad);
  for (const e of await kite.listCachedModels()) await kite.deleteCachedModel(e.url);
  return out;
}

// Runs pageFn(args) in a fresh Chromium page served by modelRoutes (origin added to args), then
// check(result, routes, origin); the page must raise no uncaught error. setup(page, origin),
// when given, runs first. pageFn may be a list, run in turn with the page reloaded between them
// (each in a new page session, over the same storage; args.session: its index): check then gets
// the list of results.
async function inChromium(pageFn, args, check, setup) {
  requireDist(['st', 'mt']);
  const routes = modelRoutes();
  const list = Array.isArray(pageFn);
  const { results, errors, origin } = await inServedChromium(routes.intercept,
    (list ? pageFn : [pageFn]).map((fn) => (page, at, session) => page.evaluate(fn, { origin: at, ...args, ...(list ? { session } : {}) })), setup);
  check(list ? results : results[0], routes, origin);
  assert.deepEqual(errors, []);
}

test('Chromium: cached loads make no request, a cut download resumes, a bad checksum is not kept', () =>
  inChromium(inPage, { flavor: 'mt', holderWorker }, (r, routes, origin) => {
    const count = (p) => routes.log.filter((x) => x.path === p).length;

    assert.ok(r.first.text.length > 10);
    assert.deepEqual(r.first.cache, { storage: 'opfs', hit: false, resumedFrom: 0, stored: true });
    assert.equal(r.second.text, r.first.text);
    assert.equal(r.second.cache.hit, true);
    assert.equal(r.holder, 'held');
    assert.equal(r.held.cache.hit, true, 'read from the cache while another handle holds the file');
    assert.equal(r.held.text, r.first.text);
    // two loads, one request; the third (cache: false, after the delete) asks again
    assert.equal(count('/m/stories.gguf'), 2, JSON.stringify(routes.log));
    const entry = r.list.find((e) => e.url === `${origin}/m/stories.gguf`);
    assert.ok(entry, JSON.stringify(r.list));
    assert.equal(entry.size, bytes.length);
    assert.equal(entry.etag, ETAG);
    assert.equal(entry.complete, true);
    assert.equal(r.deleted, true);
    assert.deepEqual(r.listAfter.filter((e) => e.url === entry.url), []);
    assert.equal(r.third.cache, null, 'cache: false');
    assert.equal(r.third.text, r.first.text);

    assert.equal(r.capi1.cache.storage, 'cache-api');
    assert.equal(r.capi1.cache.stored, true);
    assert.equal(r.capi2.cache.hit, true);
    assert.equal(r.capi2.text, r.first.text);
    assert.equal(count('/m/capi.gguf'), 1);
    assert.equal(r.capiList.length, 1);

    // The cut: the first load fails, keeps what arrived, and the next asks for the rest only.
    assert.ok(r.cutError, 'the cut download failed');
    assert.equal(r.partial.length, 1);
    assert.equal(r.partial[0].complete, false);
    const cutLog = routes.log.filter((x) => x.path === '/cut/stories.gguf');
    assert.equal(cutLog.length, 2, JSON.stringify(cutLog));
    assert.equal(cutLog[0].range, undefined);
    const from = Number(/^bytes=(\d+)-$/.exec(cutLog[1].range)?.[1]);
    assert.ok(from > 0 && from <= bytes.length >> 1, `resumed from ${cutLog[1].range}`);
    assert.equal(cutLog[1].ifRange, ETAG);
    assert.equal(r.resumed.cache.resumedFrom, from);
    assert.equal(r.resumed.text, r.first.text, 'the resumed file is whole');
    assert.equal(r.resumedAgain.cache.hit, true);

    for (const [what, storage] of [['nolen', 'opfs'], ['nolenCapi', 'cache-api']]) {
      assert.equal(r[what].text, r.first.text, what);
      assert.deepEqual(r[what].cache, { storage, hit: false, resumedFrom: 0, stored: false,
        warning: 'not cached: the server did not send the file size' }, what);
    }
    assert.deepEqual(r.nolenList, []);

    assert.match(r.badError ?? '', /SHA-256 mismatch/);
    assert.deepEqual(r.badList, [], 'a file that failed its checksum is not kept');
  }));

// In the page: deleteCachedModel while a load downloads the URL into OPFS (the server holds
// back the second half), then again after the load.
async function inPageBusy({ origin, flavor }) {
  const kite = await import('/web/index.js');
  const url = `${origin}/hold/stories.gguf`;
  const listed = async () => (await kite.listCachedModels()).filter((e) => e.url === url);
  const loading = kite.loadModel(url, { flavor });
  // the entry's record is written once the response's headers came, its data file open
  while ((await listed()).length === 0) await new Promise((r) => setTimeout(r, 20));
  const out = {};
  try {
    out.deleted = await kite.deleteCachedModel(url);
  } catch (e) {
    out.error = { name: e.name, status: e.status, message: e.message };
  }
  await fetch(`${origin}/release`);
  const m = await loading;
  out.cache = m.cache;
  await m.dispose();
  out.listed = await listed();
  out.deletedAfter = await kite.deleteCachedModel(url);
  out.listedAfter = await listed();
  return out;
}

test('Chromium: deleteCachedModel during the URL\'s download rejects naming it and keeps the copy; after the load it deletes', () =>
  inChromium(inPageBusy, { flavor: 'st' }, (r, routes, origin) => {
    const url = `${origin}/hold/stories.gguf`;
    assert.equal(r.deleted, undefined, 'not deleted while the load writes the file');
    assert.equal(r.error?.name, 'KiteError', JSON.stringify(r));
    assert.equal(r.error.status, 'busy');
    assert.equal(r.error.message, `kite: deleteCachedModel: ${url} is in use by a running loadModel (downloading or ` +
      'reading it, in this page or another tab): delete it once that load has ended, or abort the load first');
    // what the refusal says is kept: the load stored the whole file
    assert.deepEqual(r.cache, { storage: 'opfs', hit: false, resumedFrom: 0, stored: true });
    assert.equal(r.listed.length, 1);
    assert.equal(r.listed[0].complete, true);
    assert.equal(r.deletedAfter, true);
    assert.deepEqual(r.listedAfter, []);
  }));

// In the page: an error page served as 200 through each store, then the same URL again; a copy
// cached before the server's file changed, loaded with the new file's SHA-256; a Cache API copy
// cut short; a 206 for the whole file into OPFS, then again.
async function inPageLying({ origin, flavor, sha }) {
  const kite = await import('/web/index.js');
  const load = async (url, opts) => {
    try {
      const m = await kite.loadModel(url, { flavor, threads: 2, vocabOnly: true, ...opts });
      await m.dispose();
      return { cache: m.cache };
    } catch (e) {
      return { error: e.message };
    }
  };
  const out = {};
  for (const cache of ['opfs', 'cache-api']) {
    const url = `${origin}/html/${cache}.gguf`;
    const first = await load(url, { cache });
    const listed = (await kite.listCachedModels()).filter((e) => e.url === url);
    out[cache] = { url, first, listed, second: await load(url, { cache }) };
  }
  for (const cache of ['opfs', 'cache-api']) {
    // cached without a checksum; then the server's file changed, and the caller gives its SHA-256
    const url = `${origin}/moved/${cache}.gguf`;
    out.moved ??= {};
    out.moved[cache] = [await load(url, { cache }), await load(url, { cache, sha256: sha }), await load(url, { cache, sha256: sha })];
  }
  // A file the server cut short, with a Content-Length to match: the load fails, and the next
  // one downloads it again instead of failing from the cache.
  for (const cache of ['opfs', 'cache-api']) {
    const url = `${origin}/short/${cache}.gguf`;
    out.short ??= {};
    out.short[cache] = [await load(url, { cache }), (await kite.listCachedModels()).filter((e) => e.url === url), await load(url, { cache })];
  }
  // A Cache API entry whose body is shorter than its record says (damaged storage, another
  // script): dropped and downloaded again.
  const cut = `${origin}/m/capi-cut.gguf`;
  await load(cut, { cache: 'cache-api' });
  const store = await caches.open('kite-models');
  const stored = await store.match(cut);
  const body = new Uint8Array(await stored.arrayBuffer());
  await store.put(cut, new Response(body.subarray(0, body.length - 100), { headers: stored.headers }));
  out.capiCut = [await load(cut, { cache: 'cache-api' }), await load(cut, { cache: 'cache-api' })];
  out.w206 = await load(`${origin}/w206/stories.gguf`, { cache: 'opfs' });
  out.w206again = await load(`${origin}/w206/stories.gguf`, { cache: 'opfs' });
  for (const e of await kite.listCachedModels()) await kite.deleteCachedModel(e.url);
  return out;
}

test('Chromium: an error page served as 200 is not cached, a stale copy is read again, a 206 of the whole file is cached', () =>
  inChromium(inPageLying, { flavor: 'mt', sha }, (r, routes) => {
    for (const storage of ['opfs', 'cache-api']) {
      const x = r[storage];
      assert.ok(x.first.error?.includes(x.url) && x.first.error.includes('not a GGUF file') &&
        x.first.error.includes('<!DOCTYPE html>'), `${storage}: ${JSON.stringify(x.first)}`);
      assert.deepEqual(x.listed, [], `${storage}: the error page is not kept`);
      // the next load asks the server again and gets the model
      assert.deepEqual(x.second.cache, { storage, hit: false, resumedFrom: 0, stored: true }, `${storage}: ${JSON.stringify(x.second)}`);
      assert.equal(routes.log.filter((e) => e.path === `/html/${storage}.gguf`).length, 2);
    }
    for (const storage of ['opfs', 'cache-api']) {
      // the stale copy fails the checksum: dropped, and the file downloaded again in the same load
      const [first, second, third] = r.moved[storage];
      assert.deepEqual(first.cache, { storage, hit: false, resumedFrom: 0, stored: true }, `${storage}: ${JSON.stringify(first)}`);
      assert.deepEqual(second.cache, { storage, hit: false, resumedFrom: 0, stored: true }, `${storage}: ${JSON.stringify(second)}`);
      assert.equal(third.cache?.hit, true, `${storage}: ${JSON.stringify(third)}`);
      assert.equal(routes.log.filter((e) => e.path === `/moved/${storage}.gguf`).length, 2);
    }
    for (const storage of ['opfs', 'cache-api']) {
      const [first, listed, second] = r.short[storage];
      assert.match(first.error ?? '', /past end of file/, `${storage}: ${JSON.stringify(first)}`);
      assert.deepEqual(listed, [], `${storage}: the cut file is not kept`);
      assert.deepEqual(second.cache, { storage, hit: false, resumedFrom: 0, stored: true }, `${storage}: ${JSON.stringify(second)}`);
      assert.equal(routes.log.filter((e) => e.path === `/short/${storage}.gguf`).length, 2);
    }
    assert.deepEqual(r.capiCut[0].cache, { storage: 'cache-api', hit: false, resumedFrom: 0, stored: true }, JSON.stringify(r.capiCut[0]));
    assert.equal(r.capiCut[1].cache?.hit, true, JSON.stringify(r.capiCut[1]));
    assert.equal(routes.log.filter((e) => e.path === '/m/capi-cut.gguf').length, 2);
    assert.deepEqual(r.w206.cache, { storage: 'opfs', hit: false, resumedFrom: 0, stored: true }, JSON.stringify(r.w206));
    assert.equal(r.w206again.cache?.hit, true, JSON.stringify(r.w206again));
  }));

// In the page: one load through each store (the origin's quota is smaller than the model).
async function inPageQuota({ origin, flavor }) {
  const kite = await import('/web/index.js');
  const out = {};
  for (const cache of ['opfs', 'cache-api']) {
    const url = `${origin}/m/quota-${cache}.gguf`;
    const m = await kite.loadModel(url, { flavor, threads: 2, vocabOnly: true, cache });
    await m.dispose();
    out[cache] = { cache: m.cache, listed: (await kite.listCachedModels()).filter((e) => e.url === url) };
  }
  return out;
}

test('Chromium: a full quota while storing: the model loads uncached and the warning says the quota is full', () =>
  inChromium(inPageQuota, { flavor: 'mt' }, (r) => {
    for (const storage of ['opfs', 'cache-api']) {
      const { cache, listed } = r[storage];
      assert.equal(cache.stored, false, storage);
      assert.match(cache.warning ?? '', /^not cached: the storage quota is (likely )?full/, `${storage}: ${cache.warning}`);
      assert.deepEqual(listed, [], `${storage}: nothing kept`);
    }
  }, async (page, origin) => {
    // (navigator.storage.estimate does not see this override: the writes themselves fail)
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 500 * 1024 });
  }));

// In the page, session 0: a copy stored with its SHA-256 through each store and loaded again;
// then one byte of each changed in place (same size: another script, a damaged disk), and each
// loaded once more. Session 1 (the page reloaded): the changed copies loaded twice.
async function inPageTamper({ origin, flavor, sha, session }) {
  const kite = await import('/web/index.js');
  const load = async (url, cache) => {
    const m = await kite.loadModel(url, { flavor, vocabOnly: true, cache, sha256: sha });
    await m.dispose();
    return m.cache;
  };
  const opfs = `${origin}/m/tamper-opfs.gguf`, capi = `${origin}/m/tamper-capi.gguf`;
  const out = { opfs: [await load(opfs, 'opfs'), await load(opfs, 'opfs')], capi: [await load(capi, 'cache-api'), await load(capi, 'cache-api')] };
  if (session === 1) {
    for (const e of await kite.listCachedModels()) await kite.deleteCachedModel(e.url);
    return out;
  }
  const flipLast = (b) => {
    const c = new Uint8Array(b);
    c[c.length - 1] ^= 1;
    return c;
  };
  const key = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(opfs))),
    (b) => b.toString(16).padStart(2, '0')).join('');
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('kite-models');
  const fh = await dir.getFileHandle(`${key}.gguf`);
  const before = await fh.getFile();
  const w = await fh.createWritable({ keepExistingData: true });
  await w.write({ type: 'write', position: before.size - 1, data: flipLast(await before.slice(before.size - 1).arrayBuffer()) });
  await w.close();
  out.opfsSameSize = (await fh.getFile()).size === before.size;
  const store = await caches.open('kite-models');
  const stored = await store.match(capi);
  await store.put(capi, new Response(flipLast(await stored.arrayBuffer()), { headers: stored.headers }));
  // this page hashed both copies already: it trusts them (the contract: once per page session)
  out.trusted = [await load(opfs, 'opfs'), await load(capi, 'cache-api')];
  return out;
}

test('Chromium: a cached copy changed in place (same size) fails the SHA-256 on its next page session\'s load and is downloaded again', () =>
  inChromium([inPageTamper, inPageTamper], { flavor: 'st', sha }, ([a, b], routes) => {
    const count = (p) => routes.log.filter((x) => x.path === p).length;
    const stored = (storage) => ({ storage, hit: false, resumedFrom: 0, stored: true });
    assert.equal(a.opfsSameSize, true);
    assert.deepEqual(a.trusted.map((c) => c.hit), [true, true], 'not hashed again in the same page session');
    for (const [storage, what, path] of [['opfs', 'opfs', '/m/tamper-opfs.gguf'], ['cache-api', 'capi', '/m/tamper-capi.gguf']]) {
      assert.deepEqual(a[what][0], stored(storage), storage);
      assert.equal(a[what][1].hit, true, `${storage}: the copy is used`);
      assert.deepEqual(b[what][0], stored(storage), `${storage}: the changed copy is refused and the file downloaded again`);
      assert.equal(b[what][1].hit, true, `${storage}: the new copy is used`);
      assert.equal(count(path), 2, storage);
    }
  }));

// In the page: deleteCachedModel while a load downloads the URL into the Cache API (the server
// holds back the second half; the entry is written when the download ends), then after it.
async function inPageBusyCacheApi({ origin, flavor }) {
  const kite = await import('/web/index.js');
  const url = `${origin}/hold/capi.gguf`;
  let started;
  const receiving = new Promise((r) => (started = r));
  const loading = kite.loadModel(url, { flavor, cache: 'cache-api', onProgress: (p) => p.loaded > 0 && started() });
  await receiving;
  const out = {};
  try {
    out.deleted = await kite.deleteCachedModel(url);
  } catch (e) {
    out.error = { name: e.name, status: e.status };
  }
  await fetch(`${origin}/release`);
  const m = await loading;
  out.cache = m.cache;
  await m.dispose();
  out.listed = (await kite.listCachedModels()).filter((e) => e.url === url);
  out.deletedAfter = await kite.deleteCachedModel(url);
  out.listedAfter = (await kite.listCachedModels()).filter((e) => e.url === url);
  return out;
}

test('Chromium: deleteCachedModel during a Cache API download rejects (busy) instead of being undone when the entry is written', () =>
  inChromium(inPageBusyCacheApi, { flavor: 'st' }, (r) => {
    assert.equal(r.deleted, undefined, JSON.stringify(r));
    assert.deepEqual(r.error, { name: 'KiteError', status: 'busy' });
    assert.deepEqual(r.cache, { storage: 'cache-api', hit: false, resumedFrom: 0, stored: true });
    assert.equal(r.listed.length, 1);
    assert.equal(r.deletedAfter, true);
    assert.deepEqual(r.listedAfter, []);
  }));

// In the page: a presigned-style URL whose query changes on every load, with and without a
// cacheKey, through each store.
async function inPageCacheKey({ origin, flavor }) {
  const kite = await import('/web/index.js');
  const load = async (url, opts) => {
    const m = await kite.loadModel(url, { flavor, vocabOnly: true, ...opts });
    await m.dispose();
    return m.cache;
  };
  const out = {};
  for (const cache of ['opfs', 'cache-api']) {
    const base = `${origin}/m/signed-${cache}.gguf?X-Amz-Signature=`;
    const o = { loads: [] };
    o.loads.push(await load(`${base}1`, { cache, cacheKey: 'signed model' }));
    o.loads.push(await load(`${base}2`, { cache, cacheKey: 'signed model' }));
    o.loads.push(await load(`${base}3`, { cache }));
    o.listed = (await kite.listCachedModels()).filter((e) => e.storage === cache && e.url.startsWith(base))
      .map(({ url, cacheKey, complete }) => ({ url, cacheKey, complete }));
    o.deleted = await kite.deleteCachedModel(`${base}4`, { cacheKey: 'signed model' });
    o.listedAfter = (await kite.listCachedModels()).filter((e) => e.storage === cache && e.cacheKey === 'signed model');
    out[cache] = o;
  }
  try {
    await kite.loadModel(`${origin}/m/x.gguf`, { cacheKey: '' });
  } catch (e) {
    out.badKey = e.message;
  }
  for (const e of await kite.listCachedModels()) await kite.deleteCachedModel(e.url);
  return out;
}

test('Chromium: cacheKey names the cache entry, so a URL whose query changes each time is downloaded once', () =>
  inChromium(inPageCacheKey, { flavor: 'st' }, (r, routes, origin) => {
    for (const storage of ['opfs', 'cache-api']) {
      const o = r[storage];
      const base = `${origin}/m/signed-${storage}.gguf?X-Amz-Signature=`;
      assert.deepEqual(o.loads[0], { storage, hit: false, resumedFrom: 0, stored: true }, storage);
      assert.equal(o.loads[1].hit, true, `${storage}: another URL, the same key: no request`);
      assert.equal(o.loads[2].hit, false, `${storage}: without the key the URL names the entry`);
      const asked = routes.log.filter((x) => x.path.startsWith(`/m/signed-${storage}.gguf`)).map((x) => x.path.slice(-1));
      assert.deepEqual(asked, ['1', '3'], storage);
      assert.deepEqual(o.listed.sort((a, b) => a.url.localeCompare(b.url)), [
        { url: `${base}1`, cacheKey: 'signed model', complete: true },
        { url: `${base}3`, cacheKey: null, complete: true },
      ], storage);
      assert.equal(o.deleted, true, storage);
      assert.deepEqual(o.listedAfter, [], storage);
    }
    assert.match(r.badKey ?? '', /option cacheKey/);
  }));

// In the page: the storage already full (a quota of a few bytes: no folder, file or record can
// be made): one load through each store, then the list and a delete.
async function inPageNoRoom({ origin, flavor }) {
  const kite = await import('/web/index.js');
  const out = {};
  const url = `${origin}/m/no-room.gguf`;
  for (const cache of ['opfs', 'cache-api']) {
    try {
      const m = await kite.loadModel(url, { flavor, vocabOnly: true, cache });
      await m.dispose();
      out[cache] = m.cache;
    } catch (e) {
      out[cache] = { error: e.message };
    }
  }
  const attempt = async (f) => f().catch((e) => `${e.name}: ${e.message}`);
  out.list = await attempt(() => kite.listCachedModels());
  out.deleted = await attempt(() => kite.deleteCachedModel(url));
  return out;
}

for (const quotaSize of [1, 400]) {
  test(`Chromium: storage already full (quota ${quotaSize} bytes): the model loads uncached saying so, the list is empty`, () =>
    inChromium(inPageNoRoom, { flavor: 'st' }, (r) => {
      for (const storage of ['opfs', 'cache-api']) {
        assert.equal(r[storage].stored, false, `${storage}: ${JSON.stringify(r[storage])}`);
        assert.match(r[storage].warning, /^not cached: the storage quota is full \(the model needs 1\.1 MiB/, storage);
      }
      assert.deepEqual(r.list, []);
      assert.equal(r.deleted, false);
    }, async (page, origin) => {
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize });
    }));
}

// In the page: another tab's partial OPFS download of a URL (its record, and its data file held
// open by a worker standing in for that tab), then a load of the same URL here, which cannot
// open the data file and, the server sending no length this time, reads it uncached.
async function inPageOtherTab({ origin, flavor }) {
  const kite = await import('/web/index.js');
  const url = `${origin}/nolen/other-tab.gguf`;
  const key = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(url))),
    (b) => b.toString(16).padStart(2, '0')).join('');
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('kite-models', { create: true });
  const record = { url, cacheKey: null, size: 1185376, etag: '"v1"', lastModified: null, complete: false, sha256: null, storedAt: 1 };
  const w = await (await dir.getFileHandle(`${key}.json`, { create: true })).createWritable();
  await w.write(JSON.stringify(record));
  await w.close();
  await dir.getFileHandle(`${key}.gguf`, { create: true });
  const holder = new Worker(URL.createObjectURL(new Blob([`
    onmessage = async (e) => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('kite-models');
      self.h = await (await dir.getFileHandle(e.data + '.gguf')).createSyncAccessHandle();
      postMessage('held');
    };`], { type: 'text/javascript' })));
  const out = { holder: await new Promise((done) => { holder.onmessage = (e) => done(e.data); holder.postMessage(key); }) };
  const m = await kite.loadModel(url, { flavor, vocabOnly: true, cache: 'opfs' });
  await m.dispose();
  out.cache = m.cache;
  out.listed = (await kite.listCachedModels()).filter((e) => e.url === url);
  holder.terminate();
  return out;
}

test('Chromium: a load that cannot open another tab\'s OPFS download leaves that download\'s record alone', () =>
  inChromium(inPageOtherTab, { flavor: 'st' }, (r) => {
    assert.equal(r.holder, 'held');
    assert.equal(r.cache.stored, false, JSON.stringify(r.cache));
    assert.match(r.cache.warning, /another tab may be downloading the same model/);
    assert.equal(r.listed.length, 1, 'the other tab\'s record is kept');
    assert.equal(r.listed[0].etag, '"v1"');
  }));

// In the page: OPFS data files without a usable record, as a load that ended between creating
// its data file and writing its record leaves them: one with no record, one with a record that
// is not JSON, one whose entry lock a load (here the page) holds, one a worker holds open; beside
// them a stored model. Then the list; then, the lock and the handle let go, a load in a new
// worker (its first use of the cache).
async function inPageOrphans({ origin, flavor, holderWorker }) {
  const kite = await import('/web/index.js');
  const model = `${origin}/m/kept.gguf`;
  await (await kite.loadModel(model, { flavor, vocabOnly: true })).dispose();
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('kite-models');
  const key = (c) => c.repeat(64);
  const write = async (name, data) => {
    const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
    await w.write(data);
    await w.close();
  };
  const orphans = { missing: key('a'), corrupt: key('b'), locked: key('c'), open: key('d') };
  for (const k of Object.values(orphans)) await write(`${k}.gguf`, new Uint8Array(100_000));
  await write(`${orphans.corrupt}.json`, '{"url": "http://');
  let unlock;
  await new Promise((held) => navigator.locks.request(`kite-model-cache ${orphans.locked}`, { mode: 'shared' },
    () => (held(), new Promise((r) => (unlock = r)))));
  const holder = new Worker(URL.createObjectURL(new Blob([holderWorker], { type: 'text/javascript' })));
  const ask = (msg) => new Promise((done) => { holder.onmessage = (e) => done(e.data); holder.postMessage(msg); });
  const files = async () => {
    const names = [];
    for await (const name of dir.keys()) names.push(name);
    return names.sort();
  };
  const out = { orphans, holder: await ask(orphans.open), before: await files() };
  out.list = (await kite.listCachedModels()).map((e) => e.url);
  out.afterList = await files();
  unlock();
  await ask('close');
  holder.terminate();
  const m = await kite.loadModel(model, { flavor, vocabOnly: true });
  await m.dispose();
  out.load = m.cache;
  out.afterLoad = await files();
  await kite.deleteCachedModel(model);
  return out;
}

test('Chromium: OPFS data files without a usable record are removed by the list and by a load, unless a load holds them', () =>
  inChromium(inPageOrphans, { flavor: 'st', holderWorker }, (r, routes, origin) => {
    const { missing, corrupt, locked, open } = r.orphans;
    assert.equal(r.holder, 'held');
    const stored = r.before.filter((n) => !Object.values(r.orphans).some((k) => n.startsWith(k)));
    assert.equal(stored.length, 2, `the stored model's data file and record: ${r.before}`);
    assert.deepEqual(r.before, [...stored, `${missing}.gguf`, `${corrupt}.gguf`, `${corrupt}.json`, `${locked}.gguf`, `${open}.gguf`].sort());
    assert.deepEqual(r.list, [`${origin}/m/kept.gguf`]);
    assert.deepEqual(r.afterList, [...stored, `${locked}.gguf`, `${open}.gguf`].sort(), 'the orphans no load holds are gone');
    assert.equal(r.load.hit, true, JSON.stringify(r.load));
    assert.deepEqual(r.afterLoad, stored, 'let go, they go at the next use of the cache');
    assert.equal(routes.log.filter((x) => x.path === '/m/kept.gguf').length, 1);
  }));
