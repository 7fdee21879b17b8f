// kernels.js - Kite's WebGPU kernels behind one object: createKernels(gpu) compiles every
// pipeline at load; its methods record dispatches into a Recorder (device.js), so a whole
// token step becomes one submit. Tensors are GpuTensors (weights, split into pieces when
// larger than a binding) or plain GPUBuffers of f32 (activations); offsets count elements.
import { EPI_ADD, EPI_BIAS, EPI_GEGLU, EPI_GLU, GEMM_BM, GEMM_BN, gemmWgsl, gemvRows, gemvWgsl, getRowsWgsl, gluRows } from './wgsl_matmul.js';
import { GATHER, SOFTMAX, elemwiseWgsl, gegluWgsl, rmsnormWgsl } from './wgsl_ops.js';
import { ROPE, ROPE_CACHE, ropeNormWgsl, ropeWgsl } from './wgsl_rope.js';
import { kvWriteWgsl } from './wgsl_kv_write.js';
import { ATTN_SG_DIMS, ATTN_TILE_MIN_DIM_SG, ATTN_TILE_PAIRS, ATTN_TILE_Q, attentionSgWgsl, attentionTiledWgsl, attentionWgsl, attnTilePairs } from './wgsl_attention.js';
import { MAX_EXPERTS, MOE_COMBINE, MOE_GROUP, MOE_ROUTE } from './wgsl_moe.js';
import { TYPE_NAMES, rowBytes, typeName } from './types.js';
import { GRID_TYPES } from './wgsl_dequant.js';
import { GRID_WORDS, iqGrids } from './iq_grids.js';

// Every pipeline of the kernels, for Gpu.compile. types: the weight types to build matmul and
// get-rows shaders for (all by default); kv: the KV storage kinds ('f32', 'f16'); subgroups:
// the GEMV, RMS norm and attention reduce with subgroup operations (only where the device has
// them, see Gpu.subgroupSize; attention also keeps the workgroup kernel for heads wider than
// the subgroup kernel takes). cpuRounding: a diagnostic, not for use: the F16 matmuls and attention
// round as the CPU path does (activations and q to f16, the flash-attention V sum in f16, keys
// one by one), so that a test can tell the two paths' rounding apart from a real difference.
// weightKernels: which of a type's kernels to build ('gemv', 'gemm', 'getrows'; all by
// default: a test that checks one of them builds only that).
// headDims: the head sizes to build the tiled prompt attention for (every size it takes by
// default; [] none: those prompts go to the per-query kernels).
// f16: the shader-f16 variants (only where the device has the feature; not with cpuRounding)
// of the F16 GEMV, GEMM and get-rows (F16 rows as f16 storage; the GEMV and GEMM on
// activations rounded to f16, the GEMM's tiles in f16) and of the f16 KV cache's write and
// attention (the cache as f16 storage).
// Their keys end in F16_SUFFIX (a device may hold both forms); the specs' `base` is the key of
// the f32 form they replace.
export const F16_SUFFIX = '.h';
export function kernelSpecs({ types = TYPE_NAMES, kv = ['f32', 'f16'], subgroups = false, cpuRounding = false, weightKernels = ['gemv', 'gemm', 'getrows'], headDims, f16 = false } = {}) {
  const specs = [];
  f16 &&= !cpuRounding;
  // a kernel with an f16 variant: that variant where `h`, else the f32 form
  const spec = (key, h, code) => (h ? { key: key + F16_SUFFIX, base: key, code } : { key, code });
  const attnTile = attnTileShaders({ headDims, cpuRounding, subgroups });
  for (const t of types.map(typeName)) {
    const h = f16 && t === 'f16';
    if (weightKernels.includes('gemv')) specs.push(spec(`gemv_${t}`, h, gemvWgsl(t, { subgroups, cpuRounding, f16: h })));
    if (weightKernels.includes('gemm')) specs.push(spec(`gemm_${t}`, h, gemmWgsl(t, { cpuRounding, f16: h })));
    if (weightKernels.includes('getrows')) specs.push(spec(`getrows_${t}`, h, getRowsWgsl(t, { f16: h })));
  }
  specs.push({ key: 'rmsnorm', code: rmsnormWgsl(false, { subgroups }) }, { key: 'rmsnorm_inplace', code: rmsnormWgsl(true, { subgroups }) },
    { key: 'softmax', code: SOFTMAX }, { key: 'elemwise', code: elemwiseWgsl(false) },
    { key: 'elemwise_inplace', code: elemwiseWgsl(true) }, { key: 'geglu', code: gegluWgsl(false) },
    { key: 'geglu_inplace', code: gegluWgsl(true) }, { key: 'moe_route', code: MOE_ROUTE }, { key: 'moe_group', code: MOE_GROUP },
    { key: 'moe_combine', code: MOE_COMBINE },
    { key: 'rope_cache', code: ROPE_CACHE }, { key: 'rope', code: ROPE }, { key: 'rope2', code: ropeWgsl({ pair: true }) }, { key: 'rope_norm', code: ropeNormWgsl({ subgroups }) }, { key: 'gather', code: GATHER });
  for (const k of kv) {
    const h = f16 && k === 'f16';
    specs.push(spec(`kvwrite_${k}`, h, kvWriteWgsl(k, { f16: h })), spec(`kvwrite2_${k}`, h, kvWriteWgsl(k, { pair: true, f16: h })),
      spec(`attn_${k}`, h, attentionWgsl(k, { cpuRounding, f16: h })));
    for (const n of attnTile) specs.push(spec(`attn_tile${n}_${k}`, h, attentionTiledWgsl(k, { pairs: n, f16: h })));
    if (subgroups && !cpuRounding) specs.push(spec(`attn_sg_${k}`, h, attentionSgWgsl(k, { f16: h })));
  }
  return specs;
}

