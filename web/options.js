// options.js - checks every option of the public calls (loadModel, inspect, quantize, convert,
// generate, chat, tokenize) before any worker starts: a bad value or an unknown name throws a KiteError
// naming the option and what it accepts. The ranges follow the native CLI's (native/model_cli.c).
import { KiteError } from './errors.js';
import { MAX_THREADS } from './env.js';

export { MAX_THREADS };

// Default download stall timeout: no byte for this long fails the download (ms).
export const DEFAULT_STALL_TIMEOUT_MS = 30000;

const fail = (where, name, want, v) => {
  const shown = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v;
  return new KiteError(`kite: ${where}: option ${name} must be ${want} (got ${shown})`, 'invalid input');
};

// Rules: each takes (value) and returns an error text or null; undefined always passes.
const int = (lo, hi, extra = '') => (v) =>
  Number.isInteger(v) && v >= lo && v <= hi ? null : `an integer in ${lo}..${hi}${extra}`;
const num = (lo, hi, { loOpen = false } = {}) => (v) =>
  typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && v <= hi
    ? null
    : `a number in ${loOpen ? '(' : '['}${lo}, ${hi}]`;
const bool = (v) => (typeof v === 'boolean' ? null : 'true or false');
const fn = (v) => (typeof v === 'function' ? null : 'a function');
const oneOf = (...xs) => (v) => (xs.includes(v) ? null : xs.map((x) => JSON.stringify(x)).join(', ') + ' or undefined');
const signal = (v) =>
  v && typeof v.aborted === 'boolean' && typeof v.addEventListener === 'function' ? null : 'an AbortSignal';
const stringArray = (v) =>
  Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0 && !s.includes('\0'))
    ? null
    : 'an array of non-empty strings without NUL characters';
const path = (v) => (typeof v === 'string' && v.length > 0 && !v.includes('\0') ? null : 'a file path (a string without NUL)');
const stallTimeout = (v) =>
  v === Infinity || (Number.isInteger(v) && v > 0 && v <= 2 ** 31 - 1) ? null : 'a positive number of milliseconds (or Infinity)';

const common = { onProgress: fn, signal, flavor: oneOf('auto', 'mt', 'st'), simd: oneOf('auto', 'relaxed', 'simd128') };
const cache = (v) => (v === true || v === false || v === 'opfs' || v === 'cache-api' ? null : "true, false, 'opfs' or 'cache-api'");
const sha256 = (v) => (typeof v === 'string' && /^[0-9a-fA-F]{64}$/.test(v) ? null : 'a SHA-256 as 64 hex digits');
const cacheKey = (v) => (typeof v === 'string' && v.length > 0 && v.length <= 1024 && !v.includes('\0') ? null
  : 'a non-empty string of at most 1024 characters without NUL');
const memory64 = (v) => (v === true || v === false || v === 'auto' ? null : "true, false or 'auto'");
// The hub hf:// references are fetched from: an http(s) URL.
const hfEndpoint = (v) => (typeof v === 'string' && /^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/i.test(v) ? null
  : 'an http(s) URL (the Hugging Face hub, e.g. "https://huggingface.co")');
// The token sent to that hub: '' (none) or printable ASCII without spaces (a header value).
const hfToken = (v) => (typeof v === 'string' && /^[\x21-\x7e]*$/.test(v) ? null
  : "a Hugging Face token (printable ASCII without spaces), or '' to send none");
const download = {
  memory64, hfEndpoint, hfToken,
  stallTimeout, cache, cacheKey, sha256,
  connections: int(1, 16),
  partSize: int(2 ** 20, 2 ** 30, ' (bytes)'),
};

export const LOAD_OPTIONS = {
  ...common, ...download,
  threads: int(1, MAX_THREADS),
  nCtx: int(0, 1 << 22),
  vocabOnly: bool,
  device: oneOf('auto', 'webgpu', 'cpu'),
  gpuLayers: int(1, 1 << 16),
  fallback: bool,
};

export const INSPECT_OPTIONS = { onProgress: fn, signal, flavor: oneOf('auto', 'mt', 'st'), ...download };

export const QUANTIZE_OPTIONS = {
  ...common, ...download,
  threads: int(1, MAX_THREADS),
  output: path,
  as: oneOf('uint8array', 'blob', 'file'),
  allowRequantize: bool,
  pure: bool,
  leaveOutputTensor: bool,
  onStats: fn,
  imatrix: (v) => (v === null ? 'a path, URL, File/Blob, ArrayBuffer or typed array' : null), // the source itself: quantize checks it
  imatrixFile: (v) => (typeof v === 'string' && !v.includes('\0') ? null : 'a string without NUL'),
  includeWeights: stringArray,
  excludeWeights: stringArray,
};

export const CONVERT_OPTIONS = {
  onProgress: fn, signal, simd: common.simd,
  outtype: oneOf('auto', 'f32', 'f16', 'bf16', 'q8_0'),
  name: (v) => (typeof v === 'string' && !v.includes('\0') ? null : 'a string without NUL'),
  output: path,
  as: oneOf('uint8array', 'blob', 'file'),
  hfEndpoint, hfToken, stallTimeout,
};

