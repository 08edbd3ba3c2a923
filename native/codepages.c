/* An idle monitor gives back its mappings of the executable's read-only pages (code, rodata),
   and the pages of its writable data (.data: NativeAOT's type data, preinitialized statics) that
   were only ever read.
   Start-up touches almost all of the binary's code and the kernel maps every touched page plus
   its fault-around neighbours (64 kB blocks), so an idle monitor would keep ~1.7 MB of code mapped
   that it does not run. The pages are clean copies of the file: MADV_DONTNEED only removes them
   from our page tables, they stay in the page cache, and whatever runs next is faulted back in.
   Only mappings of our own executable that are not writable and hold no private (modified) page
   are released, so nothing is ever lost.
   Writable data: a page of our private file mapping that was never written is still the file's
   page (pagemap bit 61); one that was written is an anonymous copy and must never be dropped.
   Only runs of file pages are released, read from /proc/self/pagemap with raw syscalls after
   the smaps scan (whose stdio writes happen before the pages are classified). The one other
   thread a .NET monitor has (the runtime's finalizer) could write a data page for the first time
   between the classification and the madvise, and that write would be lost: so the data pages
   are released only while every other thread is blocked in futex(2) (the finalizer waits for a
   GC that only this thread's allocations could start, and this thread is here).
   The release is the last thing before the loop blocks in epoll_wait (the pod watchdog: poll),
   and both are raw syscalls from one function: any code run after the release would be faulted
   back, 64 kB at a time. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    int data;      /* ours, private, writable */
    long rss_kb, private_dirty_kb, anon_kb;
};

static struct range g_data[4];
static int g_data_count;

static int keep(const struct vma *v, struct range *out, int n) {
    if (v->data && v->rss_kb > 0 && g_data_count < (int)(sizeof g_data / sizeof g_data[0])) g_data[g_data_count++] = v->r;
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
            int ours = inode == (unsigned long)self.st_ino && major_no == major(self.st_dev) && minor_no == minor(self.st_dev);
            v.candidate = ours && perms[1] != 'w' && perms[3] == 'p';
            v.data = ours && perms[1] == 'w' && perms[3] == 'p';
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

/* Every other thread of this process is blocked in futex(2) (/proc/self/task/T/syscall starts "202 "). */
static int others_parked(void) {
    int self = (int)raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    int parked = 1;
    struct dirent *e;
    while (parked && (e = readdir(d)) != NULL) {
        int tid = atoi(e->d_name);
        if (tid <= 0 || tid == self) continue;
        char path[64], buf[32] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { parked = 0; break; }
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        parked = n > 4 && strncmp(buf, "202 ", 4) == 0;
    }
    closedir(d);
    return parked;
}

#define PAGE 4096UL
#define PM_PRESENT (1ULL << 63)
#define PM_FILE (1ULL << 61)

/* Drops the pages of r that are still the file's (never written). Only raw syscalls from here on. */
static void release_clean_data(int pagemap, struct range r) {
    unsigned long long entries[256];
    for (unsigned long at = r.start; at < r.end;) {
        unsigned long count = (r.end - at) / PAGE;
        if (count > 256) count = 256;
        long got = raw_syscall6(SYS_pread64, pagemap, (long)entries, (long)(count * 8), (long)(at / PAGE * 8), 0, 0);
        if (got <= 0) return;
        count = (unsigned long)got / 8;
        unsigned long run = 0;
        for (unsigned long i = 0; i <= count; i++) {
            int clean = i < count && (entries[i] & (PM_PRESENT | PM_FILE)) == (PM_PRESENT | PM_FILE);
            if (clean) { run++; continue; }
            if (run) raw_syscall6(SYS_madvise, (long)(at + (i - run) * PAGE), (long)(run * PAGE), MADV_DONTNEED, 0, 0, 0);
            run = 0;
        }
        at += count * PAGE;
    }
}

static inline void release_code(void) {
    struct range ranges[MAX_RANGES];
    g_data_count = 0;
    int n = code_ranges(ranges);
    /* Data first: what runs after the code release (libc's opendir, snprintf…) would fault code back. */
    if (g_data_count > 0 && others_parked()) {
        int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        if (pagemap >= 0) {
            struct range data[4];
            int count = g_data_count;
            for (int i = 0; i < count; i++) data[i] = g_data[i];
            for (int i = 0; i < count; i++) release_clean_data(pagemap, data[i]);
            raw_syscall6(SYS_close, pagemap, 0, 0, 0, 0, 0);
        }
    }
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

int pm_uring_enter_releasing_code(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, void *arg, unsigned long argsz) {
    release_code();
    return result(raw_syscall6(SYS_io_uring_enter, fd, to_submit, min_complete, flags, (long)arg, (long)argsz));
}

int pm_poll_releasing_code(struct pollfd *fds, unsigned long nfds) {
    release_code();
    return result(raw_syscall6(SYS_ppoll, (long)fds, (long)nfds, 0, 0, 8, 0));
}
