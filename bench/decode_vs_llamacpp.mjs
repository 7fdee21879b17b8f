// decode_vs_llamacpp.mjs - decode (tg) and prefill (pp) speed of `kite bench` against llama.cpp
// on the same files and thread counts: node-llama-cpp's prebuilt CPU library, and llama-bench
// built from source with this machine's flags (bench/build_llama_cpp.sh) when it is there. The
// models: a SmolLM2-135M-shaped random-weight model in Q8_0 and Q4_K_M (made once by
// bench/make_random_model.c + kite quantize), or the files given with --model. Prints tokens/s
// and the ratios kite / llama.cpp. Not a test: nothing asserted.
//
// usage: node bench/decode_vs_llamacpp.mjs [--threads 1,2] [--n-gen 64] [--n-prompt 128] [--reps 3]
//                                          [--model FILE[,FILE...]]
// env: KITE_BIN (default build/native/kite; libkite.a is taken from the same folder),
//      KITE_BENCH_DIR (where the models are made, default /tmp/kite-bench),
//      LLAMA_BENCH (default build/llama.cpp/bin/llama-bench)
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { smollm2Models } from './smollm2_models.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
};
const threads = arg('--threads', '1,2').split(',').map(Number);
const nGen = Number(arg('--n-gen', '64'));
const nPrompt = Number(arg('--n-prompt', '128'));
const reps = Number(arg('--reps', '3'));
const bin = process.env.KITE_BIN || join(root, 'build/native/kite');
const dir = process.env.KITE_BENCH_DIR || '/tmp/kite-bench';
const llamaBenchBin = process.env.LLAMA_BENCH || join(root, 'build/llama.cpp/bin/llama-bench');
const haveSource = existsSync(llamaBenchBin);
const givenModels = arg('--model', '');
if (!existsSync(bin)) throw new Error(`kite binary not found at ${bin} (set KITE_BIN)`);

// ---- kite: `kite bench -o json` ---------------------------------------------------------------
function kiteBench(path, t) {
  const out = execFileSync(bin, ['bench', '-m', path, '-p', String(nPrompt), '-n', String(nGen), '-t', String(t), '-r', String(reps), '-o', 'json']).toString();
  const rows = out.trim().split('\n').map((l) => JSON.parse(l));
  return { pp: rows.find((r) => r.test.startsWith('pp'))?.tps, tg: rows.find((r) => r.test.startsWith('tg'))?.tps, gbps: rows.find((r) => r.test.startsWith('tg'))?.gbps };
}

// ---- llama.cpp built from source: llama-bench, flash attention on as in kite ------------------
function sourceBench(path, t) {
  const out = execFileSync(llamaBenchBin, ['-m', path, '-p', String(nPrompt), '-n', String(nGen), '-t', String(t), '-r', String(reps),
    '-fa', '1', '-ngl', '0', '-o', 'json'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const rows = JSON.parse(out);
  return { pp: rows.find((r) => r.n_prompt > 0)?.avg_ts, tg: rows.find((r) => r.n_gen > 0)?.avg_ts };
}

// ---- llama.cpp: the same work through node-llama-cpp ------------------------------------------
async function llamaBench(llama, path, t) {
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: nPrompt + nGen + 16, threads: t, batchSize: 512, flashAttention: true });
  const seq = context.getSequence();
  let rng = 42;
  const rand = () => ((rng = (rng * 1664525 + 1013904223) >>> 0) >>> 8) % 49152;
  const runPP = async () => {
    await seq.clearHistory();
    const toks = Array.from({ length: nPrompt }, rand);
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(toks);
    return nPrompt / ((performance.now() - t0) / 1000);
  };
  const runTG = async () => {
    await seq.clearHistory();
    await seq.evaluateWithoutGeneratingNewTokens([1]);
    const t0 = performance.now();
    for (let i = 0; i < nGen; i++) await seq.evaluateWithoutGeneratingNewTokens([rand()]);
    return nGen / ((performance.now() - t0) / 1000);
  };
  const mean = async (fn) => {
    await fn(); // warm-up
    let s = 0;
    for (let r = 0; r < reps; r++) s += await fn();
    return s / reps;
  };
  const res = { pp: await mean(runPP), tg: await mean(runTG) };
  await context.dispose();
  await model.dispose();
  return res;
}

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const models = givenModels ? givenModels.split(',').map((f) => [f.split('/').pop().replace(/\.gguf$/, ''), resolve(f)])
  : smollm2Models(bin, dir).map(([type, path]) => [`SmolLM2-135M-shaped ${type}`, path]);
console.log(`decode tg${nGen} / prefill pp${nPrompt}, tokens/s (mean of ${reps}); ratio = kite / llama.cpp; ` +
  `"prebuilt" = node-llama-cpp's library, "source" = ${haveSource ? llamaBenchBin : 'not built (bench/build_llama_cpp.sh)'}`);
console.log('| model | threads | kite tg | prebuilt tg | source tg | tg ratio prebuilt / source | kite GB/s | kite pp | prebuilt pp | source pp | pp ratio prebuilt / source |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [name, path] of models) {
  for (const t of threads) {
    const k = kiteBench(path, t);
    const l = await llamaBench(llama, path, t);
    const s = haveSource ? sourceBench(path, t) : {};
    const f = (x) => (x === undefined ? '-' : x.toFixed(1));
    const r = (a, b) => (a === undefined || b === undefined ? '-' : (a / b).toFixed(2));
    console.log(`| ${name} | ${t} | ${f(k.tg)} | ${f(l.tg)} | ${f(s.tg)} | ${r(k.tg, l.tg)} / ${r(k.tg, s.tg)} | ${f(k.gbps)} | ` +
      `${f(k.pp)} | ${f(l.pp)} | ${f(s.pp)} | ${r(k.pp, l.pp)} / ${r(k.pp, s.pp)} |`);
  }
}
await llama.dispose();
