// kernels.js - Kite's WebGPU kernels behind one object: createKernels(gpu) compiles every
// pipeline at load; its methods record dispatches into a Recorder (device.js), so a whole
// token step becomes one submit. Tensors are GpuTensors (weights, split into pieces when
// larger than a binding) or plain GPUBuffers of f32 (activations); offsets count elements.
import { GEMM_TM, GEMM_TN, GEMV_ROWS, gemmWgsl, gemvWgsl, getRowsWgsl } from './wgsl_matmul.js';
import { GATHER, ROPE, ROPE_CACHE, SOFTMAX, attentionWgsl, elemwiseWgsl, kvWriteWgsl, rmsnormWgsl } from './wgsl_ops.js';
import { TYPE_NAMES, rowBytes, typeName } from './types.js';

// Every pipeline of the kernels, for Gpu.compile. types: the weight types to build matmul and
// get-rows shaders for (all by default); kv: the KV storage kinds ('f32', 'f16').
export function kernelSpecs({ types = TYPE_NAMES, kv = ['f32', 'f16'] } = {}) {
  const specs = [];
  for (const t of types.map(typeName)) {
    specs.push({ key: `gemv_${t}`, code: gemvWgsl(t) }, { key: `gemm_${t}`, code: gemmWgsl(t) },
      { key: `getrows_${t}`, code: getRowsWgsl(t) });
  }
  specs.push({ key: 'rmsnorm', code: rmsnormWgsl(false) }, { key: 'rmsnorm_inplace', code: rmsnormWgsl(true) }, { key: 'softmax', code: SOFTMAX }, { key: 'elemwise', code: elemwiseWgsl(false) },
    { key: 'elemwise_inplace', code: elemwiseWgsl(true) },
    { key: 'rope_cache', code: ROPE_CACHE }, { key: 'rope', code: ROPE }, { key: 'gather', code: GATHER });
  for (const k of kv) specs.push({ key: `kvwrite_${k}`, code: kvWriteWgsl(k) }, { key: `attn_${k}`, code: attentionWgsl(k) });
  return specs;
}

// Compiles the pipelines (see kernelSpecs for options) and returns the kernels.
export async function createKernels(gpu, opts) {
  await gpu.compile(kernelSpecs(opts));
  return new Kernels(gpu);
}

const F = (...i) => new Set(i); // indices of f32 fields in a uniform block

export class Kernels {
  constructor(gpu) {
    this.gpu = gpu;
  }

  // Uploads a weight of `rows` rows of `cols` elements of `type` (a name or ggml id) from its
  // GGUF bytes; returns a GpuTensor with .type and .cols.
  weight(type, rows, cols, bytes, label) {
    const t = typeName(type);
    const w = this.gpu.tensor(rows, rowBytes(t, cols), bytes, label ?? t);
    w.type = t;
    w.cols = cols;
    return w;
  }

  // y[t * yStride + r] = sum_c W[r][c] * x[t * xStride + c] for ntok tokens: the GEMV for one
  // token, the tiled GEMM for more. yStride defaults to W.rows, xStride to W.cols.
  matmul(rec, W, x, y, { ntok = 1, xOff = 0, yOff = 0, xStride = W.cols, yStride = W.rows } = {}) {
    for (const p of W.pieces) {
      const u = rec.uniform([p.rows, W.cols, W.rowBytes, p.row0, ntok, xOff, yOff, yStride, xStride]);
      if (ntok === 1) {
        rec.dispatch(`gemv_${W.type}`, [p.buffer, x, y, u], Math.ceil(p.rows / GEMV_ROWS));
      } else {
        rec.dispatch(`gemm_${W.type}`, [p.buffer, x, y, u], [Math.ceil(p.rows / GEMM_TN), Math.ceil(ntok / GEMM_TM), 1]);
      }
    }
  }

  // y[k * yStride + c] = W[ids[k]][c] (decoded) for the nIds row ids (u32) in `ids` from idsOff.
  getRows(rec, W, ids, y, { nIds = 1, idsOff = 0, yOff = 0, yStride = W.cols } = {}) {
    for (const p of W.pieces) {
      const u = rec.uniform([p.rows, W.cols, W.rowBytes, p.row0, nIds, idsOff, yOff, yStride, 0]);
      rec.dispatch(`getrows_${W.type}`, [p.buffer, ids, y, u], Math.ceil((nIds * Math.ceil(W.cols / 32)) / 64));
    }
  }

  // RMS norm of nRows rows of n: y = x / sqrt(mean(x^2) + eps) * w (w: a buffer of n floats);
  // rows xStride / yStride apart. y may be x.
  rmsnorm(rec, x, w, y, { n, nRows = 1, eps, xOff = 0, yOff = 0, xStride = n, yStride = n }) {
    const u = rec.uniform([n, nRows, eps, xOff, yOff, xStride, yStride], F(2));
    if (x === y) rec.dispatch('rmsnorm_inplace', [x, w, u], nRows);
    else rec.dispatch('rmsnorm', [x, w, y, u], nRows);
  }

  // Softmax of nRows rows of n, in place.
  softmax(rec, x, { n, nRows = 1, xOff = 0 }) {
    rec.dispatch('softmax', [x, rec.uniform([n, xOff])], nRows);
  }

