"""Every process the bench starts, so that each one is stopped again (by its pid), whatever happens.

A `Processes` scope tracks what was started in it; `stop_all()` stops those, newest first: TERM,
up to 10 s, then KILL, and the same for any child they left behind (nginx workers, mapper
processes). Children run in their own session, so a Ctrl-C in the terminal reaches only the
bench, which then stops them in order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from .errors import BenchError

STOP_TIMEOUT = 10.0


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children[ppid].append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """The pids below `pid` (children, their children, …), found through /proc."""
    children = _children_by_parent()
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours (not yet reaped) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def pin(pid: int, cpus: set[int]) -> None:
    """Sets the CPU affinity of every thread of `pid` and of its descendants."""
    for p in [pid, *descendants(pid)]:
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except (ProcessLookupError, PermissionError, OSError):
                pass


def all_cpus() -> set[int]:
    return set(range(os.cpu_count() or 1))


class Processes:
    """The processes one scope (the whole run, or one comparison) started."""

    def __init__(self, say=None):
        self._live: list[subprocess.Popen] = []
        self._say = say or (lambda msg: None)

    def start(self, argv: list[str], *, stdout=None, stderr=None, cwd=None) -> subprocess.Popen:
        out = open(stdout, "wb") if isinstance(stdout, (str, Path)) else stdout
        err = open(stderr, "wb") if isinstance(stderr, (str, Path)) else stderr
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out or subprocess.DEVNULL,
                                 stderr=err or subprocess.DEVNULL, cwd=cwd, start_new_session=True)
        except FileNotFoundError as e:
            raise BenchError(f"cannot run {argv[0]}: {e}") from None
        finally:
            for f, given in ((out, stdout), (err, stderr)):
                if f is not given and f is not None:
                    f.close()
        self._live.append(p)
        return p

    def run(self, argv: list[str], *, timeout: float, stdout=None, stderr=None) -> int:
        """Runs a command to its end (tracked while it runs); returns its exit status.
        Raises BenchError when it outlives `timeout` (it is stopped first)."""
        p = self.start(argv, stdout=stdout, stderr=stderr)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(p)
            raise BenchError(f"{' '.join(argv[:3])} … did not end in {timeout:.0f} s") from None
        except BaseException:  # Ctrl-C, TERM: it must not outlive the bench
            self.stop(p)
            raise
        finally:
            self._forget(p)

    def stop(self, p: subprocess.Popen, sig: int = signal.SIGTERM) -> int | None:
        """TERM (or `sig`), up to 10 s, then KILL; then any descendant left behind."""
        tree = descendants(p.pid) if p.poll() is None else []
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._say(f"pid {p.pid} did not stop on TERM in {STOP_TIMEOUT:.0f} s: KILL")
                p.kill()
                p.wait(5)
        leftovers = [pid for pid in tree if alive(pid)]
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while leftovers and time.monotonic() < deadline:
            leftovers = [pid for pid in leftovers if alive(pid)]
            time.sleep(0.05)
        for pid in leftovers:
            self._say(f"pid {pid} (child of {p.pid}) did not stop on TERM: KILL")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._forget(p)
        return p.returncode

    def stop_all(self) -> None:
        for p in reversed(list(self._live)):
            try:
                self.stop(p)
            except Exception as e:  # keep stopping the others
                self._say(f"stopping pid {p.pid}: {e}")

    def _forget(self, p: subprocess.Popen) -> None:
        if p in self._live:
            self._live.remove(p)
