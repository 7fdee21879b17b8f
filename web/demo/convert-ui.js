// convert-ui.js - the demo's "convert a Hugging Face checkpoint" entry: pick a folder, convert
// it with the package's convert() (progress, cancel), then load the GGUF or download it. The
// package's convert needs SharedArrayBuffer: on a page that is not crossOriginIsolated the entry
// says so and stays off.
import { convert } from 'kite-llm';
import { $, bytes, progressBar, rateLeft, secs } from './ui.js';

const bar = progressBar('#convert-progress');
const conv = {
  files: null,     // File[] of the picked folder (null: none)
  folder: '',      // the picked folder's name
  abort: null,     // AbortController of the running conversion
  result: null,    // File: the last GGUF made
  url: null,       // its object URL (the download link)
};
const available = () => globalThis.crossOriginIsolated === true;

// Enables the entry's controls for the page's busy state (null, or what runs: 'load', 'convert', ...).
export function refreshConvert(busy) {
  const off = !available();
  $('#convert-unavailable').hidden = !off;
  $('#convert-folder').disabled = off || !!busy;
  $('#convert-outtype').disabled = off || !!busy;
  $('#convert').disabled = off || !!busy || !conv.files;
  $('#convert-cancel').hidden = busy !== 'convert';
  $('#convert-load').disabled = !!busy;
  $('#convert-name').textContent = conv.files
    ? `${conv.folder}: ${conv.files.length} files, ${bytes(conv.files.reduce((s, f) => s + f.size, 0))}` : 'no folder picked';
}

function resetResult() {
  $('#convert-result').hidden = true;
  if (conv.url) URL.revokeObjectURL(conv.url);
  conv.url = null;
  conv.result = null;
  $('#convert-download').removeAttribute('href');
}

// page: { busy() (what runs, or null), setBusy(kind | null) (also refreshes the page),
// loadFile(file), showError(e, doing), clearError() }.
async function run(page) {
  if (!conv.files || page.busy()) return;
  page.clearError();
  const outtype = $('#convert-outtype').value;
  const ctrl = new AbortController();
  conv.abort = ctrl;
  page.setBusy('convert');
  resetResult();
  bar.show('starting…');
  const t0 = performance.now();
  try {
    const blob = await convert(conv.files, {
      outtype,
      signal: ctrl.signal,
      onProgress: (p) => {
        const f = p.total ? p.loaded / p.total : 0;
        bar.set(f, `converting ${conv.folder}: ${Math.floor(f * 100)}%${rateLeft(p)}`);
      },
    });
    const name = `${conv.folder}${outtype === 'auto' ? '' : `-${outtype.toUpperCase()}`}.gguf`;
    conv.result = new File([blob], name, { type: 'application/octet-stream' });
    conv.url = URL.createObjectURL(conv.result);
    bar.set(1, `done in ${secs((performance.now() - t0) / 1000)}`);
    const a = $('#convert-download');
    a.href = conv.url;
    a.download = name;
    a.textContent = `Download ${name} (${bytes(blob.size)})`;
    $('#convert-result').hidden = false;
  } catch (e) {
    bar.hide();
    if (e?.name !== 'AbortError' && e?.status !== 'aborted') page.showError(e, `converting ${conv.folder}`);
  } finally {
    conv.abort = null;
    page.setBusy(null);
  }
}

// Wires the entry's controls to the page (see run's page).
export function wireConvert(page) {
  $('#convert-folder').addEventListener('change', (e) => {
    const files = [...e.target.files];
    conv.files = files.length ? files : null;
    conv.folder = files[0]?.webkitRelativePath?.split('/')[0] || 'model';
    resetResult();
    bar.hide();
    refreshConvert(page.busy());
  });
  $('#convert').addEventListener('click', () => run(page));
  $('#convert-cancel').addEventListener('click', () => conv.abort?.abort());
  $('#convert-load').addEventListener('click', () => { if (conv.result) page.loadFile(conv.result); });
  if (!available()) $('#convert-box').classList.add('unavailable');
  refreshConvert(page.busy());
}
