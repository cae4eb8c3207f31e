"""The programs shm-admin is compared with, each in the configurations a user could pick:
nginx (one instance per configuration, its own prefix and config, 127.0.0.1 only) and bare_mhd
(the bare libmicrohttpd server, one instance per thread-pool size). Also building the C peers."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import BenchError
from .procs import Processes
from .report import say

C_TOOLS = ["walk_holes", "mincore_walk", "falloc", "shmtool", "hostfarm"]


def build_c_peers(bench_dir: Path, bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in C_TOOLS:
        _gcc([str(bench_dir / f"{name}.c"), "-o", str(bin_dir / name)], name)
    mhd = subprocess.run(["pkg-config", "--cflags", "--libs", "libmicrohttpd"], capture_output=True, text=True)
    if mhd.returncode != 0:
        raise BenchError("libmicrohttpd's pkg-config file is missing: run `scripts/setup bench`")
    _gcc([str(bench_dir / "bare_mhd.c"), "-o", str(bin_dir / "bare_mhd"), *mhd.stdout.split(), "-lpthread"], "bare_mhd")


def _gcc(args: list[str], name: str) -> None:
    r = subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"gcc failed on bench/{name}.c: {r.stderr[-800:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, alive, what: str, timeout: float = 10.0) -> None:
    """Waits until `url` answers at all (any status); raises when `alive()` turns false or on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            pass
        if not alive():
            raise BenchError(f"{what} exited at start")
        if time.monotonic() > deadline:
            raise BenchError(f"{what} does not answer on {url}")
        time.sleep(0.1)


# ---- nginx ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NginxConfig:
    """One nginx configuration. What all share: access_log off, keepalive_requests 1000000, its own
    temp paths, 127.0.0.1 only; `user` None means the workers run as the master's user."""
    name: str
    what: str
    user: str | None = None
    workers: str = "auto"
    sendfile: bool = True
    tcp_nopush: bool = False
    tcp_nodelay: bool = True
    sendfile_max_chunk: str | None = None
    open_file_cache: bool = False


def nginx_configs(kind: str) -> list[NginxConfig]:
    """The configurations tried: for 'listing' (a 35 KB file at high request rates) and 'raw'
    (one 1 GiB object). 'nopush-nobody' is the one the bench used alone before (issue 11: it made
    nginx look about twice as slow at the 1 GiB dump as nginx with its defaults)."""
    root = os.geteuid() == 0
    me = "root" if root else "the bench's user"
    bench = NginxConfig("nopush-nobody", "the bench's former one: workers as nobody, sendfile on, tcp_nopush on",
                        user="nobody" if root else None, tcp_nopush=True)
    default = NginxConfig("default", f"nginx defaults (sendfile on), workers as {me}, worker_processes auto",
                          user="root" if root else None)
    nosendfile = NginxConfig("sendfile-off", f"sendfile off, workers as {me}", user=default.user, sendfile=False)
    if kind == "listing":
        return [default, bench, nosendfile,
                NginxConfig("1-worker", f"worker_processes 1, sendfile on, workers as {me}", user=default.user, workers="1"),
                NginxConfig("open-file-cache", f"open_file_cache (no open/fstat per request), sendfile on, workers as {me}",
                            user=default.user, open_file_cache=True)]
    return [default, bench, nosendfile,
            NginxConfig("no-chunk-limit", f"sendfile_max_chunk 0 (default 2m), sendfile on, workers as {me}",
                        user=default.user, sendfile_max_chunk="0")]