// A JSON schema: a plain object (it crosses to the core as JSON text) or its JSON text.
const jsonSchema = (v) => {
  const want = 'a JSON schema (a plain object, or its JSON text)';
  if (typeof v === 'string') {
    try {
      const x = JSON.parse(v);
      return x && typeof x === 'object' && !Array.isArray(x) && !v.includes('\0') ? null : want;
    } catch {
      return want;
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) return want;
  try {
    return JSON.stringify(v).includes('\u0000') ? want : null;
  } catch {
    return want; // cycles, BigInt
  }
};

export const GENERATE_OPTIONS = {
  maxTokens: (v) => (v === -1 || (Number.isInteger(v) && v >= 1 && v <= 1 << 24) ? null : 'a positive integer up to 16777216, or -1 (no limit)'),
  temperature: num(0, 100),
  topK: int(0, 1 << 24),
  topP: num(0, 1),
  minP: num(0, 1),
  repeatPenalty: num(0, 100, { loOpen: true }),
  repeatLastN: int(0, 1 << 20), // KITE_SAMPLER_MAX_PENALTY_LAST_N (src/sampler/kite_sampler.h)
  // llama.cpp's other samplers, kite_sampler.h's ranges (KITE_SAMPLER_MAX_TOP_N_SIGMA, _MIROSTAT_TAU)
  typicalP: num(0, 1),
  topNSigma: num(-1, 100),
  xtcProbability: num(0, 1),
  xtcThreshold: num(0, 1),
  mirostat: oneOf(0, 1, 2),
  mirostatTau: num(0, 100),
  mirostatEta: num(0, 1),
  // DRY (kite_sampler.h: KITE_SAMPLER_MAX_DRY, KITE_SAMPLER_MAX_PENALTY_LAST_N); the breakers
  // replace llama.cpp's defaults ("\n", ":", "\"", "*"); [] leaves none
  dryMultiplier: num(0, 1e6),
  dryBase: num(0, 1e6),
  dryAllowedLength: int(0, 1 << 20),
  dryPenaltyLastN: int(0, 1 << 20),
  drySequenceBreakers: stringArray,
  seed: int(0, 0xffffffff),
  stop: stringArray,
  signal,
  noBos: bool,
  keepContext: bool,
  cachePrompt: bool,
  parseSpecial: bool,
  onToken: fn,
  thinking: oneOf('show', 'hide'),
  grammar: (v) => (typeof v === 'string' && v.length > 0 && !v.includes('\0') ? null : "a GBNF grammar (a non-empty string without NUL)"),
  jsonSchema: (v) => jsonSchema(v),
};

// chat's thinking adds 'off': the reply opens with the template's reasoning turned off (Qwen3's
// enable_thinking false: an empty <think></think> block), as llama.cpp's --reasoning off.
// Tool calling, as OpenAI's chat.completions (kite serve's): the tools' shape here, the rest
// (a parameters schema the grammar converter refuses, a repeated name) when the chat starts.
const plainObject = (v) => !!v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
const tool = (t) => plainObject(t) && t.type === 'function' && plainObject(t.function) &&
  typeof t.function.name === 'string' && t.function.name.length > 0 && !t.function.name.includes('\0') &&
  (t.function.parameters === undefined || (plainObject(t.function.parameters) && jsonSchema(t.function.parameters) === null)) &&
  (t.function.description === undefined || (typeof t.function.description === 'string' && !t.function.description.includes('\0')));
const tools = (v) => (Array.isArray(v) && v.every(tool) ? null
  : "an array of { type: 'function', function: { name, description?, parameters? } } (parameters: a JSON schema object)");
const toolChoice = (v) => (v === 'auto' || v === 'none' || v === 'required' ||
  (plainObject(v) && v.type === 'function' && plainObject(v.function) && typeof v.function.name === 'string' && v.function.name.length > 0)
  ? null : "'auto', 'none', 'required' or { type: 'function', function: { name } }");

// reasoningBudget: llama.cpp's --reasoning-budget N (-1 unlimited), reasoningBudgetMessage its
// --reasoning-budget-message.
export const CHAT_OPTIONS = {
  ...GENERATE_OPTIONS,
  addAssistant: bool,
  thinking: oneOf('show', 'hide', 'off'),
  reasoningBudget: int(-1, 0x7fffffff),
  reasoningBudgetMessage: (v) => (typeof v === 'string' && !v.includes('\0') ? null : 'a string without NUL'),
  tools, toolChoice, parallelToolCalls: bool, onToolCallDelta: fn,
};

export const TOKENIZE_OPTIONS = { addSpecial: bool, parseSpecial: bool };

export const DELETE_CACHED_OPTIONS = { cacheKey, hfEndpoint };

// Throws a KiteError for the first bad or unknown option of opts (where: the call's name).
export function checkOptions(where, opts, rules) {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object' || Array.isArray(opts)) throw new KiteError(`kite: ${where}: options must be an object`, 'invalid input');
  for (const name of Object.keys(opts)) {
    const rule = rules[name];
    if (!rule) {
      throw new KiteError(`kite: ${where}: unknown option ${JSON.stringify(name)} (known: ${Object.keys(rules).join(', ')})`,
        'invalid input');
    }
    const v = opts[name];
    if (v === undefined) continue;
    const want = rule(v);
    if (want) throw fail(where, name, want, v);
  }
  return opts;
}

// Text the C core gets as a NUL-terminated string: a NUL inside would cut it silently.
export function checkText(where, what, text) {
  if (typeof text !== 'string') throw new KiteError(`kite: ${where}: ${what} must be a string (got ${typeof text})`, 'invalid input');
  if (text.includes('\0')) throw new KiteError(`kite: ${where}: ${what} contains a NUL character`, 'invalid input');
}
