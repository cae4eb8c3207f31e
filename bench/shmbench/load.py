"""The load generators and clocks: wrk (throughput and latency), curl (one request on a fresh
connection), the wall time of a command. `pinned` puts the client on the last CPU with taskset."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import BenchError
from .procs import Processes


def client_cpu() -> int:
    import os
    return (os.cpu_count() or 1) - 1


def server_cpus() -> set[int]:
    """Where the server runs when the client is pinned: every CPU but the client's."""
    import os
    n = os.cpu_count() or 1
    return set(range(n - 1)) if n > 1 else {0}


def taskset(pinned: bool) -> list[str]:
    return ["taskset", "-c", str(client_cpu())] if pinned else []


@dataclass
class WrkResult:
    rps: float
    p50_us: float
    p99_us: float
    non2xx: int
    socket_errors: int
    requests: int
    text: str

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors


def _us(s: str) -> float:
    for suffix, scale in (("us", 1.0), ("ms", 1e3), ("m", 60e6), ("s", 1e6)):
        if s.endswith(suffix):
            return float(s[: -len(suffix)]) * scale
    return float(s)


def parse_wrk(text: str) -> WrkResult:
    rps = p50 = p99 = 0.0
    non = se = req = 0
    for line in text.splitlines():
        if m := re.match(r"Requests/sec:\s+([\d.]+)", line):
            rps = float(m.group(1))
        elif m := re.match(r"\s+50%\s+(\S+)", line):
            p50 = _us(m.group(1))
        elif m := re.match(r"\s+99%\s+(\S+)", line):
            p99 = _us(m.group(1))
        elif "Non-2xx or 3xx responses:" in line:
            non = int(line.split()[-1])
        elif m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", line):
            se = sum(int(g) for g in m.groups())
        elif m := re.match(r"\s*(\d+) requests in ", line):
            req = int(m.group(1))
    return WrkResult(rps, p50, p99, non, se, req, text)


def wrk(procs: Processes, url: str, out: Path, *, seconds: int, threads: int = 2, connections: int = 32,
        headers: dict[str, str] | None = None, script: Path | None = None, script_args: list[str] = (),
        pinned: bool = False) -> WrkResult:
    """One wrk run (`--latency --timeout 10s`), its output kept in `out`."""
    argv = [*taskset(pinned), "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for k, v in (headers or {}).items():
        argv += ["-H", f"{k}: {v}"]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    with open(out, "wb") as f:
        rc = procs.run(argv, timeout=seconds + 60, stdout=f, stderr=subprocess.STDOUT)
    text = out.read_text(errors="replace")
    if rc != 0:
        raise BenchError(f"wrk {url} failed (exit {rc}): {' | '.join(text.splitlines()[-3:])}")
    return parse_wrk(text)


@dataclass
class CurlResult:
    code: int
    us: float
    size: int


def curl_time(url: str, *args: str, pinned: bool = False) -> CurlResult:
    """One request on a fresh connection, body thrown away: status, curl's time_total, size."""
    r = subprocess.run([*taskset(pinned), "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_download}",
                        *args, url], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise BenchError(f"curl {url} failed: {r.stderr.strip()[:300]}")
    code, total, size = r.stdout.split()
    return CurlResult(int(code), float(total) * 1e6, int(float(size)))


def wall_us(argv: list[str], ok=(0,), timeout: float = 600) -> float:
    """Wall time of a command in µs, its output thrown away; raises when it exits with a status not in `ok`."""
    # A blocking wait, the timeout enforced by a timer: `subprocess.run(timeout=)` polls with sleeps
    # doubling up to 50 ms, which rounded every time up to its next poll (63.5, 113.5, 163.5 ms …).
    t0 = time.monotonic_ns()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    try:
        returncode = p.wait()
        t1 = time.monotonic_ns()
    finally:
        timer.cancel()
    if returncode not in ok:
        raise BenchError(f"{' '.join(argv)} exited {returncode}" + (f" (killed after {timeout:g} s)" if returncode == -9 else ""))
    return (t1 - t0) / 1000


def same_bytes(url: str, path: Path, *curl_args: str) -> bool:
    """Whether a GET of `url` sends exactly the bytes of `path` (streamed, never held in memory)."""
    curl = subprocess.Popen(["curl", "-sS", "-f", *curl_args, url], stdout=subprocess.PIPE)
    cmp = subprocess.run(["cmp", "-s", "-", str(path)], stdin=curl.stdout)
    curl.stdout.close()
    curl.wait(600)
    return curl.returncode == 0 and cmp.returncode == 0


def elapsed_ms(line: str) -> float:
    """The `elapsed_ns=` a C peer prints, in ms."""
    m = re.search(r"elapsed_ns=(\d+)", line)
    if not m:
        raise BenchError(f"no elapsed_ns in {line!r}")
    return int(m.group(1)) / 1e6
