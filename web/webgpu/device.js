// device.js - the WebGPU device for Kite's kernels: adapter and device (optional features
// shader-f16 and subgroups where the adapter has them), tensors split into buffers no larger
// than a storage binding may be, a pipeline cache filled at load (never per token), and a
// recorder that puts one step's dispatches into one submit with at most one read-back.

// A GPU failure the caller can act on (fall back to the CPU build): code is 'no-webgpu',
// 'no-adapter', 'device-lost', 'pipeline', 'too-large' or 'gpu-error'.
export class GpuError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'GpuError';
    this.code = code;
  }
}

const PARAM_SLOT = 256; // bytes per dispatch's uniform block (minUniformBufferOffsetAlignment)
const ARENA_SLOTS = 1024;
const BIND_GROUP_CACHE = 8192; // bind groups kept (the cache starts over past this)
let lastBufferId = 0;
const bufferId = (b) => (b.kiteId ??= ++lastBufferId);
const align4 = (n) => (n + 3) & ~3;

// Requests an adapter and a device. Options: powerPreference; maxBindingBytes (splits tensors
// at this size even where the device allows more: tests the split path); adapter (one the
// caller already has); features (the optional features to request where the adapter has
// them: 'shader-f16', 'subgroups' by default; fewer to test the paths for adapters without).
// Resolves to a Gpu; rejects with GpuError where WebGPU or an adapter is missing.
export async function createGpu({ powerPreference = 'high-performance', maxBindingBytes, adapter, features = ['shader-f16', 'subgroups'] } = {}) {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) throw new GpuError('no-webgpu', 'WebGPU is not available here (navigator.gpu is missing)');
  adapter ??= await gpu.requestAdapter({ powerPreference });
  if (!adapter) throw new GpuError('no-adapter', 'WebGPU has no adapter here (requestAdapter() gave null)');
  const requiredFeatures = features.filter((f) => adapter.features.has(f));
  const al = adapter.limits;
  // the largest buffers and bindings the adapter offers (the defaults are 128/256 MiB)
  const requiredLimits = {
    maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
    maxBufferSize: al.maxBufferSize,
    maxStorageBuffersPerShaderStage: Math.min(al.maxStorageBuffersPerShaderStage, 10),
    maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
  };
  if (maxBindingBytes) requiredLimits.maxStorageBufferBindingSize = Math.min(maxBindingBytes, al.maxStorageBufferBindingSize);
  let device;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (e) {
    throw new GpuError('no-adapter', `WebGPU device request failed: ${e.message}`);
  }
  const info = adapter.info ?? {};
  const g = new Gpu(adapter, device, {
    features: new Set(requiredFeatures),
    name: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter',
    maxBindingBytes: Math.min(device.limits.maxStorageBufferBindingSize, maxBindingBytes ?? Infinity,
      device.limits.maxBufferSize),
  });
  if (g.features.has('subgroups')) g.subgroupSize = await probeSubgroups(g);
  return g;
}

// The kernels' subgroup reductions assume that a 64-thread workgroup is split into subgroups
// of consecutive local_invocation_index (lane = index % size), which WGSL does not promise
// (every implementation seen does it). A probe kernel checks it on this device: each thread
// records its lane, the subgroup size and the subgroupAdd of the indices. Returns the size
// when the layout holds (a power of two dividing 64), else 0 (the kernels then use shared
// memory only).
const PROBE = /* wgsl */ `
enable subgroups;
@group(0) @binding(0) var<storage, read_write> O: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32,
        @builtin(subgroup_size) sgs: u32) {
  let sum = subgroupAdd(lid);
  O[3u * lid] = sid;
  O[3u * lid + 1u] = sgs;
  O[3u * lid + 2u] = sum;
}`;
async function probeSubgroups(g) {
  try {
    await g.compile([{ key: 'subgroup_probe', code: PROBE }]);
    const b = g.buffer(64 * 3 * 4, null, 'subgroup probe');
    const rec = g.recorder();
    rec.dispatch('subgroup_probe', [b], 1);
    rec.read(b, 0, 64 * 3 * 4);
    const o = new Uint32Array(await rec.submit());
    b.destroy();
    const sg = o[1];
    if (!(sg >= 1 && sg <= 64 && 64 % sg === 0)) return 0;
    for (let i = 0; i < 64; i++) {
      const first = i - (i % sg);
      if (o[3 * i] !== i % sg || o[3 * i + 1] !== sg || o[3 * i + 2] !== sg * first + (sg * (sg - 1)) / 2) return 0;
    }
    return sg;
  } catch {
    return 0;
  }
}

