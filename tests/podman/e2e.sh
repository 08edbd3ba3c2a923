#!/bin/bash
# podman end to end with podmon as its conmon: `podman --conmon PODMON` on an isolated podman
# configuration (tests/podman/env.sh) with a busybox image imported from a tarball.
# Usage: e2e.sh PODMON [H]   Prints one "PASS name" or "FAIL name: detail" line per check.
# Runs under a child subreaper (tests/subreaper.py) so finished monitors are reaped here and not by
# whatever parent the caller has.
set -uo pipefail
P=$(readlink -f "$1")
H=${2:-$(mktemp -d /tmp/podmon-e2e-XXXXXX)}
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${_E2E_REAPED:-}" ]; then
  export _E2E_REAPED=1
  mkdir -p "$H"
  exec "$here/../subreaper.py" "$0" "$P" "$H"
fi
cd /tmp
PODMON=$P "$here/env.sh" "$H" || { echo "FAIL setup: env.sh"; exit 1; }
pm() { timeout 60 "$H/pm" --conmon "$P" "$@"; }
img=localhost/busybox:latest
ok() { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name" "$*"; fi; }
is_podmon() { local pid; pid=$("$H/pm" inspect --format '{{.State.ConmonPid}}' "$1") && [ "$(readlink /proc/$pid/exe)" = "$P" ]; }

v=$("$P" --version); check version_probe test "${v%%$'\n'*}" = "conmon version 2.1.6"

out=$(pm run --rm $img sh -c 'echo out-rm; echo err-rm >&2; exit 42' 2>"$H/err"); rc=$?
check run_rm_exit_code test "$rc" = 42
check run_rm_output test "$out" = out-rm
check run_rm_stderr grep -q err-rm "$H/err"

id=$(pm run -d $img sh -c 'echo out1; echo err1 >&2; exec sleep 1000')
check run_d test -n "$id"
check monitor_is_podmon is_podmon "$id"
cpid=$("$H/pm" inspect --format '{{.State.ConmonPid}}' "$id")
check conmon_pidfile test "$(cat "$H/runroot/overlay-containers/$id/userdata/conmon.pid" 2>/dev/null)" = "$cpid"
sleep 0.3
check logs_stdout test "$(pm logs "$id" 2>/dev/null)" = out1
check logs_stderr test "$(pm logs "$id" 2>&1 >/dev/null)" = err1
log=$("$H/pm" inspect --format '{{.HostConfig.LogConfig.Path}}' "$id")
check k8s_file_format grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{18}\+00:00 stderr F err1$' "$log"

out=$(pm exec "$id" sh -c 'echo in-exec; exit 3'); rc=$?
check exec_exit_code test "$rc" = 3
check exec_output test "$out" = in-exec
check exec_i test "$(echo hello-stdin | pm exec -i "$id" cat)" = hello-stdin
check exec_t test "$(pm exec -t "$id" tty | tr -d '\r')" = /dev/pts/0
check exec_d test -n "$(pm exec -d "$id" sleep 1)"
# stdin arrives whole: podman writes it to the attach socket in 32 KiB records
head -c 3000000 /dev/urandom > "$H/big"
check exec_i_big_byte_exact eval 'pm exec -i "$id" cat < "$H/big" | cmp -s - "$H/big"'
check run_i_big_byte_exact eval 'pm run --rm -i $img cat < "$H/big" | cmp -s - "$H/big"'
echo preserved-fd-content > "$H/pfd"
check run_preserve_fds test "$(pm run --rm --preserve-fds 1 $img sh -c 'cat <&3' 3<"$H/pfd")" = preserved-fd-content
check exec_preserve_fds test "$(pm exec --preserve-fds 1 "$id" sh -c 'cat <&3' 3<"$H/pfd")" = preserved-fd-content
check run_timeout_255 eval 'pm run --rm --timeout 1 $img sleep 100 >/dev/null 2>&1; test $? = 255'

a=$(pm run -d $img sh -c 'sleep 2; echo late-line; exit 7')
out=$(timeout 20 "$H/pm" --conmon "$P" attach --no-stdin --sig-proxy=false "$a"); rc=$?
check attach_no_stdin test "$out" = late-line
check wait_exit_code test "$(pm wait "$a")" = 7

b=$(pm run -di $img cat)
out=$(echo piped-in | timeout 20 "$H/pm" --conmon "$P" attach "$b")
check attach_stdin test "$out" = piped-in

check run_passthrough test "$(pm run --rm --log-driver passthrough $img sh -c 'echo via-passthrough; exit 0' </dev/null 2>&1)" = via-passthrough
check run_passthrough_exit_code eval 'pm run --rm --log-driver passthrough $img sh -c "exit 9" </dev/null >/dev/null 2>&1; test $? = 9'
check run_attached_every_byte test "$(pm run --rm $img sh -c 'head -c 52428800 /dev/zero | tr "\\0" x' | (sleep 1; wc -c))" = 52428800
check run_i test "$(echo stdin-ok | pm run --rm -i $img cat)" = stdin-ok
check run_t test "$(pm run --rm -t $img tty | od -c | head -1 | tr -s ' ')" = "0000000 / d e v / p t s / 0 \r \n"

check stop eval 'pm stop -t 1 "$id" >/dev/null 2>&1'
check stopped_state test "$("$H/pm" inspect --format '{{.State.Status}}' "$id")" = exited
check rm test "$(pm rm "$id")" = "$id"

k=$(pm run -d $img sleep 1000)
pm kill -s KILL "$k" >/dev/null
check kill_wait_137 test "$(pm wait "$k")" = 137
check restart eval 'pm restart "$k" >/dev/null'
check restart_monitor_is_podmon is_podmon "$k"
check restart_running test "$("$H/pm" inspect --format '{{.State.Status}}' "$k")" = running

pm rm -af >/dev/null 2>&1
sleep 0.5
left=0
for d in /proc/[0-9]*; do [ "$(readlink $d/exe 2>/dev/null)" = "$P" ] && grep -q "$H" $d/cmdline 2>/dev/null && left=$((left+1)); done
check no_monitor_left test "$left" = 0
[ -n "${KEEP:-}" ] || { "$H/pm" system reset -f >/dev/null 2>&1; rm -rf "$H"; }
exit 0
