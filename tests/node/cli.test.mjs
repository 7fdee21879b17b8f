// cli.test.mjs - the CLI as a llama.cpp / Ollama user drives it, on the built-in stories260K:
// `kite run` prompts from -f / stdin, reverse prompts and stop strings, escapes, the prompt
// display, --verbose-prompt (ids equal to llama.cpp's tokenization), chat mode (-cnv / -sys),
// exit code 3 and a message on a full context, the warning on a -c past the training length;
// `kite chat` commands (never sent to the model), multi-line input, /save and /load, dropping
// the oldest turns when the context fills, Ctrl-C mid-reply (the reply stops, the session and
// the conversation stay; a second Ctrl-C at the prompt leaves); models by URL downloaded from a
// local HTTP server (127.0.0.1) into a cache: SHA-256 checks, resume after a dropped connection,
// -hf repository lookup, no request once cached, URLs differing in their query cached apart;
// every command's --help; bench -o csv/json/md.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kiteBin, modelsDir, repoRoot, requireModels } from './helpers.mjs';
import { llamaGreedy, llamaDispose } from './llama_ref.mjs';
import { ggufSplit } from './gguf_split.mjs';

const STORIES = join(repoRoot, 'models/stories260K.gguf');
// llama.cpp (llama-simple, greedy) on stories260K after "Once upon a time" (shared models README)
const REF = ', there was a little girl named Lily. She loved to play outside in the park.';
const T = 60_000;

const tmp = mkdtempSync(join(tmpdir(), 'kite-cli-'));
after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await llamaDispose();
});

function kite(args, opts = {}) {
  const r = spawnSync(kiteBin(), args, { timeout: T, ...opts });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
const greedy = ['-m', STORIES, '--temp', '0', '--no-stats'];

// ---- kite run -------------------------------------------------------------------------------

test('run: -p, -f FILE, -p - and -f - give llama.cpp\'s greedy text', () => {
  const file = join(tmp, 'prompt.txt');
  writeFileSync(file, 'Once upon a time');
  for (const [args, input] of [[['-p', 'Once upon a time'], ''], [['-f', file], ''], [['-p', '-'], 'Once upon a time'], [['-f', '-'], 'Once upon a time']]) {
    const r = kite(['run', ...greedy, '-n', '27', ...args], { input });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, REF, args.join(' '));
  }
  const both = kite(['run', ...greedy, '-p', 'x', '-f', file]);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /-p or -f, not both/);
  const missing = kite(['run', ...greedy, '-f', join(tmp, 'nope.txt')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope\.txt/);
});

test('run, bench: -nr / --no-repack and --repack (llama.cpp\'s flags) give the same greedy text (Q4_K repacked or not)', () => {
  requireModels();
  const q4 = join(modelsDir(), 'ref/rand-llama-spm-Q4_K_M.gguf');
  assert.ok(existsSync(q4), `${q4} is missing`);
  const out = ['-nr', '--no-repack', '--repack', null].map((flag) => {
    const r = kite(['run', '-m', q4, '--temp', '0', '--no-stats', '-n', '16', '-p', 'Once upon a time', ...(flag ? [flag] : [])]);
    assert.equal(r.status, 0, `${flag}: ${r.stderr}`);
    return r.stdout;
  });
  assert.ok(out[0].length > 0);
  for (const o of out) assert.equal(o, out[0]);
  const b = kite(['bench', '-m', q4, '-p', '0', '-n', '2', '-r', '1', '-t', '1', '-nr']);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /tg2/);
});

test('run: -r stops after the reverse prompt (shown), --stop before it (not shown), exit 0', () => {
  const r = kite(['run', ...greedy, '-p', 'Once upon a time', '-r', 'Lily']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, ', there was a little girl named Lily');
  const s = kite(['run', ...greedy, '-p', 'Once upon a time', '--stop', 'Lily']);
  assert.equal(s.status, 0, s.stderr);
  assert.equal(s.stdout, ', there was a little girl named ');
  // a reverse prompt that spans token pieces (" girl named" is several tokens)
  const span = kite(['run', ...greedy, '-p', 'Once upon a time', '-r', 'girl nam']);
  assert.equal(span.stdout, ', there was a little girl nam');
});

