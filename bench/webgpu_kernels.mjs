// webgpu_kernels.mjs - micro-benchmark of the WebGPU weight kernels (web/webgpu/) in headless
// Chromium: GEMV GB/s (weight bytes read per second, 1 token) and tiled GEMM GFLOP/s (64
// tokens) per block type, printed with the adapter's name. Not a test: numbers only. On this
// machine the adapter is SwiftShader (a CPU), so they say nothing about real GPUs; run it
// where Chromium sees a GPU (drop --disable-gpu: KITE_BENCH_GPU=1) for numbers that count.
//   node bench/webgpu_kernels.mjs [--rows N] [--cols N] [--reps N] [--types q4_0,q8_0,...]
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS } from '../tests/node/chromium.mjs';
import { serve } from '../web/serve.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const rows = Number(arg('rows', 2048));
const cols = Number(arg('cols', 4096));
const reps = Number(arg('reps', 8));
const types = arg('types', 'f32,f16,bf16,q4_0,q4_1,q5_0,q5_1,q8_0,q2_K,q3_K,q4_K,q5_K,q6_K,iq4_nl,iq4_xs').split(',');

// In the page: per type, one warm-up step, then `reps` steps of 8 GEMVs (one submit, one
// tiny read-back each) and one of 2 GEMMs over 64 tokens.
async function benchInPage({ rows, cols, reps, types }) {
  const { createGpu } = await import('/web/webgpu/device.js');
  const { createKernels } = await import('/web/webgpu/kernels.js');
  const { rowBytes } = await import('/web/webgpu/types.js');
  const gpu = await createGpu();
  const t0 = performance.now();
  const k = await createKernels(gpu, { types, kv: [] });
  const compileMs = performance.now() - t0;
  const out = [];
  let seed = 1;
  for (const type of types) {
    const rb = rowBytes(type, cols);
    const bytes = new Uint8Array(rows * rb);
    // random bytes; for the float types random values in [-1, 1) (no NaN/inf/subnormals)
    const f = new Float32Array(rows * cols).map(() => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 31) - 1);
    if (type === 'f32') bytes.set(new Uint8Array(f.buffer));
    else if (type === 'f16' || type === 'bf16') {
      const u16 = new Uint16Array(bytes.buffer);
      const u32 = new Uint32Array(f.buffer);
      for (let i = 0; i < u16.length; i++) u16[i] = type === 'bf16' ? u32[i] >>> 16 : 0x3800 ^ (u32[i] & 0x83ff);
    } else {
      for (let i = 0; i < bytes.length; i++) bytes[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
      // keep f16 scales sane: clear the top exponent bits of every 16-bit word's high byte
      for (let i = 1; i < bytes.length; i += 2) bytes[i] &= 0x3b;
    }
    const W = k.weight(type, rows, cols, bytes);
    const nt = 64;
    const x = gpu.buffer(nt * cols * 4, new Float32Array(nt * cols).fill(0.5));
    const y = gpu.buffer(nt * rows * 4);
    const step = async (fn) => {
      const rec = gpu.recorder();
      fn(rec);
      rec.read(y, 0, 4);
      await rec.submit();
    };
    const gemv = (rec) => { for (let i = 0; i < 8; i++) k.matmul(rec, W, x, y); };
    await step(gemv);
    let t = performance.now();
    for (let r = 0; r < reps; r++) await step(gemv);
    const gemvS = (performance.now() - t) / 1000 / (8 * reps);
    const gemm = (rec) => { for (let i = 0; i < 2; i++) k.matmul(rec, W, x, y, { ntok: nt }); };
    await step(gemm);
    t = performance.now();
    const gemmReps = Math.max(1, reps >> 2);
    for (let r = 0; r < gemmReps; r++) await step(gemm);
    const gemmS = (performance.now() - t) / 1000 / (2 * gemmReps);
    out.push({ type, mb: (rows * rb) / 1e6, gemvUs: gemvS * 1e6, gbs: (rows * rb) / gemvS / 1e9, gflops: (2 * rows * cols * nt) / gemmS / 1e9 });
    W.destroy(), x.destroy(), y.destroy();
  }
  return { adapter: gpu.name, features: [...gpu.features], compileMs, out };
}

const flags = process.env.KITE_BENCH_GPU ? CHROMIUM_FLAGS.filter((f) => f !== '--disable-gpu') : CHROMIUM_FLAGS;
const server = await serve({ port: 0 });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...flags, '--enable-unsafe-webgpu'] });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.port}/package.json`);
  const r = await page.evaluate(benchInPage, { rows, cols, reps, types });
  console.log(`adapter: ${r.adapter} (features: ${r.features.join(', ') || 'none'}); ${types.length * 3} pipelines compiled in ${(r.compileMs / 1000).toFixed(1)} s`);
  console.log(`weight ${rows} x ${cols}; GEMV: 1 token, 8 per submit; GEMM: 64 tokens`);
  console.log('type     weight MB   GEMV us   GEMV GB/s   GEMM GFLOP/s');
  for (const o of r.out) {
    console.log(`${o.type.padEnd(8)} ${o.mb.toFixed(2).padStart(9)} ${o.gemvUs.toFixed(0).padStart(9)} ${o.gbs.toFixed(2).padStart(11)} ${o.gflops.toFixed(2).padStart(14)}`);
  }
} finally {
  await browser.close();
  await server.close();
}
