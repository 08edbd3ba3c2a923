#!/usr/bin/env python3
"""CI bench: podmon next to Debian's conmon in the same run, a few minutes long.

Measures, on real runc containers (busybox, cgroupfs, CRI-O style launches):
1. idle memory, no activity for 2.5 s: the server with no container; a monitor with one `sleep`
   container, podmon in conmon mode and conmon. VmRSS, Pss, Pss_Anon (kB).
2. N = 1, 10, 50 running containers: podmon server + pod watchdog vs the sum over N conmons.
   memcg: N idle conmon-mode monitors (podmon / conmon) launched the way podman and CRI-O do
   it (start pipe; the launcher moved into a fresh memory cgroup before the start byte); the
   cgroup's charge per monitor (usage, of which anonymous and kernel memory), what limits, OOM
   decisions and node accounting see.
3. launch -> socket ready: exec of a foreground server -> conmon.sock created (inotify), and
   the daemon launcher's exec -> exit (it exits once the server listens).
4. create: bare `runc create` vs podmon createContainer (raw frames, fresh connection), podmon in
   conmon mode and conmon (launch -> pid on the sync pipe); exec-sync `true`: bare `runc exec` vs
   podmon execSyncContainer and podmon / conmon `--exec` (launch -> exit code on the sync pipe).
   Interleaved in a shuffled order; the overhead is the median of the per-iteration differences
   from bare runc.
5. RPC: the server's CPU (schedstat) per call over `conmon-rpc stress-version`.
6. logs: a container writes 200 MiB to stdout (no newline / 100-byte lines); the monitor's CPU
   (schedstat of the server, or of the conmon-mode monitor / conmon kept as a zombie).

Writes .build/bench/ci.json, ci.md (the table) and ci.svg (memory vs container count, CPU per
200 MiB); bench/report.py regenerates the README table from the JSON. Memory is gated (medians):
idle server VmRSS <= 1024 kB, conmon-mode monitor VmRSS <= 1024 kB, server + watchdog Pss with
50 containers <= 1536 kB, memcg charge per conmon-mode monitor with 10 monitors <= 320 kB
(measured 209-276 kB, conmon 264-396 kB); each gate prints "PASS bench_gate_..." or "FAIL bench_gate_..."
(tests/run.sh counts them). Times and CPU are reported, never gated. Exit 1 only if the bench
itself broke.
usage: bench/ci.py [--rounds 3] [--counts 1,10,50] [--runs 15] [--log-runs 3] [--log-mb 200] [--out DIR]
"""
import argparse, datetime, json, os, random, shutil, signal, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl
import report
from crirpc import ExitWatch, cpu_sched, libc, raw_create, raw_exec, watchdog_of

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--rounds", type=int, default=3, help="rounds of every memory measurement")
ap.add_argument("--counts", default="1,10,50")
ap.add_argument("--runs", type=int, default=15, help="create / exec / launch iterations")
ap.add_argument("--log-runs", type=int, default=3)
ap.add_argument("--log-mb", type=int, default=200)
ap.add_argument("--calls", type=int, default=10000, help="version calls per stress run (3 runs)")
ap.add_argument("--out", default=os.path.join(bl.ROOT, ".build", "bench"))
a = ap.parse_args()

CLIENT = os.path.join(bl.INTEROP, "conmon-rpc")  # tests/interop, built by tests/run.sh
DEVNULL = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
SETTLE = 2.5          # the idle collector runs 1 s after the last activity
GATES = [             # (name, what, limit kB)
    ("idle_server_vmrss", "idle server VmRSS", 1024),
    ("conmon_mode_monitor_vmrss", "conmon-mode monitor VmRSS (1 container)", 1024),
    ("server_watchdog_pss_50", "server + watchdog Pss, 50 containers", 1536),
    ("conmon_mode_memcg_10", "memcg charge per conmon-mode monitor, 10 monitors", 320),
]

bl.WORK = tempfile.mkdtemp(prefix="podmon-bench-ci-")
RROOT = bl.runc_root()
EXITS, LOGS, SOCKS = (os.path.join(bl.WORK, d) for d in ("exits", "logs", "socks"))
for d in (EXITS, LOGS, SOCKS):
    os.makedirs(d)
