// worker/state.js - the worker's mutable state in one place. Any module of the worker reads
// these bindings; each is written only by the module named above it, through its setter (an
// ES module's importers cannot assign its bindings). One worker holds one wasm instance and
// runs one request at a time, so there is one of each.

// ---- the wasm instance: written by load_build.js (loadBuild, and the instance's onAbort)
export let M = null;       // the Emscripten module
export let ptrSize = 4;    // bytes of a pointer or size_t in the loaded build (8: memory64)
export let scratch = 0;    // 64 bytes of heap for out-parameters
export let abi = null;     // the C side's table of status codes, struct layouts and defaults (kw_abi_json)
export let broken = null;  // set when the instance aborted: it cannot be used again

// The build just instantiated and its pointer width (set before anything reads the heap).
export function setModule(mod, size) { M = mod; ptrSize = size; }
// The out-parameter block, allocated once per instance.
export function setScratch(p) { scratch = p; }
// The ABI table read from the instance (heap.js readAbi).
export function setAbi(table) { abi = table; }
// Why the instance cannot be used again (its onAbort).
export function setBroken(why) { broken = why; }

// ---- the model: written by ops.js (load, dispose)
export let model = 0;              // kw_model* of this worker (one per worker)
export let modelInfoCache = null;  // the loaded model's runtime facts (modelInfo().model)
export let gpuOpts = { fallback: true, gpuLayers: undefined }; // the load's WebGPU options

// The loaded model's handle (0 after dispose).
export function setModel(m) { model = m; }
// What a load left for the WebGPU placement: the model's facts and its { fallback, gpuLayers }.
export function setLoaded(facts, opts) { modelInfoCache = facts; gpuOpts = opts; }

// ---- WebGPU (the kite-mt-webgpu / kite-st-webgpu builds): written by webgpu.js
export let gpu = null;      // { gpu (device.js Gpu), kernels, backend } once an adapter was found at init
export let device = 'cpu';  // where the model runs now: 'cpu', 'webgpu', or 'none' (gpuDead)
export let gpuError = null; // why the model is not (or no longer) on the GPU
export let gpuDead = null;  // set when the GPU failed and the caller did not allow the CPU fallback

// The adapter and device found at init (its kernels and backend are filled in on the object).
export function setGpu(g) { gpu = g; }
// Where the model runs now.
export function setDevice(d) { device = d; }
// Why the model is not on the GPU (null: it is).
export function setGpuError(why) { gpuError = why; }
// Why every later generation fails (the GPU failed without fallback).
export function setGpuDead(why) { gpuDead = why; }

// ---- the running request: written by worker.js (the message loop's handle)
export let current = null;   // the running request: { id, cancel, stage, decoder, tokens, ... }
export let abortFlag = null; // Int32Array over the running request's SharedArrayBuffer
// The pulls waiting for a 'chunk' reply: request id -> resolve. ops.js (readSource) adds one,
// the message loop takes it out when the reply comes.
export const pulls = new Map();

// The request starting (its fields are filled in by the ops as they go), or null when it ended.
export function setRequest(req, flag) { current = req; abortFlag = flag; }

// The running request was cancelled: its shared flag (seen even while C runs) or a 'cancel'
// message (seen between awaits, also where there is no SharedArrayBuffer).
export const aborted = () => (abortFlag !== null && Atomics.load(abortFlag, 0) !== 0) || !!current?.cancel.signal.aborted;
