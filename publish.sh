#!/usr/bin/env bash
# Builds the one static NativeAOT binary: artifacts/podmon (linux-x64).
# Fails on any trim/AOT/compiler warning, and if the result is not statically linked.
set -euo pipefail
cd "$(dirname "$0")"
out=artifacts
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet publish src/Podmon/Podmon.csproj -c Release -r linux-x64 -o "$out" -nologo "$@" 2>&1 | tee "$log" >/dev/null || {
    cat "$log"; echo "publish.sh: dotnet publish failed" >&2; exit 1; }
# The static glibc link warns that getaddrinfo & co. need the shared libc at run time; podmon
# never calls them (no NSS), so only that linker note is allowed through.
if grep -E ': warning ' "$log" | grep -vE 'statically linked applications requires at runtime' | grep -q .; then
    grep -E ': warning ' "$log" | sort -u
    echo "publish.sh: warnings are errors here" >&2
    exit 1
fi
rm -f "$out"/*.dbg "$out"/*.pdb
if ! file "$out/podmon" | grep -q 'statically linked'; then
    file "$out/podmon"; echo "publish.sh: artifacts/podmon is not statically linked" >&2; exit 1
fi
echo "publish.sh: $(stat -c %s "$out/podmon") bytes, $(file -b "$out/podmon" | cut -d, -f1-5)"
