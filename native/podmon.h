#ifndef PODMON_NATIVE_H
#define PODMON_NATIVE_H
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* How the early constructor classified the command line (see early.c). */
enum { PM_MODE_OTHER = 0, PM_MODE_SERVER_FOREGROUND = 1, PM_MODE_SERVER_DAEMON = 2, PM_MODE_CONMON = 3 };

int pm_classify_args(int argc, char **argv, char **envp);
/* cli.c: 1 if arg is the option `name` alone (*value = NULL) or `name=VALUE` (*value = VALUE), else 0. */
int pm_arg_is(const char *arg, const char *name, const char **value);
/* cli.c: conmon-rs's booleans: 1 (1, y, yes, t, true, on), 0 ("", 0, n, no, f, false, off; any case), -1 otherwise. */
int pm_parse_bool(const char *v);
int pm_startup_mode(void);
int pm_ready_fd(void);
/* conmon mode's early-started daemon: waits for the launcher's "go" (returns 1) or exits; 0 when
   this process was not started early. */
int pm_conmon_await_go(void);

/* Moves `pid` into every cgroup the caller is in (cgroupjoin.c); 0, or -1 with a reason in err. */
int pm_cgroup_join(int pid, char *err, size_t errlen);
/* The cgroup.procs file of hierarchy `controllers` ("memory", "cpu,cpuacct", "name=systemd"; "" for
   v2) at cgroup `path`, from a mountinfo text; -1 if no mount fits. */
int pm_cgroup_procs_path(const char *controllers, const char *path, const char *mountinfo, char *out, size_t size);
void pm_fill_blocked_sigset(sigset_t *set);

/* One fd of the child: child_fd receives parent_fd (-1: /dev/null). */
struct pm_fd_map {
    int32_t parent_fd;
    int32_t child_fd;
};

struct pm_spawn_args {
    const char *path;            /* executed with execve, no PATH search */
    char *const *argv;
    char *const *envp;           /* NULL: inherit environ */
    const char *cwd;             /* NULL: unchanged */
    const struct pm_fd_map *fds; /* the child's fds; all others are closed */
    int32_t nfds;
    int32_t new_session;         /* setsid() in the child */
    int32_t pdeath_signal;       /* 0: none */
    /* When handoff_len > 0: before the child may exec, its pidfd and these bytes are sent over
       handoff_fd (SCM_RIGHTS; the pod watchdog). A child whose parent dies first never execs. */
    const void *handoff_msg;
    int32_t handoff_len;
    int32_t handoff_fd;
};

/* fork + exec; returns the child's pid and its pidfd (or -1 where pidfd_open is missing).
   On failure returns -1 with errno set; exec failures of the child are reported here too
   (through a CLOEXEC pipe), with *failed_step naming the step that failed. */
int pm_spawn(const struct pm_spawn_args *a, int *pidfd, const char **failed_step);

int pm_pidfd_open(int pid, unsigned flags);
int pm_pidfd_send_signal(int pidfd, int sig, unsigned flags);
int pm_signalfd_blocked(int fd, int flags);
int pm_sigprocmask_blocked(int how);

/* epoll_wait after unmapping the executable's clean read-only pages (codepages.c). */
struct epoll_event;
struct pollfd;
int pm_epoll_wait_releasing_code(int epfd, struct epoll_event *events, int maxevents, int timeout);
/* poll without timeout, after the same release */
int pm_poll_releasing_code(struct pollfd *fds, unsigned long nfds);
/* io_uring_enter after the same release (codepages.c). */
int pm_uring_enter_releasing_code(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, void *arg, unsigned long argsz);

/* io_uring's syscalls (uring.c). */
int pm_uring_setup(unsigned entries, void *params);
int pm_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, void *arg, unsigned long argsz);
int pm_uring_register(int fd, unsigned opcode, void *arg, unsigned nr_args);

/* The pod watchdog (watchdog.c): serves the socketpair end `sock`; returns the exit status. */
int pm_watchdog_main(int sock);

/* `podmon pause` (pause.c): argv[0] is "pause"; returns the exit status. */
int pm_pause_main(int argc, char **argv);
/* B/<kind>ns/<pod> for kind 0..4 (ipc, pid, net, user, uts), B/conmonrs/<pod>.pid for -1. */
int pm_pause_path(char *out, size_t size, const char *base, const char *pod, int kind);
/* Unmounts and removes a pod's pins and pause pid file; best effort, idempotent. */
int pm_pause_unpin(const char *base, const char *pod);
#endif
