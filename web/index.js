// index.js - the kite-llm package: load, inspect, run and quantize GGUF models in Node and
// browsers. Each model (and each quantize call) gets its own worker holding one wasm instance;
// this file only shapes requests and streams (see index.d.ts for the documented API).
import { Client, KiteError, makeAbortFlag } from './client.js';
import { describeSource, hfUrl } from './source.js';
import { isNode } from './env.js';
import { MAX_MODEL_BYTES } from './reader.js';

export { KiteError, hfUrl, MAX_MODEL_BYTES };

// Sends a source to the worker, serving pulls for in-memory bytes; returns the call's result.
async function withSource(client, op, source, args, { onProgress, signal, onChunk } = {}) {
  const { desc, serve } = await describeSource(source);
  const ab = makeAbortFlag(signal);
  try {
    if (signal?.aborted) throw new KiteError('aborted', 'aborted');
    return await client.call(op, { ...args, source: desc, abort: ab.flag?.buffer }, {
      onEvent: (m) => {
        if (m.type === 'pull') {
          const data = serve(m.offset, m.length);
          client.reply({ op: 'chunk', id: m.id, data }, [data.buffer]);
        } else if (m.type === 'progress') {
          onProgress?.({ stage: m.stage, loaded: m.loaded, total: m.total, fraction: m.total ? m.loaded / m.total : 0 });
        } else if (m.type === 'chunk') {
          onChunk?.(m.data);
        }
      },
    });
  } finally {
    ab.release();
  }
}

// A loaded model. Methods queue in its worker: one runs at a time.
class Model {
  #client;
  #disposed = false;
  info;
  flavor;
  threads;
  build;

  constructor(client, info) {
    this.#client = client;
    this.info = info;
    this.flavor = client.flavor;
    this.threads = client.threads;
    this.build = client.build;
  }

  #live() {
    if (this.#disposed) throw new KiteError('kite: the model was disposed', 'invalid input');
    return this.#client;
  }

  async tokenize(text, { addSpecial = true, parseSpecial = false } = {}) {
    if (typeof text !== 'string') throw new TypeError('kite: tokenize(text) needs a string');
    return this.#live().call('tokenize', { text, addSpecial, parseSpecial });
  }

  async detokenize(ids) {
    const arr = Array.from(ids ?? [], Number);
    if (arr.some((x) => !Number.isInteger(x))) throw new TypeError('kite: detokenize(ids) needs integer token ids');
    return this.#live().call('detokenize', { ids: arr });
  }

  generate(prompt, opts = {}) {
    if (typeof prompt !== 'string') throw new TypeError('kite: generate(prompt) needs a string');
    return this.#stream('generate', { prompt, opts: genOpts(opts) }, opts);
  }

  chat(messages, opts = {}) {
    if (!Array.isArray(messages) || messages.some((m) => typeof m?.role !== 'string' || typeof m?.content !== 'string'))
      throw new TypeError('kite: chat(messages) needs [{ role, content }, ...] with string fields');
    return this.#stream('chat', { messages, opts: { ...genOpts(opts), addAssistant: opts.addAssistant } }, opts);
  }

  // An async iterable of text pieces; .result resolves to the run's stats afterwards.
  #stream(op, args, { signal, onToken } = {}) {
    const client = this.#live();
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
        if (m.type !== 'piece' || finished) return;
        queue.push(m.text);
        wake?.();
      },
    });
    result.then(
      () => { finished = true; wake?.(); },
      (e) => { failure = e; finished = true; wake?.(); },
    ).finally(() => ab.release());
    const stats = result.then((r) => {
      if (onToken) r.tokens.forEach((t) => onToken(t));
      return r;
    });
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

