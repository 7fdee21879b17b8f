// worker.js - the kite worker (a Web Worker in browsers, worker_threads in Node): owns one
// wasm instance, runs one request at a time, and turns the C ABI of wasm/exports*.c into
// messages. All numerics stay in C; this file only moves bytes and strings.
import { readIntoHeap } from './load_bytes.js';
import { setMemory64, MEMORY64_LIMIT } from './reader.js';
import { hasRelaxedSimd } from './env.js';
import { readSignatures, hasMemory64 } from './wasm_sig.js';
import { memory64Runtime } from './wasm64_glue.js';

const isNode = typeof process === 'object' && !!process.versions?.node && typeof window === 'undefined';
let port; // { post(msg, transfer), on(fn) }
if (isNode) {
  const { parentPort } = await import('node:worker_threads');
  port = { post: (m, t) => parentPort.postMessage(m, t || []), on: (fn) => parentPort.on('message', fn) };
} else {
  port = { post: (m, t) => self.postMessage(m, t || []), on: (fn) => self.addEventListener('message', (e) => fn(e.data)) };
}

let M = null;        // the Emscripten module
let broken = null;   // set when the instance aborted: it cannot be used again
let scratch = 0;     // 64 bytes of heap for out-parameters
let abi = null;      // the C side's table of status codes, struct layouts and defaults (kw_abi_json)
let model = 0;       // kw_model* of this worker (one per worker)
let abortFlag = null; // Int32Array over the running request's SharedArrayBuffer
let current = null;  // the running request: { id, stage, decoder, tokens }
const pulls = new Map(); // pull id -> resolve
// WebGPU (the kite-mt-webgpu / kite-st-webgpu builds): gpu holds { gpu (device.js Gpu),
// kernels, backend } once an adapter was found at init; device says where the model runs now;
// gpuError why it is not (or no longer) on the GPU; gpuOpts the load's { fallback, gpuLayers }.
let gpu = null;
let device = 'cpu';
let gpuError = null;
let gpuOpts = { fallback: true, gpuLayers: undefined };
let gpuDead = null; // set when the GPU failed and the caller did not allow the CPU fallback

const NULL_PTR = 0;

class CError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

// ---- module --------------------------------------------------------------------------

// simd: 'auto' takes the relaxed-SIMD build where the engine validates relaxed ops and the
// build exists (else the SIMD128 one), 'relaxed' insists on it, 'simd128' never uses it.
// memory64: the single-thread memory64 build (kite-st64), for models over wasm32's limit.
async function loadModule(flavor, threads, simd = 'auto', memory64 = false) {
  if (memory64) {
    if (!hasMemory64()) throw new CError('this engine has no WebAssembly memory64', 'unsupported');
    await loadBuild('kite-st64', 'st', 1);
    setMemory64(true);
    return;
  }
  if (simd === 'relaxed' && !hasRelaxedSimd()) throw new CError('this engine has no relaxed SIMD', 'unsupported');
  if (simd !== 'simd128' && hasRelaxedSimd()) {
    try {
      return await loadBuild(`kite-${flavor}-relaxed`, flavor, threads);
    } catch (e) {
      if (simd === 'relaxed') throw e;
      // not built (dist/ without the relaxed files): the SIMD128 build does the same work
    }
  }
  return loadBuild(`kite-${flavor}`, flavor, threads);
}

