// reader.js - (worker side) streams a model's bytes straight into one wasm heap block:
// Node files by positioned reads, URLs by fetch with progress, Blobs by slices, in-memory
// buffers by pulling slices from the caller. The model is never held twice in JS.
import { hfDenied } from './hf_repo.js';
import { failure } from './errors.js';

// wasm32 addresses 4 GiB; the model shares it with the runtime, the KV cache and scratch,
// so a file needs this much headroom below the limit to be worth trying.
export const WASM32_LIMIT = 2 ** 32;
export const HEADROOM = 256 * 2 ** 20;
export const MAX_MODEL_BYTES = WASM32_LIMIT - HEADROOM;
// The memory64 build (kite-st64) grows to 16 GiB, the most Chromium gives one instance.
export const MEMORY64_LIMIT = 16 * 2 ** 30;
export const MAX_MODEL_BYTES_64 = MEMORY64_LIMIT - HEADROOM;

let wide = false; // the worker loaded the memory64 build: checkSize allows up to MAX_MODEL_BYTES_64
export function setMemory64(on) {
  wide = on;
}

export const CHUNK = 8 * 2 ** 20; // bytes per read: large enough to amortise calls, small for progress

const gib = (n) => (n / 2 ** 30).toFixed(2) + ' GiB';

// Throws when a file of size bytes cannot fit the loaded build's heap. From the wasm32 build,
// a size the memory64 build could hold sets e.needsMemory64: the caller may retry with it.
export function checkSize(size, name) {
  if (wide && size > MAX_MODEL_BYTES_64) {
    throw Object.assign(new Error(`${name}: the model is ${gib(size)}, larger than the memory64 build can hold ` +
      `(${gib(MEMORY64_LIMIT)} of memory, of which ${gib(MAX_MODEL_BYTES_64)} can hold weights): use a smaller ` +
      'quantization of it or the native kite CLI'), { status: 'unsupported' });
  }
  if (!wide && size > MAX_MODEL_BYTES) {
    const fits64 = size <= MAX_MODEL_BYTES_64;
    throw Object.assign(new Error(`${name}: the model is ${gib(size)}, larger than a wasm32 module can hold ` +
      `(4 GiB address space, of which ${gib(MAX_MODEL_BYTES)} can hold weights)` +
      (fits64 ? '' : ` and than the memory64 build can (${gib(MAX_MODEL_BYTES_64)})`) + ': use a smaller ' +
      'quantization of it, the native kite CLI' + (fits64 ? ', or a browser with WebAssembly memory64 (Chromium)' : '')),
    { status: 'unsupported', needsMemory64: fits64 });
  }
}

// Reads desc (a Node path, a Blob or in-memory bytes; URLs: ranged_download.js's readUrl) into a
// fresh heap block, with no cache (load_bytes.js picks the reader). io = { alloc(n) -> ptr,
// free(ptr), heap() -> Uint8Array, progress(done, total), pull(offset, length) ->
// Promise<Uint8Array>, signal (AbortSignal: stops a download or read at once), stallTimeout (ms
// without a byte before a download fails) }. Returns { ptr, size }.
export async function readPlain(desc, io) {
  let size = desc.size;
  let fh = null;
  if (desc.kind === 'path') {
    fh = await openRegularFile(desc.path);
    size = (await fh.stat()).size;
  }
  try {
    checkSize(size, desc.name);
    if (size === 0) throw emptySource(desc);
    const ptr = io.alloc(size);
    try {
      let off = 0;
      io.progress(0, size);
      while (off < size) {
        const n = Math.min(CHUNK, size - off);
        if (fh) {
          const { bytesRead } = await fh.read(io.heap(), ptr + off, n, off);
          if (bytesRead === 0) throw failure(`${desc.path}: file shrank while reading (${off} of ${size} bytes)`, 'i/o error');
          off += bytesRead;
        } else {
          const chunk = desc.kind === 'blob' ? await readSlice(desc, off, n) : await io.pull(off, n);
          if (chunk.byteLength !== n) throw failure(`${desc.name}: short read at ${off}`, 'i/o error');
          io.heap().set(chunk, ptr + off);
          off += n;
        }
        io.progress(off, size);
      }
      return { ptr, size };
    } catch (e) {
      io.free(ptr);
      throw e;
    }
  } finally {
    await fh?.close();
  }
}

