// output_target.js - where quantize's and convert's new GGUF goes as the worker streams it:
// gathered into a Uint8Array or a Blob, or (Node) written to a file through output_file.js
// (a temporary file renamed over the output only when complete).
import { KiteError } from './errors.js';
import { isNode } from './env.js';

// The form of the result: opts.as, else 'file' with an output path, else a Uint8Array in Node
// and a Blob in browsers. Throws a KiteError when as and output disagree (where: the call).
export function outputKind(where, { as, output }) {
  const kind = as ?? (output !== undefined ? 'file' : isNode ? 'uint8array' : 'blob');
  if (kind === 'file' && !(isNode && typeof output === 'string'))
    throw new KiteError(`kite: ${where}: output (a file path) is only for Node, and as: "file" needs it`, 'invalid input');
  if (kind !== 'file' && output !== undefined)
    throw new KiteError(`kite: ${where}: output is written as a file: as must be "file" (got ${JSON.stringify(kind)})`, 'invalid input');
  return kind;
}

// The output of kind (outputKind's) for where; input: the source's path (Node), which the output
// must not be. A failed write calls onWriteError (the caller stops the work). beforeWrite (a file
// only; optional): called at the first chunk, before any byte is written; the promise it returns
// is awaited before that write and its rejection fails the output as a failed write does.
// Returns { onChunk(data), settle() (the writes done; throws a failed write's error), finish() ->
// the result (the output path, a Blob or a Uint8Array), discard() (removes a partial file; throws
// a failed write's error) }.
export async function openOutput(where, kind, output, input, onWriteError, beforeWrite = null) {
  let out = null;
  if (kind === 'file') {
    const { checkOutput, createOutput } = await import('./output_file.js');
    out = await createOutput(await checkOutput(output, input, where), output, where);
  }
  const chunks = [];
  let writing = Promise.resolve();
  let writeError = null;
  const settle = async () => {
    await writing;
    if (writeError) throw writeError;
  };
  return {
    settle,
    onChunk(data) {
      if (!out) {
        chunks.push(data);
        return;
      }
      if (beforeWrite) {
        const check = beforeWrite();
        beforeWrite = null;
        writing = writing.then(() => check);
      }
      writing = writing.then(() => (writeError ? undefined : out.write(data))).catch((e) => {
        writeError ??= e;
        onWriteError();
      });
    },
    async finish() {
      await settle();
      if (out) {
        await out.commit();
        out = null;
        return output;
      }
      if (kind === 'blob') return new Blob(chunks, { type: 'application/octet-stream' });
      const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
      let off = 0;
      for (const c of chunks.splice(0)) {
        bytes.set(c, off);
        off += c.byteLength;
      }
      return bytes;
    },
    async discard() {
      try {
        await settle();
      } finally {
        if (out) await out.discard();
        out = null;
      }
    },
  };
}
