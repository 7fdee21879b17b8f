// worker/port.js - the worker's side of the message channel: the same { post, on } over a
// browser Worker's self and Node's worker_threads parentPort.

// True in Node (worker_threads), false in a browser Worker.
export const isNode = typeof process === 'object' && !!process.versions?.node && typeof window === 'undefined';

// port.post(msg, transfer) sends a message to the client (transfer: ArrayBuffers to move);
// port.on(fn) calls fn(msg) for each message from the client.
export let port;
if (isNode) {
  const { parentPort } = await import('node:worker_threads');
  port = { post: (m, t) => parentPort.postMessage(m, t || []), on: (fn) => parentPort.on('message', fn) };
} else {
  port = { post: (m, t) => self.postMessage(m, t || []), on: (fn) => self.addEventListener('message', (e) => fn(e.data)) };
}
