#!/usr/bin/env bash
# Installs what building and testing podmon needs on a fresh Debian 12 (run as root).
# The .NET 10 SDK itself is a prerequisite (see README.md).
set -euo pipefail
packages=(
    gcc libc6-dev make file       # the C helper and the static link; `file` checks the result
    runc busybox-static           # real containers in tests: the OCI runtime and the image
    capnproto libcapnp-dev g++ cmake pkg-config jq   # tests/interop: the C++ client on the official library
    conmon podman uidmap          # the peers: conmon for benchmarks, podman for conmon mode
    procps strace python3         # ps/pmap and python3 for benchmarks and tests/demo.sh; strace for diagnosing
    python3-websockets python3-kubernetes   # real WebSocket clients of the streaming server (tests/streaming, run with /usr/bin/python3)
    python3-grpcio protobuf-compiler python3-protobuf   # tests/tracing/otlp_receiver.py: a real OTLP/gRPC collector; protoc --decode
    lintian                       # tests/package.sh: the .deb must have no lintian error
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v dotnet >/dev/null || { echo "install-deps.sh: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
