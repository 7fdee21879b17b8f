// cached_reader.js - (worker side, browsers) reads a URL into the wasm heap through the model
// cache (model_cache.js): a complete entry with no request; a partial OPFS entry resumed with
// a Range request (If-Range: the stored ETag or Last-Modified); otherwise a full download whose
// bytes go to the heap and to the cache as they arrive. A cache that cannot be written (no
// space, locked by another tab) never fails the load: the model loads uncached and the result
// says why.
import { openEntry, freeSpace, isEntryOf } from './model_cache.js';
import { CHUNK, checkSize, iterate, readBody, readUnknownLength, startDownload, streamToHeap } from './reader.js';
import { DEFAULT_PART_SIZE, downloadParts, layoutParts, otherVersion, parallelUsable, rangeValidator, readUrl } from './ranged_download.js';
import { failure } from './errors.js';
import { SHORT_WRITE, openCacheFile, syncCacheFile } from './cache_file.js';

const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;

// Resolves to { ptr, size, cache, verified?, commit(sha256), discard() }: cache = { storage,
// hit, resumedFrom, stored, warning }. commit marks the entry complete (after the caller's
// checks), discard removes it (a checksum mismatch). The entry is desc.url's, or io.cacheKey's.
// verified: a hit the caller need not hash against io.sha256: its record holds that SHA-256 and
// the page already hashed this backend's copy against it in this session (io.verified lists the
// backends it did).
export async function readCached(desc, io, backend) {
  const info = { storage: backend, hit: false, resumedFrom: 0, stored: false }; // + warning when not stored
  let entry;
  try {
    entry = await openEntry(backend, desc.url, io.cacheKey ?? null);
  } catch (e) {
    // the cache's folder or store cannot even be opened (the storage is full): read uncached
    const r = await readUrl(desc, io);
    return uncached(r, { ...info, warning: spaceWarning(errorReason(e), r.size, await freeSpace()) });
  }
  const m = isEntryOf(entry.meta, desc.url, io.cacheKey ?? null) ? entry.meta : null;
  const noop = { commit: async () => {}, discard: async () => entry.remove() };

  if (m?.complete && !(io.sha256 && m.sha256 && m.sha256 !== io.sha256)) {
    // a copy whose bytes do not match its record is dropped below and downloaded again
    const hit = await readHit(entry, m, desc, io).catch((e) => {
      if (!e.damaged) throw e;
      return null;
    });
    const verified = !!io.sha256 && m.sha256 === io.sha256 && !!io.verified?.includes(backend);
    if (hit) return { ...hit, ...noop, cache: { ...info, hit: true, stored: true }, verified };
  }
  if (entry.meta?.complete || (entry.meta && !m)) await entry.remove(); // stale, damaged or a key clash
  if (backend === 'opfs') return downloadToOpfs(entry, m, desc, io, info);
  return downloadToCacheApi(entry, desc, io, info);
}

// An error saying a cache entry's bytes do not match its record (e.damaged set).
const damaged = (desc, what) => Object.assign(new Error(`${desc.name}: ${what}`), { damaged: true });

