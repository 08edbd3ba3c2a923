#!/usr/bin/env bash
# Builds podmon's interop tools (conmon-rpc, wire-relay, wire-decode) from tests/interop.
#
#   tests/interop/build.sh                  -> $repo/.build/interop        (conmon-rs v1.0 schema)
#   SCHEMA=v073 tests/interop/build.sh      -> $repo/.build/interop-v073   (conmon-rs v0.7.x schema, conmon-rpc only)
#   tests/interop/build.sh --v073           same as SCHEMA=v073
#   BUILD_DIR=/some/dir                     overrides the output directory
#
# Needs capnproto libcapnp-dev g++ cmake pkg-config (tests/install-deps.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
schema=${SCHEMA:-v10}
for a in "$@"; do
    case $a in
        --v073) schema=v073 ;;
        --v10) schema=v10 ;;
        *) echo "usage: [SCHEMA=v10|v073] [BUILD_DIR=DIR] $0 [--v073|--v10]" >&2; exit 2 ;;
    esac
done
case $schema in
    v10|v1|1.0|"") file=$repo/src/Podmon/Schema/conmon.capnp; dir=${BUILD_DIR:-$repo/.build/interop}; targets=(conmon-rpc wire-relay wire-decode) ;;
    v073|v0.7.3)   file=$repo/src/Podmon/Schema/conmon-v0.7.3.capnp; dir=${BUILD_DIR:-$repo/.build/interop-v073}; targets=(conmon-rpc) ;;
    *) echo "build.sh: SCHEMA must be v10 or v073, not '$schema'" >&2; exit 2 ;;
esac
for tool in capnp capnpc-c++ cmake pkg-config g++; do
    command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (run tests/install-deps.sh)" >&2; exit 1; }
done
cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONMON_SCHEMA="$file" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"
echo "build.sh: ${targets[*]} in $dir ($(basename "$file"))"
