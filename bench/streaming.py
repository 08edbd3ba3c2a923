#!/usr/bin/python3
"""Streaming bench: podmon's WebSocket exec server (serveExecContainer) with a real client.

- memory: the server's VmRSS / Pss / Private_Dirty with one running container and no session,
  then with 10 exec sessions open at once (each a `cat` waiting on its stdin), then after they
  closed; every sample taken after 3 s of quiet (the idle collector has run);
- latency: exec session start, from the WebSocket connect to the first stdout byte of `echo hi`
  (the URL is fetched beforehand, as the kubelet does), next to `runc exec ID echo hi` alone (to
  its first stdout byte), median of N runs each.
Runs under /usr/bin/python3 (Debian's python3-websockets).
usage: bench/streaming.py [--sessions 10] [--runs 30]
"""
import argparse, asyncio, json, os, statistics, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl
import websockets

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--sessions", type=int, default=10)
ap.add_argument("--runs", type=int, default=30)
a = ap.parse_args()

TOOLS = bl.INTEROP
CLIENT = os.path.join(TOOLS, "conmon-rpc")


def rpc(sock, *args):
    out = subprocess.run([CLIENT, sock, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def url(sock, cid, *cmd, stdin=False):
    flags = ["--stdout", "--stderr"] + (["--stdin"] if stdin else [])
    return rpc(sock, "serve-exec", "--id", cid, *flags, "--", *cmd)["url"].replace("http://", "ws://", 1)


def quiet_mem(pid):
    time.sleep(3)
    return bl.mem(pid)


async def first_byte(u):
    t0 = time.perf_counter()
    async with websockets.connect(u, subprotocols=["v5.channel.k8s.io"]) as ws:
        while True:
            m = await ws.recv()
            if m[0] == 1 and len(m) > 1:
                t = time.perf_counter() - t0
                async for _ in ws:
                    pass
                return t


def runc_first_byte(cid):
    t0 = time.perf_counter()
    p = subprocess.Popen([bl.RUNC, "--root", bl.runc_root(), "exec", cid, "echo", "hi"], stdout=subprocess.PIPE)
    p.stdout.read(1)
    t = time.perf_counter() - t0
    p.communicate()
    return t


async def main():
    os.makedirs(bl.WORK, exist_ok=True)
    d = os.path.join(bl.WORK, f"stream-{os.getpid()}")
    os.makedirs(d, exist_ok=True)
    subprocess.run([bl.PODMON, "--runtime", bl.RUNC, "--runtime-dir", d, "--runtime-root", bl.runc_root(),
                    "--log-driver", "none", "--cgroup-manager", "cgroupfs"], check=True)
    pid = int(open(os.path.join(d, "pidfile")).read())
    sock = os.path.join(d, "conmon.sock")
    cid = f"stream-bench-{os.getpid()}"
    try:
        rpc(sock, "create", "--id", cid, "--bundle", bl.bundle(cid, ["sleep", "100000"]))
        subprocess.run([bl.RUNC, "--root", bl.runc_root(), "start", cid], check=True)
        idle = quiet_mem(pid)

        sessions = []
        for _ in range(a.sessions):
            ws = await websockets.connect(url(sock, cid, "cat", stdin=True), subprotocols=["v5.channel.k8s.io"])
            await ws.send(b"\x00ping\n")
            while (await ws.recv()) != b"\x01ping\n":
                pass
            sessions.append(ws)
        open_mem = quiet_mem(pid)
        for ws in sessions:
            await ws.send(b"\xff\x00")  # v5: close stdin; cat exits, the session ends
            async for _ in ws:
                pass
        after = quiet_mem(pid)

        podmon_lat, runc_lat = [], []
        for _ in range(a.runs):
            u = url(sock, cid, "echo", "hi")
            podmon_lat.append(await first_byte(u))
            runc_lat.append(runc_first_byte(cid))
        med = lambda xs: statistics.median(xs) * 1000

        print(f"server memory (kB)          VmRSS    Pss  Private_Dirty  Threads")
        for name, m in (("1 container, no session", idle), (f"{a.sessions} exec sessions open", open_mem), ("sessions closed", after)):
            print(f"  {name:<26}{m['VmRSS']:>6} {m['Pss']:>6} {m['Private_Dirty']:>14} {m['Threads']:>8}")
        per = (open_mem["VmRSS"] - idle["VmRSS"]) / a.sessions
        print(f"  per open exec session: {per:.0f} kB VmRSS, {(open_mem['Private_Dirty'] - idle['Private_Dirty']) / a.sessions:.0f} kB Private_Dirty")
        print(f"exec start to first stdout byte (median of {a.runs}):")
        print(f"  podmon WebSocket exec   {med(podmon_lat):6.1f} ms  (connect, runc exec -d, pidfile, output)")
        print(f"  runc exec alone         {med(runc_lat):6.1f} ms")
    finally:
        bl.remove_container(cid)
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass


asyncio.run(main())
