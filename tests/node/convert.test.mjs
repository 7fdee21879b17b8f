// convert.test.mjs - `kite convert HF_DIR OUT.gguf` against llama.cpp-made references. No
// Hugging Face checkpoints exist here, so each case writes one from a GGUF that llama.cpp made
// or runs (hf_checkpoint.mjs: HF's own names, shapes, row order and tokenizer files).
// Converting it back must give the original's tensor bytes, the metadata keys llama.cpp's
// converter writes, and llama.cpp's greedy text. Then the output types, and the inputs refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kiteBin, modelsDir, requireModels } from './helpers.mjs';
import { GGML, readGguf } from './gguf_read.mjs';
import { unpermute, writeHf } from './hf_checkpoint.mjs';
import { llama as llamaLib, llamaDispose } from './llama_ref.mjs';

const PROMPTS = [
  'The capital of France is',
  'Once upon a time, in a small village at the edge of a great forest, there lived an old woodcutter and his three',
];

// ---- checks ------------------------------------------------------------------------------

// (a timeout: a FIFO among the inputs must be refused, not waited on)
const convert = (args) => spawnSync(kiteBin(), ['convert', ...args], { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 60000 });
const greedy = (file, prompt, n) =>
  execFileSync(kiteBin(), ['run', '-m', file, '-p', prompt, '-n', String(n), '--temp', '0', '--no-stats'], {
    maxBuffer: 1 << 24,
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();

// Keys the reference files carry that today's llama.cpp converter would not write for them (they
// were made by a script, or by an older converter): general.name is the folder's name here.
const NOT_FROM_CONVERTER = new Set(['general.name', 'qwen2.rope.dimension_count']);
// Keys the converter adds that the script-made references lack (the identity keys found from
// the folder's name and the parameter count: convert_identity.test.mjs checks them).
const CONVERTER_ONLY = new Set(['general.type', 'general.quantization_version', 'general.name', 'llama.vocab_size',
  'general.size_label', 'general.basename', 'general.finetune', 'general.version']);

// extra: { notFrom: keys of want to skip, only: keys only got has } for one case.
function compareMetadata(want, got, extra = {}) {
  for (const [k, v] of want.kv) {
    if (NOT_FROM_CONVERTER.has(k) || extra.notFrom?.includes(k)) continue;
    assert.ok(got.kv.has(k), `converted file lacks ${k}`);
    const g = got.kv.get(k);
    assert.equal(g.type, v.type, `${k}: value type`);
    if (k === 'tokenizer.ggml.token_type') {
      // An id HF leaves unassigned is written as [PADi]; llama.cpp's converter types it UNUSED (5)
      // today, the older ones that made the qwen2 / phi-3 vocabularies USER_DEFINED (4) / UNKNOWN (2).
      const toks = want.kv.get('tokenizer.ggml.tokens').value;
      const fixed = v.value.map((t, i) => ((t === 4 || t === 2) && /^\[PAD\d+\]$/.test(toks[i]) ? 5 : t));
      assert.deepEqual(g.value, fixed, k);
    } else {
      assert.deepEqual(g.value, v.value, k);
    }
  }
  for (const k of got.kv.keys()) assert.ok(want.kv.has(k) || CONVERTER_ONLY.has(k) || extra.only?.includes(k), `unexpected key ${k}`);
}

function compareTensors(want, got) {
  assert.deepEqual(got.tensors.map((t) => t.name).sort(), want.tensors.map((t) => t.name).sort());
  for (const w of want.tensors) {
    const t = got.tensors.find((x) => x.name === w.name);
    assert.equal(t.type, w.type, `${w.name}: type`);
    assert.deepEqual(t.ne, w.ne, `${w.name}: shape`);
    assert.ok(Buffer.from(t.bytes).equals(Buffer.from(w.bytes)), `${w.name}: bytes differ`);
  }
}

// general.name for each folder: gguf-py's Metadata.id_to_title(get_model_id_components(stem)[0])
// (pinned llama.cpp, /usr/bin/python3 with PYTHONPATH=gguf-py).
const TITLES = {
  qwen3: 'Qwen3', smollm3: 'Smollm3', 'rand-qwen2': 'Rand Qwen2', gemma2: 'Gemma2', gemma3: 'Gemma3', phi4mini: 'Phi4Mini',
  'rand-phi3': 'Rand Phi3', qwen3moe: 'Qwen3Moe',
};

const CASES = [
  // stem, file, HF architecture, llama-like, shards, merges as pairs (transformers >= 4.45), bos in config.json
  { stem: 'qwen3', file: () => join(modelsDir(), 'arch/qwen3.gguf'), hfArch: 'Qwen3ForCausalLM', shards: 2, pairMerges: true, bosInConfig: true },
  { stem: 'smollm3', file: () => join(modelsDir(), 'arch/smollm3.gguf'), hfArch: 'SmolLM3ForCausalLM', llamaLike: true },
  // README: llama-simple, greedy, 16 tokens
  { stem: 'rand-qwen2', file: () => join(modelsDir(), 'rand-qwen2-f16.gguf'), hfArch: 'Qwen2ForCausalLM', bosInConfig: true, readme16: ' Cann'.repeat(16) },
  // Gemma: norms stored as w (the GGUF's 1 + w), soft-caps, sliding window 12 (gemma2 on even
  // layers, gemma3 5 of 6), query_pre_attn_scalar = head_dim; gemma3's global rope base 1e6
  // linearly scaled by 8, local base 10000 (arch/README). Gemma2Model writes no rope keys.
  {
    stem: 'gemma2', file: () => join(modelsDir(), 'arch/gemma2.gguf'), hfArch: 'Gemma2ForCausalLM', family: 'gemma',
    config: { attn_logit_softcapping: 50.0, final_logit_softcapping: 30.0, sliding_window: 12, query_pre_attn_scalar: 48, hidden_activation: 'gelu_pytorch_tanh' },
    notFrom: ['gemma2.rope.freq_base'],
  },
  {
    stem: 'gemma3', file: () => join(modelsDir(), 'arch/gemma3.gguf'), hfArch: 'Gemma3ForCausalLM', family: 'gemma',
    config: {
      rope_scaling: { rope_type: 'linear', factor: 8.0 }, rope_local_base_freq: 10000.0, sliding_window: 12, sliding_window_pattern: 6,
      final_logit_softcapping: 30.0, attn_logit_softcapping: null, query_pre_attn_scalar: 48, hidden_activation: 'gelu_pytorch_tanh',
    },
  },
  // Phi: fused matrices, Phi-3's tokenizer.model of 32000 pieces + added tokens. phi4mini: rope
  // dim 24 of 32 (partial_rotary_factor 0.75), longrope factors, contexts 131072 / 4096
  // (arch/README). rand-phi3 was made by an older converter: no original context or window keys.
  {
    stem: 'phi4mini', file: () => join(modelsDir(), 'arch/phi4mini.gguf'), hfArch: 'Phi3ForCausalLM', family: 'phi3', spmPieces: 32000,
    config: (g) => ({
      original_max_position_embeddings: 4096,
      partial_rotary_factor: 0.75,
      rope_scaling: { type: 'longrope', long_factor: f32Values(g, 'rope_factors_long.weight'), short_factor: f32Values(g, 'rope_factors_short.weight') },
    }),
  },
  {
    stem: 'rand-phi3', file: () => join(modelsDir(), 'rand-phi3-f16.gguf'), hfArch: 'Phi3ForCausalLM', family: 'phi3', spmPieces: 32000,
    config: { original_max_position_embeddings: 512 }, only: ['phi3.rope.scaling.original_context_length', 'phi3.attention.sliding_window'],
    readme16: ' ALLmsdn MakelglglglglgровиAccountença bandatively juniorScrollViewcross',
  },
  // Qwen3MoE: 8 experts, top-2, expert ff 32 (arch/README); experts stacked back expert by
  // expert. llama.cpp's converter keeps the router F32 (the script-made reference has it F16).
  {
    stem: 'qwen3moe', file: () => join(modelsDir(), 'arch/qwen3moe.gguf'), hfArch: 'Qwen3MoeForCausalLM', routerF32: true,
    config: (g) => ({
      num_experts: g.kv.get('qwen3moe.expert_count').value,
      num_experts_per_tok: g.kv.get('qwen3moe.expert_used_count').value,
      moe_intermediate_size: g.kv.get('qwen3moe.expert_feed_forward_length').value,
      norm_topk_prob: true,
      decoder_sparse_step: 1,
      mlp_only_layers: [],
    }),
  },
];

// A F32 tensor's values as numbers (each a float32, so config.json's decimal reads back to it).
function f32Values(g, name) {
  const b = g.tensors.find((t) => t.name === name).bytes;
  return Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
}

// g with its F16 MoE routers (ffn_gate_inp) widened to F32, as llama.cpp's converter writes them.
function routerAsF32(g) {
  const tensors = g.tensors.map((t) => {
    if (!t.name.endsWith('.ffn_gate_inp.weight') || t.type !== GGML.F16) return t;
    const h = new Uint16Array(t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.length));
    return { ...t, type: GGML.F32, bytes: new Uint8Array(Float32Array.from(h, halfToFloat).buffer) };
  });
  assert.equal(tensors.filter((t, i) => t !== g.tensors[i]).length, g.kv.get('qwen3moe.block_count').value);
  return { ...g, tensors };
}

// As arch.test.mjs records them: where llama-simple and Kite round a near tie of these
// random-weight models differently, the tokens before it.
const TIES = { 'gemma3.1': 11, 'gemma3.2': 20, 'phi4mini.1': 22 };

const tmp = mkdtempSync(join(tmpdir(), 'kite-convert-'));
if (!process.env.KITE_KEEP_TMP) process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

for (const c of CASES) {
  test(`kite convert: ${c.stem} (${c.hfArch}${c.shards === 2 ? ', 2 shards' : ''}) gives the original's tensors and keys`, () => {
    requireModels();
    const want = readGguf(readFileSync(c.file()));
    const dir = join(tmp, c.stem);
    writeHf(want, dir, c);
    const out = join(tmp, `${c.stem}.gguf`);
    const r = convert([dir, out]);
    assert.equal(r.status, 0, r.stderr);
    const got = readGguf(readFileSync(out));
    compareTensors(c.routerF32 ? routerAsF32(want) : want, got);
    compareMetadata(want, got, c);
    assert.equal(got.kv.get('general.name').value, TITLES[c.stem], 'the folder\'s name as gguf-py\'s id_to_title writes it');
    assert.equal(got.kv.get('general.file_type').value, 1);
    if (c.readme16) {
      assert.equal(greedy(out, PROMPTS[0], 16), c.readme16);
    } else {
      for (let i = 0; i < 2; i++) {
        const text = readFileSync(join(modelsDir(), `arch/${c.stem}.${i + 1}.txt`), 'utf8');
        const want = text.slice(text.indexOf(PROMPTS[i]) + PROMPTS[i].length).replace(/\n$/, '');
        const tie = TIES[`${c.stem}.${i + 1}`];
        if (tie === undefined) {
          assert.equal(greedy(out, PROMPTS[i], 24), want, `prompt ${i + 1}`);
        } else {
          // llama.cpp's text up to its near tie; then the reference file's own Kite text
          const got = greedy(out, PROMPTS[i], tie);
          assert.ok(want.startsWith(got), `prompt ${i + 1}, first ${tie} tokens: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
          assert.equal(greedy(out, PROMPTS[i], 24), greedy(c.file(), PROMPTS[i], 24), `prompt ${i + 1}`);
        }
      }
    }
  });
}

// ---- llama with a SentencePiece tokenizer.model: permuted q/k, Q8_0, llama3 rope factors ----

test('kite convert: llama (LlamaForCausalLM, tokenizer.model) gives rand-llama-spm-f16; --outtype q8_0 gives llama-quantize Q8_0 bytes', () => {
  requireModels();
  const want = readGguf(readFileSync(join(modelsDir(), 'rand-llama-spm-f16.gguf')));
  const dir = join(tmp, 'llama');
  writeHf(want, dir, { hfArch: 'LlamaForCausalLM', llamaLike: true });
  const out = join(tmp, 'llama-f16.gguf');
  let r = convert([dir, out, '--outtype', 'f16']);
  assert.equal(r.status, 0, r.stderr);
  const got = readGguf(readFileSync(out));
  compareTensors(want, got);
  compareMetadata(want, got);
  assert.equal(got.kv.get('llama.vocab_size').value, 32000);
  // README: llama-simple, greedy, 16 tokens
  assert.equal(greedy(out, PROMPTS[0], 16), ' Element AF existing Layout Layout Layout Layout Layout Layout Ladywendung mus Centreськонала teach');

  // llama.cpp's converter quantizes each matrix with ggml's Q8_0 as llama-quantize does; the
  // reference is llama-quantize's Q8_0 of the same weights.
  const q8 = join(tmp, 'llama-q8_0.gguf');
  r = convert(['--outtype', 'q8_0', dir, q8]);
  assert.equal(r.status, 0, r.stderr);
  const ref = readGguf(readFileSync(join(modelsDir(), 'ref/rand-llama-spm-Q8_0.gguf')));
  const gq = readGguf(readFileSync(q8));
  compareTensors(ref, gq);
  assert.equal(gq.kv.get('general.file_type').value, 7);
});

test('kite convert: llama3 (rope_scaling llama3 -> rope_freqs.weight, tokenizer.model) gives llama3.gguf and its greedy text', () => {
  requireModels();
  const want = readGguf(readFileSync(join(modelsDir(), 'arch/llama3.gguf')));
  const dir = join(tmp, 'llama3');
  // README: factors made with factor 32, low 1, high 4, original context 256
  const rope_scaling = { rope_type: 'llama3', factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 256 };
  writeHf(want, dir, { hfArch: 'LlamaForCausalLM', llamaLike: true, config: { rope_scaling } });
  const out = join(tmp, 'llama3.gguf');
  const r = convert([dir, out]);
  assert.equal(r.status, 0, r.stderr);
  const got = readGguf(readFileSync(out));
  compareTensors(want, got);
  compareMetadata(want, got);
  for (let i = 0; i < 2; i++) {
    const text = readFileSync(join(modelsDir(), `arch/llama3.${i + 1}.txt`), 'utf8');
    assert.equal(greedy(out, PROMPTS[i], 24), text.slice(text.indexOf(PROMPTS[i]) + PROMPTS[i].length).replace(/\n$/, ''), `prompt ${i + 1}`);
  }
});

// ---- output types ------------------------------------------------------------------------

// IEEE half -> float, from the format's definition.
function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
// float32 bits -> bfloat16, rounding to nearest even.
const bf16FromBits = (u) => Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536);

test('kite convert: --outtype f32 widens, bf16 rounds to nearest even; a BF16 checkpoint converts to bf16 by default', () => {
  requireModels();
  const want = readGguf(readFileSync(join(modelsDir(), 'arch/smollm3.gguf')));
  const dir = join(tmp, 'smollm3-types');
  writeHf(want, dir, { hfArch: 'SmolLM3ForCausalLM', llamaLike: true });
  // every half's float32 bits and bfloat16, tabulated once
  const f32Bits = new Uint32Array(new Float32Array(65536).map((_, h) => halfToFloat(h)).buffer);
  const bf16 = Uint16Array.from(f32Bits, bf16FromBits);
  const expect = (t, type) => {
    const h = new Uint16Array(t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.length));
    const out = type === GGML.F32 ? new Uint32Array(h.length) : new Uint16Array(h.length);
    const lut = type === GGML.F32 ? f32Bits : bf16;
    for (let i = 0; i < h.length; i++) out[i] = lut[h[i]];
    return new Uint8Array(out.buffer);
  };
  for (const [flag, type, ftype] of [['f32', GGML.F32, 0], ['bf16', GGML.BF16, 32]]) {
    const out = join(tmp, `smollm3-${flag}.gguf`);
    const r = convert([dir, out, '--outtype', flag]);
    assert.equal(r.status, 0, r.stderr);
    const got = readGguf(readFileSync(out));
    assert.equal(got.kv.get('general.file_type').value, ftype);
    for (const w of want.tensors) {
      const t = got.tensors.find((x) => x.name === w.name);
      if (w.type === GGML.F32) {
        assert.equal(t.type, GGML.F32, w.name);
        assert.ok(Buffer.from(t.bytes).equals(Buffer.from(w.bytes)), `${w.name}: bytes differ`);
        continue;
      }
      assert.equal(t.type, type, w.name);
      assert.ok(Buffer.from(t.bytes).equals(Buffer.from(expect(w, type))), `${w.name}: ${flag} bytes differ`);
    }
  }
  // The bf16 file's matrices as a BF16 checkpoint: auto keeps BF16, bytes as they are.
  const bf = readGguf(readFileSync(join(tmp, 'smollm3-bf16.gguf')));
  const dirBf = join(tmp, 'smollm3-bf16src');
  writeHf(want, dirBf, {
    hfArch: 'SmolLM3ForCausalLM',
    llamaLike: true,
    dtype: (t, dtype, bytes) => {
      if (t.type !== GGML.F16) return { dtype, bytes };
      const b = bf.tensors.find((x) => x.name === t.name).bytes;
      const m = /^blk\.\d+\.attn_([qk])\.weight$/.exec(t.name);
      return { dtype: 'BF16', bytes: m ? unpermute(b, t.ne[1], m[1] === 'q' ? 4 : 2) : b };
    },
  });
  const out = join(tmp, 'smollm3-auto.gguf');
  const r = convert([dirBf, out]);
  assert.equal(r.status, 0, r.stderr);
  const got = readGguf(readFileSync(out));
  assert.equal(got.kv.get('general.file_type').value, 32);
  compareTensors(bf, got);
});

// float -> IEEE half bits, rounding to nearest even (from the format's definition; finite values
// within half's range, subnormals included).
function halfBits(x) {
  const s = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  x = Math.abs(x);
  let e = Math.max(Math.floor(Math.log2(x)), -14);
  if (e > -14 && 2 ** e > x) e--;
  const q = x / 2 ** (e - 10); // in units of the last place
  let r = Math.round(q);
  if (r - q === 0.5 && r % 2) r--; // a tie goes to the even neighbour
  if (e === -14 && r < 1024) return s | r; // subnormal
  if (r === 2048) { r = 1024; e++; }
  assert.ok(e <= 15, `${x} overflows half`);
  return s | ((e + 15) << 10) | (r - 1024);
}

test('kite convert: a Gemma norm stored F16 gets its 1 added in half (rounded, as torch), BF16 in float32 (widened first)', () => {
  requireModels();
  const want = readGguf(readFileSync(join(modelsDir(), 'arch/gemma2.gguf')));
  const gemma2 = CASES.find((c) => c.stem === 'gemma2');
  const f32 = (bytes) => new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const kinds = {
    // the HF bytes of w (a float32 array) and, per stored element, the converted float
    F16: { encode: (w) => Uint16Array.from(w, halfBits), expect: (h) => halfToFloat(halfBits(halfToFloat(h) + 1)) },
    BF16: {
      encode: (w) => Uint16Array.from(new Uint32Array(w.buffer), bf16FromBits),
      expect: (b) => Math.fround(new Float32Array(new Uint32Array([b * 65536]).buffer)[0] + 1),
    },
  };
  for (const [dtype, k] of Object.entries(kinds)) {
    const dir = join(tmp, `gemma2-norms-${dtype}`), stored = new Map();
    writeHf(want, dir, {
      ...gemma2,
      dtype: (t, dt, bytes) => {
        if (!t.name.endsWith('norm.weight')) return { dtype: dt, bytes };
        const e = k.encode(f32(bytes));
        stored.set(t.name, e);
        return { dtype, bytes: new Uint8Array(e.buffer) };
      },
    });
    const out = join(tmp, `gemma2-norms-${dtype}.gguf`);
    const r = convert([dir, out]);
    assert.equal(r.status, 0, r.stderr);
    const got = readGguf(readFileSync(out));
    assert.equal(stored.size, 4 * 4 + 1);
    for (const [name, e] of stored) {
      const t = got.tensors.find((x) => x.name === name);
      assert.equal(t.type, GGML.F32, name);
      assert.deepEqual(Array.from(f32(t.bytes)), Array.from(e, k.expect), `${name} (${dtype})`);
    }
  }
});

// ---- refused inputs: a clear error, exit 2, no file left ---------------------------------------

const BAD = join(tmp, 'bad');
let badBase = null;
// A fresh copy of a small valid checkpoint (smollm3) with edit(dir) applied.
function badCheckpoint(name, edit) {
  if (!badBase) {
    badBase = join(tmp, 'bad-base');
    writeHf(readGguf(readFileSync(join(modelsDir(), 'arch/smollm3.gguf'))), badBase, { hfArch: 'SmolLM3ForCausalLM', llamaLike: true });
  }
  const dir = join(BAD, name);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(badBase)) writeFileSync(join(dir, f), readFileSync(join(badBase, f)));
  edit(dir);
  return dir;
}
const editJson = (dir, file, fn) => {
  const p = join(dir, file);
  const j = JSON.parse(readFileSync(p, 'utf8'));
  fn(j);
  writeFileSync(p, JSON.stringify(j));
};
// model.safetensors with its header replaced by fn(header) (data kept), or its length field set.
const editHeader = (dir, fn, lenOverride) => {
  const p = join(dir, 'model.safetensors'), b = readFileSync(p);
  const n = Number(b.readBigUInt64LE(0));
  const hdr = JSON.parse(b.subarray(8, 8 + n).toString());
  const json = Buffer.from(JSON.stringify(fn(hdr) ?? hdr));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(lenOverride ?? json.length));
  // keep the data where the offsets point: pad or cut the header region to the old length
  writeFileSync(p, Buffer.concat([head, json, b.subarray(8 + n)]));
};
const firstMatrix = (h) => Object.keys(h).find((k) => k.endsWith('q_proj.weight'));

const BAD_CASES = [
  ['unsupported architecture', /architecture GemmaForCausalLM is not supported/, (d) => editJson(d, 'config.json', (j) => { j.architectures = ['GemmaForCausalLM']; })],
  ['config.json missing', /config\.json is missing/, (d) => rmSync(join(d, 'config.json'))],
  ['config.json malformed', /config\.json: invalid JSON at byte/, (d) => writeFileSync(join(d, 'config.json'), '{"architectures": [')],
  ['no weights', /no model\.safetensors or model\.safetensors\.index\.json/, (d) => rmSync(join(d, 'model.safetensors'))],
  ['PyTorch .bin', /PyTorch \.bin checkpoints are not supported/, (d) => { rmSync(join(d, 'model.safetensors')); writeFileSync(join(d, 'pytorch_model.bin'), 'x'); }],
  ['tokenizer.json missing', /tokenizer\.json is missing/, (d) => rmSync(join(d, 'tokenizer.json'))],
  ['tokenizer.model malformed', /tokenizer\.model: malformed protobuf at byte 1/, (d) => writeFileSync(join(d, 'tokenizer.model'), 'x')],
  ['Unigram tokenizer', /model type Unigram is not supported/, (d) => editJson(d, 'tokenizer.json', (j) => { j.model.type = 'Unigram'; })],
  ['unknown pre-tokenizer', /pre_tokenizer is none Kite knows/, (d) => editJson(d, 'tokenizer.json', (j) => { j.pre_tokenizer = { type: 'Whitespace' }; })],
  ['NoPE pattern', /no_rope_layers/, (d) => editJson(d, 'config.json', (j) => { j.no_rope_layers = [1, 0, 1, 1]; })],
  ['unmapped tensor', /cannot map tensor model\.layers\.0\.mlp\.experts\.0\.weight/, (d) =>
    editHeader(d, (h) => { const k = firstMatrix(h); h['model.layers.0.mlp.experts.0.weight'] = h[k]; delete h[k]; })],
  ['dtype F64', /dtype F64 \(F32, F16, BF16 are supported\)/, (d) =>
    editHeader(d, (h) => { const e = h[firstMatrix(h)]; e.dtype = 'F64'; e.shape = [e.shape[0] / 4, e.shape[1]]; })],
  ['offsets past the file', /data_offsets end \d+ is past the data/, (d) => editHeader(d, (h) => { h[firstMatrix(h)].data_offsets[1] += 1e9; })],
  ['overlapping tensors', /overlap/, (d) => editHeader(d, (h) => {
    const ks = Object.keys(h).filter((k) => k !== '__metadata__');
    h[ks[1]].data_offsets = [...h[ks[0]].data_offsets];
    h[ks[1]].shape = [...h[ks[0]].shape];
    h[ks[1]].dtype = h[ks[0]].dtype;
  })],
  ['size does not fit the shape', /bytes of data for a F16 tensor of \d+ elements/, (d) => editHeader(d, (h) => { h[firstMatrix(h)].shape[0] += 1; })],
  ['huge header length', /header length \d+ is over the format's limit/, (d) => editHeader(d, () => null, 2 ** 40)],
  ['header past the end', /runs past the end of the \d+-byte file/, (d) => editHeader(d, () => null, 90000000)],
  ['index names a missing shard', /model-00009-of-00009\.safetensors: No such file/, (d) =>
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': 'model-00009-of-00009.safetensors' } }))],
  ['config.json a FIFO', /config\.json is a FIFO \(named pipe\), not a regular file/, (d) => {
    rmSync(join(d, 'config.json'));
    execFileSync('mkfifo', [join(d, 'config.json')]);
  }],
  ['a shard a folder', /model\.safetensors is a directory, not a regular file/, (d) => {
    rmSync(join(d, 'model.safetensors'));
    mkdirSync(join(d, 'model.safetensors'));
  }],
  ['index names a path', /shard "\.\.\/x\.safetensors" is not a file name/, (d) =>
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': '../x.safetensors' } }))],
];

// Converts dir into an empty folder of the case's own: exit 2, the message, and no file left.
function assertRefused(name, dir, msg) {
  const outDir = join(tmp, 'bad-out', name.replace(/\W+/g, '-'));
  mkdirSync(outDir, { recursive: true });
  const r = convert([dir, join(outDir, 'out.gguf')]);
  assert.equal(r.status, 2, `exit ${r.status}: ${r.stderr}`);
  assert.match(r.stderr, msg);
  assert.deepEqual(readdirSync(outDir), [], 'no output (or temporary) file left');
}

for (const [name, msg, edit] of BAD_CASES) {
  test(`kite convert refuses: ${name}`, () => {
    requireModels();
    assertRefused(name, badCheckpoint(name.replace(/\W+/g, '-'), edit), msg);
  });
}

// ---- Gemma / Phi / Qwen3MoE refused: a key the arch needs, values llama.cpp would run wrong, an expert missing ----

// The case's HF folder (the one its conversion test wrote, else a fresh one).
function caseDir(stem) {
  const dir = join(tmp, stem);
  if (!existsSync(dir)) {
    const c = CASES.find((x) => x.stem === stem);
    writeHf(readGguf(readFileSync(c.file())), dir, c);
  }
  return dir;
}

// config.json edited by fn
const cfg = (fn) => (dir) => editJson(dir, 'config.json', fn);

const ARCH_BAD = [
  ['gemma2 without attn_logit_softcapping', 'gemma2', /config\.json: missing "attn_logit_softcapping" \(gemma2 needs it\)/, cfg((j) => { delete j.attn_logit_softcapping; })],
  ['gemma3 without sliding_window', 'gemma3', /config\.json: missing "sliding_window" \(gemma3 needs it\)/, cfg((j) => { delete j.sliding_window; })],
  ['gemma3 query_pre_attn_scalar not the head size', 'gemma3', /query_pre_attn_scalar 64 is not the 48 llama\.cpp's gemma3 uses for 6 layers/, cfg((j) => { j.query_pre_attn_scalar = 64; })],
  ['gemma3 sliding_window_pattern 4', 'gemma3', /sliding_window_pattern 4 is not 6/, cfg((j) => { j.sliding_window_pattern = 4; })],
  ['gemma3 multimodal', 'gemma3', /architecture Gemma3ForConditionalGeneration is not supported \(a multimodal model/, cfg((j) => {
    j.text_config = { ...j };
    j.vision_config = { hidden_size: 1152 };
    j.architectures = ['Gemma3ForConditionalGeneration'];
  })],
  ['phi3 without original_max_position_embeddings', 'rand-phi3', /config\.json: missing "original_max_position_embeddings" \(phi3 needs it\)/, cfg((j) => { delete j.original_max_position_embeddings; })],
  ['phi3 long_factor of the wrong length', 'phi4mini', /rope_scaling "long_factor" is not 12 numbers/, cfg((j) => { j.rope_scaling.long_factor.pop(); })],
  // Gemma2Model reads tokenizer.model only; Gemma3Model would hash-name tokenizer.json's
  // SentencePiece-style BPE, which none of llama.cpp's known hashes is
  ['gemma3 without tokenizer.model', 'gemma3', /tokenizer\.model is missing \(gemma3's vocabulary is converted from it/, (d) =>
    rmSync(join(d, 'tokenizer.model'))],
  // Phi3MiniModel.set_vocab: tokenizer.json's BPE when tokenizer_class is GPT2Tokenizer (Phi-4-mini),
  // else tokenizer.model, required (rand-phi3's tokenizer.json holds only its added tokens)
  ['phi3 without tokenizer.model', 'rand-phi3', /tokenizer\.model is missing \(phi3 needs it unless tokenizer_config\.json's tokenizer_class is GPT2Tokenizer\)/, (d) =>
    rmSync(join(d, 'tokenizer.model'))],
  ['phi3 GPT2Tokenizer: tokenizer.json, not tokenizer.model', 'rand-phi3', /tokenizer\.json: missing "model"/, (d) =>
    editJson(d, 'tokenizer_config.json', (j) => { j.tokenizer_class = 'GPT2Tokenizer'; })],
  ['qwen3moe with an expert missing', 'qwen3moe', /the checkpoint lacks model\.layers\.1\.mlp\.experts\.5\.up_proj\.weight \(blk\.1\.ffn_up_exps\.weight needs every expert\)/, (d) =>
    editHeader(d, (h) => { delete h['model.layers.1.mlp.experts.5.up_proj.weight']; })],
  ['qwen3moe with shared experts', 'qwen3moe', /shared experts \(shared_expert_intermediate_size 64\) are not supported/, cfg((j) => { j.shared_expert_intermediate_size = 64; })],
  ['qwen3moe norm_topk_prob false', 'qwen3moe', /norm_topk_prob false is not supported/, cfg((j) => { j.norm_topk_prob = false; })],
];

for (const [name, stem, msg, edit] of ARCH_BAD) {
  test(`kite convert refuses: ${name}`, () => {
    requireModels();
    const src = caseDir(stem), dir = join(BAD, name.replace(/\W+/g, '-'));
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(src)) writeFileSync(join(dir, f), readFileSync(join(src, f)));
    edit(dir);
    assertRefused(name, dir, msg);
  });
}

test('kite convert: bad --outtype and missing arguments exit 2', () => {
  let r = convert(['a', 'b', '--outtype', 'q4_0']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--outtype needs one of f32, f16, bf16, q8_0, auto/);
  r = convert(['only-one']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /usage: kite convert/);
  r = convert([join(tmp, 'no-such-dir'), join(tmp, 'x.gguf')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no-such-dir: No such file or directory/);
});

test('kite convert: OUT naming one of the files it reads is refused before any tensor is converted, the file untouched', () => {
  requireModels();
  // Every weight NaN: with --outtype q8_0 the first matrix converted fails (quantizing refuses
  // NaN), so the refusal below shows OUT was checked before any tensor.
  const dir = badCheckpoint('out-is-input', (d) => {
    const p = join(d, 'model.safetensors'), b = readFileSync(p);
    b.fill(0xff, 8 + Number(b.readBigUInt64LE(0)));
    writeFileSync(p, b);
  });
  for (const name of ['model.safetensors', 'tokenizer.json', 'config.json']) {
    const file = join(dir, name), before = readFileSync(file);
    const r = convert([dir, file, '--outtype', 'q8_0']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, `kite convert: output ${file} is the input file: choose another name\n`);
    assert.ok(readFileSync(file).equals(before), name);
  }
  const r = convert([dir, join(tmp, 'nan.gguf'), '--outtype', 'q8_0']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /quantize .*is NaN/, 'the weights are NaN');
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
});

test('kite convert: added tokens, TemplateProcessing add_bos and chat_template.jinja follow llama.cpp\'s rules', () => {
  requireModels();
  // get_vocab_base: an added token is CONTROL when special or when it looks special (<|...|>),
  // else USER_DEFINED; ids past the tokenizer's become [PADi] UNUSED. SpecialVocab: a
  // TemplateProcessing whose single template starts with the bos token adds BOS; the template
  // comes from chat_template.jinja when tokenizer_config.json has none.
  const dir = badCheckpoint('added-tokens', (d) => {
    editJson(d, 'tokenizer.json', (j) => {
      j.added_tokens.push({ id: 50257, content: '<tool_call>', special: false, normalized: false });
      j.added_tokens.push({ id: 50258, content: '<|im_sep|>', special: false, normalized: false });
      j.post_processor = {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [],
        special_tokens: {},
      };
    });
    editJson(d, 'config.json', (j) => { j.vocab_size = 50260; });
    editJson(d, 'tokenizer_config.json', (j) => { delete j.chat_template; });
    writeFileSync(join(d, 'chat_template.jinja'), '{{ messages[0].content }}\n');
  });
  const out = join(tmp, 'added-tokens.gguf');
  const r = convert([dir, out]);
  assert.equal(r.status, 0, r.stderr);
  const g = readGguf(readFileSync(out));
  const toks = g.kv.get('tokenizer.ggml.tokens').value, types = g.kv.get('tokenizer.ggml.token_type').value;
  assert.deepEqual(toks.slice(50256), ['<|endoftext|>', '<tool_call>', '<|im_sep|>', '[PAD50259]']);
  assert.deepEqual(types.slice(50256), [3, 4, 3, 5]);
  assert.equal(g.kv.get('tokenizer.ggml.add_bos_token').value, true);
  assert.equal(g.kv.has('tokenizer.ggml.add_eos_token'), false);
  assert.equal(g.kv.get('tokenizer.chat_template').value, '{{ messages[0].content }}\n');
});

// o200k's Split as Phi-4-mini's tokenizer.json has it: the matches kept by a "Removed" split
// inverted (the same pieces as "Isolated", since the regex matches every character).
const O200K_RE =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" +
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" +
  "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const O200K_PRE = {
  type: 'Sequence',
  pretokenizers: [
    { type: 'Split', pattern: { Regex: O200K_RE }, behavior: 'Removed', invert: true },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  ],
};

test('kite convert: o200k\'s pre-tokenizer (Phi-4-mini\'s tokenizer.json) is gpt-4o; the file tokenizes as llama.cpp does', async () => {
  requireModels();
  // rand-qwen2's vocabulary under o200k's split: llama.cpp names that tokenizer gpt-4o
  const want = readGguf(readFileSync(join(modelsDir(), 'rand-qwen2-f16.gguf')));
  const dir = join(tmp, 'gpt4o');
  writeHf(want, dir, { hfArch: 'Qwen2ForCausalLM', bosInConfig: true });
  editJson(dir, 'tokenizer.json', (j) => { j.pre_tokenizer = O200K_PRE; });
  const out = join(tmp, 'gpt4o.gguf');
  const r = convert([dir, out]);
  assert.equal(r.status, 0, r.stderr);
  const got = readGguf(readFileSync(out));
  assert.equal(got.kv.get('tokenizer.ggml.pre').value, 'gpt-4o');
  compareMetadata({ ...want, kv: new Map([...want.kv, ['tokenizer.ggml.pre', got.kv.get('tokenizer.ggml.pre')]]) }, got);
  // llama.cpp's ids for the converted file (and, to show the split matters, for the qwen2 original)
  const text = "JavaScript on an iPhone, don'T PANIC: ÉtéCAFÉs cost 1234567 at ../x/y\n\n  MixedCASEwords é̃ OK'S";
  const kite = (file) => JSON.parse(execFileSync(kiteBin(), ['tokenize', '-m', file, '-p', text, '--ids', '--no-bos', '--no-parse-special']).toString());
  const llama = await llamaLib();
  try {
    const ids = async (file) => {
      const m = await llama.loadModel({ modelPath: file, gpuLayers: 0, vocabOnly: true });
      try { return m.tokenize(text, false); } finally { await m.dispose(); }
    };
    const ref = await ids(out);
    assert.deepEqual(kite(out), ref);
    assert.notDeepEqual(ref, await ids(join(modelsDir(), 'rand-qwen2-f16.gguf')), 'o200k and qwen2 split this text alike');
  } finally {
    await llamaDispose();
  }
});

// ---- transformers 5's rope_parameters ----------------------------------------------------

// rope_parameters in place of rope_scaling / rope_theta / rope_local_base_freq: Gemma 3's per
// attention type (full_attention's scaling and base, sliding_attention's base; a top-level
// rope_theta is not read then, as llama.cpp's TextModel reads none), Llama 3's flat. The keys and
// tensors must be those of the rope_scaling form (whose greedy text the cases above check).
const ROPE_PARAMETERS = [
  ['gemma3', (j, g) => {
    const base = g.kv.get('gemma3.rope.freq_base').value;
    delete j.rope_scaling;
    delete j.rope_local_base_freq;
    j.rope_theta = 5.0;
    j.rope_parameters = {
      full_attention: { rope_type: 'linear', factor: 8.0, rope_theta: base },
      sliding_attention: { rope_type: 'default', rope_theta: 10000.0 },
    };
  }],
  ['llama3', (j) => {
    j.rope_parameters = { ...j.rope_scaling, rope_theta: j.rope_theta };
    delete j.rope_scaling;
    delete j.rope_theta;
  }],
];

for (const [stem, edit] of ROPE_PARAMETERS) {
  test(`kite convert: ${stem} with rope_parameters gives the keys and tensors of its rope_scaling form`, () => {
    requireModels();
    const file = join(modelsDir(), `arch/${stem}.gguf`);
    const want = readGguf(readFileSync(file));
    const dir = join(tmp, `${stem}-rope-parameters`);
    const c = CASES.find((x) => x.stem === stem) ?? {
      hfArch: 'LlamaForCausalLM', llamaLike: true, // as the llama3 test above
      config: { rope_scaling: { rope_type: 'llama3', factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 256 } },
    };
    writeHf(want, dir, c);
    editJson(dir, 'config.json', (j) => edit(j, want));
    const out = join(tmp, `${stem}-rope-parameters.gguf`);
    const r = convert([dir, out]);
    assert.equal(r.status, 0, r.stderr);
    const got = readGguf(readFileSync(out));
    compareTensors(want, got);
    compareMetadata(want, got, c);
  });
}

// ---- base models (LlamaModel, Qwen2Model, Qwen3Model) ------------------------------------------

// Saved from the model without its LM head: tensor names lack "model." and there is no lm_head
// (these files tie the output to the embedding anyway). llama.cpp converts them as the
// ForCausalLM: the same keys and tensors.
const LLAMA3_ROPE = { rope_type: 'llama3', factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 256 };
const BASE_MODELS = [
  ['arch/llama3.gguf', { hfArch: 'LlamaModel', llamaLike: true, config: { rope_scaling: LLAMA3_ROPE } }],
  ['rand-qwen2-f16.gguf', { hfArch: 'Qwen2Model', bosInConfig: true }],
  ['arch/qwen3.gguf', { hfArch: 'Qwen3Model', bosInConfig: true, pairMerges: true }],
];
// The tensor names of a folder's model.safetensors.
const stNames = (dir) => {
  const b = readFileSync(join(dir, 'model.safetensors'));
  return Object.keys(JSON.parse(b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString())).filter((k) => k !== '__metadata__');
};

for (const [file, opts] of BASE_MODELS) {
  test(`kite convert: ${opts.hfArch} (a base model's names, no lm_head) converts as its ForCausalLM`, () => {
    requireModels();
    const want = readGguf(readFileSync(join(modelsDir(), file)));
    const dir = join(tmp, `base-${opts.hfArch}`);
    writeHf(want, dir, { ...opts, base: true });
    assert.ok(stNames(dir).every((n) => /^(embed_tokens|norm|layers\.\d+)\./.test(n)), 'the fixture has base-model names');
    const out = join(tmp, `base-${opts.hfArch}.gguf`);
    const r = convert([dir, out]);
    assert.equal(r.status, 0, r.stderr);
    const got = readGguf(readFileSync(out));
    compareTensors(want, got);
    compareMetadata(want, got);
  });
}

test('kite convert refuses: a LlamaModel with an lm_head (llama.cpp maps its names under "model.")', () => {
  requireModels();
  const dir = join(BAD, 'base-lm-head');
  writeHf(readGguf(readFileSync(join(modelsDir(), 'arch/llama3.gguf'))), dir, { ...BASE_MODELS[0][1], base: true });
  editHeader(dir, (h) => { h['lm_head.weight'] = h['embed_tokens.weight']; delete h['embed_tokens.weight']; });
  assertRefused('base-lm-head', dir, /cannot map tensor lm_head\.weight to a llama GGUF name/);
});

// ---- generation_config.json ------------------------------------------------------------------

// gguf-py's Metadata.load: generation_config.json's sampling settings -> general.sampling.*
// (top_k int32; top_p, temperature, repetition_penalty float32); a file that does not parse is
// skipped; a value gguf-py cannot pack is refused. Its eos_token_id list is no id (SpecialVocab
// reads only config.json's integer ids, and a list there is skipped too).
test('kite convert: generation_config.json gives general.sampling.* as gguf-py writes them; eos_token_id lists are not ids', () => {
  requireModels();
  const src = caseDir('qwen3');
  const dir = join(tmp, 'qwen3-generation-config');
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(src)) writeFileSync(join(dir, f), readFileSync(join(src, f)));
  const gen = { bos_token_id: 151643, do_sample: true, eos_token_id: [151645, 151643], pad_token_id: 151643, temperature: 0.6, top_k: 20, top_p: 0.95, repetition_penalty: 1.05, transformers_version: '4.51.0' };
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify(gen));
  editJson(dir, 'config.json', (j) => { j.eos_token_id = [151645, 151643]; });
  editJson(dir, 'tokenizer_config.json', (j) => { delete j.eos_token; });
  const out = join(tmp, 'qwen3-generation-config.gguf');
  let r = convert([dir, out]);
  assert.equal(r.status, 0, r.stderr);
  const sampling = (file) => Object.fromEntries([...readGguf(readFileSync(file)).kv].filter(([k]) => k.startsWith('general.sampling.')));
  const INT32 = 5, FLOAT32 = 6;
  assert.deepEqual(sampling(out), {
    'general.sampling.top_k': { type: INT32, value: 20 },
    'general.sampling.top_p': { type: FLOAT32, value: Math.fround(0.95) },
    'general.sampling.temp': { type: FLOAT32, value: Math.fround(0.6) },
    'general.sampling.penalty_repeat': { type: FLOAT32, value: Math.fround(1.05) },
  });
  assert.equal(readGguf(readFileSync(out)).kv.has('tokenizer.ggml.eos_token_id'), false);

  writeFileSync(join(dir, 'generation_config.json'), '{"temperature": 0.6,');
  r = convert([dir, out]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(sampling(out), {});

  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ ...gen, top_k: 0.5 }));
  assertRefused('generation-config-top-k', dir, /generation_config\.json: "top_k" is not an integer in int32's range/);
});

// ---- Gemma 3's embedding rows past the vocabulary --------------------------------------------

test('kite convert: gemma3 drops embedding rows past the vocabulary size, as Gemma3Model does', () => {
  requireModels();
  const want = readGguf(readFileSync(join(modelsDir(), 'arch/gemma3.gguf')));
  const c = CASES.find((x) => x.stem === 'gemma3');
  // 64 padding rows after the vocabulary's in model.embed_tokens.weight (config.json's vocab_size
  // stays the token count, as in Gemma 3's checkpoints with a padded embedding)
  const padded = {
    ...want,
    tensors: want.tensors.map((t) => (t.name !== 'token_embd.weight' ? t : {
      ...t, ne: [t.ne[0], t.ne[1] + 64], bytes: Buffer.concat([t.bytes, Buffer.alloc((t.bytes.length / t.ne[1]) * 64, 0x11)]),
    })),
  };
  const dir = join(tmp, 'gemma3-padded-embd');
  writeHf(padded, dir, c);
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'))).vocab_size, want.tensors.find((t) => t.name === 'token_embd.weight').ne[1]);
  const out = join(tmp, 'gemma3-padded-embd.gguf');
  const r = convert([dir, out]);
  assert.equal(r.status, 0, r.stderr);
  const got = readGguf(readFileSync(out));
  compareTensors(want, got);
  compareMetadata(want, got, c);
});

// ---- SpecialVocab's special tokens ------------------------------------------------------------

// gguf-py's SpecialVocab: a TemplateProcessing whose single template ends with a special token
// other than the eos makes that token the eos and the config's eos the eot (add_eos); a leading
// one is the bos (and cls) when the config names none; its pair template gives add_sep (a sep or
// eos between A and B); no cls id is written (gguf-py has no writer for it); tokenizer_config.json's
// add_sep_token overrides.
test('kite convert: special token ids and add flags follow gguf-py\'s SpecialVocab (eot from a template\'s trailing token, add_sep from its pair, no cls id)', () => {
  requireModels();
  const extra = (d, cfgTc) => {
    editJson(d, 'tokenizer.json', (j) => {
      ['<|im_end|>', '<|im_start|>', '<|sep|>'].forEach((content, i) =>
        j.added_tokens.push({ id: 50257 + i, content, special: true, normalized: false }));
      if (cfgTc.template) j.post_processor = { type: 'TemplateProcessing', ...cfgTc.template, special_tokens: {} };
    });
    editJson(d, 'config.json', (j) => { j.vocab_size = 50260; });
    editJson(d, 'tokenizer_config.json', cfgTc.edit);
  };
  const sp = (id) => ({ SpecialToken: { id, type_id: 0 } }), A = { Sequence: { id: 'A', type_id: 0 } }, B = { Sequence: { id: 'B', type_id: 1 } };
  const keys = (file) => Object.fromEntries([...readGguf(readFileSync(file)).kv]
    .filter(([k]) => /^tokenizer\.ggml\.(\w+_token_id|add_\w+_token)$/.test(k)).map(([k, v]) => [k, v.value]));
  const cases = [
    // no bos_token; eos <|endoftext|>; template <|im_start|> A <|im_end|>
    ['template-eot', { template: { single: [sp('<|im_start|>'), A, sp('<|im_end|>')], pair: [] }, edit: (j) => { delete j.bos_token; } }, {
      'tokenizer.ggml.bos_token_id': 50258, 'tokenizer.ggml.eos_token_id': 50257, 'tokenizer.ggml.eot_token_id': 50256,
      'tokenizer.ggml.add_bos_token': true, 'tokenizer.ggml.add_eos_token': true,
    }],
    // Llama 3's templates, "X A" and "X A X B" with X not the eos: the pair's middle X is no sep
    // (add_sep false); X is taken as the cls (never written), so add_bos holds
    ['template-llama3', { template: { single: [sp('<|im_start|>'), A], pair: [sp('<|im_start|>'), A, sp('<|im_start|>'), B] }, edit: () => {} }, {
      'tokenizer.ggml.bos_token_id': 50256, 'tokenizer.ggml.eos_token_id': 50256,
      'tokenizer.ggml.add_bos_token': true, 'tokenizer.ggml.add_sep_token': false,
    }],
    // A eos B: add_sep, and the sep (unnamed) is the eos
    ['template-sep', { template: { single: [A], pair: [A, sp('<|endoftext|>'), B] }, edit: () => {} }, {
      'tokenizer.ggml.bos_token_id': 50256, 'tokenizer.ggml.eos_token_id': 50256, 'tokenizer.ggml.seperator_token_id': 50256,
      'tokenizer.ggml.add_sep_token': true,
    }],
    // cls / sep tokens and add flags in tokenizer_config.json, no template
    ['cls-sep', { edit: (j) => { j.cls_token = '<|sep|>'; j.sep_token = '<|sep|>'; j.add_sep_token = true; j.add_eos_token = false; } }, {
      'tokenizer.ggml.bos_token_id': 50256, 'tokenizer.ggml.eos_token_id': 50256, 'tokenizer.ggml.seperator_token_id': 50259,
      'tokenizer.ggml.add_eos_token': false, 'tokenizer.ggml.add_sep_token': true,
    }],
  ];
  for (const [name, cfgTc, want] of cases) {
    const dir = badCheckpoint(name, (d) => extra(d, cfgTc));
    const out = join(tmp, `${name}.gguf`);
    const r = convert([dir, out]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(keys(out), want, name);
  }
});