test('run: --verbose-prompt prints llama.cpp\'s prompt tokens; -e escapes as llama.cpp (default on), --no-escape', async () => {
  requireModels();
  const prompt = 'Once upon\ta time\n"Hi"';
  const ref = await llamaGreedy(STORIES, prompt, 1);
  const ids = (stderr) => [...stderr.matchAll(/^\s*(\d+) -> '/gm)].map((m) => Number(m[1]));
  const escaped = 'Once upon\\ta\\x20time\\n\\"Hi\\"';
  for (const flags of [[], ['-e']]) {
    const r = kite(['run', ...greedy, '-n', '0', '--verbose-prompt', '-p', escaped, ...flags]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(ids(r.stderr), ref.prompt, `tokens of the escaped prompt ${flags}`);
    assert.match(r.stderr, new RegExp(`number of tokens in prompt = ${ref.prompt.length}`));
  }
  const literal = kite(['run', ...greedy, '-n', '0', '--verbose-prompt', '--no-escape', '-p', escaped]);
  assert.match(literal.stderr, /prompt: 'Once upon\\ta\\x20time/);
  assert.notDeepEqual(ids(literal.stderr), ref.prompt);
});

// -1 too: llama.cpp's --repeat-last-n refuses a negative value (common/arg.cpp: "invalid
// repeat-last-n"); its old -1 = "whole context" is gone (its sampler would take -1 as 0, off).
test('run, chat, serve: --repeat-last-n past the sampler\'s window (1048576) or negative is a usage error naming the flag', () => {
  for (const cmd of [['run', '-p', 'hi', '-n', '1'], ['chat'], ['serve', '--port', '0']]) {
    for (const v of ['1048577', '-1']) {
      const r = kite([...cmd, '-m', STORIES, '--repeat-last-n', v], { input: '' });
      assert.equal(r.status, 2, `${cmd[0]} ${v}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`--repeat-last-n expects an integer in \\[0, 1048576\\], got '${v}'`), `${cmd[0]} ${v}`);
    }
  }
  assert.equal(kite(['run', ...greedy, '-p', 'hi', '-n', '1', '--repeat-last-n', '1048576']).status, 0, 'the limit itself runs');
});

test('run: --display-prompt shows the prompt first; --no-display-prompt (default) does not', () => {
  const d = kite(['run', ...greedy, '-n', '27', '-p', 'Once upon a time', '--display-prompt']);
  assert.equal(d.stdout, 'Once upon a time' + REF);
  const n = kite(['run', ...greedy, '-n', '27', '-p', 'Once upon a time', '--no-display-prompt']);
  assert.equal(n.stdout, REF);
});

test('run: a full context is reported on stderr with exit 3; a normal end exits 0; -c past training is warned', () => {
  const full = kite(['run', ...greedy, '-p', 'Once upon a time', '-c', '32']);
  assert.equal(full.status, 3, full.stderr);
  assert.match(full.stderr, /context full: generation stopped after \d+ tokens at the context length of 32/);
  assert.ok(full.stdout.startsWith(', there was a little girl named Lily'));
  const long = kite(['run', ...greedy, '-p', 'Once upon a time there was a big dog who liked to run', '-c', '8']);
  assert.equal(long.status, 3);
  assert.match(long.stderr, /context full: the prompt has \d+ tokens, the context holds 8/);
  const ok = kite(['run', ...greedy, '-p', 'Once upon a time', '-n', '8']);
  assert.equal(ok.status, 0);
  assert.doesNotMatch(ok.stderr, /context/);
  // stories260K was trained on 2048 tokens (its GGUF's llama.context_length)
  const big = kite(['run', ...greedy, '-p', 'Once upon a time', '-n', '4', '-c', '4096']);
  assert.equal(big.status, 0);
  assert.match(big.stderr, /-c 4096 is more than the 2048 tokens the model was trained on/);
  const quiet = kite(['run', '-m', STORIES, '--temp', '0', '-p', 'Once upon a time', '-n', '4', '-c', '4096', '--log-disable']);
  assert.equal(quiet.status, 0);
  assert.equal(quiet.stderr, '', '--log-disable: nothing on stderr');
  const help = kite(['run', '--help']);
  assert.match(help.stdout, /exit status: 0 .*\n.*3 the context filled first/);
});

test('run: -cnv and -sys start chat mode (-p is the first message)', () => {
  const chat = kite(['chat', ...greedy, '-n', '8', '-sys', 'Be kind'], { input: 'Hello\n' });
  assert.equal(chat.status, 0, chat.stderr);
  assert.ok(chat.stdout.length > 1);
  const cnv = kite(['run', ...greedy, '-n', '8', '-cnv', '-sys', 'Be kind', '-p', 'Hello'], { input: '' });
  assert.equal(cnv.status, 0, cnv.stderr);
  assert.equal(cnv.stdout, chat.stdout);
  const sys = kite(['run', ...greedy, '-n', '8', '--system-prompt', 'Be kind'], { input: 'Hello\n/exit\n' });
  assert.equal(sys.stdout, chat.stdout);
});

test('run: Ctrl-C stops generation with exit 130', async () => {
  requireModels();
  const c = liveChat(['run', '-m', join(modelsDir(), 'rand-llama-spm-f16.gguf'), '--temp', '0', '-c', '512', '-p', 'Hello']);
  try {
    await c.waitFor('stdout', /\S{20}/);
    c.p.kill('SIGINT');
    const { code } = await c.exited;
    assert.equal(code, 130);
    assert.match(c.out.stderr, /interrupted after \d+ tokens/);
  } finally {
    c.p.kill('SIGKILL');
  }
});

// ---- kite chat ------------------------------------------------------------------------------

const chatArgs = ['chat', '-m', STORIES, '--temp', '0', '-n', '8', '-c', '512'];

test('chat: a banner on stderr; /exit, /bye, /help, unknown commands are never sent to the model', () => {
  const ref = kite(chatArgs, { input: 'Hello there\n' });
  assert.equal(ref.status, 0, ref.stderr);
  assert.match(ref.stderr, /stories260K\.gguf \(context 512 tokens.*\n.*\/exit, \/bye or Ctrl-D/);
  const lines = ref.stdout.split('\n');
  assert.equal(lines.length, 2, 'one reply and its line break');
  for (const leave of ['/exit', '/bye']) {
    const r = kite(chatArgs, { input: `/help\n/nonsense\nHello there\n${leave}\nHello there\n` });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, ref.stdout, `the commands were not replied to; nothing after ${leave}`);
    assert.match(r.stderr, /\/save FILE/);
    assert.match(r.stderr, /unknown command \/nonsense/);
  }
});

test('chat: --chat-template auto is the default (the model\'s own, as kite run); an unknown name is refused before the chat starts', () => {
  const phi3 = join(modelsDir(), 'rand-phi3-f16.gguf');
  const args = ['chat', '-m', phi3, '--temp', '0', '-n', '6'];
  const own = kite(args, { input: 'Hello there\n' });
  assert.equal(own.status, 0, own.stderr);
  for (const a of [[...args, '--chat-template', 'auto'], ['run', ...args.slice(1), '-cnv', '--chat-template', 'auto']]) {
    const auto = kite(a, { input: 'Hello there\n' });
    assert.equal(auto.status, 0, `${a.join(' ')}: ${auto.stderr}`);
    assert.equal(auto.stdout, own.stdout, a.join(' '));
  }
  for (const a of [[...args, '--chat-template', 'bogus'], ['run', ...args.slice(1), '-cnv', '--chat-template', 'bogus']]) {
    const bad = kite(a, { input: 'Hello there\n' });
    assert.equal(bad.status, 2, `${a.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, /unknown chat template 'bogus'/);
    assert.doesNotMatch(bad.stderr, /Type a message/, 'refused before the banner');
  }
});

test('chat: multi-line input (\\ at a line end, """ blocks); /save writes JSON atomically; /load restores', () => {
  const file = join(tmp, 'conv.json');
  const input = 'first \\\nsecond\n"""\nblock a\n\nblock b\n"""\n"""one line"""\n/save ' + file + '\n/stats\n';
  const r = kite([...chatArgs, '-sys', 'Be kind'], { input });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /\[\d+ prompt tokens \(\d+ cached\), [\d.]+ tok\/s \| \d+ reply tokens, [\d.]+ tok\/s\]/, '/stats');
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  const replies = r.stdout.split('\n').slice(0, 3);
  assert.deepEqual(saved.messages, [
    { role: 'system', content: 'Be kind' },
    { role: 'user', content: 'first \nsecond' },
    { role: 'assistant', content: replies[0] },
    { role: 'user', content: 'block a\n\nblock b' },
    { role: 'assistant', content: replies[1] },
    { role: 'user', content: 'one line' },
    { role: 'assistant', content: replies[2] },
  ]);
  assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('.tmp')), [], 'no temp file left');
  // /load then /save gives the same conversation; a bad file leaves it unchanged
  const bad = join(tmp, 'bad.json');
  writeFileSync(bad, '{"messages": [{"role": "wizard", "content": "x"}]}');
  const again = join(tmp, 'again.json');
  const l = kite(chatArgs, { input: `/load ${file}\n/load ${bad}\n/load ${join(tmp, 'none.json')}\n/save ${again}\n` });
  assert.equal(l.status, 0, l.stderr);
  assert.match(l.stderr, /loaded 7 messages/);
  assert.match(l.stderr, /bad\.json: a message without a role/);
  assert.deepEqual(JSON.parse(readFileSync(again, 'utf8')), saved);
  const nodir = kite(chatArgs, { input: `/save ${join(tmp, 'no/such/dir.json')}\nHello there\n` });
  assert.equal(nodir.status, 0);
  assert.match(nodir.stderr, /\/save .*no\/such\/dir\.json: No such file/);
  assert.equal(nodir.stdout.split('\n').length, 2, 'the session went on');
});

test('chat: when the context fills, the oldest turns are dropped (the system message stays)', () => {
  const file = join(tmp, 'dropped.json');
  const turns = ['Tell me a story', 'What happened next?', 'And then?', 'Who was there?', 'Was it fun?', 'The end?'];
  const r = kite(['chat', '-m', STORIES, '--temp', '0', '-n', '24', '-c', '160', '-sys', 'Short stories'], {
    input: turns.join('\n') + `\n/save ${file}\n`,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /the context is full: dropped the \d+ oldest messages? \(the system message is kept\)/);
  const msgs = JSON.parse(readFileSync(file, 'utf8')).messages;
  assert.ok(msgs.filter((m) => m.role === 'assistant').every((m) => r.stdout.includes(m.content)), 'the kept replies were shown');
  assert.deepEqual(msgs[0], { role: 'system', content: 'Short stories' });
  assert.notEqual(msgs[1].content, turns[0], 'the first turn was dropped');
  assert.deepEqual(msgs.at(-2), { role: 'user', content: turns.at(-1) });
  assert.equal(msgs.at(-1).role, 'assistant', 'the last turn got a reply');
});

// Spawns kite chat with pipes; resolves helpers to await stdout/stderr text.
function liveChat(args) {
  const p = spawn(kiteBin(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const waiters = [];
  const check = () => {
    for (const w of [...waiters]) if (w.re.test(out[w.stream])) (waiters.splice(waiters.indexOf(w), 1), clearTimeout(w.timer), w.resolve());
  };
  p.stdout.on('data', (d) => ((out.stdout += d), check()));
  p.stderr.on('data', (d) => ((out.stderr += d), check()));
  const waitFor = (stream, re, ms = 30_000) =>
    new Promise((resolve, reject) => {
      const w = { stream, re, resolve, timer: setTimeout(() => reject(new Error(`timeout waiting for ${re} in ${stream}: ${out.stderr}`)), ms) };
      waiters.push(w);
      check();
    });
  const exited = new Promise((resolve) => p.on('close', (code, signal) => resolve({ code, signal })));
  return { p, out, waitFor, exited };
}

test('chat: Ctrl-C mid-reply stops the reply and keeps the conversation; a second Ctrl-C at the prompt leaves', async () => {
  requireModels();
  // a random-weight model rarely ends its text: the reply runs until -n, long enough to interrupt
  const model = join(modelsDir(), 'rand-llama-spm-f16.gguf');
  const file = join(tmp, 'interrupted.json');
  const c = liveChat(['chat', '-m', model, '--temp', '0', '-n', '3000', '-c', '512']);
  try {
    await interruptAndLeave(c, file);
  } finally {
    c.p.kill('SIGKILL');
  }
});

async function interruptAndLeave(c, file) {
  await c.waitFor('stderr', /Ctrl-C stops a reply/);
  c.p.stdin.write('Hello there\n');
  await c.waitFor('stdout', /\S{20}/); // the reply is streaming
  c.p.kill('SIGINT');
  await c.waitFor('stderr', /reply stopped \(Ctrl-C\); the conversation is kept/);
  c.p.stdin.write(`/save ${file}\n`);
  await c.waitFor('stderr', /saved 2 messages/);
  const saved = JSON.parse(readFileSync(file, 'utf8')).messages;
  assert.equal(saved[0].content, 'Hello there');
  assert.equal(saved[1].role, 'assistant');
  assert.equal(saved[1].content + '\n', c.out.stdout, 'the partial reply shown is the one kept');
  assert.doesNotMatch(c.out.stderr, /context is full/, 'the reply ended by Ctrl-C, not by a full context');
  // at the prompt: one Ctrl-C warns, the second leaves with exit 0
  await new Promise((resolve) => setTimeout(resolve, 200)); // back at the prompt
  c.p.kill('SIGINT');
  await c.waitFor('stderr', /Ctrl-C again/);
  c.p.kill('SIGINT');
  const { code, signal } = await c.exited;
  assert.equal(signal, null);
  assert.equal(code, 0);
}

test('chat on a terminal: "> " and "... " prompts, the same reply as through a pipe', () => {
  const piped = kite(chatArgs, { input: 'Hello \\\nthere\n' });
  // script(1) runs it on a pseudo-terminal (which echoes the typed lines first)
  const cmd = [kiteBin(), ...chatArgs].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { input: 'Hello \\\nthere\n/exit\n', timeout: T });
  assert.equal(r.status, 0);
  const screen = r.stdout.toString().replace(/\r\n/g, '\n');
  assert.ok(screen.includes('\n> ... ' + piped.stdout + '> '), JSON.stringify(screen));
});

test('chat: --verbose prints tokens/s after each reply', () => {
  const r = kite([...chatArgs, '--verbose'], { input: 'Hello\nHi\n' });
  assert.equal(r.status, 0);
  assert.equal([...r.stderr.matchAll(/reply tokens, [\d.]+ tok\/s/g)].length, 2);
});

// ---- models by URL ----------------------------------------------------------------------------

const MODEL_BYTES = readFileSync(STORIES);
const MODEL_SHA = createHash('sha256').update(MODEL_BYTES).digest('hex');
// t/split: the model as a split set of 3 (llama-gguf-split's layout), listed out of order
const SPLIT = ggufSplit(MODEL_BYTES, 3);
const splitName = (k) => `stories260K-Q8_0-0000${k}-of-00003.gguf`;
let server, base;
const requests = []; // [{ url, range, ifRange }]

// A local stand-in for a model hub: /REPO/resolve/main/FILE serves stories260K with Range
// support; the repository name picks a behaviour:
//   t/sidecar  a FILE.sha256 beside it         t/etag  the ETag is the SHA-256 (as Hugging Face's)
//   t/plain    no checksum published           t/bad   a .sha256 that does not match
//   t/drop     the first whole-file GET closes the connection half way (ETag: the SHA-256)
//   t/gated    401 without "Authorization: Bearer hf_secret"; the file redirects to localhost
//   t/change   as t/drop, but the ETag changes after the first GET (the file "changed")
//   t/slow     the body comes in 64 KiB pieces 100 ms apart
//   t/html     an HTML error page as 200 (a rate limit, a proxy's login page), later the file
//   t/noetag   as t/drop, with no ETag (nothing to tie a resume to)
//   t/split    a split set of 3 files (SPLIT), no checksum published; also as FILE?download=true
//   t/folders  that split set in a folder, Q8_0/ (and its first file in mmproj/)
// /api/models/REPO lists README.md, FILE and a Q8_0 name (the same bytes); t/split's and
// t/folders', their files. Revision v2 (/api/models/REPO/revision/v2, /REPO/resolve/v2/) is main's.
// /get?file=a.gguf and /get?file=b.gguf (one path, the query names the file) serve stories260K
// and a copy whose general.name differs, each with its SHA-256 as the ETag.
const MODEL_B = Buffer.from(MODEL_BYTES);
MODEL_B[MODEL_BYTES.indexOf('general.name') + 'general.name'.length + 4 + 8] ^= 0x20; // the name's first letter's case
const byQuery = { 'file=a.gguf': MODEL_BYTES, 'file=b.gguf': MODEL_B };
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
before(async () => {
  const dropped = new Set();
  server = createServer((req, res) => {
    requests.push({ url: req.url, host: req.headers.host, range: req.headers.range, ifRange: req.headers['if-range'], auth: req.headers.authorization });
    const q = req.url.match(/^\/get\?(.*)$/);
    if (q) {
      const body = byQuery[q[1]];
      if (!body) return res.writeHead(404).end('no such file');
      return res.writeHead(200, { etag: `"${sha256(body)}"`, 'content-length': body.length }).end(body);
    }
    if (req.url.includes('/t/gated')) { // a gated repository: the token, then a redirect to another host
      if (req.headers.authorization !== 'Bearer hf_secret') return res.writeHead(401).end('gated');
      if (!req.url.startsWith('/api/')) {
        const to = `http://localhost:${server.address().port}${req.url.replace('/t/gated/', '/t/plain/')}`;
        return res.writeHead(302, { location: to }).end();
      }
    }
    const api = req.url.match(/^\/api\/models\/(t\/\w+)(?:\/revision\/v2)?$/);
    if (api) {
      const names = api[1] === 't/split' ? ['README.md', splitName(2), splitName(1), splitName(3)]
        : api[1] === 't/folders' ? ['README.md', `mmproj/${splitName(1)}`, ...[2, 1, 3].map((k) => `Q8_0/${splitName(k)}`)]
        : ['README.md', 'stories260K.gguf', 'stories260K-Q8_0.gguf'];
      const body = JSON.stringify({ id: api[1], siblings: names.map((rfilename) => ({ rfilename })) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      return res.end(body);
    }
    const m = req.url.match(/^\/(t\/\w+)\/resolve\/(?:main|v2)\/((?:\w+\/)?[\w.-]+?)(\.sha256)?(\?download=true)?$/);
    if (!m || !m[2].endsWith('.gguf') || (m[4] && m[1] !== 't/split' && m[1] !== 't/sidecar')) return res.writeHead(404).end('not found');
    const mode = m[1].slice(2);
    const split = (mode === 'split' || mode === 'folders') && /^(?:Q8_0\/)?stories260K-Q8_0-0000([123])-of-00003$/.exec(m[2].slice(0, -5));
    if ((mode === 'split' || mode === 'folders') && !split) return res.writeHead(404).end('not found');
    if (mode === 'html' && !m[3] && !dropped.has(req.url)) {
      dropped.add(req.url);
      const page = '<!DOCTYPE html><html><body>Too many requests</body></html>';
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': page.length });
      return res.end(page);
    }
    if (m[3]) {
      if (mode === 'sidecar') return res.end(`${MODEL_SHA}  ${m[2]}\n`);
      if (mode === 'bad') return res.end('0'.repeat(64) + '\n');
      return res.writeHead(404).end('no sidecar');
    }
    const headers = { 'accept-ranges': 'bytes' };
    if (mode === 'etag' || mode === 'drop') headers.etag = `"${MODEL_SHA}"`;
    if (mode === 'change') headers.etag = dropped.has(req.url) ? '"v2"' : '"v1"';
    // If-Range (RFC 9110): a range only while the ETag is still the one given
    const stale = req.headers['if-range'] !== undefined && req.headers['if-range'] !== headers.etag;
    const range = stale ? null : req.headers.range?.match(/^bytes=(\d+)-$/);
    const start = range ? Number(range[1]) : 0;
    if (range && start >= MODEL_BYTES.length) return res.writeHead(416).end();
    const file = split ? SPLIT[Number(split[1]) - 1] : MODEL_BYTES;
    const body = file.subarray(start);
    headers['content-length'] = body.length;
    if (range) headers['content-range'] = `bytes ${start}-${file.length - 1}/${file.length}`;
    res.writeHead(range ? 206 : 200, headers);
    if (mode === 'slow') { // 64 KiB every 100 ms: about 2 s in all
      let at = 0;
      const tick = () => {
        if (at >= body.length) return res.end();
        res.write(body.subarray(at, (at += 65536)));
        setTimeout(tick, 100);
      };
      return tick();
    }
    if ((mode === 'drop' || mode === 'change' || mode === 'noetag') && !range && !dropped.has(req.url)) {
      dropped.add(req.url);
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.destroy(), 50));
      return;
    }
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => server?.close());

// kite run through the local hub, with a fresh cache unless one is given; async so the server
// (in this process) can answer.
function fetchRun(args, cache, client, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(kiteBin(), ['run', ...args, '-p', 'Once upon a time', '-n', '27', '--temp', '0', '--no-stats'], {
      env: { ...process.env, KITE_CACHE: cache, KITE_HF_ENDPOINT: base, KITE_HTTP_CLIENT: client, ...env },
    });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), T);
    p.on('close', (status) => (clearTimeout(timer), resolve({ status, stdout, stderr })));
  });
}

// Both HTTP clients: Kite's own (http://) and libcurl (https://; $KITE_HTTP_CLIENT=curl sends
// http:// through it too) when the build has it (kite --version says).
const hasCurl = /libcurl/.test(spawnSync(kiteBin(), ['--version']).stdout.toString());
for (const client of ['sockets', 'curl']) {
  if (client === 'curl' && !hasCurl) {
    test('download (curl): skipped, this build has no libcurl', { skip: 'built without libcurl' }, () => {});
    continue;
  }
  test(`download (${client}): hf:// with a .sha256 sidecar, then the cache answers without a request`, async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const r = await fetchRun(['-m', 'hf://t/sidecar/stories260K.gguf'], cache, client);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, REF);
    assert.match(r.stderr, new RegExp(`SHA-256 ${MODEL_SHA} matches the \\.sha256 file`));
    const cached = join(cache, 'hf/t/sidecar/stories260K.gguf');
    assert.ok(readFileSync(cached).equals(MODEL_BYTES));
    const n = requests.length;
    const again = await fetchRun(['-m', 'hf://t/sidecar/stories260K.gguf'], cache, client);
    assert.equal(again.status, 0);
    assert.equal(again.stdout, REF);
    assert.equal(requests.length, n, 'no request once cached');
    // by a URL with a query: the sidecar is the path's, with the same query after it
    const q = await fetchRun(['-m', `${base}/t/sidecar/resolve/main/stories260K.gguf?download=true`], cache, client);
    assert.equal(q.status, 0, q.stderr);
    assert.match(q.stderr, new RegExp(`SHA-256 ${MODEL_SHA} matches the \\.sha256 file`));
    assert.ok(requests.slice(n).some((x) => x.url === '/t/sidecar/resolve/main/stories260K.gguf.sha256?download=true'));
  });

  test(`download (${client}): http:// URL with a SHA-256 ETag; no checksum published: the size is checked and said so`, async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const e = await fetchRun(['-m', `${base}/t/etag/resolve/main/stories260K.gguf`], cache, client);
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stderr, /SHA-256 [0-9a-f]{64} matches the server's ETag/);
    const p = await fetchRun(['-m', 'hf://t/plain/stories260K.gguf'], cache, client);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stderr, /\d+ bytes as announced; the server publishes no SHA-256/);
  });

  test(`download (${client}): an HTML error page served as 200 is refused naming it, not cached; the next run downloads the file`, async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const url = `hf://t/html/${client}.gguf`;
    const r = await fetchRun(['-m', url], cache, client);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /resolve\/main\/\w+\.gguf: not a GGUF file \(\d+ bytes starting "<!DOCTYPE html><"\): the server may have sent an error page/);
    assert.deepEqual(readdirSync(join(cache, 'hf/t/html')), [`${client}.gguf.lock`], 'nothing kept');
    const again = await fetchRun(['-m', url], cache, client);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, REF);
  });

  test(`download (${client}): a wrong SHA-256 is refused and nothing is cached`, async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const r = await fetchRun(['-m', 'hf://t/bad/stories260K.gguf'], cache, client);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /SHA-256 mismatch/);
    assert.ok(!existsSync(join(cache, 'hf/t/bad/stories260K.gguf')));
    assert.ok(!existsSync(join(cache, 'hf/t/bad/stories260K.gguf.part')));
  });

  test(`download (${client}): a connection dropped half way is resumed with a Range request`, async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const first = await fetchRun(['-m', `hf://t/drop/${client}.gguf`], cache, client);
    assert.equal(first.status, 1);
    assert.match(first.stderr, /run again to resume/);
    const part = join(cache, `hf/t/drop/${client}.gguf.part`);
    const have = statSync(part).size;
    assert.ok(have > 0 && have < MODEL_BYTES.length, `${have} bytes kept`);
    const second = await fetchRun(['-m', `hf://t/drop/${client}.gguf`], cache, client);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout, REF);
    const resumed = requests.filter((q) => q.url.endsWith('.gguf')).at(-1);
    assert.equal(resumed.range, `bytes=${have}-`);
    assert.equal(resumed.ifRange, `"${MODEL_SHA}"`, 'If-Range: the ETag the partial bytes came with');
    assert.match(second.stderr, /resuming at/);
    assert.ok(readFileSync(join(cache, `hf/t/drop/${client}.gguf`)).equals(MODEL_BYTES));
  });

  test(`download (${client}): a partial download with no ETag starts over (a range could splice another version of the file on)`, async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const url = `hf://t/noetag/${client}.gguf`;
    const first = await fetchRun(['-m', url], cache, client);
    assert.equal(first.status, 1);
    assert.match(first.stderr, /download incomplete; the server sent no ETag to resume against, so the next run starts over/);
    assert.ok(!existsSync(join(cache, `hf/t/noetag/${client}.gguf.part`)), 'nothing kept');
    // a .part left by an older kite (or a server that stopped sending its ETag) is not resumed either
    writeFileSync(join(cache, `hf/t/noetag/${client}.gguf.part`), MODEL_BYTES.subarray(0, 1000));
    const r = await fetchRun(['-m', url], cache, client);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(requests.filter((q) => q.url.endsWith('.gguf')).at(-1).range, undefined, 'no Range request');
    assert.match(r.stderr, /no ETag to resume against .*; starting over/);
    assert.ok(readFileSync(join(cache, `hf/t/noetag/${client}.gguf`)).equals(MODEL_BYTES));
  });

  test(`download (${client}): a file changed on the server since the partial download starts over`, async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const url = `hf://t/change/${client}.gguf`;
    assert.equal((await fetchRun(['-m', url], cache, client)).status, 1);
    const r = await fetchRun(['-m', url], cache, client);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(requests.filter((q) => q.url.endsWith('.gguf')).at(-1).ifRange, '"v1"');
    assert.match(r.stderr, /the file changed on the server .*starting over/);
    assert.ok(readFileSync(join(cache, `hf/t/change/${client}.gguf`)).equals(MODEL_BYTES));
    assert.deepEqual(readdirSync(join(cache, 'hf/t/change')).sort(), [`${client}.gguf`, `${client}.gguf.lock`]);
  });

  test(`download (${client}): a gated repository: $HF_TOKEN goes to the hub only, not to the host it redirects to`, async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const denied = await fetchRun(['-hf', 't/gated'], cache, client, { HF_TOKEN: '' });
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /HTTP 401 \(a gated or private repository needs \$HF_TOKEN\)/);
    const n = requests.length;
    const r = await fetchRun(['-hf', 't/gated'], cache, client, { HF_TOKEN: 'hf_secret' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, REF);
    const seen = requests.slice(n);
    assert.ok(seen.some((q) => q.host === 'localhost:' + server.address().port && q.url === '/t/plain/resolve/main/stories260K-Q8_0.gguf'), 'redirected');
    for (const q of seen) assert.equal(q.auth, q.host.startsWith('127.0.0.1') ? 'Bearer hf_secret' : undefined, `${q.host}${q.url}`);
  });

  test(`download (${client}): two runs fetching the same file at once: one downloads, the other waits and uses it`, async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const url = `hf://t/slow/${client}.gguf`;
    const [a, b] = await Promise.all([fetchRun(['-m', url], cache, client), fetchRun(['-m', url], cache, client)]);
    for (const r of [a, b]) {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, REF);
    }
    assert.equal(requests.filter((q) => q.url === `/t/slow/resolve/main/${client}.gguf`).length, 1, 'one download');
    assert.match(a.stderr + b.stderr, /another kite process is downloading .*; waiting for it/);
  });

  test(`download (${client}): -hf OWNER/REPO[:QUANT] picks the file from the repository list, then from the cache`, async () => {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const q8 = await fetchRun(['-hf', 't/etag:q8_0'], cache, client);
    assert.equal(q8.status, 0, q8.stderr);
    assert.ok(existsSync(join(cache, 'hf/t/etag/stories260K-Q8_0.gguf')));
    const n = requests.length;
    const again = await fetchRun(['-hf', 't/etag:Q8_0'], cache, client);
    assert.equal(again.status, 0);
    assert.equal(requests.length, n, 'no request once cached');
    // no QUANT: Q4_K_M is not there, so the Q8_0 (llama.cpp's -hf's second choice, listed after
    // a plain .gguf); the choice is remembered
    const first = await fetchRun(['-hf', 't/sidecar'], cache, client);
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(readdirSync(join(cache, 'hf/t/sidecar')).filter((f) => f.endsWith('.gguf')), ['stories260K-Q8_0.gguf']);
    const m = requests.length;
    assert.equal((await fetchRun(['-hf', 't/sidecar'], cache, client)).status, 0);
    assert.equal(requests.length, m, 'no request once cached');
    const none = await fetchRun(['-hf', 't/etag:Q5_K_S'], cache, client);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no \.gguf file matching Q5_K_S/);
    for (const bad of [['-m', 'hf://t/../x/y.gguf'], ['-m', 'hf://t'], ['-hf', 'nope']]) {
      const r = await fetchRun(bad, cache, client);
      assert.equal(r.status, 1, bad.join(' '));
      assert.match(r.stderr, /bad model URL|expects OWNER\/REPO/);
    }
    const down = await fetchRun(['-m', 'http://127.0.0.1:1/x.gguf'], cache, client);
    assert.equal(down.status, 1);
    assert.match(down.stderr, /cannot connect to 127\.0\.0\.1:1|connect to 127\.0\.0\.1 port 1|Couldn't connect/);
  });
}