function genOpts(o) {
  const num = (v, name, int) => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isInteger(v)))
      throw new TypeError(`kite: ${name} must be a finite ${int ? 'integer' : 'number'} (got ${v})`);
    return v;
  };
  if (o.stop !== undefined && (!Array.isArray(o.stop) || o.stop.some((s) => typeof s !== 'string')))
    throw new TypeError('kite: stop must be an array of strings');
  return {
    maxTokens: num(o.maxTokens, 'maxTokens', true),
    temperature: num(o.temperature, 'temperature'),
    topK: num(o.topK, 'topK', true),
    topP: num(o.topP, 'topP'),
    minP: num(o.minP, 'minP'),
    repeatPenalty: num(o.repeatPenalty, 'repeatPenalty'),
    repeatLastN: num(o.repeatLastN, 'repeatLastN', true),
    seed: num(o.seed, 'seed', true),
    stop: o.stop,
    noBos: !!o.noBos,
    keepContext: !!o.keepContext,
    parseSpecial: !!o.parseSpecial,
  };
}

export async function loadModel(source, opts = {}) {
  const { onProgress, threads, nCtx = 0, flavor, simd, signal, vocabOnly = false } = opts;
  if (!Number.isInteger(nCtx) || nCtx < 0) throw new TypeError(`kite: nCtx must be a non-negative integer (got ${nCtx})`);
  const client = await Client.start({ flavor, threads, simd });
  try {
    const info = await withSource(client, 'load', source, { nCtx, threads: client.threads, vocabOnly }, { onProgress, signal });
    return new Model(client, info);
  } catch (e) {
    await client.terminate();
    throw e;
  }
}

// The JSON description of any GGUF file (metadata + tensor table) without loading a model.
export async function inspect(source, opts = {}) {
  const client = await Client.start({ flavor: opts.flavor ?? 'st', threads: 1 });
  try {
    return await withSource(client, 'inspect', source, {}, opts);
  } finally {
    await client.terminate();
  }
}

export async function quantize(source, type, opts = {}) {
  const { onProgress, signal, threads, flavor, simd, output, allowRequantize, pure, leaveOutputTensor } = opts;
  if (typeof type !== 'string' || !type) throw new TypeError('kite: quantize(source, type) needs a type name such as "Q4_K_M"');
  const as = opts.as ?? (output ? 'file' : isNode ? 'uint8array' : 'blob');
  if (as === 'file' && !(isNode && typeof output === 'string')) throw new TypeError('kite: output (a file path) is only for Node');
  const client = await Client.start({ flavor, threads, simd });
  const chunks = [];
  let file = null;
  let tmp = null;
  let writing = Promise.resolve();
  let hardStop = null;
  try {
    if (as === 'file') {
      const fs = await import('node:fs/promises');
      // Written to a temporary name and renamed only when complete.
      tmp = `${output}.kite-${process.pid}-${Date.now()}.tmp`;
      file = await fs.open(tmp, 'w');
    }
    const onChunk = (data) => {
      if (file) writing = writing.then(() => file.write(data));
      else chunks.push(data);
    };
    // Without a SharedArrayBuffer the worker cannot see an abort: end it instead.
    if (typeof SharedArrayBuffer !== 'function') {
      hardStop = () => client.terminate();
      signal?.addEventListener('abort', hardStop, { once: true });
    }
    const stats = await withSource(client, 'quantize', source, {
      type,
      opts: { threads: client.threads, allowRequantize: !!allowRequantize, pure: !!pure, leaveOutputTensor: !!leaveOutputTensor },
    }, { onProgress, signal, onChunk });
    opts.onStats?.(stats);
    if (file) {
      await writing;
      await file.close();
      file = null;
      const fs = await import('node:fs/promises');
      await fs.rename(tmp, output);
      tmp = null;
      return output;
    }
    if (as === 'blob') return new Blob(chunks, { type: 'application/octet-stream' });
    const total = chunks.reduce((n, c) => n + c.byteLength, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of chunks.splice(0)) {
      out.set(c, off);
      off += c.byteLength;
    }
    return out;
  } catch (e) {
    if (signal?.aborted && !(e.status === 'aborted')) throw new KiteError('aborted', 'aborted');
    throw e;
  } finally {
    if (hardStop) signal?.removeEventListener('abort', hardStop);
    if (file) await writing.catch(() => {}).then(() => file.close());
    if (tmp) await (await import('node:fs/promises')).rm(tmp, { force: true });
    await client.terminate();
  }
}
