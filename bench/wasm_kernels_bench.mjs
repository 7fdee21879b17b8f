// wasm_kernels_bench.mjs - benchmark, not a test: kernels_bench (bench/kernels_bench.c) built for
// WASI, run in headless Chromium (V8 as a page runs it, wall time) and under Node's node:wasi
// (CPU time; the relaxed-SIMD build behind a flag before Node 21). Default arguments:
// --iq --hot (hot-weight GEMV GB/s of weight bytes per type and kernel set, ratios to Q4_K);
// --cold --types T,... the same with a matrix larger than the caches, as a decode reads it.
// In the page, the CPU-time clocks (what --hot and --gemm time with) read the CPU time of
// Chromium's renderer processes from /proc (a synchronous request to this script), so a busy
// machine slows the numbers less than wall time would.
//   node bench/wasm_kernels_bench.mjs [kernels_bench args...]
// Builds: cmake --preset wasi-tests (SIMD128), cmake --preset wasi-tests-relaxed (relaxed);
// KITE_WASI_BUILDS=DIR,DIR... runs these build folders' kernels_bench instead (another
// checkout's too, for a before / after in one run). KITE_WASI_NODE=0 skips Node;
// KITE_WASI_NODE=BIN,BIN... runs each of these Node binaries instead of the one running this script
// (e.g. /usr/bin/node,build/node24/bin/node: Node 20 and Node 24, which scripts/setup.sh puts there);
// KITE_WASI_CHROMIUM=0 skips Chromium.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../tests/node/chromium.mjs';
import { descendants, threads } from './proc_tree.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.length > 2 ? process.argv.slice(2) : ['--iq', '--hot'];
const BUILDS = process.env.KITE_WASI_BUILDS
  ? process.env.KITE_WASI_BUILDS.split(',').map((d) => [`${/relaxed/.test(d) ? 'relaxed SIMD' : 'SIMD128'} ${d}`, resolve(d)])
  : [['SIMD128', 'build/wasi-tests'], ['relaxed SIMD', 'build/wasi-tests-relaxed']];

// CPU nanoseconds of the renderer processes below process rootPid (every thread: /proc/PID/task/TID/schedstat).
function rendererCpuNs(rootPid) {
  let ns = 0n;
  for (const { pid, cmdline } of descendants(rootPid)) {
    if (!cmdline.includes('--type=renderer')) continue;
    for (const t of threads(pid)) {
      try { ns += BigInt(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* gone */ }
    }
  }
  return ns;
}

// Runs a WASI command module in the page: arguments, stdout/stderr, clocks (performance.now for
// wall time; the CPU-time ids from cpuUrl, the renderers' CPU time), exit; other calls answer ENOSYS.
async function wasiInPage([b64, argv, cpuUrl]) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const enc = new TextEncoder(), dec = new TextDecoder();
  const argz = argv.map((a) => enc.encode(`${a}\0`));
  let out = '', memory;
  const view = () => new DataView(memory.buffer);
  const calls = {
    args_sizes_get: (argc, size) => (view().setUint32(argc, argz.length, true), view().setUint32(size, argz.reduce((s, a) => s + a.length, 0), true), 0),
    args_get: (ptrs, buf) => {
      for (const [i, a] of argz.entries()) {
        view().setUint32(ptrs + 4 * i, buf, true);
        new Uint8Array(memory.buffer, buf, a.length).set(a);
        buf += a.length;
      }
      return 0;
    },
    environ_sizes_get: (count, size) => (view().setUint32(count, 0, true), view().setUint32(size, 0, true), 0),
    environ_get: () => 0,
    clock_time_get: (id, prec, ptr) => {
      let ns;
      if (id === 2 || id === 3) { // process / thread CPU time
        const x = new XMLHttpRequest();
        x.open('GET', cpuUrl, false);
        x.send();
        ns = BigInt(x.responseText);
      } else {
        ns = BigInt(Math.round(performance.now() * 1e6));
      }
      view().setBigUint64(ptr, ns, true);
      return 0;
    },
    clock_res_get: (id, ptr) => (view().setBigUint64(ptr, 1000n, true), 0),
    fd_write: (fd, iovs, n, written) => {
      let total = 0;
      for (let i = 0; i < n; i++) {
        const ptr = view().getUint32(iovs + 8 * i, true), len = view().getUint32(iovs + 8 * i + 4, true);
        out += dec.decode(new Uint8Array(memory.buffer, ptr, len));
        total += len;
      }
      view().setUint32(written, total, true);
      return 0;
    },
    fd_fdstat_get: (fd, st) => {
      new Uint8Array(memory.buffer, st, 24).fill(0);
      view().setUint8(st, 2);
      view().setBigUint64(st + 8, ~0n, true), view().setBigUint64(st + 16, ~0n, true);
      return 0;
    },
    fd_seek: () => 70,
    fd_close: () => 0,
    proc_exit: (code) => { throw { exitCode: code }; },
  };
  const wasi = new Proxy(calls, { get: (t, k) => t[k] ?? (() => 52) });
  const { instance } = await WebAssembly.instantiate(bytes, { wasi_snapshot_preview1: wasi });
  memory = instance.exports.memory;
  try {
    instance.exports._start();
  } catch (e) {
    if (!(e && typeof e.exitCode === 'number')) out += `\n${e}`;
  }
  return out;
}

