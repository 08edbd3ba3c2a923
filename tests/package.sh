#!/usr/bin/env bash
# The Debian package end to end: build it (packaging/build-deb.sh) from artifacts/podmon, lintian
# without errors, the man page renders cleanly, `dpkg -i`, a podman
# container whose monitor is the installed /usr/libexec/podmon/podmon (/proc/PID/exe), the
# installed binary in server mode driven by the reference client, `dpkg -r` / `dpkg -P`, and
# nothing of it left behind. Prints one "PASS name" or "FAIL name: detail" line per check.
# Usage: tests/package.sh [CONMON_RPC]   Needs root, artifacts/podmon, lintian, podman, runc.
# Installs and removes the package podmon on this machine: a podmon package installed before is
# removed at the end too (the test says so). Runs under a lock, one at a time per machine.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
client=${1:-${CONMON_RPC_DIR:-$root/.build/interop}/conmon-rpc}
[ -d "$client" ] && client=$client/conmon-rpc
bin=/usr/libexec/podmon/podmon

exec 9>/run/lock/podmon-package-test.lock
flock -w 600 9 || { echo "FAIL lock: another package test holds /run/lock/podmon-package-test.lock"; exit 0; }

work=$(mktemp -d /tmp/podmon-pkg-XXXXXX)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
    [ -x "$work/podman/pm" ] && { "$work/podman/pm" rm -af -t 0 >/dev/null 2>&1; "$work/podman/pm" system reset -f >/dev/null 2>&1; }
    runc --root "$work/runc" delete -f pkg-$$ >/dev/null 2>&1
    for c in /sys/fs/cgroup/*/podmon-pkg; do rmdir "$c/pkg-$$" "$c" 2>/dev/null; done
    dpkg -s podmon >/dev/null 2>&1 && dpkg -P podmon >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name" "$*"; fi; }
installed() { dpkg-query -W -f='${Status}' podmon 2>/dev/null | grep -q 'install ok installed'; }

if installed; then echo "package.sh: a podmon package was installed before; it is replaced and removed" >&2; fi

# ---- build and lint
if deb=$(packaging/build-deb.sh "$work/deb" 2>"$work/build.err"); then ok deb_build; else bad deb_build "$(cat "$work/build.err")"; exit 0; fi
check deb_name eval '[[ $(basename "$deb") =~ ^podmon_[0-9]+\.[0-9]+\.[0-9]+(\+git[0-9]+\.[0-9a-f]+)?_amd64\.deb$ ]]'
if lintian --fail-on error --no-tag-display-limit "$deb" >"$work/lintian.out" 2>&1; then
    ok lintian_no_errors
else
    bad lintian_no_errors "$(grep -v 'running with root' "$work/lintian.out" | head -20)"
fi
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's:^\./:/:' > "$work/contents"
for f in /usr/libexec/podmon/podmon /usr/share/man/man8/podmon.8.gz /usr/share/doc/podmon/copyright \
         /usr/share/doc/podmon/changelog.gz /usr/share/doc/podmon/examples/crio.conf.d/10-podmon.conf \
         /usr/share/doc/podmon/examples/containers.conf.d/podmon.conf; do
    check "deb_contains_$(basename "$f")" grep -qx "$f" "$work/contents"
done
check deb_activates_nothing eval '! grep -qE "^/etc/|^/lib/systemd|^/usr/lib/systemd" "$work/contents"'
check deb_no_maintainer_scripts eval '! dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -qE "(pre|post)(inst|rm)$"'

# ---- the man page renders without warnings (that it defines every option of every command line
# is Podmon.Tests' OptionTableTests, against the option table, on packaging/podmon.8)
zcat_man() { dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/man/man8/podmon.8.gz | zcat; }
check man_renders_clean eval '[ -z "$(zcat_man | LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l - 2>&1 >/dev/null)" ]'

# ---- the examples are valid TOML with the values the README shows
check examples_toml python3 - "$root/packaging/examples" <<'PY'
import sys, tomllib
d = sys.argv[1]
crio = tomllib.load(open(f"{d}/crio.conf.d/10-podmon.conf", "rb"))["crio"]["runtime"]["runtimes"]
pod, oci = crio["podmon"], crio["podmon-conmon"]
assert pod["runtime_type"] == "pod" and oci["runtime_type"] == "oci", crio
assert pod["monitor_path"] == oci["monitor_path"] == "/usr/libexec/podmon/podmon", crio
eng = tomllib.load(open(f"{d}/containers.conf.d/podmon.conf", "rb"))["engine"]
assert eng["conmon_path"] == ["/usr/libexec/podmon/podmon"], eng
PY

# ---- install
if dpkg -i "$deb" >"$work/dpkg-i.out" 2>&1; then ok dpkg_install; else bad dpkg_install "$(tail -5 "$work/dpkg-i.out")"; exit 0; fi
dpkg -L podmon | sort > "$work/listed"
check installed_static_binary eval 'file -L "$bin" | grep -q "statically linked"'
check installed_version_probe test "$("$bin" --version | head -1)" = "conmon version 2.1.6"
check installed_man_page test "$(man -w podmon 2>/dev/null)" = /usr/share/man/man8/podmon.8.gz
check installed_not_activated eval '! grep -rqs "/usr/libexec/podmon" /etc/crio /etc/containers'

# ---- podman, with conmon_path = the installed binary (tests/podman/env.sh)
img=localhost/busybox:latest
if PODMON=$bin tests/podman/env.sh "$work/podman" >"$work/env.out" 2>&1; then
    pm() { timeout 60 "$work/podman/pm" "$@"; }
    id=$(pm run -d $img sh -c 'echo from-pkg; exec sleep 1000' 2>"$work/run.err")
    check podman_run_d test -n "$id"
    mon=$(pm inspect --format '{{.State.ConmonPid}}' "$id" 2>/dev/null)
    check podman_monitor_is_installed_podmon test "$(readlink "/proc/${mon:-0}/exe")" = "$bin"
    check podman_exec test "$(pm exec "$id" sh -c 'echo in-exec; exit 0')" = in-exec
    sleep 0.3
    check podman_logs test "$(pm logs "$id" 2>/dev/null)" = from-pkg
    out=$(pm run --rm $img sh -c 'echo rm-run; exit 5'); rc=$?
    check podman_run_rm_exit_code test "$rc/$out" = 5/rm-run
    check podman_stop_rm eval 'pm rm -f -t 1 "$id" >/dev/null 2>&1'
else
    bad podman_setup "$(tail -5 "$work/env.out")"
fi

# ---- the installed binary in server mode, driven by the reference client
mkdir -p "$work/bundle/rootfs/bin" "$work/runc"
cp /bin/busybox "$work/bundle/rootfs/bin/"
ln -s busybox "$work/bundle/rootfs/bin/sh"
(cd "$work/bundle" && runc spec)
jq --arg cg "/podmon-pkg/pkg-$$" '.process.terminal = false | .process.args = ["sh", "-c", "echo server-mode; exit 7"]
    | .root.readonly = true | .linux.cgroupsPath = $cg' "$work/bundle/config.json" > "$work/bundle/c.json" \
    && mv "$work/bundle/c.json" "$work/bundle/config.json"
if "$bin" --runtime "$(command -v runc)" --runtime-dir "$work/srv" --runtime-root "$work/runc" \
        --cgroup-manager cgroupfs --log-driver none 2>"$work/srv.err"; then
    server_pid=$(cat "$work/srv/pidfile")
    ok server_started
    check server_exe_is_installed test "$(readlink "/proc/$server_pid/exe")" = "$bin"
    v=$(timeout 20 "$client" "$work/srv/conmon.sock" version 2>&1)
    check server_version_rpc test "$(jq -r .processId <<<"$v" 2>/dev/null)" = "$server_pid"
    c=$(timeout 30 "$client" "$work/srv/conmon.sock" create --id pkg-$$ --bundle "$work/bundle" \
        --exit-path "$work/exit" --log-driver "cri:$work/ctr.log" --cgroup-manager cgroupfs 2>&1)
    check server_create_rpc eval '[ "$(jq -r .containerPid <<<"$c" 2>/dev/null)" -gt 0 ] 2>/dev/null'
    runc --root "$work/runc" start pkg-$$ >/dev/null 2>&1
    for _ in $(seq 500); do [ -s "$work/exit" ] && break; sleep 0.02; done
    check server_exit_file test "$(cat "$work/exit" 2>/dev/null)" = 7
    check server_cri_log grep -qE '^[0-9T:.+-]+ stdout F server-mode$' "$work/ctr.log"
    kill -TERM "$server_pid"
    for _ in $(seq 250); do [ -e "/proc/$server_pid" ] || break; sleep 0.02; done
    check server_stops_on_sigterm eval '[ ! -e "/proc/$server_pid" ] && [ ! -e "$work/srv/conmon.sock" ]'
    server_pid=
else
    bad server_started "$(cat "$work/srv.err")"
fi
[ -x "$work/podman/pm" ] && { "$work/podman/pm" rm -af -t 0 >/dev/null 2>&1; "$work/podman/pm" system reset -f >/dev/null 2>&1; }
sleep 0.5
running=0
for d in /proc/[0-9]*; do [ "$(readlink "$d/exe" 2>/dev/null)" = "$bin" ] && running=$((running + 1)); done
check no_installed_monitor_running test "$running" = 0

# ---- remove, purge, nothing left behind
check dpkg_remove eval 'dpkg -r podmon >/dev/null 2>&1'
left=()
while read -r p; do
    [ "$p" = /. ] && continue
    if [ -f "$p" ] || [ -L "$p" ]; then left+=("$p"); fi
    case $p in /usr/libexec/podmon|/usr/share/doc/podmon*|/usr/share/lintian/overrides/podmon) [ -e "$p" ] && left+=("$p");; esac
done < "$work/listed"
if [ ${#left[@]} = 0 ]; then ok removed_every_file; else bad removed_every_file "left behind: ${left[*]}"; fi
check dpkg_purge eval 'dpkg -P podmon >/dev/null 2>&1'
check purged_status eval '! dpkg-query -W -f="\${Status}" podmon 2>/dev/null | grep -q installed'
check purged_dpkg_info eval '! ls /var/lib/dpkg/info/podmon.* >/dev/null 2>&1'
check man_db_forgot eval '! man -w podmon >/dev/null 2>&1'
exit 0
