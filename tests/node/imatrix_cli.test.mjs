// imatrix_cli.test.mjs - `kite imatrix --in-file` and `--show-statistics`, as llama-imatrix does
// them. Combining: matrices written in llama-imatrix's two published layouts (imatrix_files.mjs)
// are added up as its loader adds them (GGUF sums and counts as stored; a legacy file's values
// and call count times the chunk length -c), in float32, in file order; the datasets are listed
// in file order; chunk_count is the largest count over the chunk length. The output is read
// back with node-llama-cpp's GGUF reader. Where llama-imatrix is built (build/llama.cpp/bin, not
// in CI) the combined files and the statistics table are also compared with its own output.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { kiteBin, modelsDir, repoRoot, requireModels } from './helpers.mjs';
import { imatrixDat, imatrixGguf, syntheticImatrix } from './imatrix_files.mjs';

const llamaImatrix = join(repoRoot, 'build/llama.cpp/bin/llama-imatrix');
const haveLlama = existsSync(llamaImatrix);
const stories = () => join(repoRoot, 'models/stories260K.gguf');
const f = Math.fround;
let tmp;

before(() => {
  requireModels();
  tmp = mkdtempSync(join(tmpdir(), 'kite-imatrix-cli-'));
});
after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

const kite = (args, opts = {}) => spawnSync(kiteBin(), ['imatrix', ...args], { encoding: 'utf8', cwd: tmp, ...opts });

// A GGUF imatrix file read back: { datasets, chunkCount, chunkSize, sums: {W: Float32Array}, counts: {W: [..]} }.
async function readImatrix(path) {
  const info = await readGgufFileInfo(path, { readTensorInfo: true });
  const buf = readFileSync(path);
  const out = { datasets: info.metadata.imatrix.datasets, chunkCount: info.metadata.imatrix.chunk_count,
    chunkSize: info.metadata.imatrix.chunk_size, sums: {}, counts: {} };
  for (const t of info.tensorInfo) {
    const n = t.dimensions.reduce((a, b) => a * Number(b), 1);
    const v = new Float32Array(buf.buffer.slice(buf.byteOffset + t.fileOffset, buf.byteOffset + t.fileOffset + 4 * n));
    const m = /^(.*)\.(in_sum2|counts)$/.exec(t.name);
    if (m[2] === 'in_sum2') out.sums[m[1]] = v;
    else out.counts[m[1]] = Array.from(v);
  }
  return out;
}