async function loadBuild(name, flavor, threads) {
  const dist = new URL('../dist/', import.meta.url);
  const common = {
    kitePoolSize: flavor === 'mt' ? threads : 0,
    print: (s) => console.log(s),
    printErr: (s) => console.error(s),
    onAbort: (what) => { broken = `the wasm instance aborted (${what}); dispose this model and load it again`; },
  };
  let factory;
  const wide = name.includes('64'); // a memory64 build: pointers and sizes are i64 (BigInt) in wasm
  if (isNode) {
    const { createRequire } = await import('node:module');
    const { readFileSync, existsSync } = await import('node:fs');
    const require = createRequire(import.meta.url);
    if (!existsSync(new URL(`${name}.wasm`, dist))) {
      throw new CError(`dist/${name}.wasm is missing: build it with npm run build:wasm`, 'unsupported');
    }
    factory = require(new URL(`${name}.js`, dist).pathname);
    // Emscripten 3.1.6 under Node 20 tries fetch() on a file path: hand it the bytes.
    common.wasmBinary = readFileSync(new URL(`${name}.wasm`, dist));
  } else {
    // A module worker cannot importScripts the classic glue: evaluate its text instead.
    const glueUrl = new URL(`${name}.js`, dist).href;
    const res = await fetch(glueUrl);
    if (!res.ok) throw new Error(`cannot fetch ${glueUrl}: HTTP ${res.status}`);
    factory = new Function(`${await res.text()}\n;return createKite${flavor.toUpperCase()};`)();
    common.locateFile = (p) => new URL(p, dist).href;
    common.mainScriptUrlOrBlob = glueUrl; // what the pthread workers load
    if (wide) { // its export signatures are read from the bytes: fetch them once here
      const wasmUrl = new URL(`${name}.wasm`, dist).href;
      const w = await fetch(wasmUrl);
      if (!w.ok) throw new Error(`cannot fetch ${wasmUrl}: HTTP ${w.status}`);
      common.wasmBinary = await w.arrayBuffer();
    }
  }
  let rt = null;
  let sigs = null;
  if (wide) {
    // Emscripten 3.1.6's memory64 glue cannot run the build (wasm64_glue.js): the binary is
    // instantiated here with imports from wasm64_glue.js. `common` becomes the module object.
    const parsed = readSignatures(common.wasmBinary);
    sigs = parsed.exports;
    rt = memory64Runtime(parsed.imports, common, (what) => common.onAbort(what), MEMORY64_LIMIT);
    let failed = null;
    common.instantiateWasm = (imports, receive) => {
      WebAssembly.instantiate(common.wasmBinary, rt.imports).then((r) => {
        rt.attach(r.instance);
        receive(r.instance, r.module);
      }, (e) => { failed = e; common.onAbort(String(e)); });
      return {};
    };
    common.onRuntimeInitialized = () => { if (failed) throw failed; };
  }
  M = await factory(common);
  M.kiteBuild = name;
  ptrSize = wide ? 8 : 4;
  if (wide) {
    numberExports(M, sigs);
    M.wasmMemory = rt.memory();
    M.UTF8ToString = rt.utf8ToString;
    M.stringToUTF8 = rt.stringToUTF8;
  }
  scratch = addr(M._kw_alloc(64));
  abi = readAbi();
  M.kiteSink = (p, n) => onSink(p, n);
  M.kiteProgress = (what, done, total) => onProgress(what, done, total);
  M.kitePiece = (p, n) => onPiece(p, n);
  M.kiteToken = (id) => {
    current?.tokens?.push(id);
    if (current?.held && performance.now() - current.lastPost >= PIECE_MS) postText();
  };
  M.kiteToolCall = (index, id, name, args) => {
    current?.toolCalls?.push({ id: M.UTF8ToString(id), name: M.UTF8ToString(name), arguments: M.UTF8ToString(args) });
    return aborted() ? abi.callback.stop : abi.callback.continue;
  };
  // a piece of a call as it is written: OpenAI's streamed tool_calls delta, as kite serve sends it
  M.kiteToolDelta = (index, id, name, args, len) => {
    if (aborted()) return abi.callback.stop;
    const delta = { index };
    if (name) Object.assign(delta, { id: M.UTF8ToString(id), type: 'function' });
    const fn = {};
    if (name) fn.name = M.UTF8ToString(name);
    if (len) fn.arguments = new TextDecoder().decode(heap().slice(args, args + len));
    delta.function = fn;
    postText(); // the text before the call first
    port.post({ id: current.id, type: 'toolCallDelta', delta });
    return abi.callback.continue;
  };
}

// A memory64 build's kw_* exports take and return i64 pointers and sizes as BigInt: wrap each
// so this file passes and gets Numbers (exact below 2^53), as with the wasm32 builds.
function numberExports(mod, sigs) {
  for (const [name, sig] of Object.entries(sigs)) {
    const raw = mod.asm?.[name];
    if (!name.startsWith('kw_') || typeof raw !== 'function') continue;
    if (!sig.params.includes('i64') && sig.results[0] !== 'i64') continue;
    const big = sig.params.map((t) => t === 'i64');
    const wideResult = sig.results[0] === 'i64';
    mod[`_${name}`] = (...args) => {
      const r = raw(...args.map((a, i) => (big[i] ? BigInt(a) : a)));
      return wideResult ? Number(r) : r;
    };
  }
}

let ptrSize = 4; // bytes of a pointer or size_t in the loaded build (8: memory64)
// A pointer returned by an export: wasm32 returns i32, negative from 2 GiB up.
const addr = (p) => (p < 0 ? p + 2 ** 32 : p);
// Pointers stored in the heap (out-parameters, pointer arrays).
const ptrAt = (p) => {
  const dv = new DataView(heap().buffer);
  return ptrSize === 8 ? Number(dv.getBigUint64(p, true)) : dv.getUint32(p, true);
};
const setPtr = (p, v) => {
  const dv = new DataView(heap().buffer);
  if (ptrSize === 8) dv.setBigUint64(p, BigInt(v), true);
  else dv.setUint32(p, v, true);
};

const heap = () => {
  const buf = M.wasmMemory ? M.wasmMemory.buffer : M.HEAPU8.buffer;
  return new Uint8Array(buf);
};

