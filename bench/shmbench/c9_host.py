"""9. The whole host (issues 12 and 13): a host of 2,000 processes in 20 mount namespaces (each
with its own tmpfs at /dev/shm), 10,000 objects, 500 System V segments and 500 memfds. The full
inventory against `lsfd` and `ipcs -m` listing the same host; the doctor against the inventory; the
server's own CPU and RSS while Prometheus-style scrapes come every 15 s and a dashboard holds the
event stream."""

from __future__ import annotations

import json
import os
import time

from .context import Bench, rss_kib, wait_for
from .errors import BenchError
from .load import curl_time, wall_us
from .procs import Processes
from .report import say
from .stats import fmt_ratio, fmt_stats, median

LSFD = [("lsfd", ["lsfd"]), ("lsfd -r", ["lsfd", "-r"])]
IPCS = [("ipcs -m", ["ipcs", "-m"])]
INVENTORY = "/api/v1/inventory?limit=100000"
DOCTOR = "/api/v1/doctor"
FRESH = 1.2  # the server answers from a pass at most a second old: wait that out to time a fresh one


def title(b: Bench) -> str:
    s = b.sizes
    return (f"The whole host: {s.c9_procs} processes in {s.c9_namespaces} mount namespaces, {s.c9_objects} objects, "
            f"{s.c9_sysv} System V segments, {s.c9_memfds} memfds")


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15)."""
    text = open(f"/proc/{pid}/stat").read()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def run(b: Bench) -> None:
    s = b.sizes
    if os.geteuid() != 0:
        raise BenchError("9: needs root (mount namespaces with their own tmpfs)")
    procs = Processes(say)
    server = None
    try:
        out, log = b.tmp / "c9-farm.out", b.out / "hostfarm.log"
        farm = procs.start([b.tool("hostfarm"), f"{b.prefix}farm-", str(s.c9_namespaces), str(s.c9_objects),
                            str(s.c9_procs), str(s.c9_sysv), str(s.c9_memfds)], stdout=out, stderr=log)

        def ready():
            if farm.poll() is not None:
                raise BenchError(f"9: hostfarm failed: {log.read_text()[-400:]}")
            return out.read_text().startswith("ready")
        wait_for(ready, 300, "the host farm's processes")
        say(f"9: {out.read_text().strip()}")
        server = b.start_server("c9")
        api = server.api
        auth = ["-H", f"Authorization: Bearer {api.token}"]

        inventory = json.loads(api.get(INVENTORY).body)
        by_kind = inventory["byKind"]
        farm_objects = sum(1 for o in inventory["objects"]
                           if o["kind"] == "shm" and (o.get("name") or "").startswith(f"{b.prefix}farm-"))
        mounts = len(inventory["byMount"])
        if farm_objects != s.c9_objects:
            b.report.error(f"9: the inventory shows {farm_objects} of the farm's {s.c9_objects} objects")
        if by_kind.get("sysv", {}).get("count", 0) < s.c9_sysv:
            b.report.error(f"9: the inventory shows {by_kind.get('sysv')} System V segments, fewer than {s.c9_sysv}")
        if by_kind.get("memfd", {}).get("count", 0) < s.c9_memfds:
            b.report.error(f"9: the inventory shows {by_kind.get('memfd')} memfds, fewer than {s.c9_memfds}")
        if mounts < s.c9_namespaces:
            b.report.error(f"9: the inventory shows {mounts} mounts, fewer than the farm's {s.c9_namespaces}")

        ms: dict[str, list[float]] = {"inventory": [], "doctor": []}
        size = 0
        for r in range(1, b.rounds + 1):
            for label, path in (("inventory", INVENTORY), ("doctor", DOCTOR)):
                time.sleep(FRESH)
                c = curl_time(server.url + path, *auth)
                if c.code != 200:
                    raise BenchError(f"9: GET {path} answered {c.code}")
                ms[label].append(c.us / 1000)
                size = c.size if label == "inventory" else size
            for label, argv in LSFD + IPCS:
                ms.setdefault(label, []).append(wall_us(argv, timeout=300) / 1000)
            say(f"9: round {r} done")

        # CPU and RSS: a fresh look at the server's own cost while it is watched as a fleet watches it.
        events = procs.start(["curl", "-sS", "-N", *auth, server.url + "/api/v1/events"],
                             stdout=b.tmp / "c9-events.out", stderr=b.out / "c9-events.log")
        time.sleep(2)
        t0, ticks0 = time.monotonic(), cpu_ticks(server.pid)
        scrapes = 0
        while time.monotonic() - t0 < s.c9_cpu_seconds:
            api.get("/metrics")
            scrapes += 1
            next_at = t0 + scrapes * s.c9_scrape_interval
            time.sleep(max(0.0, min(next_at, t0 + s.c9_cpu_seconds) - time.monotonic()))
        elapsed, ticks = time.monotonic() - t0, cpu_ticks(server.pid) - ticks0
        cpu = ticks / os.sysconf("SC_CLK_TCK") / elapsed * 100
        rss = rss_kib(server.pid)
        if events.poll() is not None:
            b.report.error("9: the event stream ended during the CPU measurement")
        procs.stop(events)
    finally:
        if server is not None:
            b.stop_server(server)
        procs.stop_all()

    inv = median(ms["inventory"])
    doc = median(ms["doctor"])
    best_lsfd = min((label for label, _ in LSFD), key=lambda l: median(ms[l]))
    lsfd = median(ms[best_lsfd])
    rows = [f"| shm-admin `GET {INVENTORY}` ({size} bytes) | {fmt_stats(ms['inventory'], 1)} |",
            f"| shm-admin `GET {DOCTOR}` | {fmt_stats(ms['doctor'], 1)} |"]
    for label, _ in LSFD + IPCS:
        bold = "**" if label == best_lsfd else ""
        rows.append(f"| {bold}`{label}`{bold} | {fmt_stats(ms[label], 1)} |")
    b.report.part(9, "\n".join([
        f"`bench/hostfarm.c` makes the host: {s.c9_namespaces} mount namespaces, each with a 64 MiB tmpfs at /dev/shm and "
        f"{s.c9_objects // s.c9_namespaces} objects of a page; {s.c9_procs} processes, each mapping 5 objects of its "
        f"namespace; {s.c9_sysv} System V segments attached by the first processes; {s.c9_memfds} memfds held by the first "
        f"processes. The inventory listed {mounts} mounts and {inventory['total']} objects in all.",
        f"Each shm-admin request follows {FRESH} s of quiet, so it waits for a pass of its own over /proc "
        "(curl time_total); `lsfd` (util-linux, every process's files and mappings) and `ipcs -m`: wall time, output to /dev/null.",
        "",
        "| what | ms, median (min–max) |",
        "|---|---|",
        *rows,
        "",
        f"CPU: {s.c9_cpu_seconds} s with `GET /metrics` every {s.c9_scrape_interval} s ({scrapes} scrapes) and one client "
        f"holding `/api/v1/events`, the doctor running every 10 s on its own: utime + stime from /proc/PID/stat, "
        f"{ticks} ticks = {cpu:.2f} % of one core. RSS at the end: {rss // 1024} MiB ({rss} KiB).",
    ]))
    b.report.target(9, f"inventory vs `{best_lsfd}`", "≤ 0.25×", fmt_ratio(inv / lsfd), inv <= 0.25 * lsfd)
    b.report.target(9, "doctor vs inventory", "≤ 1.2×", fmt_ratio(doc / inv), doc <= 1.2 * inv)
    b.report.target(9, "server CPU, scraped every 15 s, events held", "≤ 0.5 % of a core", f"{cpu:.2f} %", cpu <= 0.5)
    b.report.target(9, "server RSS on that host", "≤ 96 MiB", f"{rss / 1024:.1f} MiB", rss <= 96 * 1024)
