#!/usr/bin/env python3
"""Container bench: podmon with real runc containers, next to Debian's conmon 2.1.6 in the same run.

podmon is ONE server per pod (plus its `podmon --pod-watchdog` helper, a child of the server);
conmon is one process per container, launched CRI-O style (plain pipe as sync pipe, private runc
root, the caller runs `runc start`). Both use runc, the same busybox bundle shape (read-only
shared rootfs, cgroup parent /podmon-bench/<id>, cgroupfs), a k8s-file/CRI log and an exit file.

1. memory: N = 1, 10, 50 running `sleep` containers. podmon: the server and the watchdog
   (separately and summed); conmon: the sum over its N processes. VmRSS/Threads from
   /proc/PID/status, Pss/Pss_Anon from /proc/PID/smaps_rollup, read 3 s after the last start.
   Median over --rounds rounds (min-max shown).
2. create overhead over bare `runc create`, interleaved in a shuffled order each iteration:
   - bare: `runc --root R create --bundle B --pid-file P ID` spawned from here (stdio /dev/null);
   - podmon raw: this script speaks the Cap'n Proto frames itself on a fresh connection
     (Bootstrap + pipelined createContainer with an exit path and a CRI log) until the Return;
   - podmon via `conmon-rpc create`, minus the median of `conmon-rpc SOCK version` runs
     interleaved with it (the C++ client's own start-up and connection cost);
   - conmon: launch -> {"data": pid} read from the sync pipe.
   The overhead is median(monitor) - median(bare); the spread is the p25-p75 range of each.
3. execSync overhead over bare `runc exec`, on one running podmon container, interleaved:
   `runc --root R exec ID true` vs a raw execSyncContainer(["true"]) (fresh connection) and
   `conmon-rpc exec-sync --id ID -- true` minus the `conmon-rpc version` median.
4. log throughput, a container writing 200 MiB to stdout, podmon on both IO paths (PODMON_IO=epoll, io_uring)
   next to conmon (nolf: dd|tr, no newline; fast: dd bs=1M of zeros, as fast as a writer goes;
   lines100: 100-byte lines from yes|head). podmon: a fresh server per run, raw create with
   a CRI log, `runc start`, inotify on the exit file; server CPU = utime+stime (/proc/PID/stat,
   10 ms ticks) and the ns sum of /proc/PID/task/*/schedstat, before create and after the exit
   file; peak RSS = the server's VmHWM. conmon: launch -> exit file; this script is the child
   subreaper, so the daemonized conmon is its child: waitid(WNOWAIT) keeps the zombie, whose
   /proc/PID/stat and schedstat give its whole CPU; VmHWM sampled every 10 ms while it runs.
   Every log is rebuilt (F ends a line with "\\n", P continues) and compared byte-exact
   (length + SHA-256) with the expected 200 MiB. --strace adds one extra podmon run per pattern
   under `strace -c -p` on each server thread (not part of the figures) and prints its syscall summary.

Everything lives in a temp dir (own busybox rootfs, runc root, bundles, logs) removed at the
end, along with the containers and their cgroups; runs are sequential.
usage: bench/containers.py [--rounds 3] [--counts 1,10,50] [--runs 40] [--log-runs 5]
                           [--log-mb 200] [--only mem,create,exec,log] [--strace]
"""
import argparse, ctypes, hashlib, json, os, random, select, shutil, signal, socket, statistics, struct
import subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl
from crirpc import (BOOTSTRAP, Builder, ExitWatch, call_frame, cpu_sched, cpu_stat, create_frame, exec_frame,
                    q, raw_create, raw_exec, rpc, status_kb, watchdog_of)

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--rounds", type=int, default=3, help="memory rounds per N")
ap.add_argument("--counts", default="1,10,50")
ap.add_argument("--runs", type=int, default=40, help="create / exec iterations (each kind)")
ap.add_argument("--log-runs", type=int, default=5)
ap.add_argument("--log-mb", type=int, default=200)
ap.add_argument("--only", default="mem,create,exec,log")
ap.add_argument("--patterns", default="nolf,lines100,fast", help="log patterns to run")
ap.add_argument("--strace", action="store_true", help="one extra strace -c run of podmon per log pattern")
a = ap.parse_args()
ONLY = set(a.only.split(","))

