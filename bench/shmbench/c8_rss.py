"""8. The server's RSS: idle (measured at the start of the run), with 10,000 sections listed, and
its growth over wrk soaks of the endpoints a monitor polls, each on a fresh server."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .context import Bench, rss_kib
from .errors import BenchError
from .load import WrkResult, wrk
from .procs import Processes
from .report import say
from .stats import fmt_stats, median, plural


@dataclass
class Soak:
    with_many: int  # KiB after the first listing of every section
    before: int  # median of the soak's first quarter (KiB)
    peak: int
    after: int  # median of its last quarter
    seconds_each: int  # how many readings each quarter took
    w: WrkResult

    @property
    def growth(self) -> float:
        return (self.after - self.before) * 100 / self.before


def title(b: Bench) -> str:
    return "Server RSS"


def soak_once(b: Bench, n: int) -> Soak:
    """A fresh server: one listing of every section, a warm-up, then the soak with RSS read every second."""
    s = b.sizes
    server = b.start_server(f"c8-{n}")
    procs = Processes(say)
    try:
        server.api.get("/api/v1/sections", query={"limit": 10000})
        time.sleep(1)
        with_many = rss_kib(server.pid)
        say(f"8: soak {n}: RSS with {s.c4_sections} sections listed: {with_many} KiB")
        section = f"{b.prefix}many-00000"
        soak_lua = b.bench_dir / "soak.lua"
        wrk(procs, server.url, b.data / f"c8-warmup-{n}.txt", seconds=s.c8_warmup, headers=server.api.auth,
            script=soak_lua, script_args=[section])
        samples: list[int] = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    samples.append(rss_kib(server.pid))
                except (OSError, BenchError):
                    return
                stop.wait(1)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            w = wrk(procs, server.url, b.data / f"c8-soak-{n}.txt", seconds=s.c8_soak, headers=server.api.auth,
                    script=soak_lua, script_args=[section])
        finally:
            stop.set()
            sampler.join(5)
        if not samples:
            raise BenchError(f"8: no RSS samples during soak {n}")
        if w.errors:
            b.report.error(f"8: soak {n} had {w.non2xx} non-2xx answers and {w.socket_errors} socket errors")
    finally:
        procs.stop_all()
        b.stop_server(server)
    # Medians of the first and the last quarter of the soak (15 s at most each), not two single
    # readings: RSS goes up and down by 10 MiB and more as the buffers of 10,000-section listings,
    # metrics and system answers are made and freed (a 150 s soak swung between 21 and 37 MiB with no trend).
    k = max(1, min(15, len(samples) // 4))
    before = sorted(samples[:k])[(k + 1) // 2 - 1]
    after = sorted(samples[-k:])[(k + 1) // 2 - 1]
    soak = Soak(with_many, before, max(samples), after, k, w)
    say(f"8: soak {n}: {before} -> {after} KiB ({soak.growth:.1f} %), peak {soak.peak} KiB, {w.rps:.0f} req/s")
    return soak


def run(b: Bench, idle: int) -> None:
    s = b.sizes
    b.make_many()
    # One soak is a draw: growth is a running maximum of malloc's arenas, which steps up at each new
    # peak of concurrent large allocations (bench/ANALYSIS.md, seventh session) — so several soaks,
    # each on a fresh server, and their median.
    soaks = [soak_once(b, n) for n in range(1, s.c8_soaks + 1)]
    growths = [x.growth for x in soaks]
    with_many = soaks[0].with_many
    k = soaks[0].seconds_each
    lines = [
        "VmRSS from /proc/PID/status. Idle: a fresh server one second after it answered `/healthz` and `/api/v1/system`.",
        f"With sections: a fresh server after one `GET /api/v1/sections?limit=10000` over the {s.c4_sections} foreign sections.",
        f"Soak: wrk -t2 -c32 rotating the read endpoints a monitor polls (bench/soak.lua): {s.c8_warmup}s warm-up, then {s.c8_soak}s;",
        f"growth is from the median of the soak's first {k} s to that of its last {k} s, one reading a second;",
        f"{plural(len(soaks), 'soak')}, each on a fresh server (the first one's listing gives the figure with sections).",
        "",
        "| when | RSS |",
        "|---|---|",
        f"| idle | {idle // 1024} MiB ({idle} KiB) |",
        f"| with {s.c4_sections} sections | {with_many // 1024} MiB ({with_many} KiB) |",
        "",
        "| soak | first quarter (median) | peak | last quarter (median) | growth | requests, req/s | p50 µs | p99 µs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, x in enumerate(soaks, 1):
        lines.append(f"| {n} | {x.before} KiB | {x.peak} KiB | {x.after} KiB | {x.growth:.1f} % | "
                     f"{x.w.requests}, {x.w.rps:.0f} | {x.w.p50_us:.0f} | {x.w.p99_us:.0f} |")
    b.report.part(8, "\n".join(lines))
    b.report.target(8, "RSS idle", "≤ 16 MiB", f"{idle / 1024:.1f} MiB", idle <= 16384)
    b.report.target(8, f"RSS with {s.c4_sections} sections", "≤ 64 MiB", f"{with_many / 1024:.1f} MiB", with_many <= 65536)
    shown = f"{fmt_stats(growths, 1).replace(' (', ' % (')}" if len(growths) > 1 else f"{growths[0]:.1f} %"
    b.report.target(8, f"RSS growth over the {s.c8_soak}s soak (median of {len(soaks)})", "< 2 %", shown,
                    median(growths) < 2)
