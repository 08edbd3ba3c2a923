/* io_uring's three syscalls (glibc wraps none of them). The rings themselves are mapped and driven
   from managed code (src/Podmon.Platform/Sys/IoUring.cs); the wait that first releases the executable's
   clean pages is pm_uring_enter_releasing_code in codepages.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "podmon.h"

int pm_uring_setup(unsigned entries, void *params) {
    return (int)syscall(SYS_io_uring_setup, entries, params);
}

int pm_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, void *arg, unsigned long argsz) {
    return (int)syscall(SYS_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz);
}

int pm_uring_register(int fd, unsigned opcode, void *arg, unsigned nr_args) {
    return (int)syscall(SYS_io_uring_register, fd, opcode, arg, nr_args);
}
