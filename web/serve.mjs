// serve.mjs - a tiny static server for the demo page: serves the package root on 127.0.0.1
// with the cross-origin isolation headers (COOP/COEP, so the page gets SharedArrayBuffer and
// the multi-threaded build), the right MIME types (application/wasm for streaming compile) and
// single byte ranges (Range: bytes=A-B, A- or -N; 206, or 416 past the end), as static hosts
// answer them, so models load with parallel ranged requests.
//   node web/serve.mjs [--port N] [--no-isolation]    (npm run demo)
// Tests import { serve } and ask for port 0 (a free port).
import { createServer } from 'node:http';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEMO_PATH = '/web/demo/';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.gguf': 'application/octet-stream',
};

// Starts the server. isolation=false leaves out COOP/COEP (the page then runs the
// single-thread build). intercept(req, res, headers) (tests) may answer a request itself and
// return true; headers are the isolation headers to send. Resolves to { url (of the demo
// page), port, close() }.
export function serve({ port = 8080, host = '127.0.0.1', isolation = true, intercept } = {}) {
  const server = createServer((req, res) => handle(req, res, isolation, intercept).catch((e) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(e?.message || e));
  }));
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const p = server.address().port;
      ok({
        url: `http://${host}:${p}${DEMO_PATH}`,
        port: p,
        close: () => new Promise((done) => { server.closeAllConnections?.(); server.close(() => done()); }),
      });
    });
  });
}

async function handle(req, res, isolation, intercept) {
  const headers = { 'cache-control': 'no-store' };
  if (isolation) {
    headers['cross-origin-opener-policy'] = 'same-origin';
    headers['cross-origin-embedder-policy'] = 'require-corp';
    headers['cross-origin-resource-policy'] = 'same-origin';
  }
  if (intercept && (await intercept(req, res, headers))) return;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...headers, allow: 'GET, HEAD' });
    return res.end();
  }
  let path;
  try {
    path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  } catch {
    res.writeHead(400, headers);
    return res.end('bad path');
  }
  if (path === '/') {
    res.writeHead(302, { ...headers, location: DEMO_PATH });
    return res.end();
  }
  // Only files below the root, never a dotfile (.git) or the build trees' internals.
  let file = resolve(join(root, path));
  if ((file !== root && !file.startsWith(root + sep)) || /(^|[\\/])\./.test(path)) {
    res.writeHead(404, headers);
    return res.end('not found');
  }
  let st = await stat(file).catch(() => null);
  if (st?.isDirectory()) {
    if (!path.endsWith('/')) {
      res.writeHead(301, { ...headers, location: path + '/' });
      return res.end();
    }
    file = join(file, 'index.html');
    st = await stat(file).catch(() => null);
  }
  if (!st?.isFile()) {
    res.writeHead(404, { ...headers, 'content-type': 'text/plain' });
    return res.end('not found');
  }
  const type = MIME[extname(file).toLowerCase()] || 'application/octet-stream';
  const range = byteRange(req.headers.range, st.size);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${st.size}` });
    return res.end();
  }
  const [start, end] = range ?? [0, st.size - 1];
  res.writeHead(range ? 206 : 200, {
    ...headers,
    'content-type': type,
    'accept-ranges': 'bytes',
    'content-length': end - start + 1,
    ...(range ? { 'content-range': `bytes ${start}-${end}/${st.size}` } : {}),
  });
  if (req.method === 'HEAD' || end < start) return res.end();
  createReadStream(file, { start, end }).pipe(res);
}

// The one byte range a Range header asks of a file of size bytes: [first, last], null for the
// whole file (no header, a malformed one, or several ranges: a server may ignore those), or
// 'unsatisfiable' when it starts past the end.
function byteRange(header, size) {
  const m = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]); // the last n bytes
    return n === 0 ? 'unsatisfiable' : [Math.max(0, size - n), size - 1];
  }
  const first = Number(m[1]);
  if (first >= size) return 'unsatisfiable';
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return last < first ? null : [first, last];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--port');
  const port = i >= 0 ? Number(args[i + 1]) : Number(process.env.PORT || 8080);
  const isolation = !args.includes('--no-isolation');
  serve({ port, isolation }).then(
    ({ url }) => {
      console.log(`Kite demo: ${url}`);
      if (!existsSync(join(root, 'dist', 'kite-st.wasm')))
        console.log('warning: dist/ holds no WebAssembly build yet: run npm run build:wasm, or the page cannot load models');
      console.log(isolation
        ? '(cross-origin isolated: the multi-threaded build is used; Ctrl-C to stop)'
        : '(no isolation headers: the page uses the single-thread build; Ctrl-C to stop)');
    },
    (e) => {
      console.error(e.code === 'EADDRINUSE' ? `port ${port} is in use: try --port ${port + 1}` : e.message);
      process.exit(1);
    });
}