function check(status) {
  if (status === abi.status.KITE_OK) return;
  throw new CError(M.UTF8ToString(M._kw_last_error()) || 'unknown error', abi.statusNames[status] ?? `status ${status}`);
}

// The ABI table (exports_abi.c): read once, before any call that uses a number from it.
function readAbi() {
  // Before the table there is no status code to compare with: *scratch stays NULL on failure.
  setPtr(scratch, 0);
  M._kw_abi_json(scratch);
  const p = ptrAt(scratch);
  if (!p) throw new CError('cannot read the wasm ABI table (out of wasm memory?)', 'out of memory');
  return JSON.parse(takeString(p));
}

// A parameter block (abi.h) in the heap: alloc(name) gives a zeroed one; set/get move its
// fields by the C names, at the offsets and types the table gives.
function struct(name) {
  const s = abi.structs[name];
  const ptr = addr(M._kw_alloc(s.size));
  if (!ptr) check(abi.status.KITE_ERR_NOMEM);
  heap().fill(0, ptr, ptr + s.size);
  const field = (f) => {
    const d = s.fields[f];
    if (!d) throw new Error(`${name} has no field ${f}`);
    return d;
  };
  return {
    ptr,
    set(values) {
      const dv = new DataView(heap().buffer);
      for (const [f, v] of Object.entries(values)) {
        if (v === undefined) continue;
        const { offset, type } = field(f);
        if (type === 'i32') dv.setInt32(ptr + offset, v, true);
        else if (type === 'u32') dv.setUint32(ptr + offset, v, true);
        else if (type === 'u64') dv.setBigUint64(ptr + offset, BigInt(v), true);
        else if (type === 'f32') dv.setFloat32(ptr + offset, v, true);
        else dv.setFloat64(ptr + offset, v, true);
      }
      return this;
    },
    get(f) {
      const dv = new DataView(heap().buffer);
      const { offset, type } = field(f);
      if (type === 'i32') return dv.getInt32(ptr + offset, true);
      if (type === 'u32') return dv.getUint32(ptr + offset, true);
      if (type === 'u64') return Number(dv.getBigUint64(ptr + offset, true));
      if (type === 'f32') return dv.getFloat32(ptr + offset, true);
      return dv.getFloat64(ptr + offset, true);
    },
    free() { M._kw_free(ptr); },
  };
}

function cstr(s) {
  const n = M.lengthBytesUTF8(s) + 1;
  const p = addr(M._kw_alloc(n));
  if (!p) check(abi.status.KITE_ERR_NOMEM);
  M.stringToUTF8(s, p, n);
  return p;
}

// Takes a malloc'd NUL-terminated string out of the heap and frees it.
function takeString(p) {
  p >>>= 0;
  try { return M.UTF8ToString(p); } finally { M._kw_free(p); }
}

// The running request was cancelled: its shared flag (seen even while C runs) or a 'cancel'
// message (seen between awaits, also where there is no SharedArrayBuffer).
const aborted = () => (abortFlag !== null && Atomics.load(abortFlag, 0) !== 0) || !!current?.cancel.signal.aborted;

// ---- callbacks from C ------------------------------------------------------------------

const PROGRESS_MS = 50;
let lastProgress = 0;
let heldProgress = null; // the newest report held back by the rate limit
let heldTimer = null;
function postProgress(msg) {
  lastProgress = Date.now();
  heldProgress = null;
  port.post(msg);
}
function progress(stage, done, total) {
  const msg = { id: current.id, type: 'progress', stage, loaded: done, total };
  // At most ~20 messages a second (and always the last): a 4 GB read would otherwise flood
  // the page. A report held back goes out when the interval ends, so a download that pauses
  // (parts waiting on the network) still shows every byte it has.
  const wait = PROGRESS_MS - (Date.now() - lastProgress);
  if (wait <= 0 || done === total) return postProgress(msg);
  heldProgress = msg;
  if (heldTimer === null)
    heldTimer = setTimeout(() => {
      heldTimer = null;
      if (heldProgress && current?.id === heldProgress.id) postProgress(heldProgress);
    }, wait);
}

function onProgress(what, done, total) {
  if (current) progress(current.stage || what, done, total);
  return aborted() ? abi.callback.stop : abi.callback.continue;
}

// Output bytes are gathered into ~4 MB messages (the writer emits many small pieces).
const OUT_CHUNK = 4 * 2 ** 20;
let outBuf = null;
let outLen = 0;
function onSink(p, n) {
  if (aborted()) return abi.callback.stop;
  let src = heap().subarray(p, p + n);
  while (src.length > 0) {
    if (!outBuf) { outBuf = new Uint8Array(OUT_CHUNK); outLen = 0; }
    const k = Math.min(src.length, OUT_CHUNK - outLen);
    outBuf.set(src.subarray(0, k), outLen);
    outLen += k;
    src = src.subarray(k);
    if (outLen === OUT_CHUNK) flushOut();
  }
  return abi.callback.continue;
}
function flushOut() {
  if (!outBuf || outLen === 0) return;
  const data = outLen === outBuf.length ? outBuf : outBuf.slice(0, outLen);
  port.post({ id: current.id, type: 'chunk', data }, [data.buffer]);
  outBuf = null;
  outLen = 0;
}

