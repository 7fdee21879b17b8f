// index.d.ts - the kite-llm package API (the same in Node >= 20 and browsers).
//
//   import { loadModel, quantize, builtinModel } from 'kite-llm';
//   const model = await loadModel(builtinModel, {   // or a path, URL, hf://owner/repo[:QUANT]
//     onProgress: (p) => console.log(p.stage, p.loaded, p.total),
//   });
//   for await (const piece of model.generate('Once upon a time', { maxTokens: 64 })) process.stdout.write(piece);
//   await model.dispose();
//
// Every model runs in its own worker (Web Worker / worker_threads) holding one WebAssembly
// instance: the multi-threaded build ('mt', SIMD128 + pthreads) where SharedArrayBuffer is
// available (Node, or a crossOriginIsolated page), else the single-threaded one ('st'). In a
// browser with a WebGPU adapter the model runs on the GPU (LoadOptions.device, Model.device).
// Calls on one model run one at a time, in order.
//
// Every option is checked before any worker starts: a value out of range or an unknown option
// name throws (or rejects with) a KiteError whose message names the option and what it
// accepts; the ranges are the native CLI's.

/** Where a model comes from. A string is a URL (http, https, blob, data), a Hugging Face
 *  reference `hf://owner/repo/path/file.gguf` (optionally `owner/repo@revision/...`), or in
 *  Node a file path or file: URL. loadModel, inspect and quantize also take a repository,
 *  `hf://owner/repo[@revision][:QUANT]`, as `kite -hf` and llama.cpp's -hf do: the hub's file
 *  list (ENDPOINT/api/models/owner/repo, one request per call) picks its first top-level .gguf
 *  whose name holds QUANT (case-insensitive; without QUANT the first holding Q4_K_M, else
 *  Q8_0, else the first .gguf; never an mmproj file), which then loads (and is cached) as its file reference
 *  does; a split set's file loads the whole set. A repository with no such file rejects
 *  ('invalid input'); the hub's errors (404, 401/403 for a gated or private repository: the
 *  package sends no token) reject with 'i/o error'. Offline, a browser picks among the
 *  repository's complete copies in its model cache by the same rule. Bytes are streamed into the wasm heap: the
 *  package never holds a second full copy. */
export type ModelSource = string | URL | Blob | ArrayBuffer | ArrayBufferView;

export interface Progress {
  /** 'read': bytes into the wasm heap (download / file / Blob); 'quantize': input bytes of
   *  the tensors converted so far; 'convert': tensors written so far; 'webgpu': the GPU's pipelines and weights being prepared
   *  (0 of 0 when it starts, 1 of 1 when done). */
  stage: 'read' | 'quantize' | 'convert' | string;
  loaded: number;
  /** 0 while a download's size is unknown. */
  total: number;
  /** loaded / total (0 when total is unknown). */
  fraction: number;
  /** Speed over the last ~3 s of this stage (0 until measured). */
  bytesPerSecond: number;
  /** (total - loaded) / bytesPerSecond; null while either is unknown. */
  secondsLeft: number | null;
}

