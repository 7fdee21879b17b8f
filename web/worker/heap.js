// worker/heap.js - the access layer to the wasm heap and the C ABI of wasm/exports*.c:
// pointers, strings, parameter blocks (abi.h) by their C field names, and C status codes
// turned into errors. Every number (status, offset, size) comes from the ABI table.
import { M, ptrSize, scratch, abi } from './state.js';

// The error of a failed C call (or of a request the worker refuses); .status is the core's
// status name ("invalid input", "unsupported", "aborted", ...).
export class CError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

// A pointer returned by an export as an address: wasm32 returns i32, negative from 2 GiB up.
export const addr = (p) => (p < 0 ? p + 2 ** 32 : p);
// Pointers stored in the heap (out-parameters, pointer arrays): ptrAt(p) reads the pointer or
// size_t at p, setPtr(p, v) writes v there, at the loaded build's width.
export const ptrAt = (p) => {
  const dv = new DataView(heap().buffer);
  return ptrSize === 8 ? Number(dv.getBigUint64(p, true)) : dv.getUint32(p, true);
};
export const setPtr = (p, v) => {
  const dv = new DataView(heap().buffer);
  if (ptrSize === 8) dv.setBigUint64(p, BigInt(v), true);
  else dv.setUint32(p, v, true);
};

// The whole heap as bytes (a new view each call: the memory may have grown).
export const heap = () => {
  const buf = M.wasmMemory ? M.wasmMemory.buffer : M.HEAPU8.buffer;
  return new Uint8Array(buf);
};

// Returns on KITE_OK; else throws a CError with C's last error message (after prefix, e.g.
// 'kite: chat: ') and the status's name.
export function check(status, prefix = '') {
  if (status === abi.status.KITE_OK) return;
  throw new CError(prefix + (M.UTF8ToString(M._kw_last_error()) || 'unknown error'), abi.statusNames[status] ?? `status ${status}`);
}

// The ABI table (exports_abi.c) parsed: read once per instance, before any call that uses a
// number from it (needs state's M and scratch set; the caller stores it with setAbi).
export function readAbi() {
  // Before the table there is no status code to compare with: *scratch stays NULL on failure.
  setPtr(scratch, 0);
  M._kw_abi_json(scratch);
  const p = ptrAt(scratch);
  if (!p) throw new CError('cannot read the wasm ABI table (out of wasm memory?)', 'out of memory');
  return JSON.parse(takeString(p));
}

// A parameter block (abi.h) in the heap: alloc(name) gives a zeroed one; set/get move its
// fields by the C names, at the offsets and types the table gives.
export function struct(name) {
  const s = abi.structs[name];
  const ptr = addr(M._kw_alloc(s.size));
  if (!ptr) check(abi.status.KITE_ERR_NOMEM);
  heap().fill(0, ptr, ptr + s.size);
  const field = (f) => {
    const d = s.fields[f];
    if (!d) throw new Error(`${name} has no field ${f}`);
    return d;
  };
  return {
    ptr,
    set(values) {
      const dv = new DataView(heap().buffer);
      for (const [f, v] of Object.entries(values)) {
        if (v === undefined) continue;
        const { offset, type } = field(f);
        if (type === 'i32') dv.setInt32(ptr + offset, v, true);
        else if (type === 'u32') dv.setUint32(ptr + offset, v, true);
        else if (type === 'u64') dv.setBigUint64(ptr + offset, BigInt(v), true);
        else if (type === 'f32') dv.setFloat32(ptr + offset, v, true);
        else dv.setFloat64(ptr + offset, v, true);
      }
      return this;
    },
    get(f) {
      const dv = new DataView(heap().buffer);
      const { offset, type } = field(f);
      if (type === 'i32') return dv.getInt32(ptr + offset, true);
      if (type === 'u32') return dv.getUint32(ptr + offset, true);
      if (type === 'u64') return Number(dv.getBigUint64(ptr + offset, true));
      if (type === 'f32') return dv.getFloat32(ptr + offset, true);
      return dv.getFloat64(ptr + offset, true);
    },
    free() { M._kw_free(ptr); },
  };
}

// A malloc'd NUL-terminated UTF-8 copy of s in the heap (the caller frees it with _kw_free).
export function cstr(s) {
  const n = M.lengthBytesUTF8(s) + 1;
  const p = addr(M._kw_alloc(n));
  if (!p) check(abi.status.KITE_ERR_NOMEM);
  M.stringToUTF8(s, p, n);
  return p;
}

// Takes a malloc'd NUL-terminated string out of the heap and frees it.
export function takeString(p) {
  p >>>= 0;
  try { return M.UTF8ToString(p); } finally { M._kw_free(p); }
}

// A C call that sets *scratch to a malloc'd JSON string: its parsed value.
export function json(call) {
  check(call(scratch));
  return JSON.parse(takeString(ptrAt(scratch)));
}
