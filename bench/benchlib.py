"""Shared helpers for podmon's benchmarks: process memory, busybox bundles, conmon launches."""
import contextlib, ctypes, json, os, shutil, signal, statistics, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PODMON = os.environ.get("PODMON_BINARY", os.path.join(ROOT, "artifacts", "podmon"))
CONMON = os.environ.get("CONMON_BINARY", "/usr/bin/conmon")
RUNC = shutil.which("runc") or "/usr/sbin/runc"
WORK = "/tmp/podmon-bench"
# Golden frames recorded from the official C++ client (tests/fixtures/README.md).
WIRE = os.path.join(ROOT, "tests", "fixtures", "wire")
# The project's own Cap'n Proto C++ client (tests/interop), built by tests/run.sh.
INTEROP = os.environ.get("CONMON_RPC_DIR", os.path.join(ROOT, ".build", "interop"))
# Figures of peers that cannot run here (conmon-rs), with date, machine and method.
PEERS = json.load(open(os.path.join(ROOT, "bench", "peers.json")))


def mem(pid):
    """VmRSS, Pss, Pss_Anon, Private_Dirty (kB) and thread count of one process."""
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "Threads"):
            out[k] = int(v.split()[0])
    for line in open(f"/proc/{pid}/smaps_rollup"):
        k, _, v = line.partition(":")
        if k in ("Pss", "Pss_Anon", "Private_Dirty"):
            out[k] = int(v.split()[0])
    return out


def median_of(samples, key):
    return statistics.median(s[key] for s in samples)