/** Options of every call that reads a model source. */
export interface DownloadOptions {
  /** A download (URL source) that receives no byte for this many milliseconds fails with a
   *  KiteError naming the URL. Default 30000; Infinity waits forever. */
  stallTimeout?: number;
  /** Browsers: keep downloaded http(s) models in the model cache (default true; no effect in
   *  Node). true uses the Origin Private File System where the browser has it, else the Cache
   *  API; 'opfs' or 'cache-api' insist on one. Entries are keyed by URL and record the
   *  server's ETag/Last-Modified and size: a complete entry loads with no network request (to
   *  fetch a changed file again, deleteCachedModel(url) or cache: false); an interrupted OPFS
   *  download resumes with a Range request tied to the ETag. A cache that cannot be written
   *  (quota, another tab) never fails the load: Model.cache.warning says why, and how much
   *  space the model needs. A response that is not a GGUF file (an error page sent as 200)
   *  rejects naming the URL and is never cached. */
  cache?: boolean | 'opfs' | 'cache-api';
  /** Browsers: the name of the model's cache entry instead of its URL, for URLs that change
   *  while the file does not (a presigned URL's query carries a new signature each time):
   *  loads with the same cacheKey share one entry whatever the URL, and its copy is served
   *  with no request. The key must name one file (a new version: a new key); not with a split
   *  set. listCachedModels shows it; deleteCachedModel(url, { cacheKey }) removes the entry.
   *  1..1024 characters. */
  cacheKey?: string;
  /** The Hugging Face hub hf:// references are fetched from (file lists and files): an http(s)
   *  URL, default 'https://huggingface.co' (a mirror, or a local server in tests). */
  hfEndpoint?: string;
  /** The token (Authorization: Bearer) for gated or private repositories, sent to hfEndpoint's
   *  URLs only (a redirect to the CDN drops it), never stored; absent: in Node $HF_TOKEN, as
   *  huggingface_hub and `kite -hf` read it; '' sends none. */
  hfToken?: string;
  /** The file's SHA-256 (64 hex digits): the bytes are checked before use (a mismatch
   *  rejects; a cached copy that fails it is dropped and the URL downloaded again, once).
   *  Hashing runs in JS at tens of MB/s: a cached copy is hashed on its first load in each
   *  page session (a copy changed in storage is caught then), and later loads in the same page
   *  trust it. */
  sha256?: string;
  /** Downloads (URL sources) whose server takes byte ranges (Accept-Ranges: bytes, a known
   *  uncompressed size, a strong ETag or a Last-Modified date to tie the parts to the same
   *  file) and that are larger than partSize are read in parts of partSize bytes
   *  over up to this many requests at once, each tied to the ETag/Last-Modified with If-Range
   *  (an interrupted OPFS download resumes each part). A server without ranges, or one that
   *  answers a part with the whole file, is read as one stream. 1..16, default 4 (1: one
   *  stream). The stall timeout and the signal apply to every part. */
  connections?: number;
  /** Bytes per part of a parallel download: 1 MiB..1 GiB, default 16 MiB. */
  partSize?: number;
  /** The memory64 build (kite-st64: single thread, up to 16 GiB; browsers only). 'auto'
   *  (default): a model too large for the wasm32 heap (about 3.75 GiB) is read again on it
   *  where the engine validates memory64 (Chromium) and dist/ holds it; elsewhere such a model
   *  is refused with the limit. true insists on it (a KiteError 'unsupported' in Node or where
   *  the engine lacks memory64; not with flavor 'mt'); false never uses it. */
  memory64?: boolean | 'auto';
}

/** How a model's bytes came (browsers, cache on), else null. */
export interface CacheStatus {
  storage: 'opfs' | 'cache-api';
  /** Read from the cache: no request was made. */
  hit: boolean;
  /** Bytes that were already cached when an interrupted download resumed (0: none). */
  resumedFrom: number;
  /** The file is in the cache now. */
  stored: boolean;
  /** Why it was not cached (no space: how much the model needs and the browser allows). */
  warning?: string;
}

/** One model in the browser's cache (listCachedModels). */
export interface CachedModel {
  url: string;
  size: number;
  /** false: an interrupted download the next load resumes. */
  complete: boolean;
  etag: string | null;
  lastModified: string | null;
  /** The key the entry is stored under (DownloadOptions.cacheKey); null: its URL. */
  cacheKey: string | null;
  /** The checksum verified when the file was stored (null when none was given). */
  sha256: string | null;
  /** Date.now() when it was stored. */
  storedAt: number;
  storage: 'opfs' | 'cache-api';
}

/** Every model in the browser's cache (empty in Node). Removes first the OPFS data files that
 *  have no usable record (a load that ended between storing bytes and recording them leaves
 *  one; it cannot be resumed or deleted by URL), as each worker's first load does, except
 *  those a running load holds. */
export function listCachedModels(): Promise<CachedModel[]>;

/** Removes a URL's cached copy (or, with cacheKey, the copy stored under that key), complete or
 *  partial; true when there was one. While a running load (in this page or another tab)
 *  downloads, reads or records that copy, rejects with a KiteError of status 'busy' naming it
 *  and keeps the copy: abort that load or wait for it (a delete is never undone by a load that
 *  finishes storing afterwards). */