test('download: -hf OWNER/REPO:QUANT, -m hf://.../NAME-00001-of-00003.gguf and its URL with a query fetch the whole split set, then the cache answers', async () => {
  const files = [1, 2, 3].map(splitName);
  const cache = mkdtempSync(join(tmp, 'cache-'));
  const from = requests.length;
  const r = await fetchRun(['-hf', 't/split:q8_0'], cache, 'sockets');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, REF);
  // the listing gave file 2 first: file 1 is fetched, then the rest of the set
  const got = requests.slice(from).map((q) => q.url).filter((u) => !u.endsWith('.sha256'));
  assert.deepEqual(got, ['/api/models/t/split', ...files.map((f) => `/t/split/resolve/main/${f}`)]);
  files.forEach((f, i) => assert.ok(readFileSync(join(cache, 'hf/t/split', f)).equals(SPLIT[i]), f));
  const n = requests.length;
  const again = await fetchRun(['-hf', 't/split:Q8_0'], cache, 'sockets');
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, REF);
  assert.equal(requests.length, n, 'no request once cached');
  // by the first file's reference, into a fresh cache
  const other = mkdtempSync(join(tmp, 'cache-'));
  const m = await fetchRun(['-m', `hf://t/split/${files[0]}`], other, 'sockets');
  assert.equal(m.status, 0, m.stderr);
  assert.equal(m.stdout, REF);
  assert.deepEqual(readdirSync(join(other, 'hf/t/split')).filter((f) => f.endsWith('.gguf')).sort(), files);
  // by a URL with a query: the other files' URLs keep it, and their cache names share its prefix
  const third = mkdtempSync(join(tmp, 'cache-'));
  const at = requests.length;
  const q = await fetchRun(['-m', `${base}/t/split/resolve/main/${files[0]}?download=true`], third, 'sockets');
  assert.equal(q.status, 0, q.stderr);
  assert.equal(q.stdout, REF);
  assert.deepEqual(requests.slice(at).map((x) => x.url).filter((u) => !u.includes('.sha256')),
    files.map((f) => `/t/split/resolve/main/${f}?download=true`));
  const tag = `q${sha256('download=true').slice(0, 12)}-`;
  const dir = join(third, 'url', `127.0.0.1_${server.address().port}`, 't/split/resolve/main');
  files.forEach((f, i) => assert.ok(readFileSync(join(dir, tag + f)).equals(SPLIT[i]), f));
});