CLIENT = os.path.join(bl.INTEROP, "conmon-rpc")  # tests/interop, built by tests/run.sh
CLK = os.sysconf("SC_CLK_TCK")
DEVNULL = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
TAG = f"cb{os.getpid()}"
libc = ctypes.CDLL("libc.so.6", use_errno=True)

# A private work dir: benchlib's helpers read bl.WORK at call time.
bl.WORK = tempfile.mkdtemp(prefix="podmon-bench-ctr-")
RROOT = bl.runc_root()
EXITS = os.path.join(bl.WORK, "exits")
LOGS = os.path.join(bl.WORK, "logs")
for d in (EXITS, LOGS):
    os.makedirs(d, exist_ok=True)
rootfs = bl.busybox_rootfs()
for applet in ("tr",):
    if not os.path.lexists(os.path.join(rootfs, "bin", applet)):
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))

libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: daemonized monitors and orphans come back here
CREATED = set()             # container ids to delete at the end, whatever happens
SERVERS = set()             # podmon server pids started here


reap = bl.reap


def cleanup(cid):
    bl.remove_container(cid)
    CREATED.discard(cid)
    shutil.rmtree(os.path.join(bl.WORK, "bundles", cid), ignore_errors=True)
    for p in (os.path.join(EXITS, cid), os.path.join(LOGS, cid + ".log")):
        try:
            os.unlink(p)
        except OSError:
            pass
    sp = os.path.join(bl.WORK, "socks", cid)  # conmon: symlink to the bundle
    if os.path.islink(sp):
        os.unlink(sp)


def start_podmon():
    return bl.start_server(RROOT, SERVERS)


def stop_podmon(d, pid):
    bl.stop_server(d, pid, SERVERS)


LAST_LAUNCHER_CPU = [0.0]


def conmon_argv(cid, b, log):
    return [bl.CONMON, "--api-version", "1", "-c", cid, "-u", cid, "-n", cid, "-r", bl.RUNC,
            "--runtime-arg", "--root=" + RROOT, "-b", b, "-p", b + "/pidfile", "-P", b + "/conmon.pid",
            "-l", "k8s-file:" + log, "--exit-dir", EXITS, "--socket-dir-path", os.path.join(bl.WORK, "socks"),
            "--log-level", "warning"]


def launch_conmon(cid, args):
    """CRI-O style launch; returns (launch time (perf_counter), seconds launch -> pid on the sync
    pipe, conmon pid)."""
    b = bl.bundle(cid, args)
    os.makedirs(os.path.join(bl.WORK, "socks"), exist_ok=True)
    CREATED.add(cid)
    r, w = os.pipe()
    t0 = time.perf_counter()
    p = subprocess.Popen(conmon_argv(cid, b, os.path.join(LOGS, cid + ".log")),
                         env=dict(os.environ, _OCI_SYNCPIPE=str(w)), pass_fds=(w,),
                         stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
    os.close(w)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(r, 4096)
        if not chunk:
            break
        buf += chunk
    t = time.perf_counter() - t0
    os.close(r)
    _, _, ru = os.wait4(p.pid, 0)
    p.returncode = 0
    LAST_LAUNCHER_CPU[0] = ru.ru_utime + ru.ru_stime
    pid = json.loads(buf.decode().splitlines()[0])["data"] if buf.strip() else -1
    if pid <= 0:
        raise RuntimeError(f"conmon create failed: {buf!r}")
    return t0, t, int(open(b + "/conmon.pid").read())


def runc(*args, check=True):
    return subprocess.run([bl.RUNC, "--root", RROOT, *args], stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, check=check)


def timed(argv, **kw):
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdin=DEVNULL, **kw)
    return time.perf_counter() - t0, r


def ms(xs):
    return f"{statistics.median(xs) * 1e3:7.2f} ms (p25-p75 {q(xs, .25) * 1e3:.2f}-{q(xs, .75) * 1e3:.2f}, n={len(xs)})"


def verdict(xs, limit=0.001):
    d = sorted(xs)
    n = len(d)
    k = max(0, int(n / 2 - 0.98 * n ** 0.5))
    if d[n - 1 - k] <= limit:
        return "MET (95% CI of the paired overhead below the limit)"
    if d[k] > limit:
        return "MISSED (95% CI of the paired overhead above the limit)"
    return ("MET on the point estimate" if statistics.median(d) <= limit else "MISSED on the point estimate") + \
        " (not resolved: the 95% CI straddles the limit)"


