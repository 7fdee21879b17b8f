// range_server.mjs - an intercept for web/serve.mjs (tests) that serves one file's bytes under
// several behaviours, logs every request and counts the responses in flight:
//   /r/NAME      ETag, Accept-Ranges: bytes; Range (bytes=A-B or bytes=A-) answered 206, with
//                If-Range honoured (a different validator gets the whole file)
//   /norange/NAME  no Accept-Ranges, Range ignored: always the whole file (200)
//   /liar/NAME   says Accept-Ranges: bytes, but answers every request with the whole file
//   /hold/NAME   as /r/, but a response whose range starts at or after holdFrom sends its
//                headers and then nothing until release() (a download to abort)
//   /whole206/NAME  as /r/, but a request without Range gets 206 with bytes 0-(size-1)/size
//   /half206/NAME   as /r/, but a request without Range gets 206 with only the first half
//   /changing/NAME  as /r/ for the first request; every later one sees the file `changed`
//                (same size, ETag `changedEtag`) and If-Range is ignored, as by a server that
//                does not implement it
// Bodies go out in 256 KiB pieces a few ms apart, so parallel requests overlap in time. etag:
// null sends none (and no Last-Modified: nothing names the file's version).

const PIECE = 256 * 1024;

export function rangeRoutes(bytes, { etag = '"kite-test-1"', holdFrom = Infinity, pieceDelayMs = 3, changed = null,
  changedEtag = '"kite-test-2"' } = {}) {
  const log = [];
  const open = new Set();
  let inFlight = 0;
  let maxInFlight = 0;
  let rangedInFlight = 0; // ranged responses only: a cancelled full response may still be
  let maxRangedInFlight = 0; // draining on the server after the client moved on
  let held = [];
  const size = bytes.length;
  const hold = { from: holdFrom };

  const send = (res, body, wait, ranged = false) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    if (ranged) maxRangedInFlight = Math.max(maxRangedInFlight, ++rangedInFlight);
    open.add(res);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      if (ranged) rangedInFlight--;
      open.delete(res);
    };
    res.on('close', finish);
    let off = 0;
    // A response counts as in flight until its last byte is handed to the socket (a client can
    // only have it after that, so its next request cannot look like an overlap).
    const next = () => {
      if (res.destroyed) return finish();
      if (off >= body.length) return res.end(finish);
      const piece = body.subarray(off, off + PIECE);
      off += piece.length;
      res.write(piece, () => setTimeout(next, pieceDelayMs));
      if (off >= body.length) finish();
    };
    if (wait) held.push(next);
    else next();
  };

  const intercept = async (req, res, headers) => {
    const m = /^\/(r|norange|liar|hold|whole206|half206|changing)\/[\w.-]+$/.exec(new URL(req.url, 'http://x').pathname);
    if (!m) return false;
    const kind = m[1];
    const range = req.headers.range;
    log.push({ kind, range, ifRange: req.headers['if-range'], t: Date.now(), inFlight, rangedInFlight });
    const later = kind === 'changing' && log.filter((x) => x.kind === 'changing').length > 1;
    const body = later ? changed : bytes;
    const base = { ...headers, 'content-type': 'application/octet-stream' };
    if (kind !== 'norange') {
      if (etag) base.etag = later ? changedEtag : etag;
      base['accept-ranges'] = 'bytes';
    }
    if (!range && (kind === 'whole206' || kind === 'half206')) {
      const n = kind === 'whole206' ? size : size >> 1;
      res.writeHead(206, { ...base, 'content-length': n, 'content-range': `bytes 0-${n - 1}/${size}` });
      send(res, bytes.subarray(0, n), false, true);
      return true;
    }
    const r = range && /^bytes=(\d+)-(\d*)$/.exec(range);
    const ifRangeOk = req.headers['if-range'] === undefined || req.headers['if-range'] === etag || kind === 'changing';
    if (kind !== 'norange' && kind !== 'liar' && r && ifRangeOk) {
      const start = Number(r[1]);
      const last = r[2] === '' ? size - 1 : Math.min(size - 1, Number(r[2]));
      if (start >= size || last < start) {
        res.writeHead(416, { ...base, 'content-range': `bytes */${size}` });
        res.end();
        return true;
      }
      res.writeHead(206, { ...base, 'content-length': last - start + 1, 'content-range': `bytes ${start}-${last}/${size}` });
      send(res, body.subarray(start, last + 1), kind === 'hold' && start >= hold.from, true);
      return true;
    }
    res.writeHead(200, { ...base, 'content-length': size });
    send(res, body, false);
    return true;
  };

  return {
    intercept,
    log,
    open,
    get maxInFlight() {
      return maxInFlight;
    },
    get maxRangedInFlight() {
      return maxRangedInFlight;
    },
    // Holds /hold/ ranges from this offset on (Infinity: none).
    holdFrom(n) {
      hold.from = n;
    },
    resetMax() {
      maxInFlight = inFlight;
    },
    // Lets every held response send its body.
    release() {
      const h = held;
      held = [];
      h.forEach((next) => next());
    },
    // Ends every open response (the server side of a cut connection).
    destroyAll() {
      for (const res of open) res.destroy();
    },
  };
}

// The ranges a log asked for, as [start, last] pairs (a request without Range: [0, size - 1]).
export function requestedRanges(log, size) {
  return log.map((x) => {
    const r = x.range && /^bytes=(\d+)-(\d*)$/.exec(x.range);
    return r ? [Number(r[1]), r[2] === '' ? size - 1 : Number(r[2])] : [0, size - 1];
  });
}