// A model's attention head sizes from its GGUF tensors ([{ name, shape }]: the rows of its K
// projections, or of fused QKV ones) and head counts, for kernelSpecs' headDims; undefined
// where none is found (every size is then built; a size not built runs on the per-query
// kernels).
export function modelHeadDims(tensors, nHead, nHeadKv) {
  const dims = new Set();
  for (const t of tensors) {
    const m = /\.attn_(k|qkv)\.weight$/.exec(t.name);
    const rows = t.shape?.[1];
    const heads = m?.[1] === 'k' ? nHeadKv : nHead + 2 * nHeadKv;
    if (m && rows > 0 && heads > 0 && rows % heads === 0) dims.add(rows / heads);
  }
  return dims.size ? [...dims] : undefined;
}

// The `pairs` of the tiled attention shaders to build (kernelSpecs' headDims; none for the
// cpuRounding diagnostic, which keeps the workgroup kernel).
function attnTileShaders({ headDims, cpuRounding, subgroups }) {
  if (cpuRounding) return [];
  if (!headDims) return ATTN_TILE_PAIRS;
  const dims = headDims.filter((d) => !(subgroups && d < ATTN_TILE_MIN_DIM_SG)); // (those go per query)
  return [...new Set(dims.map(attnTilePairs).filter((n) => n > 0))];
}

// Compiles the pipelines (see kernelSpecs for options; subgroups and f16 default to whether the
// device has them as the kernels need; false turns them off) and returns the kernels;
// .subgroups says which GEMV, .f16 whether the shader-f16 variants replace the f32 forms.
export async function createKernels(gpu, opts = {}) {
  const subgroups = gpu.subgroupSize > 0 && opts.subgroups !== false;
  const f16 = gpu.features.has('shader-f16') && opts.f16 !== false && !opts.cpuRounding;
  const specs = kernelSpecs({ ...opts, subgroups, f16 });
  await gpu.compile(specs);
  const k = new Kernels(gpu);
  k.subgroups = subgroups;
  k.f16 = f16;
  k.keys = new Map(specs.filter((s) => s.base).map((s) => [s.base, s.key]));
  k.gemvRows = gemvRows(subgroups ? gpu.subgroupSize : 0);
  k.perWorkgroup = subgroups ? Math.max(1, 64 / gpu.subgroupSize) : 1; // rows / heads per workgroup of the subgroup kernels
  k.attnSubgroups = subgroups && !opts.cpuRounding; // attention by the subgroup kernel where the heads fit it (tests turn it off to check the other)
  k.attnTiled = !opts.cpuRounding; // several tokens of one sequence by the tiled kernel (tests turn it off to check the others)
  k.attnTileBuilt = new Set(attnTileShaders({ ...opts, subgroups }));
  return k;
}

