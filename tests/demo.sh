#!/usr/bin/env bash
# Runs one real container through podmon, the way CRI-O drives conmon-rs: start the server,
# createContainer over its RPC socket (with the project's C++ client on the official Cap'n Proto
# library, tests/interop), `runc start`, wait for the exit file, print the CRI log and the version
# RPC, stop the server.
# Needs: root, artifacts/podmon (./publish.sh), runc, busybox-static, libcapnp-dev (tests/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
client=$repo/.build/interop/conmon-rpc
if [ ! -x "$client" ]; then
    echo "demo: building the C++ client (tests/interop) ..."
    BUILD_DIR=$repo/.build/interop tests/interop/build.sh >/dev/null
fi

work=$(mktemp -d /tmp/podmon-demo.XXXXXX)
id=demo-$$
cleanup() {
    [ -f "$work/run/pidfile" ] && kill "$(cat "$work/run/pidfile")" 2>/dev/null || true
    runc --root "$work/runc" delete -f "$id" >/dev/null 2>&1 || true
    for c in /sys/fs/cgroup/*/podmon-demo; do rmdir "$c/$id" "$c" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# A busybox bundle.
mkdir -p "$work/bundle/rootfs/bin" "$work/runc"
cp /bin/busybox "$work/bundle/rootfs/bin/"
for a in sh echo uname; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" "$id" <<'PY'
import json, sys
path, cid = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "echo hello from $(uname -s) in a podmon container; echo to-stderr >&2; exit 3"]
c["linux"]["cgroupsPath"] = "/podmon-demo/" + cid
json.dump(c, open(path, "w"))
PY

artifacts/podmon --version
artifacts/podmon --runtime "$(command -v runc)" --runtime-dir "$work/run" --runtime-root "$work/runc" \
    --cgroup-manager cgroupfs --log-driver none
echo "server pid $(cat "$work/run/pidfile") listening on $work/run/conmon.sock"
"$client" "$work/run/conmon.sock" version
"$client" "$work/run/conmon.sock" create --id "$id" --bundle "$work/bundle" \
    --exit-path "$work/exit" --log-driver "cri:$work/ctr.log"
runc --root "$work/runc" start "$id"
for _ in $(seq 500); do [ -s "$work/exit" ] && break; sleep 0.01; done
echo "exit file: $(cat "$work/exit")"
echo "CRI log:"
cat "$work/ctr.log"
