/*
 * `podmon pause`: pins a pod's namespaces to files, as conmon-rs's pause subcommand, in C and
 * before the .NET runtime starts (early.c dispatches here), so the process that holds the
 * namespaces costs tens of kilobytes, not a runtime.
 *
 * Command line (conmon-rs's): pause [--base-path|-p B] --pod-id ID [--ipc] [--pid] [--net] [--uts]
 *   [--user --uid-mappings|-u "C H S"... --gid-mappings|-g "C H S"...]; env CONMON_PAUSE_BASE_PATH,
 *   CONMON_PAUSE_POD_ID. Exit 0 once the pause runs and every pin is mounted, 1 on a failure,
 *   2 on a usage error (one line on stderr in both cases).
 *
 * Steps. The launcher L (this process) creates the empty pin files B/<kind>ns/<ID> and
 * B/conmonrs. Without --user, L unshares the requested namespaces and forks the pause P, which is
 * therefore pid 1 of a new pid namespace when --pid is given. With --user, L forks P first;
 * P unshares the user namespace, L writes P's gid_map and uid_map (each in one write(), which the
 * kernel requires), P becomes root in it and unshares the rest; with --pid, P forks once more
 * (unshare(CLONE_NEWPID) only moves the children) and that child is the pause. The pause sets
 * up its signals, puts /dev/null on its stdio and says "ready". L then bind-mounts
 * /proc/<pause>/ns/<kind> onto each pin for all five kinds (the ones not requested pin the host's
 * namespace, as conmon-rs does), writes B/conmonrs/<ID>.pid, tells the pause and exits 0; a
 * pause whose launcher dies before that (the server spawns L with PR_SET_PDEATHSIG) exits.
 * L mounts rather than the pause because a pause inside a new user namespace has no right to
 * mount in the host's mount namespace (conmon-rs unshares a mount namespace for it, which makes
 * those pins invisible to the host). The pause waits in a signalfd poll with the binary's code
 * pages released (codepages.c); as pid 1 of a pid namespace it reaps that namespace's orphans.
 * On SIGTERM/SIGINT/SIGQUIT it removes its pins where it may (pm_pause_unpin) and exits.
 * The server (on shutdown) and the pod watchdog (when the server dies) call pm_pause_unpin too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "podmon.h"

enum { KINDS = 5, MAX_MAPPINGS = 340 };

/* The order of conmon-rs's Namespace::iter(), which is also the response's order. */
static const char *const kind_name[KINDS] = {"ipc", "pid", "net", "user", "uts"};
/* Their options. Every option name and CONMON_* variable this file spells is a row of the option
   table (src/Podmon/Cli/OptionTable.cs, command Pause); OptionTableTests checks. */
static const char *const kind_option[KINDS] = {"--ipc", "--pid", "--net", "--user", "--uts"};
static const int kind_flag[KINDS] = {CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUSER, CLONE_NEWUTS};

struct pause_opts {
    const char *base;
    const char *pod;
    int want[KINDS];
    const char *uid[MAX_MAPPINGS], *gid[MAX_MAPPINGS];
    int nuid, ngid;
};

static void fail_line(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dprintf(2, "podmon: error: pause: %s\n", msg);
}

/* "No such file or directory (ENOENT)", as the managed side words errno. */
static const char *describe(int e) {
    static char buf[160];
    const char *name = strerrorname_np(e);
    snprintf(buf, sizeof buf, "%s (%s)", strerror(e), name ? name : "?");
    return buf;
}

int pm_pause_path(char *out, size_t size, const char *base, const char *pod, int kind) {
    int n = kind < 0 ? snprintf(out, size, "%s/conmonrs/%s.pid", base, pod)
                     : snprintf(out, size, "%s/%sns/%s", base, kind_name[kind], pod);
    if (n < 0 || (size_t)n >= size) { errno = ENAMETOOLONG; return -1; }
    return 0;
}

/* "CONTAINER HOST SIZE": three unsigned 32-bit numbers, nothing else. */
static int valid_mapping(const char *m) {
    int fields = 0;
    const char *p = m;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        if (*p < '0' || *p > '9') return 0;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v > 0xffffffffULL || (*end && *end != ' ' && *end != '\t')) return 0;
        p = end;
        fields++;
    }
    return fields == 3;
}