rootfs = bl.busybox_rootfs()
if not os.path.lexists(os.path.join(rootfs, "bin", "tr")):
    os.symlink("busybox", os.path.join(rootfs, "bin", "tr"))
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: daemonized monitors come back here
TAG = f"ci{os.getpid()}"
CREATED, SERVERS = set(), set()


reap = bl.reap


def runc(*args, check=True):
    return subprocess.run([bl.RUNC, "--root", RROOT, *args], stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, check=check)


def cleanup(cid):
    bl.remove_container(cid)
    CREATED.discard(cid)
    shutil.rmtree(os.path.join(bl.WORK, "bundles", cid), ignore_errors=True)
    for p in (os.path.join(EXITS, cid), os.path.join(LOGS, cid + ".log"), os.path.join(SOCKS, cid)):
        try:
            os.unlink(p)
        except OSError:
            pass


def start_server():
    return bl.start_server(RROOT, SERVERS)


def stop_server(d, pid):
    bl.stop_server(d, pid, SERVERS)


def server_create(sock, cid, args):
    b = bl.bundle(cid, args)
    CREATED.add(cid)
    return raw_create(sock, cid, b, os.path.join(EXITS, cid), os.path.join(LOGS, cid + ".log"))


def monitor_argv(binary, cid, b, extra=()):
    """The C conmon command line as CRI-O passes it; `binary` is conmon or podmon (conmon mode)."""
    return [binary, "--api-version", "1", "-c", cid, "-u", cid, "-n", cid, "-r", bl.RUNC,
            "--runtime-arg", "--root=" + RROOT, "-b", b, "-p", b + "/pidfile", "-P", b + "/conmon.pid",
            "--exit-dir", EXITS, "--socket-dir-path", SOCKS, "--log-level", "warning", *extra]


def launch(argv, messages=1):
    """Runs a conmon-style launcher with a sync pipe; returns (seconds to the last awaited
    message, the messages' data)."""
    r, w = os.pipe()
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=dict(os.environ, _OCI_SYNCPIPE=str(w)), pass_fds=(w,),
                         stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
    os.close(w)
    buf = b""
    while buf.count(b"\n") < messages:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        buf += chunk
    dt = time.perf_counter() - t0
    os.close(r)
    p.wait()
    data = [json.loads(x)["data"] for x in buf.decode().splitlines()]
    if len(data) < messages or data[0] <= 0:
        raise RuntimeError(f"{argv[0]} {argv[5]}: sync pipe said {buf!r}")
    return dt, data


def launch_monitor(binary, cid, args):
    """Starts a container under one conmon-style monitor; returns (seconds to its pid, monitor pid)."""
    b = bl.bundle(cid, args)
    CREATED.add(cid)
    dt, _ = launch(monitor_argv(binary, cid, b, ("-l", "k8s-file:" + os.path.join(LOGS, cid + ".log"))))
    return dt, int(open(b + "/conmon.pid").read())


def kill_monitored(cids, pids):
    """SIGKILLs the containers and waits until their monitors have exited (and are reaped here)."""
    for cid in cids:
        runc("kill", cid, "KILL", check=False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in pids):
        reap()
        time.sleep(0.02)
    for cid in cids:
        cleanup(cid)
    reap()


def mem_fields(m):
    return {k: m[k] for k in ("VmRSS", "Pss", "Pss_Anon")}


# ---------------------------------------------------------------- 1 + 2. memory

def idle_server():
    d, pid, _ = start_server()
    try:
        time.sleep(SETTLE)
        return mem_fields(bl.mem(pid))
    finally:
        stop_server(d, pid)


def idle_monitor(binary, kind, rnd):
    cid = f"{TAG}-idle-{kind}-{rnd}"
    _, mpid = launch_monitor(binary, cid, ["sleep", "3600"])
    try:
        runc("start", cid)
        time.sleep(SETTLE)
        return mem_fields(bl.mem(mpid))
    finally:
        kill_monitored([cid], [mpid])


def scale_podmon(n, rnd):
    d, pid, sock = start_server()
    ids = [f"{TAG}-s{n}-{rnd}-{i}" for i in range(n)]
    try:
        for cid in ids:
            server_create(sock, cid, ["sleep", "3600"])
            runc("start", cid)
        time.sleep(SETTLE)
        wd = watchdog_of(pid)
        return {"server": mem_fields(bl.mem(pid)), "watchdog": mem_fields(bl.mem(wd)) if wd else None}
    finally:
        stop_server(d, pid)
        for cid in ids:
            cleanup(cid)


