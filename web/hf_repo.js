// hf_repo.js - (page side) hf://OWNER/REPO[@REV][:QUANT], a Hugging Face repository named
// without a file, as `kite -hf OWNER/REPO[:QUANT]` and llama.cpp's -hf take it: the hub's file
// list (ENDPOINT/api/models/OWNER/REPO) picks the GGUF, which then loads as
// hf://OWNER/REPO[@REV]/FILE does (and so is cached under that file's URL).
import { isNode } from './env.js';
import { KiteError } from './errors.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
// llama.cpp's choice when -hf names no quantization (common/download.cpp find_best_model): a
// Q4_K_M file, else a Q8_0 one, else the first model file (null: any)
const DEFAULT_QUANTS = ['Q4_K_M', 'Q8_0', null];

// hf://owner/repo or hf://owner/repo@rev, either with :QUANT (a trailing '/' allowed):
// { owner, repo, rev (null: main), quant (null: none given) }; null for anything else (a file
// reference, a bad one).
export function parseHfRepo(ref) {
  const m = typeof ref === 'string' && /^hf:\/\/([^/?#@:]+)\/([^/?#@:]+)(?:@([^/?#@:]+))?(?::([^/?#@:]+))?\/?$/.exec(ref);
  if (!m) return null;
  return { owner: m[1], repo: m[2], rev: m[3] ?? null, quant: m[4] ?? null };
}

// Whether a repository's file name is a model file (a .gguf, not a vision projector) at depth
// (0: top level, 1: in a first-level folder) whose path holds quant (case-insensitive; null: any).
const isGguf = (name, quant, depth = 0) => typeof name === 'string' && name.split('/').length === depth + 1 &&
  !name.startsWith('/') && /\.gguf$/i.test(name) && !/mmproj/i.test(name) &&
  (!quant || name.toLowerCase().includes(quant.toLowerCase()));

// The file a repository reference loads, from the repository's file names (in the hub's order):
// the first model file whose path holds quant, a top-level one before one in a first-level
// folder (big repositories keep each quant's split set in one: Q4_K_M/NAME-00001-of-00003.gguf);
// without quant, so for Q4_K_M, else Q8_0, else any model file (native/model_fetch.c
// model_fetch_hf_repo picks so). A split set's file k of N (NAME-0000k-of-0000N.gguf) gives its
// first file (the whole set loads from it). null when none fits.
export function pickGguf(names, quant) {
  const pick = (quant ? [quant] : DEFAULT_QUANTS)
    .flatMap((q) => [0, 1].map((depth) => names.find((n) => isGguf(n, q, depth)))).find(Boolean);
  if (!pick) return null;
  const first = pick.replace(/-\d{5}-of-(\d{5})\.gguf$/i, '-00001-of-$1.gguf');
  return names.includes(first) ? first : pick;
}

// The hub's base URL from the hfEndpoint option (a trailing '/' dropped).
export function hfEndpointOf(endpoint) {
  return (endpoint ?? DEFAULT_HF_ENDPOINT).replace(/\/+$/, '');
}

// The token sent to the hub (hfToken option; in Node, $HF_TOKEN when the option is absent, as
// huggingface_hub, llama.cpp and native kite read it; '' sends none): a string or null.
export function hfTokenOf(token) {
  if (token !== undefined) return token || null;
  return (isNode && globalThis.process?.env?.HF_TOKEN) || null;
}

// The request headers for url: Authorization: Bearer TOKEN when url is on the hub (endpoint, a
// trailing '/' dropped, then '/'), else none. A redirect elsewhere does not carry it: the Fetch
// standard drops Authorization on a cross-origin redirect (Node 20's fetch, Chromium do), and
// Hugging Face sends its LFS files from a CDN by such a redirect.
export function hfAuth(url, endpoint, token) {
  const base = `${hfEndpointOf(endpoint)}/`;
  const t = hfTokenOf(token);
  return t && url.startsWith(base) ? { authorization: `Bearer ${t}` } : {};
}

// Why a hub's 401 / 403 refused a request ('' for another status), for an error message.
export function hfDenied(status, auth) {
  if (status !== 401 && status !== 403) return '';
  return auth.authorization ? ': the hub refused the token (hfToken or $HF_TOKEN): it lacks access to this repository (a gated one: accept its terms on the hub)'
    : ': a gated or private repository (give a token with access: option hfToken, or $HF_TOKEN in Node)';
}

// The file list's URL and the base URL of the files (the cached copies' URL prefix) of a
// repository reference (parseHfRepo's) on the hub at endpoint (hfEndpointOf's).
export function repoUrls(r, endpoint) {
  const rev = encodeURIComponent(r.rev ?? 'main');
  return {
    api: `${endpoint}/api/models/${r.owner}/${r.repo}${r.rev ? `/revision/${rev}` : ''}`,
    files: `${endpoint}/${r.owner}/${r.repo}/resolve/${rev}/`,
  };
}

// The repository's file names from the hub, or the error to throw (a KiteError naming the repository).
async function listFiles(ref, api, signal, auth) {
  let res;
  try {
    res = await fetch(api, { signal, headers: { accept: 'application/json', ...auth } });
  } catch (e) {
    if (signal?.aborted) throw new KiteError('aborted', 'aborted');
    return { offline: new KiteError(`kite: ${ref}: cannot fetch the repository's file list ${api}: ${e.cause?.message || e.message}`, 'i/o error') };
  }
  if (!res.ok) {
    res.body?.cancel().catch(() => {});
    const why = hfDenied(res.status, auth) || (res.status === 404 ? ': no such repository (or a private one)' : '');
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

// A sort key ordering paths as native kite lists its cache: a folder's name before what is in it.
const byFolderThenName = (path) => path.replaceAll('/', '\0');

// A repository reference's picked file as a file reference, hf://OWNER/REPO[@REV]/FILE. When the
// hub cannot be reached (a network error, not an HTTP error), a browser picks among the complete
// copies in its model cache from that repository (model_cache.js), in name order, by the same
// rule (pickGguf: without quant a Q4_K_M, else a Q8_0, else the first; as native kite -hf and
// llama.cpp's -hf pick among their cached files), so a model loaded once loads offline; without
// one the error names the repository. Throws a KiteError 'invalid input' when
// the repository has no .gguf (matching quant), 'i/o error' for the hub's errors. hfToken: as
// hfTokenOf.
export async function resolveHfRepo(ref, { hfEndpoint, hfToken, signal } = {}) {
  const r = parseHfRepo(ref);
  const { api, files } = repoUrls(r, hfEndpointOf(hfEndpoint));
  const listed = await listFiles(ref, api, signal, hfAuth(api, hfEndpoint, hfToken));
  let names = listed.names;
  if (listed.offline) {
    const cached = isNode ? [] : await (await import('./model_cache.js')).listCachedModels();
    names = cached.filter((m) => m.complete && m.cacheKey === null && m.url.startsWith(files))
      .map((m) => decodeURIComponent(m.url.slice(files.length)))
      .sort((a, b) => byFolderThenName(a) < byFolderThenName(b) ? -1 : 1);
    if (!pickGguf(names, r.quant)) throw listed.offline;
  }
  const name = pickGguf(names, r.quant);
  if (!name) {
    const what = [0, 1].some((d) => names.some((n) => isGguf(n, null, d))) ? `no .gguf file matching ${r.quant}` : 'no .gguf file';
    throw new KiteError(`kite: ${ref}: the repository has ${what} (${api})`, 'invalid input');
  }
  return `hf://${r.owner}/${r.repo}${r.rev ? `@${r.rev}` : ''}/${name}`;
}