export function deleteCachedModel(url: string | URL, opts?: { cacheKey?: string; hfEndpoint?: string }): Promise<boolean>;

export interface LoadOptions extends DownloadOptions {
  onProgress?: (p: Progress) => void;
  /** Threads of the wasm pool (mt build only): 1..MAX_THREADS (64). Default: all logical
   *  cores, at most 64. */
  threads?: number;
  /** KV cache length in tokens, 0..4194304. 0 (default): the model's training context, at most 4096. */
  nCtx?: number;
  /** 'auto' (default), 'mt' or 'st'. 'mt' throws where SharedArrayBuffer is unavailable. The
   *  memory64 build is single-thread. */
  flavor?: 'auto' | 'mt' | 'st';
  /** 'auto' (default): the relaxed-SIMD build (int8 dot instruction) where the engine has
   *  relaxed SIMD and dist/ holds it, else SIMD128. 'relaxed' insists, 'simd128' never uses it. */
  simd?: 'auto' | 'relaxed' | 'simd128';
  /** Load metadata and vocabulary only (tokenize, chat formatting; no generate). */
  vocabOnly?: boolean;
  /** Stops the download / read: the promise rejects at once with an AbortError. */
  signal?: AbortSignal;
  /** Where the model runs. 'auto' (default): on the GPU through WebGPU where the host has an
   *  adapter (browsers; never Node), dist/ holds the WebGPU build and the model can run there (its
   *  architecture's ops, its tensor types, the GPU's memory), else 'cpu' (when the GPU refused the
   *  model, the file is read a second time into a CPU build). 'webgpu': insists; a host without
   *  WebGPU throws a KiteError ('unsupported') before any worker starts, one without an adapter
   *  rejects with it, and a model the GPU cannot take rejects unless `fallback` (then it runs on
   *  the CPU and Model.gpuError says why). 'cpu': the wasm CPU builds only. The WebGPU builds
   *  are SIMD128: 'kite-mt-webgpu' (pthreads: the layers left on the CPU, and the whole model
   *  after a fallback, run on `threads` threads) where the flavor is 'mt' and dist/ has it, else
   *  'kite-st-webgpu' (one thread); `simd: 'relaxed'` with 'webgpu' throws, with 'auto' it
   *  means 'cpu'. */
  device?: 'auto' | 'webgpu' | 'cpu';
  /** Repeating layers to run on the GPU, 1..65536, as llama.cpp's -ngl: the last gpuLayers
   *  layers and the output head run there, the first ones on the CPU in the same worker.
   *  Default: all. Throws with device 'cpu'. */
  gpuLayers?: number;
  /** Let the model run on the CPU when the GPU fails (default true): at load (device
   *  'webgpu'; 'auto' always falls back there) and later: a lost device or a failed GPU step
   *  rejects the running call with a KiteError of status 'device lost' whose message says
   *  the model now runs on the CPU (its KV cache starts empty, Model.device becomes 'cpu');
   *  the next call runs there. false: loadModel rejects instead, and after a loss every
   *  generation rejects (Model.device 'none'): dispose the model. */
  fallback?: boolean;
}

