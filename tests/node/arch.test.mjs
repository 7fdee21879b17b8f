// arch.test.mjs - the architectures of ../shared/models/arch (qwen3, qwen3moe, gemma2, gemma3,
// smollm3, llama with rope_freqs, phi3 with partial rotary): `kite run` greedy gives llama.cpp's
// text (llama-simple -n 24, FILE.1.txt / FILE.2.txt beside each model), the wasm build samples
// the same ids as the native CLI, Q8_0 and Q4_K_M quantizations of each load and generate, and
// a GGUF that names an architecture Kite does not run is refused naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kiteBin, modelsDir, requireModels, repoRoot } from './helpers.mjs';

const PROMPTS = [
  'The capital of France is',
  'Once upon a time, in a small village at the edge of a great forest, there lived an old woodcutter and his three',
];
const MODELS = ['qwen3', 'qwen3moe', 'gemma3', 'gemma2', 'smollm3', 'llama3', 'phi4mini'];

// Where llama-simple's build and ours round a near tie differently, the tokens before it. The
// three are ties of this random-weight data (greedy runs of node-llama-cpp's own libllama part
// from llama-simple's there too), measured with kite's logits at the step that differs:
// gemma3 #1 token 11: top two 1.75e-4 apart; gemma3 #2 token 20: llama-simple's token is our
// second, and our flash and non-flash rounding alone move the pair by 0.08 there (with -fa off
// we pick it); phi4mini #1 token 22: 2.8e-4 apart (with -fa off all 24 agree).
const TIES = { 'gemma3.1': 11, 'gemma3.2': 20, 'phi4mini.1': 22 };

