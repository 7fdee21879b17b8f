// helpers.mjs - shared by the Node tests: where the models and the built binaries are.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// The shared test models (KITE_MODELS, default ../shared/models beside the repo).
export const modelsDir = () => process.env.KITE_MODELS || resolve(repoRoot, '../shared/models');

// Throws when the models are missing: in CI (CI=true) that is a failure by design; locally
// too, since every test here needs them and a silent skip would hide it.
export function requireModels() {
  if (!existsSync(join(modelsDir(), 'stories260K.gguf')))
    throw new Error(`test models not found in ${modelsDir()} (set KITE_MODELS)`);
}

// The native CLI (KITE_BIN, default build/native/kite).
export function kiteBin() {
  const p = process.env.KITE_BIN || join(repoRoot, 'build/native/kite');
  if (!existsSync(p)) throw new Error(`kite binary not found at ${p}: build it with cmake --preset native && cmake --build --preset native`);
  return p;
}

// Starts `kite serve -m modelPath` on a free loopback port (extra: more flags); resolves with
// { proc, base } once it prints its address, rejects when it exits first or takes over ms.
export function startKiteServe(modelPath, extra = [], ms = 30000) {
  const proc = spawn(kiteBin(), ['serve', '-m', modelPath, '--host', '127.0.0.1', '--port', '0', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`kite serve did not start in ${ms / 1000} s: ${err}`));
    }, ms);
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, base: m[1] });
      }
    });
    proc.on('close', (code) => reject(new Error(`kite serve exited (${code}): ${err}`)));
  });
}
