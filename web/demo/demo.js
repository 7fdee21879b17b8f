// demo.js - the demo page's behaviour: load a model (file, drop, URL), show its card, generate
// or chat with live speed figures, quantize and offer the result. Uses only the kite-llm package;
// all the work runs in the package's worker, so this thread only updates the page.
import { loadModel, quantize, inspect } from 'kite-llm';

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'style') e.style.cssText = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
};

const state = {
  model: null,         // the loaded kite-llm model
  source: null,        // what it was loaded from (File or URL string): quantize reads it again
  fileOnly: false,     // the file parsed but cannot run here (say, an unsupported architecture)
  threads: undefined,  // the thread count picked in the header (undefined: the package's default)
  name: '',            // file name shown in the card and used for the download's name
  size: 0,             // bytes of the GGUF file
  busy: null,          // 'load' | 'generate' | 'quantize' while one runs
  genAbort: null,      // AbortController of the running generation
  quantAbort: null,    // AbortController of the running quantization
  messages: [],        // chat history [{ role, content }]
  hasTemplate: false,
  downloadUrl: null,   // object URL of the last quantized Blob
};

// ---- formatting ---------------------------------------------------------------------------

function bytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return i === 0 ? `${n} bytes` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}
function count(n) {
  if (!Number.isFinite(n)) return '–';
  const s = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']].find(([d]) => n >= d);
  if (!s) return String(n);
  const v = n / s[0];
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${s[1]}`;
}
const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const secs = (s) => (s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`);

// ---- errors in plain words -------------------------------------------------------------------

// Turns a failure into a headline a person can act on, keeping the exact message as detail.
function explain(e, doing) {
  const msg = String(e?.message || e);
  const rules = [
    [/dist\/kite-|wasm module is not loaded|WebAssembly\.instantiate|kite worker failed/i, 'Kite\'s WebAssembly build could not be started.',
      'If you run this page from a checkout, build it first: npm run build:wasm, then reload.'],
    [/magic|not a gguf|bad gguf|gguf header/i, 'This file is not a GGUF model.',
      'Kite reads GGUF files (the format of llama.cpp; names usually end in .gguf). Pick another file.'],
    [/larger than a wasm32|4 GiB|too large|address space/i, 'This model is too large to run in a browser.',
      'WebAssembly can address at most 4 GiB. Use a smaller quantization of it (for example Q4_K_M), or the native kite CLI.'],
    [/architecture|unsupported/i, 'Kite cannot run this kind of model yet.',
      'Its architecture or one of its tensor types is not supported here. The card below still shows what the file holds, and you can still quantize it.'],
    [/cannot fetch|HTTP \d|failed to fetch|network/i, 'The model could not be downloaded.',
      'Check the URL; a file on another site must allow cross-origin requests (CORS) for a page to read it.'],
    [/truncated|past end|shrank|corrupt|offset/i, 'This GGUF file is damaged or incomplete.',
      'Part of it is missing or inconsistent; download it again.'],
    [/unreachable|RuntimeError|instance aborted|worker died/i, 'Kite\'s WebAssembly code crashed.',
      'That is a bug in Kite, not in your model: please report it with the model\'s name. Load the model again to go on.'],
    [/out of memory|cannot allocate|allocation/i, 'The browser ran out of memory.',
      'Close other tabs, or use a smaller model or quantization.'],
  ];
  const hit = rules.find(([re]) => re.test(msg));
  return hit ? { title: hit[1], hint: hit[2], detail: `while ${doing}: ${msg}` }
    : { title: `Something went wrong while ${doing}.`, hint: '', detail: msg };
}

function showError(e, doing) {
  const { title, hint, detail } = explain(e, doing);
  const box = $('#error');
  box.replaceChildren(
    el('div', {}, el('strong', {}, title), hint ? el('span', {}, hint) : null, el('span', { class: 'detail' }, detail)),
    el('button', { class: 'dismiss', type: 'button', 'aria-label': 'Dismiss' }, '×'),
  );
  box.querySelector('.dismiss').onclick = clearError;
  box.hidden = false;
  box.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}
function clearError() {
  $('#error').hidden = true;
  $('#error').replaceChildren();
}
const isAbort = (e) => e?.name === 'AbortError' || e?.status === 'aborted';