static int parse_bool(const char *flag, const char *v, int *out) {
    int b = v ? pm_parse_bool(v) : 1;
    if (b < 0) {
        fail_line("invalid value '%s' for '%s' (possible values: true, false)", v, flag);
        return -1;
    }
    *out = b;
    return 0;
}

/* argv[0] is "pause". Returns 0, or -1 after printing the usage error. */
static int parse(int argc, char **argv, struct pause_opts *o) {
    memset(o, 0, sizeof *o);
    o->base = getenv("CONMON_PAUSE_BASE_PATH") ? getenv("CONMON_PAUSE_BASE_PATH") : "/var/run";
    o->pod = getenv("CONMON_PAUSE_POD_ID") ? getenv("CONMON_PAUSE_POD_ID") : "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int k = -1;
        for (int j = 0; j < KINDS; j++)
            if (pm_arg_is(a, kind_option[j], &v)) k = j;
        if (k >= 0) {
            if (parse_bool(kind_option[k], v, &o->want[k]) < 0) return -1;
            continue;
        }
        const char **target = NULL;
        int is_uid = 0;
        if (pm_arg_is(a, "--base-path", &v) || pm_arg_is(a, "-p", &v)) target = &o->base;
        else if (pm_arg_is(a, "--pod-id", &v)) target = &o->pod;
        else if (pm_arg_is(a, "--uid-mappings", &v) || pm_arg_is(a, "-u", &v)) is_uid = 1;
        else if (pm_arg_is(a, "--gid-mappings", &v) || pm_arg_is(a, "-g", &v)) is_uid = 0;
        else {
            fail_line("unexpected argument '%s' (see --help)", a);
            return -1;
        }
        if (!v) {
            if (i + 1 == argc) { fail_line("'%s' needs a value", a); return -1; }
            v = argv[++i];
        }
        if (target) { *target = v; continue; }
        if (!valid_mapping(v)) {
            fail_line("%s mapping '%s' has the wrong format, expected 'CONTAINER HOST SIZE' (unsigned 32-bit numbers)", is_uid ? "uid" : "gid", v);
            return -1;
        }
        int *n = is_uid ? &o->nuid : &o->ngid;
        if (*n == MAX_MAPPINGS) { fail_line("more than %d %s mappings", MAX_MAPPINGS, is_uid ? "uid" : "gid"); return -1; }
        (is_uid ? o->uid : o->gid)[(*n)++] = v;
    }
    if (!*o->pod) { fail_line("--pod-id is required"); return -1; }
    if (strchr(o->pod, '/') || !strcmp(o->pod, ".") || !strcmp(o->pod, "..")) {
        fail_line("--pod-id '%s' is not a file name", o->pod);
        return -1;
    }
    if (!*o->base) { fail_line("--base-path is empty"); return -1; }
    if (o->want[3] && (o->nuid == 0 || o->ngid == 0)) {
        fail_line("--user requires --uid-mappings and --gid-mappings");
        return -1;
    }
    return 0;
}

/* mkdir -p, mode 0755. */
static int mkdir_p(const char *path) {
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    strcpy(buf, path);
    for (char *s = buf + 1;; s++) {
        if (*s != '/' && *s != 0) continue;
        char c = *s;
        *s = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
        if (c == 0) break;
        *s = c;
    }
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
}

/* Best effort, idempotent: unmount and remove every pin, then the pid file. Returns 0, or -1 with
   errno of the first failure other than "not there" (EPERM/EBUSY in a pause inside a user ns). */
int pm_pause_unpin(const char *base, const char *pod) {
    int err = 0;
    char path[PATH_MAX];
    for (int k = -1; k < KINDS; k++) {
        if (pm_pause_path(path, sizeof path, base, pod, k) < 0) { err = err ? err : errno; continue; }
        if (k >= 0) while (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {} /* stacked pins too */
        if (unlink(path) < 0 && errno != ENOENT && !err) err = errno;
    }
    if (err) { errno = err; return -1; }
    return 0;
}

/* Messages on the launcher's socket: 'u' user ns made; 'm' maps written (to the pause);
   'P' + pid: the pause is this grandchild; 'R' ready; 'E' + text: failed; 'k' all pinned (to the pause). */
static void send_msg(int sock, char type, const void *data, size_t len) {
    char buf[1100];
    if (len > sizeof buf - 1) len = sizeof buf - 1;
    buf[0] = type;
    memcpy(buf + 1, data, len);
    (void)!send(sock, buf, len + 1, MSG_NOSIGNAL);
}

__attribute__((noreturn)) static void child_fail(int sock, const char *what) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s: %s", what, describe(errno));
    send_msg(sock, 'E', msg, (size_t)n);
    _exit(1);
}

