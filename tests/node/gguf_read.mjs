// gguf_read.mjs - test helper: a GGUF file's metadata values and tensors, read from the GGUF
// spec (written apart from the C reader it checks): readGguf(bytes) -> { kv: Map(key ->
// {type, value}), tensors: [{name, type, ne, bytes}] }. Array values are JS arrays (strings
// decoded as UTF-8, numbers as numbers, 64-bit as BigInt).
const dec = new TextDecoder('utf-8', { fatal: false });

// Block size (elements) and bytes per block of the ggml types the converter tests meet.
const TYPE = { 0: [1, 4], 1: [1, 2], 8: [32, 34], 30: [1, 2] };
export const GGML = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 };

export function readGguf(src) {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (dv.getUint32(0, true) !== 0x46554747) throw new Error('not a GGUF file');
  let off = 8;
  const u32 = () => { const x = dv.getUint32(off, true); off += 4; return x; };
  const u64 = () => { const x = Number(dv.getBigUint64(off, true)); off += 8; return x; };
  const str = () => { const n = u64(); const s = dec.decode(src.subarray(off, off + n)); off += n; return s; };
  const scalar = (t) => {
    const r = {
      0: () => dv.getUint8(off), 1: () => dv.getInt8(off), 2: () => dv.getUint16(off, true), 3: () => dv.getInt16(off, true),
      4: () => dv.getUint32(off, true), 5: () => dv.getInt32(off, true), 6: () => dv.getFloat32(off, true),
      7: () => dv.getUint8(off) !== 0, 10: () => dv.getBigUint64(off, true), 11: () => dv.getBigInt64(off, true),
      12: () => dv.getFloat64(off, true),
    }[t];
    if (!r) throw new Error(`GGUF value type ${t}`);
    const v = r();
    off += { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 }[t];
    return v;
  };
  const value = (t) => {
    if (t === 8) return str();
    if (t !== 9) return scalar(t);
    const et = u32(), n = u64(), a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = value(et);
    return a;
  };
  off = 8;
  const nTensors = u64(), nKv = u64();
  const kv = new Map();
  let align = 32;
  for (let i = 0; i < nKv; i++) {
    const key = str(), type = u32();
    const v = value(type);
    kv.set(key, { type, value: v });
    if (key === 'general.alignment') align = v;
  }
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str(), nd = u32(), ne = [];
    for (let d = 0; d < nd; d++) ne.push(u64());
    const type = u32(), offset = u64();
    tensors.push({ name, type, ne, offset });
  }
  const dataStart = Math.ceil(off / align) * align;
  for (const t of tensors) {
    const [blk, size] = TYPE[t.type] ?? [];
    if (!blk) throw new Error(`tensor ${t.name}: ggml type ${t.type} not known to this helper`);
    const n = t.ne.reduce((a, b) => a * b, 1);
    t.bytes = src.subarray(dataStart + t.offset, dataStart + t.offset + (n / blk) * size);
  }
  return { kv, tensors };
}
