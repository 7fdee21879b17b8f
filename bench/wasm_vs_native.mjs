// wasm_vs_native.mjs - benchmark (not a test): Kite's wasm builds against native llama.cpp on the
// same model and thread count, in one run: llama-bench built from source with this machine's
// flags (bench/build_llama_cpp.sh), the npm package in headless Chromium (the SIMD128 and the
// relaxed-SIMD build) and in Node (SIMD128, and simd: 'auto', which is the relaxed build under
// Node 22 and later and SIMD128 under Node 20), each a prefill of about --prompt-tokens tokens and
// --gen decoded tokens. The engines take turns inside every round (the machine may be shared:
// compare the ratios of one round, and their range over rounds). Prints each run's tokens/s and,
// per round, Kite / llama.cpp, 2 threads / 1 thread and Node / Chromium (each Node run against
// Chromium running the same build); then the ranges over the rounds. Not a test: nothing asserted.
//
// usage: node bench/wasm_vs_native.mjs [--threads 1,2] [--prompt-tokens 128] [--gen 64] [--reps 3]
//          [--rounds 3] [--base DIR] [--engines LIST] [--node BIN,...] [MODEL...]
//   MODEL: GGUF files (default: the SmolLM2-135M-shaped random-weight Q8_0 and Q4_K_M of
//     bench/smollm2_models.mjs, made with KITE_BIN, default build/native/kite, under
//     KITE_BENCH_DIR, default /tmp/kite-bench)
//   --base DIR: also run another checkout's package (DIR/web, DIR/dist), e.g. main's, in the
//     same rounds: its rows are marked "base" (before / after in one run)
//   --engines: a comma list of native, chromium-simd128, chromium-relaxed, node-simd128,
//     node-auto (all)
//   --node: the Node binaries the node-* engines run in, each its own engine ("node24 auto"; default
//     the one running this script), e.g. --node /usr/bin/node,build/node24/bin/node (scripts/setup.sh
//     puts Node 24 there) for Node 20 and Node 24 in the same rounds
//   LLAMA_BENCH: llama-bench (default build/llama.cpp/bin/llama-bench)
// On a shared machine, run it under `nice -n -19` (as root): llama-bench and the Node children
// inherit the niceness, and the script gives it to every thread of the browser's processes too,
// again and again (Chromium's zygote starts renderers at 0, and workers come and go).
// The wasm side measures generate(): prefill = prompt tokens / prefill seconds, decode =
// generated tokens / decode seconds (as Kite reports them), the best of --reps after a warm-up;
// llama-bench's pp / tg are the best of its --reps samples (flash attention on, as Kite; its tg
// at a depth of --prompt-tokens, `-d`, as Kite's follows the prompt). Best, not median: on a shared machine
// the best run is the one least slowed by the others.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { autogroupNice, descendants, threads } from './proc_tree.mjs';
import { smollm2Models } from './smollm2_models.mjs';
import { benchArgs } from './args.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// Measures Kite's generate() on one model; runs in the page (web: the package's URL) and in
// the Node child (web: a file URL). Self-contained: the page gets its source text.
async function benchKite({ web, model, threads, simd, promptTokens, nGen, reps }) {
  const kite = await import(web);
  const m = await kite.loadModel(model, { threads, nCtx: Math.max(1024, promptTokens + nGen + 16), simd });
  try {
    // a prompt of at most promptTokens tokens (BOS included), as long as the words allow
    const words = 'the quick brown fox jumps over the lazy dog while a small bird sings'.split(' ');
    const text = (n) => Array.from({ length: n }, (_, i) => words[i % words.length]).join(' ');
    let lo = 1, hi = 4 * promptTokens;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((await m.tokenize(text(mid), { addSpecial: true })).length <= promptTokens) lo = mid;
      else hi = mid - 1;
    }
    const prompt = text(lo);
    await m.generate('Hello', { maxTokens: 4, temperature: 0 }).text(); // warm-up
    const runs = [];
    for (let r = 0; r < reps; r++) {
      const g = m.generate(prompt, { maxTokens: nGen, temperature: 0, cachePrompt: false });
      await g.text();
      const s = await g.result;
      runs.push({ pp: s.nPrompt / s.prefillSeconds, tg: s.nGenerated / s.decodeSeconds, nPrompt: s.nPrompt, nGen: s.nGenerated });
    }
    const best = (k) => Math.max(...runs.map((x) => x[k]));
    return { pp: best('pp'), tg: best('tg'), nPrompt: runs[0].nPrompt, nGen: Math.min(...runs.map((x) => x.nGen)), build: m.build };
  } finally {
    await m.dispose();
  }
}

