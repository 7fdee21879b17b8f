// imatrix_files.mjs - test helper: importance matrix files in llama-imatrix's two published
// layouts, for the weight tensors of a model. GGUF (llama-imatrix's current format): per tensor
// W an F32 tensor "W.in_sum2" (ne0 sums of squared activations) and "W.counts" (1 token count),
// and the keys imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size. Legacy .dat: int32
// entry count; per entry int32 name length, the name, int32 ncall, int32 nval, nval float32
// (mean * ncall); then int32 chunk count, int32 dataset length, the dataset name.
const enc = new TextEncoder();

// Deterministic positive values for each entry: { name -> Float32Array(n) }.
export function syntheticImatrix(tensors, seed = 1) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const out = {};
  for (const { name, n } of tensors) out[name] = Float32Array.from({ length: n }, () => 0.05 + 4 * rnd() * rnd());
  return out;
}

const i32 = (v) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
};
const u32 = (v) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};
const u64 = (v) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
};
const gstr = (s) => {
  const b = enc.encode(s);
  return [u64(b.length), b];
};
const cat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const f32bytes = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// The legacy .dat bytes: values stored as mean * ncall.
export function imatrixDat(values, { ncall = 10, chunks = 10, dataset = 'test.txt' } = {}) {
  const parts = [i32(Object.keys(values).length)];
  for (const [name, v] of Object.entries(values)) {
    const nb = enc.encode(name);
    parts.push(i32(nb.length), nb, i32(ncall), i32(v.length), f32bytes(Float32Array.from(v, (x) => x * ncall)));
  }
  const ds = enc.encode(dataset);
  parts.push(i32(chunks), i32(ds.length), ds);
  return cat(parts);
}

// The GGUF bytes (version 3, alignment 32): sums = mean * count.
export function imatrixGguf(values, { count = 512, chunks = 10, chunkSize = 512, dataset = 'test.txt' } = {}) {
  const tensors = [];
  for (const [name, v] of Object.entries(values)) {
    tensors.push({ name: `${name}.in_sum2`, ne: [v.length, 1], data: Float32Array.from(v, (x) => x * count) });
    tensors.push({ name: `${name}.counts`, ne: [1, 1], data: Float32Array.of(count) });
  }
  const kv = [
    ...gstr('general.type'), u32(8), ...gstr('imatrix'),
    ...gstr('imatrix.datasets'), u32(9), u32(8), u64(1), ...gstr(dataset),
    ...gstr('imatrix.chunk_count'), u32(4), u32(chunks),
    ...gstr('imatrix.chunk_size'), u32(4), u32(chunkSize),
  ];
  const info = [];
  let off = 0;
  for (const t of tensors) {
    info.push(...gstr(t.name), u32(t.ne.length), ...t.ne.map(u64), u32(0), u64(off));
    off += Math.ceil(t.data.byteLength / 32) * 32;
  }
  const head = cat([enc.encode('GGUF'), u32(3), u64(tensors.length), u64(4), ...kv, ...info]);
  const pad = (n) => new Uint8Array((32 - (n % 32)) % 32);
  const data = [];
  for (const t of tensors) data.push(f32bytes(t.data), pad(t.data.byteLength));
  return cat([head, pad(head.length), ...data]);
}
