// wasm_kernels.test.mjs - the C kernel test (tests/unit/test_kernels.c) built for WASI, run inside
// wasm: every wasm kernel set must give the scalar _ref's float bits (the canonical order of
// src/kernels/kernels_internal.h). The SIMD128 build (preset wasi-tests) runs under node:wasi
// through wasm/kite-wasi.mjs; the relaxed-SIMD build (preset wasi-tests-relaxed) runs in headless
// Chromium through a minimal WASI shim (what browsers execute), and under node:wasi too where this
// Node's V8 validates relaxed SIMD without a flag (Node 22 and later: there the npm package's
// simd: 'auto' loads the relaxed builds; Node 20 needs --experimental-wasm-relaxed-simd and its V8
// computes the final relaxed dot product wrong, so that run is skipped under Node 20).
// scripts/test.sh runs this file under Node 20 and its relaxed node:wasi runs (test_kernels and
// test_attend_group) under Node 24 too. The other C tests that build for WASI run under node:wasi
// as well (SIMD128). A missing build fails under CI=true and is skipped with a message
// elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './wasm_helpers.mjs';
import { hasRelaxedSimd } from '../../web/env.js';

// Why the relaxed build cannot run under this Node (false where it can: Node 22 and later)
const noRelaxedNode = !hasRelaxedSimd() && `Node ${process.versions.node}'s V8 runs no relaxed SIMD without a flag (Node 22 and later do)`;

const VARIANTS = [
  { name: 'SIMD128', dir: 'build/wasi-tests', preset: 'wasi-tests', isa: 'wasm-simd128', run: runNode },
  { name: 'relaxed SIMD', dir: 'build/wasi-tests-relaxed', preset: 'wasi-tests-relaxed', isa: 'wasm-relaxed', run: runChromium },
  { name: `relaxed SIMD, Node ${process.versions.node}`, dir: 'build/wasi-tests-relaxed', preset: 'wasi-tests-relaxed', isa: 'wasm-relaxed', run: runNode,
    skip: noRelaxedNode },
];

// The built module (CMake names it with or without the .wasm suffix), or null.
function binary(dir) {
  return [join(repoRoot, dir, 'test_kernels.wasm'), join(repoRoot, dir, 'test_kernels')].find((p) => existsSync(p)) ?? null;
}

function runNode(file) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'wasm/kite-wasi.mjs')], {
    env: { ...process.env, KITE_WASI: file, KITE_ROOT: repoRoot }, maxBuffer: 1 << 26,
  });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

// Runs in the page: the module's _start with the WASI preview1 calls test_kernels makes (stdout and
// stderr writes, an empty environment, exit); any other call answers ENOSYS.
async function wasiInPage(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const out = { 1: '', 2: '' };
  const decoder = new TextDecoder();
  let memory;
  const view = () => new DataView(memory.buffer);
  const calls = {
    args_sizes_get: (argc, size) => (view().setUint32(argc, 0, true), view().setUint32(size, 0, true), 0),
    args_get: () => 0,
    environ_sizes_get: (count, size) => (view().setUint32(count, 0, true), view().setUint32(size, 0, true), 0),
    environ_get: () => 0,
    fd_write: (fd, iovs, n, written) => {
      let total = 0;
      for (let i = 0; i < n; i++) {
        const ptr = view().getUint32(iovs + 8 * i, true), len = view().getUint32(iovs + 8 * i + 4, true);
        out[fd] = (out[fd] ?? '') + decoder.decode(new Uint8Array(memory.buffer, ptr, len));
        total += len;
      }
      view().setUint32(written, total, true);
      return 0;
    },
    fd_fdstat_get: (fd, st) => { // a character device with every right
      new Uint8Array(memory.buffer, st, 24).fill(0);
      view().setUint8(st, 2);
      view().setBigUint64(st + 8, ~0n, true), view().setBigUint64(st + 16, ~0n, true);
      return 0;
    },
    fd_seek: () => 70, // ESPIPE: stdout and stderr are not seekable
    fd_close: () => 0,
    proc_exit: (code) => { throw { exitCode: code }; },
  };
  const wasi = new Proxy(calls, { get: (t, k) => t[k] ?? (() => 52) }); // 52: ENOSYS
  const { instance } = await WebAssembly.instantiate(bytes, { wasi_snapshot_preview1: wasi });
  memory = instance.exports.memory;
  let code = 0;
  try {
    instance.exports._start();
  } catch (e) {
    if (e && typeof e.exitCode === 'number') code = e.exitCode;
    else return { code: -1, stdout: out[1], stderr: `${out[2]}\n${e}` };
  }
  return { code, stdout: out[1], stderr: out[2] };
}

async function runChromium(file) {
  const { launchChromium } = await import('./chromium.mjs');
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    return await page.evaluate(wasiInPage, readFileSync(file).toString('base64'));
  } finally {
    await browser.close();
  }
}

