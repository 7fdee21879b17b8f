// gguf_split.mjs - test helper: a GGUF file cut into a split set the way llama-gguf-split
// writes one (the first file keeps every metadata key, each file gets split.no (u16),
// split.count (u16) and split.tensors.count (i32); the tensors go to the files in order, in
// runs of equal count, each file's data section its own). Returns the files' bytes in order.
import { cat, num, readHeader, str } from './gguf_bytes.mjs';

const kv = (key, type, size, set) => cat([str(key), num(4, (d) => d.setUint32(0, type, true)), num(size, set)]);

export function ggufSplit(buf, nParts) {
  const src = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const { dv, nTensors, kvs, align, infoStart } = readHeader(src);
  const nKv = kvs.length;
  let off = infoStart;
  const kvBytes = src.subarray(24, off);
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const start = off, nlen = Number(dv.getBigUint64(off, true)), nd = dv.getUint32(off + 8 + nlen, true);
    const offAt = off + 8 + nlen + 4 + 8 * nd + 4;
    tensors.push({ head: src.subarray(start, offAt), offset: Number(dv.getBigUint64(offAt, true)) });
    off = offAt + 8;
  }
  const dataStart = Math.ceil(off / align) * align;
  const ends = tensors.map((t) => t.offset).sort((a, b) => a - b).concat(src.length - dataStart);
  for (const t of tensors) t.size = ends[ends.indexOf(t.offset) + 1] - t.offset; // with its padding
  const per = Math.ceil(nTensors / nParts), files = [];
  for (let p = 0; p < nParts; p++) {
    const mine = tensors.slice(p * per, (p + 1) * per);
    const splitKvs = [
      kv('split.no', 2, 2, (d) => d.setUint16(0, p, true)),
      kv('split.count', 2, 2, (d) => d.setUint16(0, nParts, true)),
      kv('split.tensors.count', 5, 4, (d) => d.setInt32(0, nTensors, true)),
    ];
    let at = 0;
    const infos = mine.map((t) => {
      const info = cat([t.head, num(8, (d) => d.setBigUint64(0, BigInt(at), true))]);
      at += t.size;
      return info;
    });
    const header = cat([src.subarray(0, 8), num(8, (d) => d.setBigUint64(0, BigInt(mine.length), true)),
      num(8, (d) => d.setBigUint64(0, BigInt((p === 0 ? nKv : 0) + 3), true))]);
    // align 32 unless the first file says otherwise: later files carry no general.alignment
    const a = p === 0 ? align : 32;
    const head = cat([header, p === 0 ? kvBytes : new Uint8Array(0), ...splitKvs, ...infos]);
    const data = mine.map((t) => src.subarray(dataStart + t.offset, dataStart + t.offset + t.size));
    files.push(cat([head, new Uint8Array((a - (head.length % a)) % a), ...data]));
  }
  return files;
}
