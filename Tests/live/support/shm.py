"""Shared-memory objects and directories on disk, looked at without mapping anything.

  SHM_DIR, RUN_PREFIX      /dev/shm, and the per-run name prefix `t-<pid>-<hex>-` of every test object
  shm_path(name)           /dev/shm/NAME
  read_object(name, …)     bytes of an object by plain file I/O
  unlink_quietly(name)     removes one object, ignoring errors
  remove_prefixed(prefix)  removes every object (and POSIX semaphore) named PREFIX…
  shm_names()              the entries of the real /dev/shm
  snapshot(dir), describe_change(before, after)
                           names, sizes, modes and contents under a directory, and what changed
  private_shm_dir(base)    a 64 MiB tmpfs mounted for a test (root), else a plain directory: a
                           server's --shm-dir, so nothing a hostile client makes lands in /dev/shm
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

SHM_DIR = "/dev/shm"
RUN_PREFIX = f"t-{os.getpid()}-{secrets.token_hex(4)}-"
TMPFS_SIZE = "64m"


def shm_path(name: str) -> str:
    return os.path.join(SHM_DIR, name)


def read_object(name: str, offset: int = 0, length: int | None = None) -> bytes:
    """Reads the object's bytes with plain file I/O (no mapping in the test process)."""
    with open(shm_path(name), "rb") as f:
        f.seek(offset)
        return f.read() if length is None else f.read(length)


def unlink_quietly(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        return
    try:
        os.unlink(shm_path(name))
    except FileNotFoundError:
        pass
    except OSError:
        pass


def remove_prefixed(prefix: str) -> None:
    """Unlinks every /dev/shm entry named PREFIX… or sem.PREFIX…"""
    try:
        entries = os.listdir(SHM_DIR)
    except OSError:
        return
    for entry in entries:
        if entry.startswith(prefix) or entry.startswith("sem." + prefix):
            unlink_quietly(entry)


def shm_names() -> set[str]:
    try:
        return set(os.listdir(SHM_DIR))
    except OSError:
        return set()


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
