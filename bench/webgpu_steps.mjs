// webgpu_steps.mjs - where a WebGPU forward step's time goes (benchmark, not a test): loads a
// model into the kite-st-webgpu build in headless Chromium with every layer and the head on
// the GPU, runs prompt steps of --prompt-tokens tokens (each in a fresh context, from position 0
// as generate() runs a prompt) and --gen one-token steps after one, and prints per step kind:
// the CPU milliseconds of Chromium's GPU process (where WebGPU is SwiftShader, the kernels' cost;
// chromium_cpu.mjs), milliseconds recording (kw_eval: the C forward pass calling the JS ops,
// which record dispatches) and waiting (backend.settle(): the GPU's work and the logits'
// read-back), dispatches, bind groups created and submits per step (Gpu.stats), medians over
// the steps; then each dispatch of a step replayed alone (CPU and wall ms per kernel and grid).
//   node bench/webgpu_steps.mjs [--prompt-tokens N] [--gen N] [MODEL...]
import { launchChromium } from '../tests/node/chromium.mjs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { serve } from '../web/serve.mjs';
import { cpuMs, gpuProcessPids } from './chromium_cpu.mjs';
import { benchArgs } from './args.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { args, num: opt } = benchArgs();
const promptTokens = opt('--prompt-tokens', 32);
const nGen = opt('--gen', 16);
const models = process.env.KITE_MODELS || resolve(root, '../shared/models');
const files = args.length ? args.map((f) => resolve(f)) : [join(root, 'models/stories260K.gguf'), join(models, 'rand-llama-spm-f16.gguf')];