test('download: -hf OWNER/REPO@REV[:QUANT] and -m hf://OWNER/REPO@REV/FILE fetch that revision, cached apart from main', async () => {
  const cache = mkdtempSync(join(tmp, 'cache-'));
  const from = requests.length;
  const r = await fetchRun(['-hf', 't/etag@v2:q8_0'], cache, 'sockets');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, REF);
  assert.deepEqual(requests.slice(from).map((q) => q.url), ['/api/models/t/etag/revision/v2', '/t/etag/resolve/v2/stories260K-Q8_0.gguf']);
  assert.ok(existsSync(join(cache, 'hf/t/etag@v2/stories260K-Q8_0.gguf')));
  assert.ok(!existsSync(join(cache, 'hf/t/etag')), 'main has its own folder');
  const n = requests.length;
  assert.equal((await fetchRun(['-hf', 't/etag@v2:Q8_0'], cache, 'sockets')).status, 0);
  assert.equal(requests.length, n, 'no request once cached');
  // main is another revision: asked for again
  assert.equal((await fetchRun(['-hf', 't/etag:Q8_0'], cache, 'sockets')).status, 0);
  assert.deepEqual(requests.slice(n).map((q) => q.url), ['/api/models/t/etag', '/t/etag/resolve/main/stories260K-Q8_0.gguf']);
  const at = requests.length;
  const m = await fetchRun(['-m', 'hf://t/etag@v2/stories260K.gguf'], cache, 'sockets');
  assert.equal(m.status, 0, m.stderr);
  assert.deepEqual(requests.slice(at).map((q) => q.url), ['/t/etag/resolve/v2/stories260K.gguf']);
  assert.ok(existsSync(join(cache, 'hf/t/etag@v2/stories260K.gguf')));
  // a revision URLs and cache paths cannot take is refused before any request
  const before = requests.length;
  for (const bad of [['-hf', 't/etag@'], ['-hf', 't/etag@a%2Fb'], ['-hf', 't/etag@..:Q8_0'], ['-hf', 'o@x/etag'],
    ['-m', 'hf://t/etag@/stories260K.gguf'], ['-m', 'hf://t/etag@a=b/stories260K.gguf'], ['-m', 'hf://t@v2/etag/x.gguf']]) {
    const b = await fetchRun(bad, cache, 'sockets');
    assert.equal(b.status, 1, bad.join(' '));
    assert.match(b.stderr, /expects OWNER\/REPO\[@REV\]\[:QUANT\]|expected hf:\/\/OWNER\/REPO\[@REV\]\/FILE\.gguf/, bad.join(' '));
  }
  assert.equal(requests.length, before);
});

