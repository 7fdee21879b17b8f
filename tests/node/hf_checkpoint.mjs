// hf_checkpoint.mjs - writes a Hugging Face checkpoint folder from a GGUF that llama.cpp made or
// runs (no HF checkpoints exist here): config.json, tokenizer.json (a BPE vocabulary) or
// tokenizer.model (SentencePiece, protobuf), tokenizer_config.json and model.safetensors (or
// shards + index) in HF's own layout (HF tensor names and shapes; llama's q/k rows in HF's
// rotate_half order, the inverse of the converter's permutation, written here from the
// definition; Qwen3MoE's experts one matrix each). convert.test.mjs (kite convert) and
// wasm_convert.test.mjs (the npm package's convert) convert them back.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GGML } from './gguf_read.mjs';

// GGUF names -> HF's (transformers' LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM).
const LAYER_NAMES = {
  'attn_norm.weight': 'input_layernorm.weight',
  'attn_q.weight': 'self_attn.q_proj.weight',
  'attn_q.bias': 'self_attn.q_proj.bias',
  'attn_k.weight': 'self_attn.k_proj.weight',
  'attn_k.bias': 'self_attn.k_proj.bias',
  'attn_v.weight': 'self_attn.v_proj.weight',
  'attn_v.bias': 'self_attn.v_proj.bias',
  'attn_output.weight': 'self_attn.o_proj.weight',
  'attn_q_norm.weight': 'self_attn.q_norm.weight',
  'attn_k_norm.weight': 'self_attn.k_norm.weight',
  'ffn_norm.weight': 'post_attention_layernorm.weight',
  'ffn_gate.weight': 'mlp.gate_proj.weight',
  'ffn_up.weight': 'mlp.up_proj.weight',
  'ffn_down.weight': 'mlp.down_proj.weight',
  'ffn_gate_inp.weight': 'mlp.gate.weight', // Qwen3MoE's router
};
// Gemma 2 / 3 (transformers' Gemma2DecoderLayer / Gemma3DecoderLayer): norms after attention and
// before / after the feed-forward block. Phi-3: fused q|k|v and gate|up matrices.
const FAMILY_NAMES = {
  gemma: {
    ...LAYER_NAMES,
    'post_attention_norm.weight': 'post_attention_layernorm.weight',
    'ffn_norm.weight': 'pre_feedforward_layernorm.weight',
    'post_ffw_norm.weight': 'post_feedforward_layernorm.weight',
  },
  phi3: { ...LAYER_NAMES, 'attn_qkv.weight': 'self_attn.qkv_proj.weight', 'ffn_up.weight': 'mlp.gate_up_proj.weight' },
};
function hfName(name, family) {
  if (name === 'token_embd.weight') return 'model.embed_tokens.weight';
  if (name === 'output_norm.weight') return 'model.norm.weight';
  if (name === 'output.weight') return 'lm_head.weight';
  const m = /^blk\.(\d+)\.(.+)$/.exec(name), names = FAMILY_NAMES[family] ?? LAYER_NAMES;
  if (!m || !names[m[2]]) throw new Error(`no HF name for ${name}`);
  return `model.layers.${m[1]}.${names[m[2]]}`;
}

// HF keeps each head's rotary pairs as two halves (rotate_half: the first half of a head's rows
// pairs with the second); llama.cpp's rope pairs neighbouring rows. GGUF row h*hd + 2*j + i is
// HF row h*hd + i*hd/2 + j (i: 0 or 1, j < hd/2), so HF row k takes GGUF row perm(k).
export function unpermute(bytes, rows, heads) {
  const rowBytes = bytes.length / rows, hd = rows / heads, half = hd / 2, out = new Uint8Array(bytes.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < half; j++) {
        const hf = h * hd + i * half + j, gg = h * hd + 2 * j + i;
        out.set(bytes.subarray(gg * rowBytes, (gg + 1) * rowBytes), hf * rowBytes);
      }
  return out;
}

// A .safetensors file: u64 header length, the JSON header (padded with spaces to 8 bytes, as
// the safetensors library does), the data.
function safetensorsBytes(entries) {
  let off = 0;
  const hdr = {};
  for (const e of entries) {
    hdr[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  let json = JSON.stringify({ __metadata__: { format: 'pt' }, ...hdr });
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(Buffer.byteLength(json)), true);
  return Buffer.concat([head, Buffer.from(json), ...entries.map((e) => e.bytes)]);
}

// tokenizer.json's pre_tokenizer for each llama.cpp pre name, as HF ships them.
const PRE_TOKENIZERS = {
  'gpt-2': { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  qwen2: {
    type: 'Sequence',
    pretokenizers: [
      {
        type: 'Split',
        pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
        behavior: 'Isolated',
        invert: false,
      },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  },
};

// tokenizer.json written by hand (token texts can be any string, "__proto__" included).
function tokenizerJson(g, { pairMerges }) {
  const toks = g.kv.get('tokenizer.ggml.tokens').value, types = g.kv.get('tokenizer.ggml.token_type').value;
  const pre = g.kv.get('tokenizer.ggml.pre').value;
  const added = [], vocab = [];
  toks.forEach((t, id) => {
    if (/^\[PAD\d+\]$/.test(t)) return; // ids HF's vocabulary leaves unassigned (config.vocab_size is larger)
    if (types[id] === 3 || types[id] === 4)
      added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[id] === 3 });
    else vocab.push(`${JSON.stringify(t)}:${id}`);
  });
  const merges = g.kv.get('tokenizer.ggml.merges').value.map((m) => (pairMerges ? JSON.stringify(m.split(' ')) : JSON.stringify(m)));
  const head = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: pre === 'qwen2' ? { type: 'NFC' } : null,
    pre_tokenizer: PRE_TOKENIZERS[pre],
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
  };
  const model =
    '{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"",' +
    `"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":{${vocab.join(',')}},"merges":[${merges.join(',')}]}`;
  return JSON.stringify(head).slice(0, -1) + `,"model":${model}}`;
}