export interface GenerateOptions {
  /** Most tokens to generate, 1..16777216; -1 (default): until end of text or a full context. */
  maxTokens?: number;
  /** Sampling, llama.cpp's names and defaults: temperature 0.8 (0: greedy), topK 40,
   *  topP 0.95, minP 0.05, repeatPenalty 1 (off), repeatLastN 64, seed 0xFFFFFFFF.
   *  Ranges (the CLI's): temperature 0..100, topK 0..16777216 (0: off), topP 0..1, minP 0..1,
   *  repeatPenalty (0, 100], repeatLastN 0..1048576, seed an integer 0..0xFFFFFFFF.
   *  An option not given takes the model's recommended value (its general.sampling.* keys,
   *  info.model.sampling) when the file has one, as llama.cpp's tools do. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  repeatLastN?: number;
  /** llama.cpp's other samplers, off by default and in its chain order (penalties, topNSigma,
   *  topK, typicalP, topP, minP, XTC, temperature): typicalP 1 (off; 0..1: locally typical
   *  sampling), topNSigma -1 (off; -1..100: keep logits within N standard deviations of the
   *  best), xtcProbability 0 (off; 0..1) with xtcThreshold 0.1 (0..1; above 0.5: off), mirostat 0
   *  (off; 1: Mirostat, 2: Mirostat 2.0, which replace the chain after the temperature) with
   *  mirostatTau 5 (target surprise, 0..100) and mirostatEta 0.1 (learning rate, 0..1). A file's
   *  general.sampling.xtc_* and mirostat* keys fill the ones not given, as llama.cpp does. */
  typicalP?: number;
  topNSigma?: number;
  xtcProbability?: number;
  xtcThreshold?: number;
  mirostat?: 0 | 1 | 2;
  mirostatTau?: number;
  mirostatEta?: number;
  /** DRY, llama.cpp's, right after the penalties: dryMultiplier 0 (off; 0..1e6), dryBase 1.75
   *  (0..1e6; below 1: off), dryAllowedLength 2 (0..1048576), dryPenaltyLastN 64 (0..1048576;
   *  0: off); drySequenceBreakers (default "\n", ":", "\"", "*"; [] for none) are matched on
   *  token text, as llama.cpp does. */
  dryMultiplier?: number;
  dryBase?: number;
  dryAllowedLength?: number;
  dryPenaltyLastN?: number;
  drySequenceBreakers?: string[];
  seed?: number;
  /** Generation ends before the first of these (non-empty) strings; the text never shows part of one. */
  stop?: string[];
  /** Constrained output: a GBNF grammar (llama.cpp's syntax, start rule `root`); the text
   *  generated is always a prefix of a sentence of it. A bad grammar rejects with a KiteError
   *  naming its line and column. */
  grammar?: string;
  /** Constrained output: a JSON schema (an object or its JSON text), converted to a grammar as
   *  llama.cpp does; the text is JSON matching it (unless maxTokens cuts it short). Not with
   *  `grammar`. */
  jsonSchema?: object | string;
  /** Stops the generation (also on `break` out of the for-await loop). In a browser page
   *  that is not crossOriginIsolated the stream ends at once, but the worker finishes the
   *  running call before it takes the next one. */
  signal?: AbortSignal;
  /** Do not prepend BOS. */
  noBos?: boolean;
  /** Continue from the tokens already in the KV cache instead of starting over. */
  keepContext?: boolean;
  /** true (default, as llama-server's cache_prompt): the prompt is tokenized as for a fresh
   *  run, and the tokens the KV cache already holds at its start (the previous call's prompt and
   *  reply, up to where they differ; at most all but the last prompt token) are kept instead of
   *  evaluated again, so a chat's next turn costs only its new tokens (result.nCached says how
   *  many). The reply is the one a fresh run gives. false: evaluate the whole prompt from an
   *  empty cache. Not used with keepContext. */
  cachePrompt?: boolean;
  /** Tokenize special-token text ("<|im_end|>") in the prompt as those tokens. */
  parseSpecial?: boolean;
  /** Called with every sampled token id once the generation has finished. */
  onToken?: (id: number) => void;
  /** A reasoning block (`<think>...</think>`, as Qwen3 and DeepSeek-R1 write it): 'show'
   *  (default) streams it as generated; 'hide' leaves it and the newlines after it out of the
   *  text (the model still has it in its context). */
  thinking?: 'show' | 'hide';
}

export interface ChatMessage {
  /** OpenAI's roles, as kite serve's: developer is rendered as system (but for GPT-OSS's template,
   *  which has a developer turn); any other role is refused (a KiteError naming messages[i].role). */
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  /** The text; null (or absent) only beside an assistant's toolCalls. */
  content: string | null;
  /** An assistant's calls (a previous reply's result.toolCalls); arguments as JSON text or an object. */
  toolCalls?: ToolCallIn[];
  /** OpenAI's spelling of toolCalls. */
  tool_calls?: ToolCallIn[];
  /** An assistant's reasoning (OpenAI's reasoning_content): a template that writes reasoning
   *  blocks (Qwen3's) puts it in the turn's `<think>` block instead of taking the block out of
   *  content; others ignore it. */
  reasoningContent?: string | null;
  /** OpenAI's spelling of reasoningContent. */
  reasoning_content?: string | null;
  /** A tool message: the id of the call it answers (templates may ignore it). */
  toolCallId?: string;
  /** OpenAI's spelling of toolCallId. */
  tool_call_id?: string;
  /** A tool message: the tool's name (the generic format shows it). */
  name?: string;
}

