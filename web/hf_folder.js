// hf_folder.js - (page side) a Hugging Face checkpoint folder as convert() takes it, read by
// name: picked Files (a FileList or File[], as an <input webkitdirectory> gives them), a Node
// folder path, or a base URL (hf://owner/repo[@revision], or http(s)://.../ under which the
// files are fetched by name, tensors by range requests). The worker asks for the files through
// sync_bridge.js; each request is served here.
import { isNode } from './env.js';
import { KiteError, failure } from './errors.js';
import { hfAuth, hfEndpointOf, parseHfRepo, repoUrls } from './hf_repo.js';
import { iterate, startDownload } from './reader.js';

const bad = (msg) => new KiteError(`kite: convert: ${msg}`, 'invalid input');

// A name the converter asks for is relative to the folder: one without '..' or an absolute start.
function checkName(name) {
  if (!name || name.startsWith('/') || name.split('/').includes('..')) throw failure(`${name}: not a name inside the checkpoint folder`, 'invalid input');
}

// Opens source as a folder: { name (the folder's, for general.name; '' when unknown), exists(name),
// size(name), read(name, offset, bytes) (fills bytes), paths() (Node: the files read), close(),
// and for a URL folder refused() (the first request the server refused: an Error, else null) }.
// Throws a KiteError naming what is wrong with source. signal: cancels a URL folder's requests;
// stallTimeout: ms without a byte before a URL folder's request fails naming its URL (default
// 30000, as model downloads); hfEndpoint: the hub of hf:// (default https://huggingface.co);
// hfToken: sent to that hub only (hf_repo.js hfAuth: in Node $HF_TOKEN when absent).
export async function openCheckpoint(source, { signal, stallTimeout, hfEndpoint, hfToken } = {}) {
  const io = { signal, stallTimeout };
  if (source instanceof URL) source = source.href;
  const list = typeof FileList === 'function' && source instanceof FileList ? Array.from(source) : Array.isArray(source) ? source : null;
  if (list) return filesFolder(list);
  if (typeof source !== 'string' || source === '' || source.includes('\0'))
    throw bad('a checkpoint is a FileList or File[] (a picked folder), a Node folder path, or an hf://owner/repo or http(s) base URL');
  if (source.startsWith('hf://')) {
    // hf://owner/repo[@revision] (a :QUANT picks a GGUF file: not a checkpoint)
    const repo = parseHfRepo(source);
    if (!repo || repo.quant) throw bad(`bad Hugging Face repository ${JSON.stringify(source)} (expected hf://owner/repo or hf://owner/repo@revision)`);
    const base = repoUrls(repo, hfEndpointOf(hfEndpoint)).files;
    return urlFolder(base, repo.repo, io, hfAuth(base, hfEndpoint, hfToken), true);
  }
  if (/^https?:/i.test(source) || (!isNode && !source.startsWith('file:'))) {
    const url = new URL(source, globalThis.location?.href);
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return urlFolder(url.href, decodeURIComponent(url.pathname.split('/').at(-2) ?? ''), io, hfAuth(url.href, hfEndpoint, hfToken));
  }
  if (!isNode) throw bad(`${source}: a folder path is for Node; in a browser give the picked Files or a URL`);
  return pathFolder(source);
}

