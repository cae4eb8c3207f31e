"""4. List 10,000 foreign sections, 50 processes mapping 20 each: the API against `ls -l` and
`lsof +D` (each in its plain form and its fastest reasonable options, compared at the fastest)."""

from __future__ import annotations

import json
import time

from .context import SHM, Bench, wait_for
from .errors import BenchError
from .load import curl_time, wall_us
from .procs import Processes
from .report import say
from .stats import fmt_ratio, fmt_stats, median

# (label, argv, exit statuses that are fine): lsof exits 1 when some file had no user.
LS = [("ls -l", ["ls", "-l", SHM]), ("ls -lU", ["ls", "-lU", SHM])]
LSOF = [("lsof +D", ["lsof", "+D", SHM]), ("lsof -n -P -w +D", ["lsof", "-n", "-P", "-w", "+D", SHM])]


def title(b: Bench) -> str:
    s = b.sizes
    return f"List {s.c4_sections} sections, {s.c4_procs} processes mapping {s.c4_per_proc} each"


def run(b: Bench) -> None:
    s = b.sizes
    b.make_many()
    procs = Processes(say)
    try:
        out, log = b.tmp / "c4-mappers.out", b.out / "mappers.log"
        mappers = procs.start([b.tool("shmtool"), "mappers", SHM, f"{b.prefix}many-", str(s.c4_procs), str(s.c4_per_proc), "600"],
                              stdout=out, stderr=log)

        def ready():
            if mappers.poll() is not None:
                raise BenchError(f"4: the mapper processes failed: {log.read_text()[-400:]}")
            return out.read_text().startswith("ready")
        wait_for(ready, 30, "the mapper processes")
        time.sleep(1.2)  # mappers in the API are at most one second old

        path = "/api/v1/sections?limit=10000"
        listing_body = b.api.get(path).body
        d = json.loads(listing_body)
        ours_listed = [x for x in d["sections"] if x["name"].startswith(f"{b.prefix}many-")]
        mapped = sum(1 for x in ours_listed if (x.get("mappers") or 0) >= 1)
        total = d["total"]
        want_mapped = s.c4_procs * s.c4_per_proc
        if total < s.c4_sections:
            b.report.error(f"4: the API reports total {total}, fewer than our {s.c4_sections} foreign sections")
        if len(ours_listed) != s.c4_sections and total <= 10000:
            b.report.error(f"4: the API listed {len(ours_listed)} of our {s.c4_sections} foreign sections")
        if mapped != want_mapped:
            b.report.error(f"4: the API shows {mapped} of our sections with mappers, expected {want_mapped}")

        ms: dict[str, list[float]] = {"shm-admin": []}
        auth = ["-H", f"Authorization: Bearer {b.api.token}"]
        for r in range(1, b.rounds + 1):
            c = curl_time(b.server.url + path, *auth)
            if c.code != 200:
                raise BenchError(f"4: GET {path} answered {c.code}")
            ms["shm-admin"].append(c.us / 1000)
            for label, argv in LS:
                ms.setdefault(label, []).append(wall_us(argv) / 1000)
            for label, argv in LSOF:
                ms.setdefault(label, []).append(wall_us(argv, ok=(0, 1), timeout=120) / 1000)
            say(f"4: round {r} done")
        procs.stop(mappers)
    finally:
        procs.stop_all()

    ours = median(ms["shm-admin"])
    best_ls = min((label for label, _ in LS), key=lambda l: median(ms[l]))
    best_lsof = min((label for label, _ in LSOF), key=lambda l: median(ms[l]))
    lines = [
        f"{s.c4_sections} foreign sections made with shm_open-equivalent calls (not through the API), {s.c4_procs} processes",
        f"mapping {s.c4_per_proc} each ({want_mapped} mapped sections); {SHM} held {total} entries in all.",
        f"shm-admin: `GET {path}` (curl time_total, {len(listing_body)} bytes, mappers seen on {mapped} sections);",
        f"`ls` and `lsof` on {SHM}: wall time, output to /dev/null, each with and without the options that make it faster",
        "(`-U`: no sorting; `-n -P -w`: no host, port or warning lookups); **bold** = the fastest of each, compared below.",
        "",
        "| lister | ms median (min–max) |",
        "|---|---|",
        f"| shm-admin | {fmt_stats(ms['shm-admin'], 1)} |",
    ]
    for label, _ in LS + LSOF:
        bold = "**" if label in (best_ls, best_lsof) else ""
        lines.append(f"| {bold}{label}{bold} | {fmt_stats(ms[label], 1)} |")
    b.report.part(4, "\n".join(lines))
    r_ls, r_lsof = ours / median(ms[best_ls]), ours / median(ms[best_lsof])
    b.report.target(4, f"list vs ls -l (at its fastest: `{best_ls}`)", "≤ 0.6×", f"{fmt_ratio(r_ls)}×", r_ls <= 0.6)
    b.report.target(4, f"list vs lsof +D (at its fastest: `{best_lsof}`)", "≤ 0.15×", f"{fmt_ratio(r_lsof)}×", r_lsof <= 0.15)
