// reader.js - (worker side) streams a model's bytes straight into one wasm heap block:
// Node files by positioned reads, URLs by fetch with progress, Blobs by slices, in-memory
// buffers by pulling slices from the caller. The model is never held twice in JS.

// wasm32 addresses 4 GiB; the model shares it with the runtime, the KV cache and scratch,
// so a file needs this much headroom below the limit to be worth trying.
export const WASM32_LIMIT = 2 ** 32;
export const HEADROOM = 256 * 2 ** 20;
export const MAX_MODEL_BYTES = WASM32_LIMIT - HEADROOM;

const CHUNK = 8 * 2 ** 20; // bytes per read: large enough to amortise calls, small for progress

const gib = (n) => (n / 2 ** 30).toFixed(2) + ' GiB';

export function checkSize(size, name) {
  if (size > MAX_MODEL_BYTES) {
    throw new Error(`${name}: the model is ${gib(size)}, larger than a wasm32 module can hold ` +
      `(4 GiB address space, of which ${gib(MAX_MODEL_BYTES)} can hold weights): use a smaller ` +
      'quantization of it or the native kite CLI');
  }
}

// Reads desc into a fresh heap block. io = { alloc(n) -> ptr, free(ptr), heap() -> Uint8Array,
// progress(done, total), pull(offset, length) -> Promise<Uint8Array> }. Returns { ptr, size }.
export async function readIntoHeap(desc, io) {
  let size = desc.size;
  let fh = null;
  let body = null;
  if (desc.kind === 'path') {
    const fs = await import('node:fs/promises');
    fh = await fs.open(desc.path, 'r').catch((e) => { throw new Error(`cannot open ${desc.path}: ${e.message}`); });
    const st = await fh.stat();
    if (!st.isFile()) { await fh.close(); throw new Error(`${desc.path} is not a regular file`); }
    size = st.size;
  } else if (desc.kind === 'url') {
    let res;
    try {
      res = await fetch(desc.url);
    } catch (e) {
      throw new Error(`cannot fetch ${desc.url}: ${e.cause?.message || e.message}`);
    }
    if (!res.ok) throw new Error(`cannot fetch ${desc.url}: HTTP ${res.status} ${res.statusText}`);
    const len = res.headers.get('content-length');
    // A compressed body's Content-Length is not the file size.
    size = len !== null && !res.headers.get('content-encoding') ? Number(len) : undefined;
    body = res.body;
  }
  if (size !== undefined) checkSize(size, desc.name);
  try {
    if (size === undefined) return await readUnknownLength(body, desc.name, io);
    const ptr = io.alloc(size);
    try {
      let off = 0;
      io.progress(0, size);
      if (fh) {
        while (off < size) {
          const n = Math.min(CHUNK, size - off);
          const { bytesRead } = await fh.read(io.heap(), ptr + off, n, off);
          if (bytesRead === 0) throw new Error(`${desc.path}: file shrank while reading (${off} of ${size} bytes)`);
          off += bytesRead;
          io.progress(off, size);
        }
      } else if (body) {
        for await (const chunk of iterate(body)) {
          if (off + chunk.byteLength > size) throw new Error(`${desc.name}: server sent more than its Content-Length (${size})`);
          io.heap().set(chunk, ptr + off);
          off += chunk.byteLength;
          io.progress(off, size);
        }
        if (off !== size) throw new Error(`${desc.name}: download ended after ${off} of ${size} bytes`);
      } else {
        while (off < size) {
          const n = Math.min(CHUNK, size - off);
          const chunk = desc.kind === 'blob'
            ? new Uint8Array(await desc.blob.slice(off, off + n).arrayBuffer())
            : await io.pull(off, n);
          if (chunk.byteLength !== n) throw new Error(`${desc.name}: short read at ${off}`);
          io.heap().set(chunk, ptr + off);
          off += n;
          io.progress(off, size);
        }
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

// Without a length up front the chunks are gathered first: the one case that briefly holds
// the file twice (chunks, then heap).
async function readUnknownLength(body, name, io) {
  const chunks = [];
  let size = 0;
  for await (const chunk of iterate(body)) {
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

async function* iterate(stream) {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
