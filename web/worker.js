// worker.js - the kite worker (a Web Worker in browsers, worker_threads in Node): owns one
// wasm instance, runs one request at a time, and turns the C ABI of wasm/exports*.c into
// messages. All numerics stay in C; the worker only moves bytes and strings. This file is the
// message loop; the rest lives in worker/ (down the module graph, each file one role):
//   ops.js          the requests (init, inspect, load, tokenize, ..., convert, dispose)
//   generate.js     a generation run and the tool-calling chat
//   webgpu.js       the WebGPU placement and its token loop
//   load_build.js   finding and instantiating a dist/ build
//   c_callbacks.js  the C side's callbacks as progress/chunk/piece messages
//   hf_files.js     the checkpoint convert reads, file by file, from the page (sync_bridge.js)
//   heap.js         the heap and C ABI access layer (pointers, strings, structs, status codes)
//   port.js         the message channel (browser Worker or Node worker_threads)
//   state.js        the shared mutable state, and which module writes each part
import { M, broken, model, current, gpu, pulls, setRequest } from './worker/state.js';
import { CError } from './worker/heap.js';
import { port } from './worker/port.js';
import { ops } from './worker/ops.js';
import { placement } from './worker/webgpu.js';

let chain = Promise.resolve();
port.on((msg) => {
  if (msg.op === 'chunk') { // a reply to a pull: must not wait behind the running request
    const resolve = pulls.get(msg.id);
    pulls.delete(msg.id);
    resolve?.(msg.data);
    return;
  }
  if (msg.op === 'cancel') { // stops the running request's download or read at once
    if (current?.id === msg.id) current.cancel.abort();
    else if (msg.id > lastStarted) cancelled.add(msg.id); // ids grow: a smaller one has finished
    return;
  }
  chain = chain.then(() => handle(msg));
});

// Ids cancelled before they started (their request waits in the chain), and the last started.
const cancelled = new Set();
let lastStarted = 0;

async function handle(msg) {
  const { id, op } = msg;
  setRequest({ id, cancel: new AbortController() }, msg.abort ? new Int32Array(msg.abort) : null);
  lastStarted = Math.max(lastStarted, id);
  if (cancelled.delete(id)) current.cancel.abort();
  try {
    if (broken) throw new CError(broken, 'aborted');
    if (!ops[op]) throw new CError(`unknown request ${op}`, 'invalid input');
    if (op !== 'init' && !M) throw new CError('the wasm module is not loaded', 'invalid input');
    if (['tokenize', 'detokenize', 'generate', 'chat'].includes(op) && !model) throw new CError('no model is loaded', 'invalid input');
    const value = await ops[op](msg);
    port.post({ id, type: 'done', value, device: gpu ? placement() : undefined });
  } catch (e) {
    const message = broken && !(e instanceof CError) ? broken : (e?.message || String(e));
    port.post({ id, type: 'error', message, status: e?.status, device: gpu ? placement() : undefined, needsMemory64: !!e?.needsMemory64 });
  } finally {
    setRequest(null, null);
  }
}