static void reap_all(void) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

/* The pause proper: never returns. */
__attribute__((noreturn)) static void pause_wait(const struct pause_opts *o, int sock) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL); /* blocked signals reach even a pid-namespace init */
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) child_fail(sock, "signalfd");
    if (chdir("/") < 0) child_fail(sock, "chdir /");
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul < 0) child_fail(sock, "open /dev/null");
    for (int fd = 0; fd < 3; fd++) dup2(nul, fd);
    send_msg(sock, 'R', "", 0);
    /* The launcher says 'k' once the pins and the pid file are there. If it dies first (its
       parent, the server, was killed: it has PR_SET_PDEATHSIG), nobody will ever own this pause. */
    char k;
    ssize_t got;
    while ((got = recv(sock, &k, 1, 0)) < 0 && errno == EINTR) {}
    if (got != 1 || k != 'k') {
        pm_pause_unpin(o->base, o->pod);
        _exit(1);
    }
    /* keep only stdio and the signalfd: no fd of the server or the launcher stays open */
    int keep = sfd > 3 ? (dup3(sfd, 3, O_CLOEXEC), 3) : sfd;
    syscall(SYS_close_range, keep + 1, ~0U, 0);
    if (keep > 3) syscall(SYS_close_range, 3, keep - 1, 0);
    struct pollfd p = {.fd = keep, .events = POLLIN};
    for (;;) {
        if (pm_poll_releasing_code(&p, 1) < 0 && errno != EINTR) break;
        struct signalfd_siginfo si;
        ssize_t r = read(keep, &si, sizeof si);
        if (r != (ssize_t)sizeof si) continue;
        if (si.ssi_signo == SIGCHLD) { reap_all(); continue; }
        break;
    }
    pm_pause_unpin(o->base, o->pod);
    _exit(0);
}

/* The launcher's child. With --user it makes the user namespace, waits for its maps, becomes
   root there and unshares the rest (forking once more for a new pid namespace). */
__attribute__((noreturn)) static void child_main(const struct pause_opts *o, int sock, int flags) {
    if (o->want[3]) {
        if (unshare(CLONE_NEWUSER) < 0) child_fail(sock, "unshare(CLONE_NEWUSER)");
        send_msg(sock, 'u', "", 0);
        char b;
        if (recv(sock, &b, 1, 0) != 1 || b != 'm') _exit(1); /* the launcher failed and said why */
        if (setresgid(0, 0, 0) < 0) child_fail(sock, "setresgid 0 in the user namespace");
        if (setresuid(0, 0, 0) < 0) child_fail(sock, "setresuid 0 in the user namespace");
        if (flags && unshare(flags) < 0) child_fail(sock, "unshare");
        if (flags & CLONE_NEWPID) {
            pid_t g = fork();
            if (g < 0) child_fail(sock, "fork into the new pid namespace");
            if (g > 0) {
                int32_t v = g;
                send_msg(sock, 'P', &v, sizeof v);
                _exit(0);
            }
        }
    }
    pause_wait(o, sock);
}

/* Writes all lines of a map in one write(), as the kernel requires. */
static int write_map(pid_t pid, const char *file, const char *const *lines, int n) {
    char path[64], buf[16384];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + len, sizeof buf - len, "%s\n", lines[i]);
        if (w < 0 || (size_t)w >= sizeof buf - len) { errno = E2BIG; return -1; }
        len += (size_t)w;
    }
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t r = write(fd, buf, len);
    int e = errno;
    close(fd);
    if (r != (ssize_t)len) { errno = r < 0 ? e : EIO; return -1; }
    return 0;
}

static int create_pins(const struct pause_opts *o) {
    char path[PATH_MAX];
    if (mkdir_p(o->base) < 0) { fail_line("base path '%s' cannot be created: %s", o->base, describe(errno)); return -1; }
    for (int k = -1; k < KINDS; k++) {
        if (pm_pause_path(path, sizeof path, o->base, o->pod, k) < 0) {
            fail_line("path under base path '%s' is too long", o->base);
            return -1;
        }
        *strrchr(path, '/') = 0;
        if (mkdir_p(path) < 0) {
            fail_line("base path '%s' cannot be written: mkdir '%s': %s", o->base, path, describe(errno));
            return -1;
        }
        if (k < 0) continue;
        pm_pause_path(path, sizeof path, o->base, o->pod, k);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
            fail_line("base path '%s' cannot be written: create '%s': %s", o->base, path, describe(errno));
            return -1;
        }
        close(fd);
    }
    return 0;
}

