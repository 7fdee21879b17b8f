// smollm2_models.mjs - the benchmarks' SmolLM2-135M-shaped random-weight models: an F16 GGUF made
// once by bench/make_random_model.c (compiled against libkite.a beside the kite binary), then
// quantized by `kite quantize` to each type asked for; files already there are reused.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// [[type, path], ...] for types (e.g. ['Q8_0', 'Q4_K_M']) under dir; bin: the native kite.
export function smollm2Models(bin, dir, types = ['Q8_0', 'Q4_K_M']) {
  const needBin = () => {
    if (!existsSync(bin)) throw new Error(`kite binary not found at ${bin} (set KITE_BIN)`);
  };
  mkdirSync(dir, { recursive: true });
  const f16 = join(dir, 'smollm2-135m-rand-f16.gguf');
  if (!existsSync(f16)) {
    needBin();
    const tool = join(dir, 'make_random_model');
    const lib = join(dirname(bin), 'libkite.a');
    execFileSync('cc', ['-O2', `-I${join(root, 'src')}`, join(root, 'bench/make_random_model.c'), lib, '-lm', '-lpthread', '-o', tool], { stdio: 'inherit' });
    execFileSync(tool, [f16], { stdio: 'inherit' });
  }
  return types.map((type) => {
    const q = join(dir, `smollm2-135m-rand-${type}.gguf`);
    if (!existsSync(q)) needBin(), execFileSync(bin, ['quantize', f16, q, type], { stdio: ['ignore', 'ignore', 'inherit'] });
    return [type, q];
  });
}
