// chromium_cpu.mjs - CPU time of Chromium's GPU process (benchmarks, Linux only): where the
// browser has no GPU, WebGPU runs on SwiftShader, a software Vulkan inside that process, so its
// CPU time is the work the kernels cost, much steadier than wall time on a busy machine (a
// thread waiting for a core counts in wall time, not here).
import { readdirSync, readFileSync } from 'node:fs';

// The pids of the running chromium GPU processes ([] where /proc is missing).
export function gpuProcessPids() {
  const out = [];
  let dirs = [];
  try {
    dirs = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const d of dirs) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('--type=gpu-process')) out.push(d);
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