// A weight or activation tensor on the GPU: `pieces` are { buffer, row0, rows, bytes }, each
// one buffer holding whole rows; a tensor within the binding limit has one piece.
export class GpuTensor {
  constructor(pieces, rows, rowBytes, label) {
    this.pieces = pieces;
    this.rows = rows;
    this.rowBytes = rowBytes;
    this.label = label;
  }
  get bytes() { return this.rows * this.rowBytes; }
  destroy() { for (const p of this.pieces) p.buffer.destroy(); }
}

export class Gpu {
  constructor(adapter, device, { features, name, maxBindingBytes }) {
    this.adapter = adapter;
    this.device = device;
    this.features = features;
    this.name = name;
    this.maxBindingBytes = maxBindingBytes;
    this.limits = device.limits;
    this.pipelines = new Map();
    this.lost = null; // the GpuError once the device is lost
    this.error = null; // the first uncaptured error
    this.arenas = []; // uniform buffers of ARENA_SLOTS slots, reused by each recorder
    this.arenaData = []; // their host copies (Uint32Array), reused by each recorder
    this.staging = new Map(); // read-back buffers by size: [GPUBuffer]
    this.allocated = 0; // bytes of tensors created
    this.subgroupSize = 0; // > 0: subgroups are on and laid out as the kernels assume (probeSubgroups)
    this.stats = { dispatches: 0, bindGroups: 0, submits: 0 }; // running counts (bench/webgpu_steps.mjs)
    this.bindGroups = new Map(); // Recorder.dispatch's cache
    this.trace = null; // an array: each dispatch recorded is pushed as { key, pipeline, bindGroup, groups } (profiling)
    device.lost.then((i) => { this.lost = new GpuError('device-lost', `WebGPU device lost (${i.reason}): ${i.message}`); });
    device.addEventListener?.('uncapturederror', (ev) => { this.error ??= new GpuError('gpu-error', `WebGPU error: ${ev.error.message}`); });
  }

  // A storage buffer of `bytes` (rounded up to 4), filled from `data` (an ArrayBuffer view)
  // when given. Throws GpuError('too-large') past the device's binding limit (maxBindingBytes
  // only splits tensors).
  buffer(bytes, data, label = 'kite') {
    const size = Math.max(4, align4(bytes));
    const limit = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (size > limit) throw new GpuError('too-large', `${label}: ${size} bytes exceed one binding (${limit})`);
    const buffer = this.device.createBuffer({
      label, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
      mappedAtCreation: !!data,
    });
    if (data) {
      const src = new Uint8Array(data.buffer, data.byteOffset, Math.min(data.byteLength, bytes));
      new Uint8Array(buffer.getMappedRange()).set(src);
      buffer.unmap();
    }
    this.allocated += size;
    return buffer;
  }

  // A tensor of `rows` rows of `rowBytes` bytes, split at row boundaries into pieces of at
  // most maxBindingBytes; `data` (all rows, optional) fills it. Throws GpuError('too-large')
  // when one row is larger than a binding (or `align` rows: every piece but the last holds a
  // multiple of align rows).
  tensor(rows, rowBytes, data, label = 'tensor', align = 1) {
    const perPiece = Math.floor(this.maxBindingBytes / rowBytes / align) * align;
    if (perPiece < 1) throw new GpuError('too-large', `${label}: ${align > 1 ? `${align} rows` : 'a row'} of ${rowBytes} bytes exceed${align > 1 ? '' : 's'} one binding (${this.maxBindingBytes})`);
    const pieces = [];
    for (let row0 = 0; row0 < rows || (rows === 0 && pieces.length === 0); row0 += perPiece) {
      const n = Math.min(perPiece, rows - row0);
      const bytes = n * rowBytes;
      const part = data ? new Uint8Array(data.buffer, data.byteOffset + row0 * rowBytes, bytes) : undefined;
      pieces.push({ buffer: this.buffer(bytes, part, `${label}[${row0}..]`), row0, rows: n, bytes });
      if (rows === 0) break;
    }
    return new GpuTensor(pieces, rows, rowBytes, label);
  }

