// option_error.mjs - the package's answer to a bad option, as assert.throws / assert.rejects
// check it: isOptionError(name) accepts a KiteError with status 'invalid input' whose message
// names the option.
import assert from 'node:assert/strict';
import { KiteError } from '../../web/index.js';

export const isOptionError = (name) => (e) => {
  assert.ok(e instanceof KiteError, `${name}: KiteError (got ${e?.constructor?.name}: ${e?.message})`);
  assert.equal(e.status, 'invalid input', name);
  assert.ok(e.message.includes(name), `the message names ${name}: ${e.message}`);
  return true;
};
