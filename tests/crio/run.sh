#!/usr/bin/env bash
# A real CRI-O (1.26.4, with crictl 1.26.1) drives podmon: one pod's life through crictl per
# runtime handler, in one run: `runc` with Debian's conmon (the baseline), `podmon-conmon` (podmon
# in conmon mode, one monitor per container) and `podmon` (podmon as the pod's conmon-rs server).
# CRI-O is built offline from the release tarballs by ../shared/tools/crio (cached after the first
# build). Prints "PASS crio_<handler>_<step>" / "FAIL crio_<handler>_<step>: why" lines (counted by
# tests/run.sh) and a table of the time per step with ratios to conmon's.
#   tests/crio/run.sh [PODMON_BINARY]
# Without ../shared (a user's clone) it says so in one line and runs nothing; with CI=true that is
# a failure (CI always has ../shared).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${PODMON_SHARED:-$root/../shared}
tool=$shared/tools/crio
if [ ! -x "$tool/build.sh" ]; then
    if [ "${CI:-}" = true ]; then echo "FAIL crio_suite: $tool not found (CI runs with ../shared beside the clone)"
    else echo "SKIP crio: the CRI-O suite needs ../shared/tools/crio (CRI-O built from its release tarballs); not run"; fi
    exit 0
fi
# Orphaned monitors are reaped at once, as on a node (see tests/subreaper.py for why this matters).
if [ -z "${PODMON_CRIO_REAPED:-}" ]; then
    PODMON_CRIO_REAPED=1 exec "$root/tests/subreaper.py" "$0" "$@"
fi

export PODMON=${1:-$root/artifacts/podmon}
export CRIO_RUN_DIR=${CRIO_RUN_DIR:-/tmp/podmon-crio-run}
out=$root/.build/crio
rm -rf "$out"
mkdir -p "$out"
work=$out/work
mkdir -p "$work"

echo "== build CRI-O (cached in ${CRIO_BUILD_DIR:-/tmp/crio-build})"
"$tool/build.sh" >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; echo "FAIL crio_build: see $out/build.log"; exit 0; }
. "$tool/common.sh"
crio_stop 2>/dev/null
RESET=1 "$tool/setup.sh" >"$out/setup.log" 2>&1 || { tail -20 "$out/setup.log"; echo "FAIL crio_setup: see $out/setup.log"; exit 0; }
crio_start || { echo "FAIL crio_start: see $CRIO_LOG"; exit 0; }
trap 'crio_stop' EXIT

declare -A MS       # MS[handler,step] = milliseconds
declare -A RESULT   # RESULT[handler,step] = PASS | FAIL
steps=()
h=

# step NAME FUNCTION: runs FUNCTION, times it, prints PASS/FAIL. A failing function says why on stdout.
step() {
    local name=$1 fn=$2 t0 t1 why
    [[ " ${steps[*]} " == *" $name "* ]] || steps+=("$name")
    t0=$(date +%s%N)
    "$fn" >"$out/why" 2>&1   # not in a subshell: steps set POD, CTR, MONITORS for the next ones
    local rc=$?
    t1=$(date +%s%N)
    why=$(cat "$out/why")
    MS[$h,$name]=$(( (t1 - t0) / 1000000 ))
    if [ $rc -eq 0 ]; then RESULT[$h,$name]=PASS; echo "PASS crio_${h}_$name"
    else RESULT[$h,$name]=FAIL; echo "FAIL crio_${h}_$name: $(tr '\n' ' ' <<<"$why" | cut -c1-400)"; fi
    return $rc
}

fail() { echo "$*"; return 1; }
# until_ok SECONDS COMMAND...: retries every 0.1 s.
until_ok() {
    local end=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt $end ] || return 1; sleep 0.1; done
}
state_is() { crictl_ inspect "$1" 2>/dev/null | jq -e --arg s "$2" '.status.state == $s' >/dev/null; }
exit_code() { crictl_ inspect "$1" | jq -r .status.exitCode; }
monitor_of() { local pid; pid=$(crictl_ inspect "$1" | jq -r .info.pid); awk '{print $4}' "/proc/$pid/stat"; }
expected_monitor() { if [ "$h" = runc ]; then echo "$CONMON"; else echo "$PODMON"; fi; }