async function stepsInPage({ glue, dir, url, promptTokens, nGen }) {
  const { createGpu } = await import('/web/webgpu/device.js');
  const { createKernels, modelHeadDims } = await import('/web/webgpu/kernels.js');
  const { WebGpuBackend } = await import('/web/webgpu/backend.js');
  const { TYPE_NAMES } = await import('/web/webgpu/types.js');
  const gpu = await createGpu();
  let backend = null, kernels = null;
  const factory = new Function(`${await (await fetch(glue)).text()}\n;return createKiteST;`)();
  const M = await factory({ locateFile: (p) => dir + p, print: () => {}, printErr: () => {},
    kiteWebGpu: (cfg, memory) => (backend = new WebGpuBackend(kernels, memory, cfg)) });
  const heap = () => (M.wasmMemory ? M.wasmMemory.buffer : M.HEAPU8.buffer);
  const check = (s) => { if (s !== 0) throw new Error(M.UTF8ToString(M._kw_last_error())); };
  const scratch = M._kw_alloc(1 << 16) >>> 0;
  check(M._kw_abi_json(scratch));
  const abiPtr = new Uint32Array(heap(), scratch, 1)[0];
  const abi = JSON.parse(M.UTF8ToString(abiPtr));
  M._kw_free(abiPtr);
  const struct = (name, values) => {
    const st = abi.structs[name];
    const p = M._kw_alloc(st.size) >>> 0;
    new Uint8Array(heap(), p, st.size).fill(0);
    const dv = () => new DataView(heap());
    const set = (f, v) => (st.fields[f].type === 'i32' ? dv().setInt32(p + st.fields[f].offset, v, true) : dv().setUint32(p + st.fields[f].offset, v, true));
    for (const [f, v] of Object.entries(values)) set(f, v);
    return { p, get: (f) => (st.fields[f].type === 'i32' ? dv().getInt32(p + st.fields[f].offset, true) : dv().getUint32(p + st.fields[f].offset, true)), set };
  };
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const buf = M._kw_alloc(bytes.length) >>> 0;
  new Uint8Array(heap()).set(bytes, buf);
  const a = struct('kw_load_args', { buf, len: bytes.length, n_ctx: 1024, n_threads: 1, offload_layers: 999 });
  check(M._kw_model_load(a.p));
  const model = a.get('model');
  // the model's tensor types, as the worker compiles them
  check(M._kw_gguf_info_json(M._kw_model_gguf(model), scratch));
  const infoPtr = new Uint32Array(heap(), scratch, 1)[0];
  const info = JSON.parse(M.UTF8ToString(infoPtr));
  M._kw_free(infoPtr);
  const types = [...new Set(info.tensors.map((t) => TYPE_NAMES.find((n) => n.toLowerCase() === t.type.toLowerCase())).filter(Boolean))];
  check(M._kw_model_facts_json(model, scratch));
  const factsPtr = new Uint32Array(heap(), scratch, 1)[0];
  const facts = JSON.parse(M.UTF8ToString(factsPtr));
  M._kw_free(factsPtr);
  const t0 = performance.now();
  kernels = await createKernels(gpu, { types, kv: ['f16'], headDims: modelHeadDims(info.tensors, facts.n_head, facts.n_head_kv) });
  const compileMs = performance.now() - t0;
  M.stringToUTF8('webgpu', scratch + 16, 16);
  // a fresh context (positions from 0, as generate() starts each prompt): the weights again
  const offload = () => check(M._kw_model_offload(struct('kw_offload_args', { model, n_ctx: 1024, n_gpu_layers: 999, backend: scratch + 16 }).p));
  offload();
  const ev = struct('kw_eval_args', { tokens: scratch + 64, model });
  const stats = () => ({ ...gpu.stats });
  // one forward step of these token ids: milliseconds recording and waiting, the counts
  const evalStep = async (ids) => {
    new Int32Array(heap(), scratch + 64, ids.length).set(ids);
    ev.set('n', ids.length);
    const s0 = stats();
    const t0 = performance.now();
    check(M._kw_eval(ev.p));
    const t1 = performance.now();
    await backend.settle();
    const t2 = performance.now();
    const s1 = stats();
    const d = Object.fromEntries(Object.keys(s1).map((k) => [k, s1[k] - (s0[k] ?? 0)]));
    const l = new Float32Array(heap(), ev.get('logits'), ev.get('n_vocab'));
    let best = 0;
    for (let i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
    return { record: t1 - t0, wait: t2 - t1, ...d, best };
  };
  const prompt = [1, ...Array.from({ length: promptTokens - 1 }, (_, i) => 100 + ((i * 37) % 200))];
  await evalStep(prompt.slice(0, 4)); // warm-up (first-use uploads)
  // the dispatches of one step of these ids (after a fresh context when prompt), kept for
  // replay: returns their keys and grids
  let trace = null;
  const traceStep = async (ids, fresh) => {
    if (fresh) offload();
    gpu.trace = [];
    await evalStep(ids ?? prompt);
    trace = gpu.trace;
    gpu.trace = null;
    return trace.map((d) => `${d.key} [${d.groups.join('x')}]`);
  };
  // dispatch i of the trace alone, reps times (one submit each, awaited; i < 0: empty
  // submits): milliseconds of wall time in all
  const replay = async (i, reps) => {
    const q = gpu.device.queue, d = trace[i];
    const t = performance.now();
    for (let r = 0; r < reps; r++) {
      const enc = gpu.device.createCommandEncoder();
      if (d) {
        const pass = enc.beginComputePass();
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...d.groups);
        pass.end();
      }
      q.submit([enc.finish()]);
      await q.onSubmittedWorkDone();
    }
    return performance.now() - t;
  };
  globalThis.kiteSteps = { evalStep, offload, traceStep, replay, prompt };
  return { adapter: gpu.name, subgroups: kernels.subgroups, types, compileMs, statKeys: Object.keys(gpu.stats) };
}

