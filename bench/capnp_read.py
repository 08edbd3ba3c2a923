#!/usr/bin/env python3
"""Cap'n Proto read-path bench: instructions per request read, counted by callgrind.

bench/capnp-read (a NativeAOT console program built from the product's SchemaGeneration.cs and
generated accessors) reads one message N times; callgrind counts the instructions of the whole run at
N and at 0, and (Ir(N) - Ir(0)) / N is one read. Instruction counts do not depend on the machine's load,
so two builds compare in one run even on a busy machine (wall time would not).

Cases: createContainer params as CRI-O sends them in the v1.0 and the v0.7.x layout, version params in
both, a large v1.0 createContainer (2,000 envVars, 2,000 commandArgs) through the same accessors, and the
same large message walked through the general StructReader/ListReader alone.

usage: bench/capnp_read.py [--iterations 2000] [LABEL=CAPNP_READ_BINARY ...]
  with no binaries, builds this tree's bench/capnp-read into .build/capnp-read and measures that;
  give several (e.g. before=/tmp/base/.build/capnp-read/capnp-read after=.build/capnp-read/capnp-read)
  to compare builds of different trees, one column each.
"""
import argparse, os, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = [  # (case, iterations as a fraction of --iterations: the large ones cost ~150x a small read)
    ("create-v1", 1), ("create-v073", 1), ("version-v1", 1), ("version-v073", 1),
    ("large-v1", 0.01), ("walk-v1", 0.01),
]

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--iterations", type=int, default=2000)
ap.add_argument("binaries", nargs="*", metavar="LABEL=PATH")
a = ap.parse_args()


def build():
    out = os.path.join(ROOT, ".build", "capnp-read")
    subprocess.run(["dotnet", "publish", os.path.join(ROOT, "bench", "capnp-read", "CapnpRead.csproj"), "-c", "Release",
                    "-r", "linux-x64", "-o", out, "-nologo"], check=True, stdout=subprocess.DEVNULL)
    # valgrind 3.19 gives up on the compressed DWARF of the split debug file; counts need no symbols.
    dbg = os.path.join(out, "capnp-read.dbg")
    if os.path.exists(dbg):
        os.remove(dbg)
    return os.path.join(out, "capnp-read")


def instructions(binary, case, n):
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", binary, case, str(n)],
                       capture_output=True, text=True)
    m = re.search(r"Collected : (\d+)", r.stderr)
    if r.returncode != 0 or not m:
        sys.exit(f"capnp_read.py: {binary} {case} {n} failed:\n{r.stdout}{r.stderr}")
    checksum = r.stdout.split("checksum")[-1].strip()
    return int(m.group(1)), checksum


binaries = [tuple(b.split("=", 1)) for b in a.binaries] or [("this tree", build())]
for label, path in binaries:
    if os.path.exists(path + ".dbg"):
        sys.exit(f"capnp_read.py: remove {path}.dbg first (valgrind cannot read its debug info)")
print(f"instructions per read (callgrind Ir, (Ir(N) - Ir(0)) / N)")
print(f"  {'case':<14} {'N':>6}" + "".join(f" {label:>14}" for label, _ in binaries)
      + ("   change" if len(binaries) == 2 else ""))
for case, share in CASES:
    n = max(10, int(a.iterations * share))
    row, sums = [], set()
    for _, path in binaries:
        base, _ = instructions(path, case, 0)
        total, checksum = instructions(path, case, n)
        row.append((total - base) / n)
        sums.add(checksum)
    if len(sums) != 1:
        sys.exit(f"capnp_read.py: the builds read {case} differently (checksums {sorted(sums)})")
    line = f"  {case:<14} {n:>6}" + "".join(f" {v:>14,.0f}" for v in row)
    if len(row) == 2:
        line += f"   {100 * (row[1] - row[0]) / row[0]:+.2f} %"
    print(line)
