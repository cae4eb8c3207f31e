"""1. GET /api/v1/sections with 100 sections under wrk -c32: shm-admin against bare libmicrohttpd
and nginx sending the same bytes, each peer at the fastest of its configurations, with the client
free and pinned to its own CPU; optionally callgrind's instructions per request."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass, field

from . import callgrind
from .context import SHM, Bench
from .errors import BenchError
from .load import server_cpus, wrk
from .peers import BareMhd, Nginx, bare_pool_sizes, nginx_configs, stop_quietly
from .procs import Processes, all_cpus, pin
from .report import say
from .stats import fmt_ratio, fmt_stats, median, plural


def title(b: Bench) -> str:
    return f"GET /api/v1/sections, {b.sizes.c1_sections} sections, wrk -c32"


@dataclass
class Variant:
    kind: str  # shm-admin, bare_mhd, nginx
    label: str
    config: str  # the configuration, in words
    url: str
    pid: int
    rps: dict[bool, list[float]] = field(default_factory=lambda: {False: [], True: []})
    p50: dict[bool, list[float]] = field(default_factory=lambda: {False: [], True: []})
    p99: dict[bool, list[float]] = field(default_factory=lambda: {False: [], True: []})
    errors: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})


MODE = {False: "client free", True: "client pinned"}


def run(b: Bench) -> None:
    s = b.sizes
    pfx = f"{b.prefix}c1-"
    say(f"1: creating {s.c1_sections} sections through the API")
    for i in range(s.c1_sections):
        b.api.post("/api/v1/sections", json={"name": f"{pfx}{i:03d}", "reserve": "64KiB", "commit": "4KiB",
                                             "labels": {"bench": "c1"}})
    path = f"/api/v1/sections?q={pfx}"
    body = b.api.get(path).body
    body_file = b.tmp / "c1-sections.json"
    body_file.write_bytes(body)
    total = b.api.get(path).json["total"]
    if total != s.c1_sections:
        b.report.error(f"1: GET {path} reports total {total}, expected {s.c1_sections}")

    procs = Processes(say)
    peers: list = []
    try:
        for threads in bare_pool_sizes():
            peers.append(BareMhd(procs, b.bin_dir / "bare_mhd", body_file, threads, b.tmp, b.out).start())
        for config in nginx_configs("listing"):
            n = Nginx(procs, config, SHM, b.out)
            peers.append(n)
            n.start()
            shutil.copyfile(body_file, n.www / "sections.json")
            os.chmod(n.www / "sections.json", 0o644)
        ours = Variant("shm-admin", "shm-admin", "release build, its defaults", b.server.url + path, b.server.pid)
        variants = [ours]
        for p in peers:
            if isinstance(p, BareMhd):
                variants.append(Variant("bare_mhd", p.label, f"thread pool of {p.threads}", p.url + "/", p.proc.pid))
            else:
                variants.append(Variant("nginx", p.label, p.config.what, p.url + "/sections.json", p.proc.pid))
        # The same bytes from all.
        for v in variants[1:]:
            with urllib.request.urlopen(v.url, timeout=10) as r:
                if r.read() != body:
                    b.report.error(f"1: {v.label} does not send the API's bytes")

        auth = b.api.auth
        server_pids = [v.pid for v in variants]

        def block(pinned: bool, vs: list[Variant], seconds: int, tag: str, r: int) -> None:
            for pid in server_pids:
                pin(pid, server_cpus() if pinned else all_cpus())
            try:
                for v in vs:
                    f = b.data / f"c1-{tag}-{v.label.replace(' ', '_')}-{'pinned' if pinned else 'free'}-r{r}.txt"
                    w = wrk(procs, v.url, f, seconds=seconds, headers=auth, pinned=pinned)
                    v.rps[pinned].append(w.rps)
                    v.p50[pinned].append(w.p50_us)
                    v.p99[pinned].append(w.p99_us)
                    v.errors[pinned] += w.errors
                    say(f"1: {tag} round {r} {MODE[pinned]} {v.label}: {w.rps:.0f} req/s, p99 {w.p99_us:.0f} µs, errors {w.errors}")
            finally:
                for pid in server_pids:
                    pin(pid, all_cpus())

        # Trial: every peer configuration in short alternating rounds; the fastest of each peer
        # (per mode) is then measured against shm-admin.
        trial = [Variant(v.kind, v.label, v.config, v.url, v.pid) for v in variants[1:]]
        for r in range(1, s.c1_trial_rounds + 1):
            for pinned in b.modes():
                block(pinned, trial, s.c1_trial_seconds, "trial", r)
        best: dict[tuple[str, bool], Variant] = {}
        for pinned in b.modes():
            for kind in ("bare_mhd", "nginx"):
                best[kind, pinned] = max((t for t in trial if t.kind == kind), key=lambda t: median(t.rps[pinned]))

        by_label = {v.label: v for v in variants}
        for r in range(1, b.rounds + 1):
            for pinned in b.modes():
                block(pinned, [ours, by_label[best["bare_mhd", pinned].label], by_label[best["nginx", pinned].label]],
                      s.c1_seconds, "measure", r)
        measured = [v for v in variants if any(v.rps[m] for m in b.modes())]
        for v in measured:
            for pinned in b.modes():
                if v.errors[pinned]:
                    b.report.error(f"1: {v.label} ({MODE[pinned]}) answered {v.errors[pinned]} non-2xx or socket errors under wrk")
        for t in trial:
            for pinned in b.modes():
                if t.errors[pinned]:
                    b.report.error(f"1: {t.label} ({MODE[pinned]}, trial) answered {t.errors[pinned]} non-2xx or socket errors under wrk")
    finally:
        stop_quietly(peers)
        procs.stop_all()
    counts = None
    if b.callgrind:
        try:
            counts = callgrind.listing(b, pfx, body_file)
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            b.report.error(f"1: the callgrind count failed: {e}")
            counts = callgrind.Counts(f"Instructions per request (callgrind): not measured, it failed ({e}).")

    write(b, path, len(body), ours, by_label, best, trial, counts)
    b.api.delete_prefixed(pfx)


def write(b: Bench, path: str, size: int, ours: Variant, by_label, best, trial: list[Variant], counts) -> None:
    s = b.sizes
    lines = [
        f"Response: {size} bytes (`GET {path}`, {s.c1_sections} managed sections).",
        f"wrk -t2 -c32 -d{s.c1_seconds}s --latency, {plural(b.rounds, 'round')} alternating; Authorization header sent to all three.",
        "Each peer is measured in its fastest configuration of the trial below. Client free: wrk and the servers share",
        "every CPU; client pinned: wrk on the last CPU (`taskset`), every server's threads on the others.",
    ]
    ratios = {}
    for pinned in b.modes():
        bare, ngx = by_label[best["bare_mhd", pinned].label], by_label[best["nginx", pinned].label]
        lines += ["", f"**{MODE[pinned].capitalize()}**", "",
                  "| server | req/s median (min–max) | p50 µs | p99 µs median (min–max) | non-2xx + socket errors |",
                  "|---|---|---|---|---|"]
        for v in (ours, bare, ngx):
            lines.append(f"| {v.label} | {fmt_stats(v.rps[pinned], 0)} | {median(v.p50[pinned]):.0f} | "
                         f"{fmt_stats(v.p99[pinned], 0)} | {v.errors[pinned]} |")
        r_bare = median(ours.rps[pinned]) / median(bare.rps[pinned])
        r_ngx = median(ours.rps[pinned]) / median(ngx.rps[pinned])
        ratios[pinned] = (r_bare, bare, r_ngx, ngx)
        lines += ["", f"shm-admin / {bare.label} = {fmt_ratio(r_bare)}×; shm-admin / {ngx.label} = {fmt_ratio(r_ngx)}×."]
    lines += ["", f"Peer configurations tried ({plural(s.c1_trial_rounds, 'round')} × {s.c1_trial_seconds}s each, alternating; "
                  "**bold** = the fastest, measured above):", "",
              "| peer | configuration | " + " | ".join(f"req/s {MODE[m]}" for m in b.modes()) + " |",
              "|---|---|" + "---|" * len(b.modes())]
    for t in trial:
        cells = []
        for pinned in b.modes():
            cell = fmt_stats(t.rps[pinned], 0)
            cells.append(f"**{cell}**" if best[t.kind, pinned].label == t.label else cell)
        lines.append(f"| {t.label} | {t.config} | " + " | ".join(cells) + " |")
    lines += ["", "All nginx configurations: `access_log off`, `keepalive_requests 1000000`, the file in their own root."]
    if counts is not None:
        lines += ["", counts.markdown]
    b.report.part(1, "\n".join(lines))
    # Issue 17's targets: ahead of both peers at their best.
    r_free, bare, r_ngx, ngx = ratios[False]
    b.report.target(1, f"req/s vs bare libmicrohttpd (at its best: {bare.label})", "≥ 0.9×", f"{fmt_ratio(r_free)}×", r_free >= 0.9)
    b.report.target(1, f"req/s vs nginx serving the same bytes (at its best: {ngx.label})", "≥ 1.0×", f"{fmt_ratio(r_ngx)}×",
                    r_ngx >= 1.0)
    p99 = median(ours.p99[False])
    b.report.target(1, "p99 under wrk -c32", "≤ 10 ms", f"{p99 / 1000:.2f} ms", p99 <= 10000)
