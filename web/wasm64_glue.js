// wasm64_glue.js - (worker side) the JS half of the memory64 build (kite-st64). Emscripten
// 3.1.6's glue for it is unfinished: its library functions get the i64 pointers and sizes as
// BigInts and mix them with Numbers, its heap stops at 4 GiB and it grows memory with Numbers.
// The worker keeps that glue for start-up (it instantiates through Module.instantiateWasm, runs
// the constructors) and supplies, from here, every import the binary names (from its import
// section), and the string helpers it calls, all over the instance's own memory.

const WASM_PAGE = 65536;

// imports(list, M, onAbort, maxBytes): the import object for the binary's function imports
// (readSignatures(...).imports); M is the Emscripten module (its kite* handlers). Call
// attach(instance) once instantiated. Returns { imports, attach, utf8ToString, stringToUTF8,
// memory() }.
export function memory64Runtime(list, M, onAbort, maxBytes) {
  let mem = null;
  const u8 = () => new Uint8Array(mem.buffer);
  const dv = () => new DataView(mem.buffer);
  const N = (x) => Number(x);
  const grow = (bytes) => {
    const pages = Math.ceil((bytes - mem.buffer.byteLength) / WASM_PAGE);
    if (pages <= 0) return true;
    try {
      mem.grow(BigInt(pages)); // a memory64 memory takes its delta as a BigInt
      return true;
    } catch {
      try {
        mem.grow(pages);
        return true;
      } catch {
        return false;
      }
    }
  };
  const impl = {
    abort: () => {
      onAbort('abort() called');
      throw new WebAssembly.RuntimeError('abort() called');
    },
    emscripten_memcpy_big: (dest, src, num) => {
      u8().copyWithin(N(dest), N(src), N(src) + N(num));
    },
    // As Emscripten's: grow by 20% or the request, whichever is more (at most 96 MiB extra),
    // up to maxBytes; the exact request when the margin does not fit.
    emscripten_resize_heap: (req) => {
      const want = N(req);
      if (want > maxBytes) return 0;
      const cur = mem.buffer.byteLength;
      const roomy = Math.min(maxBytes, Math.ceil(Math.max(want, Math.min(cur * 1.2, want + 96 * 2 ** 20)) / WASM_PAGE) * WASM_PAGE);
      return grow(roomy) || grow(want) ? 1 : 0;
    },
    clock_gettime: (clk, tp) => {
      const now = N(clk) === 0 ? Date.now() : performance.now();
      const p = N(tp); // struct timespec { int64 tv_sec; long tv_nsec; } (long: 8 bytes here)
      dv().setBigInt64(p, BigInt(Math.floor(now / 1000)), true);
      dv().setBigInt64(p + 8, BigInt(Math.floor((now % 1000) * 1e6)), true);
      return 0;
    },
    // clock() (CLOCKS_PER_SEC 1e6), time(), getentropy(): what the tool-call ids draw from
    clock: () => BigInt(Math.floor(performance.now() * 1000)),
    time: (tp) => {
      const sec = BigInt(Math.floor(Date.now() / 1000));
      if (N(tp)) dv().setBigInt64(N(tp), sec, true);
      return sec;
    },
    getentropy: (buf, len) => {
      const n = N(len);
      if (n > 256) return -1;
      crypto.getRandomValues(u8().subarray(N(buf), N(buf) + n));
      return 0;
    },
    environ_sizes_get: (count, size) => {
      dv().setBigUint64(N(count), 0n, true);
      dv().setBigUint64(N(size), 0n, true);
      return 0;
    },
    environ_get: () => 0,
    kw_js_sink: (p, n) => (M.kiteSink ? M.kiteSink(N(p), N(n)) : 1),
    kw_js_piece: (p, n) => (M.kitePiece ? M.kitePiece(N(p), N(n)) : 0),
    kw_js_progress: (what, done, total) => (M.kiteProgress ? M.kiteProgress(utf8ToString(N(what)), done, total) : 0),
    kw_js_hf: (op, name, offset, dst, n, err, cap) => M.kiteHf(op, utf8ToString(N(name)), offset, N(dst), n, N(err), N(cap)),
    kw_js_token: (id) => {
      M.kiteToken?.(id);
    },
    kw_js_tool_call: (index, id, name, args) => (M.kiteToolCall ? M.kiteToolCall(N(index), N(id), N(name), N(args)) : 0),
    kw_js_tool_delta: (index, id, name, args, len) =>
      (M.kiteToolDelta ? M.kiteToolDelta(N(index), N(id), N(name), N(args), N(len)) : 0),
  };
  const imports = {};
  for (const { module, name, results } of list) {
    const f = impl[name];
    if (!f) throw new Error(`the memory64 build imports ${module}.${name}, which wasm64_glue.js does not provide`);
    const wide = results[0] === 'i64';
    (imports[module] ??= {})[name] = wide ? (...a) => BigInt(f(...a) ?? 0) : f;
  }
  function utf8ToString(p, max = Infinity) {
    if (!p) return '';
    const h = u8();
    let end = p;
    while (end < h.length && end - p < max && h[end] !== 0) end++;
    return new TextDecoder().decode(h.subarray(p, end));
  }
  function stringToUTF8(s, p, n) {
    if (!(n > 0)) return 0;
    const { written } = new TextEncoder().encodeInto(s, u8().subarray(p, p + n - 1));
    u8()[p + written] = 0;
    return written;
  }
  return {
    imports,
    attach: (instance) => { mem = instance.exports.memory; },
    utf8ToString,
    stringToUTF8,
    memory: () => mem,
  };
}