const archDir = () => join(modelsDir(), 'arch');
const kite = (args) => execFileSync(kiteBin(), args, { maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const greedy = (file, prompt, n, extra = []) =>
  kite(['run', '-m', file, '-p', prompt, '-n', String(n), '--temp', '0', '--no-stats', ...extra]);

function requireArch() {
  requireModels();
  if (!existsSync(join(archDir(), 'qwen3.gguf'))) throw new Error(`arch models not found in ${archDir()}`);
}

// llama-simple prints the BOS text when the vocabulary adds one ("<s>", then the prompt, with
// a space before it when the SPM vocabulary adds a space prefix), the prompt, then the 24
// generated tokens: the continuation is what follows the echoed prompt.
function llamaContinuation(stem, i) {
  const text = readFileSync(join(archDir(), `${stem}.${i + 1}.txt`), 'utf8');
  const at = text.indexOf(PROMPTS[i]);
  assert.ok(at >= 0, `${stem}.${i + 1}.txt does not echo the prompt`);
  assert.ok(['', '<s>', '<s> '].includes(text.slice(0, at)), `${stem}.${i + 1}.txt: unexpected prefix ${JSON.stringify(text.slice(0, at))}`);
  return text.slice(at + PROMPTS[i].length).replace(/\n$/, '');
}

for (const stem of MODELS) {
  for (let i = 0; i < PROMPTS.length; i++) {
    test(`kite run gives llama-simple's greedy text: ${stem} prompt ${i + 1}`, () => {
      requireArch();
      const file = join(archDir(), `${stem}.gguf`);
      const want = llamaContinuation(stem, i);
      const tie = TIES[`${stem}.${i + 1}`];
      if (tie === undefined) {
        assert.equal(greedy(file, PROMPTS[i], 24), want);
      } else {
        const got = greedy(file, PROMPTS[i], tie);
        assert.ok(want.startsWith(got), `first ${tie} tokens: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
        assert.ok(!want.startsWith(greedy(file, PROMPTS[i], tie + 1)), `agrees past the recorded tie at ${tie}: update TIES`);
      }
    });
  }
}

test('the wasm build samples the native ids on every arch model', async (t) => {
  requireArch();
  if (!existsSync(join(repoRoot, 'dist', 'kite-st.wasm'))) throw new Error('dist/kite-st.wasm is missing: run npm run build:wasm-st');
  const { loadModel } = await import('../../web/index.js');
  const flavors = ['st', 'mt'].filter((f) => existsSync(join(repoRoot, 'dist', `kite-${f}.wasm`)));
  for (const stem of MODELS) {
    const file = join(archDir(), `${stem}.gguf`);
    for (const prompt of PROMPTS) {
      const want = greedy(file, prompt, 24, ['--ids']).trim().split(/\s+/).map(Number);
      for (const flavor of flavors) {
        const m = await loadModel(file, { flavor, threads: 2 });
        try {
          const g = m.generate(prompt, { maxTokens: 24, temperature: 0 });
          await g.text();
          assert.deepEqual((await g.result).tokens, want, `${stem} (${flavor}): ${prompt}`);
        } finally {
          await m.dispose();
        }
      }
    }
  }
  t.diagnostic(`wasm flavours checked: ${flavors.join(', ')}`);
});

test('Q8_0 and Q4_K_M quantizations of every arch model load and generate', () => {
  requireArch();
  const dir = mkdtempSync(join(tmpdir(), 'kite-arch-'));
  try {
    for (const stem of MODELS) {
      for (const type of ['Q8_0', 'Q4_K_M']) {
        const out = join(dir, `${stem}-${type}.gguf`);
        kite(['quantize', join(archDir(), `${stem}.gguf`), out, type]);
        const ids = greedy(out, PROMPTS[0], 8, ['--ids']).trim().split(/\s+/).map(Number);
        assert.equal(ids.length, 8, `${stem} ${type}: ${ids.length} ids`);
        const info = kite(['info', out]);
        assert.match(info, new RegExp(`\\b${type.toLowerCase()}\\b`, 'i'), `${stem} ${type}: no ${type} tensor`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a GGUF naming an architecture Kite does not run is refused, naming it', () => {
  requireArch();
  // smollm3.gguf relabelled 'smollm9' (same length: the file stays valid)
  const bytes = readFileSync(join(archDir(), 'smollm3.gguf'));
  const key = Buffer.from('general.architecture');
  const at = bytes.indexOf(key) + key.length + 4 + 8; // value type u32, string length u64
  assert.equal(bytes.toString('utf8', at, at + 7), 'smollm3');
  bytes.write('smollm9', at, 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'kite-arch-'));
  try {
    const file = join(dir, 'smollm9.gguf');
    writeFileSync(file, bytes);
    const r = spawnSync(kiteBin(), ['run', '-m', file, '-p', 'hi', '-n', '1', '--no-stats'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.equal(r.signal, null, 'crashed');
    assert.match(r.stderr, /architecture 'smollm9' is not supported/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a split set (llama-gguf-split layout) loads from its first file: CLI and package, the same ids', async () => {
  requireArch();
  const { ggufSplit } = await import('./gguf_split.mjs');
  const dir = mkdtempSync(join(tmpdir(), 'kite-split-'));
  try {
    const whole = join(archDir(), 'qwen3moe.gguf');
    const parts = ggufSplit(readFileSync(whole), 3);
    const names = parts.map((_, i) => join(dir, `qwen3moe-${String(i + 1).padStart(5, '0')}-of-00003.gguf`));
    parts.forEach((p, i) => writeFileSync(names[i], p));
    const want = greedy(whole, PROMPTS[0], 12, ['--ids']);
    assert.equal(greedy(names[0], PROMPTS[0], 12, ['--ids']), want);
    const r = spawnSync(kiteBin(), ['run', '-m', names[1], '-p', 'x', '-n', '1', '--no-stats'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /give the first/);
    if (!existsSync(join(repoRoot, 'dist', 'kite-st.wasm'))) throw new Error('dist/kite-st.wasm is missing');
    const { loadModel } = await import('../../web/index.js');
    const wantIds = want.trim().split(/\s+/).map(Number);
    // by the first file's path, and as a list of in-memory files
    for (const source of [names[0], parts.map((p) => new Uint8Array(p))]) {
      const m = await loadModel(source, { flavor: 'st' });
      try {
        const g = m.generate(PROMPTS[0], { maxTokens: 12, temperature: 0 });
        await g.text();
        assert.deepEqual((await g.result).tokens, wantIds);
      } finally {
        await m.dispose();
      }
    }
    await assert.rejects(loadModel(names[0].replace('-00001-', '-00002-'), { flavor: 'st' }), /give the first/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// llama-perplexity built from source (bench/build_llama_cpp.sh puts it in build/llama.cpp/bin).
// test_model_arch (ctest) compares every kernel set with the numbers it printed, recorded there;
// this compares the CLI with the binary itself where it is built.
const PPL_TEXT = () => join(modelsDir(), '../text/stories.txt');
const pplOf = (out, what) => {
  const m = /Final estimate: PPL = ([\d.]+)/.exec(out);
  assert.ok(m, `${what}: no final estimate in ${out.slice(-400)}`);
  return Number(m[1]);
};
// The spread of llama-perplexity's own runs when only its attention path or batching changes
// (default, -fa off, -b 128, -ub 1 -b 128: largest minus smallest), as test_model_arch.c records
// it: where llama.cpp does not repeat to 4 significant digits itself, twice that is asked.
const SPREAD = { stories260K: 0.0005, qwen3: 16.1379, qwen3moe: 17.75, gemma3: 69.5095, gemma2: 13.6398, smollm3: 6.4957, llama3: 3.7083, phi4mini: 5.3636 };
const samePpl = (got, want, spread) => Math.abs(got - want) <= Math.max(0.5 * 10 ** (Math.floor(Math.log10(Math.abs(want))) - 3), 2 * spread);

test('perplexity of stories.txt at -c 128 equals llama-perplexity\'s (llama.cpp from source): 4 significant digits or its own spread', (t) => {
  requireArch();
  const bin = join(repoRoot, 'build/llama.cpp/bin/llama-perplexity');
  if (!existsSync(bin)) {
    t.skip(`${bin} is not built (bench/build_llama_cpp.sh): test_model_arch checks the recorded numbers`);
    return;
  }
  const files = [join(modelsDir(), 'stories260K.gguf'), ...MODELS.map((stem) => join(archDir(), `${stem}.gguf`))];
  for (const file of files) {
    const stem = file.replace(/^.*\//, '').replace(/\.gguf$/, '');
    const r = spawnSync(bin, ['-m', file, '-f', PPL_TEXT(), '-c', '128', '-t', '2'], { encoding: 'utf8', maxBuffer: 1 << 24 });
    assert.equal(r.status, 0, `llama-perplexity ${file}: status ${r.status}, signal ${r.signal}, error ${r.error}: ${(r.stderr || "").slice(-400)}`);
    const want = pplOf(r.stdout + r.stderr, `llama-perplexity ${file}`);
    const got = pplOf(kite(['perplexity', '-m', file, '-f', PPL_TEXT(), '-c', '128', '-t', '2']), `kite ${file}`);
    t.diagnostic(`${file}: kite ${got}, llama-perplexity ${want}`);
    assert.ok(samePpl(got, want, SPREAD[stem]), `${file}: kite ${got}, llama-perplexity ${want} (its own spread ${SPREAD[stem]})`);
  }
});
