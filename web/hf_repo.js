// hf_repo.js - (page side) hf://OWNER/REPO[@REV][:QUANT], a Hugging Face repository named
// without a file, as `kite -hf OWNER/REPO[:QUANT]` and llama.cpp's -hf take it: the hub's file
// list (ENDPOINT/api/models/OWNER/REPO) picks the GGUF, which then loads as
// hf://OWNER/REPO[@REV]/FILE does (and so is cached under that file's URL).
import { isNode } from './env.js';
import { KiteError } from './errors.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
const DEFAULT_QUANT = 'Q4_K_M'; // llama.cpp's choice when -hf names no quantization

// hf://owner/repo or hf://owner/repo@rev, either with :QUANT (a trailing '/' allowed):
// { owner, repo, rev (null: main), quant (null: none given) }; null for anything else (a file
// reference, a bad one).
export function parseHfRepo(ref) {
  const m = typeof ref === 'string' && /^hf:\/\/([^/?#@:]+)\/([^/?#@:]+)(?:@([^/?#@:]+))?(?::([^/?#@:]+))?\/?$/.exec(ref);
  if (!m) return null;
  return { owner: m[1], repo: m[2], rev: m[3] ?? null, quant: m[4] ?? null };
}

// Whether a repository's file name is a model file (top level .gguf, not a vision projector)
// whose name holds quant (case-insensitive; null: any).
const isGguf = (name, quant) => typeof name === 'string' && !name.includes('/') && /\.gguf$/i.test(name) &&
  !/mmproj/i.test(name) && (!quant || name.toLowerCase().includes(quant.toLowerCase()));

// The file a repository reference loads, from the repository's file names (in the hub's order):
// the first model file whose name holds quant; without quant, the first holding Q4_K_M, else
// the first model file (native/model_fetch.c model_fetch_hf_repo picks so). A split set's file
// k of N (NAME-0000k-of-0000N.gguf) gives its first file (the whole set loads from it). null
// when none fits.
export function pickGguf(names, quant) {
  const pick = (quant ? [quant] : [DEFAULT_QUANT, null]).map((q) => names.find((n) => isGguf(n, q))).find(Boolean);
  if (!pick) return null;
  const first = pick.replace(/-\d{5}-of-(\d{5})\.gguf$/i, '-00001-of-$1.gguf');
  return names.includes(first) ? first : pick;
}

// The hub's base URL from the hfEndpoint option (a trailing '/' dropped).
export function hfEndpointOf(endpoint) {
  return (endpoint ?? DEFAULT_HF_ENDPOINT).replace(/\/+$/, '');
}

// The file list's URL and the cached copies' URL prefix of a repository reference.
function repoUrls(r, endpoint) {
  const rev = encodeURIComponent(r.rev ?? 'main');
  return {
    api: `${endpoint}/api/models/${r.owner}/${r.repo}${r.rev ? `/revision/${rev}` : ''}`,
    files: `${endpoint}/${r.owner}/${r.repo}/resolve/${rev}/`,
  };
}

// The repository's file names from the hub, or the error to throw (a KiteError naming the repository).
async function listFiles(ref, api, signal) {
  let res;
  try {
    res = await fetch(api, { signal, headers: { accept: 'application/json' } });
  } catch (e) {
    if (signal?.aborted) throw new KiteError('aborted', 'aborted');
    return { offline: new KiteError(`kite: ${ref}: cannot fetch the repository's file list ${api}: ${e.cause?.message || e.message}`, 'i/o error') };
  }
  if (!res.ok) {
    res.body?.cancel().catch(() => {});
    const why = res.status === 401 || res.status === 403
      ? ': a gated or private repository (the package sends no token: load the file from a URL that needs none, or as a File or bytes)'
      : res.status === 404 ? ': no such repository (or a private one)' : '';
    throw new KiteError(`kite: ${ref}: ${api}: HTTP ${res.status}${why}`, 'i/o error');
  }
  let doc;
  try {
    doc = await res.json();
  } catch (e) {
    throw new KiteError(`kite: ${ref}: ${api}: the file list is not JSON (${e.message})`, 'i/o error');
  }
  if (!Array.isArray(doc?.siblings)) throw new KiteError(`kite: ${ref}: ${api}: no file list (no 'siblings' array)`, 'i/o error');
  return { names: doc.siblings.map((s) => s?.rfilename) };
}

// A repository reference's picked file as a file reference, hf://OWNER/REPO[@REV]/FILE. When the
// hub cannot be reached (a network error, not an HTTP error), a browser picks among the complete
// copies in its model cache from that repository (model_cache.js), so a model loaded once loads
// offline; without one the error names the repository. Throws a KiteError 'invalid input' when
// the repository has no .gguf (matching quant), 'i/o error' for the hub's errors.
export async function resolveHfRepo(ref, { hfEndpoint, signal } = {}) {
  const r = parseHfRepo(ref);
  const { api, files } = repoUrls(r, hfEndpointOf(hfEndpoint));
  const listed = await listFiles(ref, api, signal);
  let names = listed.names;
  if (listed.offline) {
    const cached = isNode ? [] : await (await import('./model_cache.js')).listCachedModels();
    names = cached.filter((m) => m.complete && m.cacheKey === null && m.url.startsWith(files)).map((m) => decodeURIComponent(m.url.slice(files.length)));
    if (!pickGguf(names, r.quant)) throw listed.offline;
  }
  const name = pickGguf(names, r.quant);
  if (!name) {
    const what = names.some((n) => isGguf(n, null)) ? `no .gguf file matching ${r.quant}` : 'no .gguf file';
    throw new KiteError(`kite: ${ref}: the repository has ${what} (${api})`, 'invalid input');
  }
  return `hf://${r.owner}/${r.repo}${r.rev ? `@${r.rev}` : ''}/${name}`;
}