static int write_pidfile(const struct pause_opts *o, pid_t pid) {
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    pm_pause_path(path, sizeof path, o->base, o->pod, -1);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { fail_line("create '%s': %s", tmp, describe(errno)); return -1; }
    char num[16];
    int n = snprintf(num, sizeof num, "%d", (int)pid);
    int ok = write(fd, num, (size_t)n) == n;
    int e = errno;
    close(fd);
    if (!ok || rename(tmp, path) < 0) {
        fail_line("write '%s': %s", path, describe(ok ? errno : e));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The launcher's side once the child runs: 0 when the pause (*pause) is ready, or -1 (error printed). */
static int launcher_talk(const struct pause_opts *o, int sock, pid_t child, pid_t *pause) {
    *pause = child;
    /* With --user --pid the pause is the child's child: its 'R' and the child's 'P' race. */
    int need_grandchild = o->want[3] && o->want[1], ready = 0;
    for (;;) {
        char buf[1100];
        ssize_t r;
        while ((r = recv(sock, buf, sizeof buf - 1, 0)) < 0 && errno == EINTR) {}
        if (r <= 0) { fail_line("the pause process exited before it was ready"); return -1; }
        buf[r] = 0;
        switch (buf[0]) {
        case 'u':
            if (write_map(child, "gid_map", o->gid, o->ngid) < 0) { fail_line("write gid_map of %d: %s", (int)child, describe(errno)); return -1; }
            if (write_map(child, "uid_map", o->uid, o->nuid) < 0) { fail_line("write uid_map of %d: %s", (int)child, describe(errno)); return -1; }
            send_msg(sock, 'm', "", 0);
            break;
        case 'P':
            if (r >= 5) {
                int32_t v;
                memcpy(&v, buf + 1, sizeof v);
                *pause = v;
                need_grandchild = 0;
            }
            if (ready) return 0;
            break;
        case 'R':
            if (!need_grandchild) return 0;
            ready = 1;
            break;
        case 'E':
            fail_line("%s", buf + 1);
            return -1;
        default:
            break;
        }
    }
}

int pm_pause_main(int argc, char **argv) {
    struct pause_opts o;
    if (parse(argc, argv, &o) < 0) return 2;
    if (create_pins(&o) < 0) return 1;
    int flags = 0;
    for (int k = 0; k < KINDS; k++)
        if (o.want[k] && k != 3) flags |= kind_flag[k];
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) { fail_line("socketpair: %s", describe(errno)); return 1; }
    if (!o.want[3] && flags && unshare(flags) < 0) {
        fail_line("unshare: %s", describe(errno));
        pm_pause_unpin(o.base, o.pod);
        return 1;
    }
    pid_t child = fork();
    if (child < 0) { fail_line("fork: %s", describe(errno)); pm_pause_unpin(o.base, o.pod); return 1; }
    if (child == 0) {
        close(sv[0]);
        child_main(&o, sv[1], flags);
    }
    close(sv[1]);
    pid_t pause;
    int talked = launcher_talk(&o, sv[0], child, &pause);
    if (talked < 0) {
        kill(child, SIGKILL);
        if (pause != child) kill(pause, SIGKILL);
    }
    if (talked < 0 || pause != child) while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {} /* not the pause */
    if (talked < 0) {
        pm_pause_unpin(o.base, o.pod);
        return 1;
    }
    char src[64], path[PATH_MAX];
    for (int k = 0; k < KINDS; k++) {
        snprintf(src, sizeof src, "/proc/%d/ns/%s", (int)pause, kind_name[k]);
        pm_pause_path(path, sizeof path, o.base, o.pod, k);
        if (mount(src, path, NULL, MS_BIND, NULL) < 0) {
            fail_line("bind-mount %s on '%s': %s", src, path, describe(errno));
            kill(pause, SIGKILL);
            pm_pause_unpin(o.base, o.pod);
            return 1;
        }
    }
    if (write_pidfile(&o, pause) < 0) {
        kill(pause, SIGKILL);
        pm_pause_unpin(o.base, o.pod);
        return 1;
    }
    send_msg(sv[0], 'k', "", 0);
    return 0;
}