// The Node child: one measurement in a fresh process, its JSON on stdout.
if (process.argv[2] === '--node-child') {
  const r = await benchKite(JSON.parse(process.argv[3]));
  process.stdout.write(JSON.stringify(r));
  process.exit(0);
}

const { args, opt } = benchArgs();
const threadList = opt('--threads', '1,2').split(',').map(Number);
const promptTokens = Number(opt('--prompt-tokens', '128'));
const nGen = Number(opt('--gen', '64'));
const reps = Number(opt('--reps', '3'));
const rounds = Number(opt('--rounds', '3'));
const baseDir = opt('--base', '');
const engines = opt('--engines', 'native,chromium-simd128,chromium-relaxed,node-simd128,node-auto').split(',');
// [binary, major version] of each --node binary
const nodes = opt('--node', process.execPath).split(',').map((b) => {
  const bin = b === process.execPath ? b : resolve(b);
  const v = bin === process.execPath ? process.version : execFileSync(bin, ['--version']).toString().trim();
  return [bin, v.replace(/^v(\d+).*/, '$1')];
});
const llamaBench = process.env.LLAMA_BENCH || join(root, 'build/llama.cpp/bin/llama-bench');
const models = args.length ? args.map((f) => [basename(f).replace(/\.gguf$/, ''), resolve(f)])
  : smollm2Models(process.env.KITE_BIN || join(root, 'build/native/kite'), process.env.KITE_BENCH_DIR || '/tmp/kite-bench')
    .map(([type, path]) => [`SmolLM2-135M-shaped ${type}`, path]);
if (engines.includes('native') && !existsSync(llamaBench)) throw new Error(`${llamaBench} is missing: bash bench/build_llama_cpp.sh llama-bench (or set LLAMA_BENCH)`);

// Files outside the served root (the models, the base checkout) are reached through symlinks
// under build/wasm-vs-native-links (its own folder: build/bench-models may be a link to another checkout's).
const linkDir = join(root, 'build/wasm-vs-native-links');
const links = new Map(); // file or folder -> its link
function served(file) {
  const rel = relative(root, file);
  if (!rel.startsWith('..') && !rel.startsWith(sep)) return `/${rel.split(sep).join('/')}`;
  if (!links.has(file)) {
    mkdirSync(linkDir, { recursive: true });
    const link = join(linkDir, `wvn-${links.size}-${basename(file)}`);
    rmSync(link, { force: true });
    symlinkSync(file, link);
    links.set(file, link);
  }
  return `/${relative(root, links.get(file)).split(sep).join('/')}`;
}

// ---- the engines ------------------------------------------------------------------------------