/** A function the model may call (OpenAI's chat.completions tool). */
export interface Tool {
  type: 'function';
  function: {
    name: string;
    description?: string;
    /** A JSON schema (an object) the call's arguments must match. */
    parameters?: Record<string, unknown>;
  };
}

/** A call the model made. */
export interface ToolCall {
  /** As llama-server's (and kite serve's): 32 random characters of [0-9A-Za-z]. */
  id: string;
  type: 'function';
  /** arguments: compact JSON text matching the tool's parameters. */
  function: { name: string; arguments: string };
}

/** A piece of a call as the model writes it (OpenAI's streamed `tool_calls` delta, as kite serve
 *  and llama-server send it): the first piece of a call has its id, type and name, the next ones
 *  only index and more of function.arguments; a call's pieces join into its arguments. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments?: string };
}

/** A call in a message: as ToolCall, id and type optional, arguments JSON text or an object. */
export interface ToolCallIn {
  id?: string;
  type?: 'function';
  function: { name: string; arguments: string | Record<string, unknown> };
}

export interface ChatOptions extends Omit<GenerateOptions, 'thinking'> {
  /** Append the opening of the assistant's turn (default true). A conversation that ends in an
   *  assistant message is then continued, as kite serve and llama-server do (assistant prefill):
   *  the messages before it, the assistant's opening and that message's text with no end of turn
   *  (for a template with reasoning blocks, Qwen3's, its reasoningContent in the block first). */
  addAssistant?: boolean;
  /** As GenerateOptions.thinking, and 'off': the reply opens with the chat template's reasoning
   *  turned off, as llama.cpp's `--reasoning off` / chat_template_kwargs
   *  `{"enable_thinking": false}` render it (Qwen3: an empty `<think>\n\n</think>\n\n` block
   *  after the assistant's opening; templates without that setting are unchanged). */
  thinking?: 'show' | 'hide' | 'off';
  /** Tools the model may call, as OpenAI's (and kite serve's) chat: the template shows them to the
   *  model, a grammar makes each call's JSON name one of them and match its parameters, and the
   *  calls come back in result.toolCalls, taken out of the text. Not with grammar / jsonSchema
   *  (unless toolChoice is 'none'). */
  tools?: Tool[];
  /** 'auto' (default): a call or text; 'none': text only; 'required': calls only; or the one
   *  function to call. */
  toolChoice?: 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };
  /** Several calls in one reply (default false). */
  parallelToolCalls?: boolean;
  /** Called with each piece of a tool call as it is generated (the text stream never carries the
   *  calls); result.toolCalls has the whole calls at the end. With it, a call's arguments are the
   *  model's JSON text without the whitespace between tokens, as kite serve streams them. */
  onToolCallDelta?: (delta: ToolCallDelta) => void;
  /** As llama.cpp's `--reasoning-budget N`: -1 (default) unlimited; N >= 0: once the reply opens
   *  a reasoning block (`<think>`, for a model whose chat template writes one), N tokens pass,
   *  then `</think>` is forced and the answer follows (0 closes the block at once). The prompt is
   *  not changed. */
  reasoningBudget?: number;
  /** Text forced before `</think>` when the budget runs out (llama.cpp's --reasoning-budget-message). */
  reasoningBudgetMessage?: string;
}

