"""4. List 10,000 foreign sections, 50 processes mapping 20 each: the API against `ls -l` and
`lsof +D` (each in its plain form and its fastest reasonable options, compared at the fastest);
`shm-admin ls` at the shell (issue 14), local and against the server, against `ls -l`, and
`shm-admin ls --all --kind sysv` against `lsipc -m` for System V segments."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import time
from pathlib import Path

from .context import SHM, Bench, wait_for
from .errors import BenchError
from .load import curl_time, wall_us
from .procs import Processes
from .report import say
from .stats import fmt_ratio, fmt_stats, median

# (label, argv, exit statuses that are fine): lsof exits 1 when some file had no user.
LS = [("ls -l", ["ls", "-l", SHM]), ("ls -lU", ["ls", "-lU", SHM])]
LSOF = [("lsof +D", ["lsof", "+D", SHM]), ("lsof -n -P -w +D", ["lsof", "-n", "-P", "-w", "+D", SHM])]
# lsipc -m with its default columns, and as a raw list (no alignment: one pass over the rows).
LSIPC = [("lsipc -m", ["lsipc", "-m"]), ("lsipc -m -r", ["lsipc", "-m", "-r"])]
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0
API_WITH_SYSV = "shm-admin (the same GET)"


class SysVSegments:
    """`count` System V segments of one page, each removed with IPC_RMID on close (even after a failure)."""

    def __init__(self, count: int):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
        self.libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
        self.ids: list[int] = []
        try:
            for _ in range(count):
                shmid = self.libc.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)
                if shmid < 0:
                    raise BenchError(f"4: shmget failed after {len(self.ids)} segments: {os.strerror(ctypes.get_errno())}")
                self.ids.append(shmid)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        while self.ids:
            self.libc.shmctl(self.ids.pop(), IPC_RMID, None)


def sysv_count(wanted: int) -> int:
    """As many segments as the sections, within what the kernel's shmmni leaves free (a margin of 96 for others)."""
    shmmni = int(Path("/proc/sys/kernel/shmmni").read_text())
    used = max(0, len(Path("/proc/sysvipc/shm").read_text().splitlines()) - 1)
    return max(0, min(wanted, shmmni - used - 96))


def title(b: Bench) -> str:
    s = b.sizes
    return f"List {s.c4_sections} sections, {s.c4_procs} processes mapping {s.c4_per_proc} each"


