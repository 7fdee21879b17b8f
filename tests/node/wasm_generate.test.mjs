// wasm_generate.test.mjs - the wasm builds (st, and mt on 2 threads) sample the same greedy
// tokens as the native CLI (`kite run --temp 0 --ids`) on every shared model (F16 and the
// quantized refs), and the text of the F16 models is llama.cpp's (models/README.md,
// llama-simple). Tokenize/detokenize and chat (the model's template, as `kite run
// --chat-template auto`) agree with the native CLI too. The 32-element nibble types the shared
// refs lack (Q5_0, Q4_1, Q5_1: the X8 layout in wasm) are quantized from the F16 model by the
// native CLI first. The build is the one simd: 'auto' picks: SIMD128 under Node 20, the
// relaxed-SIMD build under Node 22 and later (scripts/test.sh runs this file under Node 24 too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../web/index.js';
import { requireDist, requireModels, model, nativeGreedyIds, native, kiteBin, autoBuild } from './wasm_helpers.mjs';

const CASES = [
  ['stories260K.gguf', 'Once upon a time', 60],
  ['rand-llama-spm-f16.gguf', 'The capital of France is', 16],
  ['rand-phi3-f16.gguf', 'The capital of France is', 16],
  ['rand-qwen2-f16.gguf', 'The capital of France is', 16],
  // every quantized kernel follows one float order (src/kernels/kernels_internal.h), so the
  // near ties of these random-weight models fall the same way in wasm and natively
  ...['Q8_0', 'Q4_0', 'Q4_K_M', 'Q6_K', 'IQ4_NL'].map((t) => [`ref/rand-llama-spm-${t}.gguf`, 'The capital of France is', 16]),
];

// llama.cpp's llama-simple, greedy (../shared/models/README.md): 60 and 16 tokens.
const LLAMA_CPP_TEXT = {
  'stories260K.gguf': ', there was a little girl named Lily. She loved to play outside in the park. One day, ' +
    'she saw a big, red ball. She wanted to play with it, but it was too high.\nLily',
  'rand-llama-spm-f16.gguf': ' Element AF existing Layout Layout Layout Layout Layout Layout Ladywendung mus Centreськонала teach',
  'rand-phi3-f16.gguf': ' ALLmsdn MakelglglglglgровиAccountença bandatively juniorScrollViewcross',
  'rand-qwen2-f16.gguf': ' Cann'.repeat(16),
};

// Types quantized here (kite quantize --pure) from rand-llama-spm-f16.gguf.
const MADE = ['Q5_0', 'Q4_1', 'Q5_1'];

test('greedy tokens of the wasm builds equal the native CLI on every shared model', async (t) => {
  requireModels();
  requireDist();
  const dir = mkdtempSync(join(tmpdir(), 'kite-wasm-generate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const made = MADE.map((type) => {
    const out = join(dir, `rand-llama-spm-${type}.gguf`);
    execFileSync(kiteBin(), ['quantize', '--pure', model('rand-llama-spm-f16.gguf'), out, type, '1'], { stdio: 'ignore' });
    return [out, 'The capital of France is', 16];
  });
  t.diagnostic(`Node ${process.versions.node}: simd 'auto' loads ${autoBuild('st')} and ${autoBuild('mt')}`);
  for (const [name, prompt, n] of [...CASES, ...made]) {
    const file = name.startsWith(dir) ? name : model(name);
    const want = nativeGreedyIds(file, prompt, n);
    assert.equal(want.length, n, `${name}: native gave ${want.length} ids`);
    for (const flavor of ['st', 'mt']) {
      const m = await loadModel(file, { flavor, threads: 2 });
      try {
        const g = m.generate(prompt, { maxTokens: n, temperature: 0 });
        const text = await g.text();
        const r = await g.result;
        assert.deepEqual(r.tokens, want, `${name} (${m.build})`);
        assert.equal(m.build, autoBuild(flavor));
        assert.equal(r.nGenerated, n);
        assert.equal(r.stoppedBy, 'length');
        if (LLAMA_CPP_TEXT[name]) assert.equal(text, LLAMA_CPP_TEXT[name], `${name} (${flavor}): llama.cpp's text`);
      } finally {
        await m.dispose();
      }
    }
  }
});

