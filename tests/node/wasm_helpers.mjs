// wasm_helpers.mjs - shared by the wasm*.test.mjs files: the built package, the native CLI as
// the reference runner, a static file server for URL sources.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, kiteBin, modelsDir, requireModels, startKiteServe } from './helpers.mjs';
import { hasRelaxedSimd } from '../../web/env.js';

export { repoRoot, kiteBin, modelsDir, requireModels, startKiteServe };

// Throws when a wasm flavour is not built (npm run build:wasm, or the wasm-st/wasm-mt presets).
export function requireDist(flavors = ['st', 'mt']) {
  for (const f of flavors) {
    if (!existsSync(join(repoRoot, 'dist', `kite-${f}.wasm`)))
      throw new Error(`dist/kite-${f}.wasm is missing: run npm run build:wasm`);
  }
}

export const model = (name) => join(modelsDir(), name);

// The build simd: 'auto' loads for a flavour in this Node: the relaxed-SIMD one (kite-st-relaxed,
// kite-mt-relaxed) where its V8 validates relaxed SIMD (Node 22 and later) and the build is in
// dist/, else the SIMD128 one (Node 20). A relaxed-capable Node without the relaxed build fails
// under CI=true (scripts/test.sh builds it), so the relaxed path is really exercised there.
export function autoBuild(flavor) {
  if (!hasRelaxedSimd()) return `kite-${flavor}`;
  if (existsSync(join(repoRoot, 'dist', `kite-${flavor}-relaxed.wasm`))) return `kite-${flavor}-relaxed`;
  if (process.env.CI === 'true') throw new Error(`dist/kite-${flavor}-relaxed.wasm is missing: run npm run build:wasm-relaxed`);
  return `kite-${flavor}`;
}

// Runs the native CLI and returns stdout (throws with stderr on failure).
export function native(args, opts = {}) {
  return execFileSync(kiteBin(), args, { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

// Greedy token ids from the native CLI: `kite run --ids --temp 0`.
export function nativeGreedyIds(file, prompt, n, extra = []) {
  const out = native(['run', '-m', file, '-p', prompt, '-n', String(n), '--temp', '0', '--ids', '--no-stats', ...extra]);
  return out.toString().trim().split(/\s+/).filter(Boolean).map(Number);
}

// Serves files of a directory on 127.0.0.1 (Content-Length set unless chunked is asked for);
// resolves to { url, close }.
export function serveDir(dir, { chunked = false } = {}) {
  const server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '');
    const path = join(dir, name);
    if (name.includes('..') || !existsSync(path)) {
      res.writeHead(404).end('not found');
      return;
    }
    const headers = { 'content-type': 'application/octet-stream' };
    if (!chunked) headers['content-length'] = statSync(path).size;
    res.writeHead(200, headers);
    createReadStream(path).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

// Runs sessions in turn in one headless Chromium page of the repository served on 127.0.0.1
// (web/serve.mjs, intercept(req, res, headers) answering the routes it takes), reloaded between
// them (each a new page session over the same storage): session(page, origin, i) resolves to
// that session's result. setup(page, origin), when given, runs first. Resolves to { results,
// errors (the page's uncaught errors' messages: a test asserts none), origin }. Server and
// browser are closed either way.
export async function inServedChromium(intercept, sessions, setup) {
  const { serve } = await import('../../web/serve.mjs');
  const { launchChromium, newPageAt } = await import('./chromium.mjs');
  const server = await serve({ port: 0, intercept });
  const browser = await launchChromium();
  try {
    const origin = `http://127.0.0.1:${server.port}`;
    const { page, errors } = await newPageAt(browser, `${origin}/package.json`);
    await setup?.(page, origin);
    const results = [];
    for (const [i, session] of sessions.entries()) {
      if (i > 0) await page.reload();
      results.push(await session(page, origin, i));
    }
    return { results, errors, origin };
  } finally {
    await browser.close();
    await server.close();
  }
}
