"""Helpers for the hardening suites (schema fuzzing, bad-input catalogue); no fixtures of conftest change.

  private_shm_dir(base)   a 64 MiB tmpfs mounted for the test (root), else a plain directory: the
                          server's --shm-dir, so nothing a hostile client makes lands in /dev/shm
  snapshot(path)          names, sizes, modes and contents of every file under a directory
  shm_names()             the entries of the real /dev/shm
  RawHTTP                 one request as exact bytes over a socket; the first response parsed
Everything is loopback only; every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from conftest import LOOPBACK, SHM_DIR

TMPFS_SIZE = "64m"


@contextlib.contextmanager
def private_shm_dir(base: Path, size: str = TMPFS_SIZE):
    """Yields (path, is_tmpfs). Mounts a tmpfs of `size` at base/shm when permitted (root, mount(8)
    present, HARDENING_NO_MOUNT not 1), else leaves a plain directory there. Unmounts (lazily if still
    busy) or removes it after."""
    path = Path(base) / "shm"
    path.mkdir(parents=True, exist_ok=True)
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount") and os.environ.get("HARDENING_NO_MOUNT") != "1":
        try:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=1777", "tmpfs", str(path)],
                               capture_output=True, timeout=10)
            mounted = r.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            mounted = False
    try:
        yield path, mounted
    finally:
        if mounted:
            for attempt in range(20):
                r = subprocess.run(["umount", str(path)], capture_output=True, timeout=10)
                if r.returncode == 0:
                    break
                time.sleep(0.25)
            else:
                subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)
        shutil.rmtree(path, ignore_errors=True)


def snapshot(root: Path) -> dict:
    """{relative path: (kind, size, mode, sha256 of contents)} for everything under `root`."""
    result = {}
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames) + sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue
            if os.path.isdir(full) and not os.path.islink(full):
                result[rel] = ("dir", 0, st.st_mode, "")
                continue
            digest = ""
            try:
                with open(full, "rb") as f:
                    digest = hashlib.sha256(f.read(64 << 20)).hexdigest()
            except OSError as e:
                digest = f"unreadable: {e.errno}"
            result[rel] = ("file", st.st_size, st.st_mode, digest)
    return result


def describe_change(before: dict, after: dict) -> str:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    parts = []
    if added:
        parts.append(f"added {added!r}")
    if removed:
        parts.append(f"removed {removed!r}")
    for k in changed:
        parts.append(f"changed {k!r}: {before[k]!r} -> {after[k]!r}")
    return "; ".join(parts) or "no change"


def shm_names() -> set[str]:
    try:
        return set(os.listdir(SHM_DIR))
    except OSError:
        return set()


class RawResponse:
    def __init__(self, raw: bytes, closed: bool):
        self.raw = raw
        self.closed = closed  # the server closed the connection
        self.status = None
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.body = b""
        if b"\r\n\r\n" not in raw:
            return
        head, rest = raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        length = self.headers.get("content-length")
        self.body = rest[:int(length)] if length and length.isdigit() else rest

    def header(self, name: str):
        return self.headers.get(name.lower())

    def describe(self) -> str:
        return f"{self.raw[:700]!r}"


def complete(buf: bytes) -> bool:
    """Whether `buf` holds a whole response (head plus Content-Length bytes, or no body)."""
    if b"\r\n\r\n" not in buf:
        return False
    head, rest = buf.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length" and v.strip().isdigit():
            return len(rest) >= int(v.strip())
    status = head.split(b" ", 2)[1] if head.count(b" ") >= 1 else b""
    return status in (b"204", b"304")


def raw_request(port: int, data: bytes, timeout: float = 10.0, drip: float | None = None) -> RawResponse:
    """Sends `data` as is (a byte at a time `drip` seconds apart when given) and reads the first response."""
    deadline = time.monotonic() + timeout
    sock = socket.create_connection((LOOPBACK, port), timeout=min(timeout, 5.0))
    buf = b""
    closed = False
    try:
        try:
            if drip is None:
                sock.sendall(data)
            else:
                for i in range(len(data)):
                    sock.sendall(data[i:i + 1])
                    time.sleep(drip)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413, 431) and close before reading everything
        while not complete(buf):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(min(left, 1.0))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
    finally:
        sock.close()
    return RawResponse(buf, closed)
