/* Syscalls glibc 2.36 wraps late or not at all: called through syscall() so the binary runs on
   older glibc too. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "podmon.h"

void pm_fill_blocked_sigset(sigset_t *m) {
    sigemptyset(m);
    sigaddset(m, SIGCHLD);
    sigaddset(m, SIGTERM);
    sigaddset(m, SIGINT);
    sigaddset(m, SIGQUIT);
    sigaddset(m, SIGHUP);
    sigaddset(m, SIGPIPE);
}

int pm_signalfd_blocked(int fd, int flags) {
    sigset_t m;
    pm_fill_blocked_sigset(&m);
    sigdelset(&m, SIGPIPE); /* blocked to be ignored (EPIPE instead), never read */
    return signalfd(fd, &m, flags);
}

int pm_sigprocmask_blocked(int how) {
    sigset_t m;
    pm_fill_blocked_sigset(&m);
    return sigprocmask(how, &m, NULL);
}

int pm_pidfd_open(int pid, unsigned flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }

int pm_pidfd_send_signal(int pidfd, int sig, unsigned flags) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}