  // Creates the pipelines of `specs` ({ key, code, entry = 'main' }) at once, before any
  // step runs. Rejects with GpuError('pipeline') naming the shader that failed to compile.
  async compile(specs) {
    await Promise.all(specs.map(async ({ key, code, entry = 'main' }) => {
      if (this.pipelines.has(key)) return;
      const module = this.device.createShaderModule({ label: key, code });
      try {
        const p = await this.device.createComputePipelineAsync({ label: key, layout: 'auto', compute: { module, entryPoint: entry } });
        this.pipelines.set(key, p);
      } catch (e) {
        const info = await module.getCompilationInfo?.();
        const msgs = (info?.messages ?? []).filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
        throw new GpuError('pipeline', `WebGPU pipeline ${key} failed: ${e.message}${msgs.length ? '\n' + msgs.join('\n') : ''}`);
      }
    }));
  }

  // A compiled pipeline; throws when it was not created at load.
  pipeline(key) {
    const p = this.pipelines.get(key);
    if (!p) throw new GpuError('pipeline', `WebGPU pipeline ${key} was not created at load`);
    return p;
  }

  // A recorder for one step. One step at a time: a recorder reuses the uniform arenas.
  recorder() {
    if (this.lost) throw this.lost;
    return new Recorder(this);
  }

  // The uniform arena i (created on first use).
  arena(i) {
    while (this.arenas.length <= i) {
      this.arenas.push(this.device.createBuffer({ label: `kite params ${i}`, size: ARENA_SLOTS * PARAM_SLOT, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }));
    }
    return this.arenas[i];
  }

  // Copies bytes [offset, offset + size) of a buffer back (one submit of its own). For tests
  // and load-time checks; steps read back through Recorder.read.
  async read(buffer, offset = 0, size = buffer.size - offset) {
    const rec = this.recorder();
    rec.read(buffer, offset, size);
    return rec.submit();
  }

  // Writes an ArrayBuffer view into a buffer at a byte offset (queued before the next submit).
  write(buffer, offset, data) {
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  destroy() {
    this.bindGroups.clear();
    for (const a of this.arenas) a.destroy();
    for (const pool of this.staging.values()) for (const s of pool) s.destroy();
    this.device.destroy();
  }
}

// Records one step: dispatches go into one compute pass of one command encoder; read() adds
// the step's single copy to a mappable buffer; submit() sends it all in one queue submission
// and resolves to the read bytes (an ArrayBuffer) or null.
export class Recorder {
  constructor(gpu) {
    this.gpu = gpu;
    this.encoder = gpu.device.createCommandEncoder({ label: 'kite step' });
    this.pass = null;
    this.slots = 0;
    this.arenaData = gpu.arenaData; // [arena index] -> the host copy of its slots (shared by the recorders, one step at a time)
    this.readback = null;
    this.dispatches = 0;
  }

  // A uniform block for one dispatch from 16 numbers: u32 unless listed in `floats` (a set of
  // indices). Returns the binding resource.
  uniform(values, floats) {
    const i = Math.floor(this.slots / ARENA_SLOTS);
    const slot = this.slots % ARENA_SLOTS;
    this.slots++;
    const w = PARAM_SLOT / 4;
    this.arenaData[i] ??= new Uint32Array(ARENA_SLOTS * w);
    const u = this.arenaData[i].subarray(slot * w, slot * w + 16), f = new Float32Array(u.buffer, u.byteOffset, 16);
    u.fill(0);
    values.forEach((v, k) => {
      if (floats?.has(k)) f[k] = v;
      else u[k] = v >>> 0;
    });
    return { buffer: this.gpu.arena(i), offset: slot * PARAM_SLOT, size: 64 };
  }