// ---- progress bars ---------------------------------------------------------------------------

function progressBar(sel) {
  const root = $(sel);
  const fill = root.querySelector('.progress-fill');
  const text = root.querySelector('.progress-text');
  return {
    show(label) { root.hidden = false; root.classList.add('indeterminate'); fill.style.width = ''; text.textContent = label; },
    set(fraction, label) {
      root.classList.remove('indeterminate');
      fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
      text.textContent = label;
    },
    busy(label) { root.classList.add('indeterminate'); text.textContent = label; },
    hide() { root.hidden = true; },
  };
}
const loadBar = progressBar('#load-progress');
const quantBar = progressBar('#quantize-progress');

// ---- controls' enabled state -------------------------------------------------------------------

function refresh() {
  const ready = !!state.model;
  const parsed = ready || state.fileOnly; // enough to show the card and to quantize
  const busy = state.busy;
  $('#load').disabled = busy === 'load';
  $('#model-file').disabled = busy === 'load';
  $('#try-builtin').disabled = busy === 'load';
  $('#generate').disabled = !ready || !!busy;
  $('#stop').disabled = busy !== 'generate';
  $('#quantize').disabled = !parsed || !!busy;
  $('#threads').disabled = !!busy;
  $('#quantize-cancel').hidden = busy !== 'quantize';
  $('#mode-chat').disabled = !ready || !state.hasTemplate || busy === 'generate';
  $('#mode-complete').disabled = busy === 'generate';
  $('#model-card').classList.toggle('locked', !parsed);
  $('#generate-card').classList.toggle('locked', !ready);
  $('#quantize-card').classList.toggle('locked', !parsed);
  $('#generate').textContent = mode() === 'chat' ? 'Send' : 'Generate';
}
const mode = () => ($('#mode-chat').checked ? 'chat' : 'complete');

// ---- runtime badge ---------------------------------------------------------------------------

function showRuntime(threads) {
  const isolated = globalThis.crossOriginIsolated === true;
  const badge = $('#runtime-badge');
  const n = threads ?? (isolated ? state.threads ?? (navigator.hardwareConcurrency || 4) : 1);
  badge.textContent = isolated ? 'WebAssembly · SIMD · threads' : 'WebAssembly · single thread';
  badge.classList.toggle('warn', !isolated);
  $('#threads-pick').hidden = !isolated;
  $('#runtime-note').textContent = isolated
    ? 'This page is cross-origin isolated, so the multi-threaded build runs.'
    : 'This page is not cross-origin isolated, so the single-thread build runs: it works, only slower. ' +
      'Serve it with COOP/COEP headers (npm run demo) for threads.';
  $('#thread-count').textContent = String(n);
}

// The thread picker: 1 .. the number of cores; a change reloads the model with the new count.
function fillThreads() {
  const max = Math.max(1, Math.min(navigator.hardwareConcurrency || 4, 64));
  const sel = $('#threads');
  for (let i = 1; i <= max; i++) sel.append(el('option', { value: String(i) }, String(i)));
  sel.value = String(max);
  sel.addEventListener('change', () => {
    state.threads = Number(sel.value);
    showRuntime();
    if (state.model && !state.busy) load(state.source, state.name, state.size);
  });
}

// ---- loading ---------------------------------------------------------------------------------

async function load(source, name, size) {
  if (state.busy) return;
  clearError();
  state.busy = 'load';
  refresh();
  if (state.model) {
    const old = state.model;
    state.model = null;
    old.dispose().catch(() => {});
  }
  state.fileOnly = false;
  state.source = null;
  resetOutputs();
  $('#model-name').textContent = name;
  loadBar.show('starting…');
  const t0 = performance.now();
  const onProgress = ({ stage, loaded, total }) => {
    if (stage === 'read' && total) loadBar.set(loaded / total, `reading ${bytes(loaded)} of ${bytes(total)}`);
    else if (stage === 'read') loadBar.busy(`reading ${bytes(loaded)}`);
    else loadBar.busy('preparing the model…');
  };
  try {
    const model = await loadModel(source, { onProgress, threads: state.threads });
    state.model = model;
    state.source = source;
    state.name = name;
    state.size = size ?? model.info?.file_size ?? NaN;
    loadBar.set(1, `loaded in ${secs((performance.now() - t0) / 1000)}`);
    renderModel(model.info, name);
    showRuntime(model.threads);
  } catch (e) {
    loadBar.hide();
    if (!isAbort(e)) showError(e, `loading ${name}`);
    // A well-formed file Kite cannot run still has a card, and can still be quantized.
    const info = /architecture|unsupported/i.test(String(e?.message)) ? await inspect(source).catch(() => null) : null;
    if (info) {
      state.fileOnly = true;
      state.source = source;
      state.name = name;
      state.size = size ?? info.file_size ?? NaN;
      renderModel(info, name);
    } else {
      $('#model-name').textContent = '';
      $('#model-info').replaceChildren(el('p', { class: 'placeholder' }, 'No model loaded.'));
    }
  } finally {
    state.busy = null;
    refresh();
  }
}