// Writes an HF checkpoint folder from GGUF g. opts: hfArch, llamaLike, shards (1 or 2).
export function writeHf(g, dir, opts) {
  mkdirSync(dir, { recursive: true });
  const arch = g.kv.get('general.architecture').value;
  const a = (k) => g.kv.get(`${arch}.${k}`)?.value;
  const toks = g.kv.get('tokenizer.ggml.tokens').value;
  const nHead = a('attention.head_count'), nKv = a('attention.head_count_kv');
  const config = {
    architectures: [opts.hfArch],
    hidden_size: a('embedding_length'),
    intermediate_size: a('feed_forward_length'),
    num_hidden_layers: a('block_count'),
    num_attention_heads: nHead,
    num_key_value_heads: nKv,
    max_position_embeddings: a('context_length'),
    rms_norm_eps: a('attention.layer_norm_rms_epsilon'),
    rope_theta: a('rope.freq_base'),
    vocab_size: toks.length,
    tie_word_embeddings: !g.tensors.some((t) => t.name === 'output.weight'),
    torch_dtype: 'float16',
  };
  if (a('attention.key_length') !== undefined) config.head_dim = a('attention.key_length');
  if (g.kv.get('tokenizer.ggml.model').value === 'llama') writeSpmTokenizer(g, dir, opts);
  else writeTokenizer(g, dir, opts, config);
  if (opts.config) Object.assign(config, typeof opts.config === 'function' ? opts.config(g) : opts.config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeWeights(g, dir, opts, nHead, nKv);
}

// A protobuf varint, and a length-delimited / 32-bit field (the wire format, from its spec).
const varint = (x) => {
  const b = [];
  for (; x >= 0x80; x = Math.floor(x / 128)) b.push((x & 0x7f) | 0x80);
  b.push(x);
  return Buffer.from(b);
};
const pbBytes = (field, bytes) => Buffer.concat([varint(field * 8 + 2), varint(bytes.length), bytes]);
const pbFloat = (field, x) => { const b = Buffer.alloc(5); b[0] = field * 8 + 5; b.writeFloatLE(x, 1); return b; };
const pbVarint = (field, x) => Buffer.concat([varint(field * 8), varint(x)]);

// A SentencePiece tokenizer.model (ModelProto: field 1 repeated SentencePiece {1 piece, 2 score,
// 3 type}; SentencePiece's types are numbered as GGUF's) from g's SPM vocabulary, with what HF's
// Llama 2 folders hold beside it: tokenizer_config.json and tokenizer.json's added tokens.
// opts.spmPieces: Phi-3's layout, a tokenizer.model of that many pieces (Phi-3's 32000) and
// every control / user-defined token in tokenizer.json's added_tokens (special: control).
function writeSpmTokenizer(g, dir, opts) {
  const toks = g.kv.get('tokenizer.ggml.tokens').value, scores = g.kv.get('tokenizer.ggml.scores').value;
  const types = g.kv.get('tokenizer.ggml.token_type').value;
  const pieces = toks.slice(0, opts.spmPieces ?? toks.length).map((t, i) => {
    const body = [pbBytes(1, Buffer.from(t)), pbFloat(2, scores[i])];
    if (types[i] !== 1) body.push(pbVarint(3, types[i])); // NORMAL is the default
    return pbBytes(1, Buffer.concat(body));
  });
  const trainer = pbBytes(2, pbVarint(3, 1)); // trainer_spec { model_type: UNIGRAM }: read past
  writeFileSync(join(dir, 'tokenizer.model'), Buffer.concat([...pieces, trainer]));
  const id = (k) => g.kv.get(`tokenizer.ggml.${k}_token_id`).value;
  const added = opts.spmPieces
    ? [...types.keys()].filter((i) => types[i] === 3 || types[i] === 4).map((i) => ({ id: i, content: toks[i], normalized: false, special: types[i] === 3 }))
    : ['unknown', 'bos', 'eos'].map((k) => ({ id: id(k), content: toks[id(k)], normalized: false, special: true }));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0', added_tokens: added }));
  const tc = {
    add_bos_token: g.kv.get('tokenizer.ggml.add_bos_token').value,
    add_eos_token: g.kv.get('tokenizer.ggml.add_eos_token').value,
    bos_token: toks[id('bos')],
    eos_token: toks[id('eos')],
    unk_token: toks[id('unknown')],
    tokenizer_class: 'LlamaTokenizer',
  };
  if (g.kv.has('tokenizer.ggml.padding_token_id')) tc.pad_token = toks[id('padding')];
  if (g.kv.has('tokenizer.chat_template')) tc.chat_template = g.kv.get('tokenizer.chat_template').value;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tc));
}

