// package.test.mjs - the npm package as a user gets it: `npm pack`, install the tarball into a
// fresh project outside the repository, import 'kite-llm' there and generate with the model it
// ships; the text must equal the native CLI's. Also checks what the tarball carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { repoRoot, requireDist, native } from './wasm_helpers.mjs';

const npm = (args, cwd) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', maxBuffer: 1 << 26 });

test('npm pack, install the tarball elsewhere, import kite-llm and generate', () => {
  requireDist(['st', 'mt']);
  const dir = mkdtempSync(join(tmpdir(), 'kite-pack-'));
  try {
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], repoRoot))[0];
    const files = packed.files.map((f) => f.path);
    for (const f of ['web/index.js', 'web/index.d.ts', 'web/worker.js', 'dist/kite-st.wasm', 'dist/kite-mt.wasm',
      'dist/kite-mt.worker.js', 'models/stories260K.gguf', 'package.json', 'README.md'])
      assert.ok(files.includes(f), `the tarball lacks ${f}`);
    for (const f of files)
      assert.ok(!/^(src|tests|native|bench|build|node_modules)\//.test(f), `the tarball carries ${f}`);

    const app = join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    npm(['install', join(dir, packed.filename)], app);
    writeFileSync(join(app, 'main.mjs'), `
      import { loadModel, quantize } from 'kite-llm';
      import { fileURLToPath } from 'node:url';
      const path = fileURLToPath(new URL('./node_modules/kite-llm/models/stories260K.gguf', import.meta.url));
      const model = await loadModel(path);
      let text = '';
      for await (const piece of model.generate('Once upon a time', { maxTokens: 24, temperature: 0 })) text += piece;
      await model.dispose();
      const q = await quantize(path, 'Q8_0');
      process.stdout.write(JSON.stringify({ text, q8Bytes: q.length }));
    `);
    const out = JSON.parse(execFileSync('node', ['main.mjs'], { cwd: app, encoding: 'utf8', timeout: 120000 }));
    const model = join(repoRoot, 'models/stories260K.gguf');
    const expected = native(['run', '-m', model, '-p', 'Once upon a time', '-n', '24', '--temp', '0']).toString();
    assert.equal(out.text, expected);
    assert.ok(out.q8Bytes > 100000, `quantized size ${out.q8Bytes}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
