// llama_ref.mjs - llama.cpp's greedy continuation of a prompt, through node-llama-cpp's
// prebuilt CPU library: the reference the generate tests compare our tokens with.
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

let llamaPromise = null;
// node-llama-cpp's prebuilt CPU library, loaded once per process (never built from source).
export const llama = () => (llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error }));

// fn(model, context) on modelPath loaded on the CPU with a new context of the given size,
// threads and flash-attention setting; both are disposed of afterwards, whatever fn does.
async function withContext(modelPath, { contextSize, threads, flashAttention }, fn) {
  const model = await (await llama()).loadModel({ modelPath, gpuLayers: 0 });
  try {
    const context = await model.createContext({ contextSize, threads, flashAttention });
    try {
      return await fn(model, context);
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

// Prompt ids as llama.cpp's generation sees them (BOS first when the vocabulary adds one) and
// the first n greedily generated ids (fewer if an end-of-generation token comes first).
export async function llamaGreedy(modelPath, prompt, n, { contextSize = 512, threads = 1, flashAttention = false, specialTokens = false } = {}) {
  return withContext(modelPath, { contextSize, threads, flashAttention }, async (model, context) => {
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
  });
}

// llama.cpp's logits for the token after `ids` (evaluated from an empty cache, as given: put
// BOS first yourself), as a Map from token id to logit.
export async function llamaNextLogits(modelPath, ids, { contextSize = 512, threads = 1, flashAttention = false } = {}) {
  return withContext(modelPath, { contextSize, threads, flashAttention }, async (model, context) => {
    const last = ids.length - 1;
    const res = await context.getSequence().controlledEvaluate(
      ids.map((t, i) => (i === last ? [t, { generateNext: { logits: true } }] : t)));
    return new Map(res[last].next.logits);
  });
}

// Releases the library (lets the process exit).
export async function llamaDispose() {
  if (llamaPromise) await (await llamaPromise).dispose();
  llamaPromise = null;
}

// llama.cpp's greedy replies in a conversation kept in one context, as a chat program runs it:
// turn k evaluates nextText(k, replies so far) after everything before it (BOS first on turn 0
// when the vocabulary adds one), then generates up to n ids (fewer if an end-of-generation token
// comes first). Every reply id stays in the context, even the last one of a reply cut at n, since
// the conversation the model reads next holds the whole reply. Returns [{ ids, text, eog }].
export async function llamaGreedyTurns(modelPath, nTurns, nextText, n, { contextSize = 512, threads = 1, flashAttention = false } = {}) {
  return withContext(modelPath, { contextSize, threads, flashAttention }, async (model, context) => {
    const seq = context.getSequence();
    const turns = [];
    let pending = []; // the last id of a reply cut at n: sampled but not evaluated yet
    for (let k = 0; k < nTurns; k++) {
      let ids = model.tokenize(nextText(k, turns.map((t) => t.text)), true);
      if (k === 0 && model.tokens.shouldPrependBosToken && model.tokens.bos != null) ids = [model.tokens.bos, ...ids];
      const before = [...seq.contextTokens, ...pending, ...ids];
      const out = [];
      let eog = false;
      for await (const tok of seq.evaluate([...pending, ...ids], { temperature: 0 })) {
        if (model.isEogToken(tok)) {
          eog = true;
          break;
        }
        out.push(tok);
        if (out.length >= n) break;
      }
      pending = eog || out.length === 0 ? [] : [out[out.length - 1]];
      turns.push({ ids: out, text: model.detokenize(out, false, before), eog });
    }
    return turns;
  });
}