def paired(xs):
    """Median of paired differences and its ~95 % confidence interval (sign-test order statistics)."""
    d = sorted(xs)
    n = len(d)
    k = max(0, int(n / 2 - 0.98 * n ** 0.5))
    return f"{statistics.median(d) * 1e3:+.2f} ms (95% CI {d[k] * 1e3:+.2f} .. {d[n - 1 - k] * 1e3:+.2f})"


def loadavg():
    return open("/proc/loadavg").read().split()[0]


OUT = []  # result lines, printed together at the end


def out(line=""):
    OUT.append(line)


# ---------------------------------------------------------------- 1. memory

def mem_podmon(n, rnd):
    d, pid, sock = start_podmon()
    ids = []
    try:
        for i in range(n):
            cid = f"{TAG}-pm{n}-{rnd}-{i}"
            b = bl.bundle(cid, ["sleep", "3600"])
            CREATED.add(cid)
            ids.append(cid)
            raw_create(sock, cid, b, os.path.join(EXITS, cid), os.path.join(LOGS, cid + ".log"))
            runc("start", cid)
        time.sleep(3)
        wd = watchdog_of(pid)
        return bl.mem(pid), (bl.mem(wd) if wd else None)
    finally:
        stop_podmon(d, pid)   # SIGKILLs the containers
        for cid in ids:
            cleanup(cid)
        reap()


def mem_conmon(n, rnd):
    ids, pids = [], []
    try:
        for i in range(n):
            cid = f"{TAG}-cm{n}-{rnd}-{i}"
            ids.append(cid)
            _, _, cpid = launch_conmon(cid, ["sleep", "3600"])
            runc("start", cid)
            pids.append(cpid)
        time.sleep(3)
        return [bl.mem(p) for p in pids]
    finally:
        for cid in ids:
            runc("kill", cid, "KILL", check=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}/status") and status_kb(p, "VmRSS") for p in pids):
            reap()
            time.sleep(0.02)
        for cid in ids:
            cleanup(cid)
        reap()


def bench_mem():
    counts = [int(x) for x in a.counts.split(",")]
    res = {}
    for n in counts:
        pm, cm = [], []
        for r in range(a.rounds):   # interleaved: podmon round, conmon round
            pm.append(mem_podmon(n, r))
            cm.append(mem_conmon(n, r))
        res[n] = (pm, cm)
    out(f"1. memory, N running `sleep` containers: median of {a.rounds} rounds [min-max] (kB)")
    out(f"   {'N':>3} {'metric':<9} {'podmon server':>20} {'+ watchdog':>18} {'= podmon total':>20} {'conmon x N':>22} {'podmon/conmon':>14}")
    for n in counts:
        pm, cm = res[n]
        for k in ("VmRSS", "Pss", "Pss_Anon", "Threads"):
            srv = [s[k] for s, _ in pm]
            wd = [w[k] if w else 0 for _, w in pm]
            tot = [s[k] + (w[k] if w else 0) for s, w in pm]
            con = [sum(m[k] for m in ms_) for ms_ in cm]
            def f(xs):
                return f"{statistics.median(xs):.0f} [{min(xs):.0f}-{max(xs):.0f}]"
            out(f"   {n:>3} {k:<9} {f(srv):>20} {f(wd):>18} {f(tot):>20} {f(con):>22} "
                f"{statistics.median(tot) / statistics.median(con):>14.3f}")
        if n == max(counts):
            tot = statistics.median([s["Pss"] + (w["Pss"] if w else 0) for s, w in pm])
            out(f"   target: podmon total Pss for {n} <= 3 MB (3072 kB): {tot:.0f} kB -> {'MET' if tot <= 3072 else 'MISSED'}")
    if len(counts) > 1:
        lo, hi = min(counts), max(counts)
        def med(n, side, k):
            pm, cm = res[n]
            if side == "p":
                return statistics.median([s[k] + (w[k] if w else 0) for s, w in pm])
            return statistics.median([sum(m[k] for m in x) for x in cm])
        out(f"   marginal Pss per extra container ({lo} -> {hi}): podmon {(med(hi, 'p', 'Pss') - med(lo, 'p', 'Pss')) / (hi - lo):.1f} kB, "
            f"conmon {(med(hi, 'c', 'Pss') - med(lo, 'c', 'Pss')) / (hi - lo):.1f} kB")
    out()


