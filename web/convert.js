// convert.js - convert(source, opts): a Hugging Face checkpoint (picked Files, a Node folder, an
// hf:// repository or a base URL) to a GGUF, as `kite convert` makes it. A worker runs the C
// converter (wasm/exports_convert.c), which reads the checkpoint file by file, tensors a block
// of rows at a time, through synchronous requests that this side serves (hf_folder.js,
// sync_bridge.js); the GGUF streams back as quantize's does (output_target.js).
import { Client, KiteError, makeAbortFlag } from './client.js';
import { isNode } from './env.js';
import { openCheckpoint } from './hf_folder.js';
import { CONVERT_OPTIONS, DEFAULT_STALL_TIMEOUT_MS, checkOptions } from './options.js';
import { outputKind, openOutput } from './output_target.js';
import { progressMeter } from './progress_meter.js';
import { answerSync } from './sync_bridge.js';

// outtype -> kite_convert_opts.outtype (ggml type ids; -1: auto, bf16 for a BF16 checkpoint else f16)
const OUTTYPES = { auto: -1, f32: 0, f16: 1, q8_0: 8, bf16: 30 };

export async function convert(source, opts = {}) {
  checkOptions('convert', opts, CONVERT_OPTIONS);
  const { outtype = 'auto', name, onProgress, signal, output, simd, hfEndpoint, hfToken, stallTimeout = DEFAULT_STALL_TIMEOUT_MS } = opts;
  const as = outputKind('convert', opts);
  // The worker blocks while this side reads: it needs shared memory to be woken through.
  if (typeof SharedArrayBuffer !== 'function' || !(isNode || globalThis.crossOriginIsolated === true)) {
    throw new KiteError('kite: convert needs SharedArrayBuffer (a crossOriginIsolated page: serve it with ' +
      'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)', 'unsupported');
  }
  // Our own stop: the caller's signal, or a failed write.
  const stop = new AbortController();
  const forward = () => stop.abort();
  if (signal?.aborted) stop.abort();
  const folder = await openCheckpoint(source, { signal: stop.signal, hfEndpoint, hfToken, stallTimeout });
  signal?.addEventListener('abort', forward, { once: true });
  let client = null;
  let out = null;
  const ab = makeAbortFlag(stop.signal);
  // As `kite convert`: the output must not replace a file the conversion reads. The converter
  // reads config, tokenizer and every safetensors header before its first byte out
  // (kite_convert.h), so at the first chunk every file it reads is known: the check runs then,
  // before that chunk is written, and the worker's later reads wait for it (a refused output
  // stops the conversion there, not after it).
  let notInput = null;
  const checkFirst = as === 'file' ? () => (notInput = checkNotInput(output, folder.paths())) : null;
  try {
    out = await openOutput('convert', as, output, null, () => stop.abort(), checkFirst);
    client = await Client.start({ flavor: 'st', threads: 1, simd });
    const meter = progressMeter();
    const serve = async (req, bytes) => {
      await notInput;
      if (req.op === 'exists') return folder.exists(req.name);
      if (req.op === 'size') return folder.size(req.name);
      return folder.read(req.name, req.offset, bytes.subarray(0, req.length)).then(() => 0);
    };
    await client.call('convert', { outtype: OUTTYPES[outtype], name: name ?? null, dir: folder.name || null, abort: ab.flag.buffer }, {
      cancelOn: stop.signal,
      onEvent: (m) => {
        if (m.type === 'hf') answerSync(m, serve);
        else if (m.type === 'chunk') out.onChunk(m.data);
        else if (m.type === 'progress')
          onProgress?.({ stage: m.stage, loaded: m.loaded, total: m.total, fraction: m.total ? m.loaded / m.total : 0, ...meter(m) });
      },
    });
    return await out.finish();
  } catch (e) {
    await out?.discard();
    if (signal?.aborted && e.status !== 'aborted') throw new KiteError('aborted', 'aborted');
    // a refused request (a gated repository's 401) is why a file seemed missing
    const refused = folder.refused?.();
    if (refused && e.status !== 'aborted') throw new KiteError(`kite: convert: ${refused.message}`, refused.status);
    throw e;
  } finally {
    ab.release();
    signal?.removeEventListener('abort', forward);
    await client?.terminate();
    await folder.close();
  }
}

// Throws when output names one of the files read.
async function checkNotInput(output, inputs) {
  const { resolve } = await import('node:path');
  const { realpath } = await import('node:fs/promises');
  const { sameFile } = await import('./output_file.js');
  const target = await realpath(resolve(output)).catch(() => resolve(output));
  for (const input of inputs) {
    if (await sameFile(target, input))
      throw new KiteError(`kite: convert: the output ${output} is the input file ${input}: write the converted model to another path`, 'invalid input');
  }
}
