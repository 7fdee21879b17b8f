// ui.js - small helpers of the demo page: DOM building, number formats, progress bars, and
// failures turned into plain words.

export const $ = (sel) => document.querySelector(sel);
export const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'style') e.style.cssText = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
};

// ---- formatting ---------------------------------------------------------------------------

export function bytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return i === 0 ? `${n} bytes` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}
export function count(n) {
  if (!Number.isFinite(n)) return '–';
  const s = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']].find(([d]) => n >= d);
  if (!s) return String(n);
  const v = n / s[0];
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${s[1]}`;
}
export const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
export const secs = (s) => (s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`);
// A remaining time in words: "12 s", "3 min 5 s", "1 h 2 min".
export function timeLeft(s) {
  if (!Number.isFinite(s)) return '–';
  s = Math.ceil(s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// ---- errors in plain words -------------------------------------------------------------------

// Turns a failure into a headline a person can act on, keeping the exact message as detail.
export function explain(e, doing) {
  const msg = String(e?.message || e);
  const rules = [
    [/WebGPU device failed|device 'webgpu'|cannot run on WebGPU/i, 'The GPU could not run the model.',
      'Pick "CPU" (or "auto") under device to run it with WebAssembly; after a lost GPU the model already runs on the CPU: send again.'],
    [/dist\/kite-|wasm module is not loaded|WebAssembly\.instantiate|kite worker failed/i, 'Kite\'s WebAssembly build could not be started.',
      'If you run this page from a checkout, build it first: npm run build:wasm, then reload.'],
    [/magic|not a gguf|bad gguf|gguf header/i, 'This file is not a GGUF model.',
      'Kite reads GGUF files (the format of llama.cpp; names usually end in .gguf). Pick another file.'],
    [/larger than (a wasm32|the memory64)|4 GiB|too large|address space/i, 'This model is too large to run in a browser.',
      'WebAssembly can address at most 4 GiB (16 GiB in browsers with memory64, such as Chrome). Use a smaller quantization of it (for example Q4_K_M), or the native kite CLI.'],
    [/requantizing is disabled/i, 'This model is already quantized.',
      'Quantizing it again loses more precision than quantizing the original: tick "Requantize an already quantized model" to do it anyway.'],
    [/architecture|unsupported/i, 'Kite cannot run this kind of model yet.',
      'Its architecture or one of its tensor types is not supported here. The card below still shows what the file holds, and you can still quantize it.'],
    [/the repository has no \.gguf file matching/i, 'This repository has no GGUF file of that quantization.',
      'The part after ":" picks a file by its name (Q4_K_M, Q8_0, …): pick one the repository\'s file list holds, or leave it out for Q4_K_M (else its first .gguf).'],
    [/the repository has no \.gguf file/i, 'This repository has no GGUF file.',
      'Kite runs GGUF files. A repository of .safetensors weights can be converted: download its folder and pick it under "Convert a Hugging Face checkpoint".'],
    [/gated or private repository/i, 'This repository is gated or private.',
      'The page sends no Hugging Face token: download the file yourself (after accepting its terms) and drop it here.'],
    [/no such repository/i, 'Hugging Face has no such repository.',
      'Check the owner and the name in hf://owner/repo (a private repository answers the same).'],
    [/cannot fetch|HTTP \d|failed to fetch|network/i, 'The model could not be downloaded.',
      'Check the URL; a file on another site must allow cross-origin requests (CORS) for a page to read it.'],
    [/truncated|past end|shrank|corrupt|offset/i, 'This GGUF file is damaged or incomplete.',
      'Part of it is missing or inconsistent; download it again.'],
    [/unreachable|RuntimeError|instance aborted|worker died/i, 'Kite\'s WebAssembly code crashed.',
      'That is a bug in Kite, not in your model: please report it with the model\'s name. Load the model again to go on.'],
    [/out of memory|cannot allocate|allocation/i, 'The browser ran out of memory.',
      'Close other tabs, or use a smaller model or quantization.'],
  ];
  // A checkpoint the converter refuses (a missing file, an architecture it does not know)
  if (/^converting /.test(doing) && (e?.status === 'invalid input' || e?.status === 'unsupported')) {
    return { title: 'Kite cannot convert this folder.', detail: `while ${doing}: ${msg}`,
      hint: 'It needs the checkpoint\'s config.json, tokenizer.json or tokenizer.model and its .safetensors files ' +
        '(with model.safetensors.index.json when sharded), of an architecture kite convert knows (the README lists them).' };
  }
  const hit = rules.find(([re]) => re.test(msg));
  return hit ? { title: hit[1], hint: hit[2], detail: `while ${doing}: ${msg}` }
    : { title: `Something went wrong while ${doing}.`, hint: '', detail: msg };
}

// ---- progress bars ---------------------------------------------------------------------------

// The speed and the time left of a package progress report, as " · 12 MB/s · 3 s left" (each
// part only when known).
export function rateLeft({ bytesPerSecond, secondsLeft }) {
  if (!(bytesPerSecond > 0)) return '';
  const left = secondsLeft !== null && secondsLeft !== undefined ? ` · ${timeLeft(secondsLeft)} left` : '';
  return ` · ${bytes(bytesPerSecond)}/s${left}`;
}

export function progressBar(sel) {
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
