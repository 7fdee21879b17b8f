// index.js - the kite-llm package: load, inspect, run and quantize GGUF models in Node and
// browsers, and convert Hugging Face checkpoints to GGUF (convert.js). Each model (and each
// quantize or convert call) gets its own worker holding one wasm instance;
// this file only shapes requests and streams (see index.d.ts for the documented API).
import { Client, KiteError, makeAbortFlag } from './client.js';
import { describeSource, hfUrl } from './source.js';
import { parseHfRepo, resolveHfRepo } from './hf_repo.js';
import { isNode } from './env.js';
import { hasMemory64 } from './wasm_sig.js';
import { MAX_MODEL_BYTES } from './reader.js';
import {
  MAX_THREADS, DEFAULT_STALL_TIMEOUT_MS, LOAD_OPTIONS, INSPECT_OPTIONS, QUANTIZE_OPTIONS, GENERATE_OPTIONS,
  CHAT_OPTIONS, TOKENIZE_OPTIONS, DELETE_CACHED_OPTIONS, checkOptions, checkText,
} from './options.js';
import { ThinkSplit } from './think.js';
import { progressMeter } from './progress_meter.js';
import { outputKind, openOutput } from './output_target.js';

export { KiteError, hfUrl, MAX_MODEL_BYTES, MAX_THREADS };
export { convert } from './convert.js';

// The browser's model cache (OPFS, else the Cache API); empty in Node.
export async function listCachedModels() {
  if (isNode) return [];
  return (await import('./model_cache.js')).listCachedModels();
}

// Removes a URL's cached copy (complete or partial); true when there was one. The URL is the
// one given to loadModel (hf:// file references are accepted, from opts.hfEndpoint's hub);
// opts.cacheKey: the copy stored under that key instead. Rejects (status 'busy') while a load
// downloads, reads or records the copy (model_cache.js).
export async function deleteCachedModel(url, opts = {}) {
  if (typeof url !== 'string' && !(url instanceof URL)) throw new KiteError('kite: deleteCachedModel(url) needs a URL', 'invalid input');
  const { cacheKey, hfEndpoint } = checkOptions('deleteCachedModel', opts, DELETE_CACHED_OPTIONS);
  if (isNode) return false;
  const { desc } = await describeSource(url, { hfEndpoint });
  if (desc.kind !== 'url') return false;
  return (await import('./model_cache.js')).deleteCachedModel(desc.url, cacheKey ?? null);
}

// The model this package ships (models/stories260K.gguf, 1.1 MB): a file: URL in Node, an
// http(s) URL beside the package in a browser. loadModel/inspect/quantize take it as it is.
export const builtinModel = new URL('../models/stories260K.gguf', import.meta.url).href;

