// gguf_append.mjs - test helper: a copy of a GGUF file with extra metadata keys (replacing
// those of the same name) and extra F32 tensors appended (tensor bytes untouched, the data
// section moved to stay aligned). Used to give a shared model features it lacks (e.g. LongRoPE
// factors, another chat template) so llama.cpp and kite can be compared on them.
import { cat, num, readHeader, str, u32, u64 } from './gguf_bytes.mjs';

const f32 = (x) => num(4, (d) => d.setFloat32(0, x, true));
const i32 = (x) => num(4, (d) => d.setInt32(0, x, true));

// kvs: [[key, 'u32' | 'i32' | 'f32' | 'str', value]] (a key the file has already is replaced);
// tensors: [[name, Float32Array]] (1-D, F32).
export function ggufAppend(buf, kvs, tensors) {
  const src = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const { dv, nTensors, kvs: records, align, infoStart } = readHeader(src);
  const replaced = new Set(kvs.map(([k]) => k));
  const kept = records.filter((r) => !replaced.has(r.key)).map((r) => r.bytes); // less those kvs replaces
  let off = infoStart;
  const kvEnd = infoStart;
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
  const kinds = { u32: [4, u32], i32: [5, i32], f32: [6, f32], str: [8, str] }; // GGUF value type ids
  const newKvs = kvs.map(([k, type, v]) => cat([str(k), u32(kinds[type][0]), kinds[type][1](v)]));
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