// The error for a source of 0 bytes, naming it: a picked File whose disk file was removed since
// reads as 0 bytes too (Chromium), so for a File it says it could not be read as well.
function emptySource(desc) {
  const why = desc.kind === 'blob' ? 'the file is empty or could not be read (0 bytes: removed since it was picked?)'
    : 'the model is empty (0 bytes)';
  return failure(`${desc.name}: ${why}`, 'invalid input');
}

// n bytes of a Blob from off. A File changed on disk since it was picked cannot be read
// (Chromium: NotReadableError, which names no file): the error names it.
async function readSlice(desc, off, n) {
  try {
    return new Uint8Array(await desc.blob.slice(off, off + n).arrayBuffer());
  } catch (e) {
    throw failure(`${desc.name}: cannot read the file (changed or removed since it was picked?): ${e.message}`, 'i/o error');
  }
}

// Streams a download's body of size bytes (its Content-Length) into the heap at ptr, reporting
// progress; throws when the server sends more or fewer bytes. The caller owns ptr and the request.
export async function streamToHeap(body, ptr, size, desc, io) {
  let off = 0;
  io.progress(0, size);
  for await (const chunk of iterate(body, desc, io)) {
    if (off + chunk.byteLength > size) throw failure(`${desc.name}: server sent more than its Content-Length (${size})`, 'i/o error');
    io.heap().set(chunk, ptr + off);
    off += chunk.byteLength;
    io.progress(off, size);
  }
  if (off !== size) throw failure(`${desc.name}: download ended after ${off} of ${size} bytes`, 'i/o error');
}

// A download's body (size: its Content-Length, undefined when unknown) into a fresh heap block
// as one stream. The request is closed when this returns or throws. Returns { ptr, size }.
export async function readBody(body, size, desc, io) {
  try {
    if (size === undefined) return await readUnknownLength(body, desc, io);
    checkSize(size, desc.name);
    const ptr = io.alloc(size);
    try {
      await streamToHeap(body, ptr, size, desc, io);
      return { ptr, size };
    } catch (e) {
      io.free(ptr);
      throw e;
    }
  } finally {
    // A download left early (an error, a size refused) must not keep its connection open.
    desc.fetchCtrl?.abort();
    desc.release?.();
  }
}

// Without a length up front the chunks are gathered first: the one case that briefly holds
// the file twice (chunks, then heap).
export async function readUnknownLength(body, desc, io) {
  const name = desc.name;
  const chunks = [];
  let size = 0;
  for await (const chunk of iterate(body, desc, io)) {
    chunks.push(chunk);
    size += chunk.byteLength;
    checkSize(size, name);
    io.progress(size, 0);
  }
  const ptr = io.alloc(size);
  let off = 0;
  for (const c of chunks) {
    io.heap().set(c, ptr + off);
    off += c.byteLength;
  }
  io.progress(size, size);
  return { ptr, size };
}

// Opens a Node file for reading, refusing anything but a regular file before it can block:
// open() of a FIFO waits for a writer, so the type is checked first and the file is opened
// non-blocking (and checked again on the descriptor, in case the path changed in between).
async function openRegularFile(path) {
  const fs = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  const st = await fs.stat(path).catch((e) => { throw failure(`cannot open ${path}: ${e.message}`, 'i/o error'); });
  if (!st.isFile()) throw failure(`${path} is not a regular file`, 'invalid input');
  const fh = await fs.open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
    .catch((e) => { throw failure(`cannot open ${path}: ${e.message}`, 'i/o error'); });
  if (!(await fh.stat()).isFile()) {
    await fh.close();
    throw failure(`${path} is not a regular file`, 'invalid input');
  }
  return fh;
}

