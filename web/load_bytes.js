// load_bytes.js - (worker side) a model source into one wasm heap block: through the browser's
// model cache for http(s) URLs when caching is on (cached_reader.js), else directly
// (ranged_download.js for URLs, reader.js for the rest); then, when the caller gave one, the
// SHA-256 is checked before anything uses the bytes (a mismatch frees them and drops the cache
// entry). A URL's bytes must start with GGUF's magic: an error page a server sent as 200 is
// refused naming the URL, and never kept in the cache to be served later without a request. A
// cached copy that fails either check is dropped and the URL read once more. The cache entry is
// held (model_cache.js useEntry) from the first read to its record, so a delete cannot interleave.
import { readPlain } from './reader.js';
import { readCached } from './cached_reader.js';
import { readUrl } from './ranged_download.js';
import { cacheableUrl, pickBackend, useEntry } from './model_cache.js';
import { Sha256 } from './sha256.js';

const HASH_CHUNK = 4 * 2 ** 20;
const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"

// null when a heap block starts with GGUF's magic, else an error naming the URL and showing
// what the bytes start with.
function notGguf(desc, io, r) {
  const head = io.heap().subarray(r.ptr, r.ptr + Math.min(r.size, 16));
  if (r.size >= 4 && GGUF_MAGIC.every((b, i) => head[i] === b)) return null;
  const shown = String.fromCharCode(...head).replace(/[^\x20-\x7e]/g, '.');
  const e = new Error(`${desc.name}: not a GGUF file (${r.size} bytes starting ${JSON.stringify(shown)}): ` +
    'the server may have sent an error page');
  e.status = 'invalid input';
  return e;
}

// An error when the bytes do not hash to io.sha256, else null.
function checksumError(desc, io, r) {
  const h = new Sha256();
  for (let off = 0; off < r.size; off += HASH_CHUNK) {
    const base = r.ptr + off;
    h.update(io.heap().subarray(base, base + Math.min(HASH_CHUNK, r.size - off)));
    io.progress(off, r.size);
  }
  const got = h.hex();
  if (got === io.sha256) return null;
  const e = new Error(`${desc.name}: SHA-256 mismatch: expected ${io.sha256}, got ${got} (${r.size} bytes)`);
  e.status = 'invalid input';
  return e;
}

// io: as readPlain's, plus connections and partSize (ranged_download.js), cache (false, true,
// 'opfs' or 'cache-api'), cacheKey (the entry's name instead of the URL, optional), sha256
// (lower-case hex, optional), verified (the backends whose copy the page already hashed against
// sha256 in this session: a hit there is not hashed again) and gguf (false: a URL's bytes need
// not be a GGUF file). Resolves to { ptr, size, cache, drop } (cache: null when the cache was not
// used; drop(): removes the cache entry the bytes are kept in, for a caller that finds them
// malformed).
export async function readIntoHeap(desc, io) {
  const backend = desc.kind === 'url' && cacheableUrl(desc.url) ? pickBackend(io.cache) : null;
  if (!backend) return readChecked(desc, io, null);
  const release = await useEntry(desc.url, io.cacheKey ?? null);
  try {
    return await readChecked(desc, io, backend);
  } finally {
    release();
  }
}

// readIntoHeap's read and checks; again: this is the second read, after a cached copy failed one.
async function readChecked(desc, io, backend, again = false) {
  const r = backend
    ? await readCached(desc, io, backend)
    : { ...(await (desc.kind === 'url' ? readUrl(desc, io) : readPlain(desc, io))), cache: null };
  let bad = null;
  try {
    if (desc.kind === 'url' && io.gguf !== false) bad = notGguf(desc, io, r);
    if (!bad && io.sha256 && !r.verified) bad = checksumError(desc, io, r);
    if (!bad) await r.commit?.(io.sha256 ?? null);
  } catch (e) {
    io.free(r.ptr);
    throw e;
  }
  if (!bad) return { ptr: r.ptr, size: r.size, cache: r.cache, drop: async () => r.discard?.() };
  io.free(r.ptr);
  await r.discard?.();
  // A cached copy that fails a check (stored without a checksum before the server's file
  // changed) is dropped and the file downloaded once more.
  if (r.cache?.hit && !again) return readChecked(desc, io, backend, true);
  throw bad;
}