// tokenizer.json and tokenizer_config.json from g's vocabulary; bos_token_id goes to config.
function writeTokenizer(g, dir, opts, config) {
  const toks = g.kv.get('tokenizer.ggml.tokens').value;
  const tc = { tokenizer_class: 'PreTrainedTokenizerFast' };
  const text = (k) => toks[g.kv.get(`tokenizer.ggml.${k}_token_id`).value];
  // Qwen's files: eos / pad by text in tokenizer_config.json, bos by id in config.json; GPT-2's:
  // bos and eos in tokenizer_config.json ({"content"} form and plain string).
  if (opts.bosInConfig) config.bos_token_id = g.kv.get('tokenizer.ggml.bos_token_id').value;
  else tc.bos_token = { content: text('bos'), lstrip: false, normalized: false, rstrip: false, single_word: false };
  tc.eos_token = text('eos');
  if (g.kv.has('tokenizer.ggml.padding_token_id')) tc.pad_token = text('padding');
  if (g.kv.has('tokenizer.chat_template')) tc.chat_template = g.kv.get('tokenizer.chat_template').value;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tc, null, 2));
  writeFileSync(join(dir, 'tokenizer.json'), tokenizerJson(g, { pairMerges: opts.pairMerges }));
}

// Gemma's RMS norms scale by 1 + w; the GGUF holds 1 + w (llama.cpp adds the 1 when converting),
// HF the w. F32 g - 1 is exact for every g >= 0.5 (Sterbenz's lemma below 2; above, g and 1 are
// both multiples of g's ulp), so the converter's (g - 1) + 1 is g again. Smaller g (none in
// these files: gemma2's norms lie in 0.62..1.31, gemma3's in 0.69..5.1) could round, and
// compareTensors would report the bytes.
function normMinusOne(bytes) {
  const f = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return new Uint8Array(f.map((x) => x - 1).buffer);
}

// Qwen3MoE keeps each expert's matrices apart: GGUF's ffn_{gate,up,down}_exps (ne [cols, rows,
// experts], expert outermost) are HF's model.layers.L.mlp.experts.E.{gate,up,down}_proj.weight.
function splitExperts(t, entry) {
  const m = /^blk\.(\d+)\.ffn_(gate|up|down)_exps\.weight$/.exec(t.name);
  if (!m) return [entry];
  const [cols, rows, n] = t.ne, size = entry.bytes.length / n;
  return Array.from({ length: n }, (_, e) => ({
    ...entry,
    name: `model.layers.${m[1]}.mlp.experts.${e}.${m[2]}_proj.weight`,
    shape: [rows, cols],
    bytes: entry.bytes.subarray(e * size, (e + 1) * size),
  }));
}

// model.safetensors (or two shards + index) with g's tensors in HF's names (opts.base: a base
// model's, LlamaModel's..., without "model."), shapes and row order;
// opts.dtype(t) may give a tensor's dtype and bytes instead ({dtype, bytes}). Generated tensors
// (rope_freqs, Phi-3's rope factors: config.json's numbers) are left out.
function writeWeights(g, dir, opts, nHead, nKv) {
  const entries = g.tensors.filter((t) => !/^rope_(freqs|factors_long|factors_short)\.weight$/.test(t.name)).flatMap((t) => {
    let bytes = t.bytes;
    const shape = [...t.ne].reverse();
    const m = /^blk\.\d+\.attn_([qk])\.(weight|bias)$/.exec(t.name);
    if (opts.llamaLike && m) bytes = unpermute(bytes, shape[0], m[1] === 'q' ? nHead : nKv);
    if (opts.family === 'gemma' && t.name.endsWith('norm.weight')) bytes = normMinusOne(bytes);
    let dtype = { [GGML.F32]: 'F32', [GGML.F16]: 'F16' }[t.type];
    if (opts.dtype) ({ dtype, bytes } = opts.dtype(t, dtype, bytes));
    if (/_exps\.weight$/.test(t.name)) return splitExperts(t, { dtype, bytes });
    const name = hfName(t.name, opts.family);
    return { name: opts.base ? name.replace(/^model\./, '') : name, dtype, shape, bytes };
  });
  if ((opts.shards ?? 1) === 1) {
    writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(entries));
    return;
  }
  const half = Math.ceil(entries.length / 2), parts = [entries.slice(0, half), entries.slice(half)];
  const weightMap = {};
  parts.forEach((p, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeFileSync(join(dir, file), safetensorsBytes(p));
    for (const e of p) weightMap[e.name] = file;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
}