export interface GenerateResult {
  /** Sampled token ids, in order. */
  tokens: number[];
  /** Prompt tokens (nCached of them were already in the KV cache, the rest evaluated). */
  nPrompt: number;
  /** Prompt tokens kept from the KV cache (cachePrompt) instead of evaluated. */
  nCached: number;
  nGenerated: number;
  prefillSeconds: number;
  decodeSeconds: number;
  /** 'tool_calls': the reply called tools (chat with tools; it ended as 'eog' or 'stop' would). */
  stoppedBy: 'eog' | 'stop' | 'length' | 'abort' | 'tool_calls';
  /** chat with tools (or tool calls / results in its messages): the calls of the reply, in order. */
  toolCalls?: ToolCall[];
}

/** Text pieces as they are sampled: a run's first 8 pieces one token's text each (unless a stop
 *  string holds text back), later ones gathered while tokens come less than 33 ms apart (at most
 *  ~30 pieces a second). UTF-8 characters are never split between pieces. */
export interface Generation extends AsyncIterableIterator<string> {
  /** Resolves after the last piece with the run's statistics and token ids. */
  result: Promise<GenerateResult>;
  /** Collects the whole text. */
  text(): Promise<string>;
}

/** The JSON description of a GGUF file, as `kite info --json` prints it. */
export interface GgufInfo {
  version: number;
  n_kv: number;
  n_tensors: number;
  alignment: number;
  metadata: Array<{ key: string; type: string; value: unknown }>;
  tensors: Array<{ name: string; type: string; shape: number[]; offset: number; bytes: number }>;
  [more: string]: unknown;
}

export interface ModelInfo extends GgufInfo {
  model: {
    arch: string;
    n_vocab: number;
    n_ctx_train: number;
    /** The context this model was loaded with (0 for vocabOnly). */
    n_ctx: number;
    n_embd: number;
    n_layer: number;
    n_head: number;
    n_head_kv: number;
    n_ff: number;
    vocab_type: 'SPM' | 'BPE' | string;
    bos: number;
    eos: number;
    add_bos: boolean;
    /** Weight bytes read per decoded token. */
    weight_bytes: number;
    /** The file's recommended sampling (general.sampling.*): the defaults of generate and
     *  chat for the options not given. Only the settings the file has (with a good value). */
    sampling: Pick<GenerateOptions, 'temperature' | 'topK' | 'topP' | 'minP' | 'repeatPenalty' | 'repeatLastN' |
      'xtcProbability' | 'xtcThreshold' | 'mirostat' | 'mirostatTau' | 'mirostatEta'>;
    /** The general.sampling.* keys ignored for a wrong type or an out-of-range value; absent when none. */
    sampling_warning?: string;
  };
}

export interface Model {
  readonly info: ModelInfo;
  readonly flavor: 'mt' | 'st';
  readonly threads: number;
  /** The wasm file that runs it: 'kite-mt', 'kite-st', 'kite-mt-relaxed', 'kite-st-relaxed',
   *  'kite-mt-webgpu', 'kite-st-webgpu' or 'kite-st64' (memory64). */
  readonly build: string;
  /** Where it runs now: 'webgpu' (gpuLayers layers and the output head on the GPU, the rest
   *  on the CPU), 'cpu', or 'none' after a GPU failure with fallback off. */
  readonly device: 'webgpu' | 'cpu' | 'none';
  /** Repeating layers on the GPU (0 on the CPU). */
  readonly gpuLayers: number;
  /** The WebGPU adapter's name when the WebGPU build runs the model, else null. */
  readonly adapter: string | null;
  /** Bytes of GPU memory the model holds (its weights on the GPU, the KV cache, activations);
   *  0 when it runs on the CPU. */
  readonly gpuBytes: number;
  /** Why the model is not, or no longer, on the GPU when WebGPU was asked for (no adapter, a
   *  pipeline that failed to compile, a lost device, ...); null otherwise. */
  readonly gpuError: string | null;
  /** How the bytes came through the browser's model cache; null when it was not used. */
  readonly cache: CacheStatus | null;
  /** Token ids; addSpecial (default true) adds BOS/EOS as the model asks. */
  tokenize(text: string, opts?: { addSpecial?: boolean; parseSpecial?: boolean }): Promise<Int32Array>;
  detokenize(ids: ArrayLike<number>): Promise<string>;
  generate(prompt: string, opts?: GenerateOptions): Generation;
  /** Formats messages with the model's chat template (tokenizer.chat_template; chatml when
   *  absent) and generates the assistant's reply. */
  chat(messages: ChatMessage[], opts?: ChatOptions): Generation;
  /** Frees the model and ends its worker and thread pool (a Node process can then exit). */
  dispose(): Promise<void>;
}