def run(b: Bench) -> None:
    s = b.sizes
    b.make_many()
    procs = Processes(say)
    segments: SysVSegments | None = None
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

        # The command line (issue 14): local mode reads the server's state directory, as an operator
        # on that host would; remote mode asks the server.
        cli_local = [b.server_bin, "ls", "--state-dir", str(b.server.srv.state_dir)]
        cli_remote = [b.server_bin, "ls", "--url", b.server.url, "--token-file", str(b.token_file)]
        cli_sysv = [*cli_local, "--all", "--kind", "sysv"]
        now = str(int(time.time()))  # one AGE reference for both runs, which may fall on two sides of a second
        ours_local = our_rows(cli_output(cli_local, now), f"{b.prefix}many-")
        if len(ours_local) != s.c4_sections:
            b.report.error(f"4: `shm-admin ls` printed {len(ours_local)} rows of our {s.c4_sections} sections")
        # Only our rows: other processes' objects may come and go between the two runs.
        ours_remote = our_rows(cli_output(cli_remote, now), f"{b.prefix}many-")
        if ours_remote != ours_local:
            differing = [f"local:  {a}\nremote: {r}" for a, r in zip(ours_local, ours_remote) if a != r]
            (b.out / "c4-cli-diff.txt").write_text(
                f"{len(ours_local)} rows local, {len(ours_remote)} remote\n" + "\n".join(differing[:20]) + "\n")
            b.report.error("4: `shm-admin ls` printed other rows with --url than locally "
                           f"(the first that differ in {b.out / 'c4-cli-diff.txt'})")
        CLI = [("shm-admin ls", cli_local), ("shm-admin ls --url", cli_remote)]

        ms: dict[str, list[float]] = {"shm-admin": []}
        auth = ["-H", f"Authorization: Bearer {b.api.token}"]

        def api_ms() -> float:
            c = curl_time(b.server.url + path, *auth)
            if c.code != 200:
                raise BenchError(f"4: GET {path} answered {c.code}")
            return c.us / 1000

        for r in range(1, b.rounds + 1):
            ms["shm-admin"].append(api_ms())
            for label, argv in LS + CLI:
                ms.setdefault(label, []).append(wall_us(argv) / 1000)
            for label, argv in LSOF:
                ms.setdefault(label, []).append(wall_us(argv, ok=(0, 1), timeout=120) / 1000)
            say(f"4: round {r} done")

        # System V, in rounds of their own: the segments are there only while these run, so that the
        # lines above keep measuring what they always did.
        segments = SysVSegments(sysv_count(s.c4_sections))
        segment_count = len(segments.ids)
        sysv_rows = len(cli_output(cli_sysv, now).splitlines()) - 1
        if sysv_rows < segment_count:
            b.report.error(f"4: `shm-admin ls --all --kind sysv` printed {sysv_rows} rows, fewer than our {segment_count} segments")
        SYSV = [("shm-admin ls --all --kind sysv", cli_sysv)]
        ms[API_WITH_SYSV] = []
        for r in range(1, b.rounds + 1):
            for label, argv in SYSV + LSIPC:
                ms.setdefault(label, []).append(wall_us(argv) / 1000)
            ms[API_WITH_SYSV].append(api_ms())
            say(f"4: System V round {r} done")
        procs.stop(mappers)
    finally:
        if segments is not None:
            segments.close()
        procs.stop_all()

    ours = median(ms["shm-admin"])
    best_ls = min((label for label, _ in LS), key=lambda l: median(ms[l]))
    best_lsof = min((label for label, _ in LSOF), key=lambda l: median(ms[l]))
    best_lsipc = min((label for label, _ in LSIPC), key=lambda l: median(ms[l]))
    lines = [
        f"{s.c4_sections} foreign sections made with shm_open-equivalent calls (not through the API), {s.c4_procs} processes",
        f"mapping {s.c4_per_proc} each ({want_mapped} mapped sections); {SHM} held {total} entries in all;",
        f"then, in rounds of their own, {segment_count} System V segments of a page (as many as the sections, within the",
        "kernel's shmmni) against `lsipc -m`, and the API's listing again with them there.",
        f"shm-admin: `GET {path}` (curl time_total, {len(listing_body)} bytes, mappers seen on {mapped} sections);",
        "`shm-admin ls` (issue 14): the command's wall time, process start included, output to /dev/null, with the",
        "default columns; locally (reading the server's state directory) and with `--url` (the server's token file);",
        "`ls --all --kind sysv` lists the System V segments (the inventory, a pass over the whole host).",
        f"`ls` and `lsof` on {SHM}, `lsipc -m`: wall time, output to /dev/null, each with and without the options that",
        "make it faster (`-U`: no sorting; `-n -P -w`: no host, port or warning lookups; `-r`: no alignment);",
        "**bold** = the fastest of each, compared below.",
        "",
        "| lister | ms median (min–max) |",
        "|---|---|",
        f"| shm-admin | {fmt_stats(ms['shm-admin'], 1)} |",
    ]
    for label, _ in CLI:
        lines.append(f"| {label} | {fmt_stats(ms[label], 1)} |")
    for label, _ in LS + LSOF:
        bold = "**" if label in (best_ls, best_lsof) else ""
        lines.append(f"| {bold}{label}{bold} | {fmt_stats(ms[label], 1)} |")
    lines.append(f"| *with {segment_count} System V segments:* | |")
    for label, _ in SYSV:
        lines.append(f"| {label} | {fmt_stats(ms[label], 1)} |")
    lines.append(f"| {API_WITH_SYSV} | {fmt_stats(ms[API_WITH_SYSV], 1)} |")
    for label, _ in LSIPC:
        bold = "**" if label == best_lsipc else ""
        lines.append(f"| {bold}{label}{bold} | {fmt_stats(ms[label], 1)} |")
    b.report.part(4, "\n".join(lines))
    r_ls, r_lsof = ours / median(ms[best_ls]), ours / median(ms[best_lsof])
    b.report.target(4, f"list vs ls -l (at its fastest: `{best_ls}`)", "≤ 0.6×", f"{fmt_ratio(r_ls)}×", r_ls <= 0.6)
    b.report.target(4, f"list vs lsof +D (at its fastest: `{best_lsof}`)", "≤ 0.15×", f"{fmt_ratio(r_lsof)}×", r_lsof <= 0.15)
    local, remote = median(ms["shm-admin ls"]), median(ms["shm-admin ls --url"])
    r_cli, r_remote = local / median(ms[best_ls]), remote / local
    b.report.target(4, f"`shm-admin ls` vs ls -l (at its fastest: `{best_ls}`)", "≤ 0.6×", f"{fmt_ratio(r_cli)}×", r_cli <= 0.6)
    b.report.target(4, "`shm-admin ls --url` vs `shm-admin ls`", "≤ 1.5×", f"{fmt_ratio(r_remote)}×", r_remote <= 1.5)
    r_sysv = median(ms["shm-admin ls --all --kind sysv"]) / median(ms[best_lsipc])
    b.report.target(4, f"`shm-admin ls --all --kind sysv` vs lsipc (at its fastest: `{best_lsipc}`)", "≤ 0.6×",
                    f"{fmt_ratio(r_sysv)}×", r_sysv <= 0.6)


def our_rows(table: str, prefix: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith(prefix)]


def cli_output(argv: list[str], now: str) -> str:
    """What a `shm-admin ls` prints (its rows checked before it is timed), with AGE counted from `now`."""
    env = {**os.environ, "SHM_ADMIN_NOW": now}
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    if r.returncode != 0:
        raise BenchError(f"4: {' '.join(argv)} exited {r.returncode}: {r.stderr.strip()[:300]}")
    return r.stdout
