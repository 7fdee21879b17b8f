// cache_file_worker.js - (a worker the loading worker starts, browsers) owns the synchronous
// access handle on one OPFS cache data file, so that writing the downloaded bytes runs beside
// the download instead of between its network reads (cache_file.js is the other side). Messages,
// answered in the order they came, each with its id:
//   { op: 'open', file }         file: a FileSystemFileHandle; answers its size
//   { op: 'size' }               the file's size
//   { op: 'truncate', n }
//   { op: 'read', at, n }        answers up to n bytes from at (an ArrayBuffer, transferred)
//   { op: 'write', at, buf }     buf: an ArrayBuffer; answers the bytes it holds
//   { op: 'flush' }              answers once every earlier write is on disk
//   { op: 'drain' }              answers once every earlier write is done (in the OS's cache)
//   { op: 'close' }              closes the handle (then the worker may be ended)
// A failure answers { id, error: { name, message } }; once a write failed (the storage quota,
// a write that took fewer bytes than given: { name: 'ShortWrite' }), every later write and
// flush answers that failure without writing, so the file holds no bytes after a hole.

let handle = null;
let failed = null;
let unflushed = 0; // bytes written since the last flush

// Written bytes are flushed every FLUSH_EVERY bytes as they come, so the flush that ends the
// download (which the load waits for) has little left to do.
const FLUSH_EVERY = 64 * 2 ** 20;

const failure = (e) => ({ name: e?.name || 'Error', message: e?.message || String(e) });

function answer(msg) {
  switch (msg.op) {
    case 'open':
      return msg.file.createSyncAccessHandle().then((h) => {
        handle = h;
        return h.getSize();
      });
    case 'size':
      return handle.getSize();
    case 'truncate':
      return handle.truncate(msg.n);
    case 'read': {
      const buf = new Uint8Array(msg.n);
      const n = handle.read(buf, { at: msg.at });
      return buf.buffer.slice(0, n);
    }
    case 'write': {
      if (failed) throw failed;
      try {
        const n = handle.write(new Uint8Array(msg.buf), { at: msg.at });
        if (n !== msg.buf.byteLength) throw { name: 'ShortWrite', message: `wrote ${n} of ${msg.buf.byteLength} bytes` };
        unflushed += n;
        if (unflushed >= FLUSH_EVERY) {
          handle.flush();
          unflushed = 0;
        }
        return n;
      } catch (e) {
        failed = failure(e);
        throw failed;
      }
    }
    case 'flush':
      if (failed) throw failed;
      unflushed = 0;
      return handle.flush();
    case 'drain':
      if (failed) throw failed;
      return undefined;
    case 'close':
      handle?.close();
      handle = null;
      return undefined;
    default:
      throw new Error(`cache_file_worker: unknown op ${msg.op}`);
  }
}

// Messages are taken one at a time: 'open' awaits the handle before the next message runs.
let queue = Promise.resolve();
self.onmessage = (e) => {
  const msg = e.data;
  queue = queue.then(async () => {
    try {
      const value = await answer(msg);
      self.postMessage({ id: msg.id, value }, value instanceof ArrayBuffer ? [value] : []);
    } catch (err) {
      self.postMessage({ id: msg.id, error: failure(err) });
    }
  });
};
