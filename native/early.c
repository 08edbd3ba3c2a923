/*
 * Runs before the NativeAOT runtime starts (it creates its finalizer thread before Main):
 *  - blocks the signals podmon reads from a signalfd, so every runtime thread inherits the mask
 *    (otherwise SIGTERM lands on the finalizer thread and kills the process);
 *  - in server mode, closes inherited fds and daemonizes here, because forking once the runtime
 *    exists leaves a child without its finalizer thread;
 *  - in conmon mode, waits for the start byte (_OCI_STARTPIPE) like conmon, then forks: the
 *    launcher waits for the daemon's "ready" (arguments parsed, --conmon-pidfile written) and
 *    exits; the daemon keeps the sync/start/attach fds (3, 4, 5) and continues into Main. With
 *    conmon's --sync (CRI-O's exec-sync) there is no fork: the process the engine started monitors.
 *
 * Mode rule (pm_classify_args; docs/architecture.md "Modes"):
 *  1. `--version`, `--help`, … : no fork (the managed side prints and exits); `pause` runs in
 *     C (pause.c) and never starts the runtime;
 *  2. conmon mode if argv[0]'s basename is "conmon", or _OCI_SYNCPIPE is set, or any argument
 *     is a flag only the C conmon has (conmon_mode_flags; long ones also as `--flag=value`);
 *  3. otherwise the conmon-rs server (daemonized unless --skip-fork / CONMON_SKIP_FORK, whose
 *     value is checked here: a bad one is a usage error, exit 2).
 * Every option name and CONMON_* variable this file spells is a row of the option table
 * (src/Podmon/Cli/OptionTable.cs, parsed by EarlyC); OptionTableTests checks.
 * Linked as a plain .o so the constructor is always part of the binary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "podmon.h"

static int g_ready_fd = -1;
static int g_mode = PM_MODE_OTHER;

int pm_ready_fd(void) { return g_ready_fd; }
int pm_startup_mode(void) { return g_mode; }

static int is_falsy(const char *v) { return pm_parse_bool(v) == 0; }

/* The options of the C conmon only (OptionTable.ConmonModeNames: OptionTableTests compares). */
static const char *const conmon_mode_flags[] = {"--api-version", "--cid", "--cuuid", "-u", "--bundle", "-b",
    "--container-pidfile", "-p", "--conmon-pidfile", "-P", "--exit-dir", "--exit-command", "--exit-command-arg",
    "--runtime-arg", "--exec-process-spec", "--socket-dir-path", "--full-attach"};

static int is_conmon_flag(const char *a) {
    const char *v;
    for (size_t i = 0; i < sizeof conmon_mode_flags / sizeof conmon_mode_flags[0]; i++) {
        const char *f = conmon_mode_flags[i];
        if (f[1] == '-' ? pm_arg_is(a, f, &v) : !strcmp(a, f)) return 1;
    }
    return 0;
}

/* A bad boolean (--skip-fork=VALUE, CONMON_SKIP_FORK) is a usage error, worded as the managed parser words them. */
__attribute__((noreturn)) static void bad_bool(const char *value, const char *source) {
    dprintf(2, "podmon: error: invalid value '%s' for '%s' (possible values: true, false)\n", value, source);
    _exit(2);
}

/* What the managed parser will do, decided from argv alone (see the rule at the top). */
int pm_classify_args(int argc, char **argv, char **envp) {
    (void)envp;
    const char *base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
    base = base ? base + 1 : (argc > 0 && argv[0] ? argv[0] : "");
    int conmon = !strcmp(base, "conmon") || getenv("_OCI_SYNCPIPE") != NULL;
    int skip = -1; /* -1: no --skip-fork */
    const char *bad = NULL, *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) break;
        if (!strcmp(a, "pause") || !strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "-v") ||
            pm_arg_is(a, "--version", &v) || pm_arg_is(a, "--version-json", &v))
            return PM_MODE_OTHER;
        if (is_conmon_flag(a)) conmon = 1;
        if (pm_arg_is(a, "--skip-fork", &v)) {
            skip = v ? pm_parse_bool(v) : 1;
            if (skip < 0 && !bad) bad = v;
        }
    }
    if (conmon) return PM_MODE_CONMON;
    if (getenv("CONMON_VERSION")) return PM_MODE_OTHER;
    if (bad) bad_bool(bad, "--skip-fork");
    /* The command line wins over CONMON_SKIP_FORK, which must be a boolean all the same. */
    const char *env = getenv("CONMON_SKIP_FORK");
    int env_skip = env ? pm_parse_bool(env) : 0;
    if (env_skip < 0) bad_bool(env, "CONMON_SKIP_FORK");
    return (skip >= 0 ? skip : env_skip) ? PM_MODE_SERVER_FOREGROUND : PM_MODE_SERVER_DAEMON;
}

