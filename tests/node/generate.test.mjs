// generate.test.mjs - `kite run` generates the same greedy tokens as llama.cpp (node-llama-cpp's
// prebuilt CPU library) on every shared model, with flash attention on (llama.cpp's CPU default,
// kite's default) and off (node-llama-cpp's default; kite -fa off): the two round differently
// and the random-weight models have near ties that tell them apart. Compared id for id (`kite
// run --ids` prints the generated ids); the text is also checked against the llama-simple
// outputs listed in the models README. `kite perplexity` gives llama-perplexity's
// 3.9096 for stories260K at -c 128 (to 3 decimals), and bad flags are usage errors (exit 2).
// Quantized models: equal ids, or a first difference at a tie llama.cpp itself breaks either way.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kiteBin, modelsDir, requireModels } from './helpers.mjs';
import { llamaGreedy, llamaNextLogits, llamaDispose } from './llama_ref.mjs';
import { ggufAppend } from './gguf_append.mjs';

after(llamaDispose);

const france = 'The capital of France is';
const cases = [
  ['stories260K.gguf', 'Once upon a time', 60],
  ['rand-llama-spm-f16.gguf', france, 16],
  ['rand-phi3-f16.gguf', france, 16],
  ['rand-qwen2-f16.gguf', france, 16],
  ...['Q8_0', 'Q4_0', 'Q4_K_M', 'Q6_K', 'IQ4_NL'].map((t) => [`ref/rand-llama-spm-${t}.gguf`, france, 16]),
];

// llama-simple's greedy continuations from the models README (a cross-check of the reference).
const readme = {
  'stories260K.gguf':
    ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily',
  'rand-llama-spm-f16.gguf': ' Element AF existing Layout Layout Layout Layout Layout Layout Ladywendung mus Centreськонала teach',
  'rand-phi3-f16.gguf': ' ALLmsdn MakelglglglglgровиAccountença bandatively juniorScrollViewcross',
  'rand-qwen2-f16.gguf': ' Cann Cann Cann Cann Cann Cann Cann Cann Cann Cann Cann Cann Cann Cann Cann Cann',
};

// Quantized models: llama.cpp's greedy tokens depend on the CPU it runs on (node-llama-cpp loads
// a different ggml-cpu build per ISA, and its AVX2 and AVX-512 builds round the Q4_0 flash
// attention differently) while Kite's are the same on every ISA. So greedy equality is not the
// measure there (the house rule on quantized fidelity): the ids must equal llama.cpp's up to a
// first difference, and at that step the two tokens must be a tie that llama.cpp itself breaks
// either way, i.e. llama.cpp's logit gap between them (on the path it ran) no wider than the amount llama.cpp's own
// two attention paths (flash attention on and off) move those logits at the same step.
async function assertSameOrLlamaTie(path, ref, ids, fa) {
  assert.equal(ids.length, ref.ids.length, `kite gave ${ids.length} ids, llama.cpp ${ref.ids.length}`);
  const d = ids.findIndex((t, i) => t !== ref.ids[i]);
  if (d < 0) return;
  const before = [...ref.prompt, ...ref.ids.slice(0, d)];
  const on = await llamaNextLogits(path, before, { flashAttention: true });
  const off = await llamaNextLogits(path, before, { flashAttention: false });
  const [a, b] = [ref.ids[d], ids[d]];
  const used = fa ? on : off; // the logits of the path the reference ran
  const gap = Math.abs(used.get(a) - used.get(b));
  const spread = Math.max(Math.abs(on.get(a) - off.get(a)), Math.abs(on.get(b) - off.get(b)));
  assert.ok(gap <= spread,
    `step ${d}: llama.cpp chose ${a} (logit ${used.get(a)}), kite ${b} (logit ${used.get(b)}): ` +
    `gap ${gap.toFixed(4)} wider than llama.cpp's own flash-attention on/off spread ${spread.toFixed(4)}`);
}

