// threads.js - the demo's default thread count, measured rather than taken from
// navigator.hardwareConcurrency (which counts logical cores, shared with every other tab and
// program, and says nothing about how many run at full speed): k Web Workers spin for a fixed
// time and count their work, for k = 1, 2, 4, ... up to the core count; the default is the
// smallest k whose total is within 15% of the best total seen (more threads than that only
// contend for the same cores).

const SPIN = `onmessage = (e) => {
  const end = performance.now() + e.data;
  let n = 0, x = 1;
  while (performance.now() < end) {
    for (let i = 0; i < 5000; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
    n++;
  }
  postMessage(n + (x & 0));
};`;

// Resolves to { threads, max, totals: { k: work units } } within about a second.
export async function measureThreads(max, spinMs = 80) {
  const url = URL.createObjectURL(new Blob([SPIN], { type: 'text/javascript' }));
  const workers = Array.from({ length: max }, () => new Worker(url));
  const run = (k, ms) => Promise.all(workers.slice(0, k).map((w) => new Promise((ok) => {
    w.onmessage = (e) => ok(e.data);
    w.postMessage(ms);
  })));
  try {
    await run(max, 20); // every worker started and warm
    const totals = {};
    for (let k = 1; ; k = Math.min(max, k * 2)) {
      totals[k] = (await run(k, spinMs)).reduce((a, b) => a + b, 0);
      if (k === max) break;
    }
    const best = Math.max(...Object.values(totals));
    const threads = Number(Object.keys(totals).find((k) => totals[k] >= 0.85 * best));
    return { threads, max, totals };
  } finally {
    workers.forEach((w) => w.terminate());
    URL.revokeObjectURL(url);
  }
}
