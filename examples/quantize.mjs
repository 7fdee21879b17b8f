// quantize.mjs - quantize a GGUF model in WebAssembly (same bytes as llama-quantize).
//   node examples/quantize.mjs [MODEL] [TYPE] [OUT]
// MODEL: a path, URL or hf://owner/repo/file.gguf (default: the built-in
// models/stories260K.gguf); TYPE: Q4_K_M (default), Q8_0, Q6_K, IQ4_NL, ...;
// OUT: default MODEL's name with -TYPE.gguf, in the current directory.
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quantize } from '../web/index.js';

const [source = fileURLToPath(new URL('../models/stories260K.gguf', import.meta.url)), type = 'Q4_K_M', out] =
  process.argv.slice(2);
const output = out || `${basename(source).replace(/\.gguf$/i, '')}-${type}.gguf`;

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
const t0 = performance.now();
await quantize(source, type, {
  output,
  signal: stop.signal,
  onProgress: (p) => process.stderr.write(`\r${p.stage} ${(100 * p.fraction).toFixed(0)}%   `),
  onStats: (s) => process.stderr.write(`\r${s.nQuantized} of ${s.nTensors} tensors quantized` +
    (s.nFallback ? ` (${s.nFallback} fell back: rows not a multiple of the block size)` : '') +
    `, ${(s.bytesIn / 2 ** 20).toFixed(2)} MiB -> ${(s.bytesOut / 2 ** 20).toFixed(2)} MiB\n`),
});
console.log(`wrote ${output} (${type}) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
