// source.js - turns what the caller passes as a model (URL, hf:// reference, File/Blob,
// ArrayBuffer/typed array, Node path) into a message the worker can read the bytes from.
import { isNode } from './env.js';
import { KiteError } from './errors.js';
import { DEFAULT_HF_ENDPOINT, hfAuth, hfEndpointOf, parseHfRepo } from './hf_repo.js';

// hf://owner/repo/path/file.gguf (optionally owner/repo@revision/...) -> the Hugging Face
// download URL, ENDPOINT/owner/repo/resolve/<revision or main>/path/file.gguf (endpoint: the
// hub's base URL, default https://huggingface.co). A reference names a file, as llama.cpp's -hf
// does: one with a query ('?') is refused (the https:// URL carries one). A repository reference,
// hf://owner/repo[@revision][:QUANT], has no file yet: loadModel, inspect and quantize pick it
// (hf_repo.js resolveHfRepo); here it is refused naming that.
export function hfUrl(ref, endpoint = DEFAULT_HF_ENDPOINT) {
  if (typeof ref === 'string' && ref.includes('?')) {
    throw new KiteError(`kite: Hugging Face reference ${JSON.stringify(ref)} has a query ('?'): an hf:// reference ` +
      'names a file (hf://owner/repo/file.gguf); give the https://huggingface.co/owner/repo/resolve/main/... URL to send one', 'invalid input');
  }
  if (parseHfRepo(ref)) {
    throw new KiteError(`kite: Hugging Face reference ${JSON.stringify(ref)} names a repository, not a file: loadModel, ` +
      'inspect and quantize pick its .gguf; elsewhere give the file (hf://owner/repo/file.gguf)', 'invalid input');
  }
  const m = /^hf:\/\/([^/]+)\/([^/@]+)(?:@([^/]+))?\/(.+)$/.exec(ref);
  if (!m) throw new KiteError(`kite: bad Hugging Face reference ${JSON.stringify(ref)} (expected hf://owner/repo/file.gguf or hf://owner/repo[:QUANT])`, 'invalid input');
  const [, owner, repo, rev, file] = m;
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${hfEndpointOf(endpoint)}/${owner}/${repo}/resolve/${encodeURIComponent(rev || 'main')}/${path}`;
}

// Whether an ArrayBuffer was detached (transferred): its .detached where the engine has it
// (Node 22, Chromium 114), else whether a view of it can still be made.
function isDetached(buffer) {
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

// Returns { desc, serve }: desc goes to the worker ({kind: 'path'|'url'|'blob'|'bytes', ...});
// serve(offset, length) gives a copy of the next bytes of an in-memory source (else null).
// hfEndpoint: the hub an hf:// file reference is fetched from (hfUrl's endpoint); a URL on it
// carries hfToken (hf_repo.js hfAuth) as desc.headers, sent with each of its requests (never
// stored: the cache records a URL's copy by its URL); desc.hub: whether it is an hf:// reference
// (a 401 / 403 then says what a token would do).
export async function describeSource(source, { hfEndpoint, hfToken } = {}) {
  if (source instanceof URL) source = source.href;
  if (typeof source === 'string') {
    // '' would resolve to the working directory (Node) or the page itself (browsers)
    if (source === '') throw new KiteError('kite: the model source is an empty string (give a path, URL or hf:// reference)', 'invalid input');
    const web = source.startsWith('hf://') ? hfUrl(source, hfEndpoint) : /^https?:/i.test(source) ? source : null;
    if (web) return { desc: { kind: 'url', url: web, name: source, headers: hfAuth(web, hfEndpoint, hfToken), hub: source.startsWith('hf://') } };
    if (/^(blob|data):/i.test(source)) return { desc: { kind: 'url', url: source, name: source } };
    if (isNode) {
      const { fileURLToPath } = await import('node:url');
      const { resolve } = await import('node:path');
      const path = source.startsWith('file:') ? fileURLToPath(source) : resolve(source);
      return { desc: { kind: 'path', path, name: path } };
    }
    const url = new URL(source, globalThis.location?.href).href;
    return { desc: { kind: 'url', url, name: source } };
  }
  if (typeof Blob === 'function' && source instanceof Blob) {
    // A Blob is cloned to the worker by reference: its bytes are not copied.
    return { desc: { kind: 'blob', blob: source, size: source.size, name: source.name || 'blob' } };
  }
  const buffer = source instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && source instanceof SharedArrayBuffer)
    ? source : ArrayBuffer.isView(source) ? source.buffer : null;
  if (buffer) {
    if (isDetached(buffer)) {
      throw new KiteError(`kite: the model's ${buffer === source ? 'ArrayBuffer' : 'typed array'} is detached (its memory ` +
        'was transferred, e.g. to a worker): pass bytes that are still readable', 'invalid input');
    }
    const bytes = buffer === source ? new Uint8Array(source) : new Uint8Array(buffer, source.byteOffset, source.byteLength);
    // Served in slices on request, so the worker never holds a second full copy.
    return {
      desc: { kind: 'bytes', size: bytes.byteLength, name: 'buffer' },
      serve: (offset, length) => bytes.slice(offset, offset + length),
    };
  }
  throw new KiteError('kite: a model source is a URL, hf:// reference, File/Blob, ArrayBuffer, typed array or (Node) path', 'invalid input');
}
