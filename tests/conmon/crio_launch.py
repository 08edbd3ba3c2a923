#!/usr/bin/python3
"""Starts a conmon-compatible monitor the way CRI-O 1.26 does (internal/oci/runtime_oci.go) and
prints, as one JSON object, what CRI-O would read from it.

  crio_launch.py create|exec CWD MONITOR ARGS...

create: sync and start pipes are stream socketpairs at fds 3 and 4, the launcher runs in the
        bundle (CWD), CRI-O waits for the launcher to exit and then decodes one JSON message.
exec:   the sync pipe is a plain pipe (prepareExec), the start pipe a socketpair; CRI-O waits for
        the monitor itself (--sync) and then decodes the sync pipe up to EOF.
The environment is only _OCI_SYNCPIPE and _OCI_STARTPIPE (CRI-O's handler monitor_env is empty).
Output: {"status": exit status, "sync": everything read, "stdout": ..., "stderr": ..., "seconds": ...}.
"""
import json
import os
import select
import socket
import subprocess
import sys
import time


def read_sync(fd, until_eof, timeout):
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
        if not until_eof and b"\n" in data:
            break
    return data


def main():
    mode, cwd, monitor, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    if mode == "create":
        sync_parent, sync_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        sync_r, sync_w = sync_parent.fileno(), sync_child.fileno()
    else:
        sync_r, sync_w = os.pipe()
    start_child, start_parent = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def child_fds():
        import fcntl
        a = fcntl.fcntl(sync_w, fcntl.F_DUPFD, 100)
        b = fcntl.fcntl(start_child.fileno(), fcntl.F_DUPFD, 100)
        os.dup2(a, 3)
        os.dup2(b, 4)
        os.closerange(5, 65536)

    t0 = time.monotonic()
    p = subprocess.Popen([monitor] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=child_fds,
                         close_fds=False,
                         env={"_OCI_SYNCPIPE": "3", "_OCI_STARTPIPE": "4"})
    os.close(sync_w)
    start_child.close()
    start_parent.send(b"\0")
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    sync = read_sync(sync_r, until_eof=(mode != "create"), timeout=20)
    print(json.dumps({"status": p.returncode, "sync": sync.decode("utf-8", "replace"),
                      "stdout": out.decode("utf-8", "replace"), "stderr": err.decode("utf-8", "replace"),
                      "seconds": round(time.monotonic() - t0, 3)}))


main()