class Nginx:
    def __init__(self, procs: Processes, config: NginxConfig, shm_dir: str, log_dir: Path):
        self.procs, self.config, self.shm_dir, self.log_dir = procs, config, shm_dir, log_dir
        # Outside the bench's 0700 temp dir, so that workers of another user can reach it.
        self.dir = Path(tempfile.mkdtemp(prefix=f"shm-admin-bench-nginx-{config.name}."))
        self.www = self.dir / "www"
        self.proc = None
        self.url = ""

    @property
    def label(self) -> str:
        return f"nginx {self.config.name}"

    def start(self) -> "Nginx":
        c = self.config
        port = free_port()
        (self.www).mkdir(parents=True)
        (self.dir / "tmp").mkdir()
        os.chmod(self.dir, 0o755)
        os.chmod(self.www, 0o755)
        user_line = ""
        if c.user is not None and os.geteuid() == 0:
            group = "root" if c.user == "root" else _group_of(c.user)
            user_line = f"user {c.user} {group};"
            shutil.chown(self.dir / "tmp", c.user, group)
        extra = []
        if c.tcp_nopush:
            extra.append("tcp_nopush on;")
        if c.sendfile_max_chunk is not None:
            extra.append(f"sendfile_max_chunk {c.sendfile_max_chunk};")
        if c.open_file_cache:
            extra.append("open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s;")
        d = self.dir
        (d / "nginx.conf").write_text(f"""{user_line}
daemon off;
worker_processes {c.workers};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile {'on' if c.sendfile else 'off'};
    tcp_nodelay {'on' if c.tcp_nodelay else 'off'};
    {' '.join(extra)}
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    types {{ application/json json; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {self.www};
        location /shm/ {{ alias {self.shm_dir}/; }}
    }}
}}
""")
        self.proc = self.procs.start(["nginx", "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")],
                                     stderr=self.log_dir / f"nginx-{c.name}.log")
        self.url = f"http://127.0.0.1:{port}"
        try:
            wait_http(self.url + "/", lambda: self.proc.poll() is None, f"nginx ({c.name})")
        except BenchError as e:
            raise BenchError(f"{e}: {self._error_log()}") from None
        return self

    def _error_log(self) -> str:
        try:
            return (self.dir / "error.log").read_text()[-500:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            self.procs.stop(self.proc)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def _group_of(user: str) -> str:
    import grp
    import pwd
    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


def nginx_version() -> str:
    r = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
    return "nginx " + (r.stderr.strip().rsplit("/", 1)[-1] or "?")


# ---- bare_mhd ------------------------------------------------------------------------------------

BARE_LISTEN_RE = re.compile(r"^bare_mhd listening on (http://127\.0\.0\.1:\d+)/$", re.M)


def bare_pool_sizes() -> list[int]:
    """Thread pools tried: one thread, one per CPU, two per CPU, and 4 (the bench's former fixed pool)."""
    cpus = os.cpu_count() or 1
    return sorted({1, cpus, 4, 2 * cpus})


class BareMhd:
    def __init__(self, procs: Processes, binary: Path, body: Path, threads: int, work_dir: Path, log_dir: Path,
                 wrapper: list[str] = (), start_timeout: float = 5):
        self.procs, self.binary, self.body, self.threads = procs, binary, body, threads
        self.wrapper, self.start_timeout = list(wrapper), start_timeout
        self.out = work_dir / f"bare-{threads}.out"
        self.log = log_dir / f"bare_mhd-{threads}.log"
        self.proc = None
        self.url = ""

    @property
    def label(self) -> str:
        return f"bare_mhd pool {self.threads}"

    def start(self) -> "BareMhd":
        self.proc = self.procs.start([*self.wrapper, str(self.binary), str(self.body), "0", "application/json",
                                      str(self.threads)], stdout=self.out, stderr=self.log)
        deadline = time.monotonic() + self.start_timeout
        while True:
            m = BARE_LISTEN_RE.search(self.out.read_text())
            if m:
                self.url = m.group(1)
                return self
            if self.proc.poll() is not None:
                raise BenchError(f"bare_mhd exited at start: {self.log.read_text()[-500:]}")
            if time.monotonic() > deadline:
                raise BenchError(f"bare_mhd did not start in {self.start_timeout:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.procs.stop(self.proc)
            self.proc = None


def stop_quietly(peers) -> None:
    for p in peers:
        try:
            p.stop()
        except Exception as e:
            say(f"stopping {p.label}: {e}")
