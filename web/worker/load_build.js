// worker/load_build.js - finds, fetches and instantiates one Emscripten build of dist/ (the
// SIMD128, relaxed-SIMD, WebGPU and memory64 flavors), in Node or a browser, and makes it the
// worker's instance: state's M, ptrSize, scratch and abi, and the C callbacks hooked in.
import { setMemory64, MEMORY64_LIMIT } from '../reader.js';
import { hasRelaxedSimd } from '../env.js';
import { readSignatures, hasMemory64 } from '../wasm_sig.js';
import { memory64Runtime } from '../wasm64_glue.js';
import { setModule, setScratch, setAbi, setBroken } from './state.js';
import { CError, addr, readAbi } from './heap.js';
import { installCallbacks } from './c_callbacks.js';
import { isNode } from './port.js';

// Loads the CPU build of flavor ('st' or 'mt', threads workers) as the worker's instance.
// simd: 'auto' takes the relaxed-SIMD build where the engine validates relaxed ops and the
// build exists (else the SIMD128 one), 'relaxed' insists on it, 'simd128' never uses it.
// memory64: the single-thread memory64 build (kite-st64), for models over wasm32's limit.
export async function loadModule(flavor, threads, simd = 'auto', memory64 = false) {
  if (memory64) {
    if (!hasMemory64()) throw new CError('this engine has no WebAssembly memory64', 'unsupported');
    await loadBuild('kite-st64', 'st', 1);
    setMemory64(true);
    return;
  }
  if (simd === 'relaxed' && !hasRelaxedSimd()) throw new CError('this engine has no relaxed SIMD', 'unsupported');
  if (simd !== 'simd128' && hasRelaxedSimd()) {
    try {
      return await loadBuild(`kite-${flavor}-relaxed`, flavor, threads);
    } catch (e) {
      if (simd === 'relaxed') throw e;
      // not built (dist/ without the relaxed files): the SIMD128 build does the same work
    }
  }
  return loadBuild(`kite-${flavor}`, flavor, threads);
}

// Instantiates dist/<name>.wasm (flavor 'mt': with a pool of threads workers) as the worker's
// instance; throws where the build is missing or does not instantiate.
export async function loadBuild(name, flavor, threads) {
  const dist = new URL('../../dist/', import.meta.url);
  const common = {
    kitePoolSize: flavor === 'mt' ? threads : 0,
    print: (s) => console.log(s),
    printErr: (s) => console.error(s),
    onAbort: (what) => { setBroken(`the wasm instance aborted (${what}); dispose this model and load it again`); },
  };
  let factory;
  const wide = name.includes('64'); // a memory64 build: pointers and sizes are i64 (BigInt) in wasm
  if (isNode) {
    const { createRequire } = await import('node:module');
    const { readFileSync, existsSync } = await import('node:fs');
    const require = createRequire(import.meta.url);
    if (!existsSync(new URL(`${name}.wasm`, dist))) {
      throw new CError(`dist/${name}.wasm is missing: build it with npm run build:wasm`, 'unsupported');
    }
    factory = require(new URL(`${name}.js`, dist).pathname);
    // Emscripten 3.1.6 under Node 20 tries fetch() on a file path: hand it the bytes.
    common.wasmBinary = readFileSync(new URL(`${name}.wasm`, dist));
  } else {
    // A module worker cannot importScripts the classic glue: evaluate its text instead.
    const glueUrl = new URL(`${name}.js`, dist).href;
    const res = await fetch(glueUrl);
    if (!res.ok) throw new Error(`cannot fetch ${glueUrl}: HTTP ${res.status}`);
    factory = new Function(`${await res.text()}\n;return createKite${flavor.toUpperCase()};`)();
    common.locateFile = (p) => new URL(p, dist).href;
    common.mainScriptUrlOrBlob = glueUrl; // what the pthread workers load
    if (wide) { // its export signatures are read from the bytes: fetch them once here
      const wasmUrl = new URL(`${name}.wasm`, dist).href;
      const w = await fetch(wasmUrl);
      if (!w.ok) throw new Error(`cannot fetch ${wasmUrl}: HTTP ${w.status}`);
      common.wasmBinary = await w.arrayBuffer();
    }
  }
  let rt = null;
  let sigs = null;
  if (wide) {
    // Emscripten 3.1.6's memory64 glue cannot run the build (wasm64_glue.js): the binary is
    // instantiated here with imports from wasm64_glue.js. `common` becomes the module object.
    const parsed = readSignatures(common.wasmBinary);
    sigs = parsed.exports;
    rt = memory64Runtime(parsed.imports, common, (what) => common.onAbort(what), MEMORY64_LIMIT);
    let failed = null;
    common.instantiateWasm = (imports, receive) => {
      WebAssembly.instantiate(common.wasmBinary, rt.imports).then((r) => {
        rt.attach(r.instance);
        receive(r.instance, r.module);
      }, (e) => { failed = e; common.onAbort(String(e)); });
      return {};
    };
    common.onRuntimeInitialized = () => { if (failed) throw failed; };
  }
  const M = await factory(common);
  M.kiteBuild = name;
  setModule(M, wide ? 8 : 4);
  if (wide) {
    numberExports(M, sigs);
    M.wasmMemory = rt.memory();
    M.UTF8ToString = rt.utf8ToString;
    M.stringToUTF8 = rt.stringToUTF8;
  }
  setScratch(addr(M._kw_alloc(64)));
  setAbi(readAbi());
  installCallbacks(M);
}

// A memory64 build's kw_* exports take and return i64 pointers and sizes as BigInt: wrap each
// so the worker passes and gets Numbers (exact below 2^53), as with the wasm32 builds.
function numberExports(mod, sigs) {
  for (const [name, sig] of Object.entries(sigs)) {
    const raw = mod.asm?.[name];
    if (!name.startsWith('kw_') || typeof raw !== 'function') continue;
    if (!sig.params.includes('i64') && sig.results[0] !== 'i64') continue;
    const big = sig.params.map((t) => t === 'i64');
    const wideResult = sig.results[0] === 'i64';
    mod[`_${name}`] = (...args) => {
      const r = raw(...args.map((a, i) => (big[i] ? BigInt(a) : a)));
      return wideResult ? Number(r) : r;
    };
  }
}
