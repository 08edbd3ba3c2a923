#!/usr/bin/env python3
"""The CI bench's report: from the JSON of bench/ci.py, one markdown table (medians with their
spread, ratios to conmon, conmon-rs from bench/peers.json marked as measured separately) and an SVG chart (memory vs container count; monitor CPU per 200 MiB of logs).

As a command it regenerates README.md's comparison table: the text between the lines
`<!-- bench:begin -->` and `<!-- bench:end -->` is replaced by the table of the last run.
usage: bench/report.py [--json .build/bench/ci.json] [--readme README.md] [--print]
"""
import argparse, json, os, statistics, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# conmon-rs, measured separately (bench/peers.json: date, machine, method): not re-measured here.
_RS = json.load(open(os.path.join(ROOT, "bench", "peers.json")))["conmon-rs"]
PEER_VERSION = _RS["version"].split()[0]
PEER = {
    "idle": f"{_RS['idle_server_kb']['VmRSS'] / 1000:.1f} / {_RS['idle_server_kb']['Pss'] / 1000:.1f} MB",
    "pss": {n: f"{mb} MB" for n, mb in _RS["pss_mb_by_containers"].items()},
    "rss50": f"{_RS['vmrss_mb_50_containers']} MB",
    "launch": f"{_RS['launch_to_socket_ms']} ms", "create": _RS["create_over_runc"], "exec": _RS["exec_sync_over_runc"],
    "rpc": "{}–{} µs".format(*_RS["version_cpu_us_per_call"]),
    "log": {p: f"{s} s" for p, s in _RS["log_cpu_s_200mib"].items()},
}
PEER_PSS_MB = {int(n): mb for n, mb in _RS["pss_mb_by_containers"].items()}
PEER_MEASURED = _RS["measured"].split(",")[0]
LOG_LABEL = {"nolf": "no newlines", "lines100": "100-byte lines", "fast": "1 MiB writes, as fast as it goes"}


def med(xs):
    return statistics.median(xs)


