// errors.js - the one error class of the package (see index.d.ts).

// Error thrown for every failure the C core or the worker reports; .status is the core's
// status name ("invalid input", "unsupported", "aborted", ...) when it came from C, and the same
// names for what the JS side finds itself ('i/o error' for a read or download that failed).
export class KiteError extends Error {
  constructor(message, status) {
    super(message);
    this.name = status === 'aborted' ? 'AbortError' : 'KiteError';
    if (status) this.status = status;
  }
}

// A plain Error carrying a KiteError status, for the failures the JS side finds itself (the
// worker posts .status with the message): 'i/o error' for a read or download that failed,
// 'invalid input' for a source that is not a model.
export function failure(message, status) {
  return Object.assign(new Error(message), { status });
}
