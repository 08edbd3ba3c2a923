#!/usr/bin/env bash
# Measures the OpenTelemetry .NET SDK + OTLP/gRPC exporter under NativeAOT with podmon's lean
# settings, against an idle baseline built the same way. Not part of CI: it needs the NuGet mirror
# (OpenTelemetry 1.21.0) and Debian's python3-grpcio, python3-protobuf and protoc.
#
# usage: bench/otel-sdk/measure.sh [ROUNDS]      (default 3; results in .build/results/)
#   SKIP_BUILD=1   reuse .build/out/{baseline,sdk}
#   PORT=N         collector port on 127.0.0.1 (default 43171); PORT+1 must have no listener
#   SETTLE=S       seconds to let a process settle before sampling (default 3)
#   IDLE=S         seconds over which idle wake-ups are counted (default 20)
# Every figure is one sample per round; README.md gives the range over the rounds.
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
rounds=${1:-3}
port=${PORT:-43171}
down_port=$((port + 1))
settle=${SETTLE:-3}
idle=${IDLE:-20}
py=/usr/bin/python3
out=$here/.build/out
res=$here/.build/results
mkdir -p "$res"
tmp=$(mktemp -d)
col_pid=
probe_pid=
cleanup() {
    [[ -n $probe_pid ]] && kill "$probe_pid" 2>/dev/null || true
    [[ -n $col_pid ]] && kill "$col_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

$py -c 'import grpc, google.protobuf' 2>/dev/null || {
    echo "measure.sh: needs apt-get install -y python3-grpcio protobuf-compiler python3-protobuf" >&2; exit 1; }

# ---- build ------------------------------------------------------------------------------------
if [[ -z ${SKIP_BUILD:-} ]]; then
    rm -rf .build/bin .build/obj .build/out
    for v in baseline sdk; do
        dotnet publish "$v/$v.csproj" -c Release -r linux-x64 -o "$out/$v" -nologo >"$res/publish-$v.log" 2>&1 || {
            cat "$res/publish-$v.log"; echo "measure.sh: publish $v failed" >&2; exit 1; }
        rm -f "$out/$v/$v.dbg"
    done
fi
{
    for v in baseline sdk; do
        f=$out/$v/$v
        echo "$v size_bytes $(stat -c %s "$f")"
        echo "$v file $(file -b "$f" | cut -d, -f1-5)"
        if [[ -f $res/publish-$v.log ]]; then
            # IL/trim/AOT warnings (MSBuild form), and the static-glibc linker notes
            echo "$v il_warnings $(grep -Eo 'warning IL[0-9]+' "$res/publish-$v.log" | wc -l)"
            grep -Eo 'warning IL[0-9]+: [^[]*' "$res/publish-$v.log" | sort | uniq -c | sort -rn | sed "s/^/$v il: /" || true
            echo "$v linker_notes $(grep -Eo "Using '[a-z_0-9]+'" "$res/publish-$v.log" | sort -u | tr '\n' ' ')"
        fi
    done
} | tee "$res/build.txt"

# ---- helpers ----------------------------------------------------------------------------------
# start_probe NAME ARGS...: runs the probe with its stdin/stdout on FIFOs; waits for "ready"
start_probe() {
    local name=$1; shift
    rm -f "$tmp/in" "$tmp/out"; mkfifo "$tmp/in" "$tmp/out"
    "$out/$name/$name" "$@" <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
    probe_pid=$!
    exec {to_probe}>"$tmp/in"
    exec {from_probe}<"$tmp/out"
    ask_line=
    read -r -t 30 ask_line <&$from_probe || { cat "$tmp/err" >&2; echo "measure.sh: $name not ready" >&2; exit 1; }
    [[ $ask_line == ready ]] || { echo "measure.sh: $name said '$ask_line'" >&2; exit 1; }
}
# ask CMD: one command, one answer line (in $ask_line)
ask() {
    echo "$1" >&$to_probe
    read -r -t 600 ask_line <&$from_probe || { cat "$tmp/err" >&2; echo "measure.sh: no answer to '$1'" >&2; exit 1; }
}
stop_probe() {
    ask quit
    exec {to_probe}>&- {from_probe}<&-
    wait "$probe_pid" || true
    probe_pid=
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$probe_pid/stat"; }   # utime+stime, clock ticks
# wakeups: "tid voluntary_ctxt_switches" per live thread (a thread that exits takes its count along,
# so idle_wakeups compares only threads alive at both ends)
wakeups() {
    local t
    for t in /proc/"$probe_pid"/task/*; do
        echo "${t##*/} $(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status" 2>/dev/null)"
    done
}
# sample LABEL: one line "LABEL rss_kB pss_kB threads" to the round's file
sample() {
    local rss pss thr
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$probe_pid/status")
    pss=$(awk '/^Pss:/ {print $2}' "/proc/$probe_pid/smaps_rollup")
    thr=$(ls "/proc/$probe_pid/task" | wc -l)
    echo "$1 rss_kB=$rss pss_kB=$pss threads=$thr" | tee -a "$round_file"
}
# idle_wakeups LABEL: voluntary context switches (a blocked thread woken) per minute and CPU ticks
# over $idle seconds of idling, with the threads that woke
idle_wakeups() {
    local t0 before after
    before=$(wakeups); t0=$(cpu_ticks); sleep "$idle"; after=$(wakeups)
    local per_thread
    per_thread=$(join <(sort <<<"$before") <(sort <<<"$after") | while read -r tid a b; do
        (( b > a )) && echo "$(cat /proc/"$probe_pid"/task/"$tid"/comm 2>/dev/null):$((b - a))"; done | tr '\n' ' ' || true)
    local total
    total=$(join <(sort <<<"$before") <(sort <<<"$after") | awk '{s += $3 - $2} END {print s + 0}')
    echo "$1 idle_wakeups_per_min=$(( total * 60 / idle )) idle_cpu_ticks=$(( $(cpu_ticks) - t0 )) woken: ${per_thread:-none}" | tee -a "$round_file"
}
collector_spans() { [[ -s $tmp/count ]] && cut -d' ' -f1 "$tmp/count" || echo 0; }
# wait_spans N: until the collector has counted N spans (60 s at most); prints the count reached
wait_spans() {
    local i
    for ((i = 0; i < 600; i++)); do
        [[ $(collector_spans) -ge $1 ]] && break
        sleep 0.1
    done
    collector_spans
}
thread_names() { for t in /proc/"$probe_pid"/task/*; do cat "$t/comm"; done | sort | uniq -c | awk '{printf "%s%s(%d)", (NR>1?", ":""), substr($0, index($0,$2)), $1}'; }

if (echo >"/dev/tcp/127.0.0.1/$down_port") 2>/dev/null; then
    echo "measure.sh: something listens on 127.0.0.1:$down_port; set PORT" >&2; exit 1
fi

# ---- rounds -----------------------------------------------------------------------------------
for ((r = 1; r <= rounds; r++)); do
    round_file=$res/round-$r.txt
    : >"$round_file"
    echo "== round $r"

    # baseline: idle only
    start_probe baseline
    sleep "$settle"
    sample baseline_idle
    echo "baseline_idle thread_names: $(thread_names)" >>"$round_file"
    idle_wakeups baseline_idle
    stop_probe

    # sdk against the collector
    rm -f "$tmp/count"
    $py "$here/collector.py" "$port" "$tmp/count" >"$tmp/collector.log" 2>&1 &
    col_pid=$!
    for ((i = 0; i < 100; i++)); do [[ -s $tmp/count ]] && break; sleep 0.1; done
    [[ -s $tmp/count ]] || { cat "$tmp/collector.log" >&2; echo "measure.sh: collector did not start" >&2; exit 1; }

    start_probe sdk "http://127.0.0.1:$port"
    sleep "$settle"
    sample sdk_configured
    echo "sdk_configured thread_names: $(thread_names)" >>"$round_file"
    idle_wakeups sdk_configured

    # first 10 000: includes the connection setup; then 100 000 more for a CPU figure above the
    # 10 ms tick (ForceFlush every 1000 keeps the 2048-span queue from overflowing)
    t0=$(cpu_ticks); ask "spans 10000"; got=$(wait_spans 10000); t1=$(cpu_ticks)
    echo "sdk_first_10k cpu_ticks=$((t1 - t0)) answer='$ask_line' collector_spans=$got" | tee -a "$round_file"
    sleep "$settle"
    sample sdk_after_10k
    echo "sdk_after_10k thread_names: $(thread_names)" >>"$round_file"
    idle_wakeups sdk_after_10k
    t0=$(cpu_ticks); ask "spans 100000"; got=$(wait_spans 110000); t1=$(cpu_ticks)
    echo "sdk_next_100k cpu_ticks=$((t1 - t0)) answer='$ask_line' collector_spans=$got" | tee -a "$round_file"
    sleep "$settle"
    sample sdk_after_110k
    # the thread pool retires idle workers after about 20 s: the idle state a quiet monitor settles in
    sleep 60
    sample sdk_after_110k_idle60
    echo "sdk_after_110k_idle60 thread_names: $(thread_names)" >>"$round_file"
    idle_wakeups sdk_after_110k_idle60
    ask gc
    echo "sdk_after_110k_gc answer='$ask_line'" >>"$round_file"
    sample sdk_after_110k_gc
    stop_probe
    kill "$col_pid"; wait "$col_pid" || true; col_pid=
    echo "collector: $(tail -1 "$tmp/collector.log")" | tee -a "$round_file"

    # sdk with nothing listening: 100 000 spans, ForceFlush every 1000 (each batch fails at once;
    # without the opt-in retry the exporter drops it)
    start_probe sdk "http://127.0.0.1:$down_port"
    sleep "$settle"
    t0=$(cpu_ticks); ask "spans 100000"; t1=$(cpu_ticks)
    echo "sdk_down_100k cpu_ticks=$((t1 - t0)) answer='$ask_line'" | tee -a "$round_file"
    sleep "$settle"
    sample sdk_down_after_100k
    echo "sdk_down_after_100k thread_names: $(thread_names)" >>"$round_file"
    ask gc
    echo "sdk_down_after_100k_gc answer='$ask_line'" >>"$round_file"
    sample sdk_down_after_100k_gc
    stop_probe

    # the same with no ForceFlush: one burst of 100 000, the 2048-span queue overflows (drops)
    start_probe sdk "http://127.0.0.1:$down_port"
    sleep "$settle"
    t0=$(cpu_ticks); ask "spans 100000 0"; t1=$(cpu_ticks)
    echo "sdk_down_burst_100k cpu_ticks=$((t1 - t0)) answer='$ask_line'" | tee -a "$round_file"
    sleep "$settle"
    sample sdk_down_after_burst_100k
    ask gc
    echo "sdk_down_after_burst_100k_gc answer='$ask_line'" >>"$round_file"
    sample sdk_down_after_burst_100k_gc
    stop_probe

    # the exporter's opt-in in-memory retry, nothing listening: 2000 spans (each batch is retried
    # with backoff until its 10 s deadline, so ForceFlush blocks). The retry's jitter comes from
    # RandomNumberGenerator, whose first use dlopens libssl.so.3 (and with it the shared libc) into
    # this static executable: record what got mapped, and a crash instead of failing.
    OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY=in_memory start_probe sdk "http://127.0.0.1:$down_port"
    echo "spans 2000" >&$to_probe
    sleep 3
    mapped=$(grep -o '/[^ ]*\.so[^ ]*' "/proc/$probe_pid/maps" 2>/dev/null | sort -u | xargs -r -n1 basename | tr '\n' ' ' || true)
    echo "sdk_down_retry_2k shared objects mapped after 3 s: ${mapped:-none}" | tee -a "$round_file"
    started=$SECONDS
    if read -r -t 120 ask_line <&$from_probe; then
        echo "sdk_down_retry_2k answer='$ask_line'" | tee -a "$round_file"
        sample sdk_down_retry_after_2k
        stop_probe
    else
        (( SECONDS - started >= 119 )) && kill "$probe_pid" 2>/dev/null
        wait "$probe_pid" && rc=0 || rc=$?
        exec {to_probe}>&- {from_probe}<&-
        probe_pid=
        echo "sdk_down_retry_2k died after $((SECONDS - started + 3)) s, exit=$rc: $(head -c 200 "$tmp/err" | tr '\n' ' ')" | tee -a "$round_file"
    fi
done
echo "measure.sh: clock ticks are 1/$(getconf CLK_TCK) s; results in $res"