# ---------------------------------------------------------------- 2. create

def bench_create():
    d, pid, sock = start_podmon()
    rng = random.Random(4)
    t = {"runc": [], "raw": [], "cli": [], "version": [], "conmon": []}
    it = {}                   # kind -> {iteration: seconds}, for paired differences
    cpu = {"raw": [], "cli": [], "conmon": []}
    try:
        def one(kind, i, record):
            cid = f"{TAG}-c{kind}-{i}"
            if kind == "version":
                dt, r = timed([CLIENT, sock, "version"], stdout=subprocess.PIPE, check=True)
                if record:
                    t[kind].append(dt)
                    it.setdefault(kind, {})[i] = dt
                return
            if kind == "conmon":
                _, dt, cpid = launch_conmon(cid, ["true"])
                # conmon's own CPU up to the sync message: the daemon (still running) + the launcher
                c_daemon = int(open(f"/proc/{cpid}/schedstat").read().split()[0]) / 1e9
                if record:
                    cpu["conmon"].append(c_daemon + LAST_LAUNCHER_CPU[0])
            else:
                b = bl.bundle(cid, ["true"])
                CREATED.add(cid)
                ex, lg = os.path.join(EXITS, cid), os.path.join(LOGS, cid + ".log")
                if kind == "runc":
                    dt, _ = timed([bl.RUNC, "--root", RROOT, "create", "--bundle", b, "--pid-file", b + "/pidfile", cid],
                                  stdout=DEVNULL, stderr=DEVNULL, check=True)
                elif kind == "raw":
                    c0 = cpu_sched(pid)
                    t0 = time.perf_counter()
                    raw_create(sock, cid, b, ex, lg)
                    dt = time.perf_counter() - t0
                    c1 = cpu_sched(pid)
                else:
                    c0 = cpu_sched(pid)
                    dt, r = timed([CLIENT, sock, "create", "--id", cid, "--bundle", b, "--exit-path", ex,
                                   "--log-driver", "cri:" + lg, "--cgroup-manager", "cgroupfs"],
                                  stdout=subprocess.PIPE, check=True)
                    c1 = cpu_sched(pid)
                    assert json.loads(r.stdout)["containerPid"] > 0, r.stdout
                if record and kind in cpu:
                    cpu[kind].append(c1 - c0)
            if record:
                t[kind].append(dt)
                it.setdefault(kind, {})[i] = dt
            runc("delete", "--force", cid, check=False)
            if kind != "runc":  # the monitor sees its container die and writes the exit file: let it settle
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and not os.path.exists(os.path.join(EXITS, cid)):
                    time.sleep(0.002)
            cleanup(cid)
            reap()

        kinds = list(t)
        for i in range(3):
            for k in kinds:
                one(k, f"w{i}", False)
        for i in range(a.runs):
            rng.shuffle(kinds)
            for k in kinds:
                one(k, i, True)
    finally:
        stop_podmon(d, pid)
    base = statistics.median(t["runc"])
    client = statistics.median(t["version"])
    out(f"2. create: launch -> container pid known, {a.runs} interleaved iterations (load {loadavg()})")
    out(f"   bare `runc create`                      {ms(t['runc'])}")
    out(f"   podmon, raw frames (fresh connection)   {ms(t['raw'])}   overhead {(statistics.median(t['raw']) - base) * 1e3:+.2f} ms")
    out(f"   podmon, `conmon-rpc create`             {ms(t['cli'])}")
    out(f"     client baseline `conmon-rpc version`  {ms(t['version'])}")
    cli_net = [x - client for x in t["cli"]]
    out(f"     create minus client baseline          {ms(cli_net)}   overhead {(statistics.median(cli_net) - base) * 1e3:+.2f} ms")
    out(f"   conmon, launch -> {{\"data\": pid}}        {ms(t['conmon'])}   overhead {(statistics.median(t['conmon']) - base) * 1e3:+.2f} ms")
    over = statistics.median(t["raw"]) - base
    its = range(a.runs)
    out(f"   paired (same iteration) differences vs bare runc create:")
    out(f"     podmon raw                            {paired([it['raw'][i] - it['runc'][i] for i in its])}")
    out(f"     podmon conmon-rpc - version baseline  {paired([it['cli'][i] - it['version'][i] - it['runc'][i] for i in its])}")
    out(f"     conmon                                {paired([it['conmon'][i] - it['runc'][i] for i in its])}")
    out(f"   monitor's own CPU per create (schedstat): podmon server {statistics.median(cpu['raw']) * 1e3:.3f} ms (raw client), "
        f"{statistics.median(cpu['cli']) * 1e3:.3f} ms (conmon-rpc); conmon {statistics.median(cpu['conmon']) * 1e3:.3f} ms "
        f"(launcher + daemon up to the sync message); podmon/conmon {statistics.median(cpu['raw']) / statistics.median(cpu['conmon']):.3f}")
    out(f"   podmon/conmon (median create time): {statistics.median(t['raw']) / statistics.median(t['conmon']):.3f}")
    pd = statistics.median([it['raw'][i] - it['runc'][i] for i in its])
    out(f"   target: podmon create overhead <= 1 ms: median-of-medians raw {over * 1e3:+.2f} ms, paired raw {pd * 1e3:+.2f} ms, "
        f"via client {(statistics.median(cli_net) - base) * 1e3:+.2f} ms")
    out(f"     -> {verdict([it['raw'][i] - it['runc'][i] for i in its])}")
    out()


