// gguf_bytes.mjs - test helper: the pieces of GGUF's byte layout that the test helpers which
// rewrite files (gguf_append.mjs, gguf_split.mjs) share: little-endian records, the walk over
// the metadata key/value records, concatenation.
const enc = new TextEncoder();

// Byte size of one scalar of each GGUF value type (strings and arrays are handled apart).
export const SCALAR = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

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

// The parts joined into one Uint8Array.
export const cat = (parts) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

// `bytes` zero bytes given to set(DataView) to fill.
export const num = (bytes, set) => { const b = new Uint8Array(bytes); set(new DataView(b.buffer)); return b; };
// A GGUF string: u64 length, UTF-8 bytes.
export const str = (s) => { const b = enc.encode(s); return cat([num(8, (d) => d.setBigUint64(0, BigInt(b.length), true)), b]); };
export const u32 = (x) => num(4, (d) => d.setUint32(0, x, true));
export const u64 = (x) => num(8, (d) => d.setBigUint64(0, BigInt(x), true));

// The header of a GGUF file's bytes: its tensor count, its key/value records ({key, bytes}: the
// whole record), general.alignment (32 when absent) and the offset where the tensor infos start.
export function readHeader(src) {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (dv.getUint32(0, true) !== 0x46554747) throw new Error('not a GGUF file');
  const nTensors = Number(dv.getBigUint64(8, true)), nKv = Number(dv.getBigUint64(16, true));
  let off = 24, align = 32;
  const kvs = [];
  for (let i = 0; i < nKv; i++) {
    const start = off, klen = Number(dv.getBigUint64(off, true));
    const key = new TextDecoder().decode(src.subarray(off + 8, off + 8 + klen));
    const t = dv.getUint32(off + 8 + klen, true);
    if (key === 'general.alignment') align = dv.getUint32(off + 12 + klen, true);
    off = skipValue(dv, off + 12 + klen, t);
    kvs.push({ key, bytes: src.subarray(start, off) });
  }
  return { dv, nTensors, kvs, align, infoStart: off };
}
