// wasm_hf_repo.test.mjs - hf://OWNER/REPO[@REV][:QUANT] in loadModel / inspect / quantize: a
// local hub (option hfEndpoint) lists each repository's files at /api/models/OWNER/REPO and
// serves them at OWNER/REPO/resolve/REV/FILE; the file picked is the one native `kite -hf`
// picks (the first .gguf holding QUANT, case-insensitive; else Q4_K_M, else Q8_0, else the first
// .gguf, as llama.cpp's -hf; never an mmproj file), a split set loads whole from its first file, and a repository with no
// fitting file, a missing one or a gated one is refused naming it. Quants kept in first-level
// folders are picked when no top-level file fits. A token (hfToken, else $HF_TOKEN in Node)
// reaches the hub and not the CDN the hub redirects a file to. In Chromium the picked file is
// cached under its URL, and a later load with the hub unreachable picks from the cache by the
// same rule.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { loadModel, inspect, quantize, hfUrl } from '../../web/index.js';
import { pickGguf } from '../../web/hf_repo.js';
import { inServedChromium, requireDist, requireModels, model, native, nativeGreedyIds } from './wasm_helpers.mjs';
import { ggufSplit } from './gguf_split.mjs';

// Repositories: their files in the hub's order. Every .gguf name serves stories260K's bytes,
// except the split set's, which serve its three parts.
const REPOS = {
  'o/r': ['README.md', 'mmproj-stories-Q4_K_M.gguf', 'sub/stories-Q4_K_M.gguf', 'stories-Q8_0.gguf', 'stories-Q4_K_M.gguf', 'stories-F16.gguf'],
  'o/noq4': ['.gitattributes', 'mmproj-stories-f16.gguf', 'stories-F16.gguf', 'stories-Q8_0.gguf'],
  'o/noq': ['README.md', 'mmproj-stories-Q8_0.gguf', 'stories-F16.gguf', 'stories-BF16.gguf'],
  'o/split': ['stories-Q8_0-00002-of-00003.gguf', 'stories-Q8_0-00001-of-00003.gguf', 'stories-Q8_0-00003-of-00003.gguf', 'stories-F16.gguf'],
  'o/none': ['README.md', 'config.json', 'mmproj-model-f16.gguf'],
  'o/big': ['README.md', 'stories-F16.gguf', 'Q8_0/stories-Q8_0-00002-of-00003.gguf', 'Q8_0/stories-Q8_0-00001-of-00003.gguf',
    'Q8_0/stories-Q8_0-00003-of-00003.gguf', 'Q4_K_M/stories-00003-of-00003.gguf', 'Q4_K_M/stories-00001-of-00003.gguf',
    'Q4_K_M/stories-00002-of-00003.gguf', 'mmproj/stories-Q6_K.gguf'],
  'o/gated': ['stories-Q8_0.gguf'], // needs the token TOKEN; its files redirect to the CDN
};
const TOKEN = 'hf_secret';
delete process.env.HF_TOKEN; // the tests say which token they send

let server, hub, cdnServer;
const requests = [];
const auths = []; // [host ('hub' | 'cdn'), path, the Authorization header]
let whole, parts;

before(async () => {
  requireModels();
  whole = readFileSync(model('stories260K.gguf'));
  parts = ggufSplit(whole, 3);
  const bytesOf = (name) => {
    const k = /-(\d{5})-of-\d{5}\.gguf$/.exec(name);
    return k ? parts[Number(k[1]) - 1] : whole;
  };
  cdnServer = createServer((req, res) => {
    auths.push(['cdn', req.url, req.headers.authorization]);
    const bytes = bytesOf(req.url);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length }).end(bytes);
  });
  await new Promise((r) => cdnServer.listen(0, '127.0.0.1', r));
  server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    requests.push(url.pathname);
    auths.push(['hub', url.pathname, req.headers.authorization]);
    const gated = url.pathname.startsWith('/o/gated') || url.pathname.startsWith('/api/models/o/gated');
    if (gated && req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401).end('gated');
    if (gated && url.pathname.startsWith('/o/')) // as Hugging Face's LFS files: a redirect to a CDN on another origin
      return res.writeHead(302, { location: `http://127.0.0.1:${cdnServer.address().port}/blob${url.pathname}` }).end();
    const api = /^\/api\/models\/(o\/\w+)(?:\/revision\/(\w+))?$/.exec(url.pathname);
    if (api && REPOS[api[1]]) {
      const body = JSON.stringify({ id: api[1], sha: api[2] ?? 'main', siblings: REPOS[api[1]].map((rfilename) => ({ rfilename })) });
      return res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    }
    const file = /^\/(o\/\w+)\/resolve\/(\w+)\/(.+)$/.exec(url.pathname);
    if (!file || !REPOS[file[1]]?.includes(decodeURIComponent(file[3]))) return res.writeHead(404).end('not found');
    const bytes = bytesOf(file[3]);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length }).end(bytes);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  hub = `http://127.0.0.1:${server.address().port}`;
});
after(() => {
  server?.close();
  cdnServer?.close();
});

