// gguf_read.mjs - test helper: a GGUF file's metadata values and tensors, read from the GGUF
// spec (written apart from the C reader it checks; the walk over the key/value records is
// gguf_bytes.mjs's readHeader): readGguf(bytes) -> { kv: Map(key -> {type, value}), tensors:
// [{name, type, ne, bytes}] }. Array values are JS arrays (strings decoded as UTF-8, numbers as
// numbers, 64-bit as BigInt).
import { readHeader, SCALAR } from './gguf_bytes.mjs';

const dec = new TextDecoder('utf-8', { fatal: false });

// Block size (elements) and bytes per block of the ggml types the converter tests meet.
const TYPE = { 0: [1, 4], 1: [1, 2], 8: [32, 34], 30: [1, 2] };
export const GGML = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 };

export function readGguf(src) {
  const { dv, nTensors, kvs, align, infoStart } = readHeader(src);
  let off = 0;
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
    off += SCALAR[t];
    return v;
  };
  const value = (t) => {
    if (t === 8) return str();
    if (t !== 9) return scalar(t);
    const et = u32(), n = u64(), a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = value(et);
    return a;
  };
  // each record (readHeader's walk): key, value type, value
  const kv = new Map();
  for (const { key, bytes } of kvs) {
    off = bytes.byteOffset - src.byteOffset;
    str();
    const type = u32();
    kv.set(key, { type, value: value(type) });
  }
  off = infoStart;
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