// Picked Files: each by its path below the picked folder (webkitRelativePath without its first
// part), else by its name.
function filesFolder(list) {
  if (list.length === 0) throw bad('the list of checkpoint files is empty');
  const byName = new Map();
  let folder = '';
  list.forEach((f, i) => {
    if (!(typeof Blob === 'function' && f instanceof Blob) || typeof f.name !== 'string')
      throw bad(`files[${i}] is not a File (a checkpoint list holds the folder's Files)`);
    const rel = f.webkitRelativePath || '';
    const name = rel.includes('/') ? rel.slice(rel.indexOf('/') + 1) : f.name;
    if (rel.includes('/')) folder = rel.slice(0, rel.indexOf('/'));
    if (byName.has(name)) throw bad(`two files named ${name} in the list`);
    byName.set(name, f);
  });
  const file = (name) => {
    const f = byName.get(name);
    if (!f) throw failure(`${name} is missing from the picked files`, 'invalid input');
    return f;
  };
  return {
    name: folder,
    exists: (name) => byName.has(name),
    size: (name) => file(name).size,
    async read(name, offset, bytes) {
      const f = file(name);
      if (offset + bytes.length > f.size) throw failure(`${name}: file ends before offset ${offset + bytes.length}`, 'i/o error');
      try {
        bytes.set(new Uint8Array(await f.slice(offset, offset + bytes.length).arrayBuffer()));
      } catch (e) {
        throw failure(`${name}: cannot read the file (changed or removed since it was picked?): ${e.message}`, 'i/o error');
      }
    },
    paths: () => [],
    close() {},
  };
}

