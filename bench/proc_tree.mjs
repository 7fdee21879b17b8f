// proc_tree.mjs - the processes below a process, from /proc (Linux): what the browser benchmarks
// use to find Chromium's processes (their CPU time, their niceness).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

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

// Gives the scheduler autogroup of process pid (its session's, with CONFIG_SCHED_AUTOGROUP) the
// niceness nice, where it has another: niceness alone orders threads within one autogroup only,
// and Chromium starts its processes in a session of their own, so under `nice -n -19` its
// renderers still got an equal share with every other busy session (a 2-thread decode ran
// slower than a 1-thread one on a shared host). Best effort: no-op without autogroups or rights.
export function autogroupNice(pid, nice) {
  try {
    const m = /nice\s+(-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'));
    if (m && Number(m[1]) !== nice) writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch { /* no autogroups, gone, or not allowed */ }
}
