// quantize_npm.mjs - benchmark, not a test: the npm package's quantize() in Node (the wasm
// build in dist/), whole call wall time per type, median of REPS runs, the process's CPU time
// (every thread: the worker's wasm too; on a busy host it moves less than wall time), and the
// sha256 of the output so runs of different builds can be checked for the same bytes.
//   node bench/quantize_npm.mjs MODEL.gguf [TYPES=Q4_K_M,Q6_K,IQ4_XS] [THREADS=1] [REPS=5]
// THREADS 1 loads the single-thread build (flavor st), more the pthreads one (mt).
// KITE_WEB=/path/to/web/index.js benchmarks another checkout's package (web/ and its dist/).
// KITE_IMATRIX=/path/to/imatrix.gguf passes it as quantize()'s imatrix option (the IQ types).
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const [model, types = 'Q4_K_M,Q6_K,IQ4_XS', threadsArg = '1', repsArg = '5'] = process.argv.slice(2);
if (!model) {
  console.error('usage: node bench/quantize_npm.mjs MODEL.gguf [TYPES] [THREADS] [REPS]');
  process.exit(2);
}
const web = process.env.KITE_WEB ? pathToFileURL(process.env.KITE_WEB).href : new URL('../web/index.js', import.meta.url).href;
const { quantize } = await import(web);
const threads = Number(threadsArg), reps = Number(repsArg);
const flavor = threads > 1 ? 'mt' : 'st';
const imatrix = process.env.KITE_IMATRIX ? { imatrix: process.env.KITE_IMATRIX } : {};
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`${web}: ${model}${imatrix.imatrix ? ` (imatrix ${imatrix.imatrix})` : ''}, ${threads} thread(s) (${flavor}), median of ${reps}`);
for (const type of types.split(',')) {
  const times = [], cpus = [];
  let digest = '';
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    const out = await quantize(model, type, { threads, flavor, simd: 'simd128', ...imatrix });
    times.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1e6);
    digest = createHash('sha256').update(out).digest('hex').slice(0, 16);
  }
  console.log(`${type}\t${median(times).toFixed(3)} s\t(runs ${times.map((t) => t.toFixed(2)).join(' ')})\tcpu ${median(cpus).toFixed(3)} s\tsha256 ${digest}`);
}