# ---------------------------------------------------------------- 3. exec

def bench_exec():
    d, pid, sock = start_podmon()
    cid = f"{TAG}-exec"
    rng = random.Random(3)
    t = {"runc": [], "raw": [], "cli": [], "version": []}
    it = {k: [] for k in t}
    cpu = {"raw": [], "cli": []}
    try:
        b = bl.bundle(cid, ["sleep", "3600"])
        CREATED.add(cid)
        raw_create(sock, cid, b, os.path.join(EXITS, cid), os.path.join(LOGS, cid + ".log"))
        runc("start", cid)

        def one(kind, record):
            if kind == "runc":
                dt, _ = timed([bl.RUNC, "--root", RROOT, "exec", cid, "true"], stdout=DEVNULL, stderr=DEVNULL, check=True)
            elif kind == "raw":
                c0 = cpu_sched(pid)
                t0 = time.perf_counter()
                code = raw_exec(sock, cid, ["true"])
                dt = time.perf_counter() - t0
                c1 = cpu_sched(pid)
                assert code == 0, code
            elif kind == "cli":
                c0 = cpu_sched(pid)
                dt, r = timed([CLIENT, sock, "exec-sync", "--id", cid, "--cgroup-manager", "cgroupfs", "--", "true"],
                              stdout=subprocess.PIPE, check=True)
                c1 = cpu_sched(pid)
                assert json.loads(r.stdout)["exitCode"] == 0, r.stdout
            else:
                dt, _ = timed([CLIENT, sock, "version"], stdout=subprocess.PIPE, check=True)
            if record:
                t[kind].append(dt)
                it[kind].append(dt)
                if kind in cpu:
                    cpu[kind].append(c1 - c0)

        kinds = list(t)
        for _ in range(3):
            for k in kinds:
                one(k, False)
        for _ in range(a.runs):
            rng.shuffle(kinds)
            for k in kinds:
                one(k, True)
            reap()
    finally:
        stop_podmon(d, pid)
        cleanup(cid)
        reap()
    base = statistics.median(t["runc"])
    client = statistics.median(t["version"])
    cli_net = [x - client for x in t["cli"]]
    over = statistics.median(t["raw"]) - base
    out(f"3. execSync `true` in a running container, {a.runs} interleaved iterations (load {loadavg()})")
    out(f"   bare `runc exec ID true`                {ms(t['runc'])}")
    out(f"   podmon, raw frames (fresh connection)   {ms(t['raw'])}   overhead {over * 1e3:+.2f} ms")
    out(f"   podmon, `conmon-rpc exec-sync`          {ms(t['cli'])}")
    out(f"     client baseline `conmon-rpc version`  {ms(t['version'])}")
    out(f"     exec-sync minus client baseline       {ms(cli_net)}   overhead {(statistics.median(cli_net) - base) * 1e3:+.2f} ms")
    its = range(a.runs)
    out(f"   paired (same iteration) differences vs bare runc exec:")
    out(f"     podmon raw                            {paired([it['raw'][i] - it['runc'][i] for i in its])}")
    out(f"     podmon conmon-rpc - version baseline  {paired([it['cli'][i] - it['version'][i] - it['runc'][i] for i in its])}")
    out(f"   podmon server's own CPU per execSync (schedstat): {statistics.median(cpu['raw']) * 1e3:.3f} ms (raw client), "
        f"{statistics.median(cpu['cli']) * 1e3:.3f} ms (conmon-rpc)")
    out(f"   (conmon: exec-sync is a separate conmon process per exec; not measured here)")
    pd = statistics.median([it['raw'][i] - it['runc'][i] for i in its])
    out(f"   target: podmon execSync overhead <= 1 ms: median-of-medians raw {over * 1e3:+.2f} ms, paired raw {pd * 1e3:+.2f} ms, "
        f"via client {(statistics.median(cli_net) - base) * 1e3:+.2f} ms")
    out(f"     -> {verdict([it['raw'][i] - it['runc'][i] for i in its])}")
    out()


