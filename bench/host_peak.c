/* See host_peak.h. */
#define _GNU_SOURCE
#include "host_peak.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static bool reset_took;

void bench_host_peak_reset(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
    FILE *f = fopen("/proc/self/clear_refs", "w");
    reset_took = f && fputs("5", f) >= 0;
    if (f && fclose(f) != 0) reset_took = false;
}

/* VmHWM from /proc/self/status in MiB, or a negative number when there is none */
static double vm_hwm_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf kB", &kib) == 1) break;
    fclose(f);
    return kib < 0 ? -1 : kib / 1024.0;
}

double bench_host_peak_mib(const char **scope) {
    const double hwm = reset_took ? vm_hwm_mib() : -1;
    if (hwm >= 0) {
        *scope = "configuration";
        return hwm;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *scope = "process";
    return (double)ru.ru_maxrss / 1024.0;
}
