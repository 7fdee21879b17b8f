// errors.js - the one error class of the package (see index.d.ts).

// Error thrown for every failure the C core or the worker reports; .status is the core's
// status name ("invalid input", "unsupported", "aborted", ...) when it came from C.
export class KiteError extends Error {
  constructor(message, status) {
    super(message);
    this.name = status === 'aborted' ? 'AbortError' : 'KiteError';
    if (status) this.status = status;
  }
}
