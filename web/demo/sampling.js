// sampling.js - the demo's sampling fields: on each load they take the model's recommended
// settings (its general.sampling.* keys, model.info.model.sampling) where it has them, else the
// demo's defaults (llama.cpp's); a field the user edits keeps the user's value (as a flag given
// to kite run wins over the file). The fields always hold the settings generate and chat get.
import { $ } from './ui.js';

// field id -> [the package's option name, the demo's default, clamp to the field's range]
const FIELDS = {
  '#temperature': ['temperature', 0.8, (v) => Math.max(0, v)],
  '#top-k': ['topK', 40, (v) => Math.max(0, Math.round(v))],
  '#top-p': ['topP', 0.95, (v) => Math.min(1, Math.max(0, v))],
  '#min-p': ['minP', 0.05, (v) => Math.min(1, Math.max(0, v))],
  '#repeat-penalty': ['repeatPenalty', 1, (v) => Math.max(0.01, v)],
  '#xtc-probability': ['xtcProbability', 0, (v) => Math.min(1, Math.max(0, v))],
  '#xtc-threshold': ['xtcThreshold', 0.1, (v) => Math.min(1, Math.max(0, v))],
  '#mirostat': ['mirostat', 0, (v) => Math.min(2, Math.max(0, Math.round(v)))],
  '#mirostat-tau': ['mirostatTau', 5, (v) => Math.min(100, Math.max(0, v))],
  '#mirostat-eta': ['mirostatEta', 0.1, (v) => Math.min(1, Math.max(0, v))],
};

let recommended = null; // the loaded model's info.model.sampling ({} : none; null: no model loaded yet)
const labelOf = (field) => field.closest('label').firstChild.textContent.trim();
const isUsers = (field) => field.dataset.user === '1';

// Marks the fields the model set, and says under them which values are the model's and which
// the user's.
function describe() {
  if (!recommended) return; // before the first model the page's note stays
  const from = [];
  const mine = [];
  for (const [id, [key]] of Object.entries(FIELDS)) {
    const field = $(id);
    const model = !isUsers(field) && recommended[key] !== undefined;
    field.classList.toggle('recommended', model);
    if (isUsers(field)) mine.push(labelOf(field));
    else if (model) from.push(labelOf(field));
  }
  const parts = [];
  if (from.length) parts.push(`${from.join(', ')}: recommended by the model (marked).`);
  else if (!mine.length) parts.push('The model recommends no settings: these are the usual defaults.');
  if (mine.length) parts.push(`${mine.join(', ')}: your value${mine.length > 1 ? 's' : ''}.`);
  $('#sampling-text').textContent = parts.join(' ');
  $('#sampling-reset').hidden = !mine.length;
}

// Sets the fields from a loaded model's recommended sampling (its info.model.sampling): a field
// the user edited keeps the user's value; the others take the model's value where it has one
// (the field marked), else the default.
export function applyRecommended(sampling) {
  recommended = sampling ?? {};
  for (const [id, [key, fallback]] of Object.entries(FIELDS)) {
    if (!isUsers($(id))) $(id).value = String(recommended[key] ?? fallback);
  }
  // a model that recommends XTC or Mirostat shows those fields
  if (['xtcProbability', 'xtcThreshold', 'mirostat', 'mirostatTau', 'mirostatEta'].some((k) => recommended[k] !== undefined))
    $('.more-samplers').open = true;
  describe();
}

// A field edited by hand is the user's from then on, across loads, until "Use the model's
// settings" gives them all back to the model.
export function wireSampling() {
  for (const id of Object.keys(FIELDS)) {
    $(id).addEventListener('input', (e) => {
      e.target.dataset.user = '1';
      describe();
    });
  }
  $('#sampling-reset').addEventListener('click', () => {
    for (const id of Object.keys(FIELDS)) delete $(id).dataset.user;
    if (recommended) applyRecommended(recommended);
    else $('#sampling-reset').hidden = true;
  });
}

// The generate / chat options the fields hold (an empty or bad field: its default).
export function sampler() {
  const num = (id, fallback) => {
    const v = Number($(id).value);
    return $(id).value.trim() === '' || !Number.isFinite(v) ? fallback : v;
  };
  const opts = {};
  for (const [id, [key, fallback, clamp]] of Object.entries(FIELDS)) opts[key] = clamp(num(id, fallback));
  const seedText = $('#seed').value.trim();
  opts.maxTokens = Math.max(1, Math.round(num('#max-tokens', 64)));
  opts.seed = seedText === '' ? Math.floor(Math.random() * 2 ** 31) : Math.max(0, Math.round(num('#seed', 0)));
  return opts;
}
