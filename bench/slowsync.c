/* LD_PRELOAD shim for bench/fsync_sweep.py: every fsync/fdatasync first sleeps FSYNC_DELAY_US microseconds, as a
   disk whose flush takes that much longer would. Benchmarks only; never loaded by casecraft itself. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
static long delay_ns = -1;
static void pause_(void) {
    if (delay_ns < 0) { const char *e = getenv("FSYNC_DELAY_US"); delay_ns = e ? atol(e) * 1000L : 0; }
    if (delay_ns > 0) { struct timespec t = {delay_ns / 1000000000L, delay_ns % 1000000000L}; nanosleep(&t, 0); }
}
int fsync(int fd) { static int (*real)(int); if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync"); pause_(); return real(fd); }
int fdatasync(int fd) { static int (*real)(int); if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync"); pause_(); return real(fd); }
