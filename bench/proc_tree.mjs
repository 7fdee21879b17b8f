// proc_tree.mjs - the processes below a process, from /proc (Linux): what the browser benchmarks
// use to find Chromium's processes (their CPU time, their niceness).
import { readdirSync, readFileSync } from 'node:fs';

// [{ pid, cmdline }] of every process below rootPid (children, their children, ...).
export function descendants(rootPid) {
  const kids = new Map(); // ppid -> [pid]
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (pid) => {
    for (const k of kids.get(pid) ?? []) {
      let cmdline = '';
      try { cmdline = readFileSync(`/proc/${k}/cmdline`, 'utf8'); } catch { /* gone */ }
      out.push({ pid: k, cmdline });
      walk(k);
    }
  };
  walk(rootPid);
  return out;
}

// The thread ids of process pid ([] once it is gone).
export function threads(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}