/** Loads a model. A split set (llama-gguf-split's NAME-00001-of-0000N.gguf ...) loads from its
 *  first file's path or URL (the others are found by name beside it) or from the list of its
 *  files in order (e.g. the Files a user picked). */
export function loadModel(source: ModelSource | ModelSource[], opts?: LoadOptions): Promise<Model>;

/** The model this package ships, models/stories260K.gguf (1.1 MB, a tiny story model): a
 *  file: URL in Node, a URL beside the package in a browser. Any call that takes a
 *  ModelSource accepts it. */
export const builtinModel: string;

/** Most threads a wasm pool may have (the `threads` option's upper bound). */
export const MAX_THREADS: number;

export interface InspectOptions extends DownloadOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  flavor?: 'auto' | 'mt' | 'st';
}

/** Describes any GGUF file (metadata + tensor table) without loading a model. */
export function inspect(source: ModelSource, opts?: InspectOptions): Promise<GgufInfo>;

export interface QuantizeStats {
  nTensors: number;
  nQuantized: number;
  nFallback: number;
  bytesIn: number;
  bytesOut: number;
  nElements: number;
}

export interface QuantizeOptions extends DownloadOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** 1..MAX_THREADS (64). */
  threads?: number;
  flavor?: 'auto' | 'mt' | 'st';
  simd?: 'auto' | 'relaxed' | 'simd128';
  /** Node: write the file here, as the native CLI does: a regular file (replaced) or a new
   *  path (a symlink is followed to its target); never the input itself (by any name), never
   *  a directory, FIFO or device. The bytes go to a temporary file in the same directory,
   *  every write checked, fsync'd and renamed over the output only when complete: on any
   *  failure (a full disk, a file-size limit, an abort) the promise rejects with a KiteError,
   *  the temporary file is removed and the output is left as it was. */
  output?: string;
  /** Result form; default 'uint8array' in Node, 'blob' in browsers, 'file' with output. */
  as?: 'uint8array' | 'blob' | 'file';
  allowRequantize?: boolean;
  pure?: boolean;
  leaveOutputTensor?: boolean;
  onStats?: (s: QuantizeStats) => void;
  /** An importance matrix (llama-imatrix's GGUF file or its legacy .dat), given as a model
   *  source is (path, URL, File/Blob, bytes; the download options apply, never sha256 or the
   *  cache): the same bytes as `kite quantize --imatrix` and llama-quantize. The IQ1/IQ2 types,
   *  IQ3_XXS and Q2_K_S need one. A malformed file rejects with a KiteError ('invalid input')
   *  naming it. */
  imatrix?: ModelSource;
  /** The name recorded in quantize.imatrix.file. Default: the path or URL as given, a File's
   *  name, or '' for bytes. */
  imatrixFile?: string;
  /** Use the imatrix only for tensors whose name contains one of these (--include-weights). */
  includeWeights?: string[];
  /** Never use it for tensors whose name contains one of these (--exclude-weights). */
  excludeWeights?: string[];
}

/** Quantizes a GGUF model to a llama-quantize type ("Q4_K_M", "Q8_0", "Q6_K", "IQ4_NL", ...):
 *  the same bytes as llama-quantize (no importance matrix). Resolves to the new file as a
 *  Uint8Array (Node default), a Blob (browser default) or, with `output`, its path. */
export function quantize(source: ModelSource, type: string, opts: QuantizeOptions & { output: string }): Promise<string>;
export function quantize(source: ModelSource, type: string, opts: QuantizeOptions & { as: 'blob' }): Promise<Blob>;
export function quantize(source: ModelSource, type: string, opts?: QuantizeOptions): Promise<Uint8Array | Blob>;

