#!/usr/bin/python3
"""Sends one raw HTTP/1.1 request and prints the status line and body as JSON.

usage: http_probe.py URL METHOD [HEADER: VALUE]...
"""
import json, socket, sys
from urllib.parse import urlparse

u = urlparse(sys.argv[1])
path = u.path + ("?" + u.query if u.query else "")
head = f"{sys.argv[2]} {path} HTTP/1.1\r\nHost: {u.netloc}\r\n" + "".join(h + "\r\n" for h in sys.argv[3:]) + "\r\n"
s = socket.create_connection((u.hostname, u.port), timeout=10)
s.sendall(head.encode())
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
status, _, rest = data.partition(b"\r\n")
headers, _, body = rest.partition(b"\r\n\r\n")
print(json.dumps({"status": int(status.split()[1]), "headers": headers.decode(), "body": body.decode()}))
