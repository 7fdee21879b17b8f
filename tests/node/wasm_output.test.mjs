// wasm_output.test.mjs - quantize({ output }) follows the native CLI's rules: never the input
// (same path, a hard link, a symlink to it), only a regular file or a new path (a directory,
// FIFO or device is refused), and a failed write (the file-size limit of a child process:
// a short write, then EFBIG) gives a KiteError, leaves no temporary file and keeps the old
// output as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantize, KiteError } from '../../web/index.js';
import { requireDist, repoRoot } from './wasm_helpers.mjs';

const stories = join(repoRoot, 'models/stories260K.gguf');
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');

test('quantize refuses to write over its input, by any name', async () => {
  requireDist(['st']);
  const dir = mkdtempSync(join(tmpdir(), 'kite-out-same-'));
  try {
    const input = join(dir, 'in.gguf');
    copyFileSync(stories, input);
    const before = sha(input);
    linkSync(input, join(dir, 'hard.gguf'));
    symlinkSync(input, join(dir, 'link.gguf'));
    for (const output of [input, join(dir, '.', 'in.gguf'), join(dir, 'hard.gguf'), join(dir, 'link.gguf')]) {
      await assert.rejects(quantize(input, 'Q8_0', { output, flavor: 'st' }), (e) => {
        assert.ok(e instanceof KiteError, `${output}: KiteError (got ${e?.message})`);
        assert.match(e.message, /is the input file/, output);
        return true;
      });
    }
    // through a file: URL source too
    await assert.rejects(quantize(new URL(`file://${input}`), 'Q8_0', { output: input, flavor: 'st' }), /is the input file/);
    assert.equal(sha(input), before, 'the input is unchanged');
    assert.deepEqual(readdirSync(dir).sort(), ['hard.gguf', 'in.gguf', 'link.gguf'], 'no temporary file left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('quantize refuses outputs that are not regular files', async () => {
  requireDist(['st']);
  const dir = mkdtempSync(join(tmpdir(), 'kite-out-kind-'));
  try {
    mkdirSync(join(dir, 'sub'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const cases = [[join(dir, 'sub'), /directory/], [join(dir, 'fifo'), /FIFO/], ['/dev/null', /device/],
      [join(dir, 'nodir', 'x.gguf'), /does not exist/]];
    for (const [output, re] of cases) {
      const t0 = Date.now();
      await assert.rejects(quantize(stories, 'Q8_0', { output, flavor: 'st' }), (e) => {
        assert.ok(e instanceof KiteError, `${output}: KiteError (got ${e?.message})`);
        assert.match(e.message, re, output);
        return true;
      });
      assert.ok(Date.now() - t0 < 5000, `${output}: refused up front`);
    }
    assert.ok(statSync('/dev/null').isCharacterDevice(), '/dev/null is still a device');
    assert.ok(statSync(join(dir, 'fifo')).isFIFO());
    assert.deepEqual(readdirSync(dir).sort(), ['fifo', 'sub']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write that fails (file-size limit: short write, then EFBIG) is an error; the old output stays', () => {
  requireDist(['st']);
  const dir = mkdtempSync(join(tmpdir(), 'kite-out-fsize-'));
  try {
    const output = join(dir, 'out.gguf');
    writeFileSync(output, 'the previous output\n');
    const script = join(dir, 'q.mjs');
    writeFileSync(script, `
      import { quantize } from ${JSON.stringify(join(repoRoot, 'web/index.js'))};
      try {
        await quantize(${JSON.stringify(stories)}, 'Q8_0', { output: ${JSON.stringify(output)}, flavor: 'st' });
        console.log(JSON.stringify({ ok: true }));
      } catch (e) {
        console.log(JSON.stringify({ ok: false, name: e.name, isKite: e.constructor.name === 'KiteError', message: e.message }));
      }`);
    // 200 blocks of 512 bytes = 100 KiB, well under the ~380 KB Q8_0 file. SIGXFSZ is ignored
    // so the process sees the failing write instead of being killed.
    const r = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f 200; exec "${process.execPath}" "${script}"`],
      { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.equal(out.ok, false, 'the quantize failed');
    assert.ok(out.isKite, `a KiteError (got ${out.name}: ${out.message})`);
    assert.match(out.message, /EFBIG|too large/, out.message);
    assert.ok(out.message.includes(output), `names the output: ${out.message}`);
    assert.equal(readFileSync(output, 'utf8'), 'the previous output\n', 'the output is untouched');
    assert.deepEqual(readdirSync(dir).sort(), ['out.gguf', 'q.mjs'], 'the temporary file was removed');

    // Without the limit the same call writes the file.
    const ok = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(JSON.parse(ok.stdout.trim()).ok, true, ok.stderr);
    assert.ok(statSync(output).size > 300000);
    assert.deepEqual(readdirSync(dir).sort(), ['out.gguf', 'q.mjs']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a symlink output is written through: the link stays, its target gets the file', async () => {
  requireDist(['st']);
  const dir = mkdtempSync(join(tmpdir(), 'kite-out-link-'));
  try {
    const target = join(dir, 'target.gguf');
    writeFileSync(target, 'old');
    symlinkSync(target, join(dir, 'alias.gguf'));
    const bytes = await quantize(stories, 'Q8_0', { flavor: 'st' });
    assert.equal(await quantize(stories, 'Q8_0', { output: join(dir, 'alias.gguf'), flavor: 'st' }), join(dir, 'alias.gguf'));
    assert.ok(lstatSync(join(dir, 'alias.gguf')).isSymbolicLink());
    assert.deepEqual(new Uint8Array(readFileSync(target)), bytes);
    assert.deepEqual(readdirSync(dir).sort(), ['alias.gguf', 'target.gguf']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
