// demo.js - the demo page's behaviour: load a model (file, drop, URL, hf:// repository), show its
// card, generate or chat with live speed figures, quantize and offer the result (the sampling
// fields: sampling.js; converting a checkpoint: convert-ui.js). Uses only the kite-llm package;
// all the work runs in the package's worker, so this thread only updates the page.
import { loadModel, quantize, inspect } from 'kite-llm';
import { $, bytes, el, explain, progressBar, rateLeft, secs } from './ui.js';
import { renderModelCard } from './model-card.js';
import { measureThreads } from './threads.js';
import { applyRecommended, sampler, wireSampling } from './sampling.js';
import { refreshConvert, wireConvert } from './convert-ui.js';

const state = {
  model: null,         // the loaded kite-llm model
  source: null,        // what it was loaded from (File or URL string): quantize reads it again
  fileOnly: false,     // the file parsed but cannot run here (say, an unsupported architecture)
  threads: undefined,  // the thread count picked in the header or measured (undefined: the package's default)
  measuring: null,     // the thread measurement under way (a promise)
  device: 'auto',      // the device picked in the header: 'auto', 'webgpu' or 'cpu'
  name: '',            // file name shown in the card and used for the download's name
  size: 0,             // bytes of the GGUF file
  busy: null,          // 'load' | 'generate' | 'quantize' | 'convert' while one runs
  genAbort: null,      // AbortController of the running generation
  quantAbort: null,    // AbortController of the running quantization
  messages: [],        // chat history [{ role, content }]
  hasTemplate: false,
  downloadUrl: null,   // object URL of the last quantized Blob
  imatrix: null,       // File: the importance matrix quantize uses (null: none)
};

// ---- errors in plain words -------------------------------------------------------------------

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
  // the 1- and 2-bit types need an importance matrix (as llama-quantize): say so before the click
  const needsImatrix = $('#quantize-type').selectedOptions[0]?.hasAttribute('data-imatrix') && !state.imatrix;
  $('#imatrix-hint').hidden = !needsImatrix;
  $('#quantize').disabled = !parsed || !!busy || needsImatrix;
  $('#imatrix-file').disabled = busy === 'quantize';
  $('#imatrix-clear').hidden = !state.imatrix;
  $('#imatrix-clear').disabled = busy === 'quantize';
  $('#imatrix-name').textContent = state.imatrix ? `${state.imatrix.name} (${bytes(state.imatrix.size)})` : 'none';
  $('#threads').disabled = !!busy;
  $('#device').disabled = !!busy;
  $('#quantize-cancel').hidden = busy !== 'quantize';
  $('#mode-chat').disabled = !ready || !state.hasTemplate || busy === 'generate';
  $('#mode-complete').disabled = busy === 'generate';
  $('#model-card').classList.toggle('locked', !parsed);
  $('#generate-card').classList.toggle('locked', !ready);
  $('#quantize-card').classList.toggle('locked', !parsed);
  $('#generate').textContent = mode() === 'chat' ? 'Send' : 'Generate';
  refreshConvert(busy);
}
const mode = () => ($('#mode-chat').checked ? 'chat' : 'complete');

// ---- runtime badge ---------------------------------------------------------------------------

// model: the loaded model (its device, adapter and threads), or none yet.
function showRuntime(model) {
  const isolated = globalThis.crossOriginIsolated === true;
  const badge = $('#runtime-badge');
  const onGpu = model?.device === 'webgpu';
  const n = model?.threads ?? (isolated ? state.threads ?? (navigator.hardwareConcurrency || 4) : 1);
  badge.textContent = onGpu ? `WebGPU · ${model.adapter}` : isolated ? 'WebAssembly · SIMD · threads' : 'WebAssembly · single thread';
  badge.dataset.device = model?.device ?? '';
  badge.classList.toggle('warn', !onGpu && !isolated);
  $('#threads-pick').hidden = !isolated || onGpu;
  const layers = model?.info?.model?.n_layer;
  // Why WebGPU is not used, when it was asked for or picked and then left.
  const gpuNote = model && !onGpu && model.gpuError && state.device !== 'cpu' ? ` WebGPU is not used: ${model.gpuError}.` : '';
  $('#runtime-note').textContent = onGpu
    ? `The model runs on the GPU through WebGPU: ${model.gpuLayers} of ${layers} layers and the output head, ` +
      `${(model.gpuBytes / 2 ** 20).toFixed(1)} MiB of GPU memory.`
    : (isolated
      ? 'This page is cross-origin isolated, so the multi-threaded build runs.'
      : 'This page is not cross-origin isolated, so the single-thread build runs: it works, only slower. ' +
        'Serve it with COOP/COEP headers (npm run demo) for threads.') + gpuNote;
  $('#thread-count').textContent = String(n);
}

