#!/usr/bin/env bash
# The whole test suite: installs dependencies, publishes the static binary, runs every test
# project against it, and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
results=$root/.build/test-results
rm -rf "$results"
mkdir -p "$results"

tests/install-deps.sh || exit 1
./publish.sh || { echo "0 passed, 1 failed"; exit 1; }

# The project's own Cap'n Proto C++ client and wire tools (tests/interop) for the RPC interop tests,
# built once per clone (the tests build them too when missing, but doing it here keeps compile time
# out of any test's budget).
if [ ! -x .build/interop/conmon-rpc ] || [ ! -x .build/interop/wire-relay ] || [ ! -x .build/interop/wire-decode ]; then
    BUILD_DIR=$root/.build/interop tests/interop/build.sh >"$results/interop-build.log" 2>&1 \
        || { cat "$results/interop-build.log"; echo "tests/run.sh: building tests/interop failed" >&2; }
fi
if [ ! -x .build/interop-v073/conmon-rpc ]; then
    BUILD_DIR=$root/.build/interop-v073 SCHEMA=v073 tests/interop/build.sh >"$results/interop-v073-build.log" 2>&1 \
        || { cat "$results/interop-v073-build.log"; echo "tests/run.sh: building the v0.7.x client failed" >&2; }
fi

status=0
# One dotnet test per project: its results in $results/<name>.trx, each of them expected below.
expected_trx=()
run_tests() { # name project [dotnet test arguments...]
    local name=$1 proj=$2; shift 2
    expected_trx+=("$name.trx")
    dotnet test "$proj" -c Release -nologo "$@" \
        --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" \
        --results-directory "$results" || status=1
}

# The unit tests (in process, as any user: tests/*/*.Tests.csproj), then the integration tests
# (root, runc, podman, conmon, the interop tools and the published binary: tests/*/*.IntegrationTests.csproj).
unit=(tests/*/*.Tests.csproj)
integration=(tests/*/*.IntegrationTests.csproj)
for proj in "${unit[@]}" "${integration[@]}"; do
    name=$(basename "$proj" .csproj)
    echo "== $name"
    run_tests "$name" "$proj"
done

# The container, log, conmon-mode, loop and streaming tests again on the other IO path: the first
# pass ran on the default (epoll, docs/io-backends.md), this one with PODMON_IO=io_uring, which the
# in-process loops (TestLoop) and every podmon the tests start read. Those tests are in both the
# unit and the integration project (namespaces Podmon.Tests.X and Podmon.IntegrationTests.X).
for proj in tests/Podmon.Tests/Podmon.Tests.csproj tests/Podmon.IntegrationTests/Podmon.IntegrationTests.csproj; do
    name=$(basename "$proj" .csproj)
    filter=""
    for area in Containers Logging Conmon Loop Streaming; do
        filter+="${filter:+|}FullyQualifiedName~$name.$area"
    done
    echo "== $name on io_uring (PODMON_IO=io_uring)"
    PODMON_IO=io_uring run_tests "$name.io_uring" "$proj" --no-build --filter "$filter"
done

# The Debian package end to end (tests/package.sh), then the CI bench (bench/ci.py: podmon next to
# conmon, its memory gates): each prints "PASS name" / "FAIL name: why" lines, counted below with
# the xunit results. The bench's times and CPU are reported, never gated.
echo "== package (tests/package.sh)"
timeout 900 tests/package.sh "$root/.build/interop/conmon-rpc" | tee "$results/package.txt"
# A real CRI-O drives podmon in both modes next to conmon (tests/crio/run.sh; it needs the CRI-O build tool beside the repository and
# says so in one line where that is missing).
echo "== CRI-O (tests/crio/run.sh)"
timeout 1800 tests/crio/run.sh "$root/artifacts/podmon" | tee "$results/crio.txt"
echo "== bench (bench/ci.py)"
timeout 1200 bench/ci.py --out "$root/.build/bench" | tee "$results/bench.txt"
bench_status=${PIPESTATUS[0]}

passed=0; failed=0
for lines in "$results/package.txt" "$results/crio.txt" "$results/bench.txt"; do
    p=$(grep -c '^PASS ' "$lines"); f=$(grep -c '^FAIL ' "$lines")
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$lines" != "$results/bench.txt" ] && ! grep -q '^SKIP ' "$lines"; then
        echo "tests/run.sh: $(basename "$lines" .txt) reported no checks" >&2; failed=$((failed + 1))
    fi
done
if [ "$bench_status" -ne 0 ]; then   # the bench broke (its gates print PASS/FAIL only at the end)
    echo "tests/run.sh: bench/ci.py failed (exit $bench_status)" >&2; failed=$((failed + 1))
fi
for trx in "$results"/*.trx; do
    [ -e "$trx" ] || continue
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
    p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
    f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
# A run that reported nothing (did not build, crashed, or its filter matched no test) is a failure,
# not a silent zero.
for trx in "${expected_trx[@]}"; do
    total=$(grep -o '<Counters [^>]*>' "$results/$trx" 2>/dev/null | head -1 | sed -n 's/.* total="\([0-9]*\)".*/\1/p')
    if [ "${total:-0}" -eq 0 ]; then
        echo "tests/run.sh: ${trx%.trx} reported no results" >&2
        failed=$((failed + 1)); status=1
    fi
done
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
