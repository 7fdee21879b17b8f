// webgpu.test.mjs - the WebGPU kernels (web/webgpu/) in headless Chromium with
// --enable-unsafe-webgpu, against the C core: build/native/webgpu_ref (tests/unit/webgpu_ref.c)
// writes inputs and the CPU reference outputs at test time; the page runs every kernel on them.
//  - decoding (get-rows) of all 25 block types (and MXFP4 rows starting at odd bytes):
//    bit-exact with the C _ref dequantizer;
//  - GEMV (1 token; with subgroup reductions where the adapter has subgroups, and again on a
//    device requested without them) and the tiled GEMM (37 and 100 tokens) per type, against
//    the f64 dot of the C-decoded
//    rows with the input, within gamma(depth) * sum |w_i x_i| where depth is the longest chain
//    of f32 roundings the kernel's summation order allows (the standard bound for summation);
//  - the matmuls' fused epilogues (the residual add, y += W x; a bias, y = W x + b; SwiGLU and
//    GeGLU of a gate|up weight uploaded as interleaved row pairs) on every device and type
//    above, within the same bounds plus the add's or SwiGLU's own rounding (GeGLU: between the
//    C's kite__gelu_ggml values over the gate dot's error interval);
//  - weights split across buffers (a device whose bindings are capped at 4 KiB and at 1 MiB);
//  - RMS norm (also per head, and added to a residual), softmax, SwiGLU, GeGLU (bit-exact),
//    soft-capping, add, RoPE (the table on the GPU and the rotation, also of q and k in one
//    dispatch, also with their per-head RMS norms first), the KV-cache
//    write (f16 rounding, exact) and causal GQA attention over f32 and packed-f16 caches
//    (also with a sliding window and soft-capped scores), against src/model/ops.c and
//    kernels/attend_ref.c, within the tolerances stated at each check;
//  - routed experts (router, top-k, expert batches, weighted sum), in one piece and split.
//  - shader-f16 (where the device has it, kernels.f16): the F16 GEMV, GEMM and get-rows read
//    F16 rows as f16 storage (get-rows bit-exact, subnormal halves included), the F16 GEMV and
//    GEMM round x to f16 (over halves: the f32 bound; over random x: plus the rounding's), the f16
//    KV cache is written and read as f16 storage; f16 rounding's edge cases (ties, subnormals,
//    overflow: kite_f32_to_f16's bits) through both caches on every device.
// Skips with a message where the browser has no WebGPU adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium, newPageAt } from './chromium.mjs';
import { repoRoot } from './helpers.mjs';
import { nodeWebGpuAdapter } from './webgpu_node.mjs';
import { serve } from '../../web/serve.mjs';

const REF_BIN = process.env.KITE_WEBGPU_REF || join(repoRoot, 'build/native/webgpu_ref');
// KITE_WEBGPU_ONLY=weights,split,backend,ops,moe runs only those sections (while working on a kernel).
const ONLY = process.env.KITE_WEBGPU_ONLY?.split(',');

