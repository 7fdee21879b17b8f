// ranged_download.js - (worker side) one URL's bytes into a heap block over several HTTP Range
// requests in flight at once, as wllama does for large files: the file is cut into parts of
// partSize bytes, and `connections` requests take the next missing part until none is left.
// Each part records how much of it arrived (parts[i].got), so a cut download resumes per part.
// Every read is under the caller's AbortSignal and stall timeout (reader.js); the first error
// stops every other part before this returns, so nothing writes into a block the caller frees.

import { checkSize, iterate, readBody, startDownload } from './reader.js';
import { failure } from './errors.js';

export const DEFAULT_CONNECTIONS = 4;
export const DEFAULT_PART_SIZE = 16 * 2 ** 20;

// The validator a Range request can be tied to with If-Range: a strong ETag, else the
// Last-Modified date (RFC 9110 13.1.5: a weak ETag cannot be used there); null when none.
export function rangeValidator(res) {
  const etag = res.headers.get('etag');
  if (etag && !etag.startsWith('W/')) return etag;
  return res.headers.get('last-modified');
}

// Whether a full (200) response of `size` bytes can be read in parallel parts: the server said
// it takes byte ranges, the size is known and uncompressed, there is more than one part, and
// the response names its version (rangeValidator): without one, parts of a file changed between
// two requests would be mixed unseen.
export function parallelUsable(res, size, io) {
  const connections = io.connections ?? DEFAULT_CONNECTIONS;
  const partSize = io.partSize ?? DEFAULT_PART_SIZE;
  return connections > 1 && res.status === 200 && size !== undefined && size > partSize &&
    /\bbytes\b/i.test(res.headers.get('accept-ranges') || '') && !res.headers.get('content-encoding') &&
    rangeValidator(res) !== null;
}

// The parts of a file: [{ start, end (exclusive), got }].
export function layoutParts(size, partSize) {
  const parts = [];
  for (let start = 0; start < size; start += partSize) parts.push({ start, end: Math.min(size, start + partSize), got: 0 });
  return parts;
}

// When a response names a version of the file other than validator (rangeValidator's: a strong
// ETag, which is quoted, or a Last-Modified date), that version's ETag or date; else null. A
// server that ignores If-Range answers a changed file's range with 206 all the same: this tells.
export function otherVersion(res, validator) {
  if (!validator) return null;
  const now = validator.startsWith('"') ? res.headers.get('etag') : res.headers.get('last-modified');
  return now !== null && now !== validator ? now : null;
}

// A part's response must be the exact range asked for, of a file of the same size and version;
// anything else (200: the server ignored the range or If-Range found the file changed) is
// refused with e.restart set: the caller starts over with one stream.
function checkPart(res, desc, from, last, size, validator) {
  const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') || '');
  const ok = res.status === 206 && cr && Number(cr[1]) === from && Number(cr[2]) === last && Number(cr[3]) === size;
  const other = otherVersion(res, validator);
  if (ok && other === null) return;
  const e = failure(`${desc.url}: the server answered bytes ${from}-${last} with ` +
    (ok ? `another version of the file (${other}, not ${validator})`
      : res.status === 206 ? `Content-Range "${res.headers.get('content-range')}"` : `HTTP ${res.status} (the whole file)`), 'i/o error');
  e.restart = true;
  throw e;
}

