// backend.js - the JavaScript half of the WebGPU backend of src/model/backend.h: one method per
// op of the seam's table, called from the C half (src/model/backend_webgpu.c) through the
// imports of wasm/library_kite_webgpu.js with plain numbers (wasm pointers, sizes, view
// fields). Ops record dispatches into the step's Recorder; end() submits the step as one
// command stream with one read-back (the logits) and returns at once; settle() resolves when
// the logits are in wasm memory. See README.md for the design.
//
// Pointers: `memory()` returns the wasm memory's current ArrayBuffer (it changes when the
// heap grows); weights and host floats are copied to the GPU once, keyed by their pointer
// (the model's bytes do not move while it is loaded).
import { GpuError } from './device.js';
import { rowBytes } from './types.js';

// kite_act (backend.h)
export const ACT = { X: 0, XN: 1, QKV: 2, Q: 3, K: 4, V: 5, ATT: 6, FF: 7, FF2: 8, OUT: 9, COUNT: 10 };
// kite_status (kite_base.h)
const KITE_OK = 0, KITE_ERR_INVALID = 1, KITE_ERR_NOMEM = 3, KITE_ERR_UNSUPPORTED = 4;
export const ROPE_SLOTS = 4;
// Gathers in one step, each with its own row list (queue writes all land before the step runs).
export const GATHER_SLOTS = 8;
// Attentions in one step for some of its tokens (rows given), each with its own positions
// (and sequences) after the step's in the positions buffer.
export const ATTN_ROW_SLOTS = 2;

export class WebGpuBackend {
  // kernels: a Kernels (kernels.js) with every type's pipelines; memory: () => ArrayBuffer.
  // cfg: { nCtx (positions per sequence), nSeq, nBatch, actWidths (ACT.COUNT floats per row, 0 = unused), kvDim, layerFirst,
  // layerLast, nRot, kv: 'f16' | 'f32' }.
  constructor(kernels, memory, cfg) {
    this.k = kernels;
    this.gpu = kernels.gpu;
    this.memory = memory;
    this.cfg = { kv: 'f16', nSeq: 1, ...cfg };
    this.error = null; // the step's first failure: { status, message }
    this.weights = new Map(); // pointer -> GpuTensor
    this.cats = new Map(); // first pointer -> GpuTensor of matrices one after another (weightCat)
    this.host = new Map(); // pointer -> GPUBuffer of host floats (norm weights, biases)
    this.pending = null; // the submitted step's promise
    const g = this.gpu, c = this.cfg;
    this.acts = c.actWidths.map((w, i) => (w && i !== ACT.OUT ? g.buffer(c.nBatch * w * 4, null, `act ${i}`) : null));
    const kvBytes = c.nSeq * c.nCtx * c.kvDim * (c.kv === 'f16' ? 2 : 4);
    this.kCache = [], this.vCache = [];
    for (let l = c.layerFirst; l < c.layerLast; l++) {
      this.kCache.push(g.buffer(kvBytes, null, `k cache ${l}`));
      this.vCache.push(g.buffer(kvBytes, null, `v cache ${l}`));
    }
    this.pos = g.buffer((1 + ATTN_ROW_SLOTS) * c.nBatch * 4, null, 'positions'); // the step's, then ATTN_ROW_SLOTS
    this.ids = g.buffer(c.nBatch * 4, null, 'token ids');
    this.rows = g.buffer(GATHER_SLOTS * c.nBatch * 4, null, 'gathered rows');
    this.cs = g.buffer(ROPE_SLOTS * c.nBatch * Math.max(c.nRot, 2) * 4, null, 'rope tables');
    this.out = null; // { buffer, ptr, rows, width }
  }

  // A failure of an op: kept (the first one) and returned by end().
  fail(status, message) {
    this.error ??= { status, message };
    return status;
  }