// A stall timer: fails the download when no byte came for io.stallTimeout ms.
function stallError(desc, ms) {
  return failure(`download of ${desc.url} stalled: no data for ${ms / 1000} s (option stallTimeout)`, 'i/o error');
}

// The download's request (desc.headers: the hub's token for a URL on it; then the extra request
// headers), its headers awaited under the stall timeout and the signal. Resolves to
// { body, size, res } (size undefined when the server does not say it). An HTTP error status
// rejects with an Error whose httpStatus is that status; a request without a Range header
// answered with part of the file (206) rejects naming it.
export async function startDownload(desc, io, headers = {}) {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  desc.fetchCtrl = ctrl;
  desc.release = () => io.signal?.removeEventListener('abort', onAbort);
  let res;
  try {
    res = await withStall(fetch(desc.url, { signal: ctrl.signal, headers: { ...desc.headers, ...headers } }), desc, io);
  } catch (e) {
    desc.release();
    if (io.signal?.aborted) throw abortError();
    if (e.stalled) throw e;
    throw failure(`cannot fetch ${desc.url}: ${e.cause?.message || e.message}`, 'i/o error');
  }
  if (!res.ok) {
    desc.release();
    ctrl.abort();
    const e = failure(`cannot fetch ${desc.url}: HTTP ${res.status} ${res.statusText}${desc.hub ? hfDenied(res.status, desc.headers) : ''}`, 'i/o error');
    e.httpStatus = res.status;
    throw e;
  }
  if (res.status === 206 && !headers.range) {
    // Asked for the whole file, given a part (206): only bytes 0..N-1 of N is the whole file.
    const cr = res.headers.get('content-range');
    const m = /^bytes 0-(\d+)\/(\d+)$/.exec(cr || '');
    if (!m || Number(m[1]) + 1 !== Number(m[2])) {
      desc.release();
      ctrl.abort();
      throw failure(`cannot fetch ${desc.url}: the server answered a request for the whole file with ` +
        `a part of it (HTTP 206, Content-Range ${cr === null ? 'missing' : JSON.stringify(cr)})`, 'i/o error');
    }
  }
  const len = res.headers.get('content-length');
  // A compressed body's Content-Length is not the file size.
  const size = len !== null && !res.headers.get('content-encoding') ? Number(len) : undefined;
  return { body: res.body, size, res };
}

export function abortError() {
  const e = new Error('aborted while downloading the model');
  e.status = 'aborted';
  return e;
}

// Resolves as p does, unless io.stallTimeout ms pass first (the download is then cancelled
// and this rejects with an error naming the URL) or io.signal fires.
function withStall(p, desc, io) {
  const ms = io.stallTimeout ?? 30000;
  return new Promise((resolve, reject) => {
    const timer = ms === Infinity ? null : setTimeout(() => {
      const e = stallError(desc, ms);
      e.stalled = true;
      desc.fetchCtrl?.abort();
      reject(e);
    }, ms);
    const onAbort = () => reject(abortError());
    if (io.signal?.aborted) onAbort();
    io.signal?.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      io.signal?.removeEventListener('abort', onAbort);
    });
  });
}

// The chunks of a download, each awaited under the stall timeout and the signal; the request
// is cancelled when the loop ends early.
export async function* iterate(stream, desc, io) {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      let r;
      try {
        r = await withStall(reader.read(), desc, io);
      } catch (e) {
        if (e.stalled || e.status === 'aborted' || io.signal?.aborted) throw e;
        // the connection broke (Chromium says only "network error")
        throw failure(`download of ${desc.url} failed: ${e.message}`, 'i/o error');
      }
      if (r.done) { done = true; return; }
      yield r.value;
    }
  } finally {
    if (!done) {
      desc.fetchCtrl?.abort();
      reader.cancel().catch(() => {});
    }
    try {
      reader.releaseLock();
    } catch {
      // a read still pending on a cancelled stream: the lock goes with the stream
    }
    desc.release?.();
  }
}
