// model_cache.js - the browser's model cache: downloaded GGUF files kept in the Origin Private
// File System (OPFS: resumable, written as the bytes arrive), or in the Cache API where OPFS
// is missing. Entries are keyed by URL, or by the caller's cacheKey (a presigned URL's query
// changes on every request), and record the server's ETag / Last-Modified and size: a complete
// entry is read with no network request; a partial one (OPFS) resumes with a Range request that
// If-Range ties to the same ETag. A load holds a shared Web Lock on its entry while it reads,
// downloads or records it; deleteCachedModel takes it exclusively, so a delete is never undone by
// a load that was writing the entry. An OPFS data file whose record is missing or unreadable (a
// load that ended between the two) cannot be resumed, listed or deleted by URL: the first OPFS
// use in each page or worker, and every listCachedModels, removes it. Used by the worker
// (cached_reader.js, load_bytes.js) and by the page (listCachedModels, deleteCachedModel).
// Nothing here runs in Node (no OPFS, no caches).

import { KiteError } from './errors.js';

const DIR = 'kite-models';
const CACHE_NAME = 'kite-models';
const META = 'x-kite-meta'; // the Cache API entry's metadata header (JSON)

const hasOpfs = () => typeof navigator === 'object' && typeof navigator.storage?.getDirectory === 'function';
const hasCacheApi = () => typeof caches === 'object' && typeof caches?.open === 'function';

// Whether a URL's bytes may be cached: http(s) only (blob:, data: and file: are local already).
export const cacheableUrl = (url) => /^https?:/i.test(url);

// What names an entry: the URL, or 'key:' and the caller's cacheKey (no URL starts so).
const entryId = (url, cacheKey) => (cacheKey == null ? url : `key:${cacheKey}`);

// The file name of an entry: the hex SHA-256 of its id.
async function keyOf(id) {
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(id));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

// The Cache API request an entry is stored under: the URL, or for a cacheKey a URL no server
// answers (the Cache API keys by http(s) URL).
const cacheRequest = (url, cacheKey) => (cacheKey == null ? url : `https://kite-cache-key.invalid/${encodeURIComponent(cacheKey)}`);

const hasLocks = () => typeof navigator === 'object' && typeof navigator.locks?.request === 'function';
// An entry's lock is named by its key, so a data file found without its record (sweepOrphans)
// has the lock its load would hold.
const lockName = (key) => `kite-model-cache ${key}`;

// Runs fn() holding an entry's lock exclusively when no load holds it, else busy(); without the
// Web Locks API, fn() (the OPFS data file a load holds open is the only guard then).
const exclusively = (key, fn, busy) => (!hasLocks() ? fn()
  : navigator.locks.request(lockName(key), { mode: 'exclusive', ifAvailable: true }, (lock) => (lock ? fn() : busy())));

// Takes a shared lock on an entry for a load (this worker, or another tab's, may share it;
// deleteCachedModel's exclusive lock waits for every holder). Resolves once held, to release().
// Without the Web Locks API there is no lock (release does nothing).
export async function useEntry(url, cacheKey = null) {
  if (!hasLocks()) return () => {};
  const name = lockName(await keyOf(entryId(url, cacheKey)));
  let release;
  const held = new Promise((r) => (release = r));
  await new Promise((granted, fail) => {
    navigator.locks.request(name, { mode: 'shared' }, () => {
      granted();
      return held;
    }).catch(fail);
  });
  return release;
}

// The cache's OPFS folder; with create false, null when there is none yet (listing or deleting
// must not make it: with the storage full that fails).
async function opfsDir(create = true) {
  const root = await navigator.storage.getDirectory();
  try {
    return await root.getDirectoryHandle(DIR, { create });
  } catch (e) {
    if (!create && e?.name === 'NotFoundError') return null;
    throw e;
  }
}

async function readJson(dir, name) {
  try {
    const f = await (await dir.getFileHandle(name)).getFile();
    return JSON.parse(await f.text());
  } catch {
    return null;
  }
}

// Removes each data file (KEY.gguf) whose record (KEY.json) is missing or unreadable, with that
// record: a load that ended between creating its data file and writing its record left it, and
// no load resumes bytes without a record (it starts the file over), nor can the page list them
// or delete them by URL. An entry whose lock a load holds is left alone, and so is a data file
// held open (a load before its record, where there are no Web Locks). Never rejects.
let swept = null; // the sweep of this page or worker (openEntry's first, or listCachedModels' last)
async function sweepOrphans(dir) {
  try {
    const names = new Set();
    for await (const [name, h] of dir.entries()) if (h.kind === 'file') names.add(name);
    for (const name of names) {
      const key = /^([0-9a-f]{64})\.gguf$/.exec(name)?.[1];
      if (!key || (await readJson(dir, `${key}.json`))?.url) continue;
      await exclusively(key, async () => {
        if ((await readJson(dir, `${key}.json`))?.url) return; // its load recorded it meanwhile
        await dir.removeEntry(name);
        await dir.removeEntry(`${key}.json`).catch(() => {});
      }, () => {}).catch(() => {}); // (held open: it stays)
    }
  } catch {
    // a folder that cannot be read is left as it is
  }
}

async function writeJson(dir, name, value) {
  const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
  await w.write(JSON.stringify(value));
  await w.close();
}