// pp from an empty context; tg from a depth of --prompt-tokens (llama-bench -d), the context
// Kite's decode runs in after its prompt, so both decodes attend over the same number of keys
function nativeRun(model, threads) {
  const bench = (p, n, d) => JSON.parse(execFileSync(llamaBench, ['-m', model, '-p', String(p), '-n', String(n), '-d', String(d),
    '-t', String(threads), '-r', String(reps), '-fa', '1', '-ngl', '0', '-o', 'json'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
  const pp = bench(promptTokens, 0, 0), tg = bench(0, nGen, promptTokens);
  const best = (r) => Math.max(...r.samples_ts);
  return { pp: best(pp.find((r) => r.n_prompt > 0)), tg: best(tg.find((r) => r.n_gen > 0)), build: `llama.cpp ${pp[0].build_commit}` };
}

function nodeRun(bin, webDir, model, threads, simd) {
  const job = { web: pathToFileURL(join(webDir, 'web/index.js')).href, model, threads, simd, promptTokens, nGen, reps };
  const r = spawnSync(bin, [fileURLToPath(import.meta.url), '--node-child', JSON.stringify(job)], { maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`node child failed: ${r.stderr.toString().slice(-2000)}`);
  return JSON.parse(r.stdout.toString());
}

let page = null;
async function chromiumRun(webDir, model, threads, simd) {
  const job = { web: `${served(webDir)}/web/index.js`.replace(/^\/\//, '/'), model: served(model), threads, simd, promptTokens, nGen, reps };
  return page.evaluate(benchKite, job);
}

// ---- the rounds -------------------------------------------------------------------------------

const webs = [['', root], ...(baseDir ? [['base ', resolve(baseDir)]] : [])];
const configs = []; // [label, run(model, threads)]
if (engines.includes('native')) configs.push(['llama.cpp native', (m, t) => nativeRun(m, t)]);
for (const [tag, dir] of webs) {
  if (engines.includes('chromium-simd128')) configs.push([`${tag}chromium simd128`, (m, t) => chromiumRun(dir, m, t, 'simd128')]);
  if (engines.includes('chromium-relaxed')) configs.push([`${tag}chromium relaxed`, (m, t) => chromiumRun(dir, m, t, 'relaxed')]);
  for (const [bin, major] of nodes)
    for (const simd of ['simd128', 'auto'])
      if (engines.includes(`node-${simd}`)) configs.push([`${tag}node${major} ${simd}`, (m, t) => nodeRun(bin, dir, m, t, simd)]);
}

// Every thread of the processes below this one gets this process's niceness (see the top).
function reniceTree(nice) {
  autogroupNice(process.pid, nice);
  for (const { pid } of descendants(process.pid)) {
    autogroupNice(pid, nice); // Chromium's own session (see proc_tree.mjs)
    for (const t of threads(pid)) {
      try {
        if (getPriority(t) !== nice) setPriority(t, nice);
      } catch { /* gone, or not allowed */ }
    }
  }
}
const myNice = getPriority();
const renicer = myNice !== 0 ? setInterval(() => reniceTree(myNice), 200) : null;

let server = null, browser = null;
if (configs.some(([l]) => l.includes('chromium'))) {
  const { serve } = await import('../web/serve.mjs');
  const { launchChromium } = await import('../tests/node/chromium.mjs');
  server = await serve({ port: 0 });
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`http://127.0.0.1:${server.port}/package.json`);
}

const f1 = (x) => x.toFixed(1), f2 = (x) => `${x.toFixed(2)}x`;
const res = new Map(); // `${round}|${model}|${threads}|${label}` -> { pp, tg }
const key = (...k) => k.join('|');
console.log(`prefill ~${promptTokens} tokens / decode ${nGen} tokens after them (llama-bench: tg at -d ${promptTokens}), ` +
  `tokens/s (best of ${reps}), ${rounds} round(s); ` +
  `threads ${threadList.join(', ')}; the engines take turns within each round`);
try {
  for (let round = 1; round <= rounds; round++) {
    console.log(`\nround ${round}`);
    console.log('| model | threads | engine | prefill tok/s | decode tok/s | prefill / native | decode / native | build |');
    console.log('|---|---:|---|---:|---:|---:|---:|---|');
    for (const [name, model] of models)
      for (const t of threadList) {
        let native = null;
        for (const [label, run] of configs) {
          const r = await run(model, t);
          res.set(key(round, name, t, label), r);
          if (label === 'llama.cpp native') native = r;
          const rel = (k) => (native && label !== 'llama.cpp native' ? f2(r[k] / native[k]) : '');
          console.log(`| ${name} | ${t} | ${label} | ${f1(r.pp)} | ${f1(r.tg)} | ${rel('pp')} | ${rel('tg')} | ${r.build}` +
            `${r.nPrompt ? ` (prompt ${r.nPrompt}, generated ${r.nGen})` : ''} |`);
        }
      }
  }
} finally {
  if (browser) await browser.close();
  if (server) await server.close();
  for (const l of links.values()) rmSync(l, { force: true });
  if (renicer) clearInterval(renicer);
}

// ---- the ranges over the rounds -----------------------------------------------------------------

const range = (xs) => (xs.length ? `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}x` : '-');
const ratios = (fn) => Array.from({ length: rounds }, (_, i) => fn(i + 1)).filter((x) => Number.isFinite(x));
console.log(`\nranges over ${rounds} round(s) (min-max of the per-round ratios)`);
if (engines.includes('native')) console.log('| model | engine | threads | prefill / native | decode / native |\n|---|---|---:|---:|---:|');
for (const [name] of models)
  for (const [label] of engines.includes('native') ? configs : []) {
    if (label === 'llama.cpp native') continue;
    for (const t of threadList) {
      const rel = (k) => ratios((r) => res.get(key(r, name, t, label))?.[k] / res.get(key(r, name, t, 'llama.cpp native'))?.[k]);
      console.log(`| ${name} | ${label} | ${t} | ${range(rel('pp'))} | ${range(rel('tg'))} |`);
    }
  }
if (threadList.includes(1) && threadList.includes(2)) {
  console.log('\n| model | engine | prefill 2 threads / 1 | decode 2 threads / 1 |');
  console.log('|---|---|---:|---:|');
  for (const [name] of models)
    for (const [label] of configs) {
      const sc = (k) => ratios((r) => res.get(key(r, name, 2, label))?.[k] / res.get(key(r, name, 1, label))?.[k]);
      console.log(`| ${name} | ${label} | ${range(sc('pp'))} | ${range(sc('tg'))} |`);
    }
}
// each Node run against Chromium's run of the same build (relaxed or SIMD128, as loaded)
for (const [tag] of webs) {
  const nodeLabels = configs.map(([l]) => l).filter((l) => l.startsWith(`${tag}node`));
  if (!nodeLabels.length || !configs.some(([l]) => l.startsWith(`${tag}chromium`))) continue;
  console.log(`\n| model | threads | ${tag}Node engine (build) | Node / Chromium same build, prefill | decode |`);
  console.log('|---|---:|---|---:|---:|');
  for (const [name] of models)
    for (const t of threadList)
      for (const n of nodeLabels) {
        const build = res.get(key(1, name, t, n))?.build ?? '';
        const c = `${tag}chromium ${build.endsWith('-relaxed') ? 'relaxed' : 'simd128'}`;
        if (!configs.some(([l]) => l === c)) continue;
        const q = (k) => ratios((r) => res.get(key(r, name, t, n))?.[k] / res.get(key(r, name, t, c))?.[k]);
        console.log(`| ${name} | ${t} | ${n} (${build}) | ${range(q('pp'))} | ${range(q('tg'))} |`);
      }
}
if (baseDir)
  for (const [eng] of configs) {
    if (eng === 'llama.cpp native' || eng.startsWith('base ') || !configs.some(([l]) => l === `base ${eng}`)) continue;
    console.log(`\n| model | threads | ${eng}: this / base, prefill | decode |`);
    console.log('|---|---:|---:|---:|');
    for (const [name] of models)
      for (const t of threadList) {
        const q = (k) => ratios((r) => res.get(key(r, name, t, eng))?.[k] / res.get(key(r, name, t, `base ${eng}`))?.[k]);
        console.log(`| ${name} | ${t} | ${range(q('pp'))} | ${range(q('tg'))} |`);
      }
  }
