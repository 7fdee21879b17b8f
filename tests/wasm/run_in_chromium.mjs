// run_in_chromium.mjs - runs an Emscripten program (DIR/NAME.js + .wasm) in headless Chromium
// and prints its output; exits with the program's status. Usage: node run_in_chromium.mjs DIR NAME [args]
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(path.join(root, 'package.json'))('playwright-core');
const [dir, name, ...args] = process.argv.slice(2);
const page_html = '<!doctype html><script>var Module={arguments:' + JSON.stringify(args) +
  ',print:t=>console.log(t),printErr:t=>console.log(t),onExit:c=>console.log("__EXIT__ "+c),' +
  'onAbort:w=>console.log("__EXIT__ abort")};</script><script src="' + name + '.js"></script>';
// cross-origin isolation so pthread builds get SharedArrayBuffer too
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
const server = http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  if (url === '/') { res.writeHead(200, { ...isolation, 'Content-Type': 'text/html' }); return res.end(page_html); }
  const file = path.join(dir, path.basename(url));
  if (!fs.existsSync(file)) { res.writeHead(404); return res.end(); }
  res.writeHead(200, { ...isolation, 'Content-Type': file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript' });
  fs.createReadStream(file).pipe(res);
}).listen(0, '127.0.0.1');
await new Promise((r) => server.on('listening', r));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
const page = await browser.newPage();
let status = 1;
const finished = new Promise((resolve) => page.on('console', (m) => {
  const t = m.text();
  if (t.startsWith('__EXIT__')) { status = t === '__EXIT__ 0' ? 0 : 1; resolve(); } else console.log(t);
}));
page.on('pageerror', (e) => console.log('page error:', e.message));
await page.goto(`http://127.0.0.1:${server.address().port}/`);
await Promise.race([finished, new Promise((r) => setTimeout(r, 600000))]); // 10 minutes at most
await browser.close();
server.close();
process.exit(status);
