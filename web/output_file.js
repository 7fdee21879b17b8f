// output_file.js - (Node only) the file quantize({ output }) or convert({ output }) writes, with the native CLI's
// rules: the output is a regular file or absent (a symlink is followed to its target), never
// the input itself (same path, or the same file through another name), and it is written to
// a temporary file in the same directory, every write checked, fsync'd and renamed over the
// output only when complete. On any failure the temporary file is removed and the output is
// left as it was.
import { open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { KiteError } from './errors.js';

const fail = (where, msg) => new KiteError(`kite: ${where}: ${msg}`, 'invalid input');

// The output path, resolved and checked against the rules above. input: the source's resolved
// path when the source is a Node file, else null. where: the call ('quantize', 'convert').
export async function checkOutput(output, input, where = 'quantize') {
  let target = resolve(output);
  let st = await stat(target).catch((e) => {
    if (e.code === 'ENOENT') return null;
    throw fail(where, `cannot use ${output} as the output: ${e.message}`);
  });
  if (st) {
    target = await realpath(target); // a symlink: write its target, keep the link
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw fail(where, `the output ${output} is ${kind}: give a regular file's path (it is replaced) or a new one`);
    }
  }
  if (input && (await sameFile(target, input)))
    throw fail(where, `the output ${output} is the input file: write the ${where === 'convert' ? 'converted' : 'quantized'} model to another path`);
  const dir = await stat(dirname(target)).catch(() => null);
  if (!dir?.isDirectory()) throw fail(where, `the output's directory ${dirname(target)} does not exist`);
  return target;
}

// Whether target (resolved) and input name the same file (the same path, or another name of it).
export async function sameFile(target, input) {
  const inPath = await realpath(input).catch(() => resolve(input));
  if (inPath === target) return true;
  const [st, inSt] = await Promise.all([stat(target).catch(() => null), stat(inPath).catch(() => null)]);
  return !!(st && inSt && st.dev === inSt.dev && st.ino === inSt.ino);
}

// A writer for target: write(bytes) appends (every byte or an error), commit() fsyncs and
// renames into place, discard() removes the temporary file. Errors are KiteErrors naming the
// output and the system's reason (ENOSPC, EFBIG, ...).
export async function createOutput(target, output = target, where = 'quantize') {
  const tmp = join(dirname(target), `.${basename(target)}.kite-${process.pid}-${Date.now().toString(36)}.tmp`);
  const fh = await open(tmp, 'wx', 0o644).catch((e) => { throw fail(where, `cannot create a temporary file beside ${output}: ${e.message}`); });
  let closed = false;
  let written = 0;
  const ioError = (what, e) =>
    new KiteError(`kite: ${where}: ${what} ${output} failed after ${written} bytes: ${e.code ? `${e.code} ` : ''}${e.message}` +
      ' (nothing was written to the output)', 'i/o error');
  const close = async () => {
    if (closed) return;
    closed = true;
    await fh.close();
  };
  return {
    tmp,
    async write(data) {
      let off = 0;
      while (off < data.byteLength) {
        let n;
        try {
          ({ bytesWritten: n } = await fh.write(data, off, data.byteLength - off));
        } catch (e) {
          throw ioError('writing', e);
        }
        if (n <= 0) throw ioError('writing', new Error('the write made no progress'));
        off += n;
        written += n;
      }
    },
    async commit() {
      try {
        await fh.sync();
        await close();
      } catch (e) {
        throw ioError('flushing', e);
      }
      try {
        await rename(tmp, target);
      } catch (e) {
        throw ioError('renaming the temporary file to', e);
      }
      // The rename itself is durable once the directory is synced (best effort: not every
      // file system lets a directory be opened for fsync).
      const d = await open(dirname(target), 'r').catch(() => null);
      await d?.sync().catch(() => {});
      await d?.close();
    },
    async discard() {
      await close().catch(() => {});
      await rm(tmp, { force: true });
    },
  };
}