# ---------------------------------------------------------------- 4. log

NBYTES = a.log_mb * 1024 * 1024
PATTERNS = bl.log_patterns(NBYTES)


def expected_sha(pattern):
    h = hashlib.sha256()
    unit = {"nolf": b"x" * 65536, "fast": bytes(65536)}.get(pattern, (b"x" * 99 + b"\n") * 655)
    left = NBYTES
    while left:
        c = unit[:left]
        h.update(c)
        left -= len(c)
    return h.hexdigest()


EXPECTED = {}


def verify(pattern, path):
    """Rebuilds stdout from a CRI / k8s-file log; returns (ok, text)."""
    h = hashlib.sha256()
    n = recs = full = part = other = 0
    pend = []
    with open(path, "rb", buffering=1 << 20) as f:
        for line in f:
            parts = line[:-1].split(b" ", 3) if line.endswith(b"\n") else line.split(b" ", 3)
            if len(parts) == 3:
                parts.append(b"")
            ts, stream, tag, msg = parts
            recs += 1
            if stream != b"stdout":
                other += 1
                continue
            if tag == b"F":
                full += 1
                msg += b"\n"
            elif tag == b"P":
                part += 1
            else:
                raise ValueError(f"bad tag {tag!r}")
            pend.append(msg)
            n += len(msg)
            if len(pend) >= 4096:
                h.update(b"".join(pend))
                pend.clear()
    h.update(b"".join(pend))
    if pattern not in EXPECTED:
        EXPECTED[pattern] = expected_sha(pattern)
    ok = n == NBYTES and h.hexdigest() == EXPECTED[pattern] and other == 0
    return ok, f"{'byte-exact' if ok else 'MISMATCH'} ({n} B, {recs} rec: {full} F, {part} P, {other} other)"


def log_podmon(pattern, i, strace=False):
    d, pid, sock = start_podmon()
    cid = f"{TAG}-lp{pattern}-{i}"
    ex, lg = os.path.join(EXITS, cid), os.path.join(LOGS, cid + ".log")
    st = None
    try:
        b = bl.bundle(cid, ["sh", "-c", PATTERNS[pattern]])
        CREATED.add(cid)
        w = ExitWatch(EXITS)
        if strace:
            st_out = os.path.join(bl.WORK, f"strace-{pattern}.txt")
            # every thread of the server, without -f: -f would follow the spawned runc too
            tids = [x for t in sorted(os.listdir(f"/proc/{pid}/task")) for x in ("-p", t)]
            st = subprocess.Popen(["strace", "-c", *tids, "-o", st_out], stdout=DEVNULL, stderr=DEVNULL)
            time.sleep(0.5)
        c0, s0 = cpu_stat(pid), cpu_sched(pid)
        t0 = time.perf_counter()
        raw_create(sock, cid, b, ex, lg)
        runc("start", cid)
        t1 = w.wait(cid)
        w.close()
        c1, s1 = cpu_stat(pid), cpu_sched(pid)
        hwm = status_kb(pid, "VmHWM")
        code = open(ex).read().strip()
        if st:
            st.send_signal(signal.SIGINT)
            st.wait()
            summary = open(st_out).read()
            return summary
        ok, text = verify(pattern, lg)
        return {"wall": t1 - t0, "cpu": c1[0] - c0[0], "user": c1[1] - c0[1], "sys": c1[2] - c0[2],
                "sched": s1 - s0, "hwm": hwm, "ok": ok, "text": text, "exit": code,
                "logsize": os.path.getsize(lg)}
    finally:
        if st and st.poll() is None:
            st.kill()
            st.wait()
        stop_podmon(d, pid)
        cleanup(cid)
        reap()