test('download: -hf picks a quant kept in a first-level folder (its split set whole), then from the cache', async () => {
  const files = [1, 2, 3].map((k) => `Q8_0/${splitName(k)}`);
  for (const quant of ['', ':q8_0']) {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const from = requests.length;
    const r = await fetchRun(['-hf', `t/folders${quant}`], cache, 'sockets');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, REF);
    // no top-level .gguf; never the mmproj folder's; file 2 listed first: file 1, then the set
    const got = requests.slice(from).map((q) => q.url).filter((u) => !u.endsWith('.sha256'));
    assert.deepEqual(got, ['/api/models/t/folders', ...files.map((f) => `/t/folders/resolve/main/${f}`)], quant);
    files.forEach((f, i) => assert.ok(readFileSync(join(cache, 'hf/t/folders', f)).equals(SPLIT[i]), f));
    const n = requests.length;
    // (with no QUANT and no choice noted, the cache only answers for Q4_K_M: the hub is asked)
    for (const again of quant ? ['t/folders:Q8_0'] : ['t/folders', 't/folders:Q8_0']) {
      const a = await fetchRun(['-hf', again], cache, 'sockets');
      assert.equal(a.status, 0, a.stderr);
      assert.equal(a.stdout, REF);
    }
    assert.deepEqual(requests.slice(n), [], 'no request once cached');
  }
});