pod_json() {
    cat <<EOF
{"metadata":{"name":"pod-$h","namespace":"podmon-test","uid":"uid-$h-$$","attempt":0},
 "log_directory":"$work/logs-$h","linux":{"security_context":{"namespace_options":{"network":0,"pid":1,"ipc":0}}}}
EOF
}
# ctr_json NAME COMMAND_JSON [EXTRA_JSON_FIELDS]
ctr_json() {
    cat <<EOF
{"metadata":{"name":"$1"},"image":{"image":"localhost/busybox:latest"},"command":$2,"log_path":"$1.log"${3:+,$3},"linux":{${4:-}}}
EOF
}
create_ctr() {  # create_ctr NAME COMMAND_JSON [EXTRA] [LINUX]: prints the id
    ctr_json "$@" >"$work/$h-$1.json"
    crictl_ create "$POD" "$work/$h-$1.json" "$work/pod-$h.json"
}

s_runp() {
    mkdir -p "$work/logs-$h"
    pod_json >"$work/pod-$h.json"
    POD=$(crictl_ runp --runtime "$h" "$work/pod-$h.json") || return 1
    [ -n "$POD" ] || fail "no pod id"
}
s_create() {
    CTR=$(create_ctr main '["sh","-c","echo hello; echo to-stderr >&2; exec sleep 1000"]') || return 1
    CIN=$(create_ctr attach '["sh","-c","while read l; do echo got:$l; done"]' '"stdin":true') || return 1
    # With the v0.4.0 conmon-rs client CRI-O 1.26 vendors, an attach to a stdin container ends after
    # the first packet it reads (client/attach.go: ContainerStdin && !StopAfterStdinEOF), so the
    # terminal does not echo: the one reply is the first packet. conmon-rs behaves the same.
    CTTY=$(create_ctr tty '["sh","-c","stty -echo; while read l; do echo got:$l; done"]' '"stdin":true,"tty":true') || return 1
}
s_start() {
    crictl_ start "$CTR" "$CIN" "$CTTY" >/dev/null || return 1
    until_ok 10 state_is "$CTR" CONTAINER_RUNNING || fail "not running: $(crictl_ inspect "$CTR" | jq -c .status)"
}
s_monitor() {
    local c m exe want; want=$(expected_monitor)
    MONITORS=()
    for c in "$CTR" "$CIN" "$CTTY"; do
        m=$(monitor_of "$c") || return 1
        exe=$(readlink "/proc/$m/exe")
        [ "$exe" = "$want" ] || fail "container $c is monitored by pid $m = '$exe', not $want"
        MONITORS+=("$m")
    done
    # pod mode: one server for the whole pod; oci: one monitor per container.
    if [ "$h" = podmon ]; then [ "$(printf '%s\n' "${MONITORS[@]}" | sort -u | wc -l)" = 1 ] || fail "more than one server: ${MONITORS[*]}"
    else [ "$(printf '%s\n' "${MONITORS[@]}" | sort -u | wc -l)" = 3 ] || fail "monitors shared: ${MONITORS[*]}"; fi
}
s_logs() {
    local logs file
    until_ok 5 grep -q to-stderr "$work/logs-$h/main.log" || fail "no output in $work/logs-$h/main.log"
    logs=$(crictl_ logs "$CTR" 2>&1) || return 1
    grep -qx hello <<<"$logs" || fail "crictl logs: '$logs'"
    file=$(cat "$work/logs-$h/main.log")
    grep -Eq '^[0-9T:.+-]+Z? stdout F hello$|^[0-9-]+T[0-9:.]+[+-][0-9:]+ stdout F hello$' <<<"$file" || fail "CRI log: '$file'"
    grep -Eq ' stderr F to-stderr$' <<<"$file" || fail "CRI log has no stderr record: '$file'"
}
s_exec_sync() {
    local o; o=$(crictl_ exec -s "$CTR" sh -c 'echo out-$((40+2))') || return 1
    [ "$(head -1 <<<"$o")" = out-42 ] || fail "output '$o'"
}
s_exec_sync_exit_code() {
    local o; o=$(crictl_ exec -s "$CTR" sh -c 'echo err-text >&2; exit 3' 2>&1) && fail "exit 0: $o"
    grep -q "exited with 3: err-text" <<<"$o" || fail "'$o'"
}
s_exec_sync_timeout() {
    local o; o=$(crictl_ exec -s --timeout 1 "$CTR" sh -c 'sleep 31 & exec sleep 32' 2>&1) && fail "exit 0: $o"
    grep -q "exited with -1: command timed out" <<<"$o" || fail "'$o'"
    until_ok 5 bash -c '! pgrep -x -f "sleep 3[12]"' || fail "left running: $(pgrep -a -f 'sleep 3[12]')"
}
s_exec_stream() {
    local o; o=$(crictl_ exec "$CTR" echo streamed) || return 1
    [ "$o" = streamed ] || fail "output '$o'"
    o=$(printf 'piped-in\n' | crictl_ exec -i "$CTR" cat) || return 1
    [ "$o" = piped-in ] || fail "stdin: '$o'"
}
s_attach() {
    local o; o=$( (echo hello-attach; sleep 1) | timeout 15 "${CRICTL[@]}" attach -i "$CIN" 2>&1)
    grep -qx "got:hello-attach" <<<"$o" || fail "attach: '$o'"
}
s_attach_tty() {
    local o; o=$( (sleep 0.5; echo hello-tty; sleep 1.5) | timeout 15 script -qec "${CRICTL[*]} attach -i -t $CTTY" /dev/null 2>&1)
    grep -q "got:hello-tty" <<<"$o" || fail "tty attach: '$(od -c <<<"$o" | head -5)'"
}
s_crio_restart() {
    local before after
    before=$(monitor_of "$CTR")
    crio_stop && crio_start || fail "CRI-O did not restart"
    state_is "$CTR" CONTAINER_RUNNING || fail "container not running after the restart"
    after=$(monitor_of "$CTR")
    [ "$before" = "$after" ] || fail "monitor changed $before -> $after"
    [ "$(readlink "/proc/$after/exe")" = "$(expected_monitor)" ] || fail "monitor $after is not $(expected_monitor)"
    local o; o=$(crictl_ exec -s "$CTR" echo after-restart) || return 1
    [ "$(head -1 <<<"$o")" = after-restart ] || fail "exec after the restart: '$o'"
}
s_stop_exit_code() {
    local c; c=$(create_ctr stop '["sh","-c","trap \"exit 7\" TERM; while true; do sleep 0.1; done"]') || return 1
    crictl_ start "$c" >/dev/null && until_ok 10 state_is "$c" CONTAINER_RUNNING || fail "not running"
    sleep 0.3
    crictl_ stop -t 10 "$c" >/dev/null || return 1
    [ "$(exit_code "$c")" = 7 ] || fail "exit code $(exit_code "$c"), want 7"
}
s_exit_3() {
    local c; c=$(create_ctr three '["sh","-c","exit 3"]') || return 1
    crictl_ start "$c" >/dev/null || return 1
    until_ok 10 state_is "$c" CONTAINER_EXITED || fail "never exited"
    [ "$(exit_code "$c")" = 3 ] || fail "exit code $(exit_code "$c"), want 3"
}
s_oom_kill() {
    local c; c=$(create_ctr oom '["dd","if=/dev/zero","of=/dev/null","bs=128M","count=1"]' '' '"resources":{"memory_limit_in_bytes":16777216}') || return 1
    crictl_ start "$c" >/dev/null || return 1
    until_ok 15 state_is "$c" CONTAINER_EXITED || fail "never exited"
    local st; st=$(crictl_ inspect "$c" | jq -c '{reason: .status.reason, exitCode: .status.exitCode}')
    [ "$st" = '{"reason":"OOMKilled","exitCode":137}' ] || fail "status $st"
}
s_stopp() {
    crictl_ stopp "$POD" >/dev/null || return 1
    state=$(crictl_ inspectp "$POD" | jq -r .status.state)
    [ "$state" = SANDBOX_NOTREADY ] || fail "pod state $state"
}
s_rmp() { crictl_ rmp "$POD" >/dev/null; }
s_nothing_left() {
    local m
    for m in "${MONITORS[@]}"; do
        until_ok 5 bash -c "[ ! -e /proc/$m ] || grep -q '^State:.*Z' /proc/$m/status" || fail "monitor $m still running: $(tr '\0' ' ' </proc/$m/cmdline | cut -c1-200)"
    done
    if grep -q "$POD" /proc/self/mountinfo; then fail "mounts left: $(grep "$POD" /proc/self/mountinfo | cut -c1-200)"; fi
    for c in "$CTR" "$CIN" "$CTTY"; do
        if grep -q "$c" /proc/self/mountinfo; then fail "mounts of $c left"; fi
        if "$RUNC" --root "$RUN/runc" state "$c" >/dev/null 2>&1; then fail "runc still knows $c"; fi
    done
    if pgrep -f "pod-$h" >/dev/null; then fail "processes left: $(pgrep -a -f "pod-$h")"; fi
    return 0
}

