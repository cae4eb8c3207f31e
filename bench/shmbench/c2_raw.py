"""2. Raw dump of a 1 GiB section: shm-admin against nginx serving the same /dev/shm object (each
configuration, compared at the fastest) and cat, with curl free and pinned to its own CPU."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .context import SHM, Bench
from .errors import BenchError
from .load import curl_time, same_bytes, server_cpus, wall_us
from .peers import Nginx, nginx_configs, stop_quietly
from .procs import Processes, all_cpus, pin
from .report import say
from .stats import fmt_ratio, fmt_stats, human_bytes, median, to_bytes

MODE = {False: "client free", True: "client pinned"}


def title(b: Bench) -> str:
    return f"Raw dump of a {human_bytes(to_bytes(b.sizes.c2_size))} section"


def run(b: Bench) -> None:
    size = to_bytes(b.sizes.c2_size)
    name = f"{b.prefix}c2-raw"
    obj = Path(SHM) / name
    say(f"2: creating a {b.sizes.c2_size} section and filling it")
    b.api.post("/api/v1/sections", json={"name": name, "reserve": b.sizes.c2_size, "commit": b.sizes.c2_size,
                                         "namespace": "global"})
    b.shmtool("fill", str(obj), "0", str(size), "random", "2")
    note = ""
    mode = stat.S_IMODE(obj.stat().st_mode)
    if not mode & 0o004:
        os.chmod(obj, mode | 0o004)
        note = "The section was created with namespace global but was not world-readable; the bench made it o+r for nginx's workers."
        b.report.error(f"2: a global section is mode {mode:o} before chmod, API.md says 0666")

    procs = Processes(say)
    nginxes: list[Nginx] = []
    try:
        for config in nginx_configs("raw"):
            n = Nginx(procs, config, SHM, b.out)
            nginxes.append(n)
            n.start()
        api_url = f"{b.server.url}/api/v1/sections/{name}/data?format=raw"
        auth = ["-H", f"Authorization: Bearer {b.api.token}"]
        if not same_bytes(api_url, obj, *auth):
            b.report.error("2: the raw dump differs from the object's bytes")
        for n in nginxes:
            if not same_bytes(f"{n.url}/shm/{name}", obj):
                b.report.error(f"2: {n.label}'s copy differs from the object's bytes")

        readers = [("shm-admin", api_url, auth, b.server.pid)] + [(n.label, f"{n.url}/shm/{name}", [], n.proc.pid) for n in nginxes]
        tput: dict[tuple[str, bool], list[float]] = {}
        ms: dict[tuple[str, bool], list[float]] = {}
        pids = [pid for *_, pid in readers]
        for r in range(1, b.rounds + 1):
            for pinned in b.modes():
                for pid in pids:
                    pin(pid, server_cpus() if pinned else all_cpus())
                try:
                    for label, url, args, _ in readers:
                        c = curl_time(url, *args, pinned=pinned)
                        if c.code != 200 or c.size != size:
                            raise BenchError(f"2: {label} answered {c.code} with {c.size} bytes (expected 200, {size})")
                        tput.setdefault((label, pinned), []).append(size / 1048576 / (c.us / 1e6))
                        ms.setdefault((label, pinned), []).append(c.us / 1000)
                        say(f"2: round {r} {MODE[pinned]} {label}: {size / 1048576 / (c.us / 1e6):.0f} MiB/s")
                finally:
                    for pid in pids:
                        pin(pid, all_cpus())
            us = wall_us(["cat", str(obj)])
            tput.setdefault(("cat", False), []).append(size / 1048576 / (us / 1e6))
            ms.setdefault(("cat", False), []).append(us / 1000)
    finally:
        stop_quietly(nginxes)
        procs.stop_all()
    b.api.delete(f"/api/v1/sections/{name}")

    best = {pinned: max((n for n in nginxes), key=lambda n: median(tput[n.label, pinned])) for pinned in b.modes()}
    lines = [
        f"{human_bytes(size)} of random bytes. shm-admin: `curl -o /dev/null GET …/data?format=raw`;",
        "nginx: the same /dev/shm object through an alias, in each configuration below; cat: `cat OBJECT >/dev/null` (wall time).",
        "Every HTTP dump was checked byte for byte against the object first. Client free: curl and the servers share every",
        "CPU; client pinned: curl on the last CPU (`taskset`), the servers on the others.",
    ]
    if note:
        lines += ["", note]
    ratio = {}
    for pinned in b.modes():
        ngx = best[pinned]
        lines += ["", f"**{MODE[pinned].capitalize()}** (nginx at its fastest here: `{ngx.config.name}`)", "",
                  "| reader | MiB/s median (min–max) | ms median (min–max) |", "|---|---|---|"]
        rows = ["shm-admin"] + [n.label for n in nginxes] + (["cat"] if not pinned else [])
        for label in rows:
            bold = "**" if label == ngx.label else ""
            lines.append(f"| {bold}{label}{bold} | {fmt_stats(tput[label, pinned], 0)} | {fmt_stats(ms[label, pinned], 1)} |")
        ratio[pinned] = median(tput["shm-admin", pinned]) / median(tput[ngx.label, pinned])
        lines += ["", f"shm-admin / {ngx.label} = {fmt_ratio(ratio[pinned])}×."]
    lines += ["", "nginx configurations (all `access_log off`):", "", "| nginx | configuration |", "|---|---|"]
    lines += [f"| {n.label} | {n.config.what} |" for n in nginxes]
    b.report.part(2, "\n".join(lines))
    b.report.target(2, f"raw dump throughput vs nginx at its best ({best[False].config.name})", "≥ 1.2×",
                    f"{fmt_ratio(ratio[False])}×", ratio[False] >= 1.2)
