// test_cpu_cores.c - the CLI's default thread count (native/cpu_cores.c) on made-up sysfs trees
// in the kernel's formats (Documentation/ABI/stable/sysfs-devices-system-cpu: a CPU's
// topology/thread_siblings_list lists the CPUs of its core, "0,2" or "0-1"; cgroup v2's cpu.max
// is "QUOTA PERIOD" or "max PERIOD"; a hybrid CPU's devices/cpu_core/cpus is a cpulist), and
// on this machine within its online CPUs.
#include "../../native/cpu_cores.c" // first: it defines _GNU_SOURCE before any system header

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#if !defined(__wasi__)
static char root[256];

// CPU id's sibling list in the made-up tree (NULL: no topology file for it).
static void put_cpu(int id, const char *siblings) {
    char p[512];
    snprintf(p, sizeof p, "%s/devices", root), mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/devices/system", root), mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/devices/system/cpu", root), mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/devices/system/cpu/cpu%d", root, id), mkdir(p, 0700);
    if (!siblings) return;
    snprintf(p, sizeof p, "%s/devices/system/cpu/cpu%d/topology", root, id), mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/devices/system/cpu/cpu%d/topology/thread_siblings_list", root, id);
    FILE *f = fopen(p, "w");
    if (f) fprintf(f, "%s\n", siblings), fclose(f);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/kite-cpu-cores-XXXXXX");
    CHECK(mkdtemp(root) != NULL, "mkdtemp");
    // 8 CPUs, 4 cores of 2 SMT siblings each (0/4, 1/5, 2/6, 3/7: the usual x86 numbering)
    const char *sib[] = {"0,4", "1,5", "2,6", "3,7", "0,4", "1,5", "2,6", "3,7"};
    for (int i = 0; i < 8; i++) put_cpu(i, sib[i]);
    const int all[] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK(cli_count_cores(root, all, 8, NULL) == 4, "8 SMT CPUs on 4 cores: %d", cli_count_cores(root, all, 8, NULL));
    const int pair[] = {0, 4};
    CHECK(cli_count_cores(root, pair, 2, NULL) == 1, "the two siblings of one core: 1 core");
    const int three[] = {0, 1, 4};
    CHECK(cli_count_cores(root, three, 3, NULL) == 2, "CPUs 0, 1, 4: 2 cores");
    // cgroup v2 quotas: rounded up, "max" is no limit, a quota above the cores changes nothing
    CHECK(cli_count_cores(root, all, 8, "150000 100000") == 2, "quota 1.5 CPUs -> 2");
    CHECK(cli_count_cores(root, all, 8, "50000 100000") == 1, "quota 0.5 CPUs -> 1");
    CHECK(cli_count_cores(root, all, 8, "max 100000") == 4, "no quota");
    CHECK(cli_count_cores(root, all, 8, "800000 100000") == 4, "quota of 8 CPUs, 4 cores");
    CHECK(cli_count_cores(root, all, 8, "garbage") == 4, "unreadable quota: none");
    // ranges and CPUs without topology (each its own core)
    put_cpu(8, "8-9"), put_cpu(9, "8-9"), put_cpu(10, NULL), put_cpu(11, NULL);
    const int more[] = {8, 9, 10, 11};
    CHECK(cli_count_cores(root, more, 4, NULL) == 3, "a range pair and two CPUs without topology: 3");
    CHECK(cli_count_cores(root, all, 0, NULL) == 1, "no CPUs: at least 1");
    // a hybrid CPU (Linux's cpu_core PMU lists the performance cores' CPUs): only those count
    char p[512];
    snprintf(p, sizeof p, "%s/devices/cpu_core", root), mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/devices/cpu_core/cpus", root);
    FILE *f = fopen(p, "w");
    if (f) fprintf(f, "0-1,4-5,8\n"), fclose(f);
    CHECK(cli_count_cores(root, all, 8, NULL) == 2, "P-core CPUs 0, 1, 4, 5 of 8: 2 cores");
    CHECK(cli_count_cores(root, more, 4, NULL) == 1, "P-core CPUs 8 (and 9, not listed): 1 core");
    CHECK(cli_count_cores(root, all, 8, "50000 100000") == 1, "P-cores and a quota");
    // this machine: between 1 and its online CPUs, and the same the second time (cached)
    const int n = cli_default_threads();
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(n >= 1 && n <= (online > 0 ? online : 1) && n <= 512, "default %d of %ld online CPUs", n, online);
    CHECK(cli_default_threads() == n, "cached");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0, "cleanup");
    return check_done("test_cpu_cores");
}
#else
int main(void) {
    printf("test_cpu_cores: no sysfs under WASI (the default there is 1 thread)\n");
    return 0;
}
#endif
