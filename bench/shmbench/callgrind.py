"""Instructions per request for the listing under `valgrind --tool=callgrind`: a count that, unlike
wall-clock figures, repeats on a busy machine. shm-admin and bare_mhd each answer N requests of
comparison 1's listing on one keep-alive connection; the count is taken between
`callgrind_control -z` (after a warm-up) and `callgrind_control -d`, per thread
(`--separate-threads=yes`). Two figures: all threads, and the threads that answered requests
without the listing's rebuilds. The second is the one to judge a change of the request path by: at
valgrind's speed the listing cache's 100 ms age runs out every few requests, and the background
`/proc` and host passes run whenever anything changes in /dev/shm (issue 17, bench/ANALYSIS.md)."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .context import Bench
from .errors import BenchError
from .peers import BareMhd
from .procs import Processes
from .report import say

WARMUP = 50


@dataclass
class Counts:
    markdown: str


def available() -> str | None:
    """None when callgrind can run here, else why not."""
    for tool in ("valgrind", "callgrind_control", "objcopy"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (`scripts/setup bench` installs valgrind)"
    return None


def _requests(port: int, path: str, n: int, headers: dict[str, str]) -> int:
    """n GETs on one connection; returns the size of the last body."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    size = 0
    try:
        for _ in range(n):
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            size = len(r.read())
            if r.status != 200:
                raise BenchError(f"callgrind: GET {path} answered {r.status}")
    finally:
        c.close()
    return size


# The listing's rebuild: the closure `listSections` hands to the cache (not its thunk, `…TA`).
REBUILD = re.compile(r"listSections\S*SharedBytes\S*XEfU\d*_ ")
# A thread that answered requests: shm-admin's access handler, bare_mhd's `on_request`.
HANDLERS = ("accessHandlerCallback", "on_request")


def _inclusive(dump: Path, pattern: re.Pattern[str]) -> int:
    """The inclusive instructions of the functions in `dump` matching `pattern` (0 when none)."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)],
                          capture_output=True, text=True, timeout=300).stdout
    total = 0
    for line in text.splitlines():
        if pattern.search(line):
            total += int(line.split()[0].replace(",", ""))
    return total


def _count(pid: int, out_dir: Path, port: int, path: str, n: int, headers: dict[str, str]) -> tuple[float, float, int]:
    """Instructions per request (all threads; request threads without rebuilds) and the body size, for
    the process under callgrind at `pid`."""
    _requests(port, path, WARMUP, headers)
    subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, check=True, timeout=120)
    size = _requests(port, path, n, headers)
    before = set(out_dir.iterdir())
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, check=True, timeout=120)
    dumps = set(out_dir.iterdir()) - before
    everything = requests = 0
    for dump in dumps:
        text = dump.read_text(errors="replace")
        summary = next((int(line.split()[1]) for line in text.splitlines() if line.startswith("summary:")), None)
        if summary is None:
            continue
        everything += summary
        if any(handler in text for handler in HANDLERS):
            requests += summary - _inclusive(dump, REBUILD)
    if everything == 0:
        raise BenchError(f"callgrind: no dump with a summary line in {out_dir}")
    return everything / n, requests / n, size


def listing(b: Bench, c1_prefix: str, body_file: Path) -> Counts:
    why = available()
    if why is not None:
        return Counts(f"Instructions per request (callgrind): not measured, {why}.")
    n = b.sizes.callgrind_requests
    out_dir = b.tmp / "callgrind"
    out_dir.mkdir(exist_ok=True)
    # valgrind 3.19 gives up on the DWARF of a Swift release build; the counts need no debug info.
    binary = b.tmp / "shm-admin-nodebug"
    subprocess.run(["objcopy", "--strip-debug", b.server_bin, str(binary)], check=True, timeout=120)
    wrapper = b.tmp / "callgrind-shm-admin"
    wrapper.write_text(f'#!/bin/sh\nexec valgrind --tool=callgrind -q --separate-threads=yes '
                       f'--callgrind-out-file={out_dir}/shm-admin.%p {binary} "$@"\n')
    wrapper.chmod(0o755)

    import support.server as live_server  # under valgrind the server starts slower than the tests allow
    saved = live_server.STARTUP_TIMEOUT
    live_server.STARTUP_TIMEOUT = 180.0
    say("1: callgrind: starting shm-admin under valgrind")
    try:
        server = b.start_server_binary(str(wrapper), "callgrind")
    finally:
        live_server.STARTUP_TIMEOUT = saved
    pfx = c1_prefix.replace("-c1-", "-cg-")  # same length: the same listing bytes but for the names
    try:
        for i in range(b.sizes.c1_sections):
            server.api.post("/api/v1/sections", json={"name": f"{pfx}{i:03d}", "reserve": "64KiB", "commit": "4KiB",
                                                      "labels": {"bench": "c1"}})
        ours, ours_requests, ours_size = _count(server.pid, out_dir, server.srv.port, f"/api/v1/sections?q={pfx}", n,
                                                server.api.auth)
        server.api.delete_prefixed(pfx)
    finally:
        b.stop_server(server)

    procs = Processes(say)
    threads = os.cpu_count() or 1
    bare = BareMhd(procs, b.bin_dir / "bare_mhd", body_file, threads, b.tmp, b.out,
                   wrapper=["valgrind", "--tool=callgrind", "-q", "--separate-threads=yes",
                            f"--callgrind-out-file={out_dir}/bare_mhd.%p"], start_timeout=120)
    try:
        say("1: callgrind: starting bare_mhd under valgrind")
        bare.start()
        port = int(bare.url.rsplit(":", 1)[1])
        theirs, theirs_requests, theirs_size = _count(bare.proc.pid, out_dir, port, "/", n, {})
    finally:
        bare.stop()
        procs.stop_all()
    say(f"1: callgrind: shm-admin {ours:.0f} ({ours_requests:.0f} on the request threads), "
        f"bare_mhd {theirs:.0f} ({theirs_requests:.0f}) instructions per request")
    return Counts("\n".join([
        f"Instructions per request (`valgrind --tool=callgrind`, {n} requests on one keep-alive connection after",
        f"{WARMUP} to warm up, counted between `callgrind_control -z` and `-d`; repeatable where wall-clock figures are not).",
        "All threads, and the threads that answered requests without the listing's rebuilds (at valgrind's speed the",
        "cache's 100 ms age runs out every few requests; background passes run when /dev/shm changes): judge the",
        "request path by the second.",
        "",
        "| server | all threads | request threads, without rebuilds | body bytes |",
        "|---|---|---|---|",
        f"| shm-admin | {ours:,.0f} | {ours_requests:,.0f} | {ours_size} |",
        f"| bare_mhd pool {threads} | {theirs:,.0f} | {theirs_requests:,.0f} | {theirs_size} |",
        "",
        f"shm-admin / bare_mhd = {ours_requests / theirs_requests:.2f}× the instructions on the request threads "
        f"({ours / theirs:.2f}× over all threads).",
    ]))
