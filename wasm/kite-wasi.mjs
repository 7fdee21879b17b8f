#!/usr/bin/env node
// kite-wasi.mjs - runs the WASI build of the kite CLI (cmake --preset wasi) under Node's
// node:wasi: `node wasm/kite-wasi.mjs info model.gguf`. The host file system is preopened
// at /, and relative file arguments are made absolute (WASI programs have no working
// directory of their own).
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The module: KITE_WASI, else the package's dist/kite.wasm, else the wasi preset's output.
export function wasiBinary() {
  const candidates = [process.env.KITE_WASI, resolve(root, 'dist/kite.wasm'), resolve(root, 'build/wasi/kite'),
    resolve(root, 'build/wasi/kite.wasm')].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error('kite.wasm not found: build it with npm run build:wasi (cmake --preset wasi)');
  return found;
}

// Arguments naming files (existing ones, or new ones with a file extension in an existing
// directory) are passed as absolute paths; everything else (options, prompts) as is.
const FILE_EXT = /\.(gguf|txt|json|bin|tmp)$/i;
function hostArg(a) {
  if (a.startsWith('-') || a.startsWith('/')) return a;
  const abs = resolve(a);
  if (existsSync(abs) || (FILE_EXT.test(a) && existsSync(dirname(abs)))) return abs;
  return a;
}

// Runs the CLI with args; resolves to its exit code. stdout/stderr are the process's own.
export async function runWasi(args, { binary = wasiBinary(), env = process.env } = {}) {
  // node:wasi announces itself as experimental on every run: keep the CLI's stderr clean.
  const emit = process.emitWarning;
  process.emitWarning = (w, ...rest) => (String(w?.message ?? w).includes('WASI') ? undefined : emit.call(process, w, ...rest));
  // Node 20's WASI "fast API calls" can let V8 collect garbage in the middle of a call and
  // crash the process once the module's memory has grown (nodejs/node#46777, #53087):
  // turn them off before the first call is compiled.
  (await import('node:v8')).setFlagsFromString('--no-turbo-fast-api-calls');
  const { WASI } = await import('node:wasi');
  const wasi = new WASI({
    version: 'preview1',
    args: ['kite', ...args.map(hostArg)],
    env,
    preopens: { '/': '/' },
    returnOnExit: true,
  });
  process.emitWarning = emit;
  const module = await WebAssembly.compile(readFileSync(binary));
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  return wasi.start(instance);
}

// Run as a program: `node wasm/kite-wasi.mjs`, or through npm's bin link
// (node_modules/.bin/kite-wasi -> ../kite-llm/wasm/kite-wasi.mjs, what `npx kite-wasi` runs):
// the link is resolved before comparing, else the CLI would silently do nothing.
const realOrSelf = (p) => {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
};
if (process.argv[1] && realOrSelf(process.argv[1]) === realOrSelf(fileURLToPath(import.meta.url))) {
  runWasi(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => { console.error(`kite-wasi: ${e.message}`); process.exitCode = 1; },
  );
}