def scale_conmon(n, rnd):
    ids, pids = [f"{TAG}-c{n}-{rnd}-{i}" for i in range(n)], []
    try:
        for cid in ids:
            pids.append(launch_monitor(bl.CONMON, cid, ["sleep", "3600"])[1])
            runc("start", cid)
        time.sleep(SETTLE)
        return [mem_fields(bl.mem(p)) for p in pids]
    finally:
        kill_monitored(ids, pids)


# ---------------------------------------------------------------- 2b. memcg charge

def memcg_new(name):
    """A fresh memory cgroup (v1 memory hierarchy, else v2), standing for libpod_parent/conmon."""
    v1 = "/sys/fs/cgroup/memory"
    d = f"{v1 if os.path.exists(v1 + '/memory.usage_in_bytes') else '/sys/fs/cgroup'}/podmon-bench-{name}"
    os.makedirs(d, exist_ok=True)
    return d


def memcg_read(d):
    """usage, anonymous and kernel memory charged to cgroup d (bytes)."""
    st = dict(l.split() for l in open(d + "/memory.stat"))
    if os.path.exists(d + "/memory.usage_in_bytes"):
        kmem = d + "/memory.kmem.usage_in_bytes"
        return {"usage": int(open(d + "/memory.usage_in_bytes").read()), "anon": int(st["rss"]),
                "kernel": int(open(kmem).read()) if os.path.exists(kmem) else 0}
    return {"usage": int(open(d + "/memory.current").read()), "anon": int(st["anon"]), "kernel": int(st.get("kernel", 0))}


def memcg_remove(cg):
    """Removes a bench cgroup once its last process is gone (within 5 s)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.rmdir(cg)
            return
        except OSError:
            time.sleep(0.05)


def launch_charged(argv, cg):
    """Like podman: start pipe, the launcher moved into cg, then the start byte; returns the sync pipe's pid."""
    r, w = os.pipe()
    sr, sw = os.pipe()
    p = subprocess.Popen(argv, env=dict(os.environ, _OCI_SYNCPIPE=str(w), _OCI_STARTPIPE=str(sr)), pass_fds=(w, sr),
                         stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
    os.close(w)
    os.close(sr)
    # podman moves the launcher after its own cgroup set-up (ms); moving it the instant it has
    # exec'd would race its start-up. Move it once it blocks reading the start pipe.
    want = f"0 {hex(sr)} "
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if open(f"/proc/{p.pid}/syscall").read().startswith(want):
                break
        except OSError:
            break
        time.sleep(0.0005)
    with open(cg + "/cgroup.procs", "w") as f:
        f.write(str(p.pid))
    os.write(sw, b"0")
    buf = b""
    while b"\n" not in buf:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        buf += chunk
    os.close(r)
    os.close(sw)
    p.wait()
    if not buf.startswith(b'{"data": ') or json.loads(buf.splitlines()[0])["data"] <= 0:
        raise RuntimeError(f"{argv[0]}: sync pipe said {buf!r}")


def scale_memcg(binary, kind, n, rnd):
    """memcg charge per idle monitor (kB) with n monitors in one fresh cgroup."""
    cg = memcg_new(f"{TAG}-{kind}{n}-{rnd}")
    ids = [f"{TAG}-m{kind}{n}-{rnd}-{i}" for i in range(n)]
    pids = []
    try:
        before = memcg_read(cg)
        for cid in ids:
            b = bl.bundle(cid, ["sleep", "3600"])
            CREATED.add(cid)
            launch_charged(monitor_argv(binary, cid, b, ("-l", "k8s-file:" + os.path.join(LOGS, cid + ".log"))), cg)
            pids.append(int(open(b + "/conmon.pid").read()))
            runc("start", cid)
        time.sleep(SETTLE)
        after = memcg_read(cg)
        return {k: (after[k] - before[k]) / 1024 / n for k in after}
    finally:
        kill_monitored(ids, pids)
        memcg_remove(cg)


def scale_memcg_server(n, rnd):
    """memcg charge (kB) of one podmon server and its watchdog serving n idle containers: the whole
    pod's monitor, started inside a fresh cgroup (its start-up charged there too, nothing before it)."""
    cg = memcg_new(f"{TAG}-s{n}-{rnd}")
    d = tempfile.mkdtemp(prefix="pm-", dir=bl.WORK)
    ids = [f"{TAG}-ms{n}-{rnd}-{i}" for i in range(n)]
    pid = None
    try:
        before = memcg_read(cg)
        subprocess.run(["/bin/sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec "$@"', "sh", bl.PODMON, "--runtime", bl.RUNC,
                        "--runtime-dir", d, "--runtime-root", RROOT, "--log-driver", "none", "--cgroup-manager", "cgroupfs"], check=True)
        pid = int(open(os.path.join(d, "pidfile")).read())
        SERVERS.add(pid)
        sock = os.path.join(d, "conmon.sock")
        for cid in ids:
            server_create(sock, cid, ["sleep", "3600"])
            runc("start", cid)
        time.sleep(SETTLE)
        after = memcg_read(cg)
        return {k: (after[k] - before[k]) / 1024 for k in after}
    finally:
        if pid is not None:
            stop_server(d, pid)
        for cid in ids:
            cleanup(cid)
        memcg_remove(cg)


# ---------------------------------------------------------------- 3. launch

def launch_times():
    fg, launcher = [], []
    for _ in range(a.runs):
        d = tempfile.mkdtemp(prefix="st-", dir=bl.WORK)
        p, t = bl.wait_created(d, "conmon.sock", [bl.PODMON, "--runtime", bl.RUNC, "--runtime-dir", d,
                                                  "--log-driver", "none", "--skip-fork"])
        fg.append(t)
        p.terminate()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)
        d = tempfile.mkdtemp(prefix="st-", dir=bl.WORK)
        t0 = time.perf_counter()
        subprocess.run([bl.PODMON, "--runtime", bl.RUNC, "--runtime-dir", d, "--log-driver", "none"], check=True)
        launcher.append(time.perf_counter() - t0)
        stop_server(d, int(open(os.path.join(d, "pidfile")).read()))
    return {"podmon_socket_foreground": fg, "podmon_launcher": launcher}


