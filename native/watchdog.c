/*
 * The pod watchdog: a tiny process (no runtime) that holds a pidfd of every container init and
 * exec'd process podmon runs. When podmon dies, even by SIGKILL, the kernel closes podmon's end
 * of the socketpair; the watchdog sees EOF and SIGKILLs every process it still holds, then exits.
 * Needed because runc resets PR_SET_PDEATHSIG in the container and creates its own pid namespace,
 * and a container outlives runc as podmon's (subreaper) child, so nothing else kills it.
 * Exited processes are dropped when their pidfd polls readable, so pid reuse cannot hit others.
 *
 * A container exists before podmon knows its pid: `runtime create` makes it, and podmon only
 * learns the pid when the runtime has exited. So podmon also announces each create before the
 * runtime starts (a "pending create"), and the watchdog undoes the pending ones when podmon dies:
 * it lets the in-flight runtime finish (runc killed half-way can leave its `runc init` behind
 * without a state file), SIGKILLs what still holds the container's exec fifo (a created
 * container waits in `runc init` on `<root>/<id>/exec.fifo`), and runs `runtime delete --force`.
 *
 * Protocol on fd `sock` (SOCK_SEQPACKET), one byte of type first:
 *   'A' + pidfds (SCM_RIGHTS): processes to kill;
 *   'C' token(4) id\0 runtime-argv\0...: a create is about to start the runtime (argv: the
 *       runtime's path and global flags, what goes before the subcommand);
 *   'R' token(4) + the runtime's pidfd: sent by pm_spawn before the runtime may exec;
 *   'D' token(4): the create is over (its container, if any, was sent with 'A');
 *   'P' base\0 pod\0 + the pause's pidfd: the pod's namespaces are pinned under base (pause.c);
 *       when podmon dies the pause is SIGKILLed and its pins unmounted and removed;
 *   'p': podmon has removed the pins itself (orderly shutdown): forget the pause, so a new
 *       server's pins at the same paths are never touched.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "podmon.h"

enum {
    MAX_FDS_PER_MSG = 64,
    MAX_MSG = 16384,
    MAX_PENDING = 256,
    RUNTIME_GRACE_MS = 5000, /* an in-flight create may finish before it is killed */
    DELETE_TIMEOUT_MS = 15000,
};

struct pending {
    uint32_t token;
    int runtime_pidfd; /* -1 until 'R' */
    char *id;          /* points into block */
    char **argv;       /* runtime path and global flags, then room for "delete --force ID NULL" */
    int argc;
    char *block;
};

static struct pending pending[MAX_PENDING];
static int npending;

/* The pod's pause (one per server), from 'P'. */
static int pause_pidfd = -1;
static char *pause_base, *pause_pod;

static void note_pause(const char *data, size_t len, int pidfd) {
    const char *base = data, *pod = memchr(data, 0, len);
    if (!pod || pause_base || !memchr(pod + 1, 0, len - (size_t)(pod + 1 - data))) {
        if (pidfd >= 0) close(pidfd);
        return;
    }
    pause_base = strdup(base);
    pause_pod = strdup(pod + 1);
    pause_pidfd = pidfd;
}

static void forget_pause(void) {
    if (pause_pidfd >= 0) close(pause_pidfd);
    free(pause_base);
    free(pause_pod);
    pause_pidfd = -1;
    pause_base = pause_pod = NULL;
}

static void stop_pause(void) {
    if (pause_pidfd >= 0) syscall(SYS_pidfd_send_signal, pause_pidfd, SIGKILL, NULL, 0);
    if (pause_base && pause_pod) pm_pause_unpin(pause_base, pause_pod);
}

extern char **environ;

static void kill_all(struct pollfd *p, int n) {
    for (int i = 1; i < n; i++) syscall(SYS_pidfd_send_signal, p[i].fd, SIGKILL, NULL, 0);
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static struct pending *find_pending(uint32_t token) {
    for (int i = 0; i < npending; i++)
        if (pending[i].token == token) return &pending[i];
    return NULL;
}

static void drop_pending(struct pending *c) {
    if (c->runtime_pidfd >= 0) close(c->runtime_pidfd);
    free(c->argv);
    free(c->block);
    *c = pending[--npending];
}

/* 'C': copies id and argv out of the message. A message cut short (MSG_TRUNC) keeps its id
   when the id is whole, so the exec fifo can still be found. */
static void add_pending(uint32_t token, const char *data, size_t len, int truncated) {
    if (npending == MAX_PENDING) return;
    char *block = malloc(len + 1);
    if (!block) return;
    memcpy(block, data, len);
    block[len] = 0;
    int strings = 0;
    for (size_t i = 0; i < len; i++) strings += block[i] == 0;
    if (strings == 0) { free(block); return; }
    char **argv = calloc((size_t)strings + 4, sizeof *argv);
    if (!argv) { free(block); return; }
    int argc = 0;
    char *s = block + strlen(block) + 1; /* after the id */
    for (int k = 1; k < strings && !truncated; k++, s += strlen(s) + 1) argv[argc++] = s;
    pending[npending++] = (struct pending){token, -1, block, argv, argc, block};
}

static void receive(int sock, struct pollfd **pp, int *n, int *cap, char *data, int *gone) {
    char control[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)];
    struct iovec iov = {data, MAX_MSG};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (r <= 0) { /* podmon is gone */
        *gone = 1;
        return;
    }
    uint32_t token = 0;
    if (r >= 5) memcpy(&token, data + 1, sizeof token);
    struct pending *c = r >= 5 ? find_pending(token) : NULL;
    if (data[0] == 'C' && r >= 5 && !c) add_pending(token, data + 5, (size_t)r - 5, (msg.msg_flags & MSG_TRUNC) != 0);
    if (data[0] == 'D' && c) drop_pending(c);
    int pause_fd = -1;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *fds = (int *)CMSG_DATA(h);
        for (int k = 0; k < count; k++) {
            if (data[0] == 'R' && c && c->runtime_pidfd < 0) {
                c->runtime_pidfd = fds[k];
                continue;
            }
            if (data[0] == 'P' && pause_fd < 0) { pause_fd = fds[k]; continue; }
            if (data[0] != 'A') { close(fds[k]); continue; }
            if (*n == *cap) {
                struct pollfd *q = realloc(*pp, sizeof *q * (size_t)(*cap * 2));
                if (!q) { close(fds[k]); continue; }
                *pp = q;
                *cap *= 2;
            }
            (*pp)[*n] = (struct pollfd){.fd = fds[k], .events = POLLIN};
            (*n)++;
        }
    }
    if (data[0] == 'P') note_pause(data + 1, (size_t)r - 1, pause_fd);
    if (data[0] == 'p') forget_pause();
}

