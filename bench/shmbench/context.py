"""What every comparison gets: the sizes of this mode, the server, the paths, the report."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BenchError
from .procs import Processes
from .report import Report, say
from .server import Api, Server

SHM = "/dev/shm"


@dataclass(frozen=True)
class Sizes:
    """Sizes per mode; full is what RESULTS.md reports, smoke shakes the code out in seconds."""
    rounds: int
    c1_sections: int
    c1_seconds: int
    c1_trial_rounds: int  # the short rounds that pick each peer's fastest configuration
    c1_trial_seconds: int
    c2_size: str
    c3_size: str
    c4_sections: int
    c4_procs: int
    c4_per_proc: int
    c5_reserve: str
    c5_pages: int
    c6_size: str
    c7_seconds: int
    c7_clients: int
    c8_warmup: int
    c8_soak: int
    c8_soaks: int
    mem_margin: int
    callgrind_requests: int
    c9_namespaces: int
    c9_objects: int
    c9_procs: int
    c9_sysv: int
    c9_memfds: int
    c9_cpu_seconds: int
    c9_scrape_interval: int


FULL = Sizes(rounds=5, c1_sections=100, c1_seconds=4, c1_trial_rounds=3, c1_trial_seconds=2,
             c2_size="1GiB", c3_size="4MiB", c4_sections=10000, c4_procs=50, c4_per_proc=20,
             c5_reserve="16GiB", c5_pages=10000, c6_size="1GiB", c7_seconds=4, c7_clients=32,
             c8_warmup=15, c8_soak=60, c8_soaks=3, mem_margin=4 << 30, callgrind_requests=1000,
             c9_namespaces=20, c9_objects=10000, c9_procs=2000, c9_sysv=500, c9_memfds=500, c9_cpu_seconds=300,
             c9_scrape_interval=15)
SMOKE = Sizes(rounds=1, c1_sections=10, c1_seconds=1, c1_trial_rounds=1, c1_trial_seconds=1,
              c2_size="16MiB", c3_size="64KiB", c4_sections=200, c4_procs=5, c4_per_proc=4,
              c5_reserve="64MiB", c5_pages=100, c6_size="16MiB", c7_seconds=1, c7_clients=32,
              c8_warmup=1, c8_soak=2, c8_soaks=1, mem_margin=256 << 20, callgrind_requests=50,
              c9_namespaces=2, c9_objects=100, c9_procs=20, c9_sysv=5, c9_memfds=5, c9_cpu_seconds=6,
              c9_scrape_interval=2)


@dataclass
class Bench:
    sizes: Sizes
    rounds: int
    smoke: bool
    pinning: bool  # also run the comparisons about the server with the client pinned to its own CPU
    callgrind: bool
    bench_dir: Path
    bin_dir: Path
    out: Path
    tmp: Path
    server_bin: str
    token_file: Path
    report: Report
    procs: Processes  # the run's own processes (the main server lives in `servers`)
    prefix: str = field(default_factory=lambda: f"bench-{os.getpid()}-")
    server: Server | None = None
    servers: list[Server] = field(default_factory=list)
    many_made: bool = False

    @property
    def api(self) -> Api:
        return self.server.api

    @property
    def data(self) -> Path:
        return self.out / "data"

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def modes(self) -> list[bool]:
        """`pinned` values to run: free (client and server share every CPU), then pinned."""
        return [False, True] if self.pinning else [False]

    def start_server(self, label: str) -> Server:
        return self.start_server_binary(self.server_bin, label)

    def start_server_binary(self, binary: str, label: str, cpus: set[int] | None = None) -> Server:
        s = Server(binary, self.tmp, self.out, self.token_file, label, cpus=cpus)
        self.servers.append(s)
        s.start()
        say(f"server ({label}) pid {s.pid} at {s.url}")
        return s

    def stop_server(self, s: Server) -> None:
        try:
            s.stop()
        finally:
            if s in self.servers:
                self.servers.remove(s)

    def shmtool(self, *args: str) -> str:
        r = subprocess.run([self.tool("shmtool"), *args], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise BenchError(f"shmtool {' '.join(args[:2])} failed: {r.stderr.strip()[:400]}")
        return r.stdout

    def c_peer(self, name: str, *args: str) -> str:
        r = subprocess.run([self.tool(name), *args], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise BenchError(f"{name} failed: {r.stderr.strip()[:400]}")
        return r.stdout.strip()

    def make_many(self) -> None:
        """The foreign sections of comparisons 4 and 8, made once, directly in /dev/shm."""
        if self.many_made:
            return
        say(f"creating {self.sizes.c4_sections} foreign sections directly in {SHM}")
        self.shmtool("mkmany", SHM, f"{self.prefix}many-", str(self.sizes.c4_sections), "4096")
        self.many_made = True

    def remove_objects(self) -> None:
        for entry in os.listdir(SHM):
            if entry.startswith(self.prefix):
                try:
                    os.unlink(os.path.join(SHM, entry))
                except OSError:
                    pass


def shm_available() -> int:
    """What a fallocate in /dev/shm can take now: the smaller of the tmpfs's free space and MemAvailable."""
    st = os.statvfs(SHM)
    shm = st.f_bavail * st.f_frsize
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            mem = int(line.split()[1]) * 1024
    return min(shm, mem)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
