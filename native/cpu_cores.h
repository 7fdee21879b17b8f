// cpu_cores.h - how many threads the model commands run when -t is not given: the physical
// cores this process may use, as llama.cpp's default (its tools count physical cores).
#ifndef KITE_NATIVE_CPU_CORES_H
#define KITE_NATIVE_CPU_CORES_H

// The default thread count: on Linux the physical cores (SMT siblings counted once, from
// sysfs; on a hybrid Intel CPU its performance cores only) among the CPUs in this process's
// affinity mask, capped by a cgroup CPU quota (v2 cpu.max or v1 CFS, as a container's --cpus
// sets it, rounded up); elsewhere the online CPUs; 1 in builds without threads (WASI). Always
// 1..512. Computed once, then cached.
int cli_default_threads(void);

// The count behind it, from files under sys_root (sysfs: sys_root/devices/system/cpu/cpuN/
// topology/thread_siblings_list, one string per core shared by its siblings; a CPU without
// that file counts as a core of its own; where sys_root/devices/cpu_core/cpus exists, a hybrid
// CPU's performance-core list, only the CPUs it names) for the n CPU ids in cpus, capped by
// cpu_max (the text of a cgroup v2 cpu.max file, "QUOTA PERIOD" or "max PERIOD"; NULL: no
// quota). At least 1.
int cli_count_cores(const char *sys_root, const int *cpus, int n, const char *cpu_max);

#endif
