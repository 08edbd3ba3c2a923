/* fork + exec of child processes. No managed code ever runs in the forked child. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "podmon.h"

extern char **environ;

struct child_error {
    int32_t err;
    int32_t step;
};

static const char *const steps[] = {"fork", "setsid", "prctl(PR_SET_PDEATHSIG)", "open /dev/null",
                                    "dup fds", "chdir", "execve", "pipe2", "hand the pidfd to the pod watchdog"};
enum { S_FORK, S_SETSID, S_PDEATH, S_DEVNULL, S_DUP, S_CHDIR, S_EXEC, S_PIPE, S_HANDOFF };

static void __attribute__((noreturn)) child_fail(int pipe_fd, int step) {
    struct child_error e = {errno, step};
    (void)!write(pipe_fd, &e, sizeof e);
    _exit(127);
}

static void __attribute__((noreturn)) child(const struct pm_spawn_args *a, int err_fd, pid_t parent, const int gate[2]) {
    if (a->handoff_len > 0) { /* wait until the parent handed our pidfd on; EOF: it died or failed */
        close(gate[1]);
        char go;
        ssize_t r;
        do r = read(gate[0], &go, 1); while (r < 0 && errno == EINTR);
        if (r != 1) _exit(127);
        close(gate[0]);
    }
    /* Back to default dispositions and an empty mask: the runtime's handlers and our blocked
       signals must not leak into the container runtime. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < _NSIG; s++) sigaction(s, &dfl, NULL);
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);

    if (a->new_session && setsid() < 0) child_fail(err_fd, S_SETSID);
    if (a->pdeath_signal) {
        if (prctl(PR_SET_PDEATHSIG, a->pdeath_signal) < 0) child_fail(err_fd, S_PDEATH);
        if (getppid() != parent) _exit(127);
    }

    /* Move every source fd above all targets first, so a map like {4->3, 3->4} cannot clobber. */
    int high = err_fd;
    for (int i = 0; i < a->nfds; i++) {
        if (a->fds[i].child_fd > high) high = a->fds[i].child_fd;
        if (a->fds[i].parent_fd > high) high = a->fds[i].parent_fd;
    }
    int err_hi = fcntl(err_fd, F_DUPFD_CLOEXEC, high + 1);
    if (err_hi < 0) child_fail(err_fd, S_DUP);
    err_fd = err_hi;
    high = err_fd;
    int moved[a->nfds > 0 ? a->nfds : 1];
    for (int i = 0; i < a->nfds; i++) {
        int src = a->fds[i].parent_fd;
        if (src < 0) {
            src = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (src < 0) child_fail(err_fd, S_DEVNULL);
        }
        moved[i] = fcntl(src, F_DUPFD_CLOEXEC, high + 1);
        if (moved[i] < 0) child_fail(err_fd, S_DUP);
        high = moved[i];
    }
    for (int i = 0; i < a->nfds; i++)
        if (dup2(moved[i], a->fds[i].child_fd) < 0) child_fail(err_fd, S_DUP); /* dup2 clears CLOEXEC */
    /* Close everything that is not a target: the fds between targets, then all above them. */
    int max_target = -1;
    for (int i = 0; i < a->nfds; i++)
        if (a->fds[i].child_fd > max_target) max_target = a->fds[i].child_fd;
    for (int fd = 0; fd <= max_target; fd++) {
        int keep = 0;
        for (int i = 0; i < a->nfds; i++) keep |= a->fds[i].child_fd == fd;
        if (!keep) close(fd);
    }
    /* err_fd is CLOEXEC and above max_target: closed by exec, or used to report failure. */
    if (err_fd > max_target + 1) syscall(SYS_close_range, max_target + 1, err_fd - 1, 0);
    syscall(SYS_close_range, err_fd + 1, ~0U, 0);

    if (a->cwd && chdir(a->cwd) < 0) child_fail(err_fd, S_CHDIR);
    execve(a->path, a->argv, a->envp ? a->envp : environ);
    child_fail(err_fd, S_EXEC);
}

static int handoff(const struct pm_spawn_args *a, int pidfd) {
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec iov = {(void *)a->handoff_msg, (size_t)a->handoff_len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
    ssize_t r;
    do r = sendmsg(a->handoff_fd, &msg, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
    return r < 0 ? -1 : 0;
}

int pm_spawn(const struct pm_spawn_args *a, int *pidfd, const char **failed_step) {
    *pidfd = -1;
    *failed_step = NULL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) { *failed_step = steps[S_PIPE]; return -1; }
    int gate[2] = {-1, -1};
    if (a->handoff_len > 0 && pipe2(gate, O_CLOEXEC) < 0) {
        close(p[0]);
        close(p[1]);
        *failed_step = steps[S_PIPE];
        return -1;
    }

    /* Block everything around fork so no handler runs in the child before it resets them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) { close(p[0]); child(a, p[1], parent, gate); }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(p[1]);
    if (gate[0] >= 0) close(gate[0]);
    if (pid < 0) {
        if (gate[1] >= 0) close(gate[1]);
        close(p[0]);
        errno = fork_errno;
        *failed_step = steps[S_FORK];
        return -1;
    }
    int pfd = -1;
    if (a->handoff_len > 0) {
        pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int ok = pfd >= 0 && handoff(a, pfd) == 0 && write(gate[1], "g", 1) == 1;
        int err = errno;
        close(gate[1]); /* without the byte the child exits */
        if (!ok) {
            if (pfd >= 0) close(pfd);
            close(p[0]);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
            errno = err;
            *failed_step = steps[S_HANDOFF];
            return -1;
        }
    }

    struct child_error e;
    ssize_t n;
    do n = read(p[0], &e, sizeof e); while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof e) {
        /* The child failed before exec and has exited: reap it, report why. */
        if (pfd >= 0) close(pfd);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        errno = e.err;
        *failed_step = e.step >= 0 && e.step < (int)(sizeof steps / sizeof steps[0]) ? steps[e.step] : "spawn";
        return -1;
    }
    *pidfd = pfd >= 0 ? pfd : (int)syscall(SYS_pidfd_open, pid, 0);
    return pid;
}
