// chromium_cpu.mjs - CPU time of Chromium's GPU process (benchmarks, Linux only): where the
// browser has no GPU, WebGPU runs on SwiftShader, a software Vulkan inside that process, so its
// CPU time is the work the kernels cost, much steadier than wall time on a busy machine (a
// thread waiting for a core counts in wall time, not here).
import { readdirSync, readFileSync } from 'node:fs';

// The pids of the chromium GPU processes this node process started (its descendants: other
// programs' browsers on the machine are left out); [] where /proc is missing.
export function gpuProcessPids(root = process.pid) {
  let dirs = [];
  try {
    dirs = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  const parent = new Map();
  for (const d of dirs) {
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(d, st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {}
  }
  const mine = (d) => {
    for (let p = d, hops = 0; p && p !== '0' && hops < 64; p = parent.get(p), hops++) if (p === String(root)) return true;
    return false;
  };
  const out = [];
  for (const d of dirs) {
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('--type=gpu-process') && mine(d)) out.push(d);
    } catch {}
  }
  return out;
}

// Milliseconds of CPU the threads of these processes have run so far (schedstat: ns), or
// NaN where /proc says nothing. Threads that ended between two readings drop out of the sum.
export function cpuMs(pids) {
  let ns = 0, seen = false;
  for (const p of pids) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        ns += Number(readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
        seen = true;
      } catch {}
    }
  }
  return seen ? ns / 1e6 : NaN;
}
