// index.d.ts - the kite-llm package API (the same in Node >= 20 and browsers).
//
//   import { loadModel, quantize } from 'kite-llm';
//   const model = await loadModel('hf://ggml-org/models/tinyllamas/stories260K.gguf', {
//     onProgress: (p) => console.log(p.stage, p.loaded, p.total),
//   });
//   for await (const piece of model.generate('Once upon a time', { maxTokens: 64 })) process.stdout.write(piece);
//   await model.dispose();
//
// Every model runs in its own worker (Web Worker / worker_threads) holding one WebAssembly
// instance: the multi-threaded build ('mt', SIMD128 + pthreads) where SharedArrayBuffer is
// available (Node, or a crossOriginIsolated page), else the single-threaded one ('st').
// Calls on one model run one at a time, in order.

/** Where a model comes from. A string is a URL (http, https, blob, data), a Hugging Face
 *  reference `hf://owner/repo/path/file.gguf` (optionally `owner/repo@revision/...`), or in
 *  Node a file path or file: URL. Bytes are streamed into the wasm heap: the package never
 *  holds a second full copy. */
export type ModelSource = string | URL | Blob | ArrayBuffer | ArrayBufferView;

export interface Progress {
  /** 'read': bytes into the wasm heap (download / file / Blob); 'quantize': input bytes of
   *  the tensors converted so far. */
  stage: 'read' | 'quantize' | string;
  loaded: number;
  /** 0 while a download's size is unknown. */
  total: number;
  /** loaded / total (0 when total is unknown). */
  fraction: number;
}

export interface LoadOptions {
  onProgress?: (p: Progress) => void;
  /** Threads of the wasm pool (mt build only). Default: all logical cores. */
  threads?: number;
  /** KV cache length in tokens. 0 (default): the model's training context, at most 4096. */
  nCtx?: number;
  /** 'auto' (default), 'mt' or 'st'. 'mt' throws where SharedArrayBuffer is unavailable. */
  flavor?: 'auto' | 'mt' | 'st';
  /** 'auto' (default): the relaxed-SIMD build (int8 dot instruction) where the engine has
   *  relaxed SIMD and dist/ holds it, else SIMD128. 'relaxed' insists, 'simd128' never uses it. */
  simd?: 'auto' | 'relaxed' | 'simd128';
  /** Load metadata and vocabulary only (tokenize, chat formatting; no generate). */
  vocabOnly?: boolean;
  /** Stops the download / read. */
  signal?: AbortSignal;
}

export interface GenerateOptions {
  /** Most tokens to generate; -1 (default): until end of text or a full context. */
  maxTokens?: number;
  /** Sampling, llama.cpp's names and defaults: temperature 0.8 (<= 0: greedy), topK 40,
   *  topP 0.95, minP 0.05, repeatPenalty 1 (off), repeatLastN 64, seed 0xFFFFFFFF. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  repeatLastN?: number;
  seed?: number;
  /** Generation ends before the first of these strings; the text never shows part of one. */
  stop?: string[];
  /** Stops the generation (also on `break` out of the for-await loop). In a browser page
   *  that is not crossOriginIsolated the stream ends at once, but the worker finishes the
   *  running call before it takes the next one. */
  signal?: AbortSignal;
  /** Do not prepend BOS. */
  noBos?: boolean;
  /** Continue from the tokens already in the KV cache instead of starting over. */
  keepContext?: boolean;
  /** Tokenize special-token text ("<|im_end|>") in the prompt as those tokens. */
  parseSpecial?: boolean;
  /** Called with every sampled token id once the generation has finished. */
  onToken?: (id: number) => void;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

export interface ChatOptions extends GenerateOptions {
  /** Append the opening of the assistant's turn (default true). */
  addAssistant?: boolean;
}

export interface GenerateResult {
  /** Sampled token ids, in order. */
  tokens: number[];
  nPrompt: number;
  nGenerated: number;
  prefillSeconds: number;
  decodeSeconds: number;
  stoppedBy: 'eog' | 'stop' | 'length' | 'abort';
}

/** Text pieces as they are sampled (UTF-8 characters are never split between pieces). */
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
  };
}

export interface Model {
  readonly info: ModelInfo;
  readonly flavor: 'mt' | 'st';
  readonly threads: number;
  /** The wasm file that runs it: 'kite-mt', 'kite-st', 'kite-mt-relaxed' or 'kite-st-relaxed'. */
  readonly build: string;
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

export function loadModel(source: ModelSource, opts?: LoadOptions): Promise<Model>;

/** Describes any GGUF file (metadata + tensor table) without loading a model. */
export function inspect(source: ModelSource, opts?: { onProgress?: (p: Progress) => void; signal?: AbortSignal }): Promise<GgufInfo>;

export interface QuantizeStats {
  nTensors: number;
  nQuantized: number;
  nFallback: number;
  bytesIn: number;
  bytesOut: number;
  nElements: number;
}

export interface QuantizeOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  threads?: number;
  flavor?: 'auto' | 'mt' | 'st';
  simd?: 'auto' | 'relaxed' | 'simd128';
  /** Node: write the file here (through a temporary name, renamed when complete). */
  output?: string;
  /** Result form; default 'uint8array' in Node, 'blob' in browsers, 'file' with output. */
  as?: 'uint8array' | 'blob' | 'file';
  allowRequantize?: boolean;
  pure?: boolean;
  leaveOutputTensor?: boolean;
  onStats?: (s: QuantizeStats) => void;
}

/** Quantizes a GGUF model to a llama-quantize type ("Q4_K_M", "Q8_0", "Q6_K", "IQ4_NL", ...):
 *  the same bytes as llama-quantize (no importance matrix). Resolves to the new file as a
 *  Uint8Array (Node default), a Blob (browser default) or, with `output`, its path. */
export function quantize(source: ModelSource, type: string, opts: QuantizeOptions & { output: string }): Promise<string>;
export function quantize(source: ModelSource, type: string, opts: QuantizeOptions & { as: 'blob' }): Promise<Blob>;
export function quantize(source: ModelSource, type: string, opts?: QuantizeOptions): Promise<Uint8Array | Blob>;

/** hf://owner/repo[@rev]/file.gguf -> https://huggingface.co/owner/repo/resolve/<rev|main>/file.gguf */
export function hfUrl(ref: string): string;

/** Largest model file the wasm32 build accepts (4 GiB address space minus room for the
 *  runtime, KV cache and scratch); larger files are refused before any byte is read. */
export const MAX_MODEL_BYTES: number;

/** Every failure: the C core's message, and its status name ('invalid input', 'unsupported',
 *  'out of memory', 'aborted', ...). Aborts have name 'AbortError'. */
export class KiteError extends Error {
  status?: string;
}