// A run's text goes out as pieces: its first PIECES_AT_ONCE pieces one message each as they come,
// later ones held while they come less than PIECE_MS after the last message and sent together
// (a message per token cost the decoding thread 0.1-0.3 ms per token in Chromium, 1-3% of a
// small model's token: the post and the page's wake-up). Held text also goes out when a
// sampled token finds it PIECE_MS old (C may hold the next pieces back for a stop string),
// before a tool-call delta, and at the run's end (endText), error or not.
const PIECE_MS = 33;
const PIECES_AT_ONCE = 8;

function onPiece(p, n) {
  if (aborted()) return abi.callback.stop;
  const text = current.decoder.decode(heap().slice(p, p + n), { stream: true });
  if (text) {
    current.held += text;
    const now = performance.now();
    if (current.posted < PIECES_AT_ONCE || now - current.lastPost >= PIECE_MS) postText(now);
  }
  return abi.callback.continue;
}

function postText(now = performance.now()) {
  if (!current?.held) return;
  port.post({ id: current.id, type: 'piece', text: current.held });
  current.held = '';
  current.posted++;
  current.lastPost = now;
}

// The run's last text: what the decoder still holds (an incomplete character at the end), then
// everything held back.
function endText() {
  if (!current?.decoder) return;
  current.held += current.decoder.decode();
  postText();
}

// ---- requests ------------------------------------------------------------------------

// part: which file of a split set (the caller serves in-memory bytes per file)
async function readSource(source, { stallTimeout, cache, sha256, connections, partSize } = {}, part = 0) {
  current.stage = 'read';
  const r = await readIntoHeap(source, {
    alloc: (n) => {
      const p = addr(M._kw_alloc(n));
      if (!p) check(abi.status.KITE_ERR_NOMEM);
      return p;
    },
    free: (p) => M._kw_free(p),
    heap,
    progress: (done, total) => {
      progress('read', done, total);
      if (aborted()) throw new CError('aborted while reading the model', 'aborted');
    },
    pull: (offset, length) => new Promise((resolve, reject) => {
      const { id, cancel } = current;
      if (cancel.signal.aborted) { reject(new CError('aborted while reading the model', 'aborted')); return; }
      pulls.set(id, resolve);
      cancel.signal.addEventListener('abort', () => reject(new CError('aborted while reading the model', 'aborted')), { once: true });
      port.post({ id, type: 'pull', offset, length, part });
    }),
    signal: current.cancel.signal,
    stallTimeout,
    cache,
    sha256,
    connections,
    partSize,
  });
  return r;
}

// A C call that sets *scratch to a malloc'd JSON string: its parsed value.
function json(call) {
  check(call(scratch));
  return JSON.parse(takeString(ptrAt(scratch)));
}

// The file's description plus the loaded model's runtime facts under "model".
function modelInfo() {
  const info = json((out) => M._kw_gguf_info_json(M._kw_model_gguf(model), out));
  info.model = json((out) => M._kw_model_facts_json(model, out));
  return info;
}

// ---- WebGPU ----------------------------------------------------------------------------

// device 'webgpu' or 'auto': an adapter and device, then a -webgpu build: kite-mt-webgpu where
// the page may use threads (flavor 'mt': the layers left on the CPU, or the whole model after
// a fallback, run on the pool; the GPU calls stay on this worker, which owns the device and
// runs the forward pass), else (or when dist/ lacks it) kite-st-webgpu. Without an adapter or
// a build, 'auto' takes the CPU build and 'webgpu' fails. Returns the flavor loaded, or null.
async function initGpu(want, flavor, threads) {
  let why;
  try {
    const { createGpu } = await import('./webgpu/device.js');
    const g = await createGpu();
    try {
      let loaded = 'st';
      if (flavor === 'mt') {
        try {
          await loadBuild('kite-mt-webgpu', 'mt', threads);
          loaded = 'mt';
        } catch {
          // not built (dist/ without it): the single-thread build runs the same model
        }
      }
      if (loaded === 'st') await loadBuild('kite-st-webgpu', 'st', 1);
      gpu = { gpu: g, kernels: null, backend: null };
      return loaded;
    } catch (e) {
      g.destroy();
      why = e.message;
    }
  } catch (e) {
    why = e.message;
  }
  if (want === 'webgpu') throw new CError(`device 'webgpu': ${why}`, 'unsupported');
  gpuError = why;
  return null;
}