  // Elementwise over nRows rows of `width` (rows aStride / bStride / yStride apart):
  // op 'add' (y = a + b), 'swiglu' (silu(a) * b), 'geglu' (gelu_tanh(a) * b), 'bias'
  // (y = a + b[c], b one row), 'scale' (y = a * s; b unused). y may be a (then aOff and aStride
  // address it; yOff/yStride must equal them).
  elemwise(rec, op, a, b, y, { n, width = n, aOff = 0, bOff = 0, yOff, aStride = width, bStride = width, yStride, s = 0 }) {
    const mode = { add: 0, swiglu: 1, geglu: 2, bias: 3, scale: 4 }[op];
    if (mode === undefined) throw new Error(`WebGPU: unknown elementwise op ${op}`);
    yOff ??= a === y ? aOff : 0;
    yStride ??= a === y ? aStride : width;
    const u = rec.uniform([n, mode, aOff, bOff, yOff, width, aStride, bStride, yStride, s], F(9));
    const bb = b ?? a;
    if (a === y) rec.dispatch('elemwise_inplace', [y, bb === y ? this.#dummy() : bb, u], Math.ceil(n / 256));
    else rec.dispatch('elemwise', [a, bb, y, u], Math.ceil(n / 256));
  }

  // A small buffer to bind where an op reads nothing (WebGPU binds every declared binding).
  #dummy() {
    this.dummyBuffer ??= this.gpu.buffer(16);
    return this.dummyBuffer;
  }

  // dst row i = src row ids[idsOff + i] (i32 row indices) for n rows of width; src and dst
  // distinct buffers.
  gather(rec, src, dst, ids, { n, width, srcOff = 0, srcStride = width, dstOff = 0, dstStride = width, idsOff = 0 }) {
    if (src === dst) throw new Error('WebGPU: gather within one buffer');
    const u = rec.uniform([n, width, srcOff, srcStride, dstOff, dstStride, idsOff]);
    rec.dispatch('gather', [src, dst, ids, u], Math.ceil((n * width) / 64));
  }

  // The RoPE table (see ROPE_CACHE) for nTok positions (i32 in `pos` from posOff) into cs.
  // step = base^(-2/n_rot) as an f32; factors: a buffer of n_rot/2 floats or null.
  ropeCache(rec, pos, factors, cs, { nTok, nRot, step, freqScale = 1, attnFactor = 1, posOff = 0 }) {
    const u = rec.uniform([nTok, nRot, step, freqScale, attnFactor, factors ? 1 : 0, posOff], F(2, 3, 4));
    rec.dispatch('rope_cache', [pos, factors ?? pos, cs, u], Math.ceil((nTok * nRot) / 2 / 64));
  }

  // Rotates x (nTok rows of nHead x headDim, xStride apart, in place) with the table cs (nRot
  // floats per token).
  rope(rec, x, cs, { nTok, nHead, headDim, nRot, neox = false, xOff = 0, csOff = 0, xStride = nHead * headDim }) {
    const u = rec.uniform([nTok, nHead, headDim, nRot, neox ? 1 : 0, xOff, csOff, xStride]);
    rec.dispatch('rope', [x, cs, u], Math.ceil((nTok * nHead * nRot) / 2 / 64));
  }

  // Writes nTok rows of `width` f32 values (from srcOff) into the cache (from element cOff),
  // token t at row seq[t] * nCtx + pos[t] (pos, seq: i32 buffers read from metaOff; seq null:
  // sequence 0), rounded to f16; kind 'f32' or 'f16' (packed pairs: width, offsets even).
  kvWrite(rec, kind, src, cache, pos, seq, { nTok, width, nCtx, srcOff = 0, metaOff = 0, cOff = 0, srcStride = width }) {
    if (kind === 'f16' && (width % 2 || srcOff % 2 || cOff % 2 || srcStride % 2)) throw new Error('WebGPU: a packed f16 cache needs even widths and offsets');
    const n = kind === 'f16' ? (nTok * width) / 2 : nTok * width;
    const u = rec.uniform([nTok, width, nCtx, srcOff, metaOff, seq ? 1 : 0, cOff, srcStride]);
    rec.dispatch(`kvwrite_${kind}`, [src, cache, pos, seq ?? pos, u], Math.ceil(n / 64));
  }

  // Causal GQA attention of nTok query tokens (see attentionWgsl): token t of sequence seq[t]
  // at position pos[t] over cache rows seq[t] * nCtx + 0..pos[t] (kvStride values apart, from
  // element cOff).
  attention(rec, kind, q, k, v, out, pos, seq, { nTok, nHead, nKvHead, headDim, nCtx, kvStride = nKvHead * headDim, scale, qOff = 0, oOff = 0, metaOff = 0, cOff = 0, qStride = nHead * headDim, oStride = nHead * headDim }) {
    if (headDim > 512 || nHead % nKvHead) throw new Error('WebGPU: attention needs head_dim <= 512 and n_head a multiple of n_kv_head');
    const u = rec.uniform([nTok, nHead, nKvHead, headDim, nCtx, kvStride, scale, qOff, oOff, metaOff, seq ? 1 : 0, cOff, qStride, oStride], F(6));
    rec.dispatch(`attn_${kind}`, [q, k, v, out, pos, seq ?? pos, u], nTok * nHead);
  }
}