// The backend to use: 'opfs' or 'cache-api' when asked for and present, else the first present
// one for true; null when none is (or caching is off).
export function pickBackend(want) {
  if (!want) return null;
  if (want === 'opfs') return hasOpfs() ? 'opfs' : null;
  if (want === 'cache-api') return hasCacheApi() ? 'cache-api' : null;
  return hasOpfs() ? 'opfs' : hasCacheApi() ? 'cache-api' : null;
}

// Whether an entry's record is the one asked for (not another id whose key hashed alike).
export const isEntryOf = (meta, url, cacheKey = null) =>
  cacheKey == null ? meta?.url === url && meta.cacheKey == null : meta?.cacheKey === cacheKey;

// One entry (a URL's, or a cacheKey's) in a backend. meta: { url, cacheKey, size, etag,
// lastModified, sha256, complete, storedAt } or null.
export async function openEntry(backend, url, cacheKey = null) {
  const key = await keyOf(entryId(url, cacheKey));
  if (backend === 'opfs') {
    const dir = await opfsDir();
    await (swept ??= sweepOrphans(dir));
    const dataFile = () => dir.getFileHandle(`${key}.gguf`, { create: true });
    return {
      backend,
      meta: await readJson(dir, `${key}.json`),
      setMeta: (m) => writeJson(dir, `${key}.json`, m),
      // A File of the stored bytes (null when absent).
      file: async () => {
        try {
          return await (await dir.getFileHandle(`${key}.gguf`)).getFile();
        } catch {
          return null;
        }
      },
      // A synchronous access handle on the data file (dedicated workers only).
      access: async () => (await dataFile()).createSyncAccessHandle(),
      // The data file's FileSystemFileHandle (made when missing), for a writer elsewhere.
      fileHandle: dataFile,
      // Removes the data file, then the record. A data file a running load holds open (its
      // access handle is exclusive) stays: with busy, remove then throws busy(), keeping the
      // record too (that load still writes it); without, the record goes all the same.
      remove: async (busy = null) => {
        try {
          await dir.removeEntry(`${key}.gguf`);
        } catch (e) {
          if (busy && e?.name === 'NoModificationAllowedError') throw busy();
        }
        await dir.removeEntry(`${key}.json`).catch(() => {});
      },
    };
  }
  const cache = await caches.open(CACHE_NAME);
  const request = cacheRequest(url, cacheKey);
  const hit = await cache.match(request);
  let meta = null;
  try {
    meta = hit ? JSON.parse(hit.headers.get(META)) : null;
  } catch {
    meta = null;
  }
  return {
    backend,
    meta,
    response: hit,
    // Stores a stream of the whole file (resolves when it has been read to the end).
    put: (stream, m) => cache.put(request, new Response(stream, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(m.size), [META]: JSON.stringify(m) },
    })),
    remove: async () => { await cache.delete(request); },
  };
}

const listed = (m, storage) => ({ ...m, cacheKey: m.cacheKey ?? null, storage });

// Every cached model: [{ url, cacheKey, size, complete, etag, sha256, storedAt, storage }].
export async function listCachedModels() {
  const out = [];
  const dir = hasOpfs() ? await opfsDir(false) : null;
  if (dir) {
    await (swept = sweepOrphans(dir)); // (also those orphaned since this page's first sweep)
    for await (const [name, h] of dir.entries()) {
      if (!name.endsWith('.json') || h.kind !== 'file') continue;
      const m = await readJson(dir, name);
      if (m?.url) out.push(listed(m, 'opfs'));
    }
  }
  if (hasCacheApi()) {
    const cache = await caches.open(CACHE_NAME);
    for (const req of await cache.keys()) {
      const r = await cache.match(req);
      try {
        const m = JSON.parse(r.headers.get(META));
        if (m?.url) out.push(listed(m, 'cache-api'));
      } catch {
        // not ours
      }
    }
  }
  return out;
}

// Removes a URL's (or a cacheKey's) entries, OPFS and Cache API; true when there was one.
// Rejects, keeping them, while a load in this or another tab downloads, reads or records one
// (holds its lock, or where there are no Web Locks, the OPFS data file).
export async function deleteCachedModel(url, cacheKey = null) {
  const what = cacheKey == null ? url : `cacheKey ${JSON.stringify(cacheKey)}`;
  const busy = () => new KiteError(`kite: deleteCachedModel: ${what} is in use by a running loadModel (downloading or ` +
    'reading it, in this page or another tab): delete it once that load has ended, or abort the load first', 'busy');
  const remove = async () => {
    let found = false;
    for (const backend of ['opfs', 'cache-api']) {
      if (pickBackend(backend) !== backend || (backend === 'opfs' && !(await opfsDir(false)))) continue;
      const e = await openEntry(backend, url, cacheKey);
      if (e.meta) found = true;
      await e.remove(busy);
    }
    return found;
  };
  return exclusively(await keyOf(entryId(url, cacheKey)), remove, () => {
    throw busy();
  });
}

// The free space the origin may still use (bytes), or Infinity when the browser does not say.
export async function freeSpace() {
  try {
    const { quota, usage } = await navigator.storage.estimate();
    return quota === undefined ? Infinity : quota - (usage ?? 0);
  } catch {
    return Infinity;
  }
}
