"""7. 32 clients each looping create + PUT 4 KiB + grow + delete: client latency from wrk (with wrk
free and pinned to its own CPU) and the server's own time per request from its access log."""

from __future__ import annotations

import re
import time
from collections import defaultdict

from .context import Bench
from .errors import BenchError
from .load import server_cpus, wrk
from .procs import Processes
from .report import say
from .stats import fmt_stats, median, percentile

MODE = {False: "client free", True: "client pinned"}
ROUTES = ("POST /api/v1/sections", "PUT /api/v1/sections/{name}/data",
          "POST /api/v1/sections/{name}/grow", "DELETE /api/v1/sections/{name}")
LOG_RE = re.compile(r" (POST|PUT|DELETE) (\S+) \d{3} bytes=\d+ duration_us=(\d+)")


def title(b: Bench) -> str:
    return f"Create + PUT 4 KiB + grow + delete, {b.sizes.c7_clients} clients"


def run(b: Bench) -> None:
    s = b.sizes
    pfx = f"{b.prefix}c7-"
    rps, p50, p99 = ({m: [] for m in b.modes()} for _ in range(3))
    errors, cycles, first = {m: 0 for m in b.modes()}, {m: 0 for m in b.modes()}, ""
    server_us: dict[bool, dict[str, list[int]]] = {m: defaultdict(list) for m in b.modes()}
    # Client pinned: the server runs on the other CPUs from its start, as taskset, systemd's
    # CPUAffinity= or docker --cpuset-cpus would start it, and sizes its workers to them (one per CPU).
    # A server moved there after its start keeps a worker per CPU of the whole machine, and two busy
    # workers on one CPU take turns a scheduler tick at a time (bench/ANALYSIS.md, "Workers on one CPU").
    servers = {False: b.server}
    procs = Processes(say)
    try:
        if True in b.modes():
            servers[True] = b.start_server_binary(b.server_bin, "c7-pinned", cpus=server_cpus())
        for r in range(1, b.rounds + 1):
            for pinned in b.modes():
                server = servers[pinned]
                log = server.log
                log_from = log.stat().st_size
                tag = "pinned" if pinned else "free"
                w = wrk(procs, server.url, b.data / f"c7-{tag}-r{r}.txt", seconds=s.c7_seconds, threads=s.c7_clients,
                        connections=s.c7_clients, headers=server.api.auth, script=b.bench_dir / "cycle.lua",
                        script_args=[f"{pfx}{tag}-r{r}-"], pinned=pinned)
                ce = re.search(r"^cycle_errors (\d+)", w.text, re.M)
                cc = re.search(r"^cycle_cycles (\d+)", w.text, re.M)
                if not (ce and cc):
                    raise BenchError(f"7: cycle.lua printed no counters: {w.text.splitlines()[-5:]}")
                if not first and (m := re.search(r"^cycle_first_error (.*)$", w.text, re.M)):
                    first = m.group(1)
                rps[pinned].append(w.rps)
                p50[pinned].append(w.p50_us)
                p99[pinned].append(w.p99_us)
                errors[pinned] += int(ce.group(1)) + w.socket_errors
                cycles[pinned] += int(cc.group(1))
                say(f"7: round {r} {MODE[pinned]}: {w.rps:.0f} req/s, {cc.group(1)} cycles, p99 {w.p99_us:.0f} µs, "
                    f"errors {int(ce.group(1)) + w.socket_errors}")
                time.sleep(0.5)  # let requests that were in flight when wrk stopped finish
                server.api.delete_prefixed(f"{pfx}{tag}-r{r}-")  # cycles cut off by the end of the run
                time.sleep(0.3)  # the server writes its access log in batches of up to 100 ms
                with open(log, "rb") as f:
                    f.seek(log_from)
                    text = f.read().decode("utf-8", "replace")
                for m in LOG_RE.finditer(text):
                    server_us[pinned][f"{m.group(1)} {m.group(2)}"].append(int(m.group(3)))
    finally:
        procs.stop_all()
        if True in servers:
            b.stop_server(servers[True])
    total_errors = sum(errors.values())
    if total_errors:
        b.report.error(f"7: {total_errors} failed requests in the create/PUT/grow/delete cycles; first: {first or 'a socket error'}")

    lines = [
        f"wrk -t{s.c7_clients} -c{s.c7_clients} -d{s.c7_seconds}s --latency with bench/cycle.lua: each connection creates a section",
        "(reserve 1 MiB, commit 4 KiB), PUTs 4 KiB, grows it by 64 KiB and deletes it, again and again.",
        f"Latency is per request (any of the four). {sum(cycles.values())} cycles in all; errors: {total_errors}"
        + (f" (first: `{first}`)" if first else "") + ".",
        "Client free: wrk and the server share every CPU; client pinned: wrk on the last CPU (`taskset`), and a second server",
        "started on the other CPUs (its affinity from its start: one worker per CPU it may run on).",
        "The two alternate round by round.",
        "",
        "| client | rounds | requests/s median (min–max) | p50 µs | p99 µs median (min–max) | errors |",
        "|---|---|---|---|---|---|",
    ]
    for m in b.modes():
        lines.append(f"| {MODE[m]} | {b.rounds} × {s.c7_seconds}s | {fmt_stats(rps[m], 0)} | {median(p50[m]):.0f} | "
                     f"{fmt_stats(p99[m], 0)} | {errors[m]} |")
    if any(server_us[m] for m in b.modes()):
        lines += ["", "The server's own time per request over all rounds (access log `duration_us`: from the request's",
                  "headers to its last byte handed to the kernel); the rest of wrk's latency is waiting for a CPU.", "",
                  "| client | route | requests | p50 µs | p99 µs | max µs |", "|---|---|---|---|---|---|"]
        for m in b.modes():
            for route in ROUTES:
                v = sorted(server_us[m].get(route, []))
                if v:
                    lines.append(f"| {MODE[m]} | `{route}` | {len(v)} | {percentile(v, 50)} | {percentile(v, 99)} | {v[-1]} |")
    b.report.part(7, "\n".join(lines))
    p99m = median(p99[False])
    b.report.target(7, f"cycle p99, {s.c7_clients} clients", "≤ 5 ms", f"{p99m / 1000:.2f} ms", p99m <= 5000)
    if True in p99:
        p99p = median(p99[True])
        b.report.target(7, f"cycle p99, {s.c7_clients} clients, wrk pinned to its own CPU", "≤ 5 ms", f"{p99p / 1000:.2f} ms", p99p <= 5000)
    # The server's own time per request (access log, all four routes of every round), next to the
    # client's p99 for the same mode: what is the server's and what is waiting for a CPU.
    for m in b.modes():
        every = sorted(us for v in server_us[m].values() for us in v)
        if every:
            own = percentile(every, 99)
            b.report.target(7, f"cycle server's own time p99 ({MODE[m]}, access log)", "≤ 1 ms", f"{own / 1000:.2f} ms",
                            own <= 1000)
    b.report.target(7, "cycle errors", "0", str(total_errors), total_errors == 0)
