// worker/generate.js - a generation run: the prompt, stop strings, grammar and sampling options
// as a kw_gen_args block, the run (kw_generate, or the WebGPU token loop) and its result; and
// the tool-calling chat that builds its prompt and grammar in C first.
import { M, abi, model, current, aborted, device, gpuDead } from './state.js';
import { CError, addr, check, cstr, setPtr, struct, takeString } from './heap.js';
import { endText, postText } from './c_callbacks.js';
import { generateSteps } from './webgpu.js';

// A chat with tools (or tool calls and results in its messages): request is the OpenAI request
// body as JSON text (messages, tools, tool_choice, parallel_tool_calls). The prompt, the call
// grammar and the reply's split into text and calls are kite serve's (wasm/exports_tools.c);
// the result gets toolCalls, and stoppedBy 'tool_calls' when the reply called a tool.
export async function chatRequest(request, opts) {
  const a = struct('kw_chat_request_args');
  const r = cstr(request);
  let prompt = null;
  let grammar = null;
  let lazy = 0;
  let toolReply = 0;
  let replyAt = -1;
  try {
    a.set({ model, request: r, flags: (opts.addAssistant === false ? 0 : 1) | (opts.thinking === 'off' ? 2 : 0) });
    const st = M._kw_chat_request(a.ptr);
    if (st !== abi.status.KITE_OK) {
      // the C message names the request's member in the OpenAI form: name the package's option
      const why = M.UTF8ToString(M._kw_last_error())
        .replace(/'tool_choice/g, "'toolChoice").replace(/'parallel_tool_calls'/g, "'parallelToolCalls'");
      const opt = /^'?tools\b/.test(why) ? 'option tools: ' : '';
      throw new CError(`kite: chat: ${opt}${why}`, abi.statusNames[st] ?? `status ${st}`);
    }
    prompt = takeString(a.get('prompt'));
    const g = a.get('grammar');
    if (g) grammar = takeString(g);
    lazy = a.get('lazy');
    toolReply = a.get('tool_reply');
    replyAt = a.get('reply_at');
    if (toolReply && opts.streamToolCalls) toolReply |= 4; // the calls in pieces too
  } finally {
    a.free();
    M._kw_free(r);
  }
  const calls = [];
  current.toolCalls = calls;
  // As kite serve's chat: special-token text in the template becomes tokens.
  const res = await runGenerate(prompt, {
    ...opts, parseSpecial: true, ...(grammar !== null ? { grammar, jsonSchema: undefined } : {}),
  }, { trigger: lazy ? '<tool_call>' : null, toolReply, replyAt });
  // ids: kite serve's (openai/tool_calls.c, as llama-server makes them)
  const toolCalls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  return { ...res, toolCalls, ...(toolCalls.length && ['eog', 'stop'].includes(res.stoppedBy) ? { stoppedBy: 'tool_calls' } : {}) };
}

// Runs one generation of prompt with the options o (index.d.ts's generate options; trigger,
// toolReply and replyAt: chatRequest's), streaming 'piece' messages; resolves with the sampled
// token ids, the run's counts and times, and why it stopped.
export async function runGenerate(prompt, o, { trigger = null, toolReply = 0, replyAt = -1 } = {}) {
  if (gpuDead) throw new CError(gpuDead, 'device lost');
  const p = cstr(prompt);
  const stops = (o.stop || []).map(String);
  const sp = stops.map(cstr);
  const arr = addr(M._kw_alloc(abi.pointerSize * Math.max(1, sp.length)));
  const bp = (o.drySequenceBreakers || []).map((b) => cstr(String(b))); // none given: llama.cpp's defaults
  const barr = addr(M._kw_alloc(abi.pointerSize * Math.max(1, bp.length)));
  const g = o.grammar !== undefined ? cstr(o.grammar) : 0;
  const js = o.jsonSchema !== undefined ? cstr(typeof o.jsonSchema === 'string' ? o.jsonSchema : JSON.stringify(o.jsonSchema)) : 0;
  const tr = trigger !== null ? cstr(trigger) : 0;
  const rm = o.reasoningBudgetMessage !== undefined ? cstr(o.reasoningBudgetMessage) : 0;
  const a = struct('kw_gen_args');
  try {
    sp.forEach((s, i) => setPtr(arr + abi.pointerSize * i, s));
    bp.forEach((s, i) => setPtr(barr + abi.pointerSize * i, s));
    current.decoder = new TextDecoder('utf-8');
    current.held = ''; // text not sent yet (onPiece)
    current.posted = 0;
    current.lastPost = -Infinity;
    current.tokens = [];
    // The core's defaults first; then only the options the caller gave (sampling_given names
    // them: the model's recommended sampling replaces the defaults of the others).
    M._kw_gen_args_init(a.ptr);
    const sampling = {
      temp: o.temperature, top_k: o.topK, top_p: o.topP, min_p: o.minP, repeat_penalty: o.repeatPenalty, repeat_last_n: o.repeatLastN,
      typical_p: o.typicalP, top_n_sigma: o.topNSigma, xtc_probability: o.xtcProbability, xtc_threshold: o.xtcThreshold,
      mirostat: o.mirostat, mirostat_tau: o.mirostatTau, mirostat_eta: o.mirostatEta,
    };
    let given = 0;
    for (const [field, bit] of Object.entries(abi.samplingBits)) if (sampling[field] !== undefined) given |= bit;
    a.set({
      model, prompt: p, stops: arr, n_stop: sp.length,
      dry_multiplier: o.dryMultiplier, dry_base: o.dryBase, dry_allowed_length: o.dryAllowedLength,
      dry_penalty_last_n: o.dryPenaltyLastN, dry_breakers: barr, n_dry_breakers: o.drySequenceBreakers ? bp.length : -1,
      n_predict: o.maxTokens, ...sampling, sampling_given: given, seed: o.seed,
      no_bos: o.noBos ? 1 : 0, keep_context: o.keepContext ? 1 : 0, parse_special: o.parseSpecial ? 1 : 0,
      reuse_prefix: o.cachePrompt === false ? 0 : 1,
      grammar: g, json_schema: js, grammar_trigger: tr, tool_reply: toolReply, reply_at: replyAt,
      // chat only (generate's options have none of these): the budget and the reply's opening
      reasoning_budget: o.reasoningBudget ?? -1, reasoning_message: rm, no_thinking: o.thinking === 'off' ? 1 : 0,
    });
    const st = device === 'webgpu' ? await generateSteps(a) : M._kw_generate(a.ptr);
    endText();
    const result = {
      tokens: current.tokens,
      nPrompt: a.get('n_prompt'), nCached: a.get('n_cached'), nGenerated: a.get('n_generated'), prefillSeconds: a.get('prefill_s'), decodeSeconds: a.get('decode_s'),
      stoppedBy: a.get('stopped_eog') ? 'eog' : a.get('stopped_string') ? 'stop' : 'length',
    };
    if (st === abi.status.KITE_ERR_ABORTED && aborted()) return { ...result, stoppedBy: 'abort' };
    check(st);
    return result;
  } finally {
    if (current.held) postText(); // a failed run's text so far, before its error
    a.free();
    M._kw_free(p);
    sp.forEach((s) => M._kw_free(s));
    M._kw_free(arr);
    bp.forEach((s) => M._kw_free(s));
    M._kw_free(barr);
    if (g) M._kw_free(g);
    if (js) M._kw_free(js);
    if (tr) M._kw_free(tr);
    if (rm) M._kw_free(rm);
  }
}
