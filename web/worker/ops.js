// worker/ops.js - the requests the worker serves (the message protocol's ops: init, inspect,
// load, tokenize, detokenize, generate, chat, quantize, dispose), each an async function of
// the request message that resolves with the 'done' reply's value or throws a CError.
import { readIntoHeap } from '../load_bytes.js';
import { M, abi, scratch, model, current, ptrSize, gpu, gpuError, pulls, aborted, setModel, setLoaded } from './state.js';
import { CError, addr, check, cstr, heap, json, ptrAt, setPtr, struct, takeString } from './heap.js';
import { progress, flushOut, dropOut } from './c_callbacks.js';
import { port } from './port.js';
import { loadModule } from './load_build.js';
import { initGpu, placeOnGpu, placement } from './webgpu.js';
import { chatRequest, runGenerate } from './generate.js';
import { hfCallback } from './hf_files.js';

const NULL_PTR = 0;

// Reads a model source (a URL, bytes the caller serves through 'pull's, a file) into a malloc'd
// heap block: { ptr, size, cache, drop } (load_bytes.js). part: which file of a split set (the
// caller serves in-memory bytes per file). gguf: false for a file that need not be a GGUF (an
// imatrix .dat).
async function readSource(source, { stallTimeout, cache, cacheKey, sha256, verified, connections, partSize, gguf = true } = {}, part = 0) {
  current.stage = 'read';
  const r = await readIntoHeap(source, {
    alloc: (n) => {
      const p = addr(M._kw_alloc(n));
      if (!p) check(abi.status.KITE_ERR_NOMEM);
      return p;
    },
    free: (p) => M._kw_free(p),
    heap,
    progress: (done, total) => {
      progress('read', done, total);
      if (aborted()) throw new CError('aborted while reading the model', 'aborted');
    },
    pull: (offset, length) => new Promise((resolve, reject) => {
      const { id, cancel } = current;
      if (cancel.signal.aborted) { reject(new CError('aborted while reading the model', 'aborted')); return; }
      pulls.set(id, resolve);
      cancel.signal.addEventListener('abort', () => reject(new CError('aborted while reading the model', 'aborted')), { once: true });
      port.post({ id, type: 'pull', offset, length, part });
    }),
    signal: current.cancel.signal,
    stallTimeout,
    cache,
    cacheKey,
    sha256,
    verified,
    connections,
    partSize,
    gguf,
  });
  return r;
}

// Runs a C call that parses the files read by readSource (reads); when it finds one malformed,
// their browser cache entries are dropped, so the next load downloads them again instead of
// failing from the cache (a file a server cut short, consistently with its Content-Length).
async function parseFiles(reads, call) {
  try {
    check(call());
  } catch (e) {
    if (e.status === 'invalid input') await Promise.all(reads.map((r) => r.drop()));
    throw e;
  }
}

// The file's description plus the loaded model's runtime facts under "model".
function modelInfo() {
  const info = json((out) => M._kw_gguf_info_json(M._kw_model_gguf(model), out));
  info.model = json((out) => M._kw_model_facts_json(model, out));
  return info;
}