// Gives the model a new context with its last n repeating layers (and the output head) on the
// GPU; n = 0: all on the CPU. Returns the C status.
function offload(n, nCtx) {
  const name = cstr('webgpu');
  const a = struct('kw_offload_args').set({ model, n_ctx: nCtx, n_gpu_layers: n, backend: name });
  try {
    return M._kw_model_offload(a.ptr);
  } finally {
    a.free();
    M._kw_free(name);
  }
}

// After kw_model_load (a CPU context): compiles the pipelines of the model's tensor types and
// moves gpuLayers layers (default all, and the head) to the GPU. A failure (a shader that does
// not compile, a model the GPU backend cannot run, a tensor or a model the GPU cannot hold)
// leaves the CPU context and, without fallback, throws.
async function placeOnGpu(info, { gpuLayers, fallback }) {
  const facts = info.model;
  try {
    current.stage = 'webgpu';
    progress('webgpu', 0, 0); // compiling the pipelines and uploading the weights
    const { createKernels, modelHeadDims } = await import('./webgpu/kernels.js');
    const { WebGpuBackend } = await import('./webgpu/backend.js');
    const { TYPE_NAMES } = await import('./webgpu/types.js');
    const types = [...new Set(info.tensors.map((t) => TYPE_NAMES.find((n) => n.toLowerCase() === t.type.toLowerCase())).filter(Boolean))];
    gpu.kernels ??= await createKernels(gpu.gpu, { types, kv: ['f16'], headDims: modelHeadDims(info.tensors, facts.n_head, facts.n_head_kv) });
    M.kiteWebGpu = (cfg, memory) => (gpu.backend = new WebGpuBackend(gpu.kernels, memory, cfg));
    const dev = gpu.gpu.device;
    dev.pushErrorScope('out-of-memory');
    dev.pushErrorScope('validation');
    let st;
    try {
      st = offload(Math.min(gpuLayers ?? Infinity, facts.n_layer + 1), facts.n_ctx);
    } finally {
      const invalid = await dev.popErrorScope();
      const oom = await dev.popErrorScope();
      if (st === abi.status.KITE_OK && (oom || invalid)) {
        offload(0, facts.n_ctx);
        st = null;
        throw new CError(oom ? `the GPU is out of memory for this model (${oom.message})` : `WebGPU: ${invalid.message}`, 'out of memory');
      }
    }
    check(st);
    if (gpu.gpu.lost) throw gpu.gpu.lost;
    device = 'webgpu';
    gpuError = null;
    progress('webgpu', 1, 1);
  } catch (e) {
    gpuError = e.message;
    if (!fallback) throw new CError(`the model cannot run on WebGPU: ${e.message}`, e.status ?? 'unsupported');
  }
}

// Where the model runs, for the load's reply and Model.device.
function placement() {
  const n = device === 'webgpu' ? Math.min(gpuOpts.gpuLayers ?? Infinity, modelInfoCache?.n_layer ?? Infinity) : 0;
  return { device, gpuLayers: n, adapter: gpu?.gpu.name ?? null, gpuError, gpuBytes: device === 'webgpu' ? gpu?.backend?.gpuBytes ?? 0 : 0 };
}
let modelInfoCache = null;

// A GPU failure during a call (a lost device, a failed step): with fallback, the model moves to
// a CPU context (its KV cache starts empty) and the call fails saying so; without, every later
// generation fails too.
function gpuFailed(e) {
  const why = e?.message || String(e);
  gpuError = why;
  if (gpuOpts.fallback && offload(0, modelInfoCache.n_ctx) === abi.status.KITE_OK) {
    device = 'cpu';
    return new CError(`the WebGPU device failed (${why}); the model now runs on the CPU (its context starts empty): call again`, 'device lost');
  }
  device = 'none';
  gpuDead = `the WebGPU device failed (${why}) and fallback is off: dispose this model`;
  return new CError(gpuDead, 'device lost');
}

