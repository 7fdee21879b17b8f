// client.js - the page/main-thread side of the kite worker: numbered requests turned into
// promises, streamed events (progress, pieces, output chunks, byte pulls) routed to callers.
import { startWorker, pickFlavor, defaultThreads } from './env.js';
import { KiteError } from './errors.js';

export { KiteError };

export class Client {
  #w;
  #next = 1;
  #pending = new Map(); // id -> { resolve, reject, onEvent }
  #dead = null;
  flavor;
  threads;
  build; // the wasm file loaded: kite-mt, kite-st, kite-mt-relaxed, kite-st-relaxed, kite-mt-webgpu, kite-st-webgpu, kite-st64
  // where the model runs, as the worker last said: { device, gpuLayers, adapter, gpuError }
  placement = { device: 'cpu', gpuLayers: 0, adapter: null, gpuError: null, gpuBytes: 0 };

  // opts were checked by options.js (threads within 1..MAX_THREADS) before this is called.
  static async start(opts = {}) {
    const c = new Client();
    c.flavor = pickFlavor(opts.flavor);
    const threads = opts.threads ?? (await defaultThreads());
    c.threads = c.flavor === 'mt' ? threads : 1;
    c.#w = await startWorker();
    c.#w.onMessage((m) => c.#onMessage(m));
    c.#w.onFailure((e) => c.#fail(e));
    c.#w.unref();
    const simd = opts.simd ?? 'auto';
    if (opts.memory64) { // the memory64 build is single-thread
      c.flavor = 'st';
      c.threads = 1;
    }
    try {
      // device 'webgpu' / 'auto': the worker may take a WebGPU build (mt or st) instead
      const r = await c.call('init', { flavor: c.flavor, threads: c.threads, simd, device: opts.memory64 ? 'cpu' : (opts.device ?? 'cpu'), memory64: !!opts.memory64 });
      c.build = r.build;
      c.flavor = r.flavor;
      c.threads = r.threads;
      c.placement.gpuError = r.gpuError ?? null;
    } catch (e) {
      await c.terminate();
      throw e;
    }
    return c;
  }

  // Sends one request; onEvent(msg) gets its intermediate messages. Resolves with the
  // 'done' message's value, rejects with a KiteError. With cancelOn (an AbortSignal), an
  // abort rejects at once with an AbortError and tells the worker to drop the request's
  // download or read (the caller ends the worker if it must not finish the C call).
  call(op, args = {}, { onEvent, transfer, cancelOn } = {}) {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      if (cancelOn?.aborted) {
        reject(new KiteError('aborted', 'aborted'));
        return;
      }
      const onAbort = () => {
        if (!this.#pending.delete(id)) return;
        if (this.#pending.size === 0) this.#w.unref();
        this.#w.post({ op: 'cancel', id });
        reject(new KiteError(`aborted (${op})`, 'aborted'));
      };
      const settle = (fn) => (v) => {
        cancelOn?.removeEventListener('abort', onAbort);
        fn(v);
      };
      if (this.#pending.size === 0) this.#w.ref();
      this.#pending.set(id, { resolve: settle(resolve), reject: settle(reject), onEvent });
      cancelOn?.addEventListener('abort', onAbort, { once: true });
      this.#w.post({ ...args, id, op }, transfer);
    });
  }

  // Replies to a worker's request inside a call (the next bytes of an in-memory source).
  reply(msg, transfer) {
    if (!this.#dead) this.#w.post(msg, transfer);
  }

  async terminate() {
    this.#dead ??= new KiteError('kite: the model was disposed', 'invalid input');
    await this.#w.terminate();
    this.#rejectAll(this.#dead);
  }

  #onMessage(m) {
    const p = this.#pending.get(m.id);
    if (!p) return;
    if (m.type === 'done' || m.type === 'error') {
      if (m.device) this.placement = m.device;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) this.#w.unref();
      if (m.type === 'done') p.resolve(m.value);
      else p.reject(Object.assign(new KiteError(m.message, m.status), m.needsMemory64 ? { needsMemory64: true } : {}));
      return;
    }
    try {
      p.onEvent?.(m);
    } catch (e) {
      // A throwing user callback must not leave the request hanging.
      console.error(e);
    }
  }

  #fail(e) {
    if (this.#dead) return;
    this.#dead = new KiteError(`kite worker died: ${e.message}`);
    this.#rejectAll(this.#dead);
  }

  #rejectAll(e) {
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }
}

// A flag the worker's C callbacks poll (SharedArrayBuffer where the host has one). Without
// it (a browser page that is not crossOriginIsolated), aborting still ends the JS side at
// once, but the worker finishes the running C call before it sees anything.
export function makeAbortFlag(signal, onAbort) {
  const flag = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : null;
  const fire = () => {
    if (flag) Atomics.store(flag, 0, 1);
    onAbort?.();
  };
  if (signal) {
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  }
  return {
    flag,
    fire,
    release: () => signal?.removeEventListener('abort', fire),
  };
}
