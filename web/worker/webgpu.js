// worker/webgpu.js - the WebGPU placement (the kite-mt-webgpu / kite-st-webgpu builds): the
// adapter and build at init, the model's layers moved to the GPU after a load, the token loop
// that waits on the GPU's logits, and the fall back to the CPU when the GPU fails.
import { M, abi, model, current, aborted, gpu, device, gpuError, gpuDead, gpuOpts, modelInfoCache,
  setGpu, setDevice, setGpuError, setGpuDead } from './state.js';
import { CError, check, cstr, struct } from './heap.js';
import { progress } from './c_callbacks.js';
import { loadBuild } from './load_build.js';

// device 'webgpu' or 'auto': an adapter and device, then a -webgpu build: kite-mt-webgpu where
// the page may use threads (flavor 'mt': the layers left on the CPU, or the whole model after
// a fallback, run on the pool; the GPU calls stay on this worker, which owns the device and
// runs the forward pass), else (or when dist/ lacks it) kite-st-webgpu. Without an adapter or
// a build, 'auto' takes the CPU build and 'webgpu' fails. Returns the flavor loaded, or null.
export async function initGpu(want, flavor, threads) {
  let why;
  try {
    const { createGpu } = await import('../webgpu/device.js');
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
      setGpu({ gpu: g, kernels: null, backend: null });
      return loaded;
    } catch (e) {
      g.destroy();
      why = e.message;
    }
  } catch (e) {
    why = e.message;
  }
  if (want === 'webgpu') throw new CError(`device 'webgpu': ${why}`, 'unsupported');
  setGpuError(why);
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
export async function placeOnGpu(info, { gpuLayers, fallback }) {
  const facts = info.model;
  try {
    current.stage = 'webgpu';
    progress('webgpu', 0, 0); // compiling the pipelines and uploading the weights
    const { createKernels, modelHeadDims } = await import('../webgpu/kernels.js');
    const { WebGpuBackend } = await import('../webgpu/backend.js');
    const { TYPE_NAMES } = await import('../webgpu/types.js');
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
    setDevice('webgpu');
    setGpuError(null);
    progress('webgpu', 1, 1);
  } catch (e) {
    setGpuError(e.message);
    if (!fallback) throw new CError(`the model cannot run on WebGPU: ${e.message}`, e.status ?? 'unsupported');
  }
}

// Where the model runs, for the load's reply and Model.device.
export function placement() {
  const n = device === 'webgpu' ? Math.min(gpuOpts.gpuLayers ?? Infinity, modelInfoCache?.n_layer ?? Infinity) : 0;
  return { device, gpuLayers: n, adapter: gpu?.gpu.name ?? null, gpuError, gpuBytes: device === 'webgpu' ? gpu?.backend?.gpuBytes ?? 0 : 0 };
}

// A GPU failure during a call (a lost device, a failed step): with fallback, the model moves to
// a CPU context (its KV cache starts empty) and the call fails saying so; without, every later
// generation fails too.
function gpuFailed(e) {
  const why = e?.message || String(e);
  setGpuError(why);
  if (gpuOpts.fallback && offload(0, modelInfoCache.n_ctx) === abi.status.KITE_OK) {
    setDevice('cpu');
    return new CError(`the WebGPU device failed (${why}); the model now runs on the CPU (its context starts empty): call again`, 'device lost');
  }
  setDevice('none');
  setGpuDead(`the WebGPU device failed (${why}) and fallback is off: dispose this model`);
  return new CError(gpuDead, 'device lost');
}

// kw_generate's run in steps (wasm/abi.h): the GPU's logits arrive asynchronously, so the
// token loop waits for them here (C never blocks on the GPU). Returns the C status; a GPU
// failure throws gpuFailed's error.
export async function generateSteps(a) {
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