// A Node folder: files opened once (regular files only: a FIFO is refused, not waited on).
async function pathFolder(source) {
  const fs = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  const { basename, join, resolve } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const dir = source.startsWith('file:') ? fileURLToPath(source) : resolve(source);
  const st = await fs.stat(dir).catch((e) => { throw bad(`cannot open ${dir}: ${e.message}`); });
  if (!st.isDirectory()) throw bad(`${dir} is not a folder (give the checkpoint's folder)`);
  const open = new Map(); // name -> { fh, size }
  const file = async (name) => {
    checkName(name);
    if (open.has(name)) return open.get(name);
    const path = join(dir, name);
    const s = await fs.stat(path).catch((e) => { throw failure(`${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, 'invalid input'); });
    if (!s.isFile()) throw failure(`${path} is not a regular file`, 'invalid input');
    const fh = await fs.open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)).catch((e) => { throw failure(`${path}: ${e.message}`, 'invalid input'); });
    const f = { fh, size: (await fh.stat()).size, path };
    open.set(name, f);
    return f;
  };
  return {
    name: basename(dir),
    exists: (name) => fs.stat(join(dir, name)).then(() => true, () => false),
    size: async (name) => (await file(name)).size,
    async read(name, offset, bytes) {
      const { fh, path } = await file(name);
      const buf = new Uint8Array(Math.min(bytes.length, 16 << 20));
      for (let done = 0; done < bytes.length;) {
        const n = Math.min(buf.length, bytes.length - done);
        const { bytesRead } = await fh.read(buf, 0, n, offset + done);
        if (bytesRead === 0) throw failure(`${path}: file ends at offset ${offset + done}`, 'i/o error');
        bytes.set(buf.subarray(0, bytesRead), done);
        done += bytesRead;
      }
    },
    paths: () => [...open.values()].map((f) => f.path),
    async close() {
      await Promise.all([...open.values()].map((f) => f.fh.close().catch(() => {})));
      open.clear();
    },
  };
}

// Bytes a range request asks for beyond the read: the converter reads a tensor a block of rows
// at a time and the small tensors (norms) one by one, mostly in file order, so one request
// serves many reads (a 20 MB checkpoint: 2 requests instead of 788).
const READ_AHEAD = 16 * 2 ** 20;

// Files under a base URL: each probed once (a one-byte range request gives its size), read by
// range requests with READ_AHEAD (the last ranges of the two files read last are kept); a server
// that ignores ranges sends the whole file, which is then kept. Each request is a model
// download's (reader.js): under io.signal, and failed naming its URL when no byte comes for
// io.stallTimeout ms (headers and body). auth: headers sent with each request (the hub's token;
// a redirect to another origin drops it); hub: whether base is an hf:// repository's (its
// 401 / 403 then says what a token would do).
function urlFolder(base, name, io, auth, hub = false) {
  const probed = new Map(); // name -> { size } or { missing: true }
  const whole = new Map(); // name -> the whole file (a server without ranges)
  const ahead = new Map(); // name -> { offset, bytes }: its last range fetched (two names at most)
  let refused = null; // the first request the server refused (an HTTP error other than 404 / 410)
  const url = (n) => {
    checkName(n);
    return new URL(n.split('/').map(encodeURIComponent).join('/'), base).href;
  };
  // A range request: { res, body() (its bytes), cancel() }; an HTTP error rejects with
  // e.httpStatus (reader.js startDownload).
  const get = async (n, range) => {
    const desc = { url: url(n), name: url(n), headers: auth, hub };
    const { body, res } = await startDownload(desc, io, { range: `bytes=${range}` });
    return {
      res,
      async body() {
        const chunks = [];
        for await (const c of iterate(body, desc, io)) chunks.push(c);
        const bytes = new Uint8Array(chunks.reduce((k, c) => k + c.byteLength, 0));
        chunks.reduce((off, c) => (bytes.set(c, off), off + c.byteLength), 0);
        return bytes;
      },
      cancel() {
        desc.fetchCtrl.abort();
        desc.release();
      },
    };
  };
  const probe = async (n) => {
    if (probed.has(n)) return probed.get(n);
    let got;
    try {
      got = await get(n, '0-0');
    } catch (e) {
      if (e.httpStatus === 404 || e.httpStatus === 410) got = { missing: true };
      else if (e.httpStatus === 416) got = { empty: true }; // an empty file has no byte 0
      // the converter reads a failed exists() as a missing file: its error is kept for convert.js
      else if (e.httpStatus) throw (refused ??= e);
      else throw e;
    }
    const { res } = got;
    let p;
    if (got.missing) p = { missing: true };
    else if (got.empty) p = { size: 0 };
    else if (res.status === 206) {
      got.cancel();
      p = { size: Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1] ?? NaN) };
    } else {
      const bytes = await got.body();
      whole.set(n, bytes);
      p = { size: bytes.length };
    }
    if (Number.isNaN(p.size)) throw failure(`${url(n)}: the server's answer to a range request has no Content-Range size`, 'i/o error');
    probed.set(n, p);
    return p;
  };
  const size = async (n) => {
    const p = await probe(n);
    if (p.missing) throw failure(`${url(n)}: no such file (HTTP 404)`, 'invalid input');
    return p.size;
  };
  return {
    name,
    exists: async (n) => !(await probe(n)).missing,
    size,
    async read(n, offset, bytes) {
      const total = await size(n);
      const end = offset + bytes.length;
      if (end > total) throw failure(`${url(n)}: file ends before offset ${end}`, 'i/o error');
      if (whole.has(n)) return void bytes.set(whole.get(n).subarray(offset, end));
      let win = ahead.get(n);
      if (!(win && offset >= win.offset && end <= win.offset + win.bytes.length)) {
        // a small file read whole (JSON, tokenizer.model) is read once: no read-ahead, not kept;
        // a read that starts inside the last range fetches only what follows it
        const once = offset === 0 && end === total;
        const winEnd = win ? win.offset + win.bytes.length : -1;
        const from = !once && win && offset >= win.offset && offset < winEnd ? winEnd : offset;
        const to = once ? end : Math.min(total, Math.max(end, from + READ_AHEAD));
        const got = await get(n, `${from}-${to - 1}`);
        const { res } = got;
        const body = await got.body();
        if (res.status === 200 && body.length === total) {
          whole.set(n, body);
          return void bytes.set(body.subarray(offset, end));
        }
        if (res.status !== 206 || body.length !== to - from)
          throw failure(`cannot fetch ${url(n)} bytes ${from}-${to - 1}: HTTP ${res.status}, ${body.length} bytes`, 'i/o error');
        const joined = from === offset ? body : new Uint8Array(to - offset);
        if (from !== offset) {
          joined.set(win.bytes.subarray(offset - win.offset));
          joined.set(body, from - offset);
        }
        win = { offset, bytes: joined };
        if (!once) {
          ahead.delete(n);
          ahead.set(n, win);
          if (ahead.size > 2) ahead.delete(ahead.keys().next().value);
        }
      }
      bytes.set(win.bytes.subarray(offset - win.offset, end - win.offset));
    },
    paths: () => [],
    refused: () => refused,
    close() {},
  };
}