static void launcher_wait(int rfd, pid_t pid) {
    char buf[4096];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(rfd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == sizeof buf - 1) break;
    }
    buf[len] = 0;
    if ((len >= 9 && !memcmp(buf, "listening", 9)) || (len >= 5 && !memcmp(buf, "ready", 5))) _exit(0);
    /* "error <code> <message>\n" from the daemon, or it died before saying anything. */
    if (len > 6 && !memcmp(buf, "error ", 6)) {
        char *end;
        long code = strtol(buf + 6, &end, 10);
        if (*end == ' ') end++;
        (void)!write(2, end, strlen(end));
        _exit(code > 0 && code < 256 ? (int)code : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    char msg[160];
    int m = snprintf(msg, sizeof msg, "podmon: error: server exited before it was ready (wait status 0x%x)\n", st);
    (void)!write(2, msg, (size_t)m);
    _exit(1);
}

/* conmon's --sync (CRI-O's exec-sync monitors): "keep the main conmon process as its child by
   only forking once": no launcher, the engine waits for this process and reads its exit status. */
static int has_sync_flag(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--sync")) return 1;
    }
    return 0;
}

/* conmon's passthrough log driver (`-l passthrough`, `--log-path=passthrough`, `-lpassthrough`):
   the container gets the monitor's own stdio. */
static int has_passthrough_log(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--")) break;
        if (!strcmp(a, "-l") || !strcmp(a, "--log-path")) v = i + 1 < argc ? argv[++i] : NULL;
        else if (!strncmp(a, "-l", 2)) v = a + 2;
        else if (!pm_arg_is(a, "--log-path", &v)) continue;
        if (v && !strcmp(v, "passthrough")) return 1;
    }
    return 0;
}

/* The daemon's side of a fork: a session leader with stdio on /dev/null unless keep_stdio. */
static int daemon_setup(int ready_w, int keep_stdio) {
    setsid();
    if (keep_stdio) return ready_w;
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0); dup2(nul, 1); dup2(nul, 2);
        if (nul > 2) close(nul);
    }
    return ready_w;
}

/* Forks; the launcher (parent) waits for the daemon's word and exits (launcher_wait never
   returns). The daemon gets the CLOEXEC write end of that pipe, is a session leader and has
   its stdio on /dev/null, unless keep_stdio (passthrough: the monitor hands it to the runtime
   and then puts /dev/null there itself). */
static int fork_daemon(int keep_stdio) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) { perror("podmon: pipe2"); _exit(1); }
    pid_t pid = fork();
    if (pid < 0) { perror("podmon: fork"); _exit(1); }
    if (pid > 0) { close(p[1]); launcher_wait(p[0], pid); }
    close(p[0]);
    return daemon_setup(p[1], keep_stdio);
}

/* The start byte (_OCI_STARTPIPE): the engine writes it once it has moved the launcher into the
   monitors' cgroup. */
static void wait_start_byte(int fd) {
    char b;
    while (read(fd, &b, 1) < 0 && errno == EINTR) {}
}

/* conmon mode. With a start pipe, the daemon is forked at once and starts the .NET runtime while
   the launcher waits for the start byte (the engine moves the launcher into its cgroup meanwhile);
   the launcher then waits until the daemon has reached Main (its runtime has started: it says
   so on a third pipe), moves it into every cgroup it is in itself and writes "go", which
   pm_conmon_await_go (first thing in Main) waits for. Like conmon, whose start-up pages are
   touched before the move: the runtime's start-up memory stays charged to the engine's cgroup,
   not to the monitors', and everything the monitor does from Main on is charged to the
   monitors' cgroup, however busy the machine (without the wait, a runtime still starting when
   the start byte came charged the rest of its start-up to the monitors' cgroup). If the move
   fails, that daemon exits without having done anything and the launcher falls back to forking
   a daemon after the start byte (the runtime then starts inside the cgroup). Without a start pipe nothing moves the launcher: fork at once, no go needed.
   The launcher exits when the daemon reports "ready" (or prints its error). The inherited fds
   (sync 3, start 4, attach 5) stay open in the daemon. */
static int g_go_fd = -1;
static int g_started_fd = -1;

/* GC settings for a monitor of one container, given to the runtime through its environment
   (it reads DOTNET_* at start-up) and removed from the environment in Main (pm_conmon_await_go),
   so runc, exit commands and containers never inherit them. One the caller set is left alone.
   GCRegionRange (hex) 64 MiB instead of 256 GiB: the GC's bookkeeping is sized for the range
   it reserves (a conmon-mode heap is a few hundred kB; the server keeps the default). */
static const char *const conmon_gc_knobs[][2] = {{"DOTNET_GCRegionRange", "4000000"}};
static int g_knob_set[sizeof conmon_gc_knobs / sizeof conmon_gc_knobs[0]];

static void set_conmon_gc_knobs(void) {
    for (size_t i = 0; i < sizeof conmon_gc_knobs / sizeof conmon_gc_knobs[0]; i++)
        if (!getenv(conmon_gc_knobs[i][0])) g_knob_set[i] = setenv(conmon_gc_knobs[i][0], conmon_gc_knobs[i][1], 0) == 0;
}