// Downloads every part not yet complete. args:
//   desc, io       as reader.js's (io.connections, io.partSize, io.signal, io.stallTimeout,
//                  io.progress(done, total))
//   size           the file's size
//   parts          layoutParts(...), got counts already filled in for a resume
//   validator      sent as If-Range with every part (null: none)
//   first          optional { body, desc }: an open full response whose first part is read
//                  from it (then it is cancelled) instead of asking for part 0 again
//   write(off, chunk)  stores bytes (heap, cache); called in order within a part; may take the
//                  chunk's buffer; may return a promise, awaited before the part reads on
//   partDone(i)    optional, awaited when part i is complete
// Resolves when every part is complete; rejects with the first error (an abort of io.signal:
// reader.js's abortError) once every request has stopped.
export async function downloadParts({ desc, io, size, parts, validator, first, write, partDone }) {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  if (io.signal?.aborted) ctrl.abort();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  const pio = { ...io, signal: ctrl.signal };
  let done = parts.reduce((n, p) => n + p.got, 0);
  io.progress(done, size);
  const queue = parts.map((_, i) => i).filter((i) => parts[i].start + parts[i].got < parts[i].end && !(first && i === 0));
  let failure = null;

  // whole: the body is the full file (the first GET), cancelled once part i is in; else the
  // body is exactly the part's range, read to its end so the connection can be reused.
  const readPart = async (i, body, pdesc, whole) => {
    const p = parts[i];
    for await (const chunk of iterate(body, pdesc, pio)) {
      const off = p.start + p.got;
      const n = Math.min(chunk.byteLength, p.end - off);
      if (n < chunk.byteLength && !whole) throw failure(`${desc.url}: the server sent more than bytes ${p.start}-${p.end - 1}`, 'i/o error');
      if (n > 0) {
        await write(off, n < chunk.byteLength ? chunk.subarray(0, n) : chunk);
        p.got += n;
        done += n;
        io.progress(done, size);
      }
      if (whole && p.start + p.got >= p.end) break;
    }
    if (p.start + p.got < p.end) throw failure(`${desc.name}: download ended after ${done} of ${size} bytes`, 'i/o error');
    await partDone?.(i);
  };
  const worker = async () => {
    while (queue.length > 0 && !failure) {
      const i = queue.shift();
      const p = parts[i];
      const from = p.start + p.got;
      const headers = { range: `bytes=${from}-${p.end - 1}` };
      if (validator) headers['if-range'] = validator;
      const pdesc = { ...desc, fetchCtrl: null, release: null };
      const { body, res } = await startDownload(pdesc, pio, headers);
      try {
        checkPart(res, desc, from, p.end - 1, size, validator);
      } catch (e) {
        pdesc.fetchCtrl?.abort();
        pdesc.release?.();
        throw e;
      }
      await readPart(i, body, pdesc, false);
    }
  };
  const connections = Math.max(1, Math.min(io.connections ?? DEFAULT_CONNECTIONS, queue.length + (first ? 1 : 0)));
  const tasks = [];
  if (first) tasks.push(readPart(0, first.body, first.desc, true).then(worker));
  while (tasks.length < connections) tasks.push(worker());
  const settled = await Promise.allSettled(tasks.map((t) => t.catch((e) => {
    failure ??= e;
    ctrl.abort();
    throw e;
  })));
  io.signal?.removeEventListener('abort', onAbort);
  if (io.signal?.aborted) {
    const aborted = settled.find((s) => s.status === 'rejected' && s.reason?.status === 'aborted');
    throw aborted?.reason ?? failure;
  }
  if (failure) throw failure;
}

// A URL into a fresh heap block with no cache: in parallel parts where the first response allows
// it (parallelUsable), else as that one stream. A server that refuses a part's range midway is
// read again from the start as one stream. Returns { ptr, size }.
export async function readUrl(desc, io) {
  const { body, size, res } = await startDownload(desc, io);
  if (!parallelUsable(res, size, io)) return readBody(body, size, desc, io);
  try {
    checkSize(size, desc.name);
    const ptr = io.alloc(size);
    try {
      await downloadParts({
        desc, io, size,
        parts: layoutParts(size, io.partSize ?? DEFAULT_PART_SIZE),
        validator: rangeValidator(res),
        first: { body, desc },
        write: (off, chunk) => io.heap().set(chunk, ptr + off),
      });
      return { ptr, size };
    } catch (e) {
      io.free(ptr);
      if (!e.restart) throw e;
    }
  } finally {
    desc.fetchCtrl?.abort();
    desc.release?.();
  }
  const again = await startDownload(desc, io);
  return readBody(again.body, again.size, desc, io);
}