def log_conmon(pattern, i):
    cid = f"{TAG}-lc{pattern}-{i}"
    lg = os.path.join(LOGS, cid + ".log")
    try:
        w = ExitWatch(EXITS)
        t0, _, cpid = launch_conmon(cid, ["sh", "-c", PATTERNS[pattern]])
        hw = {"v": 0, "stop": False}

        def sample():
            while not hw["stop"]:
                v = status_kb(cpid, "VmHWM")
                if v:
                    hw["v"] = max(hw["v"], v)
                time.sleep(0.01)
        th = threading.Thread(target=sample, daemon=True)
        th.start()
        runc("start", cid)
        t1 = w.wait(cid)
        w.close()
        os.waitid(os.P_PID, cpid, os.WEXITED | os.WNOWAIT)   # zombie: its final CPU is readable
        hw["stop"] = True
        th.join()
        c = cpu_stat(cpid)
        sched = int(open(f"/proc/{cpid}/schedstat").read().split()[0]) / 1e9
        os.waitpid(cpid, 0)
        code = open(os.path.join(EXITS, cid)).read().strip()
        ok, text = verify(pattern, lg)
        return {"wall": t1 - t0, "cpu": c[0], "user": c[1], "sys": c[2], "sched": sched, "hwm": hw["v"],
                "ok": ok, "text": text, "exit": code, "logsize": os.path.getsize(lg)}
    finally:
        cleanup(cid)
        reap()


def log_floor(pattern):
    """CPU of a plain `cat` relaying the same busybox writer's stream into a file: the kernel's
    pipe -> user -> page cache copy that any read/write monitor pays (no log format, no fsync)."""
    dst = os.path.join(LOGS, f"floor-{pattern}")
    p = subprocess.Popen([os.path.join(rootfs, "bin", "busybox"), "sh", "-c", PATTERNS[pattern]],
                         env={"PATH": os.path.join(rootfs, "bin")}, stdout=subprocess.PIPE, stdin=DEVNULL)
    with open(dst, "wb") as f:
        c = subprocess.Popen(["cat"], stdin=p.stdout, stdout=f)
    p.stdout.close()
    _, _, ru = os.wait4(c.pid, 0)
    c.returncode = 0
    p.wait()
    size = os.path.getsize(dst)
    os.unlink(dst)
    assert size == NBYTES, size
    return ru.ru_utime + ru.ru_stime


IO_PATHS = bl.IO_PATHS


def with_io(io, fn, *args, **kw):
    """fn(*args, **kw) with PODMON_IO=io for the podmon it starts."""
    with bl.io_path(io):
        return fn(*args, **kw)


def syscalls_per_mib(summary):
    """Total calls in a `strace -c` summary, per MiB logged."""
    for line in summary.splitlines():
        f = line.split()
        if f and f[-1] == "total":
            return int(f[3]) / a.log_mb
    return float("nan")


