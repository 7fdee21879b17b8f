// tokenizer.test.mjs - the wasm build's tokenizer against llama.cpp's (node-llama-cpp, which
// calls common_tokenize(add_special=false) and llama_detokenize(remove_special=false)) on
// seeded random strings, with and without special-token parsing, on every shared model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../web/index.js';
import { llama as llamaLib, llamaDispose } from './llama_ref.mjs';
import { requireDist, requireModels, model } from './wasm_helpers.mjs';

const MODELS = ['stories260K.gguf', 'rand-llama-spm-f16.gguf', 'rand-phi3-f16.gguf', 'rand-qwen2-f16.gguf'];

// Fragments that stress the pre-tokenizers, byte fallback and the special-token split.
const FRAGMENTS = [
  'a', 'Z', 'hello', ' world', ' ', '  ', '   ', '\n', '\n\n', '\t', '\r\n', "'s", "'LL", "'", '1', '42',
  '12345', '½', 'ä', 'Äpfel', 'й', '中文', '🦙', '😶‍🌫️', '▁', '<s>', '</s>', '<unk>', '<|im_end|>',
  '<|im_start|>', '<|endoftext|>', '<|end|>', '<|user|>', '<0x0A>', '!', '...', '`', '$', '?!', ' ,',
  " ' ", '٣', 'Ⅻ', 'é', '\u3000', '\u00a0', '\u0085', '(x)', '--', '__init__', '！', '3.14', 'x^2',
];

function randomText(state) {
  let s = state.s;
  const next = () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5; // xorshift32
    s >>>= 0;
    return s;
  };
  let text = '';
  const parts = next() % 10;
  for (let i = 0; i < parts; i++) text += FRAGMENTS[next() % FRAGMENTS.length];
  state.s = s;
  return text;
}

test('wasm tokenize/detokenize equal llama.cpp on random text, every shared model', async () => {
  requireModels();
  requireDist(['st']);
  const llama = await llamaLib();
  try {
    for (const name of MODELS) {
      const ref = await llama.loadModel({ modelPath: model(name), gpuLayers: 0, vocabOnly: true });
      const m = await loadModel(model(name), { flavor: 'st' });
      try {
        const state = { s: 0x9e3779b9 };
        for (let t = 0; t < 150; t++) {
          const text = randomText(state);
          for (const parseSpecial of [false, true]) {
            const want = ref.tokenize(text, parseSpecial);
            const got = [...(await m.tokenize(text, { addSpecial: false, parseSpecial }))];
            assert.deepEqual(got, want, `${name}: ${JSON.stringify(text)} (parseSpecial ${parseSpecial})`);
            if (want.length) {
              assert.equal(await m.detokenize(want), ref.detokenize(want, false),
                           `${name}: detokenize of ${JSON.stringify(text)}`);
            }
          }
        }
        // With add_special the model's BOS comes first exactly when llama.cpp adds one.
        const withBos = [...(await m.tokenize('Hello', { addSpecial: true }))];
        const plain = ref.tokenize('Hello', false);
        const bos = ref.tokens.shouldPrependBosToken && ref.tokens.bos != null ? [ref.tokens.bos] : [];
        assert.deepEqual(withBos, [...bos, ...plain], `${name}: add_special`);
      } finally {
        await m.dispose();
        await ref.dispose();
      }
    }
  } finally {
    await llamaDispose();
  }
});
