// worker/c_callbacks.js - the callbacks the C side calls during a request (wasm/exports*.c
// through the Emscripten module's kite* hooks), turned into the request's messages: rate-limited
// 'progress', output bytes gathered into 'chunk's, generated text as 'piece's, tool calls.
// Each callback answers abi.callback.stop once the running request was cancelled.
import { M, abi, current, aborted } from './state.js';
import { heap } from './heap.js';
import { port } from './port.js';

// Hooks the callbacks into a just-instantiated module (load_build.js, once per instance).
export function installCallbacks(mod) {
  mod.kiteSink = (p, n) => onSink(p, n);
  mod.kiteProgress = (what, done, total) => onProgress(what, done, total);
  mod.kitePiece = (p, n) => onPiece(p, n);
  mod.kiteToken = (id) => {
    current?.tokens?.push(id);
    if (current?.held && performance.now() - current.lastPost >= PIECE_MS) postText();
  };
  mod.kiteToolCall = (index, id, name, args) => {
    current?.toolCalls?.push({ id: M.UTF8ToString(id), name: M.UTF8ToString(name), arguments: M.UTF8ToString(args) });
    return aborted() ? abi.callback.stop : abi.callback.continue;
  };
  // a piece of a call as it is written: OpenAI's streamed tool_calls delta, as kite serve sends it
  mod.kiteToolDelta = (index, id, name, args, len) => {
    if (aborted()) return abi.callback.stop;
    const delta = { index };
    if (name) Object.assign(delta, { id: M.UTF8ToString(id), type: 'function' });
    const fn = {};
    if (name) fn.name = M.UTF8ToString(name);
    if (len) fn.arguments = new TextDecoder().decode(heap().slice(args, args + len));
    delta.function = fn;
    postText(); // the text before the call first
    port.post({ id: current.id, type: 'toolCallDelta', delta });
    return abi.callback.continue;
  };
}

// Module-private state (the rate limit's and the output buffer's): no other module touches it.

const PROGRESS_MS = 50;
let lastProgress = 0;
let heldProgress = null; // the newest report held back by the rate limit
let heldTimer = null;
function postProgress(msg) {
  lastProgress = Date.now();
  heldProgress = null;
  port.post(msg);
}
// Reports the running request's progress (stage: 'read', 'load', 'webgpu', ...), rate-limited.
export function progress(stage, done, total) {
  const msg = { id: current.id, type: 'progress', stage, loaded: done, total };
  // At most ~20 messages a second (and always the last): a 4 GB read would otherwise flood
  // the page. A report held back goes out when the interval ends, so a download that pauses
  // (parts waiting on the network) still shows every byte it has.
  const wait = PROGRESS_MS - (Date.now() - lastProgress);
  if (wait <= 0 || done === total) return postProgress(msg);
  heldProgress = msg;
  if (heldTimer === null)
    heldTimer = setTimeout(() => {
      heldTimer = null;
      if (heldProgress && current?.id === heldProgress.id) postProgress(heldProgress);
    }, wait);
}

function onProgress(what, done, total) {
  if (current) progress(current.stage || what, done, total);
  return aborted() ? abi.callback.stop : abi.callback.continue;
}

// Output bytes are gathered into ~4 MB messages (the writer emits many small pieces).
const OUT_CHUNK = 4 * 2 ** 20;
let outBuf = null;
let outLen = 0;
function onSink(p, n) {
  if (aborted()) return abi.callback.stop;
  let src = heap().subarray(p, p + n);
  while (src.length > 0) {
    if (!outBuf) { outBuf = new Uint8Array(OUT_CHUNK); outLen = 0; }
    const k = Math.min(src.length, OUT_CHUNK - outLen);
    outBuf.set(src.subarray(0, k), outLen);
    outLen += k;
    src = src.subarray(k);
    if (outLen === OUT_CHUNK) flushOut();
  }
  return abi.callback.continue;
}
// Sends the gathered output bytes as a 'chunk' (none: nothing).
export function flushOut() {
  if (!outBuf || outLen === 0) return;
  const data = outLen === outBuf.length ? outBuf : outBuf.slice(0, outLen);
  port.post({ id: current.id, type: 'chunk', data }, [data.buffer]);
  outBuf = null;
  outLen = 0;
}
// Drops the output gathered but not sent (a failed quantize: its file is incomplete).
export function dropOut() {
  outBuf = null;
  outLen = 0;
}

// A run's text goes out as pieces: its first PIECES_AT_ONCE pieces one message each as they come,
// later ones held while they come less than PIECE_MS after the last message and sent together
// (a message per token cost the decoding thread 0.1-0.3 ms per token in Chromium, 1-3% of a
// small model's token: the post and the page's wake-up). Held text also goes out when a
// sampled token finds it PIECE_MS old (C may hold the next pieces back for a stop string),
// before a tool-call delta, and at the run's end (endText), error or not.
const PIECE_MS = 33;
const PIECES_AT_ONCE = 8;

function onPiece(p, n) {
  if (aborted()) return abi.callback.stop;
  const text = current.decoder.decode(heap().slice(p, p + n), { stream: true });
  if (text) {
    current.held += text;
    const now = performance.now();
    if (current.posted < PIECES_AT_ONCE || now - current.lastPost >= PIECE_MS) postText(now);
  }
  return abi.callback.continue;
}

// Sends the text held back as one 'piece' (none held: nothing).
export function postText(now = performance.now()) {
  if (!current?.held) return;
  port.post({ id: current.id, type: 'piece', text: current.held });
  current.held = '';
  current.posted++;
  current.lastPost = now;
}

// The run's last text: what the decoder still holds (an incomplete character at the end), then
// everything held back.
export function endText() {
  if (!current?.decoder) return;
  current.held += current.decoder.decode();
  postText();
}