static void conmon_daemonize(int argc, char **argv) {
    const char *s = getenv("_OCI_STARTPIPE");
    int keep_stdio = has_passthrough_log(argc, argv);
    int start_fd = s && *s ? atoi(s) : -1;
    set_conmon_gc_knobs(); /* before the fork: the daemon's runtime reads them */
    if (has_sync_flag(argc, argv)) {
        /* No fork: this process is the monitor. Its stdio stays until Main has checked the command
           line (conmon prints those errors to the engine's stderr too), then goes to /dev/null. */
        if (start_fd >= 0) wait_start_byte(start_fd);
        setsid();
        return;
    }
    const char *early = getenv("PODMON_EARLY_START");
    if (start_fd < 0 || (early && is_falsy(early))) {
        if (start_fd >= 0) wait_start_byte(start_fd);
        g_ready_fd = fork_daemon(keep_stdio);
        return;
    }
    int go[2], p[2], started[2];
    if (pipe2(go, O_CLOEXEC) < 0 || pipe2(p, O_CLOEXEC) < 0 || pipe2(started, O_CLOEXEC) < 0) { perror("podmon: pipe2"); _exit(1); }
    pid_t pid = fork();
    if (pid < 0) { perror("podmon: fork"); _exit(1); }
    if (pid == 0) {
        close(go[1]);
        close(p[0]);
        close(started[0]);
        g_go_fd = go[0];
        g_started_fd = started[1];
        g_ready_fd = daemon_setup(p[1], keep_stdio);
        return;
    }
    close(go[0]);
    close(p[1]);
    close(started[1]);
    wait_start_byte(start_fd);
    char err[512], b;
    ssize_t n;
    while ((n = read(started[0], &b, 1)) < 0 && errno == EINTR) {}
    close(started[0]);
    if (n != 1) snprintf(err, sizeof err, "the monitor exited before its runtime started");
    else if (pm_cgroup_join(pid, err, sizeof err) == 0 && write(go[1], "g", 1) == 1) launcher_wait(p[0], pid);
    /* The daemon has done nothing yet but start the runtime: it exits on EOF instead of "go". */
    char msg[640];
    int m = snprintf(msg, sizeof msg, "podmon: warning: early start: %s; starting the monitor after the start byte\n", err);
    (void)!write(2, msg, (size_t)m);
    close(go[1]);
    close(p[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    g_ready_fd = fork_daemon(keep_stdio);
}

int pm_conmon_await_go(void) {
    for (size_t i = 0; i < sizeof conmon_gc_knobs / sizeof conmon_gc_knobs[0]; i++)
        if (g_knob_set[i]) unsetenv(conmon_gc_knobs[i][0]);
    if (g_go_fd < 0) return 0;
    if (g_started_fd >= 0) {
        (void)!write(g_started_fd, "s", 1);
        close(g_started_fd);
        g_started_fd = -1;
    }
    char b = 0;
    ssize_t n;
    while ((n = read(g_go_fd, &b, 1)) < 0 && errno == EINTR) {}
    close(g_go_fd);
    g_go_fd = -1;
    if (n != 1 || b != 'g') _exit(0);
    return 1;
}

/* Index of the `pause` subcommand (global flags may come before it), 0 if none or with --help. */
static int pause_index(int argc, char **argv) {
    int at = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!at && !strcmp(argv[i], "pause")) at = i;
        else if (at && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) return 0;
    }
    return at;
}

__attribute__((constructor(101))) static void pm_early(int argc, char **argv, char **envp) {
    sigset_t m;
    pm_fill_blocked_sigset(&m);
    sigprocmask(SIG_BLOCK, &m, NULL);

    /* The pod watchdog (watchdog.c), spawned by the server with its socket at fd 3: it never
       starts the runtime. */
    if (argc == 2 && !strcmp(argv[1], "--pod-watchdog")) _exit(pm_watchdog_main(3));
    /* `podmon pause ...` (pause.c): the pause process must not carry a runtime. `--help` after
       it is left to the managed usage text. */
    int pause_at = pause_index(argc, argv);
    if (pause_at > 0) _exit(pm_pause_main(argc - pause_at, argv + pause_at));

    int mode = g_mode = pm_classify_args(argc, argv, envp);
    if (mode == PM_MODE_OTHER) return;
    if (mode == PM_MODE_CONMON) { conmon_daemonize(argc, argv); return; }
    if (mode == PM_MODE_SERVER_FOREGROUND) {
        syscall(SYS_close_range, 3, ~0U, 0);
        return;
    }
    /* The daemon: continues into the runtime and Main, with the ready pipe at fd 3 and no other inherited fd. */
    int w = fork_daemon(0);
    if (w != 3) { dup3(w, 3, O_CLOEXEC); close(w); }
    g_ready_fd = 3;
    syscall(SYS_close_range, 4, ~0U, 0);
}
