// env.js - what the host is (Node or browser) and how to start the kite worker there.
import { KiteError } from './errors.js';
export const isNode = typeof process === 'object' && !!process.versions?.node && typeof window === 'undefined';

// The build to load: 'mt' (SIMD128 + pthreads) needs SharedArrayBuffer, which browsers only
// expose to crossOriginIsolated pages; Node always has it.
export function pickFlavor(requested) {
  const canShare = typeof SharedArrayBuffer === 'function' && (isNode || globalThis.crossOriginIsolated === true);
  if (requested === 'mt' && !canShare) {
    throw new KiteError('kite: the multi-threaded build needs SharedArrayBuffer (a crossOriginIsolated page: ' +
      'serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)', 'unsupported');
  }
  if (requested === 'mt' || requested === 'st') return requested;
  if (requested !== undefined && requested !== 'auto') throw new KiteError(`kite: unknown flavor ${requested} (mt, st or auto)`, 'invalid input');
  return canShare ? 'mt' : 'st';
}

// True when the engine runs relaxed SIMD (i32x4.relaxed_dot_i8x16_i7x16_add_s): a module of
// one function returning relaxed_dot(0, 0, 0) must validate. Node 20's V8 says no; Node 22 and
// later (tested: Node 24) and current Chromium say yes.
export function hasRelaxedSimd() {
  const zero16 = new Array(16).fill(0);
  const vconst = [0xfd, 0x0c, ...zero16];
  const body = [0x00, ...vconst, ...vconst, ...vconst, 0xfd, 0x93, 0x02, 0x0b];
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
    0x03, 0x02, 0x01, 0x00, // one function of type 0
    0x0a, body.length + 2, 0x01, body.length, ...body, // its code
  ]);
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

// Most threads of a wasm pool. Each is a Worker with its own stack and JS heap: thousands
// exhaust the host's memory, and decode speed stops growing long before 64 (memory bandwidth).
export const MAX_THREADS = 64;

// Default thread count: all logical cores (the wasm pool is sized to it), at most MAX_THREADS.
export async function defaultThreads() {
  let n;
  if (isNode) {
    const os = await import('node:os');
    n = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  } else {
    n = globalThis.navigator?.hardwareConcurrency || 4;
  }
  return Math.max(1, Math.min(MAX_THREADS, n));
}

// A uniform handle on a Worker (browser) or worker_threads.Worker (Node):
// { post(msg, transfer), onMessage(fn), onFailure(fn), terminate(), ref(), unref() }.
export async function startWorker() {
  const url = new URL('./worker.js', import.meta.url);
  if (isNode) {
    const { Worker } = await import('node:worker_threads');
    const w = new Worker(url);
    return {
      post: (m, t) => w.postMessage(m, t || []),
      onMessage: (fn) => w.on('message', fn),
      onFailure: (fn) => {
        w.on('error', (e) => fn(e instanceof Error ? e : new Error(String(e))));
        w.on('exit', (code) => fn(new Error(`kite worker exited (code ${code})`)));
      },
      terminate: () => w.terminate(),
      ref: () => w.ref(),
      unref: () => w.unref(),
    };
  }
  const w = new Worker(url, { type: 'module', name: 'kite' });
  return {
    post: (m, t) => w.postMessage(m, t || []),
    onMessage: (fn) => w.addEventListener('message', (e) => fn(e.data)),
    onFailure: (fn) => {
      w.addEventListener('error', (e) => fn(new Error(`kite worker failed: ${e.message || 'script error'}`)));
      w.addEventListener('messageerror', () => fn(new Error('kite worker: a message could not be decoded')));
    },
    terminate: async () => w.terminate(),
    ref: () => {},
    unref: () => {},
  };
}