test('pickGguf: QUANT\'s first match, else llama.cpp\'s -hf order (Q4_K_M, Q8_0, the first .gguf), top level before a folder', () => {
  // (common/download.cpp find_best_model: tags Q4_K_M then Q8_0, then the first model file; a
  // split set's first file; mmproj files are not models)
  const cases = [
    [['a.gguf', 'x-Q8_0.gguf', 'x-Q4_K_M.gguf'], null, 'x-Q4_K_M.gguf'],
    [['a.gguf', 'x-Q8_0.gguf', 'x-F16.gguf'], null, 'x-Q8_0.gguf'],
    [['a.gguf', 'Q4_K_M/x-00002-of-00002.gguf', 'Q4_K_M/x-00001-of-00002.gguf', 'x-Q8_0.gguf'], null, 'Q4_K_M/x-00001-of-00002.gguf'],
    [['Q8_0/x-Q8_0.gguf', 'b.gguf', 'x-q8_0.gguf'], null, 'x-q8_0.gguf'],
    [['mmproj-Q8_0.gguf', 'mmproj-Q4_K_M.gguf', 'b.gguf', 'a.gguf'], null, 'b.gguf'],
    [['README.md', 'mmproj-f16.gguf'], null, null],
    [['x-Q8_0.gguf', 'x-Q4_K_M.gguf', 'x-F16.gguf'], 'f16', 'x-F16.gguf'],
    [['x-Q8_0.gguf', 'x-Q4_K_M.gguf'], 'Q6_K', null],
  ];
  for (const [names, quant, want] of cases) assert.equal(pickGguf(names, quant), want, `${quant}: ${names.join(' ')}`);
});

// The files a call fetched from the hub (the listing, then the model's files), in order.
async function fetched(call) {
  const from = requests.length;
  const value = await call();
  return { value, paths: requests.slice(from) };
}

const info = () => JSON.parse(native(['info', '--json', model('stories260K.gguf')]).toString());
const tensors = (i) => i.tensors.map((t) => t.name);

test('hf://owner/repo picks as kite -hf does: Q4_K_M by default, :QUANT case-insensitive, never mmproj, top level before a subfolder', async () => {
  requireDist(['st']);
  const want = tensors(info());
  const cases = [
    ['hf://o/r', '/o/r/resolve/main/stories-Q4_K_M.gguf'],
    ['hf://o/r:Q8_0', '/o/r/resolve/main/stories-Q8_0.gguf'],
    ['hf://o/r:q8_0', '/o/r/resolve/main/stories-Q8_0.gguf'],
    ['hf://o/r:f16', '/o/r/resolve/main/stories-F16.gguf'],
    ['hf://o/noq4', '/o/noq4/resolve/main/stories-Q8_0.gguf'], // no Q4_K_M: a Q8_0 (listed after an F16)
    ['hf://o/noq', '/o/noq/resolve/main/stories-F16.gguf'], // neither: the first .gguf (an mmproj never)
    ['hf://o/r@v2:Q8_0', '/o/r/resolve/v2/stories-Q8_0.gguf'],
  ];
  for (const [ref, file] of cases) {
    const { value, paths } = await fetched(() => inspect(ref, { hfEndpoint: hub }));
    const repo = ref.slice(5).replace(/[@:].*$/, '');
    const rev = /@(\w+)/.exec(ref)?.[1];
    assert.deepEqual(paths, [`/api/models/${repo}${rev ? `/revision/${rev}` : ''}`, file], ref);
    assert.deepEqual(tensors(value), want, ref);
  }
});

