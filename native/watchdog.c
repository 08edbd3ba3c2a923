/*
 * The pod watchdog: a tiny process (no runtime) that holds a pidfd of every container init and
 * exec'd process podmon runs. When podmon dies, even by SIGKILL, the kernel closes podmon's end
 * of the socketpair; the watchdog sees EOF and SIGKILLs every process it still holds, then exits.
 * Needed because runc resets PR_SET_PDEATHSIG in the container and creates its own pid namespace,
 * and a container outlives runc as podmon's (subreaper) child, so nothing else kills it.
 * Protocol on fd `sock` (SOCK_SEQPACKET): each message carries pidfds (SCM_RIGHTS) to watch.
 * Exited processes are dropped when their pidfd polls readable, so pid reuse cannot hit others.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "podmon.h"

enum { MAX_FDS_PER_MSG = 64 };

static void kill_all(struct pollfd *p, int n) {
    for (int i = 1; i < n; i++) syscall(SYS_pidfd_send_signal, p[i].fd, SIGKILL, NULL, 0);
}

int pm_watchdog_main(int sock) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int cap = 64, n = 1;
    struct pollfd *p = malloc(sizeof *p * (size_t)cap);
    if (!p) return 1;
    p[0].fd = sock;
    p[0].events = POLLIN;
    for (;;) {
        if (pm_poll_releasing_code(p, (unsigned long)n) < 0) { /* idles with almost none of the binary mapped */
            if (errno == EINTR) continue;
            kill_all(p, n);
            return 1;
        }
        for (int i = n - 1; i >= 1; i--) {
            if (!p[i].revents) continue;
            close(p[i].fd); /* the process exited: forget it */
            p[i] = p[--n];
        }
        if (!p[0].revents) continue;
        char data[16];
        char control[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)];
        struct iovec iov = {data, sizeof data};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                             .msg_controllen = sizeof control};
        ssize_t r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) { /* podmon is gone */
            kill_all(p, n);
            return 0;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *fds = (int *)CMSG_DATA(c);
            for (int k = 0; k < count; k++) {
                if (n == cap) {
                    struct pollfd *q = realloc(p, sizeof *p * (size_t)(cap * 2));
                    if (!q) { close(fds[k]); continue; }
                    p = q;
                    cap *= 2;
                }
                p[n].fd = fds[k];
                p[n].events = POLLIN;
                p[n].revents = 0;
                n++;
            }
        }
    }
}