for h in runc podmon-conmon podmon; do
    POD= CTR= CIN= CTTY=
    MONITORS=()
    echo "== handler $h"
    step runp s_runp || continue
    if step create s_create && step start s_start; then
        step monitor_exe s_monitor
        step logs s_logs
        step exec_sync s_exec_sync
        step exec_sync_exit_code s_exec_sync_exit_code
        step exec_sync_timeout s_exec_sync_timeout
        step exec_stream s_exec_stream
        step attach s_attach
        step attach_tty s_attach_tty
        step crio_restart s_crio_restart
        step stop_exit_code s_stop_exit_code
        step exit_3 s_exit_3
        step oom_kill s_oom_kill
    fi
    step stopp s_stopp
    step rmp s_rmp
    step nothing_left s_nothing_left
done

# The time per step, next to conmon's, from this run.
{
    echo "| step | conmon (ms) | podmon conmon mode (ms) | ratio | podmon pod mode (ms) | ratio |"
    echo "|---|---|---|---|---|---|"
    for s in "${steps[@]}"; do
        b=${MS[runc,$s]:-}
        row="| $s | ${b:--}"
        for x in podmon-conmon podmon; do
            v=${MS[$x,$s]:-}
            r=-; [ -n "$v" ] && [ -n "$b" ] && [ "$b" -gt 0 ] && r=$(awk -v a="$v" -v b="$b" 'BEGIN{printf "%.2f", a/b}')
            [ "${RESULT[$x,$s]:-}" = FAIL ] && v="$v FAIL"
            row+=" | ${v:--} | $r"
        done
        echo "$row |"
    done
} | tee "$out/steps.md"