test('download: with the hub unreachable, -hf picks among the cached files as llama.cpp\'s -hf does: Q4_K_M, else Q8_0, else the first .gguf', async () => {
  const cache = mkdtempSync(join(tmp, 'cache-'));
  const offline = { KITE_HF_ENDPOINT: 'http://127.0.0.1:1' }; // nothing listens: no answer at all
  // an earlier -hf OWNER/REPO:QUANT cached a split set kept in a folder; the bare form finds it
  assert.equal((await fetchRun(['-hf', 't/folders:q8_0'], cache, 'sockets')).status, 0);
  const n = requests.length;
  const bare = await fetchRun(['-hf', 't/folders'], cache, 'sockets', offline);
  assert.equal(bare.status, 0, bare.stderr);
  assert.equal(bare.stdout, REF);
  assert.match(bare.stderr, /kite: -hf t\/folders: http:\/\/127\.0\.0\.1:1\/api\/models\/t\/folders: .*; using the cached Q8_0\/stories260K-Q8_0-00001-of-00003\.gguf\n/);
  assert.equal(requests.length, n, 'no request reached the hub');
  assert.ok(!existsSync(join(cache, 'hf/t/folders/.default')), 'an offline pick is not remembered: online the list decides');
  // a cache holding a file with no quant in its name (first by name), an mmproj and a Q8_0
  const dir = join(cache, 'hf/t/etag');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  for (const f of ['a-model.gguf', 'mmproj-Q8_0.gguf', 'sub/m-Q8_0.gguf', 'z-Q8_0.gguf']) writeFileSync(join(dir, f), MODEL_BYTES);
  const picked = async (ref) => {
    const r = await fetchRun(['-hf', ref], cache, 'sockets', offline);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, REF);
    return /using the cached (\S+)\n/.exec(r.stderr)?.[1];
  };
  assert.equal(await picked('t/etag'), 'z-Q8_0.gguf', 'Q8_0 before any .gguf; top level before a folder; never mmproj');
  rmSync(join(dir, 'z-Q8_0.gguf'));
  assert.equal(await picked('t/etag'), 'sub/m-Q8_0.gguf', 'a Q8_0 in a folder before any .gguf');
  rmSync(join(dir, 'sub'), { recursive: true });
  assert.equal(await picked('t/etag'), 'a-model.gguf', 'else the first .gguf by name');
  // a QUANT the cache lacks fails naming the hub's error; a Q4_K_M cached is taken with no request
  const miss = await fetchRun(['-hf', 't/etag:Q5_K_S'], cache, 'sockets', offline);
  assert.equal(miss.status, 1);
  assert.match(miss.stderr, /kite: -hf t\/etag: http:\/\/127\.0\.0\.1:1\/api\/models\/t\/etag: .*connect/);
  writeFileSync(join(dir, 'b-Q4_K_M.gguf'), MODEL_BYTES);
  const q4 = await fetchRun(['-hf', 't/etag'], cache, 'sockets', offline);
  assert.equal(q4.status, 0, q4.stderr);
  assert.doesNotMatch(q4.stderr, /api\/models/, 'the hub is not asked');
  assert.equal(readFileSync(join(dir, '.default'), 'utf8'), 'b-Q4_K_M.gguf\n');
  // a hub that answers with an HTTP error is not unreachable: the cache is not used
  mkdirSync(join(cache, 'hf/t/gated'));
  writeFileSync(join(cache, 'hf/t/gated/a-Q8_0.gguf'), MODEL_BYTES);
  const denied = await fetchRun(['-hf', 't/gated'], cache, 'sockets', { HF_TOKEN: '' });
  assert.equal(denied.status, 1);
  assert.match(denied.stderr, /HTTP 401/);
});

