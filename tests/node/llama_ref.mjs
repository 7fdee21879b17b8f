// llama_ref.mjs - llama.cpp's greedy continuation of a prompt, through node-llama-cpp's
// prebuilt CPU library: the reference the generate tests compare our tokens with.
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

let llamaPromise = null;
// node-llama-cpp's prebuilt CPU library, loaded once per process (never built from source).
export const llama = () => (llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error }));

// Prompt ids as llama.cpp's generation sees them (BOS first when the vocabulary adds one) and
// the first n greedily generated ids (fewer if an end-of-generation token comes first).
export async function llamaGreedy(modelPath, prompt, n, { contextSize = 512, threads = 1, flashAttention = false, specialTokens = false } = {}) {
  const model = await (await llama()).loadModel({ modelPath, gpuLayers: 0 });
  try {
    const context = await model.createContext({ contextSize, threads, flashAttention });
    try {
      let ids = model.tokenize(prompt, specialTokens);
      if (model.tokens.shouldPrependBosToken && model.tokens.bos != null) ids = [model.tokens.bos, ...ids];
      const seq = context.getSequence();
      const out = [];
      for await (const tok of seq.evaluate(ids, { temperature: 0 })) {
        if (model.isEogToken(tok)) break;
        out.push(tok);
        if (out.length >= n) break;
      }
      return { prompt: ids, ids: out, text: model.detokenize(out) };
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

// Releases the library (lets the process exit).
export async function llamaDispose() {
  if (llamaPromise) await (await llamaPromise).dispose();
  llamaPromise = null;
}
