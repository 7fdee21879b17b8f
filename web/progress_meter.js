// progress_meter.js - the speed of a stream of progress reports: bytes per second over the
// last few seconds, and the time left at that speed. Used by index.js for every onProgress.

const WINDOW_MS = 3000;

// A meter: call it with each report ({ stage, loaded, total }); it returns { bytesPerSecond,
// secondsLeft }: the rate over the last WINDOW_MS (0 until two reports of a stage are ~100 ms
// apart) and total - loaded at that rate (null while the total or the rate is unknown). A new
// stage starts a new measurement. now(): milliseconds (tests pass their own clock).
export function progressMeter(now = () => performance.now()) {
  let stage = null;
  let samples = [];
  return ({ stage: s, loaded, total }) => {
    const t = now();
    if (s !== stage || (samples.length > 0 && loaded < samples[samples.length - 1].loaded)) {
      stage = s;
      samples = [];
    }
    samples.push({ t, loaded });
    while (samples.length > 2 && t - samples[1].t >= WINDOW_MS) samples.shift();
    const first = samples[0];
    const dt = (t - first.t) / 1000;
    const bytesPerSecond = dt >= 0.1 ? (loaded - first.loaded) / dt : 0;
    const secondsLeft = total > 0 && bytesPerSecond > 0 ? Math.max(0, total - loaded) / bytesPerSecond : null;
    return { bytesPerSecond, secondsLeft };
  };
}