/** A Hugging Face checkpoint folder: the Files of a picked folder (a FileList, e.g. of
 *  `<input type="file" webkitdirectory>`, or a File[]: each found by its path below the picked
 *  folder, else its name), a Node folder path (or file: URL), `hf://owner/repo` (optionally
 *  `hf://owner/repo@revision`), or a base URL under which the files are fetched by name
 *  (safetensors tensors by range requests, one block of rows at a time). */
export type CheckpointSource = string | URL | FileList | File[];

export interface ConvertOptions {
  /** Type of the weight matrices, as `kite convert --outtype` and llama.cpp's converter: 'auto'
   *  (default: bf16 for a BF16 checkpoint, else f16), 'f32', 'f16', 'bf16', 'q8_0'. Norms and
   *  biases are f32. */
  outtype?: 'auto' | 'f32' | 'f16' | 'bf16' | 'q8_0';
  /** general.name, as kite convert's --model-name (llama.cpp's); default: found as llama.cpp's
   *  converter finds it (README.md's model card, config.json's _name_or_path, then the folder's
   *  name: the picked folder, the path's last part, the repository), as are general.basename,
   *  finetune, version and size_label; '' writes none. */
  name?: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  simd?: 'auto' | 'relaxed' | 'simd128';
  /** Node: write the file here, by QuantizeOptions.output's rules (never over a file the
   *  conversion read). */
  output?: string;
  /** Result form; default 'uint8array' in Node, 'blob' in browsers, 'file' with output. */
  as?: 'uint8array' | 'blob' | 'file';
  /** As DownloadOptions' hfEndpoint and hfToken, for hf://owner/repo[@revision]. */
  hfEndpoint?: string;
  hfToken?: string;
  /** A URL checkpoint (hf:// or a base URL): a request that gets no byte for this long fails
   *  naming its URL, as DownloadOptions.stallTimeout (ms, default 30000; Infinity: never). */
  stallTimeout?: number;
}

/** Converts a Hugging Face checkpoint (config.json, tokenizer.json / tokenizer.model,
 *  tokenizer_config.json, model.safetensors or its shards + model.safetensors.index.json) to
 *  one GGUF with the bytes of `kite convert` (llama.cpp's convert_hf_to_gguf.py's tensors,
 *  types and keys; its architectures and tokenizers: README). The checkpoint is read file by
 *  file, never held whole. Needs SharedArrayBuffer (Node; a crossOriginIsolated page): else a
 *  KiteError with status 'unsupported'. A checkpoint it cannot convert rejects with the core's
 *  message ('invalid input': a missing or malformed file; 'unsupported': an architecture,
 *  tokenizer or dtype it does not convert). Quantize the result with quantize(). */
export function convert(source: CheckpointSource, opts: ConvertOptions & { output: string }): Promise<string>;
export function convert(source: CheckpointSource, opts: ConvertOptions & { as: 'blob' }): Promise<Blob>;
export function convert(source: CheckpointSource, opts?: ConvertOptions): Promise<Uint8Array | Blob>;

/** hf://owner/repo[@rev]/file.gguf -> https://huggingface.co/owner/repo/resolve/<rev|main>/file.gguf
 *  (endpoint: another hub's base URL instead). A reference with a query, '?', is refused (give
 *  the https URL to send one), and so is a repository reference (hf://owner/repo[:QUANT]: the
 *  file is picked from the hub's list by loadModel, inspect and quantize). */
export function hfUrl(ref: string, endpoint?: string): string;

/** Largest model file the wasm32 build accepts (4 GiB address space minus room for the
 *  runtime, KV cache and scratch); larger files are refused before any byte is read. */
export const MAX_MODEL_BYTES: number;

/** Every failure: the C core's message, and its status name ('invalid input', 'unsupported',
 *  'out of memory', 'i/o error', 'aborted', ...; 'device lost' for a GPU failure during a call; 'busy': deleteCachedModel of a copy a load is using; 'i/o error' also for a file that cannot be read or a download that fails: HTTP errors, a cut connection, a stall). Aborts have name 'AbortError'. A bad option
 *  or argument is a KiteError with status 'invalid input' naming it. */
export class KiteError extends Error {
  status?: string;
}
