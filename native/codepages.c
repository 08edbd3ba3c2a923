/* An idle monitor gives back its mappings of the executable's read-only pages (code, rodata).
   Start-up touches almost all of the binary's code and the kernel maps every touched page plus
   its fault-around neighbours (64 kB blocks), so an idle monitor would keep ~1.7 MB of code mapped
   that it does not run. The pages are clean copies of the file: MADV_DONTNEED only removes them
   from our page tables, they stay in the page cache, and whatever runs next is faulted back in.
   Only mappings of our own executable that are not writable and hold no private (modified) page
   are released, so nothing is ever lost.
   The release is the last thing before the loop blocks in epoll_wait (the pod watchdog: poll),
   and both are raw syscalls from one function: any code run after the release would be faulted
   back, 64 kB at a time. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "podmon.h"

#define MAX_RANGES 16

struct range {
    unsigned long start, end;
};

struct vma {
    struct range r;
    int candidate; /* ours, private, not writable */
    long rss_kb, private_dirty_kb, anon_kb;
};

static int keep(const struct vma *v, struct range *out, int n) {
    if (!v->candidate || v->rss_kb == 0 || v->private_dirty_kb != 0 || v->anon_kb != 0 || n == MAX_RANGES) return n;
    out[n] = v->r;
    return n + 1;
}

/* The executable's clean read-only mappings, from /proc/self/smaps; -errno on failure. */
static int code_ranges(struct range *out) {
    struct stat self;
    if (stat("/proc/self/exe", &self) != 0) return -errno;
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f) return -errno;
    char line[512];
    struct vma v = {0};
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end, inode;
        unsigned long long offset;
        unsigned major_no, minor_no;
        char perms[8];
        long kb;
        if (sscanf(line, "%lx-%lx %7s %llx %x:%x %lu", &start, &end, perms, &offset, &major_no, &minor_no, &inode) == 7) {
            n = keep(&v, out, n);
            v = (struct vma){.r = {start, end}};
            v.candidate = inode == (unsigned long)self.st_ino && major_no == major(self.st_dev) &&
                          minor_no == minor(self.st_dev) && perms[1] != 'w' && perms[3] == 'p';
        } else if (sscanf(line, "Rss: %ld kB", &kb) == 1) v.rss_kb = kb;
        else if (sscanf(line, "Private_Dirty: %ld kB", &kb) == 1) v.private_dirty_kb = kb;
        else if (sscanf(line, "Anonymous: %ld kB", &kb) == 1) v.anon_kb = kb;
    }
    n = keep(&v, out, n);
    fclose(f);
    return n;
}

#if defined(__x86_64__)
static inline long raw_syscall6(long nr, long a, long b, long c, long d, long e, long g) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = g;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
}
#else
static inline long raw_syscall6(long nr, long a, long b, long c, long d, long e, long g) {
    long r = syscall(nr, a, b, c, d, e, g);
    return r < 0 ? -errno : r;
}
#endif

static inline void release_code(void) {
    struct range ranges[MAX_RANGES];
    int n = code_ranges(ranges);
    for (int i = 0; i < n; i++)
        raw_syscall6(SYS_madvise, (long)ranges[i].start, (long)(ranges[i].end - ranges[i].start), MADV_DONTNEED, 0, 0, 0);
}

static inline int result(long r) {
    if (r >= 0) return (int)r;
    errno = (int)-r;
    return -1;
}

int pm_epoll_wait_releasing_code(int epfd, struct epoll_event *events, int maxevents, int timeout) {
    release_code();
    return result(raw_syscall6(SYS_epoll_pwait, epfd, (long)events, maxevents, timeout, 0, 8));
}

int pm_poll_releasing_code(struct pollfd *fds, unsigned long nfds) {
    release_code();
    return result(raw_syscall6(SYS_ppoll, (long)fds, (long)nfds, 0, 0, 8, 0));
}