const ops = {
  async init({ flavor, threads, simd, device: want = 'cpu', memory64 }) {
    const gpuFlavor = !memory64 && want !== 'cpu' ? await initGpu(want, flavor, threads) : null;
    if (!gpuFlavor) await loadModule(flavor, threads, simd, memory64);
    const f = gpuFlavor ?? flavor;
    return {
      version: M.UTF8ToString(M._kw_version()), threaded: M._kw_threaded() === 1, build: M.kiteBuild,
      flavor: f, threads: f === 'mt' ? threads : 1, gpuError,
    };
  },

  // Reads the file and describes it (no model: works for any GGUF).
  async inspect({ source, download }) {
    const { ptr, size } = await readSource(source, download);
    try {
      check(M._kw_gguf_parse(ptr, size, scratch));
      const g = ptrAt(scratch);
      try {
        return json((out) => M._kw_gguf_info_json(g, out));
      } finally {
        M._kw_gguf_free(g);
      }
    } finally {
      M._kw_free(ptr);
    }
  },

  // source: one file, or the files of a split set in order (the model owns every file's block)
  async load({ source, nCtx, threads, vocabOnly, download, gpuLayers, fallback = true, device: want = 'cpu' }) {
    if (model) throw new CError('this worker already holds a model', 'invalid input');
    const sources = Array.isArray(source) ? source : [source];
    const parts = [];
    let table = 0;
    let a = null;
    try {
      for (let i = 0; i < sources.length; i++) parts.push(await readSource(sources[i], download, i));
      current.stage = 'load';
      const nMore = parts.length - 1;
      if (nMore > 0) { // the other files' pointers, then their sizes
        table = addr(M._kw_alloc(2 * ptrSize * nMore));
        if (!table) check(abi.status.KITE_ERR_NOMEM);
        parts.slice(1).forEach((p, i) => { setPtr(table + ptrSize * i, p.ptr); setPtr(table + ptrSize * (nMore + i), p.size); });
      }
      a = struct('kw_load_args').set({
        buf: parts[0].ptr, len: parts[0].size, n_ctx: nCtx | 0, n_threads: threads | 0, vocab_only: vocabOnly ? 1 : 0,
        more: table, more_lens: table ? table + ptrSize * nMore : 0, n_more: nMore,
        // the layers placeOnGpu will offer the GPU stay in the file's layout, which its kernels read
        offload_layers: gpu && !vocabOnly ? gpuLayers ?? 2 ** 31 - 1 : 0, // (options.js: gpuLayers <= 65536)
      });
      check(M._kw_model_load(a.ptr));
      model = a.get('model');
    } catch (e) {
      parts.forEach((p) => M._kw_free(p.ptr)); // on success the model owns the files' blocks
      throw e;
    } finally {
      if (table) M._kw_free(table);
      a?.free();
    }
    const info = modelInfo();
    modelInfoCache = info.model;
    gpuOpts = { fallback, gpuLayers };
    // 'auto' always keeps the CPU context when the GPU cannot take the model
    if (gpu && !vocabOnly) await placeOnGpu(info, { gpuLayers, fallback: fallback || want === 'auto' });
    return { info, cache: parts[0].cache, ...placement() };
  },

  tokenize({ text, addSpecial, parseSpecial }) {
    const t = cstr(text);
    const a = struct('kw_tokenize_args').set({ model, text: t, add_special: addSpecial ? 1 : 0, parse_special: parseSpecial ? 1 : 0 });
    try {
      check(M._kw_tokenize(a.ptr));
      const p = a.get('ids');
      const ids = Int32Array.from(new Int32Array(heap().buffer, p, a.get('n_ids')));
      M._kw_free(p);
      return ids;
    } finally {
      a.free();
      M._kw_free(t);
    }
  },

  detokenize({ ids }) {
    const arr = Int32Array.from(ids);
    const p = addr(M._kw_alloc(Math.max(4, arr.byteLength)));
    try {
      heap().set(new Uint8Array(arr.buffer), p);
      check(M._kw_detokenize(model, p, arr.length, scratch));
      return takeString(ptrAt(scratch));
    } finally {
      M._kw_free(p);
    }
  },

  // Streams 'piece' messages; resolves with stats and the sampled token ids.
  generate({ prompt, opts }) {
    return runGenerate(prompt, opts);
  },

  chat({ messages, opts, request }) {
    if (request) return chatRequest(request, opts);
    const n = messages.length;
    const ptrs = [];
    const msg = abi.structs.kite_chat_msg;
    const arr = addr(M._kw_alloc(msg.size * Math.max(1, n)));
    try {
      messages.forEach((m, i) => {
        const r = cstr(String(m.role));
        const c = cstr(String(m.content));
        ptrs.push(r, c);
        setPtr(arr + msg.size * i + msg.fields.role.offset, r);
        setPtr(arr + msg.size * i + msg.fields.content.offset, c);
      });
      // kite_chat_apply_ex's flags: 1 adds the assistant's opening, 2 turns reasoning off
      const flags = (opts.addAssistant === false ? 0 : 1) | (opts.thinking === 'off' ? 2 : 0);
      check(M._kw_chat_apply(model, arr, n, flags, scratch));
    } finally {
      ptrs.forEach((p) => M._kw_free(p));
      M._kw_free(arr);
    }
    const prompt = takeString(ptrAt(scratch));
    // As `kite run --chat-template`: special-token text in the template becomes tokens.
    return runGenerate(prompt, { ...opts, parseSpecial: true });
  },

  // imatrix: an importance matrix file's source (read whole, then parsed by the C side), or null
  async quantize({ source, type, opts, download, imatrix }) {
    const im = imatrix ? await readSource(imatrix.desc, { ...download, cache: false, sha256: undefined }, 1) : null;
    let ptr = 0;
    let size = 0;
    try {
      ({ ptr, size } = await readSource(source, download));
    } catch (e) {
      if (im) M._kw_free(im.ptr);
      throw e;
    }
    const t = cstr(type);
    const a = struct('kw_quant_args');
    const imStrings = im ? [cstr(imatrix.file), ...imatrix.include.map(cstr), ...imatrix.exclude.map(cstr)] : [];
    const list = (strs) => {
      if (strs.length === 0) return NULL_PTR;
      const arr = addr(M._kw_alloc(abi.pointerSize * strs.length));
      if (!arr) check(abi.status.KITE_ERR_NOMEM);
      strs.forEach((s, i) => setPtr(arr + abi.pointerSize * i, s));
      imStrings.push(arr); // freed with the strings
      return arr;
    };
    try {
      current.stage = 'quantize';
      M._kw_quant_args_init(a.ptr);
      a.set({
        buf: ptr, len: size, type: t, n_threads: opts.threads | 0,
        allow_requantize: opts.allowRequantize ? 1 : 0, pure: opts.pure ? 1 : 0, leave_output_tensor: opts.leaveOutputTensor ? 1 : 0,
      });
      if (im) {
        const nIn = imatrix.include.length;
        a.set({
          imatrix: im.ptr, imatrix_len: im.size, imatrix_file: imStrings[0],
          include_weights: list(imStrings.slice(1, 1 + nIn)), n_include: nIn,
          exclude_weights: list(imStrings.slice(1 + nIn, 1 + nIn + imatrix.exclude.length)), n_exclude: imatrix.exclude.length,
        });
      }
      const st = M._kw_quantize(a.ptr);
      if (st !== abi.status.KITE_OK) { outBuf = null; outLen = 0; }
      check(st);
      flushOut();
      return {
        nTensors: a.get('n_tensors'), nQuantized: a.get('n_quantized'), nFallback: a.get('n_fallback'),
        bytesIn: a.get('bytes_in'), bytesOut: a.get('bytes_out'), nElements: a.get('n_elements'),
      };
    } finally {
      a.free();
      M._kw_free(t);
      M._kw_free(ptr);
      imStrings.forEach((p) => M._kw_free(p));
      if (im) M._kw_free(im.ptr);
    }
  },

  dispose() {
    if (model) M._kw_model_free(model);
    model = 0;
    // The pthread pool would keep the process (Node) or the tab's workers alive.
    M?.PThread?.terminateAllThreads?.();
    return true;
  },
};