def q(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    f = int(k)
    return xs[f] + (xs[min(f + 1, len(xs) - 1)] - xs[f]) * (k - f)


def summary(data):
    """Medians (and the samples they come from) of everything the table and the gates use."""
    s = {}
    for kind in ("server", "conmon_mode", "conmon"):
        samples = data["idle"][kind]
        s["idle_" + kind] = {k: med([m[k] for m in samples]) for k in ("VmRSS", "Pss", "Pss_Anon")}
        s["idle_" + kind]["samples"] = samples
    s["scale"] = {}
    for n, r in data["scale"].items():
        pm = [x["server"]["Pss"] + (x["watchdog"]["Pss"] if x["watchdog"] else 0) for x in r["podmon"]]
        pr = [x["server"]["VmRSS"] + (x["watchdog"]["VmRSS"] if x["watchdog"] else 0) for x in r["podmon"]]
        cm = [sum(m["Pss"] for m in x) for x in r["conmon"]]
        cr = [sum(m["VmRSS"] for m in x) for x in r["conmon"]]
        s["scale"][n] = {"podmon_pss": med(pm), "conmon_pss": med(cm), "podmon_rss": med(pr), "conmon_rss": med(cr),
                         "podmon_pss_all": pm, "conmon_pss_all": cm, "podmon_rss_all": pr, "conmon_rss_all": cr}
    s["memcg"] = {}
    for n, r in data.get("memcg", {}).items():
        s["memcg"][n] = {f"{kind}_{k}": med([x[k] for x in r[kind]]) for kind in ("conmon_mode", "conmon", "server")
                         for k in ("usage", "anon", "kernel") if r.get(kind)}
    return s


def kb(xs):
    """median kB [min–max]"""
    return f"{med(xs):.0f} kB [{min(xs):.0f}–{max(xs):.0f}]"


def over(xs, base):
    """Per-iteration overhead over bare runc: median (p25–p75), ms."""
    d = [(x - b) * 1e3 for x, b in zip(xs, base)]
    return f"{med(d):+.1f} ms ({q(d, .25):+.1f}…{q(d, .75):+.1f})"


def msec(xs):
    return f"{med(xs) * 1e3:.1f} ms ({q(xs, .25) * 1e3:.1f}–{q(xs, .75) * 1e3:.1f})"


def cpu(xs, unit="s"):
    return f"{med(xs):.2f} s [{min(xs):.2f}–{max(xs):.2f}]"


def ratio(a, b):
    return f"{a / b:.2f}" if b else "—"


def table(data):
    s = summary(data)
    m = data["meta"]
    rows = []

    def row(metric, podmon, conmon="—", r="—", peer="—"):
        rows.append(f"| {metric} | {podmon} | {conmon} | {r} | {peer} |")

    srv, cmm, con = s["idle_server"], s["idle_conmon_mode"], s["idle_conmon"]
    ss = lambda k: [x[k] for x in data["idle"]["server"]]
    row("idle server, no container: VmRSS", kb(ss("VmRSS")), peer=PEER["idle"].split(" / ")[0] + " MB")
    row("idle server, no container: Pss", kb(ss("Pss")), peer=PEER["idle"].split(" / ")[1])
    for k in ("VmRSS", "Pss"):
        row(f"idle monitor of 1 container (conmon mode): {k}", kb([x[k] for x in data["idle"]["conmon_mode"]]),
            kb([x[k] for x in data["idle"]["conmon"]]), ratio(cmm[k], con[k]))
    for n, v in s["scale"].items():
        row(f"Pss, {n} running container{'s' if n != '1' else ''} (server + watchdog / Σ conmon)",
            kb(v["podmon_pss_all"]), kb(v["conmon_pss_all"]), ratio(v["podmon_pss"], v["conmon_pss"]), PEER["pss"].get(n, "—"))
    for n, r in data.get("memcg", {}).items():
        if not r["conmon_mode"] or not r["conmon"]:
            continue
        v = s["memcg"][n]
        cell = lambda kind: f"{kb([x['usage'] for x in r[kind]])} (anon {v[kind + '_anon']:.0f}, kernel {v[kind + '_kernel']:.0f})"
        row(f"memcg charge per idle monitor, {n} monitor{'s' if n != '1' else ''} (conmon mode)", cell("conmon_mode"),
            cell("conmon"), ratio(v["conmon_mode_usage"], v["conmon_usage"]))
        if r.get("server"):
            k = int(n)
            row(f"memcg charge, {n} container{'s' if n != '1' else ''} (server + watchdog, whole pod / {n} × conmon)",
                f"{kb([x['usage'] for x in r['server']])} (anon {v['server_anon']:.0f}, kernel {v['server_kernel']:.0f})",
                kb([x["usage"] * k for x in r["conmon"]]), ratio(v["server_usage"], v["conmon_usage"] * k))
    if "50" in s["scale"]:
        v = s["scale"]["50"]
        row("VmRSS, 50 running containers", kb(v["podmon_rss_all"]), kb(v["conmon_rss_all"]),
            ratio(v["podmon_rss"], v["conmon_rss"]), PEER["rss50"])
    la = data["launch"]
    row("launch → socket ready (server, foreground)", msec(la["podmon_socket_foreground"]), peer=PEER["launch"])
    row("launch → launcher exits, server listening", msec(la["podmon_launcher"]))
    c = data["create"]
    row(f"create over bare `runc create` ({med(c['runc']) * 1e3:.0f} ms): server", over(c["podmon"], c["runc"]),
        over(c["conmon"], c["runc"]), ratio(med(c["podmon"]), med(c["conmon"])), PEER["create"])
    row("create over bare `runc create`: conmon mode", over(c["podmon_conmon_mode"], c["runc"]),
        over(c["conmon"], c["runc"]), ratio(med(c["podmon_conmon_mode"]), med(c["conmon"])))
    e = data["exec"]
    row(f"exec-sync `true` over bare `runc exec` ({med(e['runc']) * 1e3:.0f} ms): server", over(e["podmon"], e["runc"]),
        over(e["conmon"], e["runc"]), ratio(med(e["podmon"]), med(e["conmon"])), PEER["exec"])
    row("exec-sync `true` over bare `runc exec`: conmon mode", over(e["podmon_conmon_mode"], e["runc"]),
        over(e["conmon"], e["runc"]), ratio(med(e["podmon_conmon_mode"]), med(e["conmon"])))
    pc = [x * 1e6 for x in data["rpc"]["cpu_per_call_s"]]
    row("server CPU per `version` RPC", f"{med(pc):.1f} µs [{min(pc):.1f}–{max(pc):.1f}]", peer=PEER["rpc"])
    for pattern, r in data["log"].items():
        mb = m["log_mb"]
        row(f"monitor CPU, {mb} MiB of logs ({LOG_LABEL.get(pattern, pattern)}): server", cpu(r["podmon"]),
            cpu(r["conmon"]), ratio(med(r["podmon"]), med(r["conmon"])), PEER["log"].get(pattern, "—"))
        row(f"monitor CPU, {mb} MiB of logs ({LOG_LABEL.get(pattern, pattern)}): conmon mode", cpu(r["podmon_conmon_mode"]),
            cpu(r["conmon"]), ratio(med(r["podmon_conmon_mode"]), med(r["conmon"])))
        if "podmon_conmon_mode_io_uring" in r:
            row(f"monitor CPU, {mb} MiB of logs ({LOG_LABEL.get(pattern, pattern)}): conmon mode, io_uring",
                cpu(r["podmon_conmon_mode_io_uring"]), cpu(r["conmon"]), ratio(med(r["podmon_conmon_mode_io_uring"]), med(r["conmon"])))
        for k, label in (("podmon_conmon_mode", "epoll"), ("podmon_conmon_mode_io_uring", "io_uring")):
            if k in r.get("wall", {}):
                w = r["wall"]
                row(f"`runc start` → exit file, {mb} MiB ({LOG_LABEL.get(pattern, pattern)}): conmon mode, {label}",
                    cpu(w[k]), cpu(w["conmon"]), ratio(med(w[k]), med(w["conmon"])))
    head = [f"| | podmon | conmon | podmon / conmon | conmon-rs {PEER_VERSION} ¹ |", "|---|---|---|---|---|"]
    notes = [
        "",
        f"{m['podmon']} and {m['conmon']} (Debian), {m['runc']}, measured one after the other in one run of "
        f"`bench/ci.py` ({m['date']}, {m['cpus']} CPUs, load {m['load_start']}–{m['load_end']}): medians, "
        f"memory [min–max] over {m['rounds']} round(s) measured 2.5 s after the last activity, times (p25…p75) "
        f"of the per-iteration difference from bare runc over {m['runs']} interleaved runs, "
        f"log CPU [min–max] over {m['log_runs']} run(s). Server = one podmon per pod (with its pod watchdog), "
        "conmon mode = one podmon per container, like conmon. Times and CPU vary with the machine's load; "
        "compare within a row.",
        "",
        f"¹ conmon-rs {PEER_VERSION} was measured separately (`bench/peers.json`, {PEER_MEASURED}, same kind of machine, "
        "driven through a Cap'n Proto C++ client), not in this run.",
    ]
    return "\n".join(head + rows + notes)


def nice_max(v):
    """The smallest 5-step axis maximum of the form {1, 2, 2.5, 5} x 10^k that covers v."""
    import math
    step = v / 5
    mag = 10 ** math.floor(math.log10(step)) if step > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= step:
            return 5 * m * mag
    return v


def svg(data):
    """Two panels, hand-written SVG: total Pss vs container count; monitor CPU per 200 MiB."""
    s = summary(data)
    W, H, P = 920, 440, 60
    pw = (W - 3 * P) / 2
    ph = H - 2 * P - 60       # room below for the axis label and the legend
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">', f'<rect width="{W}" height="{H}" fill="white"/>']

    def text(x, y, t, anchor="middle", size=12, weight="normal", fill="#222"):
        out.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
                   f'font-weight="{weight}" fill="{fill}">{t}</text>')

    def axes(x0, title, ymax, yfmt, ylabel):
        out.append(f'<line x1="{x0}" y1="{P}" x2="{x0}" y2="{P + ph}" stroke="#444"/>')
        out.append(f'<line x1="{x0}" y1="{P + ph}" x2="{x0 + pw}" y2="{P + ph}" stroke="#444"/>')
        text(x0 + pw / 2, P - 25, title, size=14, weight="bold")
        for i in range(6):
            v = ymax * i / 5
            y = P + ph - ph * i / 5
            out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="#ddd"/>')
            text(x0 - 6, y + 4, yfmt(v), anchor="end")
        out.append(f'<text transform="translate({x0 - 45},{P + ph / 2}) rotate(-90)" text-anchor="middle">{ylabel}</text>')

    # panel 1: Pss (MB) vs containers
    counts = sorted(int(n) for n in s["scale"])
    series = [("podmon server + watchdog", "#1f77b4", "", {n: s["scale"][str(n)]["podmon_pss"] / 1024 for n in counts}),
              ("conmon, Σ over containers", "#d62728", "", {n: s["scale"][str(n)]["conmon_pss"] / 1024 for n in counts}),
              (f"conmon-rs {PEER_VERSION} (measured separately)", "#7f7f7f", ' stroke-dasharray="5,4"',
               {n: PEER_PSS_MB[n] for n in counts if n in PEER_PSS_MB})]
    ymax = nice_max(max(max(v.values()) for *_, v in series if v) * 1.05)
    xmax = max(counts)
    x0 = P
    axes(x0, "Total Pss vs running containers", ymax, lambda v: f"{v:g}", "Pss (MB)")
    px = lambda n: x0 + pw * n / xmax
    py = lambda v: P + ph - ph * v / ymax
    for n in counts:
        text(px(n), P + ph + 16, str(n))
    text(x0 + pw / 2, P + ph + 34, "running containers")
    for i, (label, color, dash, pts) in enumerate(series):
        if not pts:
            continue
        path = " ".join(f"{'M' if j == 0 else 'L'}{px(n):.1f},{py(v):.1f}" for j, (n, v) in enumerate(sorted(pts.items())))
        out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for n, v in pts.items():
            out.append(f'<circle cx="{px(n):.1f}" cy="{py(v):.1f}" r="3.5" fill="{color}"/>')
        n, v = max(pts.items())
        text(px(n) - 6, py(v) - 8, f"{v:.1f} MB", anchor="end", size=11, fill=color)
        ly = P + ph + 52 + 16 * i
        out.append(f'<line x1="{x0 + 10}" y1="{ly - 4}" x2="{x0 + 30}" y2="{ly - 4}" stroke="{color}" stroke-width="2"{dash}/>')
        text(x0 + 36, ly, label, anchor="start")

    # panel 2: monitor CPU per 200 MiB, grouped bars per pattern
    x0 = 2 * P + pw
    kinds = [("podmon server", "podmon", "#1f77b4"), ("podmon conmon mode", "podmon_conmon_mode", "#6baed6"),
             ("podmon conmon mode, io_uring", "podmon_conmon_mode_io_uring", "#9ecae1"), ("conmon", "conmon", "#d62728")]
    kinds = [kd for kd in kinds if all(kd[1] in data["log"][p] for p in data["log"])]
    pats = list(data["log"])
    vals = {(p, k): med(data["log"][p][k]) for p in pats for _, k, _ in kinds}
    ymax = nice_max(max(vals.values()) * 1.1) if vals else 1
    axes(x0, f"Monitor CPU per {data['meta']['log_mb']} MiB of logs", ymax, lambda v: f"{v:g}", "CPU (s)")
    gw = pw / max(1, len(pats))
    bw = gw / (len(kinds) + 1.5)
    for gi, p in enumerate(pats):
        for ki, (label, k, color) in enumerate(kinds):
            v = vals[(p, k)]
            x = x0 + gi * gw + bw * (0.75 + ki)
            h = ph * v / ymax
            out.append(f'<rect x="{x:.1f}" y="{P + ph - h:.1f}" width="{bw * 0.9:.1f}" height="{h:.1f}" fill="{color}"/>')
            text(x + bw * 0.45, P + ph - h - 4, f"{v:.2f}", size=10)
        text(x0 + gi * gw + gw / 2, P + ph + 16, LOG_LABEL.get(p, p))
    for ki, (label, _, color) in enumerate(kinds):
        ly = P + ph + 52 + 16 * ki
        out.append(f'<rect x="{x0 + 10}" y="{ly - 9}" width="12" height="10" fill="{color}"/>')
        text(x0 + 28, ly, label, anchor="start")
    peer = " / ".join(PEER["log"][p] for p in pats if p in PEER["log"])
    text(x0 + pw - 4, P + ph + 68, f"conmon-rs {PEER_VERSION}: {peer}", anchor="end", size=11, fill="#555")
    text(x0 + pw - 4, P + ph + 84, "(measured separately, off scale)", anchor="end", size=11, fill="#555")
    m = data["meta"]
    text(W / 2, H - 8, f"bench/ci.py {m['date']}, {m['cpus']} CPUs; {m['podmon']}; {m['conmon']}", size=10, fill="#555")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_all(data, out_dir):
    paths = {"ci.json": json.dumps(data, indent=1) + "\n", "ci.md": table(data) + "\n", "ci.svg": svg(data)}
    written = []
    for name, content in paths.items():
        p = os.path.join(out_dir, name)
        with open(p, "w") as f:
            f.write(content)
        written.append(p)
    return written


def update_readme(readme, data):
    text = open(readme).read()
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise SystemExit(f"report.py: {readme} needs exactly one '{BEGIN}' line before one '{END}' line")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = ("\n<!-- generated by bench/report.py from .build/bench/ci.json (bench/ci.py); do not edit -->\n"
            + table(data) + "\n")
    with open(readme, "w") as f:
        f.write(head + BEGIN + body + END + tail)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", default=os.path.join(ROOT, ".build", "bench", "ci.json"))
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    ap.add_argument("--print", action="store_true", help="print the table instead of updating the README")
    a = ap.parse_args()
    data = json.load(open(a.json))
    if a.print:
        print(table(data))
    else:
        update_readme(a.readme, data)
        print(f"report.py: {a.readme} table regenerated from {a.json}", file=sys.stderr)