# Tracing: CRI-O with [crio.tracing] on exports its own spans and starts the pod server with
# --enable-tracing --tracing-endpoint http://<endpoint>; both land in one receiver (Debian's grpcio,
# tests/tracing/otlp_receiver.py), podmon's spans under CRI-O's. Then the collector goes away: the
# pod still starts and runs, and the server's memory stays bounded.
h=tracing
spans=$out/spans.jsonl
RX=
tracing_receiver() {
    /usr/bin/python3 "$root/tests/tracing/otlp_receiver.py" --proto-dir "$root/tests/fixtures/otlp" --out "$spans" \
        >"$out/receiver.stdout" 2>"$out/receiver.log" &
    RX=$!
    until_ok 20 grep -q '^listening on' "$out/receiver.stdout" || fail "receiver did not start: $(cat "$out/receiver.log")"
}
s_tracing_on() {
    tracing_receiver || return 1
    local port; port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out/receiver.stdout")
    printf '[crio.tracing]\nenable_tracing = true\ntracing_endpoint = "127.0.0.1:%s"\ntracing_sampling_rate_per_million = 1000000\n' "$port" \
        >"$CRIO_RUN_DIR/crio.conf.d/50-tracing.conf"
    crio_stop && crio_start || fail "CRI-O did not restart with tracing on"
}
s_traced_pod() {
    mkdir -p "$work/logs-$h"
    pod_json >"$work/pod-$h.json"
    POD=$(crictl_ runp --runtime podmon "$work/pod-$h.json") || return 1
    CTR=$(create_ctr main '["sh","-c","exec sleep 1000"]') || return 1
    crictl_ start "$CTR" >/dev/null || return 1
    local o; o=$(crictl_ exec -s "$CTR" echo traced) || return 1
    [ "$(head -1 <<<"$o")" = traced ] || fail "exec output '$o'"
    SERVER=$(monitor_of "$CTR") || return 1
    [ "$(readlink "/proc/$SERVER/exe")" = "$PODMON" ] || fail "container $CTR is not monitored by podmon"
    grep -q -- '--enable-tracing' "/proc/$SERVER/cmdline" || fail "CRI-O did not pass --enable-tracing: $(tr '\0' ' ' <"/proc/$SERVER/cmdline")"
}
# Every podmon RPC span of the pod (create_container, exec_sync_container) is the child of a CRI-O
# span of the same trace; the runtime's work is under podmon's call span.
spans_check() {
    python3 - "$spans" "$CTR" <<'PY'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ctr = sys.argv[2]
by_id = {s["span_id"]: s for s in spans}
ours = [s for s in spans if s["resource"].get("service.name") == "podmon"]
def need(ok, why):
    if not ok: print(why); sys.exit(1)
for name, child in (("create_container", "runtime_create"), ("exec_sync_container", "runtime_exec")):
    calls = [s for s in ours if s["name"] == name and s["attributes"].get("container_id") == ctr]
    need(calls, f"no podmon {name} span for {ctr} among {len(ours)} podmon spans ({sorted(set(s['name'] for s in ours))})")
    for c in calls:
        p = by_id.get(c["parent_span_id"])
        need(p is not None, f"{name}: parent {c['parent_span_id']} not received (CRI-O's spans: {sum(1 for s in spans if s not in ours)})")
        need(p["resource"].get("service.name") != "podmon" and p["trace_id"] == c["trace_id"],
             f"{name}: parent {p['name']} of {p['resource'].get('service.name')} in trace {p['trace_id']}")
        need(c["kind"] == 2 and c["attributes"].get("outcome") == "ok", f"{name}: kind {c['kind']}, attributes {c['attributes']}")
        kids = [s for s in ours if s["parent_span_id"] == c["span_id"] and s["name"] == child]
        need(kids and kids[0]["trace_id"] == c["trace_id"], f"{name}: no {child} span under it")
PY
}
s_spans() { until_ok 20 spans_check || spans_check; }
s_collector_down() {
    kill "$RX"; wait "$RX" 2>/dev/null; RX=
    local c i before after o
    c=$(create_ctr second '["sh","-c","exec sleep 1000"]') || return 1
    crictl_ start "$c" >/dev/null || fail "start with the collector down"
    before=$(awk '/^VmRSS/{print $2}' "/proc/$SERVER/status")
    for i in $(seq 1 40); do
        o=$(crictl_ exec -s "$c" echo "n$i") || return 1
        [ "$(head -1 <<<"$o")" = "n$i" ] || fail "exec $i: '$o'"
    done
    after=$(awk '/^VmRSS/{print $2}' "/proc/$SERVER/status")
    # The queue of unsent spans is capped (2048 spans, encoded); 40 calls make ~80 spans. Bounded:
    # not more than 4 MB of growth, whatever the collector does.
    echo "VmRSS ${before} kB -> ${after} kB over 40 exec-syncs with the collector down" | tee "$out/tracing-memory.txt" >&2
    [ $((after - before)) -lt 4096 ] || fail "VmRSS grew from $before to $after kB"
}
s_tracing_off() {
    crictl_ stopp "$POD" >/dev/null && crictl_ rmp "$POD" >/dev/null || fail "pod not removed"
    rm -f "$CRIO_RUN_DIR/crio.conf.d/50-tracing.conf"
}
echo "== tracing (CRI-O and the podmon pod server into one OTLP receiver)"
if step tracing_on s_tracing_on; then
    step traced_pod s_traced_pod && step spans s_spans && step collector_down s_collector_down
    step tracing_off s_tracing_off
fi
[ -n "$RX" ] && kill "$RX" 2>/dev/null
exit 0