// llama-imatrix's statistics table: the lines from its header on, log prefixes stripped. Its log
// goes through a thread that the process's exit cuts short: nothing reaches a pipe, and on a
// terminal (script's pseudo-terminal) only some runs get the whole table out. So it is run until
// one prints every row its two headers announce.
function llamaStatistics(args) {
  const cmd = [llamaImatrix, ...args].map((a) => `'${a}'`).join(' ');
  for (let attempt = 0; attempt < 40; attempt++) {
    const r = spawnSync('script', ['-qc', cmd, '/dev/null'], { encoding: 'utf8', cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = r.stdout.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '').split('\n')
      .map((l) => l.replace(/^\d+\.\d+\.\d+\.\d+ [A-Z] /, '')).filter((l) => l.trim() !== '');
    const from = lines.findIndex((l) => l.startsWith('Computing statistics'));
    const per = lines.findIndex((l) => l.startsWith('Computing weighted average'));
    if (from < 0 || per < 0) continue;
    const nTensors = Number(/\((\d+) tensors\)/.exec(lines[from])[1]), nLayers = Number(/\((\d+) layers\)/.exec(lines[per])[1]);
    if (per - from - 3 === nTensors && lines.length - per - 3 === nLayers) return lines.slice(from);
  }
  assert.fail(`llama-imatrix ${args.join(' ')} never printed its whole statistics table`);
}

const tensors = [
  { name: 'blk.0.attn_q.weight', n: 64 },
  { name: 'blk.1.attn_q.weight', n: 64 },
  { name: 'blk.0.ffn_down.weight', n: 128 },
];

test('--in-file: GGUF and legacy matrices add up as llama-imatrix loads them', async () => {
  const a = syntheticImatrix(tensors, 1), b = syntheticImatrix(tensors, 2), c = syntheticImatrix(tensors, 3);
  writeFileSync(join(tmp, 'a.gguf'), imatrixGguf(a, { count: 640, chunks: 10, chunkSize: 64, dataset: 'a.txt' }));
  writeFileSync(join(tmp, 'b.gguf'), imatrixGguf(b, { count: 384, chunks: 6, chunkSize: 64, dataset: 'b.txt' }));
  writeFileSync(join(tmp, 'c.dat'), imatrixDat(c, { ncall: 5, chunks: 5, dataset: 'c.txt' }));

  let r = kite(['--in-file', 'a.gguf', '--in-file', 'c.dat', '--in-file', 'b.gguf', '-o', 'sum.gguf', '-c', '64']);
  assert.equal(r.status, 0, r.stderr);
  const got = await readImatrix(join(tmp, 'sum.gguf'));
  assert.deepEqual(got.datasets, ['a.txt', 'c.txt', 'b.txt']);
  assert.equal(got.chunkSize, 64);
  const count = 640 + 5 * 64 + 384;
  assert.equal(got.chunkCount, Math.floor(count / 64));
  assert.deepEqual(Object.keys(got.sums).sort(), tensors.map((t) => t.name).sort());
  for (const { name, n } of tensors) {
    assert.deepEqual(got.counts[name], [count], name);
    // what each file holds (float32), added in file order in float32
    const sa = Float32Array.from(a[name], (x) => x * 640), sb = Float32Array.from(b[name], (x) => x * 384);
    const sc = Float32Array.from(c[name], (x) => x * 5);
    for (let j = 0; j < n; j++) {
      const want = f(f(sa[j] + f(sc[j] * 64)) + sb[j]);
      assert.equal(got.sums[name][j], want, `${name}[${j}]`);
    }
  }

  // the legacy output of the same sum: mean * calls, calls = ceil(count / chunk length)
  r = kite(['--in-file', 'a.gguf', '--in-file', 'c.dat', '--in-file', 'b.gguf', '-o', 'sum.dat', '-c', '64', '--output-format', 'dat']);
  assert.equal(r.status, 0, r.stderr);
  const dat = readFileSync(join(tmp, 'sum.dat'));
  const dv = new DataView(dat.buffer, dat.byteOffset, dat.byteLength);
  assert.equal(dv.getInt32(0, true), tensors.length);
  let off = 4;
  const ncall = Math.ceil(count / 64);
  for (const name of tensors.map((t) => t.name).sort()) {
    const len = dv.getInt32(off, true);
    assert.equal(dat.subarray(off + 4, off + 4 + len).toString(), name);
    off += 4 + len;
    assert.equal(dv.getInt32(off, true), ncall);
    const nval = dv.getInt32(off + 4, true);
    off += 8;
    for (let j = 0; j < nval; j++, off += 4) assert.equal(dv.getFloat32(off, true), f(f(got.sums[name][j] / count) * ncall));
  }
  assert.equal(dv.getInt32(off, true), Math.floor(count / 64), 'chunk count');
  assert.equal(dat.subarray(off + 8).toString(), 'b.txt', 'a combined legacy file names the last dataset');

  if (!haveLlama) return;
  // llama-imatrix's own combination of the same files (it wants a model even to combine)
  for (const [out, extra] of [['llama-sum.gguf', []], ['llama-sum.dat', ['--output-format', 'dat']]]) {
    execFileSync(llamaImatrix, ['-m', stories(), '--in-file', 'a.gguf', '--in-file', 'c.dat', '--in-file', 'b.gguf', '-o', out, '-c', '64', ...extra],
      { cwd: tmp, stdio: 'ignore' });
    const mine = readFileSync(join(tmp, out.replace('llama-', '')));
    assert.ok(mine.equals(readFileSync(join(tmp, out))), `${out}: kite's bytes differ from llama-imatrix's`);
  }
});

test('--in-file with -f: the run adds to the matrix read (datasets in order, counts summed)', async () => {
  const text = readFileSync(join(modelsDir(), '../text/stories.txt'), 'utf8');
  writeFileSync(join(tmp, 'part1.txt'), text.slice(0, 1650));
  writeFileSync(join(tmp, 'part2.txt'), text.slice(1650));
  for (const p of ['part1', 'part2']) {
    const r = kite(['-m', stories(), '-f', `${p}.txt`, '-o', `${p}.gguf`, '-c', '64']);
    assert.equal(r.status, 0, r.stderr);
  }
  const r = kite(['--in-file', 'part1.gguf', '-m', stories(), '-f', 'part2.txt', '-o', 'both.gguf', '-c', '64']);
  assert.equal(r.status, 0, r.stderr);
  const [p1, p2, both] = await Promise.all(['part1', 'part2', 'both'].map((p) => readImatrix(join(tmp, `${p}.gguf`))));
  assert.deepEqual(both.datasets, ['part1.txt', 'part2.txt']);
  for (const name of Object.keys(p1.sums)) {
    assert.deepEqual(both.counts[name], [p1.counts[name][0] + p2.counts[name][0]], name);
    // the run adds its activations to the sums read, so only the order of the additions differs
    for (let j = 0; j < p1.sums[name].length; j++) {
      const want = p1.sums[name][j] + p2.sums[name][j];
      assert.ok(Math.abs(both.sums[name][j] - want) <= 1e-5 * want, `${name}[${j}]: ${both.sums[name][j]} vs ${want}`);
    }
  }
  assert.equal(both.chunkCount, p1.chunkCount + p2.chunkCount);
  if (!haveLlama) return;
  execFileSync(llamaImatrix, ['-m', stories(), '--in-file', 'part1.gguf', '-f', 'part2.txt', '-o', 'llama-both.gguf', '-c', '64', '--no-ppl', '-t', '1'],
    { cwd: tmp, stdio: 'ignore' });
  const l = await readImatrix(join(tmp, 'llama-both.gguf'));
  assert.deepEqual(l.datasets, both.datasets);
  assert.equal(l.chunkCount, both.chunkCount);
  for (const name of Object.keys(l.sums)) {
    assert.deepEqual(both.counts[name], l.counts[name], name);
    for (let j = 0; j < l.sums[name].length; j++)
      // its activations are llama.cpp's own float order: test_imatrix_cli's per-column bound
      assert.ok(Math.abs(both.sums[name][j] - l.sums[name][j]) <= 2e-3 * l.sums[name][j], `${name}[${j}] vs llama-imatrix`);
  }
});

test('--show-statistics: llama-imatrix\'s table of the matrix', async () => {
  const values = syntheticImatrix(tensors, 7);
  writeFileSync(join(tmp, 's.gguf'), imatrixGguf(values, { count: 640, chunks: 10, chunkSize: 64, dataset: 's.txt' }));
  const r = kite(['--in-file', 's.gguf', '--show-statistics']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  assert.match(lines[0], /^Computing statistics for s\.gguf \(3 tensors\)$/);
  const rows = lines.filter((l) => /^\s+\d+\t/.test(l) && l.split('\t').length === 13).map((l) => l.split('\t').map((x) => x.trim()));
  assert.equal(rows.length, 3);
  // rows by short name, then by Σ(Act²) falling: attn_q (two layers), ffn_down
  assert.deepEqual(rows.map((x) => x[1]), ['attn_q', 'attn_q', 'ffn_down']);
  for (const row of rows) {
    const name = `blk.${row[0]}.${row[1]}.weight`;
    const means = Array.from(values[name], (x) => f(f(x * 640) / 640));
    assert.equal(Number(row[2]), Number(means.reduce((s, x) => s + x, 0).toFixed(2)), `${name} Σ(Act²)`);
    assert.equal(Number(row[3]), Number(Math.min(...means).toFixed(4)), `${name} min`);
    assert.equal(Number(row[4]), Number(Math.max(...means).toFixed(4)), `${name} max`);
    assert.equal(Number(row[8]), means.length, `${name} N`);
  }
  assert.ok(Number(rows[0][2]) >= Number(rows[1][2]));
  // a layer number no model has (a hostile name) is one more row, not a walk over every number
  // below it; one past an int is no layer at all, as llama-imatrix's std::stoi has it
  writeFileSync(join(tmp, 'far.gguf'), imatrixGguf(syntheticImatrix([{ name: 'blk.2000000000.attn_q.weight', n: 8 },
    { name: 'blk.99999999999.attn_q.weight', n: 8 }], 3), { chunkSize: 64 }));
  const far = kite(['--in-file', 'far.gguf', '--show-statistics'], { timeout: 20000 });
  assert.equal(far.status, 0, far.stderr);
  assert.match(far.stdout, /per layer \(1 layers\)[\s\S]*\n2000000000\t/);
  if (!haveLlama) return;
  for (const file of ['s.gguf']) {
    const want = llamaStatistics(['-m', stories(), '--in-file', file, '--show-statistics']);
    const got = kite(['--in-file', file, '--show-statistics']).stdout.split('\n').filter((l) => l.trim() !== '');
    assert.deepEqual(got, want, `${file}: the table differs from llama-imatrix's`);
  }
  // a real MoE matrix (per-expert counts) too
  const moe = join(modelsDir(), 'arch/qwen3moe.gguf');
  let k = kite(['-m', moe, '-f', join(modelsDir(), '../text/stories.txt'), '-o', 'moe.gguf', '-c', '64']);
  assert.equal(k.status, 0, k.stderr);
  const want = llamaStatistics(['-m', moe, '--in-file', 'moe.gguf', '--show-statistics', '-c', '64']);
  k = kite(['--in-file', 'moe.gguf', '--show-statistics', '-c', '64']);
  assert.deepEqual(k.stdout.split('\n').filter((l) => l.trim() !== ''), want, 'qwen3moe: the table differs from llama-imatrix\'s');
});

test('--in-file / --show-statistics refuse what they cannot use, naming it', () => {
  writeFileSync(join(tmp, 'one.gguf'), imatrixGguf(syntheticImatrix(tensors, 1), { chunkSize: 64 }));
  writeFileSync(join(tmp, 'other.gguf'), imatrixGguf(syntheticImatrix([{ name: 'blk.0.attn_q.weight', n: 32 }], 1), { chunkSize: 64 }));
  const cases = [
    [['--show-statistics'], 2, /--show-statistics needs exactly one --in-file \(0 given\)/],
    [['--in-file', 'one.gguf', '--in-file', 'one.gguf', '--show-statistics'], 2, /exactly one --in-file \(2 given\)/],
    [['-o', 'x.gguf'], 2, /-f TEXT is required \(or --in-file/],
    [['--in-file', 'missing.gguf', '-o', 'x.gguf'], 1, /missing\.gguf/],
    [['--in-file', stories(), '-o', 'x.gguf'], 1, /--in-file .*stories260K\.gguf: imatrix: missing imatrix metadata/],
    [['--in-file', 'one.gguf', '--in-file', 'other.gguf', '-o', 'x.gguf'], 1, /other\.gguf: inconsistent shape for blk\.0\.attn_q\.weight/],
    [['--in-file'], 2, /--in-file needs a value/],
    [['--in-file', 'one.gguf', '-m', stories(), '-f', 'missing.txt', '-o', 'x.gguf'], 1, /missing\.txt/],
  ];
  for (const [args, status, re] of cases) {
    const r = kite(args);
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
  assert.equal(existsSync(join(tmp, 'x.gguf')), false, 'nothing written on a refusal');
});
