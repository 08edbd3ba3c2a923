#!/usr/bin/python3
"""An exec through python3-kubernetes' own stream client (kubernetes.stream.ws_client.WSClient,
which speaks v4.channel.k8s.io), as a Kubernetes client library does it.

usage: k8s_exec.py URL [STDIN_TEXT]
Prints one JSON line: {"stdout", "stderr", "returncode"}.
"""
import json, sys
from kubernetes.client import Configuration
from kubernetes.stream.ws_client import WSClient, STDOUT_CHANNEL, STDERR_CHANNEL

url = sys.argv[1].replace("http://", "ws://", 1)
client = WSClient(Configuration(), url, headers=None, capture_all=True)
if len(sys.argv) > 2:
    client.write_stdin(sys.argv[2])
client.run_forever(timeout=30)
print(json.dumps({
    "stdout": client.read_channel(STDOUT_CHANNEL),
    "stderr": client.read_channel(STDERR_CHANNEL),
    "returncode": client.returncode,
}))