// A complete entry into the heap; null when its bytes are missing or of the wrong size (an
// error with e.damaged when that shows only while reading).
async function readHit(entry, m, desc, io) {
  checkSize(m.size, desc.name);
  if (entry.backend === 'opfs') {
    const file = await entry.file();
    if (!file || file.size !== m.size) return null;
    const ptr = io.alloc(m.size);
    try {
      io.progress(0, m.size);
      // Through a synchronous access handle where one can be had: no Blob read per chunk (in
      // Chromium 1 GiB comes in 0.3-0.7 s this way against 2.2-2.3 s through the File). The
      // handle is exclusive: while another tab holds one on this file, the File is read.
      const access = await entry.access().catch(() => null);
      if (access) {
        try {
          await copyStored(syncCacheFile(access), ptr, [{ start: 0, got: m.size }], m.size, desc, io);
        } finally {
          access.close();
        }
        return { ptr, size: m.size };
      }
      for (let off = 0; off < m.size;) {
        const n = Math.min(CHUNK, m.size - off);
        const chunk = new Uint8Array(await file.slice(off, off + n).arrayBuffer());
        if (chunk.byteLength !== n) throw damaged(desc, 'the cached copy is shorter than recorded');
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
      if (off + chunk.byteLength > m.size) throw damaged(desc, 'the cached copy is longer than recorded');
      io.heap().set(chunk, ptr + off);
      off += chunk.byteLength;
      io.progress(off, m.size);
    }
    if (off !== m.size) throw damaged(desc, 'the cached copy is shorter than recorded');
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
const errorReason = (e) => (e?.name === 'QuotaExceededError' ? 'the storage quota is full'
  : e?.message === SHORT_WRITE ? SHORT_WRITE : `writing the cache failed: ${e?.message || e}`);

// The parts' progress as the entry records it: { size: partSize, got: [bytes per part] }.
const partsMeta = (partSize, parts) => ({ size: partSize, got: parts.map((p) => p.got) });

// The parts a partial entry recorded, or null when its record does not fit its size.
function recordedParts(m) {
  const partSize = m.parts?.size;
  if (!Number.isInteger(partSize) || partSize <= 0 || !Number.isInteger(m.size) || m.size <= 0) return null;
  const parts = layoutParts(m.size, partSize);
  const got = m.parts.got;
  if (!Array.isArray(got) || got.length !== parts.length) return null;
  for (let i = 0; i < parts.length; i++) {
    if (!Number.isInteger(got[i]) || got[i] < 0 || got[i] > parts[i].end - parts[i].start) return null;
    parts[i].got = got[i];
  }
  return parts;
}

// Aborts a download's fetch (when it still runs) and gives back its slot.
function releaseDownload(desc) {
  desc.fetchCtrl?.abort();
  desc.release?.();
}

// A load's result that the cache does not keep (info.warning says why): commit and discard do
// nothing.
const uncached = (loaded, info) => ({ ...loaded, cache: info, commit: async () => {}, discard: async () => {} });

// A body sent without its length, read into the heap uncached: there is nothing to resume or
// verify against.
async function readUncached(body, desc, io, info) {
  info.warning ??= 'not cached: the server did not send the file size';
  try {
    return uncached(await readUnknownLength(body, desc, io), info);
  } finally {
    releaseDownload(desc);
  }
}

async function downloadToOpfs(entry, m, desc, io, info) {
  let access = null;
  let refused = null; // why the data file could not be opened: another tab holds it, or no space
  try {
    // written beside the download, in a worker of its own (cache_file.js)
    access = await openCacheFile(await entry.fileHandle());
  } catch (e) {
    refused = e;
    info.warning = e?.name === 'QuotaExceededError' ? `not cached: ${errorReason(e)}`
      : `not cached: ${e.message} (another tab may be downloading the same model)`;
  }
  const validator = m?.etag || m?.lastModified;
  // A parallel download cut short: fetch the parts still missing, tied to the same file.
  const recorded = access && m && !m.complete && validator ? recordedParts(m) : null;
  if (recorded) {
    const meta = { ...m, url: desc.url, storedAt: Date.now() };
    info.resumedFrom = recorded.reduce((n, p) => n + p.got, 0);
    try {
      return await storeParts({ entry, access, meta, desc, io, info, parts: recorded, validator: m.validator ?? validator });
    } catch (e) {
      if (!e.restart && !e.damaged) throw e;
      // The file changed on the server (or it stopped taking ranges, or the stored file lost
      // bytes its record claims): start over.
      info.resumedFrom = 0;
      await entry.remove();
      access = await entry.fileHandle().then(openCacheFile).catch(() => null);
      m = null;
    }
  }
  let have = access && m && !m.complete && validator && !m.parts ? await access.getSize() : 0;
  if (have >= (m?.size ?? 0)) have = 0;
  let dl;
  try {
    dl = await startDownload(desc, io, have ? { range: `bytes=${have}-`, 'if-range': validator } : {});
  } catch (e) {
    await access?.close();
    throw e;
  }
  let { body, size, res } = dl;
  if (have && res.status === 206) {
    const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') || '');
    if (!cr || Number(cr[1]) !== have || Number(cr[3]) !== m.size || otherVersion(res, validator) !== null) {
      // Not the rest of the same file (a server that ignores If-Range): start over.
      releaseDownload(desc);
      have = 0;
      ({ body, size, res } = await startDownload(desc, io));
    } else {
      size = m.size;
      info.resumedFrom = have;
    }
  } else {
    have = 0;
  }
  if (size === undefined) {
    if (access) { // (without it, the entry may be another tab's download)
      await access.close();
      await entry.remove();
    }
    return readUncached(body, desc, io, info);
  }
  try {
    checkSize(size, desc.name);
  } catch (e) {
    await access?.close();
    releaseDownload(desc);
    throw e;
  }
  if (refused?.name === 'QuotaExceededError') info.warning = spaceWarning(errorReason(refused), size, await freeSpace());
  const meta = {
    url: desc.url, cacheKey: io.cacheKey ?? null, size, etag: res.headers.get('etag'), lastModified: res.headers.get('last-modified'),
    complete: false, sha256: null, storedAt: Date.now(),
  };
  const parallel = parallelUsable(res, size, io);
  const partSize = io.partSize ?? DEFAULT_PART_SIZE;
  const parts = parallel ? layoutParts(size, partSize) : null;
  const pmeta = parallel ? { ...meta, validator: rangeValidator(res), parts: partsMeta(partSize, parts) } : null;
  if (access) {
    const free = await freeSpace();
    let why = size - have > free ? 'not enough space' : null;
    if (!why) {
      try {
        await access.truncate(have);
        await entry.setMeta(pmeta ?? meta);
      } catch (e) {
        why = errorReason(e); // the record could not be written: the storage is full
      }
    }
    if (why) {
      info.warning = spaceWarning(why, size - have, free);
      await access.close();
      access = null;
      await entry.remove();
    }
  }
  if (parallel) {
    try {
      return await storeParts({ entry, access, meta: pmeta, desc, io, info, parts, validator: pmeta.validator, first: { body, desc } });
    } catch (e) {
      if (!e.restart) throw e;
      // The server stopped taking ranges midway: once more as one stream, uncached.
      if (access) await entry.remove();
      const again = await startDownload(desc, io);
      info.warning ??= 'not cached: the server stopped answering byte ranges';
      return uncached(await readBody(again.body, again.size, desc, io), info);
    } finally {
      releaseDownload(desc);
    }
  }
  const dropCache = async (e) => {
    const closing = access.close();
    access = null;
    info.warning = spaceWarning(errorReason(e), size, await freeSpace());
    await closing;
    await entry.remove();
  };
  const ptr = io.alloc(size);
  let off = 0;
  try {
    io.progress(0, size);
    if (have) {
      await copyStored(access, ptr, [{ start: 0, got: have }], size, desc, io);
      off = have;
    }
    for await (const chunk of iterate(body, desc, io)) {
      const n = chunk.byteLength; // (the writer may take the chunk's buffer)
      if (off + n > size) throw failure(`${desc.name}: server sent more than its Content-Length (${size})`, 'i/o error');
      io.heap().set(chunk, ptr + off);
      if (access) {
        try {
          await access.write(chunk, off); // (waits only when the writer is far behind)
        } catch (e) {
          await dropCache(e);
        }
      }
      off += n;
      io.progress(off, size);
    }
    if (off !== size) throw failure(`${desc.name}: download ended after ${off} of ${size} bytes`, 'i/o error');
  } catch (e) {
    io.free(ptr);
    throw e;
  } finally {
    // What arrived stays stored (a partial entry): the next load resumes from there. The
    // writes still queued are awaited: the entry is kept only when each of them succeeded.
    if (access) {
      try {
        await access.flush();
      } catch (e) {
        await dropCache(e);
      }
      await access?.close();
    }
    releaseDownload(desc);
  }
  info.stored = !!access;
  return opfsResult(entry, meta, ptr, size, info);
}

// The result of a load through an OPFS entry (see readCached): commit records meta as complete
// with the checksum (a failed write drops the entry and says why in info.warning); discard
// removes the entry.
function opfsResult(entry, meta, ptr, size, info) {
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

// Copies the stored bytes of each part ([start, start + got)) from the cache file (a CacheFile,
// cache_file.js) into the heap.
async function copyStored(access, ptr, parts, size, desc, io) {
  let done = 0;
  for (const p of parts) {
    for (let off = p.start; off < p.start + p.got;) {
      const got = await access.read(Math.min(CHUNK, p.start + p.got - off), off);
      const n = got.byteLength;
      if (n <= 0) throw damaged(desc, 'the cached part is shorter than recorded');
      io.heap().set(got, ptr + off);
      off += n;
      done += n;
      io.progress(done, size);
    }
  }
}

// A parallel download (ranged_download.js) into a fresh heap block and, while access is open,
// into the cache file at the same offsets; the entry records each part's progress when the part
// completes and when the download stops, so the next load asks only for what is missing.
// Rejects with e.restart set when the server does not answer a range as asked.
async function storeParts({ entry, access, meta, desc, io, info, parts, validator, first }) {
  const size = meta.size;
  const partSize = meta.parts.size;
  let saving = Promise.resolve();
  let dropped = null; // why a write to the cache failed: the entry goes, the download goes on
  let closing = null; // the dropped file's close
  const dropCache = (e) => {
    if (!access) return;
    closing = access.close();
    access = null;
    dropped = e;
  };
  // Metadata writes one after another (a file has one writer at a time), at most one waiting
  // (it records the progress of when it starts: a part done meanwhile is in it). The progress
  // is taken before the drain, which waits for every write handed over until then, so the
  // record never claims bytes the file does not hold (the OS's cache: the disk is flushed as
  // the writer goes, and before the entry is complete); a drain that reports a failed write
  // drops the entry.
  let queued = false;
  const save = () => {
    if (!access || queued) return saving;
    queued = true;
    saving = saving.then(async () => {
      queued = false;
      if (!access) return;
      const progress = partsMeta(partSize, parts);
      try {
        await access.drain();
      } catch (e) {
        dropCache(e);
        return;
      }
      await entry.setMeta({ ...meta, parts: progress });
    }).catch(() => {});
    return saving;
  };
  const ptr = io.alloc(size);
  try {
    if (info.resumedFrom) await copyStored(access, ptr, parts, size, desc, io);
    await downloadParts({
      desc, io, size, parts, validator, first,
      write: (off, chunk) => {
        io.heap().set(chunk, ptr + off);
        if (!access) return undefined;
        try {
          return access.write(chunk, off); // (a promise only when the writer is far behind)
        } catch (e) {
          dropCache(e);
          return undefined;
        }
      },
      // (awaited: a load aborted on the page ends its worker, the writer's with it, at once; what
      // the record holds by then is what the next load resumes)
      partDone: () => save(),
    });
  } catch (e) {
    io.free(ptr);
    throw e;
  } finally {
    // What arrived stays stored (a partial entry): the next load resumes each part from there.
    await access?.flush().catch(dropCache);
    await save();
    info.stored = !!access;
    await access?.close();
    await closing;
    if (dropped) {
      info.warning = spaceWarning(errorReason(dropped), size, await freeSpace());
      await entry.remove();
    }
  }
  const done = { ...meta };
  delete done.parts;
  return opfsResult(entry, done, ptr, size, info);
}

async function downloadToCacheApi(entry, desc, io, info) {
  const { body, size, res } = await startDownload(desc, io);
  if (size === undefined) return readUncached(body, desc, io, info);
  try {
    checkSize(size, desc.name);
  } catch (e) {
    releaseDownload(desc);
    throw e;
  }
  const free = await freeSpace();
  let toHeap = body;
  let stored = null;
  const meta = {
    url: desc.url, cacheKey: io.cacheKey ?? null, size, etag: res.headers.get('etag'), lastModified: res.headers.get('last-modified'),
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
  try {
    await streamToHeap(toHeap, ptr, size, desc, io);
  } catch (e) {
    io.free(ptr);
    releaseDownload(desc);
    await stored;
    await entry.remove();
    throw e;
  }
  info.stored = stored ? await stored : false;
  releaseDownload(desc);
  return { ptr, size, cache: info, commit: async () => {}, discard: async () => entry.remove() };
}