test('hf://owner/repo:QUANT naming a split set loads every file of it from the first', async () => {
  requireDist(['st']);
  const { value: m, paths } = await fetched(() => loadModel('hf://o/split:Q8_0', { hfEndpoint: hub, flavor: 'st' }));
  try {
    assert.equal(paths[0], '/api/models/o/split');
    assert.deepEqual(paths.slice(1).sort(), [1, 2, 3].map((k) => `/o/split/resolve/main/stories-Q8_0-0000${k}-of-00003.gguf`));
    assert.equal(m.info.model.arch, 'llama');
    // the model runs as the whole file does (native kite on the whole file)
    const g = m.generate('Once upon a time', { maxTokens: 12, temperature: 0 });
    await g.text();
    assert.deepEqual((await g.result).tokens, nativeGreedyIds(model('stories260K.gguf'), 'Once upon a time', 12));
  } finally {
    await m.dispose();
  }
});

test('quantize takes a repository reference too, and hfEndpoint reaches hf:// file references', async () => {
  requireDist(['st']);
  const { value: q, paths } = await fetched(() => quantize('hf://o/r:F16', 'Q8_0', { hfEndpoint: hub, flavor: 'st' }));
  assert.deepEqual(paths, ['/api/models/o/r', '/o/r/resolve/main/stories-F16.gguf']);
  assert.ok(q.length > 0);
  const direct = await quantize(model('stories260K.gguf'), 'Q8_0', { flavor: 'st' });
  assert.ok(Buffer.from(q).equals(Buffer.from(direct)), 'same bytes as from the path');
  assert.equal(hfUrl('hf://o/r/stories-F16.gguf', `${hub}/`), `${hub}/o/r/resolve/main/stories-F16.gguf`);
  const { paths: p2 } = await fetched(() => inspect('hf://o/r@v3/stories-F16.gguf', { hfEndpoint: hub }));
  assert.deepEqual(p2, ['/o/r/resolve/v3/stories-F16.gguf']);
});

