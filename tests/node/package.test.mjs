// package.test.mjs - the npm package as a new user gets it: `npm pack`, then in a fresh
// `npm init -y` project outside the repository `npm install <tarball>`, save the README's
// JavaScript snippet (taken from README.md, so the two cannot drift) as main.mjs and run it
// unchanged; run every bin of package.json through npx. The generated text must equal the
// native CLI's; `npx kite-wasi info` must print what the native `kite info` prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { repoRoot, requireDist, native } from './wasm_helpers.mjs';

const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
const npm = (args, cwd) =>
  execFileSync('npm', [...args, '--loglevel=error'], { cwd, encoding: 'utf8', maxBuffer: 1 << 26, env: npmEnv });

// The first ```js block of the README's JavaScript section.
function readmeSnippet() {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## JavaScript'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'README.md has a ```js block in its JavaScript section');
  return m[1];
}

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));

test('npm pack, install the tarball in a fresh project, run the README snippet and every bin', () => {
  requireDist(['st', 'mt']);
  const dir = mkdtempSync(join(tmpdir(), 'kite-pack-'));
  try {
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], repoRoot))[0];
    const files = packed.files.map((f) => f.path);
    for (const f of ['web/index.js', 'web/index.d.ts', 'web/worker.js', 'web/options.js', 'web/output_file.js',
      'web/cache_file_worker.js', // (started by URL, not imported)
      ...['state', 'port', 'heap', 'c_callbacks', 'load_build', 'webgpu', 'generate', 'ops'].map((m) => `web/worker/${m}.js`),
      'dist/kite-st.wasm', 'dist/kite-mt.wasm', 'dist/kite-mt.worker.js', 'dist/kite.wasm', 'dist/package.json',
      'wasm/kite-wasi.mjs', 'models/stories260K.gguf', 'package.json', 'README.md'])
      assert.ok(files.includes(f), `the tarball lacks ${f}`);
    for (const f of files)
      assert.ok(!/^(src|tests|native|bench|build|node_modules)\//.test(f), `the tarball carries ${f}`);

    // A new user's project: npm init -y (no "type" field: the snippet's .mjs name makes it ESM).
    const app = join(dir, 'app');
    mkdirSync(app);
    npm(['init', '-y'], app);
    npm(['install', '--no-audit', '--no-fund', join(dir, packed.filename)], app);
    writeFileSync(join(app, 'main.mjs'), readmeSnippet());
    const r = spawnSync('node', ['main.mjs'], { cwd: app, encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, `node main.mjs failed: ${r.stderr}`);
    const greedy = native(['run', '-m', join(repoRoot, 'models/stories260K.gguf'), '-p', 'Once upon a time', '-n', '64',
      '--temp', '0', '--no-stats']).toString();
    assert.ok(greedy.length > 20);
    assert.ok(r.stdout.startsWith(greedy), `the snippet's greedy text is the native CLI's:\n${r.stdout}\n---\n${greedy}`);
    const q8 = /\nQ8_0: (\d+) bytes\n$/.exec(r.stdout);
    assert.ok(q8 && Number(q8[1]) > 100000, `the snippet reports the Q8_0 size: ${r.stdout.slice(-80)}`);
    assert.match(r.stderr, /read 1\n/, 'progress reached 1');

    // Every bin through npx, from the project folder (a relative model path, as a user types it).
    const bins = Object.keys(pkg.bin ?? {});
    assert.deepEqual(bins, ['kite-wasi'], 'this test knows every bin');
    writeFileSync(join(app, 'model.gguf'), readFileSync(join(repoRoot, 'models/stories260K.gguf')));
    const info = spawnSync('npx', ['--no-install', 'kite-wasi', 'info', 'model.gguf'], { cwd: app, encoding: 'utf8', timeout: 60000, env: npmEnv });
    assert.equal(info.status, 0, info.stderr);
    assert.equal(info.stdout, native(['info', join(app, 'model.gguf')]).toString());
    const bad = spawnSync('npx', ['--no-install', 'kite-wasi', 'info', 'main.mjs'], { cwd: app, encoding: 'utf8', timeout: 60000, env: npmEnv });
    assert.equal(bad.status, 1, 'a bad file fails');
    assert.match(bad.stderr, /main\.mjs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
