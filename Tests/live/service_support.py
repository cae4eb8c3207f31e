"""Helpers of the test_service_* files (issue 15: the installable service).

Self-contained on purpose (the standard library only, no import from conftest), so the files keep
working whichever way the live-test support is arranged. Root-only things (users, dpkg, /etc) are
undone by the context managers here even when a test fails.
"""

from __future__ import annotations

import contextlib
import http.client as httplib
import os
import pwd
import re
import secrets
import select
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
UNIT_TEMPLATE = REPO_ROOT / "dist/systemd/shm-admin.service.in"
ADMIN_DROP_IN = REPO_ROOT / "dist/systemd/admin.conf"
LISTEN_RE = re.compile(r"^shm-admin listening on http://([0-9.:\[\]a-f]+):(\d+)/$")
TOKEN_RE = re.compile(r"#token=(\S+)$")
STARTUP_TIMEOUT = 30.0


def is_root() -> bool:
    return os.geteuid() == 0


def run(cmd, timeout=300, check=True, **kw) -> subprocess.CompletedProcess:
    """Runs `cmd`, capturing text output; on failure the assertion shows both streams."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check:
        assert r.returncode == 0, f"{cmd!r} exited {r.returncode}\nstdout: {r.stdout[-3000:]}\nstderr: {r.stderr[-3000:]}"
    return r


# --------------------------------------------------------------------------------------------
# HTTP


def http(port: int, method: str, path: str, token: str | None = None, body: bytes | None = None,
         timeout: float = 10.0, content_type: str = "application/json") -> tuple[int, bytes]:
    conn = httplib.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Host": f"127.0.0.1:{port}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = content_type
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# the server as a process, with whatever wrapper, environment and descriptors a test needs


class ServiceProcess:
    """`shm-admin serve` started by `cmd`; reads its banner (port, admin token) from stdout."""

    def __init__(self, cmd: list[str], env: dict | None = None, cwd: str | None = None,
                 pass_fd: int | None = None, log_dir: str | None = None):
        self.cmd = cmd
        self.stderr_path = Path(log_dir or tempfile.gettempdir()) / f"svc-{secrets.token_hex(4)}.stderr"
        err = open(self.stderr_path, "wb")
        preexec = None
        pass_fds = ()
        if pass_fd is not None:
            # the inherited socket must be fd 3 (SD_LISTEN_FDS_START) in the server
            def preexec():
                os.dup2(pass_fd, 3, inheritable=True)
            pass_fds = (3,)
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                         env=env, cwd=cwd, preexec_fn=preexec, pass_fds=pass_fds)
        finally:
            err.close()
        self.lines: list[str] = []
        self.port = None
        self.host = None
        self.token = None

    def wait_banner(self, timeout: float = STARTUP_TIMEOUT) -> "ServiceProcess":
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.lines) < 20:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.lines.append(line.decode("utf-8", "replace"))
            if len(self.lines) >= 2 and self.lines[1].startswith("dashboard: "):
                m = LISTEN_RE.match(self.lines[0])
                assert m, f"unexpected banner {self.lines!r}"
                self.host, self.port = m.group(1), int(m.group(2))
                self.token = TOKEN_RE.search(self.lines[1]).group(1)
                return self
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
            elif self.proc.poll() is not None:
                break
        self.kill()
        raise AssertionError(f"{self.cmd!r} did not print its banner: {self.lines!r} {buf[:300]!r}; "
                             f"exit {self.proc.returncode}; stderr: {self.stderr()[-2000:]!r}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        with contextlib.suppress(OSError):
            self.proc.stdout.close()

    def close(self):
        self.kill()
        with contextlib.suppress(OSError):
            self.stderr_path.unlink()


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, directory: str):
        self.path = os.path.join(directory, f"notify-{secrets.token_hex(4)}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)  # the service may run as another user

    def receive(self, timeout: float = 10.0) -> str:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        assert ready, f"no sd_notify message within {timeout}s"
        return self.sock.recv(4096).decode()

    def close(self):
        self.sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


# --------------------------------------------------------------------------------------------
# users, capabilities, units


@contextlib.contextmanager
def system_user(name: str | None = None, home: str = "/nonexistent"):
    """A system user (and group) for the test; removed afterwards unless it existed before."""
    name = name or f"shmt{secrets.token_hex(3)}"
    existed = user_exists(name)
    if not existed:
        run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", home,
             "--shell", "/usr/sbin/nologin", name])
    try:
        yield name
    finally:
        if not existed:
            subprocess.run(["userdel", name], capture_output=True, timeout=30)
            subprocess.run(["groupdel", name], capture_output=True, timeout=30)


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def unit_values(text: str, key: str) -> list[str]:
    """Every value of `key=` in a unit file's text (repeated keys and space-separated lists joined)."""
    values: list[str] = []
    for line in text.splitlines():
        if line.startswith(key + "="):
            values += line[len(key) + 1:].split()
    return values


def capability_profiles() -> dict[str, list[str]]:
    """The two documented profiles, read from the shipped unit and its admin drop-in."""
    return {
        "inspect": unit_values(UNIT_TEMPLATE.read_text(), "AmbientCapabilities"),
        "admin": unit_values(ADMIN_DROP_IN.read_text(), "AmbientCapabilities"),
    }


def as_user(user: str, capabilities: list[str]) -> list[str]:
    """setpriv: run as `user` (its uid, gid, no supplementary groups) with exactly `capabilities`
    (inheritable, ambient, bounding; permitted and effective follow), no new privileges: what systemd
    does for User=, AmbientCapabilities=, CapabilityBoundingSet=, NoNewPrivileges=."""
    caps = ",".join(["-all"] + ["+" + c.lower().removeprefix("cap_") for c in capabilities])
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", f"--inh-caps={caps}",
            f"--ambient-caps={caps}", f"--bounding-set={caps}", "--no-new-privs", "--"]


def process_capabilities(pid: int) -> dict[str, int]:
    caps = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cap"):
            key, value = line.split(":")
            caps[key] = int(value.strip(), 16)
    return caps


def capability_mask(names: list[str]) -> int:
    numbers = {"CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_SYS_PTRACE": 19}
    mask = 0
    for name in names:
        mask |= 1 << numbers[name]
    return mask
