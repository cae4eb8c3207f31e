"""Constants and small helpers every other module shares: units, page size, paths, polling."""

from __future__ import annotations

import os
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
REPO_ROOT = Path(__file__).resolve().parents[3]
LOOPBACK = "127.0.0.1"


def round_up(n: int, page: int = PAGE) -> int:
    return (n + page - 1) // page * page


def wait_until(predicate, timeout: float = 3.0, interval: float = 0.1, what: str = "condition"):
    """Polls `predicate` until it returns a truthy value; bounded in time and count."""
    deadline = time.monotonic() + timeout
    last = None
    for _ in range(int(timeout / interval) + 2):
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