for (const v of VARIANTS) {
  test(`test_kernels in wasm (${v.name}): every kernel set gives the _ref's bits`, { timeout: 300_000, skip: v.skip }, async (t) => {
    const file = binary(v.dir);
    if (!file) {
      const msg = `${v.dir}/test_kernels.wasm is missing: cmake --preset ${v.preset} && cmake --build --preset ${v.preset}`;
      if (process.env.CI === 'true') assert.fail(msg);
      t.skip(msg);
      return;
    }
    const r = await v.run(file);
    const fails = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.startsWith('FAIL')).slice(0, 20).join('\n');
    assert.match(r.stdout, new RegExp(`kernel sets on this host: scalar ${v.isa} `), r.stdout + r.stderr);
    assert.equal(r.code, 0, `exit ${r.code}:\n${fails || r.stderr}`);
  });
}

// The rest of the C suite that builds for WASI (GGUF reader/writer and the corrupted-file corpus,
// quantizers and their SIMD128 searches, the model ops and forward pass, the attention group op against the scalar op, JSON,
// tool calls, the soft-cap row against musl's tanh, the RMS norm rows with rows in f64x2 lanes) passes inside wasm too: the core is one
// codebase, and musl's libm, wasm's 32-bit size_t and its memory model must not change a result.
const OTHER_TESTS = ['test_gguf_corrupt', 'test_gguf_roundtrip', 'test_json', 'test_model', 'test_model_ops', 'test_serve_tools',
  'test_quant_blocks', 'test_quant_mixture', 'test_quant_simd', 'test_glu_rows', 'test_attend_group', 'test_softcap',
  'test_rmsnorm_rows'];
test('the other C unit tests built for WASI pass under node:wasi (SIMD128)', { timeout: 600_000 }, (t) => {
  const dir = join(repoRoot, 'build/wasi-tests');
  for (const name of OTHER_TESTS) {
    const file = [join(dir, `${name}.wasm`), join(dir, name)].find((p) => existsSync(p));
    if (!file) {
      const msg = `build/wasi-tests/${name} is missing: cmake --preset wasi-tests && cmake --build --preset wasi-tests`;
      if (process.env.CI === 'true') assert.fail(msg);
      t.skip(msg);
      return;
    }
    const r = runNode(file);
    const out = `${r.stdout}\n${r.stderr}`;
    const fails = out.split('\n').filter((l) => l.startsWith('FAIL')).slice(0, 20).join('\n');
    // 77: checks skipped for a missing reference (check.h; only outside CI, where it fails instead)
    if (r.code === 77 && process.env.CI !== 'true') {
      t.diagnostic(`${name}: ${out.split('\n').filter((l) => l.startsWith('skip:')).join('; ')}`);
      r.code = 0;
    }
    assert.equal(r.code, 0, `${name} exit ${r.code}:\n${fails || out.slice(-2000)}`);
    assert.match(out, / passed, 0 failed/, `${name}: no summary line`);
    // the quantizers' SIMD128 search set exists in wasm and was compared with the scalar reference
    if (name === 'test_quant_simd') assert.match(out, /set compared with the reference: wasm\n/, `${name}: the wasm set did not run`);
  }
});

// The attention group op (src/kernels/attend_wasm.c) against the scalar op in the relaxed-SIMD
// build too, in Chromium and (where V8 validates relaxed SIMD) under node:wasi: the same source,
// compiled with relaxed SIMD enabled, must keep the bits.
const ATTEND_RUNS = [
  { name: 'relaxed SIMD, Chromium', run: runChromium },
  { name: `relaxed SIMD, Node ${process.versions.node}`, run: runNode, skip: noRelaxedNode },
];
for (const v of ATTEND_RUNS) {
  test(`test_attend_group in wasm (${v.name}): the group op gives the scalar op's bits`, { timeout: 300_000, skip: v.skip }, async (t) => {
    const file = [join(repoRoot, 'build/wasi-tests-relaxed/test_attend_group.wasm'), join(repoRoot, 'build/wasi-tests-relaxed/test_attend_group')]
      .find((p) => existsSync(p));
    if (!file) {
      const msg = 'build/wasi-tests-relaxed/test_attend_group is missing: cmake --preset wasi-tests-relaxed && cmake --build --preset wasi-tests-relaxed';
      if (process.env.CI === 'true') assert.fail(msg);
      t.skip(msg);
      return;
    }
    const r = await v.run(file);
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.code, 0, `exit ${r.code}:\n${out.split('\n').filter((l) => l.startsWith('FAIL')).join('\n') || out.slice(-2000)}`);
    assert.match(out, /kite_kernels_attend_group \(wasm-relaxed\)/, 'the relaxed set did not run');
    assert.match(out, / passed, 0 failed/, 'no summary line');
  });
}