// Runs in the page (or in Node with a WebGPU implementation on globalThis.navigator.gpu; root:
// the repository's file: URL): every check, returning [{ name, ok, detail }] or { skip }.
// types: the weight fixtures whose GEMV/GEMM run (null: all). features: the optional features
// to request for the main device (createGpu's; default: all it asks for).
async function kernelChecks({ base, only, root = '', types = null, features }) {
  const want = (section) => !only || only.includes(section);
  const { createGpu } = await import(root + '/web/webgpu/device.js');
  const { createKernels, f32ToF16, f16ToF32 } = await import(root + '/web/webgpu/kernels.js');
  const get = async (name, T = Float32Array) => {
    const r = await fetch(base + name);
    if (!r.ok) throw new Error(`fixture ${name}: HTTP ${r.status}`);
    return new T(await r.arrayBuffer());
  };
  let gpu;
  try {
    gpu = await createGpu(features ? { features } : {});
  } catch (e) {
    if (e.code === 'no-webgpu' || e.code === 'no-adapter') return { skip: e.message };
    throw e;
  }
  const out = [];
  const check = (name, ok, detail) => out.push({ name, ok: !!ok, detail });
  let rng = 12345;
  const rand = () => {
    rng ^= rng << 13; rng ^= rng >>> 17; rng ^= rng << 5;
    return (rng >>> 0) / 2 ** 31 - 1;
  };
  const randArr = (n, s = 1) => Float32Array.from({ length: n }, () => rand() * s);
  const u = 2 ** -24; // unit roundoff of f32
  const gamma = (n) => (n * u) / (1 - n * u);

  // Runs fn(rec) in one recorder and reads `n` floats (or u32) of `buf` back.
  const run = async (g, buf, n, fn, T = Float32Array) => {
    const rec = g.recorder();
    fn(rec);
    rec.read(buf, 0, n * 4);
    return new T(await rec.submit());
  };
  const sameBits = (a, b) => {
    const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
    let bad = 0, first = -1;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) { bad++; if (first < 0) first = i; }
    return { bad, first, got: first >= 0 ? a[first] : 0, want: first >= 0 ? b[first] : 0 };
  };
  // |got - want| <= tol(i) for every i: worst ratio error/tol reported
  const within = (got, want, tol) => {
    let worst = 0, at = -1, maxErr = 0;
    for (let i = 0; i < want.length; i++) {
      const e = Math.abs(got[i] - want[i]);
      if (!(e <= tol(i))) return { ok: false, at: i, got: got[i], want: want[i], tol: tol(i) };
      maxErr = Math.max(maxErr, e);
      const r = e / tol(i);
      if (r > worst) { worst = r; at = i; }
    }
    return { ok: true, maxErr, worstRatio: Number(worst.toFixed(3)) };
  };
  // The GEMV's longest chain of f32 roundings (wgsl_matmul.js): 32 products summed in a unit,
  // then the unit sums of one thread (units t, t + lanes, ...), then the lanes' sums: with
  // subgroups a subgroup of `size` lanes per row and subgroupAdd (at most size - 1 additions:
  // its order is the implementation's), else 64 threads and a log2(64)-level tree; plus the
  // product's own rounding. With subgroups, float rows that start on a 32-bit word go by
  // words: a lane adds one (F32) or two (F16, BF16: their sum first) products per word, of
  // ceil(words / size) words.
  const gemvDepth = (g, k, type, cols) => {
    const lanes = k.subgroups ? g.subgroupSize : 64;
    const bytes = { f32: 4, f16: 2, bf16: 2 }[type];
    if (k.subgroups && bytes && (cols * bytes) % 4 === 0) {
      return Math.ceil((cols * bytes) / 4 / lanes) + (bytes === 2 ? 1 : 0) + (lanes - 1) + 1;
    }
    return 32 + Math.ceil(Math.ceil(cols / 32) / lanes) + (k.subgroups ? lanes - 1 : 6) + 1;
  };
  // f64 reference of W x for token t, the sum of |terms| (the error bound's scale) and of |w|
  const refDot = (dq, cols, r, x, xo) => {
    let s = 0, a = 0, aw = 0;
    for (let c = 0; c < cols; c++) { const p = dq[r * cols + c] * x[xo + c]; s += p; a += Math.abs(p); aw += Math.abs(dq[r * cols + c]); }
    return [s, a, aw];
  };
  // The shader-f16 GEMV and GEMM of F16 weights (k.f16) round the activations to f16 first (as
  // llama.cpp's CPU does): each x moves by at most 2^-11 |x| (normal halves) or 2^-25 (their
  // subnormal range), so the dot by at most 2^-11 sum |wx| + 2^-25 sum |w|; 1.01 covers the
  // gamma bound's growth with the moved x. 0 for the kernels that keep f32 activations.
  const xRound = (k, type) => (k.f16 && type === 'f16' ? ([, a, aw]) => 1.01 * (2 ** -11 * a + 2 ** -25 * aw) : () => 0);
  // n values that are halves (so the f16 GEMM's rounding of x leaves them as they are): random
  // signs, 10-bit mantissas and exponents 2^-5 .. 2^1, built from their fields
  const randHalves = (n) => Float32Array.from({ length: n }, () => {
    const bits = Math.floor((rand() + 1) * 2 ** 30);
    return (bits & 1 ? -1 : 1) * (1 + ((bits >>> 1) & 1023) / 1024) * 2 ** (((bits >>> 11) % 7) - 5);
  });

  // The fused epilogues of the GEMV (nt 1) or GEMM (nt tokens) of manifest weight w on device
  // g (kernels.js matmul's epi), against the f64 reference of the C-decoded rows:
  //  - 'add' (y += W x, the residual add): over random y0, within gamma(depth + 1) * (|y0| +
  //    sum |wx|) (the add is one more rounding in the chain);
  //  - 'glu' (a weightGlu of rows 0..33 as gate and 34..67 as up: 17 quads of interleaved rows,
  //    a partial GEMV workgroup and GEMM tile): silu(g) * u, within the propagated error of the
  //    two dots (|silu'| <= 1.1) plus the SwiGLU op's own 4e-6 relative. Unwritten outputs stay
  //    NaN and fail. Skipped where 4 rows exceed a binding (the pieces hold whole quads);
  //  - 'geglu' (the same weight): gelu(g) * u with ggml's tabulated GELU (at g rounded to f16):
  //    between the least and the largest of kite__gelu_ggml (gelu_tab.bin: the C's value at
  //    every f16) over the gate dot's error interval [g - dg, g + dg] (both ends and every f16
  //    in it) times the up dot's [u - du, u + du], plus the product's rounding;
  //  - 'bias' (y = W x + b): within gamma(depth + 1) * (|b| + sum |wx|).
  // The C's GELU of v (kite__gelu_ggml): 0 at or below -10, v from 10 on, else its table at
  // v rounded to f16.
  const geluC = (v) => (v <= -10 ? 0 : v >= 10 ? v : geluTab[f32ToF16(v)]);
  // the least and largest geluC over [lo, hi]: its ends and every f16 value between them
  const geluRange = (lo, hi) => {
    let mn = Math.min(geluC(lo), geluC(hi)), mx = Math.max(geluC(lo), geluC(hi));
    const ord = (h) => (h & 0x8000 ? -(h & 0x7fff) : h), unord = (o) => (o < 0 ? 0x8000 | -o : o);
    for (let o = ord(f32ToF16(Math.max(lo, -10))); o <= ord(f32ToF16(Math.min(hi, 10))); o++) {
      const v = geluC(f16ToF32(unord(o)));
      mn = Math.min(mn, v), mx = Math.max(mx, v);
    }
    return [mn, mx];
  };
  async function fusedChecks(g, k, tag, w, name, nt) {
    const depth = nt === 1 ? gemvDepth(g, k, w.type, w.cols) : w.cols + 1, gv = gamma(depth);
    const kind = nt === 1 ? 'GEMV' : `GEMM x ${nt} tokens`;
    const xr = xRound(k, w.type), xrTag = k.f16 && w.type === 'f16' ? ' (f16 activations: + their rounding)' : '';
    const X = randArr(nt * w.cols, 2);
    const XBuf = g.buffer(X.byteLength, X);
    const W = k.weight(w.type, w.rows, w.cols, w.q, w.file);
    const Y0 = randArr(nt * w.rows, 4);
    const YBuf = g.buffer(Y0.byteLength, Y0);
    const Y = await run(g, YBuf, nt * w.rows, (rec) => k.matmul(rec, W, XBuf, YBuf, { ntok: nt, epi: 'add' }));
    const refs = [];
    for (let t = 0; t < nt; t++) {
      for (let r = 0; r < w.rows; r++) {
        const dd = refDot(w.dq, w.cols, r, X, t * w.cols), [d, a] = dd, y0 = Y0[t * w.rows + r];
        refs.push([y0 + d, a + Math.abs(y0), xr(dd)]);
      }
    }
    const ga = gamma(depth + 1);
    check(`${tag}${kind} ${name} + residual (epi add, ${W.pieces.length} piece${W.pieces.length > 1 ? 's' : ''}) within gamma(${depth + 1})*(|y0|+sum|wx|)${xrTag}`,
      ...((r) => [r.ok, r])(within(Y, refs.map((v) => v[0]), (i) => ga * refs[i][1] + refs[i][2] + 1e-30)));
    W.destroy(), YBuf.destroy();
    const f = 34, rb = w.rowBytes;
    if (4 * rb <= g.maxBindingBytes) {
      const G = k.weightGlu(w.type, f, w.cols, w.q.subarray(0, f * rb), w.q.subarray(f * rb, 2 * f * rb));
      const GBuf = g.buffer(nt * f * 4, new Float32Array(nt * f).fill(NaN));
      const got = await run(g, GBuf, nt * f, (rec) => k.matmul(rec, G, XBuf, GBuf, { ntok: nt, epi: 'glu' }));
      const want = [], tol = [];
      for (let t = 0; t < nt; t++) {
        for (let p = 0; p < f; p++) {
          const gdd = refDot(w.dq, w.cols, p, X, t * w.cols), udd = refDot(w.dq, w.cols, f + p, X, t * w.cols), [gd, ga2] = gdd, [ud, ua] = udd;
          const sg = gd / (1 + Math.exp(-gd)), dg = gv * ga2 + xr(gdd), du = gv * ua + xr(udd), y = sg * ud;
          want.push(y);
          tol.push(1.1 * dg * (Math.abs(ud) + du) + (Math.abs(sg) + 1.1 * dg) * du + 4e-6 * Math.abs(y) + 1e-30);
        }
      }
      check(`${tag}${kind} ${name} gate|up SwiGLU (epi glu, ${G.pieces.length} piece${G.pieces.length > 1 ? 's' : ''}) within the dots' error and 4e-6${xrTag}`,
        ...((r) => [r.ok, r])(within(got, want, (i) => tol[i])));
      g.device.queue.writeBuffer(GBuf, 0, new Float32Array(nt * f).fill(NaN));
      const gotGe = await run(g, GBuf, nt * f, (rec) => k.matmul(rec, G, XBuf, GBuf, { ntok: nt, epi: 'geglu' }));
      const mid = [], half = [];
      for (let t = 0; t < nt; t++) {
        for (let p = 0; p < f; p++) {
          const gdd = refDot(w.dq, w.cols, p, X, t * w.cols), udd = refDot(w.dq, w.cols, f + p, X, t * w.cols), [gd, ga2] = gdd, [ud, ua] = udd;
          const dg = gv * ga2 + xr(gdd), [g0, g1] = geluRange(gd - dg, gd + dg), du = gv * ua + xr(udd);
          const ys = [g0 * (ud - du), g0 * (ud + du), g1 * (ud - du), g1 * (ud + du)];
          const lo = Math.min(...ys), hi = Math.max(...ys);
          mid.push((lo + hi) / 2), half.push((hi - lo) / 2 + u * Math.max(Math.abs(lo), Math.abs(hi)) + 1e-30);
        }
      }
      check(`${tag}${kind} ${name} gate|up GeGLU (epi geglu) within kite__gelu_ggml over the dots' error intervals${xrTag}`,
        ...((r) => [r.ok, r])(within(gotGe, mid, (i) => half[i])));
      G.destroy(), GBuf.destroy();
    }
    {
      const b = randArr(w.rows, 3), bBuf = g.buffer(b.byteLength, b);
      const YBuf = g.buffer(nt * w.rows * 4, new Float32Array(nt * w.rows).fill(NaN));
      const Wb = k.weight(w.type, w.rows, w.cols, w.q, w.file);
      const Y = await run(g, YBuf, nt * w.rows, (rec) => k.matmul(rec, Wb, XBuf, YBuf, { ntok: nt, epi: 'bias', bias: bBuf }));
      const want = [], tol = [], gb = gamma(depth + 1);
      for (let t = 0; t < nt; t++) {
        for (let r = 0; r < w.rows; r++) {
          const dd = refDot(w.dq, w.cols, r, X, t * w.cols), [d, a] = dd;
          want.push(d + b[r]), tol.push(gb * (a + Math.abs(b[r])) + xr(dd) + 1e-30);
        }
      }
      check(`${tag}${kind} ${name} + bias (epi bias, ${Wb.pieces.length} piece${Wb.pieces.length > 1 ? 's' : ''}) within gamma(${depth + 1})*(|b|+sum|wx|)${xrTag}`,
        ...((r) => [r.ok, r])(within(Y, want, (i) => tol[i])));
      Wb.destroy(), YBuf.destroy(), bBuf.destroy();
    }
    XBuf.destroy();
  }

  const t0 = performance.now();
  // the types of the weight fixtures checked (`types`: their names less a _<cols> tail of 2+ digits) and
  // those the backend and MoE checks use
  const kTypes = ['f32', 'q4_0', 'q8_0', ...(want('weights') || want('backend') ? types?.map((f) => f.replace(/_\d\d+$/, '')) ?? [] : [])];
  const kernels = await createKernels(gpu, (want('weights') || want('backend')) && !types ? {} : { types: [...new Set(kTypes)] });
  const compileMs = Math.round(performance.now() - t0);
  const manifest = await (await fetch(base + 'manifest.json')).json();
  const geluTab = await get('gelu_tab.bin');
  const weights = [];
  for (const w of manifest.weights) weights.push({ ...w, q: await get(`q_${w.file}.bin`, Uint8Array), dq: await get(`dq_${w.file}.bin`) });

  // Decoding, GEMV and GEMM of each type on device g (maxBindingBytes there splits weights).
  // gemvOnly: the GEMV alone (get-rows and GEMM do not depend on the device's features).
  async function weightChecks(g, k, tag, types, { gemvOnly = false } = {}) {
    for (const w of weights.filter((x) => !types || types.includes(x.file))) {
      const W = k.weight(w.type, w.rows, w.cols, w.q, w.file);
      const name = w.file === w.type ? w.type : `${w.type} (rows of ${w.cols})`;
      const pieces = W.pieces.length;
      if (!gemvOnly) {
        // get-rows: every row, in reverse order, twice over
        const ids = Uint32Array.from({ length: 2 * w.rows }, (_, i) => w.rows - 1 - (i % w.rows));
        const idsBuf = g.buffer(ids.byteLength, ids);
        const rowsBuf = g.buffer(ids.length * w.cols * 4);
        const got = await run(g, rowsBuf, ids.length * w.cols, (rec) => k.getRows(rec, W, idsBuf, rowsBuf, { nIds: ids.length }));
        const want = new Float32Array(ids.length * w.cols);
        ids.forEach((id, i) => want.set(w.dq.subarray(id * w.cols, (id + 1) * w.cols), i * w.cols));
        const sb = sameBits(got, want);
        check(`${tag}get-rows ${name} (${pieces} piece${pieces > 1 ? 's' : ''}) bit-exact with the C _ref`, sb.bad === 0, sb);
        idsBuf.destroy(), rowsBuf.destroy();
      }

      const units = Math.ceil(w.cols / 32);
      const x = randArr(w.cols, 2);
      const xBuf = g.buffer(x.byteLength, x), yBuf = g.buffer(w.rows * 4);
      const y = await run(g, yBuf, w.rows, (rec) => k.matmul(rec, W, xBuf, yBuf));
      const ref = Array.from({ length: w.rows }, (_, r) => refDot(w.dq, w.cols, r, x, 0));
      const depth = gemvDepth(g, k, w.type, w.cols);
      const gv = gamma(depth), xr = xRound(k, w.type);
      check(`${tag}GEMV ${name} ${k.subgroups ? '(subgroups) ' : ''}within gamma(${depth})*sum|wx|${k.f16 && w.type === 'f16' ? ' (f16: + the rounding of x to f16)' : ''}`,
        ...((r) => [r.ok, r])(within(y, ref.map((v) => v[0]), (i) => gv * ref[i][1] + xr(ref[i]) + 1e-30)));
      if (k.f16 && w.type === 'f16') { // over halves: the f32 bound as it is
        const xh = randHalves(w.cols);
        g.write(xBuf, 0, xh);
        const yh = await run(g, yBuf, w.rows, (rec) => k.matmul(rec, W, xBuf, yBuf));
        const refH = Array.from({ length: w.rows }, (_, r) => refDot(w.dq, w.cols, r, xh, 0));
        check(`${tag}GEMV ${name} ${k.subgroups ? '(subgroups) ' : ''}within gamma(${depth})*sum|wx| (f16, x already halves)`,
          ...((r) => [r.ok, r])(within(yh, refH.map((v) => v[0]), (i) => gv * refH[i][1] + 1e-30)));
      }

      xBuf.destroy(), yBuf.destroy();
      await fusedChecks(g, k, tag, w, name, 1);
      if (gemvOnly) {
        W.destroy();
        continue;
      }

      // GEMM: the tiled GEMM (64 rows x 64 tokens a workgroup) over 37 tokens (a partial token
      // tile) and 100 (a full tile and a partial one); each output is one sum over the row in
      // order: depth cols + 1
      // (the shader-f16 GEMM of F16 weights rounds x to f16, as the GEMV: over halves, the f32 bound as it
      // is; over random x, plus the rounding's, xRound)
      const h16 = k.f16 && w.type === 'f16';
      for (const [nt, halves] of [[37, false], [100, false], ...(h16 ? [[37, true]] : [])]) {
        const X = halves ? randHalves(nt * w.cols) : randArr(nt * w.cols, 2);
        const XBuf = g.buffer(X.byteLength, X), YBuf = g.buffer(nt * w.rows * 4);
        const refs = [], xr = halves ? () => 0 : xRound(k, w.type);
        for (let t = 0; t < nt; t++) for (let r = 0; r < w.rows; r++) refs.push(refDot(w.dq, w.cols, r, X, t * w.cols));
        g.device.queue.writeBuffer(YBuf, 0, new Float32Array(nt * w.rows).fill(NaN)); // an output left unwritten fails
        const Y = await run(g, YBuf, nt * w.rows, (rec) => k.matmul(rec, W, XBuf, YBuf, { ntok: nt }));
        const depth = w.cols + 1;
        const gm = gamma(depth);
        const how = halves ? ' (f16 tiles, x already halves)' : h16 ? ' (f16 tiles: + the rounding of x to f16)' : '';
        check(`${tag}GEMM ${name} x ${nt} tokens within gamma(${depth})*sum|wx|${how}`,
          ...((r) => [r.ok, r])(within(Y, refs.map((v) => v[0]), (i) => gm * refs[i][1] + xr(refs[i]) + 1e-30)));
        XBuf.destroy(), YBuf.destroy();
        if (halves) continue;
        if (nt === 37) await fusedChecks(g, k, tag, w, name, nt);
      }
      W.destroy();
    }
  }
  const guarded = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      check(`${name} ran`, false, String(e?.stack || e));
    }
  };
  if (want('weights')) await guarded('weights', () => weightChecks(gpu, kernels, '', types));
  // Subgroups: used by the GEMV where the adapter has them (and they pass the layout probe);
  // a device requested without the feature takes the shared-memory path (every type's GEMV
  // again; get-rows and GEMM are the same shaders on both devices).
  if (want('weights')) {
    check('subgroups: the GEMV uses them exactly when the device has them in the assumed layout',
      kernels.subgroups === (gpu.subgroupSize > 0) && (gpu.subgroupSize > 0) === gpu.features.has('subgroups'),
      { features: [...gpu.features], subgroupSize: gpu.subgroupSize, kernels: kernels.subgroups });
    const f16Keys = [...kernels.keys.keys()].sort();
    check('shader-f16: its variants (F16 GEMV, GEMM, get-rows; the f16 KV cache\'s write and attention) replace the f32 forms exactly when the device has the feature',
      kernels.f16 === gpu.features.has('shader-f16') && (kernels.f16 ? ['gemv_f16', 'gemm_f16', 'getrows_f16', 'kvwrite_f16', 'kvwrite2_f16', 'attn_f16'].every((key) => f16Keys.includes(key)) : f16Keys.length === 0),
      { features: [...gpu.features], f16: kernels.f16, variants: f16Keys });
    await guarded('no subgroups', async () => {
      const plain = await createGpu({ features: [] });
      const plainK = await createKernels(plain, { kv: [], weightKernels: ['gemv'] });
      check('a device requested without subgroups has none and a GEMV without them',
        !plain.features.has('subgroups') && plain.subgroupSize === 0 && !plainK.subgroups, { features: [...plain.features] });
      await weightChecks(plain, plainK, '[no subgroups] ', types, { gemvOnly: true });
      plain.destroy();
    });
  }

  // Split weights: bindings capped at 4 KiB (every type in several pieces) ...
  if (want('split')) await guarded('split weights', async () => {
    const small = await createGpu({ maxBindingBytes: 4096 });
    // (with a grid format, and MXFP4 rows of an odd byte count)
    const split = ['f32', 'f16', 'q4_0', 'q5_1', 'q8_0', 'q3_K', 'q6_K', 'iq4_xs', 'iq2_s', 'f16_172', 'mxfp4_800'];
    const smallK = await createKernels(small, { types: split.filter((t) => !/_(172|800)$/.test(t)).concat('mxfp4'), kv: [] });
    await weightChecks(small, smallK, '[4 KiB bindings] ', split);
    small.destroy();
  });
  // ... and a 1.6 MB F32 weight on a device requested with a 1 MiB binding limit
  if (want('split')) {
    const g = await createGpu({ maxBindingBytes: 1 << 20 });
    const k = await createKernels(g, { types: ['f32'], kv: [] });
    const rows = 400, cols = 1024;
    const w = randArr(rows * cols);
    const W = k.weight('f32', rows, cols, w);
    const x = randArr(cols, 2);
    const xBuf = g.buffer(x.byteLength, x), yBuf = g.buffer(rows * 4);
    const y = await run(g, yBuf, rows, (rec) => k.matmul(rec, W, xBuf, yBuf));
    const ref = Array.from({ length: rows }, (_, r) => refDot(w, cols, r, x, 0));
    const gv = gamma(gemvDepth(g, k, 'f32', cols));
    const r = within(y, ref.map((v) => v[0]), (i) => gv * ref[i][1]);
    check(`[1 MiB limit: device says ${g.limits.maxStorageBufferBindingSize}] GEMV of a ${rows * cols * 4}-byte F32 weight in ${W.pieces.length} pieces`,
      r.ok && W.pieces.length === 2 && W.pieces.every((p) => p.bytes <= 1 << 20), { ...r, pieces: W.pieces.map((p) => p.bytes) });
    let tooBig = null;
    try {
      g.tensor(1, (1 << 20) + 4, null, 'one huge row');
    } catch (e) {
      tooBig = e;
    }
    check('a row larger than a binding is refused with GpuError too-large', tooBig?.code === 'too-large', tooBig?.message);
    g.destroy();
  }

  // The JS half of the backend (backend.js) driven as the C half drives it, over a fake wasm
  // heap: write the residual, RMS norm into XN, a Q8_0 matmul into the logits (bound host rows),
  // end() and settle(): the logits land in the heap, against the f64 reference of the same.
  if (want('backend')) await guarded('backend', async () => {
    const { WebGpuBackend, ACT } = await import(root + '/web/webgpu/backend.js');
    const w = weights.find((x) => x.type === 'q8_0');
    const E = w.cols, V = w.rows, n = 3;
    const heap = new ArrayBuffer(1 << 20);
    const at = { w: 1024, norm: 1024 + w.q.length + 64, x: 200000, out: 300000, pos: 400000 };
    new Uint8Array(heap, at.w, w.q.length).set(w.q);
    const norm = randArr(E, 1.5), x = randArr(n * E, 3);
    at.norm -= at.norm % 4;
    new Float32Array(heap, at.norm, E).set(norm);
    new Float32Array(heap, at.x, n * E).set(x);
    new Int32Array(heap, at.pos, n).set([0, 1, 2]);
    const widths = new Array(ACT.COUNT).fill(0);
    widths[ACT.X] = E, widths[ACT.XN] = E;
    const be = new WebGpuBackend(kernels, () => heap, { nCtx: 16, nBatch: 4, actWidths: widths, kvDim: 64, layerFirst: 0, layerLast: 0, nRot: 0 });
    check('backend: weight uploaded', be.weight(at.w, 8, E, V) === 0, be.errorMessage());
    be.begin(n, at.pos, 0);
    be.write(ACT.X, 0, E, n, E, at.x);
    be.rmsnorm(ACT.XN, 0, E, ACT.X, 0, E, at.norm, n, E, 1e-5);
    be.bindOutput(at.out, n, V);
    be.matmul(at.w, ACT.XN, 0, n, ACT.OUT, 0);
    const st = be.end();
    await be.settle();
    const got = new Float32Array(heap, at.out, n * V);
    const want = [], tol = [];
    for (let t = 0; t < n; t++) {
      let ss = 0;
      for (let c = 0; c < E; c++) ss += x[t * E + c] ** 2;
      const sc = 1 / Math.sqrt(ss / E + 1e-5);
      for (let r = 0; r < V; r++) {
        let d = 0, a = 0;
        for (let c = 0; c < E; c++) { const p = w.dq[r * E + c] * x[t * E + c] * sc * norm[c]; d += p; a += Math.abs(p); }
        want.push(d), tol.push(1e-5 * a);
      }
    }
    const r = within(got, want, (i) => tol[i]);
    check('backend: write, rmsnorm, matmul into bound logits, end, settle (3 tokens, Q8_0)', st === 0 && r.ok, { status: st, err: be.errorMessage(), ...r });
    // an op on an activation this backend lacks fails the step with a message
    be.begin(1, at.pos, 0);
    be.scale(ACT.FF, 0, 10, 1, 10, 2);
    check('backend: a failed op fails end() with its message', be.end() !== 0 && /activation 7/.test(be.errorMessage()), be.errorMessage());
    be.destroy();
  });

  // ---- ops -------------------------------------------------------------------------------
  const k = kernels, g = gpu;
  const buf = (a) => g.buffer(a.byteLength, a);
  if (want('ops')) {
    {
      // RMS norm: f32 sum of squares (the C sums in double): relative error of the scale
      // <= gamma(n) (sum) + a few ulps (sqrt, divisions), then two products: 1e-5 relative.
      const n = 300, rows = 4;
      const x = await get('rms_x.bin'), w = await get('rms_w.bin'), want = await get('rms_y.bin');
      const xb = buf(x), wb = buf(w), yb = g.buffer(n * rows * 4);
      const y = await run(g, yb, n * rows, (rec) => k.rmsnorm(rec, xb, wb, yb, { n, nRows: rows, eps: 1e-5 }));
      const r = within(y, want, (i) => 1e-5 * Math.abs(want[i]) + 1e-30);
      check('RMS norm within 1e-5 relative of kite__rmsnorm', r.ok, r);
      // in place, rows 310 floats apart from float 5 (the seam's views)
      const wide = new Float32Array(5 + rows * 310);
      for (let i = 0; i < rows; i++) wide.set(x.subarray(i * n, (i + 1) * n), 5 + i * 310);
      const wb2 = buf(wide);
      const yw = await run(g, wb2, wide.length, (rec) => k.rmsnorm(rec, wb2, wb, wb2, { n, nRows: rows, eps: 1e-5, xOff: 5, yOff: 5, xStride: 310, yStride: 310 }));
      const yr = new Float32Array(n * rows);
      for (let i = 0; i < rows; i++) yr.set(yw.subarray(5 + i * 310, 5 + i * 310 + n), i * n);
      const r2 = within(yr, want, (i) => 1e-5 * Math.abs(want[i]) + 1e-30);
      check('RMS norm in place on strided rows within 1e-5 relative', r2.ok, r2);
      // added to a residual (gemma's post-norms): y0 + the normed row, within the norm's 1e-5
      // relative and the add's rounding
      const y0 = randArr(n * rows, 4), rb = buf(y0);
      const ya = await run(g, rb, n * rows, (rec) => k.rmsnorm(rec, xb, wb, rb, { n, nRows: rows, eps: 1e-5, add: true }));
      const wantA = want.map((v, i) => y0[i] + v);
      const r3 = within(ya, wantA, (i) => 1e-5 * Math.abs(want[i]) + u * Math.abs(wantA[i]) + 1e-30);
      check('RMS norm added to a residual (rmsnorm add) within 1e-5 relative of kite__rmsnorm plus the add', r3.ok, r3);
    }
    {
      // softmax: WGSL's exp is good to 3 + 2|x| ulp (|x| <= 16 here: 35 ulp, 4.2e-6) plus the
      // f32 sum: 1e-5 relative.
      const n = 1000, rows = 3;
      const x = await get('softmax_x.bin'), want = await get('softmax_y.bin');
      const xb = buf(x);
      const y = await run(g, xb, n * rows, (rec) => k.softmax(rec, xb, { n, nRows: rows }));
      const r = within(y, want, (i) => 1e-5 * want[i] + 1e-30);
      check('softmax within 1e-5 relative of kite__softmax', r.ok, r);
    }
    {
      const n = 1000;
      const gv = await get('glu_g.bin'), uv = await get('glu_u.bin');
      const gb = buf(gv), ub = buf(uv), yb = g.buffer(n * 4);
      // add: one f32 rounding on both sides: exact
      let y = await run(g, yb, n, (rec) => k.elemwise(rec, 'add', gb, ub, yb, { n }));
      let sb = sameBits(y, await get('add_y.bin'));
      check('add bit-exact with kite__add', sb.bad === 0, sb);
      // bias (one row of u added to 10 rows of 100 of g) and scale: one f32 rounding each, exact
      y = await run(g, yb, n, (rec) => k.elemwise(rec, 'bias', gb, ub, yb, { n, width: 100 }));
      sb = sameBits(y, gv.map((v, i) => v + uv[i % 100]));
      check('bias add bit-exact', sb.bad === 0, sb);
      y = await run(g, yb, n, (rec) => k.elemwise(rec, 'scale', gb, null, yb, { n, s: 0.3 }));
      sb = sameBits(y, gv.map((v) => v * Math.fround(0.3)));
      check('scale bit-exact', sb.bad === 0, sb);
      // gather: rows 7, 0, 9, 7 of 10 rows of 100 into rows 120 floats apart from float 3
      const ids = buf(Int32Array.from([7, 0, 9, 7]));
      const gd = g.buffer((3 + 4 * 120) * 4);
      y = await run(g, gd, 3 + 4 * 120, (rec) => k.gather(rec, gb, gd, ids, { n: 4, width: 100, dstOff: 3, dstStride: 120 }));
      const gathered = new Float32Array(400);
      for (let i = 0; i < 4; i++) gathered.set(y.subarray(3 + i * 120, 3 + i * 120 + 100), i * 100);
      const wantG = new Float32Array(400);
      [7, 0, 9, 7].forEach((r, i) => wantG.set(gv.subarray(r * 100, r * 100 + 100), i * 100));
      sb = sameBits(gathered, wantG);
      check('gather bit-exact', sb.bad === 0, sb);
      // SwiGLU: exp (3 + 2*6 ulp) and three f32 operations: 4e-6 relative
      const sw = await get('swiglu_y.bin');
      y = await run(g, yb, n, (rec) => k.elemwise(rec, 'swiglu', gb, ub, yb, { n }));
      let r = within(y, sw, (i) => 4e-6 * Math.abs(sw[i]) + 1e-30);
      check('SwiGLU within 4e-6 relative of kite__swiglu', r.ok, r);
      // in place (y = g)
      const gb2 = buf(gv);
      y = await run(g, gb2, n, (rec) => k.elemwise(rec, 'swiglu', gb2, ub, gb2, { n }));
      r = within(y, sw, (i) => 4e-6 * Math.abs(sw[i]) + 1e-30);
      check('SwiGLU in place within 4e-6 relative', r.ok, r);
    }
    {
      // GeGLU: ggml's GELU table (made in JS with the C's f32 roundings) looked up at the gate
      // rounded to f16, times up: one f32 product, bit-exact with kite__geglu over every finite
      // f16 gate value, 4000 random ones and 2048 between subnormal halves (ties and just above:
      // the rounding there); in place too (dst = gate, the forward pass's call)
      const n = manifest.geglu_n;
      const gv = await get('geglu_g.bin'), uv = await get('geglu_u.bin'), want = await get('geglu_y.bin');
      const gb = buf(gv), ub = buf(uv), yb = g.buffer(n * 4);
      let y = await run(g, yb, n, (rec) => k.elemwise(rec, 'geglu', gb, ub, yb, { n }));
      let sb = sameBits(y, want);
      check(`GeGLU bit-exact with kite__geglu (${n} gates: every finite f16, random, subnormal-range ties)`, sb.bad === 0, sb);
      y = await run(g, gb, n, (rec) => k.elemwise(rec, 'geglu', gb, ub, gb, { n }));
      sb = sameBits(y, want);
      check('GeGLU in place bit-exact', sb.bad === 0, sb);
      // soft-capping: tanh in f32 (a polynomial below 0.25, exp above: a few ulp) against the
      // C's double tanh rounded once, then times the cap: 2e-6 relative
      const sx = await get('softcap_x.bin'), sw = await get('softcap_y.bin');
      const sxb = buf(sx);
      y = await run(g, sxb, sx.length, (rec) => k.elemwise(rec, 'softcap', sxb, null, sxb, { n: sx.length, s: 30 }));
      const r = within(y, sw, (i) => 2e-6 * Math.abs(sw[i]) + 1e-30);
      check('soft-cap (30) within 2e-6 relative of kite__softcap', r.ok, r);
      // per-head RMS norms in place: 3 tokens of 4 heads of 48, rows 200 floats apart from float
      // 9 (q inside a wider row); 1e-5 relative as the RMS norm above
      const hx = await get('rmsh_x.bin'), hw = await get('rmsh_w.bin'), hy = await get('rmsh_y.bin');
      const wide = new Float32Array(9 + 3 * 200);
      for (let t = 0; t < 3; t++) wide.set(hx.subarray(t * 192, (t + 1) * 192), 9 + t * 200);
      const wb = buf(wide), hwb = buf(hw);
      const yw = await run(g, wb, wide.length, (rec) => k.rmsnorm(rec, wb, hwb, wb, { n: 48, nRows: 3, heads: 4, eps: 1e-6, xOff: 9, yOff: 9, xStride: 200, yStride: 200 }));
      const yr = new Float32Array(3 * 192);
      for (let t = 0; t < 3; t++) yr.set(yw.subarray(9 + t * 200, 9 + t * 200 + 192), t * 192);
      const r2 = within(yr, hy, (i) => 1e-5 * Math.abs(hy[i]) + 1e-30);
      const untouched = [0, 9 + 192, 9 + 200 + 192].every((i) => yw[i] === wide[i]);
      check('per-head RMS norms (4 heads of 48, strided rows) within 1e-5 relative of kite__rmsnorm_heads', r2.ok && untouched, { ...r2, untouched });
    }
    {
      // RoPE: 3 tokens (positions 0, 7, 1000) x 4 heads of 64, n_rot 32, base 10000,
      // freq_scale 0.5, attn_factor 1.1, with/without factors, normal/neox.
      const nTok = 3, nHead = 4, headDim = 64, nRot = 32;
      const x = await get('rope_x.bin'), factors = await get('rope_factors.bin'), pos = await get('rope_pos.bin', Int32Array);
      const pb = buf(pos), fb = buf(factors), csb = g.buffer(nTok * nRot * 4);
      const step = Math.fround(Math.pow(10000, Math.fround(-2 / nRot)));
      for (const withF of [0, 1]) {
        const wantCs = await get(`rope_cs${withF}.bin`);
        // the table on the GPU: the angle in f32 as the C computes it, then cos/sin good to
        // ~1 ulp against the C's correctly rounded double ones: 1e-6 absolute (|values| <= 1.1)
        const cs = await run(g, csb, nTok * nRot, (rec) => k.ropeCache(rec, pb, withF ? fb : null, csb,
          { nTok, nRot, step, freqScale: 0.5, attnFactor: 1.1 }));
        const r = within(cs, wantCs, () => 1e-6);
        check(`RoPE table on the GPU (${withF ? 'with' : 'without'} freq factors) within 1e-6 of kite__rope_cache`, r.ok, r);
        for (const neox of [0, 1]) {
          // the rotation with the C table: two products and a sum per value: 2 ulp of the terms
          const want = await get(`rope_y${withF}${neox}.bin`);
          const xb = buf(x), cb = buf(wantCs);
          const y = await run(g, xb, x.length, (rec) => k.rope(rec, xb, cb, { nTok, nHead, headDim, nRot, neox: !!neox }));
          const r2 = within(y, want, (i) => 2.5e-7 * 2.2);
          check(`RoPE ${neox ? 'neox' : 'normal'} (${withF ? 'with' : 'without'} factors) within 5.5e-7 of kite__rope_apply`, r2.ok, r2);
          xb.destroy(), cb.destroy();
          if (withF && neox) {
            // strided: token rows 300 floats apart from float 7 (q inside a fused qkv row)
            const wide = new Float32Array(7 + nTok * 300);
            for (let t = 0; t < nTok; t++) wide.set(x.subarray(t * nHead * headDim, (t + 1) * nHead * headDim), 7 + t * 300);
            const wb = buf(wide), cb2 = buf(wantCs);
            const yw = await run(g, wb, wide.length, (rec) => k.rope(rec, wb, cb2, { nTok, nHead, headDim, nRot, neox: true, xOff: 7, xStride: 300 }));
            const yr = new Float32Array(x.length);
            for (let t = 0; t < nTok; t++) yr.set(yw.subarray(7 + t * 300, 7 + t * 300 + nHead * headDim), t * nHead * headDim);
            const r3 = within(yr, want, () => 5.5e-7);
            check('RoPE neox on strided rows within 5.5e-7', r3.ok, r3);
          }
          {
            // q and k in one dispatch (rope2): q the 4 heads, k the first 2 heads of each token
            // in another buffer (rows 300 floats apart from float 7; the rest untouched)
            const kx = new Float32Array(7 + nTok * 300).fill(5);
            for (let t = 0; t < nTok; t++) kx.set(x.subarray(t * nHead * headDim, t * nHead * headDim + 2 * headDim), 7 + t * 300);
            const qb = buf(x), kb = buf(kx), cb3 = buf(wantCs);
            const rec = g.recorder();
            k.rope2(rec, qb, kb, cb3, { nTok, nHead, nHead2: 2, headDim, nRot, neox: !!neox, x2Off: 7, x2Stride: 300 });
            rec.read(qb, 0, x.length * 4);
            const yq = new Float32Array(await rec.submit());
            const yk = await run(g, kb, kx.length, () => {});
            const gotK = [], wantK = [];
            for (let t = 0; t < nTok; t++) {
              gotK.push(...yk.subarray(7 + t * 300, 7 + t * 300 + 2 * headDim));
              wantK.push(...want.subarray(t * nHead * headDim, t * nHead * headDim + 2 * headDim));
            }
            const rq = within(yq, want, () => 5.5e-7), rk = within(gotK, wantK, () => 5.5e-7);
            const untouched = [0, 6, 7 + 2 * headDim, 7 + 300 - 1, 7 + 300 + 2 * headDim].every((i) => yk[i] === 5);
            check(`RoPE of q and k in one dispatch (rope2, ${neox ? 'neox' : 'normal'}) within 5.5e-7 of kite__rope_apply`, rq.ok && rk.ok && untouched, { q: rq, k: rk, untouched });
            qb.destroy(), kb.destroy(), cb3.destroy();
          }
          if (withF) await ropeNormChecks(neox, want, wantCs);
        }
      }
    }
    {
      // KV write and attention: 8 heads over 2 KV heads of 64, 40 positions, 5 query tokens at
      // positions 35..39, scale 1/8.
      const nHead = 8, nKvHead = 2, headDim = 64, nKv = 40, nTok = 5, pos0 = 35, width = nKvHead * headDim;
      const q = await get('attn_q.bin'), want = await get('attn_out.bin');
      const kraw = await get('attn_kraw.bin'), k16 = await get('attn_k16.bin', Uint16Array), k32 = await get('attn_k32.bin');
      const v16 = await get('attn_v16.bin', Uint16Array), v32 = await get('attn_v32.bin');
      const srcb = buf(kraw);
      const posAll = buf(Int32Array.from({ length: nKv }, (_, i) => i));
      // f32 storage: the values of the f16 rounding, exact
      const c32 = g.buffer(nKv * width * 4);
      let got = await run(g, c32, nKv * width, (rec) => k.kvWrite(rec, 'f32', srcb, c32, posAll, null, { nTok: nKv, width, nCtx: nKv }));
      let sb = sameBits(got, k32);
      check('KV write (f32 cache) rounds to f16 as kite_f32_to_f16', sb.bad === 0, sb);
      // packed f16 pairs, written in two steps' parts (positions 0..19, then 20..39)
      const c16 = g.buffer(nKv * width * 2);
      const rec = g.recorder();
      k.kvWrite(rec, 'f16', srcb, c16, posAll, null, { nTok: 20, width, nCtx: nKv });
      k.kvWrite(rec, 'f16', srcb, c16, posAll, null, { nTok: 20, width, nCtx: nKv, srcOff: 20 * width, metaOff: 20 });
      rec.read(c16, 0, nKv * width * 2);
      const bits = new Uint16Array(await rec.submit());
      const bad16 = bits.reduce((n, b, i) => n + (b !== k16[i]), 0);
      check('KV write (packed f16 cache) gives kite_f32_to_f16 bits', bad16 === 0, { bad: bad16 });
      // K and V in one dispatch (kvWrite2): K from the plain rows, V from rows of 2 x width
      // floats whose second half holds the data (offset width, stride 2 x width; the first half
      // is junk that must not reach the cache), into two caches: both the reference bits
      {
        const wide = new Float32Array(nKv * 2 * width).fill(-7.25);
        for (let t = 0; t < nKv; t++) wide.set(kraw.subarray(t * width, (t + 1) * width), t * 2 * width + width);
        const wb = buf(wide);
        for (const [kind, wantBits] of [['f32', k32], ['f16', k16]]) {
          const size = nKv * width * (kind === 'f32' ? 4 : 2);
          const ca = g.buffer(size), cv = g.buffer(size);
          const r2 = g.recorder();
          k.kvWrite2(r2, kind, srcb, ca, wb, cv, posAll, null, { nTok: nKv, width, nCtx: nKv, src2Off: width, src2Stride: 2 * width });
          r2.read(ca, 0, size);
          const a = await r2.submit();
          const b = await g.read(cv, 0, size);
          const T = kind === 'f32' ? Uint32Array : Uint16Array;
          const want = new T(wantBits.buffer, wantBits.byteOffset, wantBits.length);
          const ga = new T(a), gb = new T(b);
          const bad = want.reduce((n, v, i) => n + (ga[i] !== v) + (gb[i] !== v), 0);
          check(`KV write of K and V in one dispatch (${kind} caches; V from offset, strided rows) gives kite_f32_to_f16 bits`, bad === 0, { bad });
          ca.destroy(), cv.destroy();
        }
        wb.destroy();
      }
      // f16 rounding's edge cases (ties both ways, subnormal halves, overflow; negated too):
      // the bits of kite_f32_to_f16 in both caches, by kvWrite and kvWrite2 (f16 storage where
      // the kernels use shader-f16: f16(round_f16(x)), an exact conversion of the rounded bits)
      {
        const ex = await get('f16_edge_x.bin'), eh = await get('f16_edge_h.bin', Uint16Array), er = await get('f16_edge_r.bin', Uint32Array);
        const ne = ex.length, eb = buf(ex), p0 = buf(Int32Array.from([0]));
        for (const [kind, wantBits, T] of [['f32', er, Uint32Array], ['f16', eh, Uint16Array]]) {
          const size = ne * T.BYTES_PER_ELEMENT, ca = g.buffer(size), cv = g.buffer(size);
          const r2 = g.recorder();
          k.kvWrite(r2, kind, eb, ca, p0, null, { nTok: 1, width: ne, nCtx: 1 });
          r2.read(ca, 0, size);
          const a = new T(await r2.submit());
          g.write(ca, 0, new T(ne)); // (kvWrite2's second cache: zeros first)
          const r3 = g.recorder();
          k.kvWrite2(r3, kind, eb, cv, eb, ca, p0, null, { nTok: 1, width: ne, nCtx: 1 });
          r3.read(cv, 0, size);
          const b = new T(await r3.submit()), c = new T(await g.read(ca, 0, size));
          const bad = [];
          wantBits.forEach((v, i) => { if (a[i] !== v || b[i] !== v || c[i] !== v) bad.push({ x: ex[i], want: v, got: a[i], got2: b[i], got3: c[i] }); });
          check(`KV write (${kind} cache${kind === 'f16' && k.f16 ? ', f16 storage' : ''}) of f16 rounding's edge cases (${ne}: ties, subnormals, overflow) gives kite_f32_to_f16 bits`,
            bad.length === 0, { bad: bad.slice(0, 4), n: bad.length });
          ca.destroy(), cv.destroy();
        }
        eb.destroy(), p0.destroy();
      }
      // attention: f32 throughout, online softmax; outputs are weighted means of |v| <= 1:
      // 1e-5 absolute
      const qb = buf(q), ob = g.buffer(q.length * 4);
      const pos = buf(Int32Array.from({ length: nTok }, (_, t) => pos0 + t));
      // every kernel: the tiled one (several tokens of one sequence: 16 queries a workgroup over
      // chunks of keys in workgroup memory), one subgroup per (token, head) where the device has
      // subgroups, and the workgroup kernel (wider heads, adapters without subgroups)
      const forms = [['tile', ' [tiled kernel]'], ...(kernels.attnSubgroups ? [['sg', ' [subgroup kernel]']] : []), ['wg', ' [workgroup kernel]']];
      for (const [formKey, form] of forms) {
        k.attnTiled = formKey === 'tile';
        k.attnSubgroups = formKey === 'sg';
        for (const [kind, kk, vv] of [['f32', k32, v32], ['f16', k16, v16]]) {
          const kb = buf(kk), vb = buf(vv);
          got = await run(g, ob, q.length, (r) => k.attention(r, kind, qb, kb, vb, ob, pos, null, { nTok, nHead, nKvHead, headDim, nCtx: nKv, scale: 0.125 }));
          const r = within(got, want, () => 1e-5);
          check(`attention${form} (causal, GQA 4, ${kind} cache) within 1e-5 of kite__attend_head_ref (FA_F32)`, r.ok, r);
          // sliding window 16 and scores soft-capped at 2: tanh in f32 adds a few ulp to each
          // score (|score| <= 2): still 1e-5 absolute on the outputs
          const wantCap = await get('attn_swa_cap_out.bin');
          got = await run(g, ob, q.length, (r) => k.attention(r, kind, qb, kb, vb, ob, pos, null, { nTok, nHead, nKvHead, headDim, nCtx: nKv, scale: 0.125, window: 16, softcap: 2 }));
          const rc = within(got, wantCap, () => 1e-5);
          check(`attention${form} with a sliding window (16) and soft-capped scores (2), ${kind} cache, within 1e-5 of kite__attend_head_capped`, rc.ok, rc);
          kb.destroy(), vb.destroy();
        }
        // prompt steps: 40 tokens at positions 0..39 (heads of 64, GQA 4), 37 at 3..39 (heads of
        // 128, the tiled kernel's widest: chunks of 11 keys), 33 at 7..39 (heads of 32) and 40 at
        // 0..39 (heads of 8), from a query row 9 floats into the activation and into one: several
        // query tiles and key chunks
        for (const [name, nh, nkvh, hd, nt, p0] of [['attn_p64', 8, 2, 64, 40, 0], ['attn_p128', 2, 1, 128, 37, 3],
          ['attn_p32', 4, 4, 32, 33, 7], ['attn_p8', 8, 4, 8, 40, 0]]) {
          const pq = await get(`${name}_q.bin`), pout = await get(`${name}_out.bin`), pcap = await get(`${name}_swa_cap_out.bin`);
          const qw = new Float32Array(9 + pq.length);
          qw.set(pq, 9);
          const pqb = buf(qw), pob = g.buffer((5 + pq.length) * 4);
          const ppos = buf(Int32Array.from({ length: nt }, (_, t) => p0 + t));
          for (const kind of ['f32', 'f16']) {
            const kb = buf(await get(`${name}_k${kind.slice(1)}.bin`, kind === 'f32' ? Float32Array : Uint16Array));
            const vb = buf(await get(`${name}_v${kind.slice(1)}.bin`, kind === 'f32' ? Float32Array : Uint16Array));
            for (const [capped, wantP] of [[false, pout], [true, pcap]]) {
              const o = { nTok: nt, nHead: nh, nKvHead: nkvh, headDim: hd, nCtx: 40, scale: 1 / Math.sqrt(hd), qOff: 9, oOff: 5, ...(capped ? { window: 16, softcap: 2 } : {}) };
              const all = await run(g, pob, 5 + pq.length, (r) => k.attention(r, kind, pqb, kb, vb, pob, ppos, null, o));
              const rp = within(all.subarray(5), wantP, () => 1e-5);
              check(`attention${form}, a prompt of ${nt} tokens (heads of ${hd}, ${kind} cache${capped ? ', window 16, soft-capped at 2' : ''}) within 1e-5 of kite__attend_head_${capped ? 'capped' : 'ref'}`, rp.ok, rp);
            }
            kb.destroy(), vb.destroy();
          }
          pqb.destroy(), pob.destroy(), ppos.destroy();
        }
        // two sequences: the cache holds sequence 0 (zeros) then sequence 1 (the data); tokens
        // alternate between them, so sequence 1's tokens must give the reference and sequence 0's
        // the mean of zero values (0)
        {
          const kb = buf(Float32Array.from([...new Float32Array(nKv * width), ...k32]));
          const vb = buf(Float32Array.from([...new Float32Array(nKv * width), ...v32]));
          const seq = buf(Int32Array.from({ length: nTok }, (_, t) => t % 2 ? 0 : 1));
          got = await run(g, ob, q.length, (r) => k.attention(r, 'f32', qb, kb, vb, ob, pos, seq, { nTok, nHead, nKvHead, headDim, nCtx: nKv, scale: 0.125 }));
          const wantSeq = want.map((v, i) => (Math.floor(i / (nHead * headDim)) % 2 ? 0 : v));
          const r = within(got, wantSeq, () => 1e-5);
          check(`attention${formKey === 'tile' ? ' [tiled kernel asked: a multi-sequence step goes per query]' : form} over two sequences (seq 1: the reference, seq 0: zeros)`, r.ok, r);
        }
      }
      k.attnTiled = kernels.attnTiled;
      k.attnSubgroups = kernels.subgroups;
    }
  }
  if (want('ops')) await guarded('rope norm no subgroups', async () => {
    // ropeNorm's workgroup form: on a device without subgroups
    const plain = await createGpu({ features: [] });
    const plainK = await createKernels(plain, { types: [], kv: [] });
    for (const neox of [0, 1]) await ropeNormChecks(neox, await get(`rope_y1${neox}.bin`), await get('rope_cs1.bin'), plain, plainK, '[no subgroups] ');
    plain.destroy();
  });
  if (want('moe')) await guarded('moe', () => moeChecks(gpu, kernels, ''));
  if (want('moe')) await guarded('moe split', async () => {
    // the expert tensors in pieces of 1 KiB (an expert's matrix spans several, and pieces
    // start inside experts)
    const small = await createGpu({ maxBindingBytes: 1024 });
    const smallK = await createKernels(small, { types: ['f32', 'q4_0', 'q8_0'], kv: [] });
    await moeChecks(small, smallK, '[1 KiB bindings] ');
    small.destroy();
  });
  return { adapter: gpu.name, features: [...gpu.features], subgroupSize: gpu.subgroupSize, f16: kernels.f16, compileMs, totalMs: Math.round(performance.now() - t0), checks: out };

  // Per-head RMS norms and RoPE in one dispatch (ropeNorm: qwen3's and gemma3's q and k norms)
  // on device gg, kernels kk: 3 tokens of 4 heads of 64 (rope_x.bin), n_rot 32 (the dims past
  // it normed only), the table with factors; against kite__rmsnorm_heads then kite__rope_apply
  // (ropen_y) where normed and kite__rope_apply alone (want: rope_y1) where not. The norm is
  // within 1e-5 relative (the RMS norm's bound), and a rotated value sums two of them times
  // |cos|, |sin| <= 1.1 (a max component at most sqrt(2) / 1.1 times the rotated row's
  // largest): 3e-5 of the head's largest |output|. q (normed) and k (the first 2 heads of
  // each token, not normed) in two buffers; then q (not normed) and k (normed) in one (k after
  // q in rows of 400 from float 3, as in a q|k|v row); then the norms alone (n_rot 0: the
  // per-head norm fixture, 4 heads of 48).
  async function ropeNormChecks(neox, want, wantCs, gg = g, kk = k, tag = '') {
    const nTok = 3, nHead = 4, headDim = 64, nRot = 32, hd = nHead * headDim;
    const x = await get('rope_x.bin'), w = await get('ropen_w.bin'), wantN = await get(`ropen_y${neox}.bin`);
    const b = (a) => gg.buffer(a.byteLength, a);
    const tolOf = (ref) => (i) => 3e-5 * Math.max(...ref.slice(i - (i % headDim), i - (i % headDim) + headDim).map(Math.abs)) + 1e-30;
    const kOf = (a) => { const o = []; for (let t = 0; t < nTok; t++) o.push(...a.subarray(t * hd, t * hd + 2 * headDim)); return Float32Array.from(o); };
    const wb = b(w), cb = b(wantCs);
    {
      const kx = new Float32Array(7 + nTok * 300).fill(5);
      for (let t = 0; t < nTok; t++) kx.set(x.subarray(t * hd, t * hd + 2 * headDim), 7 + t * 300);
      const qb = b(x), kb = b(kx);
      const rec = gg.recorder();
      kk.ropeNorm(rec, qb, kb, cb, wb, null, { nTok, nHead, nHead2: 2, headDim, nRot, neox: !!neox, eps: 1e-6, x2Off: 7, x2Stride: 300 });
      rec.read(qb, 0, x.length * 4);
      const yq = new Float32Array(await rec.submit());
      const yk = new Float32Array(await gg.read(kb, 0, kx.length * 4));
      const gotK = [];
      for (let t = 0; t < nTok; t++) gotK.push(...yk.subarray(7 + t * 300, 7 + t * 300 + 2 * headDim));
      const wantK = kOf(want);
      const rq = within(yq, wantN, tolOf(wantN)), rk = within(gotK, wantK, tolOf(wantK));
      const untouched = [0, 6, 7 + 2 * headDim, 7 + 300 - 1].every((i) => yk[i] === 5);
      check(`${tag}RoPE with per-head RMS norms (ropeNorm, ${neox ? 'neox' : 'normal'}): q normed, k not, two buffers, within 3e-5 of the head's largest (kite__rmsnorm_heads, kite__rope_apply)`,
        rq.ok && rk.ok && untouched, { q: rq, k: rk, untouched });
      qb.destroy(), kb.destroy();
    }
    {
      const W = 400, row = new Float32Array(3 + nTok * W).fill(5);
      for (let t = 0; t < nTok; t++) {
        row.set(x.subarray(t * hd, (t + 1) * hd), 3 + t * W);
        row.set(x.subarray(t * hd, t * hd + 2 * headDim), 3 + t * W + hd);
      }
      const rb = b(row);
      const y = await run(gg, rb, row.length, (rec) => kk.ropeNorm(rec, rb, null, cb, null, wb,
        { nTok, nHead, nHead2: 2, headDim, nRot, neox: !!neox, eps: 1e-6, xOff: 3, xStride: W, x2Off: 3 + hd, x2Stride: W }));
      const gq = [], gk = [];
      for (let t = 0; t < nTok; t++) gq.push(...y.subarray(3 + t * W, 3 + t * W + hd)), gk.push(...y.subarray(3 + t * W + hd, 3 + t * W + hd + 2 * headDim));
      const wantK = kOf(wantN);
      const rq = within(gq, want, tolOf(want)), rk = within(gk, wantK, tolOf(wantK));
      const untouched = [0, 3 + hd + 2 * headDim, 3 + W - 1].every((i) => y[i] === 5);
      check(`${tag}RoPE with per-head RMS norms (ropeNorm, ${neox ? 'neox' : 'normal'}): q not normed, k normed after q in one buffer, within 3e-5 of the head's largest`,
        rq.ok && rk.ok && untouched, { q: rq, k: rk, untouched });
      rb.destroy();
    }
    if (neox) {
      const hx = await get('rmsh_x.bin'), hw = await get('rmsh_w.bin'), hy = await get('rmsh_y.bin');
      const xb = b(hx), hwb = b(hw), other = gg.buffer(16);
      const y = await run(gg, xb, hx.length, (rec) => kk.ropeNorm(rec, xb, other, cb, hwb, null, { nTok: 3, nHead: 4, nHead2: 0, headDim: 48, nRot: 0, eps: 1e-6 }));
      const r = within(y, hy, (i) => 1e-5 * Math.abs(hy[i]) + 1e-30);
      check(`${tag}ropeNorm with n_rot 0 (the per-head norms alone) within 1e-5 relative of kite__rmsnorm_heads`, r.ok, r);
      xb.destroy(), hwb.destroy(), other.destroy();
    }
    wb.destroy(), cb.destroy();
  }

  // Routed experts (5 tokens of 64, 8 experts, top 2, FFN 32; router F32, gate/up Q4_0, down
  // Q8_0) on device g: routing against kite__moe_route (the same experts; weights within
  // 1e-6: the GPU's softmax is f32), outputs against the double reference within 2e-5 of the
  // largest |output| of the token (f32 matmuls of depth <= 64 over |terms| of that size);
  // all 5 tokens at once (each expert's batch a tiled GEMM) and token 2 alone (a GEMV per
  // expert slot), from an offset row of a wider activation.
  async function moeChecks(g, kk, tag) {
    const T = 5, E = 64, X = 8, K = 2, FE = 32;
    const x = await get('moe_x.bin'), wantIds = await get('moe_ids.bin', Int32Array), wantW = await get('moe_w.bin'), want = await get('moe_out.bin');
    const Wr = kk.weight('f32', X, E, await get('moe_router.bin', Uint8Array));
    const Wg = kk.weight('q4_0', X * FE, E, await get('moe_gate.bin', Uint8Array));
    const Wu = kk.weight('q4_0', X * FE, E, await get('moe_up.bin', Uint8Array));
    const Wd = kk.weight('q8_0', X * E, FE, await get('moe_down.bin', Uint8Array));
    const xb = g.buffer(x.byteLength, x);
    const logits = g.buffer(T * X * 4), ids = g.buffer(T * K * 4), wts = g.buffer(T * K * 4), list = g.buffer((X + X * T) * 4);
    const hg = g.buffer(T * K * FE * 4), hu = g.buffer(T * K * FE * 4), hy = g.buffer(T * K * E * 4), ob = g.buffer((3 + T * E) * 4);
    const pass = (rec, n, xOff) => {
      kk.matmul(rec, Wr, xb, logits, { ntok: n, xOff, yStride: X });
      kk.moeRoute(rec, logits, ids, wts, { nTok: n, nExpert: X, k: K });
      const mm = (W, src, dst, eRows, xDiv, xStride, off) => (n === 1
        ? kk.matmulId(rec, W, src, dst, ids, { nExpert: X, eRows, xDiv, xStride, xOff: off, slots: n * K })
        : kk.matmulId(rec, W, src, dst, list, { nExpert: X, eRows, xDiv, xStride, xOff: off, batch: n, lStride: T }));
      if (n > 1) kk.moeGroup(rec, ids, list, { nTok: n, nExpert: X, k: K, lStride: T });
      mm(Wg, xb, hg, FE, K, E, xOff);
      mm(Wu, xb, hu, FE, K, E, xOff);
      kk.elemwise(rec, 'swiglu', hg, hu, hg, { n: n * K * FE });
      mm(Wd, hg, hy, E, 1, FE, 0);
      kk.moeCombine(rec, hy, wts, ob, { nTok: n, width: E, k: K, oOff: 3 });
    };
    for (const [t0, n] of [[0, T], [2, 1]]) {
      const o = await run(g, ob, 3 + n * E, (rec) => pass(rec, n, t0 * E));
      const gi = new Int32Array(await g.read(ids, 0, n * K * 4)), gw = new Float32Array(await g.read(wts, 0, n * K * 4));
      const wi = wantIds.subarray(t0 * K, (t0 + n) * K), ww = wantW.subarray(t0 * K, (t0 + n) * K);
      const idsOk = gi.every((v, i) => v === wi[i]);
      const rw = within(gw, ww, () => 1e-6);
      check(`${tag}MoE routing of ${n} token${n > 1 ? 's' : ''}: kite__moe_route's experts, weights within 1e-6`, idsOk && rw.ok, { got: [...gi], want: [...wi], ...rw });
      const wo = want.subarray(t0 * E, (t0 + n) * E);
      const scale = (i) => Math.max(...wo.subarray(Math.floor(i / E) * E, Math.floor(i / E) * E + E).map(Math.abs));
      const r = within(o.subarray(3, 3 + n * E), wo, (i) => 2e-5 * scale(i));
      check(`${tag}MoE FFN of ${n} token${n > 1 ? 's (a GEMM per expert batch)' : ' (a GEMV per expert slot)'} within 2e-5 of the largest output`, r.ok, r);
    }
    for (const b of [xb, logits, ids, wts, list, hg, hu, hy, ob]) b.destroy();
    for (const W of [Wr, Wg, Wu, Wd]) W.destroy();
  }
}

