// sync_bridge.js - a synchronous call from the worker to the page: the worker, inside a C call
// that cannot await (kw_convert's file reads), posts a request carrying two SharedArrayBuffers
// and blocks in Atomics.wait; the page does the asynchronous work (a file, a Blob, a fetch),
// writes the answer into them and wakes it. Needs SharedArrayBuffer (Node; a crossOriginIsolated
// page) and a worker that may block (Atomics.wait: Node worker_threads, Web Workers).
//
// The control block: Int32 [0] state (0 waiting, 1 answered), Int32 [1] the failure's index in
// STATUSES + 1 (0: success), Float64 [1] the value (a success's number, a failure's message
// length); the data block holds a read's bytes or a failure's message (UTF-8).

// The statuses a failure can carry (KiteError/CError .status names).
const STATUSES = ['invalid input', 'i/o error', 'unsupported', 'aborted', 'out of memory'];
const MIN_DATA = 64 * 1024; // room for any failure's message

// (worker side) A function call(request, need) that posts request (plus the shared blocks) with
// post, waits, and returns { value, bytes } (bytes: a view of the data block's first need bytes)
// or throws an Error whose .status is the page's. need: bytes the answer may write.
export function syncCaller(post) {
  const ctlBuf = new SharedArrayBuffer(16);
  const state = new Int32Array(ctlBuf, 0, 2);
  const value = new Float64Array(ctlBuf, 8, 1);
  let data = new SharedArrayBuffer(MIN_DATA);
  return (request, need = 0) => {
    if (data.byteLength < need) data = new SharedArrayBuffer(need);
    Atomics.store(state, 0, 0);
    post({ ...request, ctl: ctlBuf, data });
    Atomics.wait(state, 0, 0);
    const failed = Atomics.load(state, 1);
    if (failed) {
      const msg = new TextDecoder().decode(new Uint8Array(data, 0, value[0]).slice());
      throw Object.assign(new Error(msg), { status: STATUSES[failed - 1] });
    }
    return { value: value[0], bytes: new Uint8Array(data, 0, need) };
  };
}

// (page side) Answers a request syncCaller posted: serve(request, bytes) resolves to the value
// (writing a read's bytes into bytes, the data block) or rejects with an error whose .status
// (one of STATUSES; else 'i/o error') and message go back.
export async function answerSync(request, serve) {
  const state = new Int32Array(request.ctl, 0, 2);
  const value = new Float64Array(request.ctl, 8, 1);
  const bytes = new Uint8Array(request.data);
  try {
    value[0] = await serve(request, bytes);
    Atomics.store(state, 1, 0);
  } catch (e) {
    const msg = new TextEncoder().encode(e?.message ?? String(e)).subarray(0, bytes.length);
    bytes.set(msg);
    value[0] = msg.length;
    Atomics.store(state, 1, (STATUSES.indexOf(e?.status) + 1) || 2);
  }
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
}