// The simd option in this Node: 'simd128' loads the SIMD128 build, 'relaxed' the relaxed-SIMD one
// where V8 validates relaxed SIMD (Node 22 and later) and is refused as 'unsupported' where not
// (Node 20); either gives the native CLI's greedy tokens (a k-quant model, whose int8 dots the two
// builds compute with different instructions).
test('simd: \'simd128\' and \'relaxed\' load the build they name (or refuse), with the native greedy tokens', async () => {
  requireModels();
  requireDist(['st']);
  const file = model('ref/rand-llama-spm-Q4_K_M.gguf'), prompt = 'The capital of France is';
  const want = nativeGreedyIds(file, prompt, 16);
  for (const simd of ['simd128', 'relaxed']) {
    const build = simd === 'simd128' ? 'kite-st' : autoBuild('st');
    if (simd === 'relaxed' && build === 'kite-st') {
      await assert.rejects(loadModel(file, { flavor: 'st', simd }), (e) => e.status === 'unsupported', 'no relaxed SIMD here: refused');
      continue;
    }
    const m = await loadModel(file, { flavor: 'st', simd });
    try {
      assert.equal(m.build, build);
      const g = m.generate(prompt, { maxTokens: 16, temperature: 0 });
      await g.text();
      assert.deepEqual((await g.result).tokens, want, m.build);
    } finally {
      await m.dispose();
    }
  }
});

test('tokenize agrees with the prompt the native CLI evaluates, and round-trips', async () => {
  requireModels();
  requireDist(['st']);
  const m = await loadModel(model('stories260K.gguf'), { flavor: 'st' });
  try {
    const ids = await m.tokenize('Once upon a time');
    assert.ok(ids instanceof Int32Array);
    assert.equal(ids[0], m.info.model.bos, 'BOS first');
    assert.equal(await m.detokenize(ids.subarray(1)), 'Once upon a time');
    const noBos = await m.tokenize('Once upon a time', { addSpecial: false });
    assert.deepEqual([...noBos], [...ids.subarray(1)]);
    // The prompt the generator counted is the tokenizer's output.
    const g = m.generate('Once upon a time', { maxTokens: 1, temperature: 0 });
    await g.text();
    assert.equal((await g.result).nPrompt, ids.length);
  } finally {
    await m.dispose();
  }
});

test('chat() formats with the model template and generates as kite run --chat-template auto', async () => {
  requireModels();
  requireDist(['st']);
  for (const name of ['stories260K.gguf', 'rand-qwen2-f16.gguf']) {
    const file = model(name);
    const content = 'Tell me a story.';
    const want = nativeGreedyIds(file, content, 12, ['--chat-template', 'auto']);
    const m = await loadModel(file, { flavor: 'st' });
    try {
      const g = m.chat([{ role: 'user', content }], { maxTokens: 12, temperature: 0 });
      await g.text();
      assert.deepEqual((await g.result).tokens, want, name);
    } finally {
      await m.dispose();
    }
  }
});

test('stop strings end the text before the match, as in the native CLI', async () => {
  requireModels();
  requireDist(['st']);
  const m = await loadModel(model('stories260K.gguf'), { flavor: 'st' });
  try {
    const g = m.generate('Once upon a time', { maxTokens: 60, temperature: 0, stop: ['Lily.'] });
    const text = await g.text();
    assert.equal(text, ', there was a little girl named ');
    assert.equal((await g.result).stoppedBy, 'stop');
    // Sampling with a seed is reproducible within the build and across builds.
    const a = await m.generate('Once', { maxTokens: 20, temperature: 0.8, seed: 42 }).text();
    const b = await m.generate('Once', { maxTokens: 20, temperature: 0.8, seed: 42 }).text();
    assert.equal(a, b);
    const nat = native(['run', '-m', model('stories260K.gguf'), '-p', 'Once', '-n', '20', '--temp', '0.8', '--seed', '42', '--no-stats']).toString();
    assert.equal(a, nat, 'seeded sampling: wasm vs native');
  } finally {
    await m.dispose();
  }
});

test('pieces: the first 8 of a run one message each, later ones gathered while they come within 33 ms; the text is the same', async () => {
  requireModels();
  requireDist(['st']);
  const m = await loadModel(model('stories260K.gguf'), { flavor: 'st' });
  try {
    const full = await m.generate('Once upon a time', { maxTokens: 60, temperature: 0 }).text();
    const g = m.generate('Once upon a time', { maxTokens: 60, temperature: 0 });
    const pieces = [];
    for await (const p of g) pieces.push(p);
    const r = await g.result;
    assert.equal(pieces.join(''), full);
    // the first 8 are the first 8 tokens' text, one each (this story's tokens are plain text:
    // none is held back)
    assert.ok(pieces.length >= 8 && pieces.slice(0, 8).every((p) => p.length > 0));
    assert.equal(pieces.slice(0, 8).join(''), await m.detokenize(r.tokens.slice(0, 8)));
    // stories260K samples a token in well under 33 ms: the rest come in fewer messages than tokens
    assert.ok(pieces.length < r.nGenerated, `${pieces.length} pieces for ${r.nGenerated} tokens`);
  } finally {
    await m.dispose();
  }
});
