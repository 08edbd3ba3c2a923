#!/usr/bin/python3
"""Runs a command as a child subreaper that reaps every orphan at once, as a node's systemd does.

  subreaper.py COMMAND ARGS...

Monitors daemonize, so their parent becomes the nearest subreaper or PID 1, and this machine's
PID 1 reaps orphans only every ~2 s. What waits for a monitor's pid to go (CRI-O's conmon-rs
client polls kill(pid, 0) after stopping a pod's server; podman checks its conmon) sees a zombie
until then. tests/crio/run.sh and tests/podman/e2e.sh run under this reaper, so they see what a
node sees. Exits with the command's status.
"""
import ctypes
import os
import sys

PR_SET_CHILD_SUBREAPER = 36
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("subreaper.py: prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))
main = os.fork()
if main == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while True:
    pid, status = os.wait()
    if pid == main:
        sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
