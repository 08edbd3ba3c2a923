#!/usr/bin/env python3
"""RPC cost per call for each schema generation: the version call from a v1.0 and from a v0.7.x client.

The interop client (tests/interop, built for conmon.capnp and for conmon-v0.7.3.capnp) sends N version
calls pipelined on one connection (`conmon-rpc stress-version N`, one metadata entry, which the v0.7.3
build also sends as metadataOld JSON, as the Go client does with tracing on). Per podmon binary and
client generation:

- cpu: the server's CPU time per call (the ns sum of /proc/PID/task/*/schedstat over the runs), the
  median of --runs bursts, the binaries' bursts interleaved so that a busy machine slows them alike;
- --callgrind: the server's instructions per call under callgrind, which a busy machine does not change:
  the inclusive count of RpcSession.Receive (one frame: read the call, dispatch it, build the answer;
  the call's Finish too) over N, so IO, whose batching varies from run to run, is left out. Callgrind
  cannot read the split debug file, so functions are named from its symbol table (nm) afterwards:
  <tree>/.build/bin/Podmon/release_linux-x64/native/podmon.dbg for <tree>/artifacts/podmon.

usage: bench/rpc_generations.py [--calls 10000] [--runs 7] [--callgrind] [LABEL=PODMON_BINARY ...]
  (default: artifacts/podmon of this tree; clients from .build/interop and .build/interop-v073 or
  CONMON_RPC_DIR / CONMON_RPC_V073_DIR)
"""
import argparse, bisect, filecmp, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--calls", type=int, default=10000)
ap.add_argument("--runs", type=int, default=7)
ap.add_argument("--callgrind", action="store_true")
ap.add_argument("binaries", nargs="*", metavar="LABEL=PATH")
a = ap.parse_args()

CLIENTS = {
    "v1.0": os.path.join(bl.INTEROP, "conmon-rpc"),
    "v0.7": os.path.join(os.environ.get("CONMON_RPC_V073_DIR", os.path.join(bl.ROOT, ".build", "interop-v073")), "conmon-rpc"),
}
META = ["--meta", "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
for gen, client in CLIENTS.items():
    if not os.access(client, os.X_OK):
        sys.exit(f"rpc_generations.py: no {gen} client at {client}: build it with tests/interop/build.sh (README there)")
binaries = [tuple(b.split("=", 1)) for b in a.binaries] or [("this tree", bl.PODMON)]


def stress(client, sock, calls):
    out = subprocess.run([client, sock, "stress-version", str(calls), *META], check=True, capture_output=True, text=True).stdout
    assert json.loads(out)["calls"] == calls, out


def cpu(pid):
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
        except OSError:
            pass
    return total / 1e9


def start(binary, d, wrapper=()):
    """A server in the foreground (under wrapper); returns the process once its socket is there."""
    sock = os.path.join(d, "conmon.sock")
    p = subprocess.Popen([*wrapper, binary, "--skip-fork", "--runtime", bl.RUNC, "--runtime-dir", d, "--log-driver", "none"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not os.path.exists(sock):
        if p.poll() is not None or time.time() > deadline:
            sys.exit(f"rpc_generations.py: {binary} did not start: {p.stderr.read() if p.poll() is not None else 'timeout'}")
        time.sleep(0.05)
    return p, sock


def cpu_per_call():
    servers = []
    try:
        for label, binary in binaries:
            d = tempfile.mkdtemp(prefix="podmon-bench-gen-")
            p, sock = start(binary, d)
            servers.append((label, p, sock, d))
        for _, _, sock, _ in servers:  # warm: code paged in, pools filled
            for client in CLIENTS.values():
                stress(client, sock, a.calls)
        samples = {(label, gen): [] for label, *_ in servers for gen in CLIENTS}
        for _ in range(a.runs):
            for gen, client in CLIENTS.items():
                for label, p, sock, _ in servers:
                    c0 = cpu(p.pid)
                    stress(client, sock, a.calls)
                    samples[(label, gen)].append((cpu(p.pid) - c0) / a.calls * 1e6)
        return {k: statistics.median(v) for k, v in samples.items()}, "us server CPU per call (median of runs)"
    finally:
        for _, p, _, d in servers:
            p.send_signal(signal.SIGTERM)
            p.wait()
            shutil.rmtree(d, ignore_errors=True)


def symbols(binary):
    """Function start addresses and names of a published podmon (static, not PIE: addresses as linked)."""
    tree_native = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(binary))), ".build", "bin", "Podmon",
                               "release_linux-x64", "native")
    dbg = next((f for f in (binary + ".dbg", os.path.join(tree_native, "podmon.dbg")) if os.path.exists(f)), None)
    if dbg is None or (dbg.startswith(tree_native) and not filecmp.cmp(binary, os.path.join(tree_native, "podmon"), shallow=False)):
        sys.exit(f"rpc_generations.py: no symbols for {binary} (its podmon.dbg, from the same build)")
    syms = sorted((int(f[0], 16), f[2]) for f in (l.split() for l in subprocess.run(["nm", "-n", dbg], check=True,
                  capture_output=True, text=True).stdout.splitlines()) if len(f) == 3 and f[1] in "tT")
    return [s[0] for s in syms], [s[1] for s in syms]


def inclusive(out, syms, suffix):
    """Inclusive Ir of the functions whose symbol ends with suffix, from a callgrind file without names."""
    addrs, names = syms
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out], check=True,
                          capture_output=True, text=True).stdout
    total = 0
    for m in re.finditer(r"^\s*([\d,]+) .*\?\?\?:0x([0-9a-f]+)", text, re.M):
        i = bisect.bisect_right(addrs, int(m.group(2), 16)) - 1
        if i >= 0 and names[i].endswith(suffix):
            total += int(m.group(1).replace(",", ""))
    if total == 0:
        sys.exit(f"rpc_generations.py: no {suffix} in the profile")
    return total


def instructions(binary, syms, client, calls):
    d = tempfile.mkdtemp(prefix="podmon-bench-gen-")
    out = os.path.join(d, "callgrind.out")
    try:
        p, sock = start(binary, d, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"])
        stress(client, sock, calls)
        p.send_signal(signal.SIGTERM)
        err = p.communicate()[1]
        if not os.path.exists(out):
            sys.exit(f"rpc_generations.py: no profile from callgrind:\n{err}")
        return inclusive(out, syms, "_RpcSession__Receive")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def instructions_per_call():
    result = {}
    for label, binary in binaries:
        syms = symbols(binary)
        for gen, client in CLIENTS.items():
            result[(label, gen)] = instructions(binary, syms, client, a.calls) / a.calls
    return result, "server instructions per call and its Finish, in RpcSession.Receive (callgrind Ir, IO left out)"


values, what = instructions_per_call() if a.callgrind else cpu_per_call()
print(f"version calls, {a.calls} pipelined per connection: {what}")
print(f"  {'client':<8}" + "".join(f" {label:>14}" for label, _ in binaries) + ("   change" if len(binaries) == 2 else ""))
for gen in CLIENTS:
    row = [values[(label, gen)] for label, _ in binaries]
    fmt = (lambda v: f" {v:>14,.0f}") if a.callgrind else (lambda v: f" {v:>14.2f}")
    line = f"  {gen:<8}" + "".join(fmt(v) for v in row)
    if len(row) == 2:
        line += f"   {100 * (row[1] - row[0]) / row[0]:+.2f} %"
    print(line)