test('a repository with no fitting .gguf, a missing or gated one is refused naming the repository', async () => {
  const cases = [
    ['hf://o/r:Q5_K_S', 'invalid input', /^kite: hf:\/\/o\/r:Q5_K_S: the repository has no \.gguf file matching Q5_K_S \(http:\S+\/api\/models\/o\/r\)$/],
    ['hf://o/none', 'invalid input', /^kite: hf:\/\/o\/none: the repository has no \.gguf file \(/],
    ['hf://o/missing:Q8_0', 'i/o error', /^kite: hf:\/\/o\/missing:Q8_0: http:\S+\/api\/models\/o\/missing: HTTP 404: no such repository \(or a private one\)$/],
    ['hf://o/gated', 'i/o error', /^kite: hf:\/\/o\/gated: \S+: HTTP 401: a gated or private repository \(give a token with access: option hfToken, or \$HF_TOKEN in Node\)$/],
  ];
  for (const [ref, status, re] of cases) {
    for (const call of [() => loadModel(ref, { hfEndpoint: hub }), () => inspect(ref, { hfEndpoint: hub }), () => quantize(ref, 'Q8_0', { hfEndpoint: hub })]) {
      const { paths, value } = await fetched(() => call().then(() => null, (e) => e));
      assert.ok(value, `${ref}: refused`);
      assert.equal(value.name, 'KiteError', ref);
      assert.equal(value.status, status, ref);
      assert.match(value.message, re);
      assert.equal(paths.length, 1, `${ref}: only the file list was asked for`);
    }
  }
  // the hub cannot be reached (nothing listens there): the error names the repository and the list
  const gone = `http://127.0.0.1:${server.address().port + 1}`;
  await assert.rejects(inspect('hf://o/r:Q8_0', { hfEndpoint: gone }),
    (e) => e.status === 'i/o error' && e.message.startsWith(`kite: hf://o/r:Q8_0: cannot fetch the repository's file list ${gone}/api/models/o/r: `));
  await assert.rejects(inspect('hf://o/r', { hfEndpoint: 'ftp://x' }), /option hfEndpoint must be an http\(s\) URL/);
  // elsewhere a repository reference is refused naming what it is
  assert.throws(() => hfUrl('hf://o/r:Q8_0'), (e) => e.status === 'invalid input' && /names a repository, not a file/.test(e.message));
});

test('a quant kept in a first-level folder is picked when no top-level file fits, its split set whole', async () => {
  requireDist(['st']);
  const cases = [
    ['hf://o/big:Q8_0', 'Q8_0/stories-Q8_0'], // the folder's file 2 is listed first: file 1 is loaded from
    ['hf://o/big', 'Q4_K_M/stories'], // Q4_K_M by default: the folder's name holds it
  ];
  for (const [ref, set] of cases) {
    const { value: m, paths } = await fetched(() => loadModel(ref, { hfEndpoint: hub, flavor: 'st', vocabOnly: true }));
    await m.dispose();
    assert.equal(paths[0], '/api/models/o/big', ref);
    assert.deepEqual(paths.slice(1).sort(), [1, 2, 3].map((k) => `/o/big/resolve/main/${set}-0000${k}-of-00003.gguf`), ref);
    assert.equal(m.info.model.arch, 'llama', ref);
  }
  // a top-level file before a folder's; never one in an mmproj folder, nor two folders deep
  const { paths } = await fetched(() => inspect('hf://o/big:F16', { hfEndpoint: hub }));
  assert.deepEqual(paths, ['/api/models/o/big', '/o/big/resolve/main/stories-F16.gguf']);
  await assert.rejects(inspect('hf://o/big:Q6_K', { hfEndpoint: hub }), /the repository has no \.gguf file matching Q6_K/);
});

test('hfToken (else $HF_TOKEN in Node) goes to the hub only: not to the CDN its redirect leads to; a refused token says so', async () => {
  requireDist(['st']);
  const load = async (opts) => {
    const from = auths.length;
    const m = await loadModel('hf://o/gated:Q8_0', { hfEndpoint: hub, flavor: 'st', ...opts });
    await m.dispose();
    assert.equal(m.info.model.arch, 'llama');
    return auths.slice(from);
  };
  const want = [
    ['hub', '/api/models/o/gated', `Bearer ${TOKEN}`],
    ['hub', '/o/gated/resolve/main/stories-Q8_0.gguf', `Bearer ${TOKEN}`],
    ['cdn', '/blob/o/gated/resolve/main/stories-Q8_0.gguf', undefined],
  ];
  assert.deepEqual(await load({ hfToken: TOKEN }), want);
  process.env.HF_TOKEN = TOKEN;
  try {
    assert.deepEqual(await load({}), want, '$HF_TOKEN when the option is absent');
    // '' sends none, whatever $HF_TOKEN says
    await assert.rejects(inspect('hf://o/gated', { hfEndpoint: hub, hfToken: '' }), /HTTP 401: a gated or private repository \(give a token/);
  } finally {
    delete process.env.HF_TOKEN;
  }
  // a file reference carries it too (and only to the hub); a token the hub refuses is named
  const from = auths.length;
  const { value: info } = await fetched(() => inspect('hf://o/gated/stories-Q8_0.gguf', { hfEndpoint: hub, hfToken: TOKEN }));
  assert.deepEqual(tensors(info), tensors(JSON.parse(native(['info', '--json', model('stories260K.gguf')]).toString())));
  assert.deepEqual(auths.slice(from), want.slice(1));
  for (const ref of ['hf://o/gated', 'hf://o/gated/stories-Q8_0.gguf']) {
    await assert.rejects(inspect(ref, { hfEndpoint: hub, hfToken: 'hf_wrong' }),
      (e) => /HTTP 401.*: the hub refused the token \(hfToken or \$HF_TOKEN\)/.test(e.message), ref);
  }
  await assert.rejects(inspect('hf://o/gated/stories-Q8_0.gguf', { hfEndpoint: hub, hfToken: '' }),
    (e) => /HTTP 401 .*: a gated or private repository \(give a token with access: option hfToken/.test(e.message));
  // a URL on another host never gets it
  const other = `http://127.0.0.1:${cdnServer.address().port}/elsewhere/stories-Q8_0.gguf`;
  const at = auths.length;
  await inspect(other, { hfEndpoint: hub, hfToken: TOKEN });
  assert.deepEqual(auths.slice(at), [['cdn', '/elsewhere/stories-Q8_0.gguf', undefined]]);
  await assert.rejects(inspect('hf://o/r', { hfEndpoint: hub, hfToken: 'two words' }), /option hfToken must be a Hugging Face token/);
});

// A copy of a GGUF whose general.name's first letter has the other case.
function renamed(bytes) {
  const copy = Buffer.from(bytes);
  copy[bytes.indexOf('general.name') + 'general.name'.length + 4 + 8] ^= 0x20;
  return copy;
}

// The hub's file list of repo, as a page's server (web/serve.mjs intercept) answers it.
const sendList = (res, headers, repo) => res.writeHead(200, { ...headers, 'content-type': 'application/json' })
  .end(JSON.stringify({ siblings: REPOS[repo].map((rfilename) => ({ rfilename })) }));

// Runs fn({ ...arg, origin }) in a Chromium page served by web/serve.mjs with intercept (the hub
// at the page's origin): { r (fn's result), errors (the page's), origin }.
async function inChromium(intercept, fn, arg = {}) {
  const { results: [r], errors, origin } = await inServedChromium(intercept, [(page, at) => page.evaluate(fn, { ...arg, origin: at })]);
  return { r, errors, origin };
}

// In the page: a repository reference loads (and is cached under the picked file's URL), then
// with the hub's file list unreachable loads again from the cache; a QUANT the cache lacks fails
// naming the list's URL.
async function offlineInPage({ origin, cache }) {
  const kite = await import('/web/index.js');
  const load = async (ref) => {
    try {
      const m = await kite.loadModel(ref, { flavor: 'st', hfEndpoint: origin, cache });
      await m.dispose();
      return { arch: m.info.model.arch, cache: m.cache, name: m.info.metadata.find((k) => k.key === 'general.name')?.value };
    } catch (e) {
      return { error: e.message, status: e.status };
    }
  };
  const out = { onlineF16: await load('hf://o/r:F16'), online: await load('hf://o/r:Q8_0') };
  out.listed = (await kite.listCachedModels()).map((e) => e.url).sort();
  await fetch('/hub-off');
  out.offline = await load('hf://o/r:q8_0');
  out.offlineNoQuant = await load('hf://o/r'); // no Q4_K_M cached: the Q8_0 (cached after the F16)
  out.storage = out.offlineNoQuant.cache?.storage;
  out.offlineMissing = await load('hf://o/r:Q6_K');
  for (const e of await kite.listCachedModels()) await kite.deleteCachedModel(e.url);
  return out;
}

// (the cache's default store, OPFS, and the Cache API, which lists its entries in the order they
// were stored: the F16 first, so the first cached .gguf is not the pick)
for (const cache of [undefined, 'cache-api']) test(`Chromium: a repository reference is cached under the picked file, and loads from the cache (${cache ?? 'default'}) with the hub unreachable, picked by kite -hf's rule`, async () => {
  requireDist(['st']);
  let off = false;
  const log = [];
  const intercept = async (req, res, headers) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/hub-off') {
      off = true;
      res.writeHead(200, headers).end('off');
      return true;
    }
    if (!path.startsWith('/api/models/') && !path.startsWith('/o/')) return false;
    log.push(path);
    if (path.startsWith('/api/') && off) {
      req.socket.destroy(); // the hub cannot be reached
      return true;
    }
    if (path === '/api/models/o/r') return sendList(res, headers, 'o/r'), true;
    const ok = /^\/o\/r\/resolve\/main\/([\w.-]+\.gguf)$/.exec(path);
    if (!ok || !REPOS['o/r'].includes(ok[1])) return res.writeHead(404, headers).end('not found'), true;
    // the F16 file has another general.name (its first letter's case): which file loaded shows
    const bytes = ok[1] === 'stories-F16.gguf' ? renamed(whole) : whole;
    res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': bytes.length, etag: '"v1"', 'accept-ranges': 'bytes' }).end(bytes);
    return true;
  };
  const { r, errors, origin } = await inChromium(intercept, offlineInPage, { cache });
  assert.equal(r.storage, cache ?? 'opfs');
  const file = `${origin}/o/r/resolve/main/stories-Q8_0.gguf`;
  assert.equal(r.online.arch, 'llama', JSON.stringify(r.online));
  assert.equal(r.online.cache.stored, true);
  assert.notEqual(r.onlineF16.name, r.online.name, 'the F16 and the Q8_0 tell apart');
  assert.deepEqual(r.listed, [`${origin}/o/r/resolve/main/stories-F16.gguf`, file]);
  assert.equal(r.offline.arch, 'llama', JSON.stringify(r.offline));
  assert.equal(r.offline.cache.hit, true);
  assert.equal(r.offlineNoQuant.cache?.hit, true, JSON.stringify(r.offlineNoQuant));
  assert.equal(r.offlineNoQuant.name, r.online.name, 'the cached Q8_0, not the F16 cached before it');
  assert.equal(r.offlineMissing.status, 'i/o error');
  assert.match(r.offlineMissing.error, new RegExp(`^kite: hf://o/r:Q6_K: cannot fetch the repository's file list ${origin}/api/models/o/r: `));
  // two downloads; every later load asked only for the list (refused; Chromium retries a
  // request whose connection was reset, so it may ask more than once)
  assert.deepEqual(log.slice(0, 4), ['/api/models/o/r', '/o/r/resolve/main/stories-F16.gguf', '/api/models/o/r', '/o/r/resolve/main/stories-Q8_0.gguf']);
  assert.ok(log.length >= 7 && log.slice(4).every((p) => p === '/api/models/o/r'), JSON.stringify(log));
  assert.deepEqual(errors, []);
});

test('Chromium: hfToken reaches the hub (a same-origin one) and not the cross-origin CDN it redirects to; no cache record holds it', async () => {
  requireDist(['st']);
  const seen = [];
  const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*', 'access-control-expose-headers': '*',
    'cross-origin-resource-policy': 'cross-origin' };
  const cdn = createServer((req, res) => {
    seen.push(['cdn', req.method, req.url, req.headers.authorization, req.headers['access-control-request-headers']]);
    if (req.method === 'OPTIONS') return res.writeHead(204, cors).end();
    res.writeHead(200, { ...cors, 'content-type': 'application/octet-stream', 'content-length': whole.length, etag: '"v1"' }).end(whole);
  });
  await new Promise((r) => cdn.listen(0, '127.0.0.1', r));
  const intercept = async (req, res, headers) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (!path.startsWith('/api/models/') && !path.startsWith('/o/')) return false;
    seen.push(['hub', req.method, path, req.headers.authorization]);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401, headers).end('gated'), true;
    if (path === '/api/models/o/gated') return sendList(res, headers, 'o/gated'), true;
    res.writeHead(302, { ...headers, location: `http://127.0.0.1:${cdn.address().port}/blob${path}` }).end();
    return true;
  };
  try {
    const { r, errors } = await inChromium(intercept, async ({ origin, token }) => {
      const kite = await import('/web/index.js');
      const load = async (opts) => {
        try {
          const m = await kite.loadModel('hf://o/gated:Q8_0', { flavor: 'st', hfEndpoint: origin, ...opts });
          await m.dispose();
          return { arch: m.info.model.arch, cache: m.cache, name: m.info.metadata.find((k) => k.key === 'general.name')?.value };
        } catch (e) {
          return { error: e.message };
        }
      };
      const out = { denied: await load({}), loaded: await load({ hfToken: token }) };
      out.records = JSON.stringify(await kite.listCachedModels());
      out.again = await load({ hfToken: token });
      for (const e of await kite.listCachedModels()) await kite.deleteCachedModel(e.url);
      return out;
    }, { token: TOKEN });
    assert.match(r.denied.error ?? '', /HTTP 401: a gated or private repository \(give a token with access: option hfToken/);
    assert.equal(r.loaded.arch, 'llama', JSON.stringify(r.loaded));
    assert.equal(r.loaded.cache.stored, true);
    assert.equal(r.again.cache?.hit, true, JSON.stringify(r.again));
    assert.ok(r.records.includes('/o/gated/resolve/main/stories-Q8_0.gguf'), r.records);
    assert.ok(!r.records.includes(TOKEN), `no cache record holds the token: ${r.records}`);
    const file = '/o/gated/resolve/main/stories-Q8_0.gguf';
    assert.deepEqual(seen.filter(([h]) => h === 'hub'), [
      ['hub', 'GET', '/api/models/o/gated', undefined],
      ['hub', 'GET', '/api/models/o/gated', `Bearer ${TOKEN}`],
      ['hub', 'GET', file, `Bearer ${TOKEN}`],
      ['hub', 'GET', '/api/models/o/gated', `Bearer ${TOKEN}`],
    ]);
    const atCdn = seen.filter(([h]) => h === 'cdn');
    assert.ok(atCdn.some(([, m, p]) => m === 'GET' && p === `/blob${file}`), JSON.stringify(atCdn));
    for (const [, , , auth, asked] of atCdn) {
      assert.equal(auth, undefined, 'the CDN never gets the token');
      assert.ok(!/authorization/i.test(asked ?? ''), `no preflight asks to send it: ${asked}`);
    }
    assert.deepEqual(errors, []);
  } finally {
    cdn.close();
  }
});