def bench_log():
    res = {}
    for pattern in a.patterns.split(","):
        pm = {io: [] for io in IO_PATHS}
        cm, fl = [], []
        for io in IO_PATHS:
            with_io(io, log_podmon, pattern, "warm")
        for i in range(a.log_runs):
            for io in IO_PATHS:
                pm[io].append(with_io(io, log_podmon, pattern, i))
            cm.append(log_conmon(pattern, i))
            fl.append(log_floor(pattern))
            print(f"   [{pattern} #{i}] " + " | ".join(f"podmon/{io} wall {pm[io][-1]['wall']:.2f}s cpu {pm[io][-1]['sched']:.3f}s {pm[io][-1]['text']}" for io in IO_PATHS) +
                  f" | conmon wall {cm[-1]['wall']:.2f}s cpu {cm[-1]['sched']:.3f}s {cm[-1]['text']} (load {loadavg()})", flush=True)
        res[pattern] = (pm, cm, fl)
    out(f"4. log: container writes {a.log_mb} MiB to stdout, CRI/k8s-file log; median of {a.log_runs} interleaved runs [min-max]")
    out(f"   {'pattern':<9} {'metric':<28} {'podmon epoll':>22} {'podmon io_uring':>22} {'conmon':>22} {'epoll/conmon':>13} {'uring/conmon':>13}")

    def f(xs, fmt):
        return f"{fmt.format(statistics.median(xs))} [{fmt.format(min(xs))}-{fmt.format(max(xs))}]"
    for pattern, (pm, cm, fl) in res.items():
        rows = [("monitor CPU, schedstat (s)", "sched", "{:.3f}"), ("monitor CPU, utime+stime (s)", "cpu", "{:.2f}"),
                ("  user (s)", "user", "{:.2f}"), ("  sys (s)", "sys", "{:.2f}"),
                ("wall create -> exit file (s)", "wall", "{:.2f}"), ("peak RSS, VmHWM (kB)", "hwm", "{:.0f}"),
                ("log file (MiB)", "logsize", "{:.1f}")]
        for label, k, fmt in rows:
            scale = 2**20 if k == "logsize" else 1
            c = [r[k] / scale for r in cm]
            cols, ratios = [], []
            for io in IO_PATHS:
                p = [r[k] / scale for r in pm[io]]
                cols.append(f"{f(p, fmt):>22}")
                ratios.append(f"{statistics.median(p) / statistics.median(c) if statistics.median(c) else float('nan'):>13.3f}")
            out(f"   {pattern:<9} {label:<28} {' '.join(cols)} {f(c, fmt):>22} {' '.join(ratios)}")
        for io in IO_PATHS:
            out(f"   {pattern:<9} log check: podmon/{io} {sum(r['ok'] for r in pm[io])}/{len(pm[io])} byte-exact, e.g. {pm[io][0]['text']}")
        out(f"   {pattern:<9}            conmon {sum(r['ok'] for r in cm)}/{len(cm)} byte-exact, e.g. {cm[0]['text']}")
        out(f"   {pattern:<9} exit codes: podmon {sorted(set(r['exit'] for io in IO_PATHS for r in pm[io]))}, conmon {sorted(set(r['exit'] for r in cm))}")
        fm = statistics.median(fl)
        out(f"   {pattern:<9} floor: `cat` relaying the same writer to a file, CPU {f(fl, '{:.2f}')} s; monitor CPU above it: " +
            ", ".join(f"podmon/{io} {statistics.median(r['sched'] for r in pm[io]) - fm:.2f} s" for io in IO_PATHS) +
            f", conmon {statistics.median(r['sched'] for r in cm) - fm:.2f} s")
        for io in IO_PATHS:
            ratio = statistics.median(r["sched"] for r in pm[io]) / statistics.median(r["sched"] for r in cm)
            wall = statistics.median(r["wall"] for r in cm) / statistics.median(r["wall"] for r in pm[io])
            out(f"   {pattern:<9} podmon/{io}: CPU {ratio:.3f}x conmon's (target <= 0.2: {'MET' if ratio <= 0.2 else 'MISSED'}), "
                f"throughput {wall:.2f}x conmon's (target >= 2: {'MET' if wall >= 2 else 'MISSED'})")
    out()
    if a.strace:
        for pattern in a.patterns.split(","):
            for io in IO_PATHS:
                s = with_io(io, log_podmon, pattern, "strace", strace=True)
                out(f"   strace -c -p <each server thread>, podmon/{io}, one extra {pattern} run (slowed by strace; not in the figures): "
                    f"{syscalls_per_mib(s):.1f} syscalls per MiB")
                for line in s.splitlines()[:10]:
                    out("     " + line)
        out()


def main():
    out(f"podmon containers bench: {bl.PODMON} vs {bl.CONMON}, runc {bl.RUNC}; {os.cpu_count()} CPUs, "
        f"load {open('/proc/loadavg').read().strip()}")
    out(f"work dir {bl.WORK}")
    out()
    t0 = time.time()
    if "mem" in ONLY:
        bench_mem()
    if "create" in ONLY:
        bench_create()
    if "exec" in ONLY:
        bench_exec()
    if "log" in ONLY:
        bench_log()
    out(f"total {time.time() - t0:.0f} s, load at the end {open('/proc/loadavg').read().strip()}")


try:
    main()
finally:
    bl.teardown(SERVERS, CREATED, cleanup)
    print("\n".join(OUT))