  // Runs fn, turning an exception into the step's failure.
  #guard(what, fn) {
    if (this.error) return;
    try {
      fn();
    } catch (e) {
      const status = e instanceof GpuError && e.code === 'too-large' ? KITE_ERR_NOMEM : e instanceof GpuError ? KITE_ERR_UNSUPPORTED : KITE_ERR_INVALID;
      this.fail(status, `webgpu ${what}: ${e.message}`);
    }
  }

  // A weight made at create by make() (a GpuTensor from the wasm heap's bytes) under key in
  // map, once. Returns a kite_status (a failure: the step's first, as fail records it).
  #upload(map, key, make) {
    if (map.has(key)) return KITE_OK;
    try {
      map.set(key, make(this.memory()));
      return KITE_OK;
    } catch (e) {
      return this.fail(e instanceof GpuError && e.code === 'too-large' ? KITE_ERR_NOMEM : KITE_ERR_UNSUPPORTED, `webgpu weight: ${e.message}`);
    }
  }

  // Uploads a weight at create (its GGUF bytes at ptr). Returns a kite_status.
  weight(ptr, type, nIn, nOut) {
    return this.#upload(this.weights, ptr, (mem) => this.k.weight(type, nOut, nIn, new Uint8Array(mem, ptr, nOut * rowBytes(type, nIn))));
  }

  // Uploads matrices of one type and input width (GGUF bytes at ptrs, nOuts rows each; a
  // layer's q, k, v) at create as one weight of their rows one after another, keyed by the
  // first pointer (apart from the plain weights), for matmul's cat. Returns a kite_status.
  weightCat(type, nIn, ptrs, nOuts) {
    return this.#upload(this.cats, ptrs[0], (mem) => {
      const rb = rowBytes(type, nIn), rows = nOuts.reduce((a, b) => a + b, 0);
      const bytes = new Uint8Array(rows * rb);
      for (let i = 0, r = 0; i < ptrs.length; r += nOuts[i], i++) bytes.set(new Uint8Array(mem, ptrs[i], nOuts[i] * rb), r * rb);
      return this.k.weight(type, rows, nIn, bytes);
    });
  }

  // Uploads a layer's gate and up matrices (f rows each, GGUF bytes at gatePtr and upPtr) at
  // create as one weight (Kernels.weightGlu) keyed by gatePtr, for matmul's epi 2. Returns a
  // kite_status.
  weightGlu(gatePtr, upPtr, type, nIn, f) {
    return this.#upload(this.weights, gatePtr, (mem) => {
      const rb = rowBytes(type, nIn);
      return this.k.weightGlu(type, f, nIn, new Uint8Array(mem, gatePtr, f * rb), new Uint8Array(mem, upPtr, f * rb));
    });
  }

  // n host floats at ptr as a GPU buffer, uploaded on first use.
  #hostFloats(ptr, n) {
    let b = this.host.get(ptr);
    if (!b) {
      b = this.gpu.buffer(n * 4, new Float32Array(this.memory(), ptr, n), 'host floats');
      this.host.set(ptr, b);
    }
    return b;
  }

  #act(a) {
    const b = a === ACT.OUT ? this.out?.buffer : this.acts[a];
    if (!b) throw new Error(`activation ${a} is not allocated on this backend`);
    return b;
  }

  // ---- step ------------------------------------------------------------------------------
  // Starts a step of n tokens: positions (and sequences, when seqPtr) as i32 at posPtr.
  // A failure here (a lost device) becomes the step's failure: no exception crosses into wasm.
  begin(n, posPtr, seqPtr) {
    this.error = null;
    this.n = n;
    this.rec = null;
    this.ropeSlots = 0;
    this.gathers = 0;
    this.attnRows = 0;
    this.#guard('begin', () => {
      this.rec = this.gpu.recorder();
      const pos = new Int32Array(this.memory(), posPtr, n).slice();
      this.gpu.write(this.pos, 0, pos);
      this.stepPos = pos;
      this.stepSeq = null;
      this.hasSeq = !!seqPtr;
      this.oneSeq = 0; // the step's one sequence, or -1 when it mixes sequences
      if (seqPtr) {
        const seq = new Int32Array(this.memory(), seqPtr, n).slice();
        this.seq ??= this.gpu.buffer((1 + ATTN_ROW_SLOTS) * this.cfg.nBatch * 4, null, 'sequences');
        this.gpu.write(this.seq, 0, seq);
        this.stepSeq = seq;
        this.oneSeq = seq.every((s) => s === seq[0]) ? seq[0] : -1;
      }
    });
  }

  // Submits the step; returns a kite_status at once. settle() awaits the GPU.
  end() {
    const rec = this.rec;
    this.rec = null;
    if (this.error) return this.error.status;
    const out = this.out;
    this.out = null;
    if (out) rec.read(out.buffer, 0, out.rows * out.width * 4);
    this.pending = rec.submit().then((bytes) => {
      if (out) new Float32Array(this.memory(), out.ptr, out.rows * out.width).set(new Float32Array(bytes));
    });
    return KITE_OK;
  }

  // Resolves when the last submitted step is done and its logits are in wasm memory; rejects
  // with the GpuError of a lost device or failed step.
  async settle() {
    const p = this.pending;
    this.pending = null;
    await p;
  }

  write(act, off, stride, n, width, hostPtr) {
    this.#guard('write', () => {
      const host = new Float32Array(this.memory(), hostPtr, n * width);
      const b = this.#act(act);
      if (stride === width) this.gpu.write(b, off * 4, host.slice());
      else for (let t = 0; t < n; t++) this.gpu.write(b, (off + t * stride) * 4, host.slice(t * width, (t + 1) * width));
    });
  }

  // Activation rows back to the host within a step would need a synchronous read: the WebGPU
  // backend runs the last layers and the output head, so the seam never asks for it.
  read() {
    this.fail(KITE_ERR_UNSUPPORTED, 'webgpu: reading activations back within a step is not supported (the WebGPU backend must run the output head)');
  }

  bindOutput(ptr, rows, width) {
    this.#guard('output', () => {
      const bytes = rows * width * 4;
      if (!this.outBuffer || this.outBuffer.size < bytes) {
        this.outBuffer?.destroy();
        this.outBuffer = this.gpu.buffer(bytes, null, 'logits');
      }
      this.out = { buffer: this.outBuffer, ptr, rows, width };
    });
  }

  // ---- ops ---------------------------------------------------------------------------------
  embed(wPtr, tokensPtr, n, act, off, stride) {
    this.#guard('embed', () => {
      this.gpu.write(this.ids, 0, new Uint32Array(this.memory(), tokensPtr, n).slice());
      const W = this.weights.get(wPtr);
      this.k.getRows(this.rec, W, this.ids, this.#act(act), { nIds: n, yOff: off, yStride: stride });
    });
  }

  // epi: 0 y = W x; 1 y += W x (the residual add fused in); 2 y = SwiGLU of a weightGlu
  // weight's gate and up products; 3 GeGLU of them; 4 y = W x + bias (W's rows of host floats
  // at biasPtr). yStride: floats between y rows (0: the weight's rows). cat: W is the
  // weightCat keyed by wPtr.
  matmul(wPtr, xAct, xOff, n, yAct, yOff, yStride = 0, epi = 0, cat = 0, biasPtr = 0) {
    this.#guard('matmul', () => {
      const W = (cat ? this.cats : this.weights).get(wPtr);
      if (!W) throw new Error('a weight that was not uploaded at create');
      if (xAct === yAct) throw new Error('a matmul within one activation');
      const bias = epi === 4 ? this.#hostFloats(biasPtr, W.rows) : undefined;
      this.k.matmul(this.rec, W, this.#act(xAct), this.#act(yAct),
        { ntok: n, xOff, yOff, yStride: yStride || undefined, epi: [undefined, 'add', 'glu', 'geglu', 'bias'][epi], bias });
    });
  }

  // dst = the RMS norm of src (add: dst += it; the two in distinct activations).
  rmsnorm(dAct, dOff, dStride, sAct, sOff, sStride, wPtr, n, width, eps, add = 0) {
    this.#guard('rmsnorm', () => {
      const dst = this.#act(dAct), src = this.#act(sAct);
      if (dst === src && (add || dOff !== sOff || dStride !== sStride)) throw new Error('rmsnorm between two views of one activation');
      this.k.rmsnorm(this.rec, src, this.#hostFloats(wPtr, width), dst,
        { n: width, nRows: n, eps, xOff: sOff, yOff: dOff, xStride: sStride, yStride: dStride, add: !!add });
    });
  }

  add(dAct, dOff, dStride, sAct, sOff, sStride, n, width) {
    this.#guard('add', () => {
      if (dAct === sAct) throw new Error('add of two views of one activation');
      const d = this.#act(dAct);
      this.k.elemwise(this.rec, 'add', d, this.#act(sAct), d, { n: n * width, width, aOff: dOff, aStride: dStride, bOff: sOff, bStride: sStride });
    });
  }

  addBias(dAct, dOff, dStride, biasPtr, n, width) {
    this.#guard('add_bias', () => {
      const d = this.#act(dAct);
      this.k.elemwise(this.rec, 'bias', d, this.#hostFloats(biasPtr, width), d, { n: n * width, width, aOff: dOff, aStride: dStride });
    });
  }

  scale(act, off, stride, n, width, s) {
    this.#guard('scale', () => {
      const x = this.#act(act);
      this.k.elemwise(this.rec, 'scale', x, null, x, { n: n * width, width, aOff: off, aStride: stride, s });
    });
  }

  swiglu(dAct, dOff, dStride, gAct, gOff, gStride, uAct, uOff, uStride, n, width) {
    this.#guard('swiglu', () => {
      const d = this.#act(dAct), g = this.#act(gAct), u = this.#act(uAct);
      if (d === g && (dOff !== gOff || dStride !== gStride)) throw new Error('swiglu into another view of the gate');
      if (d === u) throw new Error('swiglu into the up activation');
      this.k.elemwise(this.rec, 'swiglu', g, u, d,
        { n: n * width, width, aOff: gOff, aStride: gStride, bOff: uOff, bStride: uStride, yOff: dOff, yStride: dStride });
    });
  }

  gather(dAct, dOff, dStride, sAct, sOff, sStride, rowsPtr, n, width) {
    this.#guard('gather', () => {
      if (this.gathers >= GATHER_SLOTS) throw new Error(`more than ${GATHER_SLOTS} gathers in one step`);
      const idsOff = this.gathers++ * this.cfg.nBatch;
      this.gpu.write(this.rows, idsOff * 4, new Int32Array(this.memory(), rowsPtr, n).slice());
      this.k.gather(this.rec, this.#act(sAct), this.#act(dAct), this.rows,
        { n, width, srcOff: sOff, srcStride: sStride, dstOff: dOff, dstStride: dStride, idsOff });
    });
  }

  // dst = gelu(gate) * up (ggml's tabulated GELU); dst may be the gate.
  geglu(dAct, dOff, dStride, gAct, gOff, gStride, uAct, uOff, uStride, n, width) {
    this.#guard('geglu', () => {
      const d = this.#act(dAct), g = this.#act(gAct), u = this.#act(uAct);
      if (d === g && (dOff !== gOff || dStride !== gStride)) throw new Error('geglu into another view of the gate');
      if (d === u) throw new Error('geglu into the up activation');
      this.k.elemwise(this.rec, 'geglu', g, u, d,
        { n: n * width, width, aOff: gOff, aStride: gStride, bOff: uOff, bStride: uStride, yOff: dOff, yStride: dStride });
    });
  }

  // x = cap * tanh(x / cap) over n rows of width.
  softcap(act, off, stride, n, width, cap) {
    this.#guard('softcap', () => {
      const x = this.#act(act);
      this.k.elemwise(this.rec, 'softcap', x, null, x, { n: n * width, width, aOff: off, aStride: stride, s: cap });
    });
  }

  // RMS norm of each of nHeads heads (headDim floats) of n rows in place, weights (headDim
  // host floats at wPtr) shared by the heads.
  rmsnormHeads(act, off, stride, n, nHeads, headDim, wPtr, eps) {
    this.#guard('rmsnorm_heads', () => {
      const x = this.#act(act);
      this.k.rmsnorm(this.rec, x, this.#hostFloats(wPtr, headDim), x,
        { n: headDim, nRows: n, heads: nHeads, eps, xOff: off, yOff: off, xStride: stride, yStride: stride });
    });
  }

  // Routed experts (backend.h's moe): out rows (nEmbd) = for each of n tokens the weighted sum
  // of its k experts' SwiGLU FFNs of x. Router logits by the router weight, routing on the
  // GPU; one token: a GEMV per (token, expert) slot; more: each expert's batch of tokens as one
  // tiled GEMM. The expert weights were uploaded as nExpert * rows matrices. x and out: rows
  // nEmbd apart (out may be x).
  moe(gateInpPtr, gatePtr, upPtr, downPtr, nExpert, k, nFf, xAct, xOff, oAct, oOff, n) {
    this.#guard('moe', () => {
      const Wr = this.weights.get(gateInpPtr), Wg = this.weights.get(gatePtr), Wu = this.weights.get(upPtr), Wd = this.weights.get(downPtr);
      if (!Wr || !Wg || !Wu || !Wd) throw new Error('an expert weight that was not uploaded at create');
      const E = Wr.cols, nb = this.cfg.nBatch, rec = this.rec, kk = this.k;
      let m = this.moeBufs;
      if (!m || m.nExpert < nExpert || m.k < k || m.nFf < nFf || m.E < E) {
        if (m) for (const b of Object.values(m)) if (b instanceof GPUBuffer) b.destroy();
        const g = this.gpu;
        m = this.moeBufs = {
          nExpert, k, nFf, E,
          logits: g.buffer(nb * nExpert * 4, null, 'moe logits'),
          ids: g.buffer(nb * k * 4, null, 'moe ids'),
          wts: g.buffer(nb * k * 4, null, 'moe weights'),
          list: g.buffer((nExpert + nExpert * nb) * 4, null, 'moe batches'),
          g: g.buffer(nb * k * nFf * 4, null, 'moe gate'),
          u: g.buffer(nb * k * nFf * 4, null, 'moe up'),
          y: g.buffer(nb * k * E * 4, null, 'moe down'),
        };
      }
      const x = this.#act(xAct), out = this.#act(oAct);
      kk.matmul(rec, Wr, x, m.logits, { ntok: n, xOff, yOff: 0, xStride: E, yStride: nExpert });
      kk.moeRoute(rec, m.logits, m.ids, m.wts, { nTok: n, nExpert, k });
      const slots = n * k;
      const mm = (W, src, dst, eRows, xDiv, xStride) => {
        const o = { nExpert, eRows, xDiv, xStride, yStride: eRows, xOff: src === x ? xOff : 0 };
        if (n === 1) kk.matmulId(rec, W, src, dst, m.ids, { ...o, slots });
        else kk.matmulId(rec, W, src, dst, m.list, { ...o, batch: n, lStride: nb });
      };
      if (n > 1) kk.moeGroup(rec, m.ids, m.list, { nTok: n, nExpert, k, lStride: nb });
      mm(Wg, x, m.g, nFf, k, E);
      mm(Wu, x, m.u, nFf, k, E);
      kk.elemwise(rec, 'swiglu', m.g, m.u, m.g, { n: slots * nFf });
      mm(Wd, m.g, m.y, E, 1, nFf);
      kk.moeCombine(rec, m.y, m.wts, out, { nTok: n, width: E, k, oOff, oStride: E });
    });
  }

  // The C half computes the step's cos/sin table with kite__rope_cache (the CPU's bits) and
  // passes it once per distinct rope per step: slot < ROPE_SLOTS.
  ropeTable(slot, csPtr, n, nRot) {
    this.#guard('rope table', () => {
      if (slot >= ROPE_SLOTS) throw new Error(`more than ${ROPE_SLOTS} distinct ropes in one step`);
      this.gpu.write(this.cs, slot * this.cfg.nBatch * this.cfg.nRot * 4, new Float32Array(this.memory(), csPtr, n * nRot).slice());
    });
  }

  rope(act, off, stride, n, nHeads, headDim, nRot, neox, slot) {
    this.#guard('rope', () => {
      this.k.rope(this.rec, this.#act(act), this.cs,
        { nTok: n, nHead: nHeads, headDim, nRot, neox: !!neox, xOff: off, xStride: stride, csOff: slot * this.cfg.nBatch * this.cfg.nRot });
    });
  }

  // rope of a layer's q (nHead heads) and k (nHeadKv heads) rows of the step's tokens with
  // one table: one dispatch (rope2; one buffer: one rope over both where k's heads follow q's
  // in each row, as in a fused q|k|v, else two). qNormPtr / kNormPtr (headDim host floats, or
  // 0): each head of q / k RMS-normed (eps) before its rotation, in the same dispatch
  // (ropeNorm); nRot 0: the norms alone. nHead or nHeadKv 0: the other alone (rows: the
  // table in slot is made for them).
  ropeQk(qAct, qOff, qStride, kAct, kOff, kStride, n, nHead, nHeadKv, headDim, nRot, neox, slot, qNormPtr = 0, kNormPtr = 0, eps = 0) {
    this.#guard('rope', () => {
      const c = this.cfg, csOff = slot * c.nBatch * c.nRot, q = this.#act(qAct), k = this.#act(kAct), nx = !!neox;
      if (qNormPtr || kNormPtr) {
        const wq = qNormPtr ? this.#hostFloats(qNormPtr, headDim) : null, wk = kNormPtr ? this.#hostFloats(kNormPtr, headDim) : null;
        this.k.ropeNorm(this.rec, q, q === k ? null : k, this.cs, wq, wk,
          { nTok: n, nHead, nHead2: nHeadKv, headDim, nRot, neox: nx, eps, xOff: qOff, xStride: qStride, x2Off: kOff, x2Stride: kStride, csOff });
      } else if (!nHead || !nHeadKv) { // one of them alone
        const [x, off, stride, heads] = nHead ? [q, qOff, qStride, nHead] : [k, kOff, kStride, nHeadKv];
        this.k.rope(this.rec, x, this.cs, { nTok: n, nHead: heads, headDim, nRot, neox: nx, xOff: off, xStride: stride, csOff });
      } else if (q !== k) {
        this.k.rope2(this.rec, q, k, this.cs,
          { nTok: n, nHead, nHead2: nHeadKv, headDim, nRot, neox: nx, xOff: qOff, xStride: qStride, x2Off: kOff, x2Stride: kStride, csOff });
      } else if (kOff === qOff + nHead * headDim && kStride === qStride) {
        this.k.rope(this.rec, q, this.cs, { nTok: n, nHead: nHead + nHeadKv, headDim, nRot, neox: nx, xOff: qOff, xStride: qStride, csOff });
      } else {
        this.k.rope(this.rec, k, this.cs, { nTok: n, nHead: nHeadKv, headDim, nRot, neox: nx, xOff: kOff, xStride: kStride, csOff });
        this.k.rope(this.rec, q, this.cs, { nTok: n, nHead, headDim, nRot, neox: nx, xOff: qOff, xStride: qStride, csOff });
      }
    });
  }

  kvStore(layer, kAct, kOff, kStride, vAct, vOff, vStride, n) {
    this.#guard('kv_store', () => {
      const l = layer - this.cfg.layerFirst, c = this.cfg;
      const seq = this.hasSeq ? this.seq : null;
      // K and V in one dispatch (the two sources are read-only bindings: they may be one buffer)
      this.k.kvWrite2(this.rec, c.kv, this.#act(kAct), this.kCache[l], this.#act(vAct), this.vCache[l], this.pos, seq,
        { nTok: n, width: c.kvDim, nCtx: c.nCtx, srcOff: kOff, srcStride: kStride, src2Off: vOff, src2Stride: vStride });
    });
  }

  // rowsPtr: n i32, the step's token of each query row (their positions and sequences are
  // written after the step's, at metaOff), or 0 (row t is token t). window: sliding window
  // (0 = none); softcap: scores soft-capped (0 = off). Queries of one sequence go as sequence 0
  // of the cache from that sequence's rows (no sequence buffer: the tiled kernel takes it).
  attention(layer, qAct, qOff, qStride, oAct, oOff, oStride, n, rowsPtr, nHead, nHeadKv, headDim, scale, window = 0, softcap = 0) {
    this.#guard('attention', () => {
      const l = layer - this.cfg.layerFirst, c = this.cfg;
      let oneSeq = this.oneSeq, metaOff = 0;
      if (rowsPtr) {
        if (this.attnRows >= ATTN_ROW_SLOTS) throw new Error(`more than ${ATTN_ROW_SLOTS} attentions for some rows in one step`);
        metaOff = ++this.attnRows * c.nBatch;
        const rows = new Int32Array(this.memory(), rowsPtr, n).slice();
        this.gpu.write(this.pos, metaOff * 4, rows.map((r) => this.stepPos[r]));
        if (this.stepSeq) {
          const seq = rows.map((r) => this.stepSeq[r]);
          this.gpu.write(this.seq, metaOff * 4, seq);
          oneSeq = seq.every((s) => s === seq[0]) ? seq[0] : -1;
        }
      }
      const one = oneSeq >= 0, cOff = one ? oneSeq * c.nCtx * c.kvDim : 0;
      this.k.attention(this.rec, c.kv, this.#act(qAct), this.kCache[l], this.vCache[l], this.#act(oAct), this.pos, one ? null : this.seq,
        { nTok: n, nHead, nKvHead: nHeadKv, headDim, nCtx: c.nCtx, scale, qOff, oOff, qStride, oStride, window, softcap, cOff, metaOff });
    });
  }

  // The step's failure message (for kite__fail on the C side), or ''.
  errorMessage() {
    return this.error?.message ?? '';
  }

  // Everything this backend holds on the GPU: GpuTensors (weights) and GPUBuffers.
  #held() {
    const moe = this.moeBufs ? Object.values(this.moeBufs).filter((b) => b instanceof GPUBuffer) : [];
    return [...this.weights.values(), ...this.cats.values(), ...this.host.values(), ...this.acts, ...this.kCache,
      ...this.vCache, this.pos, this.ids, this.rows, this.cs, this.seq, this.outBuffer, ...moe].filter(Boolean);
  }

  // Bytes of GPU memory this backend holds now (weights, KV cache, activations, ...).
  get gpuBytes() {
    return this.#held().reduce((sum, b) => sum + (b.pieces ? b.pieces.reduce((s, p) => s + p.buffer.size, 0) : b.size), 0);
  }

  destroy() {
    for (const b of this.#held()) b.destroy();
  }
}