  // One dispatch of the pipeline `key` with bindings 0..n-1 (GPUBuffer or { buffer, offset,
  // size }) and `groups` workgroups ([x, y, z] or a count, spread over y past 65535).
  // Bind groups are cached by pipeline and bindings (buffers by a serial number, never reused;
  // uniform blocks by their arena offset, the same for the same op of the same kind of step),
  // so the steps after the first create none.
  dispatch(key, bindings, groups) {
    const g = this.gpu;
    const pipeline = g.pipeline(key);
    let id = key;
    for (const b of bindings) id += b instanceof GPUBuffer ? `,${bufferId(b)}` : `,${bufferId(b.buffer)}@${b.offset}+${b.size}`;
    let bindGroup = g.bindGroups.get(id);
    if (!bindGroup) {
      bindGroup = g.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: bindings.map((b, binding) => ({ binding, resource: b instanceof GPUBuffer ? { buffer: b } : b })),
      });
      if (g.bindGroups.size >= BIND_GROUP_CACHE) g.bindGroups.clear();
      g.bindGroups.set(id, bindGroup);
      g.stats.bindGroups++;
    }
    this.pass ??= this.encoder.beginComputePass({ label: 'kite step' });
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    const [x, y, z] = typeof groups === 'number' ? grid(groups, g.limits.maxComputeWorkgroupsPerDimension) : groups;
    if (x > 0 && y > 0 && z > 0) this.pass.dispatchWorkgroups(x, y, z);
    g.trace?.push({ key, pipeline, bindGroup, groups: [x, y, z] });
    this.dispatches++;
    g.stats.dispatches++;
  }

  // Schedules the step's read-back of [offset, offset + size) of a buffer (after every
  // dispatch recorded so far). One per step.
  read(buffer, offset, size) {
    if (this.readback) throw new Error('WebGPU: one read-back per step');
    this.pass?.end();
    this.pass = null;
    const bytes = align4(size);
    // a free read-back buffer of this size (a step still in flight holds its own)
    const pool = this.gpu.staging.get(bytes) ?? [];
    this.gpu.staging.set(bytes, pool);
    let staging = pool.find((b) => !b.kiteBusy);
    if (!staging) {
      staging = this.gpu.device.createBuffer({ label: 'kite read-back', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      pool.push(staging);
    }
    staging.kiteBusy = true;
    this.encoder.copyBufferToBuffer(buffer, offset, staging, 0, bytes);
    this.readback = { staging, size };
  }

  // Submits the step; resolves to the read-back's bytes (ArrayBuffer) or null. Rejects with a
  // GpuError when the device is lost or reported an error.
  async submit() {
    this.pass?.end();
    this.pass = null;
    const q = this.gpu.device.queue;
    this.arenaData.forEach((d, i) => {
      const used = Math.min(ARENA_SLOTS, this.slots - i * ARENA_SLOTS) * PARAM_SLOT;
      if (used > 0) q.writeBuffer(this.gpu.arena(i), 0, d.buffer, 0, used);
    });
    q.submit([this.encoder.finish()]);
    this.gpu.stats.submits++;
    let out = null;
    if (this.readback) {
      const { staging, size } = this.readback;
      try {
        await staging.mapAsync(GPUMapMode.READ);
      } catch (e) {
        throw this.gpu.lost ?? new GpuError('gpu-error', `WebGPU read-back failed: ${e.message}`);
      }
      out = staging.getMappedRange(0, align4(size)).slice(0, size);
      staging.unmap();
      staging.kiteBusy = false;
    } else {
      await q.onSubmittedWorkDone();
    }
    if (this.gpu.lost) throw this.gpu.lost;
    if (this.gpu.error) throw this.gpu.error;
    return out;
  }
}

// n workgroups as [x, y, 1] with x <= max (per-dimension limit).
export function grid(n, max = 65535) {
  if (n <= max) return [n, 1, 1];
  return [max, Math.ceil(n / max), 1];
}