// A split set (llama-gguf-split's NAME-00001-of-0000N.gguf) named by its first file's path or
// URL: the names of all N files, else null.
export function splitSetNames(source) {
  if (typeof source !== 'string' && !(source instanceof URL)) return null;
  const s = String(source);
  const m = /^(.*)-(\d{5})-of-(\d{5})\.gguf((?:[?#].*)?)$/.exec(s);
  if (!m || Number(m[3]) < 2) return null;
  if (Number(m[2]) !== 1)
    throw new KiteError(`kite: ${s} is file ${Number(m[2])} of a split set: give the first (-00001-of-${m[3]}.gguf)`, 'invalid input');
  const n = Number(m[3]);
  return Array.from({ length: n }, (_, i) => `${m[1]}-${String(i + 1).padStart(5, '0')}-of-${m[3]}.gguf${m[4]}`);
}

// Browser cache copies this page hashed against a caller's sha256: "storage entry sha256". A
// later load of the entry with that sha256 trusts the copy instead of hashing it again (JS, tens
// of MB/s), so a copy changed in storage (same size) is caught by its first load in each page
// session (load_bytes.js, cached_reader.js).
const verifiedCopies = new Set();
const copyName = (storage, url, cacheKey, sha256) => `${storage} ${cacheKey === undefined ? url : `key:${cacheKey}`} ${sha256}`;

// Sends a source (or the array of a split set's files, in order) to the worker, serving pulls
// for in-memory bytes; returns the call's result.
// An abort of signal rejects at once (the caller then ends the worker).
// extra: a second source the op reads (quantize's importance matrix: { described, ...fields }),
// served as part 1.
async function withSource(client, op, source, args, { onProgress, signal, onChunk, stallTimeout, cache, cacheKey, sha256, connections, partSize, hfEndpoint, hfToken } = {}, extra = null) {
  const list = Array.isArray(source) ? source : null;
  if (list && list.length === 0) throw new KiteError('kite: an empty list of model files', 'invalid input');
  const described = await Promise.all((list ?? [source]).map((s) => describeSource(s, { hfEndpoint, hfToken })));
  const desc = list ? described.map((d) => d.desc) : described[0].desc;
  if (extra) {
    described[1] = extra.described;
    args = { ...args, imatrix: { desc: extra.described.desc, file: extra.file, include: extra.include, exclude: extra.exclude } };
  }
  const ab = makeAbortFlag(signal);
  try {
    if (signal?.aborted) throw new KiteError('aborted', 'aborted');
    const sha = sha256?.toLowerCase();
    const copy = (storage) => (!list && desc.kind === 'url' && sha ? copyName(storage, desc.url, cacheKey, sha) : null);
    const download = {
      stallTimeout: stallTimeout ?? DEFAULT_STALL_TIMEOUT_MS,
      // The model cache: on by default in browsers, never in Node (no OPFS or Cache API there).
      cache: isNode ? false : (cache ?? true),
      cacheKey,
      sha256: sha,
      verified: ['opfs', 'cache-api'].filter((s) => verifiedCopies.has(copy(s))),
      connections,
      partSize,
    };
    const meter = progressMeter();
    const r = await client.call(op, { ...args, source: desc, abort: ab.flag?.buffer, download }, {
      cancelOn: signal,
      onEvent: (m) => {
        if (m.type === 'pull') {
          const data = described[m.part ?? 0].serve(m.offset, m.length);
          client.reply({ op: 'chunk', id: m.id, data }, [data.buffer]);
        } else if (m.type === 'progress') {
          onProgress?.({ stage: m.stage, loaded: m.loaded, total: m.total, fraction: m.total ? m.loaded / m.total : 0, ...meter(m) });
        } else if (m.type === 'chunk') {
          onChunk?.(m.data);
        }
      },
    });
    // a copy the load stored or read has just passed the sha256 check
    if (r?.cache?.stored && copy(r.cache.storage)) verifiedCopies.add(copy(r.cache.storage));
    return r;
  } finally {
    ab.release();
  }
}

// A repository reference (hf://owner/repo[@revision][:QUANT]) -> the reference of the file the
// hub's file list picks (hf_repo.js; a split set's first file); any other source as it is.
async function pickRepoFile(source, { hfEndpoint, hfToken, signal }) {
  const s = source instanceof URL ? source.href : source;
  return parseHfRepo(s) ? resolveHfRepo(s, { hfEndpoint, hfToken, signal }) : source;
}

// A loaded model. Methods queue in its worker: one runs at a time.
class Model {
  #client;
  #disposed = false;
  info;
  flavor;
  threads;
  build;
  cache;

  constructor(client, info, cache) {
    this.#client = client;
    this.info = info;
    this.cache = cache ?? null;
    this.flavor = client.flavor;
    this.threads = client.threads;
    this.build = client.build;
  }

  // Where the model runs now ('webgpu' or 'cpu'; 'none' after a GPU failure without fallback).
  get device() { return this.#client.placement.device; }
  // Repeating layers on the GPU (0 on the CPU).
  get gpuLayers() { return this.#client.placement.gpuLayers; }
  // The WebGPU adapter's name in the WebGPU build, else null.
  get adapter() { return this.#client.placement.adapter; }
  // Bytes of GPU memory the model holds (weights, KV cache, activations); 0 on the CPU.
  get gpuBytes() { return this.#client.placement.gpuBytes ?? 0; }
  // Why the model is not (or no longer) on the GPU, when WebGPU was asked for; else null.
  get gpuError() { return this.#client.placement.gpuError; }

  #live() {
    if (this.#disposed) throw new KiteError('kite: the model was disposed', 'invalid input');
    return this.#client;
  }

  async tokenize(text, opts = {}) {
    checkText('tokenize', 'text', text);
    const { addSpecial = true, parseSpecial = false } = checkOptions('tokenize', opts, TOKENIZE_OPTIONS);
    return this.#live().call('tokenize', { text, addSpecial, parseSpecial });
  }

  async detokenize(ids) {
    // an array-like (Array, typed array): Array.from would take a number or null as no ids
    if (ids === null || typeof ids !== 'object' || !Number.isSafeInteger(ids.length))
      throw new KiteError(`kite: detokenize(ids) needs an array of token ids (got ${ids === null ? 'null' : typeof ids})`, 'invalid input');
    const arr = Array.from(ids, Number);
    if (arr.some((x) => !Number.isInteger(x) || x < 0 || x > 0x7fffffff))
      throw new KiteError('kite: detokenize(ids) needs non-negative integer token ids', 'invalid input');
    return this.#live().call('detokenize', { ids: arr });
  }

  generate(prompt, opts = {}) {
    checkText('generate', 'the prompt', prompt);
    checkOptions('generate', opts, GENERATE_OPTIONS);
    checkGrammar('generate', opts);
    return this.#stream('generate', { prompt, opts: genOpts(opts) }, opts);
  }

  chat(messages, opts = {}) {
    checkOptions('chat', opts, CHAT_OPTIONS);
    checkGrammar('chat', opts);
    const request = toolRequest(messages, opts);
    if (!request && (!Array.isArray(messages) || messages.some((m) => typeof m?.role !== 'string' || typeof m?.content !== 'string')))
      throw new KiteError('kite: chat(messages) needs [{ role, content }, ...] with string fields', 'invalid input');
    if (!request) {
      messages.forEach((m, i) => {
        checkText('chat', `messages[${i}].role`, m.role);
        checkText('chat', `messages[${i}].content`, m.content);
      });
    }
    const reasoning = { reasoningBudget: opts.reasoningBudget, reasoningBudgetMessage: opts.reasoningBudgetMessage };
    const o = { ...genOpts(opts), addAssistant: opts.addAssistant, thinking: opts.thinking, ...reasoning,
      streamToolCalls: typeof opts.onToolCallDelta === 'function' };
    return this.#stream('chat', request ? { request, opts: o } : { messages, opts: o }, opts);
  }

  // An async iterable of text pieces; .result resolves to the run's stats afterwards.
  #stream(op, args, { signal, onToken, onToolCallDelta, thinking = 'show' } = {}) {
    const client = this.#live();
    // thinking 'hide': only the answer's runs reach the stream (the model still reads its reasoning)
    const split = thinking === 'hide' ? new ThinkSplit() : null;
    const enqueue = (runs) => runs.forEach((r) => !r.thinking && queue.push(r.text));
    const queue = [];
    let wake = null;
    let finished = false;
    let failure = null;
    const ab = makeAbortFlag(signal, () => {
      finished = true;
      wake?.();
    });
    const result = client.call(op, { ...args, abort: ab.flag?.buffer }, {
      onEvent: (m) => {
        if (m.type === 'toolCallDelta' && !finished) onToolCallDelta?.(m.delta);
        if (m.type !== 'piece' || finished) return;
        if (split) enqueue(split.feed(m.text));
        else queue.push(m.text);
        wake?.();
      },
    });
    // onToken runs once the run is done, before the stream ends: what it throws fails the run
    // for every reader (the iterator, text(), .result), as a failure of the run itself does
    const stats = result.then((r) => {
      if (onToken) r.tokens.forEach((t) => onToken(t));
      return r;
    });
    stats.then(
      () => { if (split) enqueue(split.flush()); finished = true; wake?.(); },
      (e) => { failure = e; finished = true; wake?.(); },
    ).finally(() => ab.release());
    stats.catch(() => {}); // reported through the iterator; .result rejects on its own too
    const iterator = {
      async next() {
        for (;;) {
          if (queue.length) return { value: queue.shift(), done: false };
          if (failure && !(signal?.aborted && failure.status === 'aborted')) throw failure;
          if (finished) return { value: undefined, done: true };
          await new Promise((r) => (wake = r));
          wake = null;
        }
      },
      async return() {
        // The consumer left the loop early (break, throw): stop the generation.
        ab.fire();
        finished = true;
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() { return this; },
    };
    iterator.result = stats;
    iterator.text = async () => {
      let s = '';
      for await (const piece of iterator) s += piece;
      return s;
    };
    return iterator;
  }

  async dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      await this.#client.call('dispose');
    } catch {
      // a dead worker has nothing left to free
    }
    await this.#client.terminate();
  }
}

// The options the worker needs (checked by checkOptions already); undefined ones take the
// core's defaults there.
// grammar and jsonSchema each constrain the output: one at a time.
// Tools with a call (toolChoice other than 'none') constrain it too: not with either.
function checkGrammar(where, o) {
  if (o.grammar !== undefined && o.jsonSchema !== undefined)
    throw new KiteError(`kite: ${where}: give option grammar or jsonSchema, not both`, 'invalid input');
  if (o.tools?.length > 0 && o.toolChoice !== 'none' && (o.grammar !== undefined || o.jsonSchema !== undefined))
    throw new KiteError(`kite: ${where}: give option tools or ${o.grammar !== undefined ? 'grammar' : 'jsonSchema'}, not both (or toolChoice 'none')`, 'invalid input');
}

// A chat with tools, tool calls / tool results / reasoning in its messages, or a last assistant
// message to continue, goes to the worker as the OpenAI request body (JSON text) that kite serve's
// code reads (wasm/exports_tools.c); else null.
// Messages: { role, content } plus, for an assistant, toolCalls (or tool_calls) [{ id?, type?,
// function: { name, arguments } }] and reasoningContent (or reasoning_content), for a tool,
// toolCallId (or tool_call_id) and name.
function toolRequest(messages, o) {
  const has = (m, a, b) => m?.[a] !== undefined || m?.[b] !== undefined;
  const tooly = o.tools !== undefined || o.toolChoice !== undefined || o.parallelToolCalls !== undefined ||
    (Array.isArray(messages) && messages.some((m) => m?.role === 'tool' || has(m, 'toolCalls', 'tool_calls') ||
      has(m, 'reasoningContent', 'reasoning_content'))) ||
    (o.addAssistant !== false && Array.isArray(messages) && messages.at(-1)?.role === 'assistant');
  if (!tooly) return null;
  if (!Array.isArray(messages) || messages.some((m) => !m || typeof m !== 'object'))
    throw new KiteError('kite: chat(messages) needs [{ role, content }, ...]', 'invalid input');
  const wire = messages.map((m, i) => {
    checkText('chat', `messages[${i}].role`, m.role);
    const calls = m.toolCalls ?? m.tool_calls;
    if (calls !== undefined && calls !== null && m.role !== 'assistant')
      throw new KiteError(`kite: chat: messages[${i}].toolCalls is for an assistant message (role is ${JSON.stringify(m.role)})`, 'invalid input');
    // content: a string (null or absent only beside an assistant's calls)
    if (!(typeof m.content === 'string' || (calls && (m.content === null || m.content === undefined))))
      throw new KiteError(`kite: chat: messages[${i}].content must be a string`, 'invalid input');
    if (typeof m.content === 'string') checkText('chat', `messages[${i}].content`, m.content);
    const w = { role: m.role, content: m.content ?? null };
    if (calls !== undefined && calls !== null) w.tool_calls = calls;
    const callId = m.toolCallId ?? m.tool_call_id;
    if (callId !== undefined) w.tool_call_id = callId;
    if (m.name !== undefined) w.name = m.name;
    const reasoning = m.reasoningContent ?? m.reasoning_content;
    if (reasoning !== undefined) w.reasoning_content = reasoning;
    return w;
  });
  const body = { messages: wire };
  if (o.tools !== undefined) body.tools = o.tools;
  if (o.toolChoice !== undefined) body.tool_choice = o.toolChoice;
  if (o.parallelToolCalls !== undefined) body.parallel_tool_calls = o.parallelToolCalls;
  return JSON.stringify(body);
}

function genOpts(o) {
  return {
    maxTokens: o.maxTokens,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    minP: o.minP,
    repeatPenalty: o.repeatPenalty,
    repeatLastN: o.repeatLastN,
    typicalP: o.typicalP,
    topNSigma: o.topNSigma,
    xtcProbability: o.xtcProbability,
    xtcThreshold: o.xtcThreshold,
    mirostat: o.mirostat,
    mirostatTau: o.mirostatTau,
    mirostatEta: o.mirostatEta,
    dryMultiplier: o.dryMultiplier,
    dryBase: o.dryBase,
    dryAllowedLength: o.dryAllowedLength,
    dryPenaltyLastN: o.dryPenaltyLastN,
    drySequenceBreakers: o.drySequenceBreakers,
    seed: o.seed,
    stop: o.stop,
    grammar: o.grammar,
    jsonSchema: o.jsonSchema,
    noBos: !!o.noBos,
    keepContext: !!o.keepContext,
    cachePrompt: o.cachePrompt !== false,
    parseSpecial: !!o.parseSpecial,
  };
}

// The memory64 build: true insists on it (single thread), false never uses it, 'auto' (default)
// takes it for a model the wasm32 heap cannot hold, in a browser whose engine has memory64.
function checkMemory64(where, memory64, flavor) {
  if (memory64 === true && isNode)
    throw new KiteError(`kite: ${where}: the memory64 build runs in browsers only (Emscripten 3.1.6's glue cannot run it in Node)`, 'unsupported');
  if (memory64 === true && flavor === 'mt')
    throw new KiteError(`kite: ${where}: the memory64 build is single-thread: flavor 'mt' cannot go with memory64: true`, 'invalid input');
}

// Runs run(client) on a client from start(memory64); when the model is too large for the wasm32
// heap but fits the memory64 build, and memory64 is 'auto' in a browser that has it, once more
// on the memory64 build (its error, when it cannot start, is the first one's). keep: the client
// stays alive after a success (a loaded model); else it is terminated.
async function onFittingBuild(start, memory64, run, keep = false) {
  let client = await start(memory64 === true);
  try {
    try {
      return await run(client);
    } catch (e) {
      if (!e?.needsMemory64 || (memory64 ?? 'auto') !== 'auto' || isNode || !hasMemory64()) throw e;
      await client.terminate();
      client = null;
      client = await start(true).catch(() => { throw e; });
      return await run(client);
    }
  } catch (e) {
    await client?.terminate();
    client = null;
    throw e;
  } finally {
    if (client && !keep) await client.terminate();
  }
}

export async function loadModel(source, opts = {}) {
  checkOptions('loadModel', opts, LOAD_OPTIONS);
  const { onProgress, threads, nCtx = 0, flavor, simd, signal, vocabOnly = false, stallTimeout, cache, cacheKey, sha256, gpuLayers, fallback = true, connections, partSize, memory64, hfEndpoint, hfToken } = opts;
  checkMemory64('loadModel', memory64, flavor);
  const device = memory64 === true ? 'cpu' : pickDevice(opts);
  source = await pickRepoFile(source, opts);
  // a split set: every file, from the first file's name or as a list (paths, URLs, Files, bytes)
  const files = Array.isArray(source) ? source : splitSetNames(source);
  if (files && sha256) throw new KiteError('kite: loadModel: sha256 checks one file, not a split set', 'invalid input');
  if (files && cacheKey !== undefined) throw new KiteError('kite: loadModel: cacheKey names one file\'s cache entry, not a split set\'s', 'invalid input');
  for (const s of files ?? [source]) await describeSource(s, { hfEndpoint, hfToken }); // a bad source fails before any worker starts
  // A model too large for the wasm32 heap goes to the memory64 build (CPU only) where it can.
  const load = (dev) => onFittingBuild((m64) => Client.start({ flavor, threads, simd, device: m64 ? 'cpu' : dev, memory64: m64 }), memory64,
    async (client) => {
      const d = client.build === 'kite-st64' ? 'cpu' : dev;
      const r = await withSource(client, 'load', files ?? source, { nCtx, threads: client.threads, vocabOnly, device: d, gpuLayers, fallback },
        { onProgress, signal, stallTimeout, cache, cacheKey, sha256, connections, partSize, hfEndpoint, hfToken });
      return { client, r };
    }, true);
  let { client, r } = await load(device);
  // 'auto' found an adapter but the GPU could not take the model: the CPU builds (relaxed
  // SIMD; threads where dist/ lacks kite-mt-webgpu) run it at least as fast as the WebGPU
  // build. The file is read again (from the browser's model cache for a URL).
  if (device === 'auto' && client.placement.device !== 'webgpu' && client.build.endsWith('-webgpu') && !vocabOnly) {
    const why = client.placement.gpuError;
    await client.terminate();
    ({ client, r } = await load('cpu'));
    client.placement.gpuError = why;
  }
  if (r.cache?.warning) console.warn(`kite: ${r.cache.warning}`);
  return new Model(client, r.info, r.cache);
}

// The device option (checked by checkOptions) against the host and the other options: 'webgpu'
// needs WebGPU (navigator.gpu) and a SIMD128 build (kite-mt-webgpu or kite-st-webgpu: no
// relaxed SIMD); 'auto' means 'cpu' where either is missing. Throws a KiteError naming the
// conflict before any worker starts.
function pickDevice({ device = 'auto', simd, gpuLayers }) {
  if (device === 'cpu') {
    if (gpuLayers !== undefined) throw new KiteError("kite: loadModel: option gpuLayers needs device 'webgpu' or 'auto' (got device 'cpu')", 'invalid input');
    return 'cpu';
  }
  const clash = simd === 'relaxed' ? "simd 'relaxed'" : null;
  if (device === 'webgpu') {
    if (clash) throw new KiteError(`kite: loadModel: option device 'webgpu' runs a SIMD128 build: it cannot take ${clash}`, 'invalid input');
    if (!globalThis.navigator?.gpu)
      throw new KiteError(`kite: loadModel: option device 'webgpu' needs WebGPU (navigator.gpu), which this ${isNode ? 'Node' : 'browser'} does not have; use device 'auto' or 'cpu'`, 'unsupported');
    return 'webgpu';
  }
  return clash || !globalThis.navigator?.gpu ? 'cpu' : 'auto';
}

// The JSON description of any GGUF file (metadata + tensor table) without loading a model.
export async function inspect(source, opts = {}) {
  checkOptions('inspect', opts, INSPECT_OPTIONS);
  const { memory64, ...rest } = opts;
  checkMemory64('inspect', memory64, opts.flavor);
  source = await pickRepoFile(source, opts);
  await describeSource(source, rest);
  return onFittingBuild((m64) => Client.start({ flavor: opts.flavor ?? 'st', threads: 1, memory64: m64 }), memory64,
    (client) => withSource(client, 'inspect', source, {}, rest));
}

export async function quantize(source, type, opts = {}) {
  checkOptions('quantize', opts, QUANTIZE_OPTIONS);
  const { onProgress, signal, threads, flavor, simd, output, allowRequantize, pure, leaveOutputTensor, stallTimeout, cache, cacheKey, sha256, connections, partSize, memory64, hfEndpoint, hfToken } = opts;
  checkMemory64('quantize', memory64, flavor);
  if (typeof type !== 'string' || !type || type.includes('\0'))
    throw new KiteError('kite: quantize(source, type) needs a type name such as "Q4_K_M"', 'invalid input');
  const as = outputKind('quantize', opts);
  source = await pickRepoFile(source, opts);
  const { desc } = await describeSource(source, { hfEndpoint, hfToken });
  const { imatrix, includeWeights, excludeWeights, imatrixFile } = opts;
  if (imatrix === undefined && (includeWeights || excludeWeights || imatrixFile !== undefined))
    throw new KiteError('kite: quantize: includeWeights, excludeWeights and imatrixFile need an imatrix', 'invalid input');
  let im = null;
  if (imatrix !== undefined) {
    const described = await describeSource(imatrix, { hfEndpoint, hfToken }).catch((e) => {
      throw new KiteError(`kite: quantize: option imatrix: ${e.message.replace(/^kite: /, '').replace('a model source', 'an importance matrix source')}`, 'invalid input');
    });
    // The name quantize.imatrix.file records: imatrixFile, else the path or URL as given
    // (llama-quantize records the path it was given), a File's name, or '' for bytes.
    const file = imatrixFile ?? (typeof imatrix === 'string' ? imatrix : imatrix instanceof URL ? imatrix.href : (imatrix?.name ?? ''));
    im = { described, file, include: includeWeights ?? [], exclude: excludeWeights ?? [] };
  }
  // Our own stop: the caller's signal, or a failed write (which must end the quantization).
  const stop = new AbortController();
  const forward = () => stop.abort();
  if (signal?.aborted) stop.abort();
  signal?.addEventListener('abort', forward, { once: true });
  let client = null;
  let out = null;
  try {
    // The output is checked before any worker starts: a bad one fails at once.
    out = await openOutput('quantize', as, output, desc.kind === 'path' ? desc.path : null, () => stop.abort());
    const onChunk = out.onChunk;
    let m64 = memory64 === true;
    client = await Client.start({ flavor, threads, simd, memory64: m64 });
    // Without a SharedArrayBuffer the worker cannot see an abort: end it instead.
    const hardStop = typeof SharedArrayBuffer !== 'function' ? () => client?.terminate() : null;
    if (hardStop) stop.signal.addEventListener('abort', hardStop, { once: true });
    let stats;
    try {
      for (;;) {
        try {
          stats = await withSource(client, 'quantize', source, {
            type,
            opts: { threads: client.threads, allowRequantize: !!allowRequantize, pure: !!pure, leaveOutputTensor: !!leaveOutputTensor },
          }, { onProgress, signal: stop.signal, onChunk, stallTimeout, cache, cacheKey, sha256, connections, partSize, hfEndpoint, hfToken }, im);
          break;
        } catch (e) {
          // Too large for the wasm32 heap (refused before any output): once more on the memory64 build.
          if (m64 || !e?.needsMemory64 || (memory64 ?? 'auto') !== 'auto' || isNode || !hasMemory64()) throw e;
          await client.terminate();
          client = null;
          client = await Client.start({ flavor, threads, simd, memory64: true }).catch(() => { throw e; });
          m64 = true;
        }
      }
    } finally {
      if (hardStop) stop.signal.removeEventListener('abort', hardStop);
    }
    await out.settle();
    opts.onStats?.(stats);
    return await out.finish();
  } catch (e) {
    await out?.discard();
    if (signal?.aborted && !(e.status === 'aborted')) throw new KiteError('aborted', 'aborted');
    throw e;
  } finally {
    signal?.removeEventListener('abort', forward);
    await client?.terminate();
  }
}
