/* The benchmark's host memory figure: the process's peak resident set during one
 * configuration. On Linux the kernel's high-water mark (VmHWM) is reset before the
 * configuration (/proc/self/clear_refs) and read after it; elsewhere only the process's
 * lifetime peak (getrusage) is known, and the scope says so. */
#ifndef TRELBO_BENCH_HOST_PEAK_H
#define TRELBO_BENCH_HOST_PEAK_H

/* Returns memory the allocator holds unused to the system, then restarts the high-water mark
 * from the current resident set. */
void bench_host_peak_reset(void);
/* The peak resident set in MiB since the last reset; *scope is "configuration" when the reset
 * took, else "process" (the lifetime peak). */
double bench_host_peak_mib(const char **scope);

#endif