// The device picker: a change reloads the model there. WebGPU is offered where the browser has it.
function wireDevice() {
  const sel = $('#device');
  if (!globalThis.navigator?.gpu) sel.querySelector('option[value=webgpu]').disabled = true;
  sel.value = state.device;
  sel.addEventListener('change', () => {
    state.device = sel.value;
    if (state.model && !state.busy) load(state.source, state.name, state.size);
  });
}

// The thread picker: 1 .. the number of cores; a change reloads the model with the new count.
// Its default is measured (threads.js): how many workers this machine runs at once at full
// speed; until the measurement ends, and on a page without threads, the package's default.
function fillThreads() {
  const max = Math.max(1, Math.min(navigator.hardwareConcurrency || 4, 64));
  const sel = $('#threads');
  for (let i = 1; i <= max; i++) sel.append(el('option', { value: String(i) }, String(i)));
  sel.value = String(max);
  sel.addEventListener('change', () => {
    state.threads = Number(sel.value);
    sel.title = 'Worker threads for the model (a change reloads it)';
    showRuntime();
    if (state.model && !state.busy) load(state.source, state.name, state.size);
  });
  if (globalThis.crossOriginIsolated !== true || max === 1) return Promise.resolve();
  state.measuring = measureThreads(max).then((m) => {
    if (state.threads !== undefined) return; // the user picked a count meanwhile
    state.threads = m.threads;
    sel.value = String(m.threads);
    sel.dataset.measured = JSON.stringify(m.totals);
    sel.title = `Measured: ${m.threads} of ${max} logical cores run at full speed (a change reloads the model)`;
    showRuntime();
  }).catch(() => {});
  return state.measuring;
}

// ---- loading ---------------------------------------------------------------------------------