const kite = (args) => execFileSync(kiteBin(), args, { maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

for (const [file, prompt, n] of cases) {
  for (const fa of [true, false]) {
    test(`greedy tokens match llama.cpp (flash attention ${fa ? 'on' : 'off'}): ${file}`, async () => {
      requireModels();
      const path = join(modelsDir(), file);
      assert.ok(existsSync(path), `${path} missing`);
      const ref = await llamaGreedy(path, prompt, n, { flashAttention: fa });
      assert.equal(ref.ids.length, n, 'reference stopped early');
      const common = ['run', '-m', path, '-p', prompt, '-n', String(n), '--temp', '0', '-c', '512', '--no-stats'];
      if (!fa) common.push('-fa', 'off');
      const ids = kite([...common, '--ids']).trim().split(/\s+/).map(Number);
      if (file.startsWith('ref/')) await assertSameOrLlamaTie(path, ref, ids, fa);
      else assert.deepEqual(ids, ref.ids);
      const text = kite(common);
      if (readme[file]) assert.equal(text, readme[file]);
    });
  }
}

// LongRoPE (phi3): rand-phi3 plus per-frequency rope factors and an attention factor. llama.cpp
// uses the long factors when the context exceeds rope.scaling.original_context_length (256
// here), else the short ones: -c 512 and -c 256 exercise both sets.
test('phi3 LongRoPE factors (short and long) match llama.cpp', async () => {
  requireModels();
  const half = 16; // rope.dimension_count 32 / 2
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const short = Float32Array.from({ length: half }, () => 1 + 3 * rnd());
  const long = Float32Array.from({ length: half }, () => 1 + 20 * rnd());
  const bytes = ggufAppend(readFileSync(join(modelsDir(), 'rand-phi3-f16.gguf')),
    [['phi3.rope.scaling.type', 'str', 'longrope'], ['phi3.rope.scaling.attn_factor', 'f32', 1.1902381],
      ['phi3.rope.scaling.original_context_length', 'u32', 256]],
    [['rope_factors_long.weight', long], ['rope_factors_short.weight', short]]);
  const path = join(mkdtempSync(join(tmpdir(), 'kite-longrope-')), 'phi3-longrope.gguf');
  writeFileSync(path, bytes);
  const plain = kite(['run', '-m', join(modelsDir(), 'rand-phi3-f16.gguf'), '-p', france, '-n', '16', '--temp', '0', '-c', '512', '--ids', '--no-stats']);
  for (const ctx of [512, 256]) {
    const ref = await llamaGreedy(path, france, 16, { contextSize: ctx });
    const ids = kite(['run', '-m', path, '-p', france, '-n', '16', '--temp', '0', '-c', String(ctx), '-fa', 'off', '--ids', '--no-stats']);
    assert.deepEqual(ids.trim().split(/\s+/).map(Number), ref.ids, `-c ${ctx}`);
    assert.notEqual(ids, plain, 'the factors must change the output');
  }
});

// A chat-formatted prompt: the template's special tokens are parsed as tokens (qwen2, chatml).
test('a chat-template prompt gives llama.cpp\'s tokens', async () => {
  requireModels();
  const path = join(modelsDir(), 'rand-qwen2-f16.gguf');
  const formatted = '<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n';
  const ref = await llamaGreedy(path, formatted, 8, { specialTokens: true });
  const ids = kite(['run', '-m', path, '-p', 'Hello there', '--chat-template', 'chatml', '-n', '8', '--temp', '0', '-fa', 'off', '--ids', '--no-stats']);
  assert.deepEqual(ids.trim().split(/\s+/).map(Number), ref.ids);
});

test('greedy tokens do not depend on the thread count or batch size', () => {
  requireModels();
  const path = join(modelsDir(), 'rand-qwen2-f16.gguf');
  const run = (t, b) => kite(['run', '-m', path, '-p', france, '-n', '8', '--temp', '0', '-t', t, '-b', b, '--ids', '--no-stats']);
  const one = run('1', '512');
  assert.equal(run('2', '512'), one);
  assert.equal(run('2', '2'), one);
});

test('kite perplexity on stories260K -c 128 gives llama-perplexity 3.9096 (3 decimals)', () => {
  requireModels();
  const text = resolve(modelsDir(), '../text/stories.txt');
  const out = kite(['perplexity', '-m', join(modelsDir(), 'stories260K.gguf'), '-f', text, '-c', '128']);
  const m = out.match(/PPL = ([0-9.]+)/);
  assert.ok(m, out);
  assert.equal(Number(m[1]).toFixed(3), (3.9096).toFixed(3), out);
});

test('bad flags are usage errors (exit 2) with a message', () => {
  for (const args of [['run', '--bogus'], ['run', '-n', 'x'], ['run', '-t', '0'], ['perplexity', '-m', 'x'], ['bench', '-t', 'a']]) {
    const r = spawnSync(kiteBin(), args);
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}`);
    assert.match(r.stderr.toString(), /kite/);
  }
  const r = spawnSync(kiteBin(), ['run', '-m', '/nonexistent.gguf', '-p', 'x']);
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /nonexistent/);
});
