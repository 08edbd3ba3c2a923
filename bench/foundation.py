#!/usr/bin/env python3
"""Server bench: the idle server and its start, next to Debian's conmon in the same run.

- podmon: idle server (daemon, no containers), median of N starts, measured 2 s after listening;
  exec -> socket bound (inotify IN_CREATE, foreground) and launcher exec -> exit (daemon mode:
  the launcher exits once the server listens).
- conmon: idle conmon monitoring one `sleep` container (CRI-O style launch), same measurements of
  memory; conmon has no socket-before-container phase, so its start is not comparable here.
usage: bench/foundation.py [--runs 7] [--starts 100]
"""
import argparse, os, shutil, signal, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--runs", type=int, default=7)
ap.add_argument("--starts", type=int, default=100)
a = ap.parse_args()


def podmon_idle():
    d = tempfile.mkdtemp(prefix="podmon-bench-")
    subprocess.run([bl.PODMON, "--runtime", bl.RUNC, "--runtime-dir", d, "--log-driver", "none"], check=True)
    pid = int(open(d + "/pidfile").read())
    time.sleep(2)
    m = bl.mem(pid)
    os.kill(pid, signal.SIGTERM)
    shutil.rmtree(d, ignore_errors=True)
    return m


def conmon_idle(i):
    cid = f"bench-idle-{os.getpid()}-{i}"
    cpid, _ = bl.start_conmon(cid, ["sleep", "3600"])
    time.sleep(2)
    m = bl.mem(cpid)
    bl.remove_container(cid)
    return m


def starts():
    bound, launcher, true_ = [], [], []
    for _ in range(a.starts):
        d = tempfile.mkdtemp(prefix="podmon-bench-")
        p, t = bl.wait_created(d, "conmon.sock", [bl.PODMON, "--runtime", bl.RUNC, "--runtime-dir", d, "--log-driver", "none", "--skip-fork"])
        bound.append(t)
        p.terminate(); p.wait()
        shutil.rmtree(d, ignore_errors=True)
        d2 = tempfile.mkdtemp(prefix="podmon-bench-")
        t0 = time.perf_counter()
        subprocess.run([bl.PODMON, "--runtime", bl.RUNC, "--runtime-dir", d2, "--log-driver", "none"], check=True)
        launcher.append(time.perf_counter() - t0)
        os.kill(int(open(d2 + "/pidfile").read()), signal.SIGTERM)
        shutil.rmtree(d2, ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run(["/bin/true"])
        true_.append(time.perf_counter() - t0)
    return statistics.median(bound), statistics.median(launcher), statistics.median(true_)


pm = [podmon_idle() for _ in range(a.runs)]
cm = [conmon_idle(i) for i in range(a.runs)]
bound, launcher, true_ = starts()

print(f"idle monitor, median of {a.runs} (kB)       podmon   conmon   podmon/conmon")
for k in ("VmRSS", "Pss", "Pss_Anon", "Private_Dirty", "Threads"):
    p, c = bl.median_of(pm, k), bl.median_of(cm, k)
    print(f"  {k:<14}                      {p:>8.0f} {c:>8.0f}   {p / c:.2f}")
print(f"podmon start, median of {a.starts}:")
print(f"  exec -> socket bound (foreground)     {bound * 1000:.3f} ms")
print(f"  launcher exec -> exit (listening)     {launcher * 1000:.3f} ms   (/bin/true: {true_ * 1000:.3f} ms)")