// A chat with tools (or tool calls and results in its messages): request is the OpenAI request
// body as JSON text (messages, tools, tool_choice, parallel_tool_calls). The prompt, the call
// grammar and the reply's split into text and calls are kite serve's (wasm/exports_tools.c);
// the result gets toolCalls, and stoppedBy 'tool_calls' when the reply called a tool.
async function chatRequest(request, opts) {
  const a = struct('kw_chat_request_args');
  const r = cstr(request);
  let prompt = null;
  let grammar = null;
  let lazy = 0;
  let toolReply = 0;
  let replyAt = -1;
  try {
    a.set({ model, request: r, flags: (opts.addAssistant === false ? 0 : 1) | (opts.thinking === 'off' ? 2 : 0) });
    const st = M._kw_chat_request(a.ptr);
    if (st !== abi.status.KITE_OK) {
      // the C message names the request's member in the OpenAI form: name the package's option
      const why = M.UTF8ToString(M._kw_last_error())
        .replace(/'tool_choice/g, "'toolChoice").replace(/'parallel_tool_calls'/g, "'parallelToolCalls'");
      const opt = /^'?tools\b/.test(why) ? 'option tools: ' : '';
      throw new CError(`kite: chat: ${opt}${why}`, abi.statusNames[st] ?? `status ${st}`);
    }
    prompt = takeString(a.get('prompt'));
    const g = a.get('grammar');
    if (g) grammar = takeString(g);
    lazy = a.get('lazy');
    toolReply = a.get('tool_reply');
    replyAt = a.get('reply_at');
    if (toolReply && opts.streamToolCalls) toolReply |= 4; // the calls in pieces too
  } finally {
    a.free();
    M._kw_free(r);
  }
  const calls = [];
  current.toolCalls = calls;
  // As kite serve's chat: special-token text in the template becomes tokens.
  const res = await runGenerate(prompt, {
    ...opts, parseSpecial: true, ...(grammar !== null ? { grammar, jsonSchema: undefined } : {}),
  }, { trigger: lazy ? '<tool_call>' : null, toolReply, replyAt });
  // ids: kite serve's (openai/tool_calls.c, as llama-server makes them)
  const toolCalls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  return { ...res, toolCalls, ...(toolCalls.length && ['eog', 'stop'].includes(res.stoppedBy) ? { stoppedBy: 'tool_calls' } : {}) };
}

async function runGenerate(prompt, o, { trigger = null, toolReply = 0, replyAt = -1 } = {}) {
  if (gpuDead) throw new CError(gpuDead, 'device lost');
  const p = cstr(prompt);
  const stops = (o.stop || []).map(String);
  const sp = stops.map(cstr);
  const arr = addr(M._kw_alloc(abi.pointerSize * Math.max(1, sp.length)));
  const g = o.grammar !== undefined ? cstr(o.grammar) : 0;
  const js = o.jsonSchema !== undefined ? cstr(typeof o.jsonSchema === 'string' ? o.jsonSchema : JSON.stringify(o.jsonSchema)) : 0;
  const tr = trigger !== null ? cstr(trigger) : 0;
  const rm = o.reasoningBudgetMessage !== undefined ? cstr(o.reasoningBudgetMessage) : 0;
  const a = struct('kw_gen_args');
  try {
    sp.forEach((s, i) => setPtr(arr + abi.pointerSize * i, s));
    current.decoder = new TextDecoder('utf-8');
    current.held = ''; // text not sent yet (onPiece)
    current.posted = 0;
    current.lastPost = -Infinity;
    current.tokens = [];
    // The core's defaults first; then only the options the caller gave.
    M._kw_gen_args_init(a.ptr);
    a.set({
      model, prompt: p, stops: arr, n_stop: sp.length,
      n_predict: o.maxTokens, temp: o.temperature, top_k: o.topK, top_p: o.topP, min_p: o.minP,
      repeat_penalty: o.repeatPenalty, repeat_last_n: o.repeatLastN, seed: o.seed,
      no_bos: o.noBos ? 1 : 0, keep_context: o.keepContext ? 1 : 0, parse_special: o.parseSpecial ? 1 : 0,
      reuse_prefix: o.cachePrompt === false ? 0 : 1,
      grammar: g, json_schema: js, grammar_trigger: tr, tool_reply: toolReply, reply_at: replyAt,
      // chat only (generate's options have none of these): the budget and the reply's opening
      reasoning_budget: o.reasoningBudget ?? -1, reasoning_message: rm, no_thinking: o.thinking === 'off' ? 1 : 0,
    });
    const st = device === 'webgpu' ? await generateSteps(a) : M._kw_generate(a.ptr);
    endText();
    const result = {
      tokens: current.tokens,
      nPrompt: a.get('n_prompt'), nCached: a.get('n_cached'), nGenerated: a.get('n_generated'), prefillSeconds: a.get('prefill_s'), decodeSeconds: a.get('decode_s'),
      stoppedBy: a.get('stopped_eog') ? 'eog' : a.get('stopped_string') ? 'stop' : 'length',
    };
    if (st === abi.status.KITE_ERR_ABORTED && aborted()) return { ...result, stoppedBy: 'abort' };
    check(st);
    return result;
  } finally {
    if (current.held) postText(); // a failed run's text so far, before its error
    a.free();
    M._kw_free(p);
    sp.forEach((s) => M._kw_free(s));
    M._kw_free(arr);
    if (g) M._kw_free(g);
    if (js) M._kw_free(js);
    if (tr) M._kw_free(tr);
    if (rm) M._kw_free(rm);
  }
}

// kw_generate's run in steps (wasm/abi.h): the GPU's logits arrive asynchronously, so the
// token loop waits for them here (C never blocks on the GPU). Returns the C status; a GPU
// failure throws gpuFailed's error.
async function generateSteps(a) {
  check(M._kw_gen_start(a.ptr));
  let st = abi.status.KITE_OK;
  let failure = null; // a GPU failure
  try {
    for (;;) {
      st = M._kw_gen_eval(a.ptr);
      if (st !== abi.status.KITE_OK) {
        // the step failed on the GPU side (the C message names it) or before it
        if (gpu.gpu.lost || gpu.backend?.error) failure = gpu.gpu.lost ?? new Error(M.UTF8ToString(M._kw_last_error()));
        break;
      }
      if (a.get('n_eval') === 0) break;
      try {
        await gpu.backend.settle();
      } catch (e) {
        failure = e;
        break;
      }
      if (aborted()) {
        st = abi.status.KITE_ERR_ABORTED;
        break;
      }
      st = M._kw_gen_step(a.ptr); // an error here (a callback's stop, no memory) is C's
      if (st !== abi.status.KITE_OK) break;
    }
  } finally {
    M._kw_gen_finish(a.ptr); // sets no error: check(st) still reads the step's message
  }
  if (failure) throw gpuFailed(failure);
  return st;
}

// ---- message loop ----------------------------------------------------------------------

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
  current = { id, cancel: new AbortController() };
  lastStarted = Math.max(lastStarted, id);
  if (cancelled.delete(id)) current.cancel.abort();
  abortFlag = msg.abort ? new Int32Array(msg.abort) : null;
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
    current = null;
    abortFlag = null;
  }
}