def busybox_rootfs():
    rootfs = os.path.join(WORK, "rootfs")
    if not os.path.exists(os.path.join(rootfs, "bin", "sh")):
        os.makedirs(os.path.join(rootfs, "bin"), exist_ok=True)
        shutil.copy("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
        for applet in ("sh", "sleep", "echo", "cat", "true", "yes", "head", "dd"):
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
        for d in ("proc", "sys", "dev", "tmp", "etc"):
            os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    return rootfs


def bundle(cid, args):
    """An OCI bundle sharing the read-only busybox rootfs."""
    rootfs = busybox_rootfs()
    b = os.path.join(WORK, "bundles", cid)
    os.makedirs(b, exist_ok=True)
    tmpl = os.path.join(WORK, "config.template.json")
    if not os.path.exists(tmpl):
        subprocess.run([RUNC, "spec"], cwd=WORK, check=True)
        os.rename(os.path.join(WORK, "config.json"), tmpl)
    c = json.load(open(tmpl))
    c["process"]["terminal"] = False
    c["process"]["args"] = args
    c["root"] = {"path": rootfs, "readonly": True}
    c["linux"]["cgroupsPath"] = "/podmon-bench/" + cid
    json.dump(c, open(os.path.join(b, "config.json"), "w"))
    return b


def runc_root():
    r = os.path.join(WORK, "runc-root")
    os.makedirs(r, exist_ok=True)
    return r


def start_conmon(cid, args):
    """Launches conmon the way CRI-O does, starts the container; returns (conmon pid, container pid)."""
    b = bundle(cid, args)
    for d in ("exits", "socks", "logs"):
        os.makedirs(os.path.join(WORK, d), exist_ok=True)
    r, w = os.pipe()
    env = dict(os.environ, _OCI_SYNCPIPE=str(w))
    subprocess.run(
        [CONMON, "--api-version", "1", "-c", cid, "-u", cid, "-n", cid, "-r", RUNC,
         "--runtime-arg", "--root=" + runc_root(), "-b", b, "-p", b + "/pidfile", "-P", b + "/conmon.pid",
         "-l", "k8s-file:" + os.path.join(WORK, "logs", cid + ".log"),
         "--exit-dir", os.path.join(WORK, "exits"), "--socket-dir-path", os.path.join(WORK, "socks")],
        env=env, pass_fds=(w,), check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    line = os.read(r, 4096).decode()
    os.close(r)
    pid = json.loads(line.splitlines()[0])["data"]
    if pid <= 0:
        raise RuntimeError("conmon create failed: " + line)
    subprocess.run([RUNC, "--root", runc_root(), "start", cid], check=True)
    return int(open(b + "/conmon.pid").read()), pid


def remove_container(cid):
    subprocess.run([RUNC, "--root", runc_root(), "delete", "--force", cid],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for ctl in os.listdir("/sys/fs/cgroup"):
        try:
            os.rmdir(f"/sys/fs/cgroup/{ctl}/podmon-bench/{cid}")
        except OSError:
            pass


_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def wait_created(directory, name, start_cmd, timeout=5.0):
    """Runs start_cmd and returns (process, seconds from exec to `name` appearing in directory)."""
    fd = _libc.inotify_init1(os.O_CLOEXEC)
    _libc.inotify_add_watch(fd, directory.encode(), 0x100)  # IN_CREATE
    t0 = time.perf_counter()
    p = subprocess.Popen(start_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = t0 + timeout
    try:
        while time.perf_counter() < deadline:
            buf = os.read(fd, 4096)
            t1 = time.perf_counter()
            off = 0
            while off < len(buf):
                wd, mask, cookie, ln = int.from_bytes(buf[off:off+4], "little"), 0, 0, int.from_bytes(buf[off+12:off+16], "little")
                ev = buf[off+16:off+16+ln].rstrip(b"\0").decode()
                off += 16 + ln
                if ev == name:
                    return p, t1 - t0
        raise TimeoutError(name)
    finally:
        os.close(fd)


def reap():
    """Reaps every exited child (the benches are child subreapers). Only while no subprocess runs."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def start_server(rroot, servers):
    """A daemonized podmon server in a fresh runtime dir under WORK; its pid goes into `servers`."""
    d = tempfile.mkdtemp(prefix="pm-", dir=WORK)
    subprocess.run([PODMON, "--runtime", RUNC, "--runtime-dir", d, "--runtime-root", rroot,
                    "--log-driver", "none", "--cgroup-manager", "cgroupfs"], check=True)
    pid = int(open(os.path.join(d, "pidfile")).read())
    servers.add(pid)
    return d, pid, os.path.join(d, "conmon.sock")


def stop_server(d, pid, servers):
    """SIGTERM (the server SIGKILLs its containers), reap it within 10 s, remove its runtime dir."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        reap()
        time.sleep(0.01)
    servers.discard(pid)
    time.sleep(0.05)
    reap()
    shutil.rmtree(d, ignore_errors=True)


# The IO paths podmon is measured on (PODMON_IO, docs/io-backends.md).
IO_PATHS = ("epoll", "io_uring")


@contextlib.contextmanager
def io_path(io):
    """PODMON_IO=io (None: left as it is) in the environment every podmon started meanwhile inherits."""
    old = os.environ.get("PODMON_IO")
    if io:
        os.environ["PODMON_IO"] = io
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PODMON_IO", None)
        else:
            os.environ["PODMON_IO"] = old


def log_patterns(nbytes):
    """What a log bench's container runs to write nbytes to stdout, by pattern name."""
    return {
        "nolf": "dd if=/dev/zero bs=65536 count=%d 2>/dev/null | tr '\\0' x" % (nbytes // 65536),
        "lines100": "yes %s | head -c %d" % ("x" * 99, nbytes),
        # as fast as a writer goes: 1 MiB writes of zeros, no newline (the monitor is the bottleneck)
        "fast": "dd if=/dev/zero bs=1048576 count=%d 2>/dev/null" % (nbytes // 1048576),
    }


def teardown(servers, created, cleanup):
    """End of a bench, whatever happened: servers stopped, containers removed, WORK and the bench cgroups gone."""
    for pid in list(servers):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    time.sleep(0.2)
    for cid in list(created):
        cleanup(cid)
    time.sleep(0.2)
    reap()
    shutil.rmtree(WORK, ignore_errors=True)
    for ctl in os.listdir("/sys/fs/cgroup"):
        try:
            os.rmdir(f"/sys/fs/cgroup/{ctl}/podmon-bench")  # only if empty (others may use it)
        except OSError:
            pass
