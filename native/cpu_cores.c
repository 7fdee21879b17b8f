// cpu_cores.c - the model commands' default thread count (see cpu_cores.h).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // sched_getaffinity, CPU_ISSET
#endif
#include "cpu_cores.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif

enum { MAX_THREADS = 512, MAX_CPUS = 4096 };

// The first line of path (at most cap - 1 bytes, no line break) into buf; false if unreadable.
static int read_line(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    const int ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (ok) buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

// The CPUs a cgroup v2 cpu.max allows ("QUOTA PERIOD", rounded up), or 0 for no limit ("max",
// or text that is not a quota).
static int quota_cpus(const char *cpu_max) {
    long long quota, period;
    if (!cpu_max || sscanf(cpu_max, "%lld %lld", &quota, &period) != 2 || quota <= 0 || period <= 0) return 0;
    const long long n = (quota + period - 1) / period;
    return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

// Whether cpu is in a cpulist ("0-5,8,10-11", the kernel's list format).
static int in_cpulist(const char *list, int cpu) {
    const char *p = list;
    while (*p) {
        char *end;
        const long a = strtol(p, &end, 10);
        if (end == p) return 0;
        long b = a;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p) return 0;
        }
        if (cpu >= a && cpu <= b) return 1;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',') break;
    }
    return 0;
}

int cli_count_cores(const char *sys_root, const int *cpus, int n, const char *cpu_max) {
    // a hybrid Intel CPU lists its performance cores' CPUs in cpu_core/cpus: as llama.cpp,
    // only those count (the efficiency cores would slow every evenly split step)
    char pcores[1024], path[PATH_MAX];
    snprintf(path, sizeof path, "%s/devices/cpu_core/cpus", sys_root);
    const int hybrid = read_line(path, pcores, sizeof pcores) && pcores[0];
    // each CPU's sibling list names its core: count the distinct ones
    char(*seen)[64] = calloc(n > 0 ? (size_t)n : 1, sizeof *seen);
    int cores = seen ? 0 : n; // no memory for the keys: every CPU a core
    for (int i = 0; seen && i < n; i++) {
        if (hybrid && !in_cpulist(pcores, cpus[i])) continue;
        char key[64];
        snprintf(path, sizeof path, "%s/devices/system/cpu/cpu%d/topology/thread_siblings_list", sys_root, cpus[i]);
        if (!read_line(path, key, sizeof key) || !key[0]) snprintf(key, sizeof key, "cpu%d", cpus[i]);
        int j = 0;
        while (j < cores && strcmp(seen[j], key) != 0) j++;
        if (j == cores) memcpy(seen[cores++], key, sizeof key);
    }
    free(seen);
    const int quota = quota_cpus(cpu_max);
    if (quota > 0 && cores > quota) cores = quota;
    return cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : cores;
}

#if defined(__linux__)
// cgroup v1's quota (cpu.cfs_quota_us and cpu.cfs_period_us of the cpu controller as a
// container sees it) as cpu.max text into buf; false when there is none (quota -1).
static int cgroup_v1_cpu_max(char *buf, size_t cap) {
    static const char *const dirs[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[128], quota[32], period[32];
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dirs[i]);
        if (!read_line(path, quota, sizeof quota)) continue;
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dirs[i]);
        if (!read_line(path, period, sizeof period)) continue;
        snprintf(buf, cap, "%s %s", quota, period);
        return quota_cpus(buf) > 0;
    }
    return 0;
}

// The tightest cpu.max on the way from this process's cgroup (v2: /proc/self/cgroup's "0::PATH")
// up to the root, else cgroup v1's quota, into buf; false when none limits it.
static int cgroup_cpu_max(char *buf, size_t cap) {
    char line[PATH_MAX], path[PATH_MAX + 32];
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return 0;
    char *dir = NULL;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = '\0';
            dir = line + 3;
            break;
        }
    fclose(f);
    if (!dir) return cgroup_v1_cpu_max(buf, cap);
    int best = 0;
    for (;;) {
        char text[64];
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", strcmp(dir, "/") ? dir : "");
        const int q = read_line(path, text, sizeof text) ? quota_cpus(text) : 0;
        if (q > 0 && (best == 0 || q < best)) {
            best = q;
            snprintf(buf, cap, "%s", text);
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) break;
        *slash = '\0';
    }
    return best > 0 || cgroup_v1_cpu_max(buf, cap);
}
#endif

int cli_default_threads(void) {
    static int cached;
    if (cached) return cached;
    int n = 1;
#if defined(__wasi__)
    n = 1;
#elif defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int cpus[CPU_SETSIZE < MAX_CPUS ? CPU_SETSIZE : MAX_CPUS], k = 0;
        for (int c = 0; c < (int)(sizeof cpus / sizeof cpus[0]); c++)
            if (CPU_ISSET(c, &set)) cpus[k++] = c;
        char cpu_max[64];
        n = cli_count_cores("/sys", cpus, k, cgroup_cpu_max(cpu_max, sizeof cpu_max) ? cpu_max : NULL);
    } else {
        const long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
    }
#else
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    n = online > 0 ? (int)online : 1;
#endif
    cached = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
    return cached;
}