test('WebGPU kernels match the C core (Chromium, SwiftShader or a real adapter)', async (t) => {
  if (!existsSync(REF_BIN)) throw new Error(`${REF_BIN} not found: cmake --build --preset native --target webgpu_ref`);
  const dir = join(repoRoot, 'build/webgpu-fixtures');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync(REF_BIN, [dir]);
  const server = await serve({ port: 0 });
  const browser = await launchChromium({ webgpu: true });
  try {
    const origin = `http://127.0.0.1:${server.port}`;
    const { page, errors } = await newPageAt(browser, `${origin}/package.json`);
    const r = await page.evaluate(kernelChecks, { base: `${origin}/build/webgpu-fixtures/`, only: ONLY });
    if (r.skip) {
      t.skip(`no WebGPU adapter in this browser: ${r.skip}`);
      return;
    }
    console.log(`adapter: ${r.adapter}; features: ${r.features.join(', ') || 'none'}; subgroup size ${r.subgroupSize}; pipelines compiled in ${r.compileMs} ms, all checks ${r.totalMs} ms`);
    for (const c of r.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name} ${JSON.stringify(c.detail)}`);
    const failed = r.checks.filter((c) => !c.ok);
    assert.deepEqual(failed.map((c) => `${c.name}: ${JSON.stringify(c.detail)}`), []);
    if (!ONLY) assert.ok(r.checks.length >= 18 * 3 + 9 * 3 + 2 + 16, `${r.checks.length} checks ran`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The same checks in Node on a Vulkan adapter through the `webgpu` package (Dawn's Node
// bindings, a devDependency): here Mesa's lavapipe (scripts/setup.sh installs it from Debian's
// bookworm-backports; Dawn refuses bookworm's own Mesa 22), an implementation unlike
// SwiftShader: subgroups of 8 (SwiftShader: 4), shader-f16, LLVM's compiler (it folded the
// f16 round trip unpack2x16float(pack2x16float(x)) to x, which round_f16 no longer relies on).
// The GEMV/GEMM on a subset of the types (every decode family: plain, k-quants, grids, ternary,
// FP4), the other sections whole but the split bindings (adapter-independent; Chromium covers
// them); then the F16 weights and the ops again on a device requested without shader-f16
// (lavapipe has it: the first run checks the f16 variants, the second the f32 forms). Skipped where the package or an adapter is missing, a failure under CI=true.
const VULKAN_TYPES = ['f32', 'f16', 'bf16', 'q4_0', 'q5_1', 'q8_0', 'q2_K', 'q3_K', 'q4_K', 'q6_K', 'iq4_xs', 'tq2_0', 'mxfp4', 'iq2_xxs', 'iq3_s', 'iq1_m', 'f16_172'];
test('WebGPU kernels match the C core (Node, a Vulkan adapter through the webgpu package)', async (t) => {
  const adapter = await nodeWebGpuAdapter(t);
  if (!adapter) return;
  if (!existsSync(REF_BIN)) throw new Error(`${REF_BIN} not found: cmake --build --preset native --target webgpu_ref`);
  const dir = join(repoRoot, 'build/webgpu-fixtures-node');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync(REF_BIN, [dir]);
  const server = await serve({ port: 0 });
  try {
    const only = (ONLY ?? ['weights', 'backend', 'ops', 'moe']).filter((s) => s !== 'split');
    const base = `http://127.0.0.1:${server.port}/build/webgpu-fixtures-node/`, root = pathToFileURL(repoRoot).href;
    const r = await kernelChecks({ base, only, root, types: VULKAN_TYPES });
    assert.ok(!r.skip, r.skip);
    // again on a device requested without shader-f16 (subgroups kept): the f32 forms of the
    // kernels that have f16 variants (the F16 weights, the KV write and attention: 'ops')
    const r16 = await kernelChecks({ base, only: only.filter((s) => s === 'weights' || s === 'ops'), root, types: ['f16', 'f16_172'], features: ['subgroups'] });
    const failed = [];
    for (const [x, tag] of [[r, ''], [r16, '[no shader-f16] ']]) {
      console.log(`${tag}adapter: ${x.adapter}; features: ${x.features.join(', ') || 'none'}; subgroup size ${x.subgroupSize}; f16 kernels: ${x.f16}; pipelines compiled in ${x.compileMs} ms, all checks ${x.totalMs} ms`);
      for (const c of x.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${tag}${c.name} ${JSON.stringify(c.detail)}`);
      failed.push(...x.checks.filter((c) => !c.ok).map((c) => `${tag}${c.name}: ${JSON.stringify(c.detail)}`));
    }
    assert.deepEqual(failed, []);
    // lavapipe has shader-f16: the first run tests the f16 variants, the second the f32 forms
    assert.ok(r.f16 === r.features.includes('shader-f16') && !r16.f16, `f16 kernels: ${r.f16} (features ${r.features}), then ${r16.f16}`);
    if (!ONLY) assert.ok(r.checks.length >= VULKAN_TYPES.length * 3 + 16, `${r.checks.length} checks ran`);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
