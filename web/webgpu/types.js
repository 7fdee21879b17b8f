// types.js - the GGUF block types the WebGPU kernels read: ids (ggml's), elements per block,
// bytes per block. Layouts are src/blocks/kite_blocks.h's; wgsl_dequant.js decodes them.

// name -> { id, block, bytes }
export const TYPES = {
  f32: { id: 0, block: 1, bytes: 4 },
  f16: { id: 1, block: 1, bytes: 2 },
  bf16: { id: 30, block: 1, bytes: 2 },
  q4_0: { id: 2, block: 32, bytes: 18 },
  q4_1: { id: 3, block: 32, bytes: 20 },
  q5_0: { id: 6, block: 32, bytes: 22 },
  q5_1: { id: 7, block: 32, bytes: 24 },
  q8_0: { id: 8, block: 32, bytes: 34 },
  q2_K: { id: 10, block: 256, bytes: 84 },
  q3_K: { id: 11, block: 256, bytes: 110 },
  q4_K: { id: 12, block: 256, bytes: 144 },
  q5_K: { id: 13, block: 256, bytes: 176 },
  q6_K: { id: 14, block: 256, bytes: 210 },
  iq4_nl: { id: 20, block: 32, bytes: 18 },
  iq4_xs: { id: 23, block: 256, bytes: 136 },
  iq2_xxs: { id: 16, block: 256, bytes: 66 },
  iq2_xs: { id: 17, block: 256, bytes: 74 },
  iq3_xxs: { id: 18, block: 256, bytes: 98 },
  iq1_s: { id: 19, block: 256, bytes: 50 },
  iq3_s: { id: 21, block: 256, bytes: 110 },
  iq2_s: { id: 22, block: 256, bytes: 82 },
  iq1_m: { id: 29, block: 256, bytes: 56 },
  tq1_0: { id: 34, block: 256, bytes: 54 },
  tq2_0: { id: 35, block: 256, bytes: 66 },
  mxfp4: { id: 39, block: 32, bytes: 17 },
};

export const TYPE_NAMES = Object.keys(TYPES);

const BY_ID = new Map(Object.entries(TYPES).map(([name, t]) => [t.id, name]));

// The type name for a ggml type id, or a name checked against the table. Throws on others.
export function typeName(t) {
  const name = typeof t === 'number' ? BY_ID.get(t) : t;
  if (!name || !TYPES[name]) throw new Error(`WebGPU: no kernel for tensor type ${t}`);
  return name;
}

// Bytes of one row of `cols` elements: a whole number of blocks, and for the block types of
// 32-element units (the kernels' step); the float types take any length.
export function rowBytes(type, cols) {
  const t = TYPES[typeName(type)];
  if (t.block > 1 && (cols % 32 !== 0 || cols % t.block !== 0))
    throw new Error(`WebGPU: a ${typeName(type)} row of ${cols} elements is not a whole number of blocks`);
  return (cols / t.block) * t.bytes;
}
