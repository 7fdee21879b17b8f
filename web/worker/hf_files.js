// worker/hf_files.js - the checkpoint folder kw_convert reads (wasm/exports_convert.c's
// Module.kiteHf): each call becomes a synchronous request to the page (sync_bridge.js), which
// holds the Files, the Node folder or the base URL (hf_folder.js).
import { syncCaller } from '../sync_bridge.js';
import { M, abi, current, aborted } from './state.js';
import { heap } from './heap.js';
import { port } from './port.js';

const OPS = ['exists', 'size', 'read'];

// The Module.kiteHf callback for the running request: (op, name, offset, dst, n, err, errCap)
// -> op's number, or -(status code) with the message written to err.
export function hfCallback() {
  const { id } = current;
  const call = syncCaller((m) => port.post({ id, type: 'hf', ...m }));
  return (op, name, offset, dst, n, err, errCap) => {
    try {
      if (aborted()) throw Object.assign(new Error('aborted'), { status: 'aborted' });
      const { value, bytes } = call({ op: OPS[op], name, offset, length: n }, op === 2 ? n : 0);
      if (op === 2) heap().set(bytes, dst);
      return value;
    } catch (e) {
      M.stringToUTF8(e.message, err, errCap);
      const code = Object.entries(abi.statusNames).find(([, s]) => s === e.status)?.[0];
      return -(Number(code ?? abi.status.KITE_ERR_IO));
    }
  };
}