/* Waits until every in-flight runtime has exited, SIGKILLing those still there at the deadline. */
static void wait_runtimes(void) {
    struct pollfd p[MAX_PENDING];
    long deadline = now_ms() + RUNTIME_GRACE_MS;
    int killed = 0;
    for (;;) {
        int n = 0;
        for (int i = 0; i < npending; i++)
            if (pending[i].runtime_pidfd >= 0) p[n++] = (struct pollfd){.fd = pending[i].runtime_pidfd, .events = POLLIN};
        if (n == 0) return;
        long left = deadline - now_ms();
        if (left <= 0) {
            if (killed) return;
            for (int i = 0; i < n; i++) syscall(SYS_pidfd_send_signal, p[i].fd, SIGKILL, NULL, 0);
            killed = 1;
            deadline = now_ms() + 1000;
            continue;
        }
        if (poll(p, (nfds_t)n, (int)left) < 0 && errno != EINTR) return;
        for (int i = 0; i < n; i++) {
            if (!p[i].revents) continue;
            for (int k = 0; k < npending; k++)
                if (pending[k].runtime_pidfd == p[i].fd) pending[k].runtime_pidfd = -1;
            close(p[i].fd);
        }
    }
}

/* SIGKILLs every process holding an fd to `.../<id>/exec.fifo`: a created container (or a
   `runc init` whose runc died before writing the state file) that nothing else can name. */
static void kill_fifo_holders(const char *id) {
    char suffix[512];
    int slen = snprintf(suffix, sizeof suffix, "/%s/exec.fifo", id);
    if (slen <= 0 || slen >= (int)sizeof suffix) return;
    DIR *proc = opendir("/proc");
    if (!proc) return;
    for (struct dirent *e; (e = readdir(proc));) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        int pid = atoi(e->d_name);
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* before the look: the pid cannot be reused under it */
        if (pidfd < 0) continue;
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
        DIR *fds = opendir(dir);
        int hit = 0;
        for (struct dirent *f; fds && !hit && (f = readdir(fds));) {
            char target[600];
            ssize_t t = readlinkat(dirfd(fds), f->d_name, target, sizeof target - 1);
            if (t < slen) continue;
            target[t] = 0;
            hit = !strcmp(target + t - slen, suffix);
        }
        if (fds) closedir(fds);
        if (hit) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        close(pidfd);
    }
    closedir(proc);
}

/* Runs `runtime <global flags> delete --force ID` (stdio on /dev/null) and waits for it, bounded. */
static void runtime_delete(struct pending *c) {
    if (c->argc == 0) return;
    c->argv[c->argc] = "delete";
    c->argv[c->argc + 1] = "--force";
    c->argv[c->argc + 2] = c->id;
    c->argv[c->argc + 3] = NULL;
    pid_t pid = fork();
    if (pid < 0) return;
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null = open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3; fd++) dup2(null, fd);
        syscall(SYS_close_range, 3, ~0U, 0);
        execve(c->argv[0], c->argv, environ);
        _exit(127);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        while (poll(&p, 1, DELETE_TIMEOUT_MS) < 0 && errno == EINTR) {}
        if (!p.revents) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        close(pidfd);
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
}

static void undo_pending_creates(void) {
    wait_runtimes();
    for (int i = 0; i < npending; i++) {
        kill_fifo_holders(pending[i].id);
        runtime_delete(&pending[i]);
    }
}

int pm_watchdog_main(int sock) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int cap = 64, n = 1;
    struct pollfd *p = malloc(sizeof *p * (size_t)cap);
    char *data = malloc(MAX_MSG);
    if (!p || !data) return 1;
    p[0].fd = sock;
    p[0].events = POLLIN;
    for (;;) {
        if (pm_poll_releasing_code(p, (unsigned long)n) < 0) { /* idles with almost none of the binary mapped */
            if (errno == EINTR) continue;
            kill_all(p, n);
            undo_pending_creates();
            stop_pause();
            return 1;
        }
        for (int i = n - 1; i >= 1; i--) {
            if (!p[i].revents) continue;
            close(p[i].fd); /* the process exited: forget it */
            p[i] = p[--n];
        }
        if (!p[0].revents) continue;
        int gone = 0;
        receive(sock, &p, &n, &cap, data, &gone);
        if (gone) {
            kill_all(p, n);
            undo_pending_creates();
            stop_pause();
            return 0;
        }
    }
}
