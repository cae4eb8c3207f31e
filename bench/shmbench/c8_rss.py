"""8. The server's RSS: idle (measured at the start of the run), with 10,000 sections listed, and
its growth over a wrk soak of the endpoints a monitor polls."""

from __future__ import annotations

import threading
import time

from .context import Bench, rss_kib
from .errors import BenchError
from .load import wrk
from .procs import Processes
from .report import say


def title(b: Bench) -> str:
    return "Server RSS"


def run(b: Bench, idle: int) -> None:
    s = b.sizes
    b.make_many()
    server = b.start_server("c8")
    procs = Processes(say)
    try:
        server.api.get("/api/v1/sections", query={"limit": 10000})
        time.sleep(1)
        with_many = rss_kib(server.pid)
        say(f"8: RSS with {s.c4_sections} sections listed: {with_many} KiB")
        section = f"{b.prefix}many-00000"
        soak_lua = b.bench_dir / "soak.lua"
        wrk(procs, server.url, b.data / "c8-warmup.txt", seconds=s.c8_warmup, headers=server.api.auth,
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
            w = wrk(procs, server.url, b.data / "c8-soak.txt", seconds=s.c8_soak, headers=server.api.auth,
                    script=soak_lua, script_args=[section])
        finally:
            stop.set()
            sampler.join(5)
        if not samples:
            raise BenchError("8: no RSS samples during the soak")
        if w.errors:
            b.report.error(f"8: the soak had {w.non2xx} non-2xx answers and {w.socket_errors} socket errors")
    finally:
        procs.stop_all()
        b.stop_server(server)
    # Medians of the first and the last quarter of the soak (15 s at most each), not two single
    # readings: RSS goes up and down by 10 MiB and more as the buffers of 10,000-section listings,
    # metrics and system answers are made and freed (a 150 s soak swung between 21 and 37 MiB with no trend).
    k = max(1, min(15, len(samples) // 4))
    before = sorted(samples[:k])[(k + 1) // 2 - 1]
    after = sorted(samples[-k:])[(k + 1) // 2 - 1]
    peak = max(samples)
    growth = (after - before) * 100 / before
    b.report.part(8, "\n".join([
        "VmRSS from /proc/PID/status. Idle: a fresh server one second after it answered `/healthz` and `/api/v1/system`.",
        f"With sections: a fresh server after one `GET /api/v1/sections?limit=10000` over the {s.c4_sections} foreign sections.",
        f"Soak: wrk -t2 -c32 rotating the read endpoints a monitor polls (bench/soak.lua): {s.c8_warmup}s warm-up, then {s.c8_soak}s;",
        f"growth is from the median of the soak's first {k} s to that of its last {k} s, one reading a second "
        f"(soak: {w.requests} requests, {w.rps:.0f} req/s, p50 {w.p50_us:.0f} µs, p99 {w.p99_us:.0f} µs).",
        "",
        "| when | RSS |",
        "|---|---|",
        f"| idle | {idle // 1024} MiB ({idle} KiB) |",
        f"| with {s.c4_sections} sections | {with_many // 1024} MiB ({with_many} KiB) |",
        f"| first {k} s of the soak (median) | {before // 1024} MiB ({before} KiB) |",
        f"| peak during the soak | {peak // 1024} MiB ({peak} KiB) |",
        f"| last {k} s of the soak (median) | {after // 1024} MiB ({after} KiB) |",
    ]))
    b.report.target(8, "RSS idle", "≤ 16 MiB", f"{idle / 1024:.1f} MiB", idle <= 16384)
    b.report.target(8, f"RSS with {s.c4_sections} sections", "≤ 64 MiB", f"{with_many / 1024:.1f} MiB", with_many <= 65536)
    b.report.target(8, f"RSS growth over the {s.c8_soak}s soak", "< 2 %", f"{growth:.1f} %", growth < 2)