// A new model replaces the shown one only once it has loaded: a file that fails (not a GGUF,
// a broken download, too large) leaves the working model, its card and its quantize result as
// they were. A well-formed file Kite cannot run replaces them with its own card (quantize only).
async function load(source, name, size) {
  if (state.busy) return;
  clearError();
  state.busy = 'load';
  refresh();
  const shownName = $('#model-name').textContent;
  $('#model-name').textContent = name;
  loadBar.show('starting…');
  const t0 = performance.now();
  const onProgress = (p) => {
    const { stage, loaded, total } = p;
    if (stage === 'read' && total) loadBar.set(loaded / total, `reading ${bytes(loaded)} of ${bytes(total)}${rateLeft(p)}`);
    else if (stage === 'read') loadBar.busy(`reading ${bytes(loaded)}${rateLeft({ ...p, secondsLeft: null })}`);
    else if (stage === 'webgpu') loadBar.busy('preparing the GPU…');
    else loadBar.busy('preparing the model…');
  };
  // Replaces whatever is shown (model, card, outputs, quantize result) with the new file.
  const takeOver = () => {
    if (state.model) {
      const old = state.model;
      state.model = null;
      old.dispose().catch(() => {});
    }
    state.fileOnly = false;
    resetOutputs();
    resetQuantizeResult();
  };
  try {
    await state.measuring; // the measured default thread count, before the first model
    const model = await loadModel(source, { onProgress, threads: state.threads, device: state.device });
    takeOver();
    state.model = model;
    state.source = source;
    state.name = name;
    state.size = size ?? model.info?.file_size ?? NaN;
    loadBar.set(1, `loaded in ${secs((performance.now() - t0) / 1000)}`);
    showModel(model.info, name);
    applyRecommended(model.info?.model?.sampling);
    showRuntime(model);
  } catch (e) {
    loadBar.hide();
    if (!isAbort(e)) showError(e, `loading ${name}`);
    // A well-formed file Kite cannot run still has a card, and can still be quantized.
    const info = /architecture|unsupported/i.test(String(e?.message)) && !e?.needsMemory64
      ? await inspect(source).catch(() => null) : null;
    if (info) {
      takeOver();
      state.fileOnly = true;
      state.source = source;
      state.name = name;
      state.size = size ?? info.file_size ?? NaN;
      showModel(info, name);
    } else {
      // Nothing changes: the model shown before (if any) stays loaded and usable.
      $('#model-name').textContent = shownName;
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
  // A repository reference (hf://owner/repo[@rev][:QUANT]) goes to the package as it is (it
  // picks the file and names any problem); any other text is a URL or a path on this server.
  let name = url.replace(/^hf:\/\/(?=[^/]+\/[^/]+\/?$)/, '');
  if (name === url) {
    try { name = decodeURIComponent(new URL(url, location.href).pathname.split('/').pop()) || url; } catch { /* keep it */ }
  }
  load(url, name, undefined);
}

// The card, and the mode that fits the model: chat where it has a template.
function showModel(info, name) {
  const { hasTemplate } = renderModelCard($('#model-info'), info, { name, size: state.size });
  state.hasTemplate = hasTemplate;
  $('#chat-note').textContent = hasTemplate ? '' : '(needs a chat template)';
  if (hasTemplate) $('#mode-chat').checked = true;
  else $('#mode-complete').checked = true;
  showMode();
}

// ---- generation ----------------------------------------------------------------------------

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
  // On a phone the words and the prompt box stay in view after sending.
  $('#prompt-form').scrollIntoView({ block: 'nearest' });
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
      // As kite run reports it: tokens sampled over the decode loop's seconds.
      if (r.decodeSeconds > 0 && r.nGenerated > 0) $('#tokens-per-second').textContent = (r.nGenerated / r.decodeSeconds).toFixed(1);
    }
    if (!tFirst) $('#ttft').textContent = '–';
  } catch (e) {
    $('#stop-reason').textContent = isAbort(e) ? 'stopped' : 'failed';
    if (!isAbort(e)) showError(e, 'generating');
    if (e?.status === 'device lost') showRuntime(state.model); // now on the CPU (or stopped)
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

// Hides the last quantize result and its download (it belongs to the model it was made from).
function resetQuantizeResult() {
  $('#quantize-result').hidden = true;
  if (state.downloadUrl) URL.revokeObjectURL(state.downloadUrl);
  state.downloadUrl = null;
  $('#download').removeAttribute('href');
  quantBar.hide();
}

async function runQuantize() {
  if (!(state.model || state.fileOnly) || state.busy) return;
  clearError();
  const type = $('#quantize-type').value;
  const ctrl = new AbortController();
  state.quantAbort = ctrl;
  state.busy = 'quantize';
  refresh();
  resetQuantizeResult();
  quantBar.show('starting…');
  const t0 = performance.now();
  try {
    const blob = await quantize(state.source, type, {
      signal: ctrl.signal,
      allowRequantize: $('#allow-requantize').checked,
      ...(state.imatrix ? { imatrix: state.imatrix } : {}),
      onProgress: (p) => {
        // The bar and its text show the same number: the stage's fraction.
        const f = p.total ? p.loaded / p.total : 0;
        const pct = `${Math.floor(f * 100)}%`;
        quantBar.set(f, `${p.stage === 'read' ? 'reading the model' : `quantizing to ${type}`}: ${pct}${rateLeft(p)}`);
      },
    });
    const dt = (performance.now() - t0) / 1000;
    quantBar.set(1, `done in ${secs(dt)}`);
    state.downloadUrl = URL.createObjectURL(blob);
    // a repository reference's name is owner/repo[@rev][:QUANT] (a file's holds no '/'): the repository's name
    const file = state.name.includes('/') ? state.name.replace(/^.*\//, '').replace(/[@:].*$/, '') : state.name;
    const base = file.replace(/\.gguf$/i, '').replace(/[-.](F32|F16|BF16|Q\d\w*|IQ\d\w*)$/i, '');
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
  $('#quantize-type').addEventListener('change', refresh);
  $('#imatrix-file').addEventListener('change', (e) => {
    state.imatrix = e.target.files[0] ?? null;
    e.target.value = ''; // the name is shown beside the input; picking the same file again works
    refresh();
  });
  $('#imatrix-clear').addEventListener('click', () => { state.imatrix = null; refresh(); });

  // ?model=URL loads a model at once (a link can share a ready page).
  const q = new URLSearchParams(location.search).get('model');
  fillThreads();
  wireDevice();
  wireSampling();
  wireConvert({ busy: () => state.busy, setBusy: (kind) => { state.busy = kind; refresh(); }, loadFile, showError, clearError });
  showRuntime();
  showMode();
  if (q) {
    $('#model-url').value = q;
    loadUrl(q);
  }
}

wire();
