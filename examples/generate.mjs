// generate.mjs - stream a completion from a GGUF model with the kite-llm package.
//   node examples/generate.mjs [MODEL] [PROMPT] [N]
// MODEL: a path, an http(s) URL or hf://owner/repo/file.gguf (default: the built-in
// models/stories260K.gguf). Ctrl-C stops the generation cleanly.
import { loadModel, builtinModel } from '../web/index.js';

const [source = builtinModel,
  prompt = 'Once upon a time', n = '64'] = process.argv.slice(2);

const model = await loadModel(source, {
  onProgress: (p) => p.total && process.stderr.write(`\rloading ${(100 * p.fraction).toFixed(0)}%`),
});
process.stderr.write(`\r${model.info.model.arch}, ${model.info.model.n_layer} layers, ` +
  `${model.flavor} build on ${model.threads} threads, device ${model.device}\n`);

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
const gen = model.generate(prompt, { maxTokens: Number(n), temperature: 0, signal: stop.signal });
process.stdout.write(prompt);
for await (const piece of gen) process.stdout.write(piece);
const r = await gen.result;
process.stderr.write(`\n${r.nGenerated} tokens, ${(r.nGenerated / r.decodeSeconds).toFixed(1)} tok/s (stopped by ${r.stoppedBy})\n`);
await model.dispose();
