// cached_reader.js - (worker side, browsers) reads a URL into the wasm heap through the model
// cache (model_cache.js): a complete entry with no request; a partial OPFS entry resumed with
// a Range request (If-Range: the stored ETag or Last-Modified); otherwise a full download whose
// bytes go to the heap and to the cache as they arrive. A cache that cannot be written (no
// space, locked by another tab) never fails the load: the model loads uncached and the result
// says why.
import { openEntry, freeSpace } from './model_cache.js';
import { CHUNK, checkSize, iterate, readUnknownLength, startDownload } from './reader.js';

const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;

// Resolves to { ptr, size, cache, verified?, commit(sha256), discard() }: cache = { storage,
// hit, resumedFrom, stored, warning }. commit marks the entry complete (after the caller's
// checks), discard removes it (a checksum mismatch).
export async function readCached(desc, io, backend) {
  const entry = await openEntry(backend, desc.url);
  const info = { storage: backend, hit: false, resumedFrom: 0, stored: false }; // + warning when not stored
  const m = entry.meta?.url === desc.url ? entry.meta : null;
  const noop = { commit: async () => {}, discard: async () => entry.remove() };

  if (m?.complete && !(io.sha256 && m.sha256 && m.sha256 !== io.sha256)) {
    const hit = await readHit(entry, m, desc, io);
    if (hit) return { ...hit, ...noop, cache: { ...info, hit: true, stored: true }, verified: !!io.sha256 && m.sha256 === io.sha256 };
  }
  if (entry.meta?.complete || (entry.meta && !m)) await entry.remove(); // stale, damaged or a key clash
  if (backend === 'opfs') return downloadToOpfs(entry, m, desc, io, info);
  return downloadToCacheApi(entry, desc, io, info);
}

// A complete entry into the heap; null when its bytes are missing or of the wrong size.
async function readHit(entry, m, desc, io) {
  checkSize(m.size, desc.name);
  if (entry.backend === 'opfs') {
    const file = await entry.file();
    if (!file || file.size !== m.size) return null;
    const ptr = io.alloc(m.size);
    try {
      io.progress(0, m.size);
      for (let off = 0; off < m.size;) {
        const n = Math.min(CHUNK, m.size - off);
        const chunk = new Uint8Array(await file.slice(off, off + n).arrayBuffer());
        if (chunk.byteLength !== n) throw new Error(`${desc.name}: the cached copy is shorter than recorded`);
        io.heap().set(chunk, ptr + off);
        off += n;
        io.progress(off, m.size);
      }
      return { ptr, size: m.size };
    } catch (e) {
      io.free(ptr);
      throw e;
    }
  }
  const body = entry.response?.body;
  if (!body) return null;
  const ptr = io.alloc(m.size);
  try {
    let off = 0;
    io.progress(0, m.size);
    for await (const chunk of iterate(body, desc, io)) {
      if (off + chunk.byteLength > m.size) throw new Error(`${desc.name}: the cached copy is longer than recorded`);
      io.heap().set(chunk, ptr + off);
      off += chunk.byteLength;
      io.progress(off, m.size);
    }
    if (off !== m.size) throw new Error(`${desc.name}: the cached copy is shorter than recorded`);
    return { ptr, size: m.size };
  } catch (e) {
    io.free(ptr);
    throw e;
  }
}

// Why a download is not cached, with the space it needs and the space the browser allows.
const spaceWarning = (reason, need, free) =>
  `not cached: ${reason} (the model needs ${mib(need)}; the browser allows this site ` +
  `${free === Infinity ? 'an unknown amount' : mib(Math.max(0, free))} more)`;
const errorReason = (e) => (e?.name === 'QuotaExceededError' ? 'the storage quota is full' : `writing the cache failed: ${e?.message || e}`);