const server = await serve({ port: 0 });
const origin = `http://127.0.0.1:${server.port}`;
const browser = await launchChromium({ webgpu: true });
const linkDir = join(root, 'build/bench-models');
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('console', (m) => console.log('page:', m.text()));
  await page.goto(`${origin}/package.json`);
  for (const file of files) {
    let rel = relative(root, file);
    if (rel.startsWith('..') || rel.startsWith(sep)) {
      mkdirSync(linkDir, { recursive: true });
      const link = join(linkDir, basename(file));
      rmSync(link, { force: true });
      symlinkSync(file, link);
      rel = relative(root, link);
    }
    const r = await page.evaluate(stepsInPage, { glue: `${origin}/build/wasm-st-webgpu/kite-st-webgpu.js`, dir: `${origin}/build/wasm-st-webgpu/`,
      url: `${origin}/${rel.split(sep).join('/')}`, promptTokens, nGen });
    const pids = gpuProcessPids();
    // a step in the page, with the GPU process's CPU milliseconds around it
    const step = async (fn, arg) => {
      const c0 = cpuMs(pids);
      const s = await page.evaluate(fn, arg);
      return { ...s, cpu: cpuMs(pids) - c0 };
    };
    const pre = [], dec = [];
    for (let i = 0; i < 3; i++) {
      await page.evaluate(() => globalThis.kiteSteps.offload());
      pre.push(await step(() => globalThis.kiteSteps.evalStep(globalThis.kiteSteps.prompt)));
    }
    let tok = pre[0].best;
    for (let i = 0; i < nGen; i++) {
      const s = await step((t) => globalThis.kiteSteps.evalStep([t]), tok);
      dec.push(s);
      tok = s.best;
    }
    const med = (xs, k) => {
      const v = xs.map((x) => x[k]).sort((p, q) => p - q);
      return v[v.length >> 1];
    };
    const sum = (xs) => Object.fromEntries(['cpu', 'record', 'wait', ...r.statKeys].map((k) => [k, med(xs, k)]));
    // each dispatch of one more step of each kind replayed alone, `reps` times: CPU and wall
    // milliseconds per kernel key and grid, summed over the step, less an empty submit's
    const reps = 3;
    const profile = async (ids, fresh) => {
      const keys = await page.evaluate(({ ids, fresh }) => globalThis.kiteSteps.traceStep(ids, fresh), { ids, fresh });
      const one = async (i) => {
        const c0 = cpuMs(pids);
        const wall = await page.evaluate(({ i, reps }) => globalThis.kiteSteps.replay(i, reps), { i, reps });
        return { cpu: (cpuMs(pids) - c0) / reps, wall: wall / reps };
      };
      const empty = await one(-1);
      const per = {};
      for (let i = 0; i < keys.length; i++) {
        const t = await one(i);
        per[keys[i]] ??= { n: 0, cpu: 0, wall: 0 };
        per[keys[i]].n++;
        per[keys[i]].cpu += Math.max(0, t.cpu - empty.cpu);
        per[keys[i]].wall += Math.max(0, t.wall - empty.wall);
      }
      const total = Object.values(per).reduce((s, v) => s + v.cpu, 0);
      const list = Object.entries(per).sort((p, q) => q[1].cpu - p[1].cpu)
        .map(([k, v]) => `${k} x${v.n}: ${v.cpu.toFixed(1)} (${v.wall.toFixed(1)})`);
      return { empty, total, list };
    };
    const profPre = await profile(null, true);
    const profDec = await profile([tok], false);
    const f = (s) => Object.entries(s).map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : v}`).join(', ');
    console.log(`${basename(file)} on ${r.adapter} (subgroups ${r.subgroups}; types ${r.types.join(' ')}; pipelines ${(r.compileMs / 1000).toFixed(1)} s)`);
    console.log(`  prompt step of ${promptTokens} tokens (median of 3; cpu: ms of the GPU process): ${f(sum(pre))}`);
    console.log(`  one-token step (median of ${nGen}): ${f(sum(dec))}`);
    for (const [what, p] of [['prompt step', profPre], ['one-token step', profDec]]) {
      console.log(`  ${what}, each dispatch replayed alone ${reps} times, GPU-process CPU ms (wall ms) per step, less an empty submit's ` +
        `(${p.empty.cpu.toFixed(2)} (${p.empty.wall.toFixed(2)})); sum ${p.total.toFixed(1)}:\n    ${p.list.join('\n    ')}`);
    }
  }
} finally {
  await browser.close();
  await server.close();
}