test('download: an hf:// reference with a query or fragment is refused as the npm package does, before any request', async () => {
  const cache = mkdtempSync(join(tmp, 'cache-'));
  for (const [tail, what] of [['?x=1', "query \\('\\?'\\)"], ['#x', "fragment \\('#'\\)"]]) {
    const ref = `hf://t/sidecar/stories260K.gguf${tail}`;
    const n = requests.length;
    const r = await fetchRun(['-m', ref], cache, 'sockets');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`hf:// reference '${ref.replace(/[?.]/g, '\\$&')}' has a ${what}: an hf:// reference names a file`));
    assert.match(r.stderr, /give the https:\/\/huggingface\.co\/OWNER\/REPO\/resolve\/main\/\.\.\. URL to send one/);
    assert.equal(requests.length, n, 'no request');
  }
  assert.deepEqual(readdirSync(cache), [], 'nothing cached');
});

test('download: URLs that differ only in their query are cached apart; a query-less URL keeps its plain path', async () => {
  const cache = mkdtempSync(join(tmp, 'cache-'));
  const host = `127.0.0.1_${server.address().port}`;
  // the cache name: "q", the first 12 hex digits of the query's SHA-256, "-", the file's own name
  const cached = (query) => join(cache, 'url', host, `q${sha256(query).slice(0, 12)}-get`);
  for (const [query, bytes] of Object.entries(byQuery)) {
    const r = await fetchRun(['-m', `${base}/get?${query}`], cache, 'sockets');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, REF);
    assert.match(r.stderr, new RegExp(`SHA-256 ${sha256(bytes)} matches the server's ETag`), query);
    assert.equal(requests.at(-1).url, `/get?${query}`, `${query} was asked for, not taken from another query's file`);
    assert.ok(readFileSync(cached(query)).equals(bytes), query);
  }
  const n = requests.length;
  for (const again of ['file=a.gguf', 'file=b.gguf', 'file=a.gguf#part']) { // a fragment is never sent
    const r = await fetchRun(['-m', `${base}/get?${again}`], cache, 'sockets');
    assert.equal(r.status, 0, r.stderr);
  }
  assert.equal(requests.length, n, 'no request once cached');
  // a URL without a query (or with an empty one) is cached where earlier kites put it
  const plain = `${base}/t/etag/resolve/main/stories260K.gguf`;
  assert.equal((await fetchRun(['-m', plain], cache, 'sockets')).status, 0);
  assert.ok(readFileSync(join(cache, 'url', host, 't/etag/resolve/main/stories260K.gguf')).equals(MODEL_BYTES));
  const m = requests.length;
  assert.equal((await fetchRun(['-m', `${plain}?`], cache, 'sockets')).status, 0);
  assert.equal(requests.length, m, 'an empty query: the plain file, no request');
});

