"""Starts and stops the real shm-admin binary, standard library only.

  ShmAdminServer(binary, state_dir, token_file=None, read_token_file=None, extra_args=(),
                 umask=None, log_dir=None, cpus=None)
      .start() runs `BINARY serve --port 0 --state-dir DIR …`, reads the two startup lines and
      returns self with .port, .admin_token, .read_token, .dashboard_url, .pid set; raises
      ServerStartError when they do not come. .client(token=…) is a Client of it (admin token by
      default); .stop(sig, timeout) -> (exit code, timed_out); .kill9(); .alive(); .diagnostics().
  stop_checked(server)   stops it with SIGTERM; AssertionError unless it exits 0 in time
  running_servers        the servers started and not yet stopped (the tests clean up through them)
"""

from __future__ import annotations

import collections
import os
import re
import secrets
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

from .client import UNSET, Client

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LISTEN_RE = re.compile(r"^shm-admin listening on https?://127\.0\.0\.1:(\d+)/$")
DASHBOARD_RE = re.compile(r"^dashboard: (https?://127\.0\.0\.1:(\d+)/)#token=(\S+)$")

running_servers: list["ShmAdminServer"] = []


class ServerStartError(Exception):
    """The server exited or did not print its startup lines in time; the message says which."""


class ShmAdminServer:
    """One shm-admin process on an ephemeral loopback port; see the module docstring."""

    def __init__(self, binary: str, state_dir: Path, token_file=None, read_token_file=None,
                 extra_args=(), umask=None, log_dir: Path | None = None, cpus: set[int] | None = None):
        self.binary = binary
        self.state_dir = Path(state_dir)
        self.token_file = token_file
        self.read_token_file = read_token_file
        self.extra_args = list(extra_args)
        self.umask = umask
        self.cpus = cpus  # the CPUs it may run on from its start (sched_setaffinity before exec), if given
        self.log_dir = Path(log_dir or state_dir)
        self.proc: subprocess.Popen | None = None
        self.port = None
        self.admin_token = None
        self.read_token = None
        self.dashboard_url = None
        self.startup_lines: list[str] = []
        self._lines = collections.deque(maxlen=300)
        self._stderr_path = None
        self._drain = None

    @property
    def argv(self):
        argv = [self.binary, "serve", "--port", "0", "--state-dir", str(self.state_dir)]
        if self.token_file:
            argv += ["--token-file", str(self.token_file)]
        if self.read_token_file:
            argv += ["--read-token-file", str(self.read_token_file)]
        return argv + self.extra_args

    def start(self):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._stderr_path = self.log_dir / f"server-{secrets.token_hex(3)}.stderr"
        err = open(self._stderr_path, "wb")
        umask, cpus = self.umask, self.cpus

        def preexec():
            if umask is not None:
                os.umask(umask)
            if cpus is not None:
                os.sched_setaffinity(0, cpus)

        if umask is None and cpus is None:
            preexec = None
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err, preexec_fn=preexec, cwd=str(self.log_dir))
        finally:
            err.close()
        running_servers.append(self)
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        lines: list[str] = []
        dashboard = None
        while dashboard is None and time.monotonic() < deadline and len(lines) < 20:
            if b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                lines.append(line.decode("utf-8", "replace").rstrip("\r"))
                if len(lines) >= 2 and lines[-1].startswith("dashboard: "):
                    dashboard = lines[-1]
                continue
            ready, _, _ = select.select([fd], [], [], max(0.0, min(0.5, deadline - time.monotonic())))
            if not ready:
                if self.proc.poll() is not None:
                    break
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        self.startup_lines = lines
        if not lines or not LISTEN_RE.match(lines[0]) or dashboard is None:
            self._fail_start(f"expected `shm-admin listening on http://127.0.0.1:PORT/` then "
                             f"`dashboard: …#token=TOKEN` within {STARTUP_TIMEOUT}s; got {lines!r} "
                             f"(pending {buf[:200]!r})")
        self.port = int(LISTEN_RE.match(lines[0]).group(1))
        m = DASHBOARD_RE.match(dashboard)
        if not m:
            self._fail_start(f"bad dashboard line {dashboard!r}")
        self.dashboard_url = dashboard[len("dashboard: "):]
        self.admin_token = m.group(3)
        if self.read_token_file:
            self.read_token = Path(self.read_token_file).read_text().strip()
        self._lines.extend(lines)
        if buf:
            self._lines.append(buf.decode("utf-8", "replace"))
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()
        return self

    def _drain_stdout(self):
        out = self.proc.stdout
        try:
            for raw in iter(out.readline, b""):
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        except (OSError, ValueError):
            pass

    def _fail_start(self, why):
        rc = None
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            rc = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        raise ServerStartError(f"shm-admin did not start ({' '.join(self.argv)}): {why}; exit code {rc}; "
                               f"stderr: {self.stderr_tail()!r}")

    def stderr_tail(self, n=4000) -> str:
        try:
            data = Path(self._stderr_path).read_bytes()
        except (OSError, TypeError):
            return ""
        return data[-n:].decode("utf-8", "replace")

    def diagnostics(self) -> str:
        return f"stdout tail: {list(self._lines)[-20:]!r}\nstderr tail: {self.stderr_tail()!r}"

    @property
    def pid(self):
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, token=UNSET) -> Client:
        return Client(self.port, self.admin_token if token is UNSET else token)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends `sig`, waits up to `timeout`, kills on expiry. Returns (exit code, timed_out)."""
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), False
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout), False
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            return self.proc.returncode, True
        finally:
            self._close()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close()

    def _close(self):
        if self in running_servers:
            running_servers.remove(self)
        if self._drain is not None:
            self._drain.join(2)


def stop_checked(srv: ShmAdminServer):
    """Stops `srv` with SIGTERM; raises AssertionError unless it exits 0 within STOP_TIMEOUT."""
    if not srv.alive():
        if srv in running_servers:
            running_servers.remove(srv)
        return
    rc, timed_out = srv.stop()
    if timed_out:
        raise AssertionError(f"server pid {srv.pid} did not exit within {STOP_TIMEOUT}s of SIGTERM; "
                             f"{srv.diagnostics()}")
    if rc != 0:
        raise AssertionError(f"server exited {rc} after SIGTERM; {srv.diagnostics()}")