function loadFile(file) {
  if (!file) return;
  load(file, file.name, file.size);
}

function loadUrl(text) {
  const url = text.trim();
  if (!url) {
    showError(new Error('the URL field is empty'), 'reading the URL');
    return;
  }
  let name = url;
  try { name = decodeURIComponent(new URL(url, location.href).pathname.split('/').pop()) || url; } catch { /* keep it */ }
  load(url, name, undefined);
}

// ---- the model card --------------------------------------------------------------------------

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

function renderModel(info, name) {
  const meta = metaMap(info);
  const m = info?.model || {}; // what the loaded model made of the file (hparams, vocabulary)
  const arch = m.arch ?? meta.get('general.architecture');
  const a = (k) => meta.get(`${arch}.${k}`);
  const tensors = info?.tensors || [];
  const nParams = info?.n_elements ?? tensors.reduce((s, t) => s + elements(t), 0);
  const tensorBytes = info?.tensor_bytes ?? tensors.reduce((s, t) => s + (t.bytes || 0), 0);
  const vocab = m.n_vocab ?? a('vocab_size') ?? arrLen(meta.get('tokenizer.ggml.tokens'));
  const template = meta.get('tokenizer.chat_template');
  state.hasTemplate = typeof template === 'string' && template.length > 0;
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
    ['File size', bytes(state.size)],
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

  const tpl = state.hasTemplate
    ? el('pre', { class: 'template' }, template)
    : el('p', { class: 'template none' }, 'This model has no chat template: use "Continue text" to let it write on from your prompt.');

  $('#model-info').replaceChildren(
    title && title !== name && title !== arch ? el('p', { class: 'muted', style: 'margin:0 0 10px' }, `“${title}”`) : '',
    dl,
    el('div', { class: 'model-details' },
      el('div', {}, el('h3', {}, 'Quantization types'), table),
      el('div', {}, el('h3', {}, 'Chat template'), tpl)),
  );
  $('#chat-note').textContent = state.hasTemplate ? '' : '(needs a chat template)';
  if (state.hasTemplate) $('#mode-chat').checked = true;
  else $('#mode-complete').checked = true;
  showMode();
}

// ---- generation ----------------------------------------------------------------------------

function sampler() {
  const num = (id, fallback) => {
    const v = Number($(id).value);
    return $(id).value.trim() === '' || !Number.isFinite(v) ? fallback : v;
  };
  const seedText = $('#seed').value.trim();
  return {
    temperature: Math.max(0, num('#temperature', 0.8)),
    topK: Math.max(0, Math.round(num('#top-k', 40))),
    topP: Math.min(1, Math.max(0, num('#top-p', 0.95))),
    minP: Math.min(1, Math.max(0, num('#min-p', 0.05))),
    maxTokens: Math.max(1, Math.round(num('#max-tokens', 64))),
    seed: seedText === '' ? Math.floor(Math.random() * 2 ** 31) : Math.max(0, Math.round(num('#seed', 0))),
  };
}

function resetOutputs() {
  state.messages = [];
  $('#output').textContent = '';
  $('#prompt-echo').textContent = '';
  $('#completion').hidden = true;
  $('#transcript').querySelectorAll('.msg').forEach((m) => m.remove());
  $('#transcript-placeholder').hidden = false;
  for (const id of ['#tokens-per-second', '#ttft']) $(id).textContent = '–';
  $('#token-count').textContent = '0';
  $('#stop-reason').textContent = '';
}