test('download: a URL\'s fragment is not sent to the server (an HTTP request target has none), by either client', async () => {
  for (const client of hasCurl ? ['sockets', 'curl'] : ['sockets']) {
    const cache = mkdtempSync(join(tmp, 'cache-'));
    const r = await fetchRun(['-m', `${base}/get?file=a.gguf#part`], cache, client);
    assert.equal(r.status, 0, `${client}: ${r.stderr}`);
    assert.equal(r.stdout, REF);
    assert.equal(requests.at(-1).url, '/get?file=a.gguf', client);
  }
});

// ---- help and the other commands ------------------------------------------------------------

test('kite --help lists every command; every command has --help', () => {
  const top = kite(['--help']);
  assert.equal(top.status, 0);
  const names = [...top.stdout.matchAll(/^  (\w+) /gm)].map((m) => m[1]);
  for (const c of ['info', 'quantize', 'run', 'chat', 'tokenize', 'bench', 'perplexity', 'serve', 'embed']) assert.ok(names.includes(c), c);
  const built = [...top.stdout.matchAll(/^  (\w+) (?!.*not in this build).*$/gm)].map((m) => m[1]);
  assert.ok(built.length >= 8, built.join(' '));
  for (const c of built) {
    const r = kite([c, '--help']);
    assert.equal(r.status, 0, `${c} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`usage: kite ${c}`), c);
  }
});

test('bench -o csv|json|md: one row per test; md columns aligned', () => {
  const args = ['bench', '-m', STORIES, '-p', '16', '-n', '8', '-r', '1'];
  const csv = kite([...args, '-o', 'csv']);
  assert.equal(csv.status, 0, csv.stderr);
  const rows = csv.stdout.trimEnd().split('\n').map((r) => r.split(','));
  assert.deepEqual(rows[0], ['model', 'size_bytes', 'isa', 'threads', 'test', 'n', 'tps', 'tps_sd', 'gbps']);
  assert.deepEqual(rows.slice(1).map((r) => [r.length, r[0], r[4], r[5]]), [[9, 'stories260K.gguf', 'pp16', '16'], [9, 'stories260K.gguf', 'tg8', '8']]);
  assert.equal(Number(rows[1][1]), Number(rows[2][1]));
  assert.ok(rows.slice(1).every((r) => Number(r[6]) > 0));
  const md = kite([...args, '-o', 'md']);
  const mdRows = md.stdout.trimEnd().split('\n');
  assert.equal(mdRows.length, 4);
  const bars = (r) => [...r].flatMap((ch, i) => (ch === '|' ? [i] : []));
  for (const r of mdRows) assert.deepEqual(bars(r), bars(mdRows[0]), 'md columns aligned');
  const json = kite([...args, '-o', 'json']);
  const objs = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(objs.map((o) => o.test), ['pp16', 'tg8']);
  assert.ok(objs.every((o) => o.cpu_tps > 0 && o.tps > 0), 'json rows carry tokens per CPU second');
  const bad = kite([...args, '-o', 'xml']);
  assert.equal(bad.status, 2);
  // -d: every test again after that many cached tokens, named as llama-bench names it
  const deep = kite([...args, '-d', '0,256', '-t', '1', '-o', 'json']);
  assert.equal(deep.status, 0, deep.stderr);
  const deepRows = deep.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(deepRows.map((o) => [o.test, o.depth]), [['pp16', 0], ['tg8', 0], ['pp16 @ d256', 256], ['tg8 @ d256', 256]]);
  // one thread: CPU time is at most the clock's, so cpu_tps is not far below tps unless it counts
  // the untimed 256-token fill
  for (const o of deepRows) assert.ok(o.cpu_tps > 0.7 * o.tps, `${o.test}: cpu_tps ${o.cpu_tps}, tps ${o.tps}`);
  const deepMd = kite([...args, '-d', '4', '-o', 'md']).stdout.trimEnd().split('\n');
  assert.equal(deepMd.length, 4);
  for (const r of deepMd) assert.deepEqual(bars(r), bars(deepMd[0]), 'md columns aligned at depth');
  for (const d of ['x', '-1', '1,,2', '']) assert.equal(kite([...args, '-d', d]).status, 2, `-d '${d}' refused`);
});

test('bench: -p 0 -n 0 is refused (nothing to measure); a test past the training context warns in the flags given', () => {
  const none = kite(['bench', '-m', STORIES, '-p', '0', '-n', '0']);
  assert.equal(none.status, 2);
  assert.equal(none.stdout, '', 'no table header');
  assert.match(none.stderr, /^kite bench: -p 0 and -n 0 leave nothing to measure/);
  // stories260K was trained on 2048 tokens; the warning names -p / -n / -d, never a -c not given
  const one = ['-m', STORIES, '-r', '1', '-t', '1', '-o', 'json'];
  const long = kite(['bench', ...one, '-p', '2100', '-n', '0']);
  assert.equal(long.status, 0, long.stderr);
  assert.match(long.stderr, /^kite bench: warning: -p 2100 is more than the 2048 tokens the model was trained on/);
  assert.doesNotMatch(long.stderr, /-c /);
  const deep = kite(['bench', ...one, '-p', '8', '-n', '64', '-d', '1990']);
  assert.equal(deep.status, 0, deep.stderr);
  assert.match(deep.stderr, /^kite bench: warning: -d 1990 \+ -n 64 is more than the 2048 tokens/);
  const fits = kite(['bench', ...one, '-p', '8', '-n', '8']);
  assert.equal(fits.status, 0, fits.stderr);
  assert.equal(fits.stderr, '');
});

test('quantize: progress in MB/s on a terminal (stderr a TTY) only', () => {
  requireModels();
  const out = join(tmp, 'q8.gguf');
  const src = join(modelsDir(), 'rand-llama-spm-f16.gguf');
  const piped = kite(['quantize', src, out, 'Q8_0']);
  assert.equal(piped.status, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, /\r/, 'no progress line when stderr is not a terminal');
  rmSync(out);
  // script(1) gives the command a pseudo-terminal
  const cmd = [kiteBin(), 'quantize', src, out, 'Q8_0'].map((a) => `'${a}'`).join(' ');
  const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { timeout: T });
  assert.equal(tty.status, 0, tty.stdout.toString());
  assert.match(tty.stdout.toString(), /\r\x1b\[K.*\d+\.\d%\s+[\d.]+ MB\/s/);
});
