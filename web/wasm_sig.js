// wasm_sig.js - the signatures of a WebAssembly binary's exported functions, read from its type,
// import, function and export sections (JS has no reflection for them). The worker uses them to
// call a memory64 build, whose pointer and size_t parameters are i64 (BigInt in JS).

const VALTYPE = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };

// { exportName: { params: ['i32' | 'i64' | ...], results: [...] } } for every exported function.
// Throws on a binary it cannot read.
export function exportSignatures(bytes) {
  return readSignatures(bytes).exports;
}

// { exports: as exportSignatures, imports: [{ module, name, params, results }] (functions) }.
export function readSignatures(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) throw new Error('not a wasm binary');
  let o = 8;
  const byte = () => {
    if (o >= b.length) throw new Error('truncated wasm binary');
    return b[o++];
  };
  const leb = () => {
    let r = 0;
    let scale = 1;
    for (;;) {
      const x = byte();
      r += (x & 0x7f) * scale;
      if (!(x & 0x80)) return r;
      scale *= 128;
    }
  };
  const readName = () => {
    const n = leb();
    const t = new TextDecoder().decode(b.subarray(o, o + n));
    o += n;
    return t;
  };
  const imports = [];
  const skipLimits = () => {
    const flags = byte();
    leb();
    if (flags & 1) leb();
  };
  const types = [];
  const funcTypes = []; // type index of every function, imported ones first
  const out = {};
  while (o < b.length) {
    const id = byte();
    const size = leb();
    const end = o + size;
    if (id === 1) {
      for (let n = leb(); n > 0; n--) {
        if (byte() !== 0x60) throw new Error('unknown wasm type form');
        const params = Array.from({ length: leb() }, () => VALTYPE[byte()] ?? '?');
        const results = Array.from({ length: leb() }, () => VALTYPE[byte()] ?? '?');
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        const module = readName();
        const name = readName();
        const kind = byte();
        if (kind === 0) {
          const t = leb();
          funcTypes.push(t);
          imports.push({ module, name, ...types[t] });
        }
        else if (kind === 1) { byte(); skipLimits(); }
        else if (kind === 2) skipLimits();
        else if (kind === 3) { byte(); byte(); }
        else if (kind === 4) { byte(); leb(); }
        else throw new Error(`unknown wasm import kind ${kind}`);
      }
    } else if (id === 3) {
      for (let n = leb(); n > 0; n--) funcTypes.push(leb());
    } else if (id === 7) {
      for (let n = leb(); n > 0; n--) {
        const len = leb();
        const name = new TextDecoder().decode(b.subarray(o, o + len));
        o += len;
        const kind = byte();
        const index = leb();
        if (kind === 0 && types[funcTypes[index]]) out[name] = types[funcTypes[index]];
      }
    }
    o = end;
  }
  return { exports: out, imports };
}

// True when the engine runs memory64 (a module whose memory has 64-bit addresses validates).
export function hasMemory64() {
  try {
    return WebAssembly.validate(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x03, 0x01, 0x04, 0x01]));
  } catch {
    return false;
  }
}