function showMode() {
  const chat = mode() === 'chat';
  $('#completion').hidden = chat || !$('#output').textContent && !$('#prompt-echo').textContent;
  $('#transcript').querySelectorAll('.msg').forEach((m) => { m.hidden = !chat; });
  const empty = chat ? state.messages.length === 0 : $('#completion').hidden;
  $('#transcript-placeholder').hidden = !empty;
  $('#transcript-placeholder').textContent = chat
    ? 'Type a message below; the model answers using its chat template.'
    : 'Write the start of a text below; the model continues it, word by word.';
  $('#prompt').placeholder = chat ? 'Say hello…' : 'Once upon a time';
  refresh();
}

function addBubble(role, text) {
  const t = el('div', { class: 'text' }, text);
  $('#transcript').append(el('div', { class: `msg ${role}` }, t));
  $('#transcript-placeholder').hidden = true;
  return t;
}

async function generate() {
  if (!state.model || state.busy) return;
  clearError();
  const prompt = $('#prompt').value;
  const chat = mode() === 'chat';
  if (!chat && prompt === '') {
    showError(new Error('the prompt is empty'), 'starting: write the start of a text first');
    return;
  }
  const opts = sampler();
  const ctrl = new AbortController();
  state.genAbort = ctrl;
  state.busy = 'generate';
  refresh();

  let sink;
  let stream;
  if (chat) {
    if (!prompt.trim()) { state.busy = null; refresh(); return; }
    state.messages.push({ role: 'user', content: prompt });
    addBubble('user', prompt);
    $('#prompt').value = '';
    sink = addBubble('assistant', '');
    stream = state.model.chat(state.messages, { ...opts, signal: ctrl.signal });
  } else {
    $('#prompt-echo').textContent = prompt;
    $('#output').textContent = '';
    $('#completion').hidden = false;
    $('#transcript-placeholder').hidden = true;
    sink = $('#output');
    stream = state.model.generate(prompt, { ...opts, signal: ctrl.signal });
  }
  const transcript = $('#transcript');
  transcript.classList.add('generating');
  const text = document.createTextNode('');
  sink.append(text);

  const t0 = performance.now();
  let tFirst = 0;
  let pieces = 0;
  let reply = '';
  $('#ttft').textContent = '…';
  $('#tokens-per-second').textContent = '…';
  $('#stop-reason').textContent = 'generating…';
  $('#token-count').textContent = '0';
  try {
    for await (const piece of stream) {
      const now = performance.now();
      if (!tFirst) {
        tFirst = now;
        $('#ttft').textContent = secs((tFirst - t0) / 1000);
      }
      pieces++;
      reply += piece;
      text.appendData(piece);
      $('#token-count').textContent = String(pieces);
      // Live rate over the decode phase (after the first token), as llama.cpp reports it.
      if (pieces > 1) $('#tokens-per-second').textContent = ((pieces - 1) / ((now - tFirst) / 1000)).toFixed(1);
      const nearBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 60;
      if (nearBottom) transcript.scrollTop = transcript.scrollHeight;
    }
    // The package's own figures, measured in the worker, replace the page's estimates. After
    // a stop, a worker without SharedArrayBuffer finishes its run first: don't wait for that.
    const r = ctrl.signal.aborted
      ? await Promise.race([stream.result.catch(() => null), new Promise((ok) => setTimeout(() => ok(null), 300))])
      : await stream.result.catch(() => null);
    $('#stop-reason').textContent = ctrl.signal.aborted ? 'stopped'
      : { eog: 'the model ended its text', stop: 'a stop string was reached', length: 'token limit reached' }[r?.stoppedBy] ?? '';
    if (r) {
      $('#token-count').textContent = String(r.nGenerated);
      if (r.decodeSeconds > 0 && r.nGenerated > 1) $('#tokens-per-second').textContent = ((r.nGenerated - 1) / r.decodeSeconds).toFixed(1);
    }
    if (!tFirst) $('#ttft').textContent = '–';
  } catch (e) {
    $('#stop-reason').textContent = isAbort(e) ? 'stopped' : 'failed';
    if (!isAbort(e)) showError(e, 'generating');
  } finally {
    if (pieces <= 1 && $('#tokens-per-second').textContent === '…') $('#tokens-per-second').textContent = '–';
    if (chat) state.messages.push({ role: 'assistant', content: reply });
    transcript.classList.remove('generating');
    state.genAbort = null;
    state.busy = null;
    refresh();
  }
}

