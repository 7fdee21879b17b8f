// make_safetensors_seeds.mjs - writes fuzz_safetensors' seed corpus into the folder given
// (scripts/test.sh run_fuzz): small safetensors files (u64 little-endian header length, the JSON
// header, the data), made here rather than kept as binary files in the repository.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

// name -> [header, data bytes, the byte they are filled with]
const SEEDS = {
  // every dtype size class, a 0-d and an empty tensor
  'kinds.safetensors': [{
    a: { dtype: 'F16', shape: [3, 1, 2], data_offsets: [0, 12] },
    b: { dtype: 'I64', shape: [], data_offsets: [12, 20] },
    c: { dtype: 'U8', shape: [0], data_offsets: [20, 20] },
    d: { dtype: 'F8_E4M3', shape: [2, 2], data_offsets: [20, 24] },
  }, 24, 2],
  // a checkpoint's shape: metadata, a norm and an embedding
  'two.safetensors': [{
    __metadata__: { format: 'pt' },
    'model.norm.weight': { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
    'model.embed_tokens.weight': { dtype: 'BF16', shape: [2, 4], data_offsets: [16, 32] },
  }, 32, 1],
};

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node make_safetensors_seeds.mjs DIR');
  process.exit(2);
}
for (const [name, [header, size, fill]] of Object.entries(SEEDS)) {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(join(dir, name), Buffer.concat([len, json, Buffer.alloc(size, fill)]));
}
