// model-card.js - the demo's model card: what a GGUF holds (architecture, size, context,
// vocabulary, storage types with their share of the bytes, chat template), from model.info.
import { bytes, count, el, int } from './ui.js';

// The info's metadata as a Map key -> value (arrays longer than a few items come as { count }).
function metaMap(info) {
  const m = new Map();
  const md = info?.metadata;
  if (Array.isArray(md)) for (const kv of md) m.set(kv.key, kv.value);
  else if (md && typeof md === 'object') for (const [k, v] of Object.entries(md)) m.set(k, v);
  return m;
}
const arrLen = (v) => (Array.isArray(v) ? v.length : v && typeof v === 'object' ? (v.count ?? v.value?.length) : undefined);
const elements = (t) => (t.shape || t.ne || []).reduce((a, b) => a * b, 1);

// Fills container with the card of a GGUF described by info (the package's model.info or
// inspect() result): key facts, the per-type size breakdown, the chat template.
// Returns { hasTemplate }.
export function renderModelCard(container, info, { name, size }) {
  const meta = metaMap(info);
  const m = info?.model || {}; // what the loaded model made of the file (hparams, vocabulary)
  const arch = m.arch ?? meta.get('general.architecture');
  const a = (k) => meta.get(`${arch}.${k}`);
  const tensors = info?.tensors || [];
  const nParams = info?.n_elements ?? tensors.reduce((s, t) => s + elements(t), 0);
  const tensorBytes = info?.tensor_bytes ?? tensors.reduce((s, t) => s + (t.bytes || 0), 0);
  const vocab = m.n_vocab ?? a('vocab_size') ?? arrLen(meta.get('tokenizer.ggml.tokens'));
  const template = meta.get('tokenizer.chat_template');
  const hasTemplate = typeof template === 'string' && template.length > 0;
  const heads = m.n_head ?? a('attention.head_count');
  const headsKv = m.n_head_kv ?? a('attention.head_count_kv');

  const facts = [
    ['Architecture', arch ?? 'unknown'],
    ['Parameters', count(nParams)],
    ['Context length', int(m.n_ctx_train ?? a('context_length'))],
    ['Vocabulary', vocab !== undefined ? `${int(vocab)} tokens` : '–'],
    ['Layers', int(m.n_layer ?? a('block_count'))],
    ['Embedding size', int(m.n_embd ?? a('embedding_length'))],
    ['Attention heads', heads !== undefined ? `${heads}${headsKv && headsKv !== heads ? ` (${headsKv} kv)` : ''}` : '–'],
    ['File size', bytes(size)],
    ['Bits per weight', nParams ? (8 * tensorBytes / nParams).toFixed(2) : '–'],
    ['Tokenizer', m.vocab_type ?? meta.get('tokenizer.ggml.model') ?? '–'],
  ];
  const title = meta.get('general.name');
  const dl = el('dl', { class: 'facts' }, ...facts.map(([k, v]) => el('div', { class: 'fact' }, el('dt', {}, k), el('dd', {}, String(v)))));

  // Per-type breakdown: how many tensors, weights and bytes each storage type holds.
  const byType = new Map();
  for (const t of tensors) {
    const type = String(t.type).toUpperCase(); // ggml's names (q4_K) as people write them (Q4_K)
    const r = byType.get(type) || { n: 0, params: 0, bytes: 0 };
    r.n++;
    r.params += elements(t);
    r.bytes += t.bytes || 0;
    byType.set(type, r);
  }
  const rows = [...byType.entries()].sort((x, y) => y[1].bytes - x[1].bytes);
  const table = el('table', { class: 'types' },
    el('thead', {}, el('tr', {}, ...['type', 'tensors', 'weights', 'size', ''].map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map(([type, r]) => el('tr', {},
      el('td', {}, type), el('td', {}, int(r.n)), el('td', {}, count(r.params)), el('td', {}, bytes(r.bytes)),
      el('td', { class: 'bar', title: `${((100 * r.bytes) / (tensorBytes || 1)).toFixed(1)}% of the weights' bytes` },
        el('span', { style: `width:${((100 * r.bytes) / (tensorBytes || 1)).toFixed(1)}%` }))))));

  const tpl = hasTemplate
    ? el('pre', { class: 'template' }, template)
    : el('p', { class: 'template none' }, 'This model has no chat template: use "Continue text" to let it write on from your prompt.');

  container.replaceChildren(
    title && title !== name && title !== arch ? el('p', { class: 'muted', style: 'margin:0 0 10px' }, `“${title}”`) : '',
    dl,
    el('div', { class: 'model-details' },
      el('div', {}, el('h3', {}, 'Quantization types'), table),
      el('div', {}, el('h3', {}, 'Chat template'), tpl)),
  );
  return { hasTemplate };
}