# ---------------------------------------------------------------- 4. create and exec-sync

def wait_exit_file(cid, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not os.path.exists(os.path.join(EXITS, cid)):
        time.sleep(0.005)


def create_times():
    d, pid, sock = start_server()
    t = {"runc": [], "podmon": [], "podmon_conmon_mode": [], "conmon": []}
    rng = random.Random(14)
    try:
        def one(kind, i):
            cid = f"{TAG}-cr-{kind}-{i}"
            if kind == "runc":
                b = bl.bundle(cid, ["true"])
                CREATED.add(cid)
                t0 = time.perf_counter()
                runc("create", "--bundle", b, "--pid-file", b + "/pidfile", cid)
                dt = time.perf_counter() - t0
            elif kind == "podmon":
                b = bl.bundle(cid, ["true"])
                CREATED.add(cid)
                t0 = time.perf_counter()
                raw_create(sock, cid, b, os.path.join(EXITS, cid), os.path.join(LOGS, cid + ".log"))
                dt = time.perf_counter() - t0
            else:
                dt, _ = launch_monitor(bl.PODMON if kind == "podmon_conmon_mode" else bl.CONMON, cid, ["true"])
            runc("delete", "--force", cid, check=False)
            if kind != "runc":
                wait_exit_file(cid)
            cleanup(cid)
            reap()
            return dt

        kinds = list(t)
        for k in kinds:
            one(k, "warm")
        for i in range(a.runs):
            rng.shuffle(kinds)
            for k in kinds:
                t[k].append(one(k, i))
    finally:
        stop_server(d, pid)
    return t


def exec_times():
    d, pid, sock = start_server()
    cid = f"{TAG}-exec"
    t = {"runc": [], "podmon": [], "podmon_conmon_mode": [], "conmon": []}
    rng = random.Random(15)
    spec = os.path.join(bl.WORK, "exec-process.json")
    json.dump({"args": ["true"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}, "terminal": False},
              open(spec, "w"))
    try:
        server_create(sock, cid, ["sleep", "3600"])
        runc("start", cid)
        b = os.path.join(bl.WORK, "bundles", cid)
        n = [0]

        def one(kind):
            n[0] += 1
            if kind == "runc":
                t0 = time.perf_counter()
                runc("exec", cid, "true")
                return time.perf_counter() - t0
            if kind == "podmon":
                t0 = time.perf_counter()
                code = raw_exec(sock, cid, ["true"])
                dt = time.perf_counter() - t0
                assert code == 0, code
                return dt
            binary = bl.PODMON if kind == "podmon_conmon_mode" else bl.CONMON
            argv = [binary, "--api-version", "1", "-c", cid, "-u", f"x{n[0]}", "-r", bl.RUNC, "-b", b,
                    "-p", os.path.join(bl.WORK, f"exec-{n[0]}.pid"), "-l", "k8s-file:" + os.path.join(LOGS, f"exec-{n[0]}.log"),
                    "--exit-dir", EXITS, "--socket-dir-path", SOCKS, "-e", "--exec-process-spec", spec,
                    "--runtime-arg", "--root=" + RROOT, "--log-level", "warning"]
            dt, data = launch(argv, messages=2)
            assert data[1] == 0, data
            reap()
            return dt

        kinds = list(t)
        for k in kinds:
            one(k)
        for _ in range(a.runs):
            rng.shuffle(kinds)
            for k in kinds:
                t[k].append(one(k))
    finally:
        stop_server(d, pid)
        cleanup(cid)
    return t


# ---------------------------------------------------------------- 5. RPC

def rpc_cpu():
    d, pid, sock = start_server()
    try:
        subprocess.run([CLIENT, sock, "version"], check=True, stdout=DEVNULL)
        per_call = []
        for _ in range(3):
            c0 = cpu_sched(pid)
            out = subprocess.run([CLIENT, sock, "stress-version", str(a.calls)], check=True, capture_output=True, text=True).stdout
            per_call.append((cpu_sched(pid) - c0) / a.calls)
            assert json.loads(out)["calls"] == a.calls, out
        return {"calls": a.calls, "cpu_per_call_s": per_call}
    finally:
        stop_server(d, pid)


# ---------------------------------------------------------------- 6. logs

NBYTES = a.log_mb * 1024 * 1024
PATTERNS = bl.log_patterns(NBYTES)
# conmon-mode monitors on each IO path (PODMON_IO), the server on the default one
IO_PATHS = bl.IO_PATHS


def log_server(pattern, i):
    d, pid, sock = start_server()
    cid = f"{TAG}-ls-{pattern}-{i}"
    try:
        w = ExitWatch(EXITS)
        c0 = cpu_sched(pid)
        server_create(sock, cid, ["sh", "-c", PATTERNS[pattern]])
        runc("start", cid)
        w.wait(cid)
        w.close()
        cpu = cpu_sched(pid) - c0
        check_log(cid)
        return cpu
    finally:
        stop_server(d, pid)
        cleanup(cid)


def log_monitor(binary, kind, pattern, i, io=None):
    """(CPU, seconds from `runc start` to the exit file) of one conmon-style monitor. The CPU is the
    zombie's utime + stime (10 ms ticks): every thread, io_uring's kernel workers included, and
    not the children it reaped (wait4's rusage would add the container's own CPU)."""
    cid = f"{TAG}-l{kind}-{pattern}-{i}"
    try:
        w = ExitWatch(EXITS)
        with bl.io_path(io):
            _, mpid = launch_monitor(binary, cid, ["sh", "-c", PATTERNS[pattern]])
        t0 = time.perf_counter()
        runc("start", cid)
        wall = w.wait(cid) - t0
        w.close()
        os.waitid(os.P_PID, mpid, os.WEXITED | os.WNOWAIT)   # the zombie still shows its whole CPU
        f = open(f"/proc/{mpid}/stat").read().rsplit(")", 1)[1].split()
        cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime: every thread, not the reaped children
        os.waitpid(mpid, 0)
        check_log(cid)
        return cpu, wall
    finally:
        cleanup(cid)
        reap()


def check_log(cid):
    code = open(os.path.join(EXITS, cid)).read().strip()
    size = os.path.getsize(os.path.join(LOGS, cid + ".log"))
    if code != "0" or size < NBYTES:
        raise RuntimeError(f"{cid}: exit code {code}, log {size} bytes (< {NBYTES})")


def log_cpu():
    """Per pattern: CPU lists per monitor kind, and "wall" (runc start -> exit file) per conmon-style kind."""
    res = {}
    for pattern in PATTERNS:
        r = {"podmon": [], "podmon_conmon_mode": [], "podmon_conmon_mode_io_uring": [], "conmon": []}
        wall = {k: [] for k in r if k != "podmon"}
        for i in range(a.log_runs):
            r["podmon"].append(log_server(pattern, i))
            for io in IO_PATHS:
                k = "podmon_conmon_mode" + ("" if io == "epoll" else "_" + io)
                c, t = log_monitor(bl.PODMON, "p" + io[0], pattern, i, io)
                r[k].append(c)
                wall[k].append(t)
            c, t = log_monitor(bl.CONMON, "c", pattern, i)
            r["conmon"].append(c)
            wall["conmon"].append(t)
        r["wall"] = wall
        res[pattern] = r
    return res


# ---------------------------------------------------------------- main

def tool_version(argv, line=0):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.splitlines()[line].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def step(name, fn):
    t0 = time.time()
    r = fn()
    print(f"bench: {name} done in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return r


def main():
    counts = [int(x) for x in a.counts.split(",")]
    started = time.time()
    data = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "podmon": tool_version([bl.PODMON, "--version"], line=1).removeprefix("commit: "),
            "conmon": tool_version([bl.CONMON, "--version"]),
            "runc": tool_version([bl.RUNC, "--version"]),
            "cpus": os.cpu_count(),
            "load_start": open("/proc/loadavg").read().split()[0],
            "rounds": a.rounds, "runs": a.runs, "log_runs": a.log_runs, "log_mb": a.log_mb,
        },
        "idle": {"server": [], "conmon_mode": [], "conmon": []},
        "scale": {str(n): {"podmon": [], "conmon": []} for n in counts},
        "memcg": {str(n): {"conmon_mode": [], "conmon": [], "server": []} for n in counts},
    }

    def idle():
        for r in range(a.rounds):
            data["idle"]["server"].append(idle_server())
            data["idle"]["conmon_mode"].append(idle_monitor(bl.PODMON, "p", r))
            data["idle"]["conmon"].append(idle_monitor(bl.CONMON, "c", r))

    def scale():
        for n in counts:
            for r in range(a.rounds):
                data["scale"][str(n)]["podmon"].append(scale_podmon(n, r))
                data["scale"][str(n)]["conmon"].append(scale_conmon(n, r))

    def memcg():
        for n in counts:
            for r in range(a.rounds):
                data["memcg"][str(n)]["conmon_mode"].append(scale_memcg(bl.PODMON, "p", n, r))
                data["memcg"][str(n)]["conmon"].append(scale_memcg(bl.CONMON, "c", n, r))
                data["memcg"][str(n)]["server"].append(scale_memcg_server(n, r))

    step("idle memory", idle)
    step("memory vs container count", scale)
    step("memcg charge", memcg)
    data["launch"] = step("launch", launch_times)
    data["create"] = step("create", create_times)
    data["exec"] = step("exec-sync", exec_times)
    data["rpc"] = step("rpc", rpc_cpu)
    data["log"] = step("logs", log_cpu)
    data["meta"]["seconds"] = round(time.time() - started)
    data["meta"]["load_end"] = open("/proc/loadavg").read().split()[0]
    data["gates"] = gates(data)
    return data


def gates(data):
    s = report.summary(data)
    values = {"idle_server_vmrss": s["idle_server"]["VmRSS"],
              "conmon_mode_monitor_vmrss": s["idle_conmon_mode"]["VmRSS"],
              "server_watchdog_pss_50": s["scale"].get("50", {}).get("podmon_pss"),
              "conmon_mode_memcg_10": s["memcg"].get("10", {}).get("conmon_mode_usage")}
    return [{"name": name, "what": what, "limit_kb": limit, "value_kb": values[name],
             "ok": values[name] is not None and values[name] <= limit} for name, what, limit in GATES]


try:
    result = main()
finally:
    bl.teardown(SERVERS, CREATED, cleanup)

os.makedirs(a.out, exist_ok=True)
paths = report.write_all(result, a.out)
print(report.table(result))
print()
print(f"bench: {result['meta']['seconds']} s; wrote {', '.join(paths)}")
for g in result["gates"]:
    value = "not measured" if g["value_kb"] is None else f"{g['value_kb']:.0f} kB"
    print(f"{'PASS' if g['ok'] else 'FAIL'} bench_gate_{g['name']}: {g['what']} {value} (limit {g['limit_kb']} kB)")
