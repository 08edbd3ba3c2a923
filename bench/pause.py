#!/usr/bin/env python3
"""Pod bench: the memory of the pod's pause process (createNamespaces), next to conmon-rs's.

The pause is started through the server, as CRI-O does it (createNamespaces over the RPC socket,
with the reference client), once with net+ipc+uts+pid and once adding a user namespace; it is
measured 2 s later (median of N runs), next to the idle server it belongs to. conmon-rs's pause is
a full conmon-rs process (its `pause` subcommand re-executes the server binary), so its figure is
an idle conmon-rs server's, from bench/peers.json (measured on this kind of machine; conmon-rs is
not installed here).
usage: bench/pause.py [--runs 5]
"""
import argparse, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl

CONMON_RPC = os.path.join(bl.INTEROP, "conmon-rpc")
CONMON_RS_PAUSE = bl.PEERS["conmon-rs"]["idle_server_kb"]  # kB: an idle conmon-rs server (bench/peers.json)

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--runs", type=int, default=5)
a = ap.parse_args()


def one(extra):
    d = tempfile.mkdtemp(prefix="podmon-bench-pause-")
    rt, base = os.path.join(d, "rt"), os.path.join(d, "pins")
    subprocess.run([bl.PODMON, "--runtime", bl.RUNC, "--runtime-dir", rt, "--log-driver", "none"], check=True)
    server = int(open(os.path.join(rt, "pidfile")).read())
    try:
        out = subprocess.run([CONMON_RPC, os.path.join(rt, "conmon.sock"), "create-namespaces", "--pod-id", "bench",
                              "--base-path", base, *extra], check=True, capture_output=True, text=True).stdout
        assert len(json.loads(out)["namespaces"]) == 5, out
        pause = int(open(os.path.join(base, "conmonrs", "bench.pid")).read())
        time.sleep(2)
        return bl.mem(pause), bl.mem(server)
    finally:
        os.kill(server, signal.SIGTERM)
        for _ in range(200):
            if not os.path.exists(f"/proc/{server}") or open(f"/proc/{server}/stat").read().split(") ")[1][0] == "Z":
                break
            time.sleep(0.01)
        shutil.rmtree(d, ignore_errors=True)


def report(name, extra):
    runs = [one(extra) for _ in range(a.runs)]
    pause = [p for p, _ in runs]
    server = [s for _, s in runs]
    m = lambda xs, k: statistics.median(x[k] for x in xs)
    print(f"{name:28} pause VmRSS {m(pause, 'VmRSS'):6.0f} kB  Pss {m(pause, 'Pss'):5.0f} kB  "
          f"Private_Dirty {m(pause, 'Private_Dirty'):4.0f} kB  threads {m(pause, 'Threads'):.0f}   "
          f"(its server: VmRSS {m(server, 'VmRSS'):.0f} kB, Pss {m(server, 'Pss'):.0f} kB)")
    return m(pause, "VmRSS"), m(pause, "Pss")


print(f"median of {a.runs} runs, measured 2 s after createNamespaces")
rss, pss = report("podmon net+ipc+uts+pid", ["--ns", "net", "--ns", "ipc", "--ns", "uts", "--ns", "pid"])
report("podmon + user (mapped)", ["--ns", "net", "--ns", "ipc", "--ns", "uts", "--ns", "pid", "--ns", "user",
                                  "--uid-mapping", "0 100000 65536", "--gid-mapping", "0 100000 65536"])
print(f"{'conmon-rs (bench/peers.json)':28} pause VmRSS {CONMON_RS_PAUSE['VmRSS']:6} kB  Pss {CONMON_RS_PAUSE['Pss']:5} kB  (a full conmon-rs process)")
print(f"ratio conmon-rs / podmon: VmRSS {CONMON_RS_PAUSE['VmRSS'] / rss:.0f}x, Pss {CONMON_RS_PAUSE['Pss'] / pss:.0f}x")
