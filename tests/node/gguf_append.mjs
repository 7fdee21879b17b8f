// gguf_append.mjs - test helper: a copy of a GGUF file with extra metadata keys (replacing
// those of the same name) and extra F32 tensors appended (tensor bytes untouched, the data
// section moved to stay aligned). Used to give a shared model features it lacks (e.g. LongRoPE
// factors, another chat template) so llama.cpp and kite can be compared on them.
const enc = new TextEncoder();

// Byte size of one scalar of each GGUF value type (strings and arrays are handled apart).
const SCALAR = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

// Offset just past the value of type `t` starting at `off`.
function skipValue(dv, off, t) {
  if (t === 8) return off + 8 + Number(dv.getBigUint64(off, true));
  if (t === 9) {
    const et = dv.getUint32(off, true);
    const n = Number(dv.getBigUint64(off + 4, true));
    off += 12;
    if (SCALAR[et] !== undefined) return off + n * SCALAR[et];
    for (let i = 0; i < n; i++) off = skipValue(dv, off, et);
    return off;
  }
  if (SCALAR[t] === undefined) throw new Error(`bad GGUF value type ${t}`);
  return off + SCALAR[t];
}

const str = (s) => {
  const b = enc.encode(s);
  const out = new Uint8Array(8 + b.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(b.length), true);
  out.set(b, 8);
  return out;
};
const u32 = (x) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, x, true); return b; };
const u64 = (x) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(x), true); return b; };
const f32 = (x) => { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, x, true); return b; };
const cat = (parts) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

// kvs: [[key, 'u32' | 'f32' | 'str', value]] (a key the file has already is replaced);
// tensors: [[name, Float32Array]] (1-D, F32).
export function ggufAppend(buf, kvs, tensors) {
  const src = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (dv.getUint32(0, true) !== 0x46554747) throw new Error('not a GGUF file');
  const nTensors = Number(dv.getBigUint64(8, true));
  const nKv = Number(dv.getBigUint64(16, true));
  let off = 24, align = 32;
  const kept = []; // the existing key/value records, less those kvs replaces
  const replaced = new Set(kvs.map(([k]) => k));
  for (let i = 0; i < nKv; i++) {
    const start = off;
    const klen = Number(dv.getBigUint64(off, true));
    const key = new TextDecoder().decode(src.subarray(off + 8, off + 8 + klen));
    const t = dv.getUint32(off + 8 + klen, true);
    if (key === 'general.alignment') align = dv.getUint32(off + 12 + klen, true);
    off = skipValue(dv, off + 12 + klen, t);
    if (!replaced.has(key)) kept.push(src.subarray(start, off));
  }
  const kvEnd = off;
  for (let i = 0; i < nTensors; i++) {
    const nlen = Number(dv.getBigUint64(off, true));
    const nd = dv.getUint32(off + 8 + nlen, true);
    off += 8 + nlen + 4 + 8 * nd + 4 + 8;
  }
  const infoEnd = off;
  const dataStart = Math.ceil(infoEnd / align) * align;
  const pad = (n) => (align - (n % align)) % align;
  let dataLen = src.length - dataStart;
  dataLen += pad(dataLen);
  const newKvs = kvs.map(([k, type, v]) =>
    cat([str(k), u32(type === 'u32' ? 4 : type === 'f32' ? 6 : 8), type === 'u32' ? u32(v) : type === 'f32' ? f32(v) : str(v)]));
  const infos = [], datas = [];
  let at = dataLen;
  for (const [name, arr] of tensors) {
    infos.push(cat([str(name), u32(1), u64(arr.length), u32(0), u64(at)]));
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    datas.push(bytes, new Uint8Array(pad(bytes.length)));
    at += bytes.length + pad(bytes.length);
  }
  const header = new Uint8Array(24);
  header.set(src.subarray(0, 8));
  new DataView(header.buffer).setBigUint64(8, BigInt(nTensors + tensors.length), true);
  new DataView(header.buffer).setBigUint64(16, BigInt(kept.length + kvs.length), true);
  const head = cat([header, ...kept, ...newKvs, src.subarray(kvEnd, infoEnd), ...infos]);
  const data = src.subarray(dataStart);
  return cat([head, new Uint8Array(pad(head.length)), data, new Uint8Array(dataLen - data.length), ...datas]);
}