async function downloadToOpfs(entry, m, desc, io, info) {
  let access = null;
  try {
    access = await entry.access();
  } catch (e) {
    info.warning = `not cached: ${e.message} (another tab may be downloading the same model)`;
  }
  const validator = m?.etag || m?.lastModified;
  let have = access && m && !m.complete && validator ? access.getSize() : 0;
  if (have >= (m?.size ?? 0)) have = 0;
  let dl;
  try {
    dl = await startDownload(desc, io, have ? { range: `bytes=${have}-`, 'if-range': validator } : {});
  } catch (e) {
    access?.close();
    throw e;
  }
  let { body, size, res } = dl;
  if (res.status === 206) {
    const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') || '');
    if (!cr || Number(cr[1]) !== have || Number(cr[3]) !== m.size) {
      // Not the rest of the same file: start over.
      desc.fetchCtrl?.abort();
      desc.release?.();
      have = 0;
      ({ body, size, res } = await startDownload(desc, io));
    } else {
      size = m.size;
      info.resumedFrom = have;
    }
  } else {
    have = 0;
  }
  const release = () => {
    desc.fetchCtrl?.abort();
    desc.release?.();
  };
  if (size === undefined) {
    // No length: nothing to resume or verify against; read it uncached.
    access?.close();
    await entry.remove();
    info.warning ??= 'not cached: the server did not send the file size';
    try {
      return { ...(await readUnknownLength(body, desc, io)), cache: info, commit: async () => {}, discard: async () => {} };
    } finally {
      release();
    }
  }
  try {
    checkSize(size, desc.name);
  } catch (e) {
    access?.close();
    release();
    throw e;
  }
  const meta = {
    url: desc.url, size, etag: res.headers.get('etag'), lastModified: res.headers.get('last-modified'),
    complete: false, sha256: null, storedAt: Date.now(),
  };
  if (access) {
    const free = await freeSpace();
    if (size - have > free) {
      info.warning = spaceWarning('not enough space', size - have, free);
      access.close();
      access = null;
      await entry.remove();
    } else {
      access.truncate(have);
      await entry.setMeta(meta);
    }
  }
  const dropCache = async (e) => {
    info.warning = spaceWarning(errorReason(e), size, await freeSpace());
    try {
      access.close();
    } catch {
      // already closed
    }
    access = null;
    await entry.remove();
  };
  const ptr = io.alloc(size);
  let off = 0;
  try {
    io.progress(0, size);
    if (have) {
      const tmp = new Uint8Array(Math.min(CHUNK, have));
      while (off < have) {
        const n = access.read(tmp.subarray(0, Math.min(tmp.length, have - off)), { at: off });
        if (n <= 0) throw new Error(`${desc.name}: the cached part is shorter than recorded`);
        io.heap().set(tmp.subarray(0, n), ptr + off);
        off += n;
        io.progress(off, size);
      }
    }
    for await (const chunk of iterate(body, desc, io)) {
      if (off + chunk.byteLength > size) throw new Error(`${desc.name}: server sent more than its Content-Length (${size})`);
      io.heap().set(chunk, ptr + off);
      if (access) {
        try {
          if (access.write(chunk, { at: off }) !== chunk.byteLength) throw new Error('a short write to the cache');
        } catch (e) {
          await dropCache(e);
        }
      }
      off += chunk.byteLength;
      io.progress(off, size);
    }
    if (off !== size) throw new Error(`${desc.name}: download ended after ${off} of ${size} bytes`);
  } catch (e) {
    io.free(ptr);
    throw e;
  } finally {
    // What arrived stays stored (a partial entry): the next load resumes from there.
    if (access) {
      try {
        access.flush();
        access.close();
      } catch {
        // the handle went with the worker
      }
    }
    release();
  }
  info.stored = !!access;
  return {
    ptr, size, cache: info,
    commit: async (sha256) => {
      if (!info.stored) return;
      await entry.setMeta({ ...meta, complete: true, sha256 }).catch(async (e) => {
        info.stored = false;
        info.warning = spaceWarning(errorReason(e), size, await freeSpace());
        await entry.remove();
      });
    },
    discard: async () => entry.remove(),
  };
}

async function downloadToCacheApi(entry, desc, io, info) {
  const { body, size, res } = await startDownload(desc, io);
  const release = () => {
    desc.fetchCtrl?.abort();
    desc.release?.();
  };
  if (size === undefined) {
    info.warning = 'not cached: the server did not send the file size';
    try {
      return { ...(await readUnknownLength(body, desc, io)), cache: info, commit: async () => {}, discard: async () => {} };
    } finally {
      release();
    }
  }
  try {
    checkSize(size, desc.name);
  } catch (e) {
    release();
    throw e;
  }
  const free = await freeSpace();
  let toHeap = body;
  let stored = null;
  const meta = {
    url: desc.url, size, etag: res.headers.get('etag'), lastModified: res.headers.get('last-modified'),
    complete: true, sha256: io.sha256 ?? null, storedAt: Date.now(),
  };
  if (size > free) {
    info.warning = spaceWarning('not enough space', size, free);
  } else {
    // One branch to the heap, one to the cache; an error or abort on the first cancels both,
    // and a failed put stores nothing (the Cache API writes whole entries only).
    const [a, b] = body.tee();
    toHeap = a;
    stored = entry.put(b, meta).then(() => true, async (e) => {
      info.warning = spaceWarning(errorReason(e), size, await freeSpace());
      return false;
    });
  }
  const ptr = io.alloc(size);
  let off = 0;
  try {
    io.progress(0, size);
    for await (const chunk of iterate(toHeap, desc, io)) {
      if (off + chunk.byteLength > size) throw new Error(`${desc.name}: server sent more than its Content-Length (${size})`);
      io.heap().set(chunk, ptr + off);
      off += chunk.byteLength;
      io.progress(off, size);
    }
    if (off !== size) throw new Error(`${desc.name}: download ended after ${off} of ${size} bytes`);
  } catch (e) {
    io.free(ptr);
    release();
    await stored;
    await entry.remove();
    throw e;
  }
  info.stored = stored ? await stored : false;
  release();
  return { ptr, size, cache: info, commit: async () => {}, discard: async () => entry.remove() };
}