const chromium = process.env.KITE_WASI_CHROMIUM !== '0';
// [binary, version, V8 version] of each Node to run
const nodes = process.env.KITE_WASI_NODE === '0' ? []
  : (process.env.KITE_WASI_NODE || process.execPath).split(',').map((b) => {
    const bin = b === process.execPath ? b : resolve(b);
    const [v, v8] = spawnSync(bin, ['-p', 'process.version + " " + process.versions.v8']).stdout.toString().trim().split(' ');
    return [bin, v, v8];
  });
const browser = chromium ? await launchChromium() : null;
const cpuServer = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'access-control-allow-origin': '*' });
  res.end(String(rendererCpuNs(process.pid))); // (the browser is a child of this process)
});
await new Promise((ok) => cpuServer.listen(0, '127.0.0.1', ok));
const cpuUrl = `http://127.0.0.1:${cpuServer.address().port}/cpu`;
try {
  for (const [name, dir] of BUILDS) {
    const file = [resolve(root, dir, 'kernels_bench.wasm'), resolve(root, dir, 'kernels_bench')].find((p) => existsSync(p));
    if (!file) {
      console.log(`${name}: ${dir}/kernels_bench missing (cmake --preset ${dir.split('/')[1]} && cmake --build ${dir} --target kernels_bench)`);
      continue;
    }
    if (browser) {
      const page = await browser.newPage();
      console.log(`== ${name}, Chromium (CPU time of the renderers; wall time where kernels_bench reads wall time) ==`);
      console.log(await page.evaluate(wasiInPage, [readFileSync(file).toString('base64'), ['kernels_bench', ...args], cpuUrl]));
      await page.close();
    }
    // Node too (CPU time: steadier than the page's wall time on a shared machine); before Node 21
    // relaxed SIMD sits behind a flag, and that V8 has no VNNI form of the relaxed dot products
    // (its relaxed numbers are its own, not Chromium's)
    for (const [bin, version, v8] of nodes) {
      const flags = !name.startsWith('SIMD128') && Number(version.slice(1).split('.')[0]) < 21 ? ['--experimental-wasm-relaxed-simd'] : [];
      const r = spawnSync(bin, [...flags, join(root, 'wasm/kite-wasi.mjs'), ...args], { env: { ...process.env, KITE_WASI: file } });
      console.log(`== ${name}, Node ${version} (V8 ${v8}) node:wasi (CPU time) ==\n${r.stdout}${r.stderr}`);
    }
  }
} finally {
  if (browser) await browser.close();
  cpuServer.close();
}
