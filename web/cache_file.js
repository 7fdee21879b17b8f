// cache_file.js - (loading worker side, browsers) an OPFS cache data file written beside the
// download: its synchronous access handle lives in a worker of its own (cache_file_worker.js),
// the bytes go there as they arrive (transferred, not copied) and the download goes on at once.
// The writes queued and not yet written are capped (WRITE_BEHIND bytes): past it a write waits
// until the writer has caught up, so memory stays bounded when the disk is slower than the
// network. Where a worker cannot start one (no Worker in this scope), the handle is opened here
// and written in line, as before. Used by cached_reader.js.

// A write that the file took fewer bytes of than given: Chromium's answer to a full quota.
export const SHORT_WRITE = 'the storage quota is likely full, a write to the cache fell short';

// Bytes handed to the writer and not yet written, at most (then write() waits).
export const WRITE_BEHIND = 64 * 2 ** 20;

// How long opening a data file held open elsewhere is retried, and how often.
const OPEN_WAIT_MS = 1000;
const OPEN_RETRY_MS = 50;

// An Error from the writer's answer ({ name, message }); a short write says SHORT_WRITE.
const errorOf = (f) => Object.assign(new Error(f.name === 'ShortWrite' ? SHORT_WRITE : f.message), { name: f.name === 'ShortWrite' ? 'Error' : f.name });

// Opens a synchronous access handle on fileHandle (a FileSystemFileHandle of a data file) in a
// writer worker; rejects as createSyncAccessHandle would (the file held by another tab's load:
// NoModificationAllowedError; no space: QuotaExceededError). Resolves to a CacheFile:
//   getSize(), truncate(n), flush(), close()   promises (close never rejects; flush rejects
//                                              with the first failed write)
//   drain()                                    as flush, without waiting for the disk: every
//                                              earlier write done (in the OS's cache)
//   read(n, at)                                a promise of up to n bytes from at (a Uint8Array,
//                                              valid until the next read)
//   write(chunk, at)                           queues chunk (its buffer is transferred when the
//                                              chunk spans it: the caller must not use it again);
//                                              returns a promise to await when the queue is
//                                              full, else undefined; throws the first failed
//                                              write once it is known
export async function openCacheFile(fileHandle) {
  if (typeof Worker !== 'function') return syncCacheFile(await fileHandle.createSyncAccessHandle());
  let worker;
  try {
    worker = new Worker(new URL('./cache_file_worker.js', import.meta.url), { type: 'module', name: 'kite-cache-file' });
  } catch {
    return syncCacheFile(await fileHandle.createSyncAccessHandle());
  }
  const waiting = new Map(); // id -> { done, fail, bytes }
  let nextId = 0;
  let behind = 0; // bytes queued for writing
  let failed = null; // the first failed write (an Error)
  let roomWaiters = []; // resolve the writes waiting for room
  let dead = null; // the worker failed to run (its script did not load)
  const settle = () => {
    if (roomWaiters.length && (behind <= WRITE_BEHIND / 2 || failed || dead)) {
      for (const r of roomWaiters) r();
      roomWaiters = [];
    }
  };
  worker.onmessage = (e) => {
    const { id, value, error } = e.data;
    const w = waiting.get(id);
    if (!w) return; // (failed already: the worker's error event came first)
    waiting.delete(id);
    behind -= w.bytes;
    if (error) {
      const err = errorOf(error);
      if (w.bytes) failed ??= err;
      w.fail(err);
    } else {
      w.done(value);
    }
    settle();
  };
  worker.onerror = (e) => {
    e.preventDefault?.();
    dead = new Error(`the cache writer worker failed: ${e.message || 'script error'}`);
    for (const w of waiting.values()) w.fail(dead);
    waiting.clear();
    behind = 0;
    settle();
  };
  const ask = (msg, transfer = [], bytes = 0) => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    const p = new Promise((done, fail) => waiting.set(id, { done, fail, bytes }));
    behind += bytes;
    worker.postMessage({ ...msg, id }, transfer);
    return p;
  };
  for (let tries = 1; ; tries++) {
    try {
      await ask({ op: 'open', file: fileHandle });
      break;
    } catch (e) {
      // Held: by another tab's load, or by the writer of a load whose worker was just ended (an
      // abort), which lets it go a moment later; asked again for up to OPEN_WAIT_MS.
      if (e?.name === 'NoModificationAllowedError' && tries * OPEN_RETRY_MS < OPEN_WAIT_MS) {
        await new Promise((r) => setTimeout(r, OPEN_RETRY_MS));
        continue;
      }
      worker.terminate();
      if (e === dead) return syncCacheFile(await fileHandle.createSyncAccessHandle());
      throw e;
    }
  }
  let closed = false;
  return {
    getSize: () => ask({ op: 'size' }),
    truncate: (n) => ask({ op: 'truncate', n }),
    read: async (n, at) => new Uint8Array(await ask({ op: 'read', at, n })),
    write(chunk, at) {
      if (failed || dead) throw failed || dead;
      const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && !(chunk.buffer instanceof SharedArrayBufferType());
      const buf = whole ? chunk.buffer : chunk.slice().buffer;
      ask({ op: 'write', at, buf }, [buf], buf.byteLength).catch(() => {}); // (failed says it)
      if (behind <= WRITE_BEHIND) return undefined;
      return new Promise((r) => roomWaiters.push(r));
    },
    flush: async () => {
      await ask({ op: 'flush' });
      if (failed) throw failed;
    },
    drain: async () => {
      await ask({ op: 'drain' });
      if (failed) throw failed;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await ask({ op: 'close' }).catch(() => {});
      worker.terminate();
    },
  };
}

// SharedArrayBuffer where the page is cross-origin isolated, else a class nothing is of.
const SharedArrayBufferType = () => (typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer : class {});

// The CacheFile interface (see openCacheFile) over a synchronous access handle h used in this
// thread, in line: each write is done when write() returns. close() closes h.
export function syncCacheFile(h) {
  let tmp = new Uint8Array(0);
  return {
    getSize: async () => h.getSize(),
    truncate: async (n) => h.truncate(n),
    read: async (n, at) => { // (into one buffer, reused: each result is valid until the next read)
      if (tmp.byteLength < n) tmp = new Uint8Array(n);
      return tmp.subarray(0, h.read(tmp.subarray(0, n), { at }));
    },
    write(chunk, at) {
      if (h.write(chunk, { at }) !== chunk.byteLength) throw new Error(SHORT_WRITE);
      return undefined;
    },
    flush: async () => h.flush(),
    drain: async () => {},
    close: async () => {
      try {
        h.close();
      } catch {
        // closed already
      }
    },
  };
}