export const ops = {
  async init({ flavor, threads, simd, device: want = 'cpu', memory64 }) {
    const gpuFlavor = !memory64 && want !== 'cpu' ? await initGpu(want, flavor, threads) : null;
    if (!gpuFlavor) await loadModule(flavor, threads, simd, memory64);
    const f = gpuFlavor ?? flavor;
    return {
      version: M.UTF8ToString(M._kw_version()), threaded: M._kw_threaded() === 1, build: M.kiteBuild,
      flavor: f, threads: f === 'mt' ? threads : 1, gpuError,
    };
  },

  // Reads the file and describes it (no model: works for any GGUF).
  async inspect({ source, download }) {
    const read = await readSource(source, download);
    const { ptr, size } = read;
    try {
      await parseFiles([read], () => M._kw_gguf_parse(ptr, size, scratch));
      const g = ptrAt(scratch);
      try {
        return json((out) => M._kw_gguf_info_json(g, out));
      } finally {
        M._kw_gguf_free(g);
      }
    } finally {
      M._kw_free(ptr);
    }
  },

  // source: one file, or the files of a split set in order (the model owns every file's block)
  async load({ source, nCtx, threads, vocabOnly, download, gpuLayers, fallback = true, device: want = 'cpu' }) {
    if (model) throw new CError('this worker already holds a model', 'invalid input');
    const sources = Array.isArray(source) ? source : [source];
    const parts = [];
    let table = 0;
    let a = null;
    try {
      for (let i = 0; i < sources.length; i++) parts.push(await readSource(sources[i], download, i));
      current.stage = 'load';
      const nMore = parts.length - 1;
      if (nMore > 0) { // the other files' pointers, then their sizes
        table = addr(M._kw_alloc(2 * ptrSize * nMore));
        if (!table) check(abi.status.KITE_ERR_NOMEM);
        parts.slice(1).forEach((p, i) => { setPtr(table + ptrSize * i, p.ptr); setPtr(table + ptrSize * (nMore + i), p.size); });
      }
      a = struct('kw_load_args').set({
        buf: parts[0].ptr, len: parts[0].size, n_ctx: nCtx | 0, n_threads: threads | 0, vocab_only: vocabOnly ? 1 : 0,
        more: table, more_lens: table ? table + ptrSize * nMore : 0, n_more: nMore,
        // the layers placeOnGpu will offer the GPU stay in the file's layout, which its kernels read
        offload_layers: gpu && !vocabOnly ? gpuLayers ?? 2 ** 31 - 1 : 0, // (options.js: gpuLayers <= 65536)
      });
      await parseFiles(parts, () => M._kw_model_load(a.ptr));
      setModel(a.get('model'));
    } catch (e) {
      parts.forEach((p) => M._kw_free(p.ptr)); // on success the model owns the files' blocks
      throw e;
    } finally {
      if (table) M._kw_free(table);
      a?.free();
    }
    const info = modelInfo();
    setLoaded(info.model, { fallback, gpuLayers });
    // 'auto' always keeps the CPU context when the GPU cannot take the model
    if (gpu && !vocabOnly) await placeOnGpu(info, { gpuLayers, fallback: fallback || want === 'auto' });
    return { info, cache: parts[0].cache, ...placement() };
  },

  tokenize({ text, addSpecial, parseSpecial }) {
    const t = cstr(text);
    const a = struct('kw_tokenize_args').set({ model, text: t, add_special: addSpecial ? 1 : 0, parse_special: parseSpecial ? 1 : 0 });
    try {
      check(M._kw_tokenize(a.ptr));
      const p = a.get('ids');
      const ids = Int32Array.from(new Int32Array(heap().buffer, p, a.get('n_ids')));
      M._kw_free(p);
      return ids;
    } finally {
      a.free();
      M._kw_free(t);
    }
  },

  detokenize({ ids }) {
    const arr = Int32Array.from(ids);
    const p = addr(M._kw_alloc(Math.max(4, arr.byteLength)));
    try {
      heap().set(new Uint8Array(arr.buffer), p);
      check(M._kw_detokenize(model, p, arr.length, scratch));
      return takeString(ptrAt(scratch));
    } finally {
      M._kw_free(p);
    }
  },

  // Streams 'piece' messages; resolves with stats and the sampled token ids.
  generate({ prompt, opts }) {
    return runGenerate(prompt, opts);
  },

  chat({ messages, opts, request }) {
    if (request) return chatRequest(request, opts);
    const n = messages.length;
    const ptrs = [];
    const msg = abi.structs.kite_chat_msg;
    const arr = addr(M._kw_alloc(msg.size * Math.max(1, n)));
    try {
      messages.forEach((m, i) => {
        const r = cstr(String(m.role));
        const c = cstr(String(m.content));
        ptrs.push(r, c);
        setPtr(arr + msg.size * i + msg.fields.role.offset, r);
        setPtr(arr + msg.size * i + msg.fields.content.offset, c);
      });
      // kite_chat_apply_ex's flags: 1 adds the assistant's opening, 2 turns reasoning off
      const flags = (opts.addAssistant === false ? 0 : 1) | (opts.thinking === 'off' ? 2 : 0);
      // as the tool-calling chat's errors: 'kite: chat: messages[1].role is ...'
      check(M._kw_chat_apply(model, arr, n, flags, scratch), 'kite: chat: ');
    } finally {
      ptrs.forEach((p) => M._kw_free(p));
      M._kw_free(arr);
    }
    const prompt = takeString(ptrAt(scratch));
    // As `kite run --chat-template`: special-token text in the template becomes tokens.
    return runGenerate(prompt, { ...opts, parseSpecial: true });
  },

  // imatrix: an importance matrix file's source (read whole, then parsed by the C side), or null
  async quantize({ source, type, opts, download, imatrix }) {
    const im = imatrix ? await readSource(imatrix.desc, { ...download, cache: false, sha256: undefined, gguf: false }, 1) : null;
    let ptr = 0;
    let size = 0;
    try {
      ({ ptr, size } = await readSource(source, download));
    } catch (e) {
      if (im) M._kw_free(im.ptr);
      throw e;
    }
    const t = cstr(type);
    const a = struct('kw_quant_args');
    const imStrings = im ? [cstr(imatrix.file), ...imatrix.include.map(cstr), ...imatrix.exclude.map(cstr)] : [];
    const list = (strs) => {
      if (strs.length === 0) return NULL_PTR;
      const arr = addr(M._kw_alloc(abi.pointerSize * strs.length));
      if (!arr) check(abi.status.KITE_ERR_NOMEM);
      strs.forEach((s, i) => setPtr(arr + abi.pointerSize * i, s));
      imStrings.push(arr); // freed with the strings
      return arr;
    };
    try {
      current.stage = 'quantize';
      M._kw_quant_args_init(a.ptr);
      a.set({
        buf: ptr, len: size, type: t, n_threads: opts.threads | 0,
        allow_requantize: opts.allowRequantize ? 1 : 0, pure: opts.pure ? 1 : 0, leave_output_tensor: opts.leaveOutputTensor ? 1 : 0,
      });
      if (im) {
        const nIn = imatrix.include.length;
        a.set({
          imatrix: im.ptr, imatrix_len: im.size, imatrix_file: imStrings[0],
          include_weights: list(imStrings.slice(1, 1 + nIn)), n_include: nIn,
          exclude_weights: list(imStrings.slice(1 + nIn, 1 + nIn + imatrix.exclude.length)), n_exclude: imatrix.exclude.length,
        });
      }
      const st = M._kw_quantize(a.ptr);
      if (st !== abi.status.KITE_OK) dropOut();
      check(st);
      flushOut();
      return {
        nTensors: a.get('n_tensors'), nQuantized: a.get('n_quantized'), nFallback: a.get('n_fallback'),
        bytesIn: a.get('bytes_in'), bytesOut: a.get('bytes_out'), nElements: a.get('n_elements'),
      };
    } finally {
      a.free();
      M._kw_free(t);
      M._kw_free(ptr);
      imStrings.forEach((p) => M._kw_free(p));
      if (im) M._kw_free(im.ptr);
    }
  },

  // A Hugging Face checkpoint the page serves file by file ('hf' requests) to a GGUF streamed as
  // 'chunk's. outtype: kite_convert_opts' (-1: auto); name: general.name over the heuristics'
  // (--model-name), or null; dir: the folder's name the heuristics read, or null.
  convert({ outtype, name, dir }) {
    current.stage = 'convert';
    const n = name != null ? cstr(name) : NULL_PTR;
    const d = dir ? cstr(dir) : NULL_PTR;
    M.kiteHf = hfCallback();
    try {
      const st = M._kw_convert(outtype, n, d);
      if (st !== abi.status.KITE_OK) dropOut();
      check(st);
      flushOut();
      return true;
    } finally {
      M.kiteHf = null;
      if (n) M._kw_free(n);
      if (d) M._kw_free(d);
    }
  },

  dispose() {
    if (model) M._kw_model_free(model);
    setModel(0);
    // The pthread pool would keep the process (Node) or the tab's workers alive.
    M?.PThread?.terminateAllThreads?.();
    return true;
  },
};