const F = (...i) => new Set(i); // indices of f32 fields in a uniform block

// f32 -> f16 bits, round to nearest even (as kite_f32_to_f16), and back.
const f32b = new Float32Array(1), u32b = new Uint32Array(f32b.buffer);
export function f32ToF16(v) {
  f32b[0] = v;
  const x = u32b[0], sign = (x >>> 16) & 0x8000, e = (x >>> 23) & 0xff, m = x & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const ee = e - 127 + 15;
  if (ee >= 0x1f) return sign | 0x7c00;
  if (ee <= 0) {
    if (ee < -10) return sign;
    const mm = m | 0x800000, shift = 14 - ee, half = 1 << (shift - 1);
    let h = mm >>> shift;
    const rest = mm & ((1 << shift) - 1);
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (ee << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return sign | h;
}
export function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// ggml's GELU table (kite__gelu_ggml): for every f16 value h, the tanh approximation
// 0.5 h (1 + tanh(sqrt(2/pi) h (1 + 0.044715 h^2))) with the same f32 roundings as the C (the
// tanh in double, rounded once), rounded to f16; 65536 f16 packed in pairs (low half first).
export function geluTable() {
  const f = Math.fround, t = new Uint16Array(65536);
  const c1 = f(0.79788456080286535587989211986876), c2 = f(0.044715);
  for (let i = 0; i < 65536; i++) {
    const h = f16ToF32(i);
    if (!Number.isFinite(h)) { t[i] = i; continue; }
    const inner = f(f(c1 * h) * f(1 + f(f(c2 * h) * h)));
    t[i] = f32ToF16(f(f(0.5 * h) * f(1 + f(Math.tanh(inner)))));
  }
  return new Uint32Array(t.buffer);
}

export class Kernels {
  constructor(gpu) {
    this.gpu = gpu;
    this.subgroups = false; // the GEMV and the row reductions use subgroups (createKernels sets it)
    this.gemvRows = gemvRows(0); // rows per GEMV workgroup
    this.perWorkgroup = 1;
    this.attnSubgroups = false;
    this.attnTiled = false;
    this.attnTileBuilt = new Set(); // the tiled attention's `pairs` compiled
    this.f16 = false; // the shader-f16 variants are in use (createKernels sets it)
    this.keys = new Map(); // a pipeline key -> the key of the variant that replaces it (kernelSpecs' f16)
  }

  // The pipeline to dispatch for the kernel `key`: its shader-f16 variant where one was built.
  #key(key) {
    return this.keys.get(key) ?? key;
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

  // A gate and an up matrix (f rows each of `cols` elements of `type`, their GGUF bytes) as
  // one weight for matmul's epi 'glu' (rows interleaved: gluRows); .glu = f.
  weightGlu(type, f, cols, gateBytes, upBytes, label) {
    const t = typeName(type), rb = rowBytes(t, cols);
    const w = this.gpu.tensor(2 * f, rb, gluRows(gateBytes, upBytes, f, rb), label ?? `${t} gate|up`, 4);
    w.type = t;
    w.cols = cols;
    w.glu = f;
    return w;
  }

  // y[t * yStride + r] = sum_c W[r][c] * x[t * xStride + c] for ntok tokens: the GEMV for one
  // token, the tiled GEMM for more. yStride defaults to W.rows, xStride to W.cols.
  // epi 'add': y[...] += the sum instead (a residual add fused in: y + sum, as the add op);
  // 'bias': y[...] = the sum + bias[r] (bias: a buffer of W.rows floats; as the bias op);
  // 'glu' (W from weightGlu): y[t * yStride + r] = silu(gate row r . x) * (up row r . x) for
  // r < W.glu (yStride defaults to W.glu), as matmuls of gate and up and then the SwiGLU op;
  // 'geglu' likewise with the GeGLU op's gelu (ggml's table).
  matmul(rec, W, x, y, { ntok = 1, xOff = 0, yOff = 0, xStride = W.cols, yStride, epi, bias } = {}) {
    const e = { add: EPI_ADD, glu: EPI_GLU, geglu: EPI_GEGLU, bias: EPI_BIAS }[epi] ?? 0;
    if (epi && !e) throw new Error(`WebGPU: unknown matmul epilogue ${epi}`);
    const gated = e === EPI_GLU || e === EPI_GEGLU;
    if (gated !== !!W.glu) throw new Error('WebGPU: the glu and geglu epilogues are for (and only for) a weightGlu weight');
    if ((e === EPI_BIAS) !== !!bias) throw new Error('WebGPU: a bias is for (and only for) the bias epilogue');
    yStride ??= W.glu ?? W.rows;
    const ep = e === EPI_GEGLU ? this.#geluTable() : bias ?? this.#dummy();
    for (const p of W.pieces) {
      const u = rec.uniform([p.rows, W.cols, W.rowBytes, p.row0, ntok, xOff, yOff, yStride, xStride, 0, 0, 0, 0, 0, this.gemvRows, e]);
      if (ntok === 1) {
        rec.dispatch(this.#key(`gemv_${W.type}`), [p.buffer, x, y, u, this.#dummy(), ep, ...this.#grids(W.type)], Math.ceil(p.rows / this.gemvRows));
      } else {
        rec.dispatch(this.#key(`gemm_${W.type}`), [p.buffer, x, y, u, this.#dummy(), ep, ...this.#grids(W.type)], [Math.ceil(p.rows / GEMM_BM), Math.ceil(ntok / GEMM_BN), 1]);
      }
    }
  }

  // The matmuls of routed experts (see MM_ID in wgsl_matmul.js): W holds nExpert matrices of
  // eRows rows each (expert e's from row e * eRows). With `slots` (a count, the decode path):
  // slot s multiplies X row s / xDiv by the matrix of expert ids[s] into Y row s (GEMV per
  // slot). With `batch` (the largest batch of one expert): each expert e multiplies the X rows
  // of its batch (ids from MOE_GROUP: count at ids[e], slots at ids[nExpert + e * lStride ..])
  // as one tiled GEMM. Rows xStride / yStride floats apart (default: W.cols / eRows).
  matmulId(rec, W, x, y, ids, { nExpert, eRows, xDiv = 1, slots, batch, lStride = batch, xOff = 0, yOff = 0, xStride = W.cols, yStride = eRows }) {
    if (W.rows !== nExpert * eRows) throw new Error(`WebGPU: ${W.rows} rows are not ${nExpert} experts of ${eRows}`);
    for (const p of W.pieces) {
      const u = rec.uniform([p.rows, W.cols, W.rowBytes, p.row0, 0, xOff, yOff, yStride, xStride, 1, eRows, xDiv, nExpert, lStride ?? 0, this.gemvRows]);
      if (slots) {
        rec.dispatch(this.#key(`gemv_${W.type}`), [p.buffer, x, y, u, ids, this.#dummy(), ...this.#grids(W.type)], [Math.ceil(eRows / this.gemvRows), slots, 1]);
      } else {
        rec.dispatch(this.#key(`gemm_${W.type}`), [p.buffer, x, y, u, ids, this.#dummy(), ...this.#grids(W.type)], [Math.ceil(eRows / GEMM_BM), Math.ceil(batch / GEMM_BN), nExpert]);
      }
    }
  }

  // Routing of nTok tokens (rows of nExpert router logits in `logits`, lStride apart from
  // lOff): softmax, top k, renormalised weights: ids (i32) and weights (f32), k per token.
  moeRoute(rec, logits, ids, weights, { nTok, nExpert, k, lOff = 0, lStride = nExpert }) {
    if (nExpert > MAX_EXPERTS || k > Math.min(64, nExpert)) throw new Error(`WebGPU: ${nExpert} experts, ${k} used is beyond the router kernel (${MAX_EXPERTS}, 64)`);
    rec.dispatch('moe_route', [logits, ids, weights, rec.uniform([nTok, nExpert, k, lOff, lStride])], nTok);
  }

  // The batch of every expert from the routing ids of nTok tokens (k each) into `list`
  // (nExpert counts, then lStride slots per expert).
  moeGroup(rec, ids, list, { nTok, nExpert, k, lStride }) {
    rec.dispatch('moe_group', [ids, list, rec.uniform([nTok, nExpert, k, lStride])], 1);
  }

  // out row t (width, oStride apart from oOff) = sum_j weights[t k + j] * y row t k + j.
  moeCombine(rec, y, weights, out, { nTok, width, k, oOff = 0, oStride = width }) {
    rec.dispatch('moe_combine', [y, weights, out, rec.uniform([nTok, width, k, oOff, oStride])], Math.ceil((nTok * width) / 64));
  }

  // y[k * yStride + c] = W[ids[k]][c] (decoded) for the nIds row ids (u32) in `ids` from idsOff.
  getRows(rec, W, ids, y, { nIds = 1, idsOff = 0, yOff = 0, yStride = W.cols } = {}) {
    for (const p of W.pieces) {
      const u = rec.uniform([p.rows, W.cols, W.rowBytes, p.row0, nIds, idsOff, yOff, yStride, 0]);
      rec.dispatch(this.#key(`getrows_${W.type}`), [p.buffer, ids, y, u, ...this.#grids(W.type)], Math.ceil((nIds * Math.ceil(W.cols / 32)) / 64));
    }
  }

  // RMS norm of nRows rows of n: y = x / sqrt(mean(x^2) + eps) * w (w: a buffer of n floats);
  // rows xStride / yStride apart. y may be x.
  // heads > 1: nRows tokens of `heads` consecutive runs of n floats, each normed on its own
  // with the same w (per-head q/k norms). add: y += the normed rows instead (x and y distinct:
  // a post-norm and the residual add after it).
  rmsnorm(rec, x, w, y, { n, nRows = 1, eps, xOff = 0, yOff = 0, xStride = n, yStride = n, heads = 1, add = false }) {
    nRows *= heads;
    const per = this.perWorkgroup;
    if (add && x === y) throw new Error('WebGPU: an RMS norm added in place');
    const u = rec.uniform([n, nRows, eps, xOff, yOff, xStride, yStride, heads, per, add ? 1 : 0], F(2));
    if (x === y) rec.dispatch('rmsnorm_inplace', [x, w, u], Math.ceil(nRows / per));
    else rec.dispatch('rmsnorm', [x, w, y, u], Math.ceil(nRows / per));
  }

  // Softmax of nRows rows of n, in place.
  softmax(rec, x, { n, nRows = 1, xOff = 0 }) {
    rec.dispatch('softmax', [x, rec.uniform([n, xOff])], nRows);
  }

  // Elementwise over nRows rows of `width` (rows aStride / bStride / yStride apart):
  // op 'add' (y = a + b), 'swiglu' (silu(a) * b), 'geglu' (ggml's tabulated GELU of a, times b:
  // kite__geglu), 'bias' (y = a + b[c], b one row), 'scale' (y = a * s; b unused), 'softcap'
  // (y = s tanh(a / s): kite__softcap; b unused). y may be a (then aOff and aStride address it;
  // yOff/yStride must equal them).
  elemwise(rec, op, a, b, y, { n, width = n, aOff = 0, bOff = 0, yOff, aStride = width, bStride = width, yStride, s = 0 }) {
    const mode = { add: 0, swiglu: 1, geglu: 2, bias: 3, scale: 4, softcap: 5 }[op];
    if (mode === undefined) throw new Error(`WebGPU: unknown elementwise op ${op}`);
    yOff ??= a === y ? aOff : 0;
    yStride ??= a === y ? aStride : width;
    const u = rec.uniform([n, mode, aOff, bOff, yOff, width, aStride, bStride, yStride, s, Math.fround(1 / s)], F(9, 10));
    const bb = b ?? a;
    if (op === 'geglu') {
      if (a === y) rec.dispatch('geglu_inplace', [y, bb, this.#geluTable(), u], Math.ceil(n / 256));
      else rec.dispatch('geglu', [a, bb, y, this.#geluTable(), u], Math.ceil(n / 256));
    } else if (a === y) rec.dispatch('elemwise_inplace', [y, bb === y ? this.#dummy() : bb, u], Math.ceil(n / 256));
    else rec.dispatch('elemwise', [a, bb, y, u], Math.ceil(n / 256));
  }

  // ggml's GELU table (geluTable), uploaded at its first use.
  #geluTable() {
    this.gelu ??= this.gpu.buffer(65536 * 2, geluTable(), 'gelu table');
    return this.gelu;
  }

  // A small buffer to bind where an op reads nothing (WebGPU binds every declared binding).
  #dummy() {
    this.dummyBuffer ??= this.gpu.buffer(16);
    return this.dummyBuffer;
  }

  // The extra binding of a type's weight kernels: the IQ grids (uploaded once) for the grid
  // formats, none for the others.
  #grids(type) {
    if (!GRID_TYPES.includes(type)) return [];
    this.gridBuffer ??= this.gpu.buffer(GRID_WORDS * 4, iqGrids(), 'iq grids');
    return [this.gridBuffer];
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

  // rope of x (nHead heads) and x2 (nHead2 heads) of the same tokens and table in one
  // dispatch (a layer's q and k); x2 from x2Off, rows x2Stride apart. x and x2 distinct buffers.
  rope2(rec, x, x2, cs, { nTok, nHead, nHead2, headDim, nRot, neox = false, xOff = 0, x2Off = 0, csOff = 0, xStride = nHead * headDim, x2Stride = nHead2 * headDim }) {
    if (x === x2) throw new Error('WebGPU: rope2 of one buffer (rope its heads as one tensor)');
    const u = rec.uniform([nTok, nHead, headDim, nRot, neox ? 1 : 0, xOff, csOff, xStride, nHead2, x2Off, x2Stride]);
    rec.dispatch('rope2', [x, cs, u, x2], Math.ceil((nTok * (nHead + nHead2) * nRot) / 2 / 64));
  }

  // rope2 with each head RMS-normed first (ropeNormWgsl): x's nHead heads with the weights w
  // (headDim floats; null: not normed), x2's nHead2 heads with w2 (x2 null: k in x itself,
  // from x2Off, as in a fused q|k|v row). nRot 0: the norms alone.
  ropeNorm(rec, x, x2, cs, w, w2, { nTok, nHead, nHead2, headDim, nRot, neox = false, eps, xOff = 0, x2Off = 0, csOff = 0, xStride = nHead * headDim, x2Stride = nHead2 * headDim }) {
    if (x === x2) throw new Error('WebGPU: ropeNorm of one buffer as two (x2 null)');
    const per = this.subgroups ? this.perWorkgroup : 1, rows = nTok * (nHead + nHead2);
    const u = rec.uniform([nTok, nHead, headDim, nRot, neox ? 1 : 0, xOff, csOff, xStride, nHead2, x2Off, x2Stride, eps,
      w ? 1 : 0, w2 ? 1 : 0, x2 ? 0 : 1, per], F(11));
    const d = this.#dummy();
    rec.dispatch('rope_norm', [x, cs, u, x2 ?? this.#dummy2(), w ?? d, w2 ?? d], Math.ceil(rows / per));
  }

  // A second small buffer: a writable binding's stand-in beside the dummy in another binding.
  #dummy2() {
    this.dummyBuffer2 ??= this.gpu.buffer(16);
    return this.dummyBuffer2;
  }

  // Writes nTok rows of `width` f32 values (from srcOff) into the cache (from element cOff),
  // token t at row seq[t] * nCtx + pos[t] (pos, seq: i32 buffers read from metaOff; seq null:
  // sequence 0), rounded to f16; kind 'f32' or 'f16' (packed pairs: width, offsets even).
  kvWrite(rec, kind, src, cache, pos, seq, { nTok, width, nCtx, srcOff = 0, metaOff = 0, cOff = 0, srcStride = width }) {
    if (kind === 'f16' && (width % 2 || srcOff % 2 || cOff % 2 || srcStride % 2)) throw new Error('WebGPU: a packed f16 cache needs even widths and offsets');
    const n = kind === 'f16' ? (nTok * width) / 2 : nTok * width;
    const u = rec.uniform([nTok, width, nCtx, srcOff, metaOff, seq ? 1 : 0, cOff, srcStride]);
    rec.dispatch(this.#key(`kvwrite_${kind}`), [src, cache, pos, seq ?? pos, u], Math.ceil(n / 64));
  }

  // kvWrite of a layer's K (src into cache) and V (src2 into cache2, from src2Off, rows
  // src2Stride apart) in one dispatch; the other arguments as kvWrite's, shared.
  kvWrite2(rec, kind, src, cache, src2, cache2, pos, seq, { nTok, width, nCtx, srcOff = 0, metaOff = 0, cOff = 0, srcStride = width, src2Off = 0, src2Stride = width }) {
    if (kind === 'f16' && (width % 2 || srcOff % 2 || cOff % 2 || srcStride % 2 || src2Off % 2 || src2Stride % 2)) throw new Error('WebGPU: a packed f16 cache needs even widths and offsets');
    const n = kind === 'f16' ? (nTok * width) / 2 : nTok * width;
    const u = rec.uniform([nTok, width, nCtx, srcOff, metaOff, seq ? 1 : 0, cOff, srcStride, src2Off, src2Stride]);
    rec.dispatch(this.#key(`kvwrite2_${kind}`), [src, cache, pos, seq ?? pos, u, src2, cache2], Math.ceil((2 * n) / 64));
  }

  // Causal GQA attention of nTok query tokens (see attentionWgsl): token t of sequence seq[t]
  // at position pos[t] over cache rows seq[t] * nCtx + 0..pos[t] (kvStride values apart, from
  // element cOff).
  // window > 0: only the keys at positions > pos - window (sliding window); softcap > 0: the
  // scores become softcap * tanh(q.k * scale / softcap) (gemma2), else q.k * scale.
  // Several tokens of one sequence (seq null) with heads of at most ATTN_TILE_MAX_DIM (its
  // shader built: kernelSpecs' headDims; with subgroups, heads of ATTN_TILE_MIN_DIM_SG and
  // more): the tiled kernel (attentionTiledWgsl); else one token and head per subgroup where the device
  // has subgroups and the head fits, or per workgroup.
  attention(rec, kind, q, k, v, out, pos, seq, { nTok, nHead, nKvHead, headDim, nCtx, kvStride = nKvHead * headDim, scale, qOff = 0, oOff = 0, metaOff = 0, cOff = 0, qStride = nHead * headDim, oStride = nHead * headDim, window = 0, softcap = 0 }) {
    if (headDim > 512 || nHead % nKvHead) throw new Error('WebGPU: attention needs head_dim <= 512 and n_head a multiple of n_kv_head');
    const sc = softcap > 0 ? Math.fround(Math.fround(scale) / Math.fround(softcap)) : scale;
    const u = rec.uniform([nTok, nHead, nKvHead, headDim, nCtx, kvStride, sc, qOff, oOff, metaOff, seq ? 1 : 0, cOff, qStride, oStride, window, softcap], F(6, 15));
    const pairs = attnTilePairs(headDim);
    const sgFits = this.attnSubgroups && headDim <= ATTN_SG_DIMS * this.gpu.subgroupSize;
    if (this.attnTiled && nTok > 1 && !seq && this.attnTileBuilt.has(pairs) && !(sgFits && headDim < ATTN_TILE_MIN_DIM_SG) &&
      headDim % 2 === 0 && kvStride % 2 === 0 && cOff % 2 === 0) {
      rec.dispatch(this.#key(`attn_tile${pairs}_${kind}`), [q, k, v, out, pos, u], [Math.ceil(nTok / ATTN_TILE_Q), nHead, 1]);
    } else if (sgFits) {
      const per = this.perWorkgroup;
      rec.dispatch(this.#key(`attn_sg_${kind}`), [q, k, v, out, pos, seq ?? pos, u, rec.uniform([per])], Math.ceil((nTok * nHead) / per));
    } else rec.dispatch(this.#key(`attn_${kind}`), [q, k, v, out, pos, seq ?? pos, u], nTok * nHead);
  }
}