// ---- quantization ----------------------------------------------------------------------------

async function runQuantize() {
  if (!(state.model || state.fileOnly) || state.busy) return;
  clearError();
  const type = $('#quantize-type').value;
  const ctrl = new AbortController();
  state.quantAbort = ctrl;
  state.busy = 'quantize';
  refresh();
  $('#quantize-result').hidden = true;
  if (state.downloadUrl) URL.revokeObjectURL(state.downloadUrl);
  state.downloadUrl = null;
  $('#download').removeAttribute('href');
  quantBar.show('starting…');
  const t0 = performance.now();
  try {
    const blob = await quantize(state.source, type, {
      signal: ctrl.signal,
      onProgress: ({ stage, loaded, total }) => {
        const f = total ? loaded / total : 0;
        if (stage === 'read') quantBar.set(f, `reading the model ${Math.round(f * 100)}%`);
        else quantBar.set(f, `quantizing to ${type}: ${Math.round(f * 100)}%`);
      },
    });
    const dt = (performance.now() - t0) / 1000;
    quantBar.set(1, `done in ${secs(dt)}`);
    state.downloadUrl = URL.createObjectURL(blob);
    const base = state.name.replace(/\.gguf$/i, '').replace(/[-.](F32|F16|BF16|Q\d\w*|IQ\d\w*)$/i, '');
    const a = $('#download');
    a.href = state.downloadUrl;
    a.download = `${base}-${type}.gguf`;
    a.textContent = `Download ${a.download} (${bytes(blob.size)})`;
    $('#size-before').textContent = bytes(state.size);
    $('#size-after').textContent = bytes(blob.size);
    $('#size-ratio').textContent = Number.isFinite(state.size) && state.size > 0
      ? `${((100 * blob.size) / state.size).toFixed(0)}% of the original` : '';
    $('#quantize-result').hidden = false;
  } catch (e) {
    quantBar.hide();
    if (!isAbort(e)) showError(e, `quantizing to ${type}`);
  } finally {
    state.quantAbort = null;
    state.busy = null;
    refresh();
  }
}

// ---- wiring ----------------------------------------------------------------------------------

function wire() {
  $('#model-file').addEventListener('change', (e) => {
    loadFile(e.target.files[0]);
    e.target.value = ''; // picking the same file again still loads it
  });
  $('#url-form').addEventListener('submit', (e) => { e.preventDefault(); loadUrl($('#model-url').value); });
  $('#try-builtin').addEventListener('click', () => {
    const url = new URL('../../models/stories260K.gguf', location.href).href;
    $('#model-url').value = url;
    loadUrl(url);
  });

  // Drop anywhere on the page; the drop zone lights up while a file is over the window.
  const zone = $('#drop-zone');
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
  window.addEventListener('dragenter', (e) => { if (hasFiles(e)) { depth++; zone.classList.add('over'); } });
  window.addEventListener('dragleave', (e) => { if (hasFiles(e) && --depth <= 0) { depth = 0; zone.classList.remove('over'); } });
  window.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    zone.classList.remove('over');
    loadFile(e.dataTransfer.files[0]);
  });

  $('#prompt-form').addEventListener('submit', (e) => { e.preventDefault(); generate(); });
  $('#prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey || (mode() === 'chat' && !e.shiftKey))) {
      e.preventDefault();
      generate();
    }
  });
  $('#stop').addEventListener('click', () => state.genAbort?.abort());
  $('#clear').addEventListener('click', () => { if (state.busy !== 'generate') { resetOutputs(); showMode(); } });
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', showMode);
  $('#quantize').addEventListener('click', runQuantize);
  $('#quantize-cancel').addEventListener('click', () => state.quantAbort?.abort());

  // ?model=URL loads a model at once (a link can share a ready page).
  const q = new URLSearchParams(location.search).get('model');
  fillThreads();
  showRuntime();
  showMode();
  if (q) {
    $('#model-url').value = q;
    loadUrl(q);
  }
}

wire();
