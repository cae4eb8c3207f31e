"""Hardening, suite 4 (issue 6): faults from outside the server.

A section truncated under views and during a raw dump; the shared-memory tmpfs filled by another
process during a grow; `kill -9` in the middle of a storm of creates and grows, then a restart;
an inotify queue overflow; a state directory that is read-only, full, or holds a corrupt record;
an event-stream client that never reads.

Everything talks to 127.0.0.1. Every loop is bounded in count and time. Objects in /dev/shm carry
the test's `prefix` (removed afterwards by the fixture, even on failure); objects in a tmpfs of
our own go with it when it is unmounted, which every test does in a `finally` (servers using a
mount are stopped first, so the unmount never finds it busy).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support.client import Client, assert_problem, sec
from support.common import KiB, MiB, wait_until
from support.shm import SHM_DIR, shm_path

TOKEN = "f" * 24 + "0123456789abcdef"
TEMP_PREFIX = ".shm-admin-tmp-"


# --------------------------------------------------------------------------------------------
# helpers


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def settled_fd_count(pid: int, seconds: float = 2.0) -> int:
    """The fd count once connections just answered are closed: the lowest seen within `seconds`."""
    low = fd_count(pid)
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.1) + 1):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
        low = min(low, fd_count(pid))
    return low


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def run_quiet(argv, timeout=20) -> subprocess.CompletedProcess:
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


def unmount(path: Path) -> None:
    """Unmounts `path`; retried for a while (a process may still be closing files), then lazily."""
    for _ in range(50):
        if run_quiet(["umount", str(path)]).returncode == 0:
            return
        if not os.path.ismount(path):
            return
        time.sleep(0.1)
    run_quiet(["umount", "-l", str(path)])


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """A tmpfs of `size` mounted at `path` for the block; skips the test when mounting is not permitted."""
    path.mkdir(parents=True, exist_ok=True)
    r = run_quiet(["mount", "-t", "tmpfs", "-o", f"size={size},mode=1777", "tmpfs", str(path)])
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode(errors='replace').strip()})")
    try:
        yield path
    finally:
        unmount(path)


@contextlib.contextmanager
def read_only_bind(path: Path):
    """`path` bind-mounted read-only onto itself (root ignores permission bits, not a read-only mount)."""
    r = run_quiet(["mount", "--bind", str(path), str(path)])
    if r.returncode != 0:
        pytest.skip(f"cannot bind-mount here ({r.stderr.decode(errors='replace').strip()})")
    try:
        r = run_quiet(["mount", "-o", "remount,bind,ro", str(path)])
        if r.returncode != 0:
            pytest.skip(f"cannot remount read-only here ({r.stderr.decode(errors='replace').strip()})")
        yield path
    finally:
        unmount(path)


FILLER = r'''
import os, sys
path = sys.argv[1]
leave = int(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
total = 0
for chunk in (1 << 20, 64 << 10, 4096):
    block = b"\xa5" * chunk
    for _ in range(1 << 16):
        try:
            n = os.write(fd, block)
        except OSError:
            break
        total += n
        if n < chunk:
            break
if leave:
    total -= leave
    os.ftruncate(fd, max(0, total))
os.close(fd)
print(total)
'''


def fill(path: Path, leave: int = 0) -> int:
    """Another process writes `path` until its filesystem is full (then gives back `leave` bytes)."""
    r = run_quiet([sys.executable, "-c", FILLER, str(path), str(leave)], timeout=60)
    assert r.returncode == 0, r.stderr
    return int(r.stdout)


def stop(srv) -> None:
    """Stops a server started by server_factory before its tmpfs or bind mount goes away."""
    if srv is not None and srv.alive():
        rc, timed_out = srv.stop()
        assert not timed_out and rc == 0, (rc, srv.diagnostics())


def own_entries(shm_dir: str, prefix: str) -> dict[str, tuple[int, int]]:
    """name -> (size, allocated bytes) of the entries named PREFIX… in `shm_dir`."""
    out = {}
    for n in os.listdir(shm_dir):
        if n.startswith(prefix):
            st = os.lstat(os.path.join(shm_dir, n))
            out[n] = (st.st_size, st.st_blocks * 512)
    return out


def temporaries(shm_dir: str, pid: int | None = None) -> list[str]:
    want = TEMP_PREFIX + (f"{pid}-" if pid is not None else "")
    return [n for n in os.listdir(shm_dir) if n.startswith(want)]


class FastEvents:
    """An event-stream client that reads all the time on a thread of its own (HTTP/1.0, so the stream
    is not chunked), keeping `(event type, data JSON)` pairs: it keeps up with thousands of events a
    second where EventStream's parser would fall behind and be dropped as a stalled client."""

    def __init__(self, port: int, token: str | None = None, seconds: float = 60.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.sock.sendall(f"GET /api/v1/events HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n".encode())
        self.events: list[tuple[str, dict]] = []
        self.head = b""
        self.connected = threading.Event()
        self.closed = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(seconds,), daemon=True)
        self.thread.start()
        assert self.connected.wait(5), f"no ': connected' on the event stream: {self.head[:300]!r}"

    def _run(self, seconds):
        buf = b""
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(1 << 18)
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                return
            buf += chunk
            if not self.head:
                if b"\r\n\r\n" not in buf:
                    continue
                self.head, buf = buf.split(b"\r\n\r\n", 1)
            blocks = buf.split(b"\n\n")
            buf = blocks.pop()
            for block in blocks:
                kind, data = None, None
                for line in block.split(b"\n"):
                    if line.startswith(b": connected"):
                        self.connected.set()
                    elif line.startswith(b"event: "):
                        kind = line[7:].decode()
                    elif line.startswith(b"data: "):
                        data = line[6:]
                if kind is not None:
                    self.events.append((kind, json.loads(data) if data else {}))

    def sections(self, kind: str) -> set:
        return {data.get("section") for k, data in list(self.events) if k == kind}

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


class KeepAlive:
    """One persistent HTTP/1.1 connection to 127.0.0.1 (http.client reconnects when the server closes)."""

    def __init__(self, port, token, timeout=15.0):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method, path, body=None, content_type="application/octet-stream"):
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = content_type
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read()

    def close(self):
        self.conn.close()


# --------------------------------------------------------------------------------------------
# a section truncated to zero by another process


def test_truncated_under_views_is_416_and_server_lives(server_factory, prefix, peers):
    srv = server_factory(token=TOKEN)
    c = srv.client()
    name = prefix + "tv"
    c.create(name, "256KiB", "64KiB")
    c.write(name, 0, b"before truncation" * 100)
    views = {}
    for access in ("ro", "rw"):
        r = c.post(sec(name, "views"), json={"access": access})
        assert r.status == 201, r.describe()
        views[access] = r.json["id"]
    peer = peers()
    peer.attach(name)  # another process maps it too
    os.truncate(shm_path(name), 0)

    for access, vid in views.items():
        for fmt in ("hex", "base64", "hexdump", "raw"):
            r = c.get(sec(name, "views", vid, "data"), query={"offset": 0, "length": 4096, "format": fmt})
            assert_problem(r, 416, "range-not-satisfiable")
            assert r.json["commit"] == 0, r.describe()
        r = c.get(sec(name, "views", vid, "data"), query={"format": "hex"})  # default length: nothing usable
        assert r.status in (200, 416), r.describe()
        if r.status == 200:
            assert r.json["rows"] == [] and r.json["length"] == 0, r.describe()
    r = c.put(sec(name, "views", views["rw"], "data"), query={"offset": 0}, body=b"x" * 16)
    assert_problem(r, 416, "range-not-satisfiable")
    for fmt in ("hex", "raw"):
        r = c.get(sec(name, "data"), query={"offset": 0, "length": 16, "format": fmt})
        assert_problem(r, 416, "range-not-satisfiable")
    r = c.put(sec(name, "data"), query={"offset": 0}, body=b"y" * 16)
    assert_problem(r, 416, "range-not-satisfiable")
    assert os.stat(shm_path(name)).st_size == 0, "a refused write must not extend the object"

    assert srv.alive(), srv.diagnostics()
    d = c.detail(name)
    assert d["commit"] == 0 and d["state"] == "ok", d
    r = c.get(sec(name, "pages"))
    assert r.status == 200 and r.json["commit"] == 0, r.describe()
    # grown again, the same views see the new commit: nothing was left broken
    r = c.post(sec(name, "grow"), json={"commit": "8KiB"})
    assert r.status == 200 and r.json["commit"] == 8 * KiB, r.describe()
    c.write(name, 0, b"after")
    r = c.get(sec(name, "views", views["ro"], "data"), query={"offset": 0, "length": 5, "format": "raw"})
    assert r.status == 200 and r.body == b"after", r.describe()
    assert c.get("/healthz").status == 200


def _raw_dump_truncated(srv, name, size):
    """Starts a raw dump of `size` bytes, truncates the object after the first bytes arrive, and reads
    until the connection ends or 6 s pass. Returns (bytes received, seconds, ended)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * KiB)
        s.sendall((f"GET {sec(name, 'data')}?format=raw HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                   f"Authorization: Bearer {srv.admin_token}\r\n\r\n").encode())
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first[:200]
        assert f"Content-Length: {size}".encode() in first, first[:300]
        os.truncate(shm_path(name), 0)
        received = len(first)
        t0 = time.monotonic()
        ended = False
        s.settimeout(0.5)
        for _ in range(200):
            if time.monotonic() - t0 > 6:
                break
            try:
                chunk = s.recv(1 << 20)
            except socket.timeout:
                continue
            except ConnectionResetError:
                ended = True
                break
            if not chunk:
                ended = True
                break
            received += len(chunk)
        return received, time.monotonic() - t0, ended
    finally:
        s.close()


def test_truncated_during_raw_dump_server_lives(server_factory, prefix):
    srv = server_factory(token=TOKEN)
    c = srv.client()
    name = prefix + "td"
    size = 64 * MiB
    c.create(name, size)
    c.write(name, 0, b"head")
    fds_before = settled_fd_count(srv.pid, 0.5)

    received, seconds, ended = _raw_dump_truncated(srv, name, size)
    assert received < size, "the whole object arrived although it was truncated after the first bytes"
    # whatever happened to that connection, the server and later requests are fine
    assert srv.alive(), srv.diagnostics()
    assert c.get("/healthz").status == 200
    d = c.detail(name)
    assert d["commit"] == 0, d
    r = c.post(sec(name, "grow"), json={"commit": "4KiB"})
    assert r.status == 200, r.describe()
    c.write(name, 0, b"fine")
    assert c.read_raw(name, 0, 4) == b"fine"
    assert ended, f"the dump's connection is still open {seconds:.1f} s after the truncation ({received} bytes)"
    # the dump's descriptors are let go with its connection
    wait_until(lambda: fd_count(srv.pid) <= fds_before, timeout=5, what="fd count back to before the dump")


# --------------------------------------------------------------------------------------------
# the shared-memory tmpfs filled by another process


def test_tmpfs_filled_by_another_process_grow_is_507_and_changes_nothing(server_factory, prefix, tmp_path):
    mnt = tmp_path / "shm16"
    srv = None
    with tmpfs(mnt, "16m"):
        try:
            srv = server_factory(token=TOKEN, args=["--shm-dir", str(mnt)])
            c = srv.client()
            name = prefix + "g"
            path = mnt / name
            c.create(name, "16MiB", "64KiB")
            c.write(name, 0, b"kept")
            free = c.get("/api/v1/system").json["shm"]["freeBytes"]
            assert free > 8 * MiB, free
            filler = mnt / "filler"
            filled = fill(filler, leave=256 * KiB)  # another process takes all but 256 KiB
            assert filled > 8 * MiB, filled
            before = os.stat(path)
            r = c.post(sec(name, "grow"), json={"commit": "4MiB"})
            p = assert_problem(r, 507, "insufficient-storage")
            assert p.get("section") == name, p
            after = os.stat(path)
            assert (after.st_size, after.st_blocks) == (before.st_size, before.st_blocks), (before, after)
            d = c.detail(name)
            assert d["commit"] == 64 * KiB and d["allocatedBytes"] == before.st_blocks * 512, d
            r = c.post(sec(name, "grow"), json={"by": "4MiB"})
            assert_problem(r, 507, "insufficient-storage")
            assert os.stat(path).st_size == before.st_size
            # a create that does not fit leaves nothing behind either
            r = c.post("/api/v1/sections", json={"name": prefix + "big", "reserve": "4MiB"})
            assert_problem(r, 507, "insufficient-storage")
            assert set(os.listdir(mnt)) == {name, "filler"}, os.listdir(mnt)
            # past the whole tmpfs is another answer: no retry can succeed (422, its size named)
            r = c.post(sec(name, "grow"), json={"commit": "17MiB"})
            assert assert_problem(r, 422, "past-reserve")
            r = c.post("/api/v1/sections", json={"name": prefix + "big", "reserve": "17MiB"})
            assert assert_problem(r, 422, "past-capacity")["sizeBytes"] == 16 * MiB
            assert set(os.listdir(mnt)) == {name, "filler"}, os.listdir(mnt)

            filler.unlink()  # the space comes back: the same grow works
            r = c.post(sec(name, "grow"), json={"commit": "4MiB"})
            assert r.status == 200 and r.json["commit"] == 4 * MiB, r.describe()
            st = os.stat(path)
            assert st.st_size == 4 * MiB and st.st_blocks * 512 >= 4 * MiB, st
            assert read_object_in(mnt, name, 0, 4) == b"kept"
            assert c.get("/healthz").status == 200
        finally:
            stop(srv)


def read_object_in(directory: Path, name: str, offset: int, length: int) -> bytes:
    with open(directory / name, "rb") as f:
        f.seek(offset)
        return f.read(length)


FILL_RACE = r'''
import os, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
block = b"\x5a" * (256 << 10)
end = time.monotonic() + seconds
full = 0
for _ in range(100000):
    if time.monotonic() > end:
        break
    try:
        os.write(fd, block)
    except OSError:
        full += 1
        time.sleep(0.002)
os.close(fd)
print(full)
'''


def test_tmpfs_filling_while_grows_run(server_factory, prefix, tmp_path):
    """Grows race a process filling the tmpfs: each one either commits fully or changes nothing."""
    mnt = tmp_path / "shm16r"
    srv = None
    with tmpfs(mnt, "16m"):
        try:
            srv = server_factory(token=TOKEN, args=["--shm-dir", str(mnt)])
            c = srv.client()
            names = [prefix + f"r{i}" for i in range(2)]
            for n in names:
                c.create(n, "16MiB", "4KiB")
            filler = subprocess.Popen([sys.executable, "-c", FILL_RACE, str(mnt / "filler"), "3"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            outcomes = {200: 0, 507: 0}
            try:
                t0 = time.monotonic()
                for i in range(400):
                    if time.monotonic() - t0 > 4 or filler.poll() is not None:
                        break
                    n = names[i % 2]
                    before = os.stat(mnt / n)
                    r = c.post(sec(n, "grow"), json={"by": "256KiB"})
                    after = os.stat(mnt / n)
                    if r.status == 507:
                        assert_problem(r, 507, "insufficient-storage")
                        assert (after.st_size, after.st_blocks) == (before.st_size, before.st_blocks), (i, before,
                                                                                                       after)
                    elif r.status == 422:  # reached the reserve
                        break
                    else:
                        assert r.status == 200, r.describe()
                        assert after.st_size == before.st_size + 256 * KiB, (before, after)
                        assert after.st_blocks * 512 >= after.st_size, after
                    outcomes[r.status] = outcomes.get(r.status, 0) + 1
            finally:
                out, err = filler.communicate(timeout=30)
            assert outcomes[507] >= 1, f"the tmpfs never filled up: {outcomes}, filler {out!r} {err!r}"
            for n in names:
                st = os.stat(mnt / n)
                assert st.st_blocks * 512 >= st.st_size, (n, st)
                assert c.detail(n)["commit"] == st.st_size
            assert c.get("/healthz").status == 200
        finally:
            stop(srv)


# --------------------------------------------------------------------------------------------
# kill -9 in the middle of a storm of creates and grows


STORM_ROUNDS = 3
STORM_WORKERS = 4


def _storm(srv, prefix, rnd_seed, attempted, created, committed, unexpected):
    """Creates and grows from STORM_WORKERS threads until `srv` is killed; fills the dicts."""
    lock = threading.Lock()
    stop_flag = threading.Event()

    def worker(k):
        rnd = random.Random(rnd_seed * 100 + k)
        c = Client(srv.port, TOKEN, timeout=5)
        mine: list[str] = []
        for i in range(2000):
            if stop_flag.is_set():
                return
            try:
                if mine and rnd.random() < 0.5:
                    n = rnd.choice(mine)
                    r = c.post(sec(n, "grow"), json={"by": rnd.choice([4 * KiB, 64 * KiB, 256 * KiB])})
                    if r.status == 200:
                        with lock:
                            committed[n] = max(committed.get(n, 0), r.json["commit"])
                    elif r.status != 422:  # 422: past the reserve
                        unexpected.append(r.describe())
                    continue
                n = f"{prefix}s{rnd_seed}-{k}-{i}"
                spec = {"reserve": rnd.choice([256 * KiB, 1 * MiB, 2 * MiB]), "commit": 4 * KiB * rnd.randint(0, 64),
                        "labels": {"worker": str(k), "i": str(i), "pad": "x" * rnd.randint(0, 200)}}
                with lock:
                    attempted[n] = spec
                r = c.post("/api/v1/sections", json={"name": n, **spec})
                if r.status == 201:
                    with lock:
                        created[n] = r.json
                        committed[n] = r.json["commit"]
                    mine.append(n)
                else:
                    unexpected.append(r.describe())
            except (OSError, http.client.HTTPException):
                return  # the server is gone

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(STORM_WORKERS)]
    return threads, stop_flag


def test_kill9_during_create_and_grow_storm_then_restart(server_factory, prefix, tmp_path):
    """Rounds of: four threads create and grow sections, `kill -9` at a random moment, restart on the
    same state directory. Every acknowledged create is there with its reserve and labels, every commit
    is at least the acknowledged one, and nothing half-made is left."""
    state = tmp_path / "storm-state"
    attempted: dict[str, dict] = {}  # name -> the reserve, commit and labels asked for
    created: dict[str, dict] = {}  # acknowledged creates: name -> response
    committed: dict[str, int] = {}  # name -> highest acknowledged commit
    unexpected: list[str] = []
    srv = server_factory(token=TOKEN, state_dir=state)
    for round_ in range(STORM_ROUNDS):
        dead_pid = srv.pid
        grown_before = sum(1 for n in created if committed[n] > created[n]["commit"])
        created_before = len(created)
        threads, stop_flag = _storm(srv, prefix, round_, attempted, created, committed, unexpected)
        for t in threads:
            t.start()
        t0 = time.monotonic()
        wait_until(lambda: len(created) - created_before >= 30 and
                   sum(1 for n in created if committed[n] > created[n]["commit"]) - grown_before >= 10,
                   timeout=30, interval=0.01, what="30 creates and 10 grows acknowledged")
        time.sleep(random.uniform(0.0, 0.3))
        srv.kill9()
        stop_flag.set()
        for t in threads:
            t.join(10)
        assert srv.proc.returncode == -9
        assert not unexpected, unexpected[:5]
        print(f"storm round {round_}: {len(attempted)} creates attempted, {len(created)} acknowledged, "
              f"{sum(1 for n in created if committed[n] > created[n]['commit'])} grown; "
              f"killed after {time.monotonic() - t0:.2f} s")

        srv = server_factory(token=TOKEN, state_dir=state)
        _check_after_storm(srv, prefix, state, dead_pid, attempted, created, committed)
    # and the restarted server manages them fully
    c = srv.client()
    some = sorted(created)[0]
    r = c.post(sec(some, "grow"), json={"by": 4096})
    assert r.status in (200, 422), r.describe()
    assert c.delete(sec(some)).status == 204


def _check_after_storm(srv, prefix, state, dead_pid, attempted, created, committed):
    c = srv.client()
    listed = {s["name"]: s for s in c.list(q=prefix, limit=10000)["sections"]}
    # every acknowledged create is there, managed, with its reserve and labels; commit >= acknowledged
    for n, ack in created.items():
        s = listed.get(n)
        assert s is not None, f"acknowledged create {n} lost"
        assert s["managed"] is True and s["state"] == "ok", s
        assert s["reserve"] == ack["reserve"] and s["labels"] == attempted[n]["labels"], (s, ack)
        assert s["commit"] >= committed[n], (s, committed[n])
        st = os.stat(shm_path(n))
        assert st.st_size == s["commit"] and st.st_blocks * 512 >= st.st_size, (n, st)
    # an unacknowledged create may exist or not; if it does, it is complete and managed
    for n in set(attempted) - set(created):
        if n not in listed:
            assert not os.path.exists(shm_path(n)), f"{n}: an object nobody manages"
            continue
        s, spec = listed[n], attempted[n]
        assert s["managed"] is True and s["state"] == "ok", s
        assert s["reserve"] == spec["reserve"] and s["labels"] == spec["labels"], (s, spec)
        st = os.stat(shm_path(n))
        assert st.st_size >= spec["commit"] and st.st_blocks * 512 >= st.st_size, (n, st, spec)
    # nothing half-made: every listed name was asked for, no temporaries, no records without objects
    assert set(listed) <= set(attempted), sorted(set(listed) - set(attempted))[:5]
    assert all(s["managed"] and s["state"] == "ok" for s in listed.values()), \
        [s for s in listed.values() if not s["managed"] or s["state"] != "ok"][:3]
    assert temporaries(SHM_DIR, dead_pid) == [], temporaries(SHM_DIR, dead_pid)
    # (a start that rolls back a create keeps the record's file for reuse, as `.free-*`: not a record)
    records = [f for f in os.listdir(state / "records") if not f.startswith(".free-")]
    assert not [f for f in records if f.startswith(".")], records
    assert len(records) == len(listed), (len(records), len(listed))
    assert os.listdir(state / "corrupt") == []
    on_disk = {n for n in os.listdir(SHM_DIR) if n.startswith(prefix)}
    assert on_disk == set(listed), (sorted(on_disk ^ set(listed)))[:5]


# --------------------------------------------------------------------------------------------
# inotify overflow


CHURN = r'''
import os, sys
d, prefix, n, keep = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    p = os.path.join(d, f"{prefix}{i}")
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.ftruncate(fd, 4096)
    os.close(fd)
    if i % (n // keep) != 0:
        os.unlink(p)
'''


@pytest.mark.parametrize("paused", [True, False], ids=["server-paused", "server-running"])
def test_inotify_overflow_then_consistent_list(server_factory, prefix, paused):
    """Thousands of creates and unlinks at once by another process: a client reading the event stream
    gets a `rescan` (or an event for every survivor), and the list equals the directory."""
    srv = server_factory(token=TOKEN)
    c = srv.client()
    es = FastEvents(srv.port)
    try:
        churn = prefix + "ch"
        n, keep = 20000, 50
        if paused:
            os.kill(srv.pid, signal.SIGSTOP)  # the kernel queue (16384 events by default) must overflow
        try:
            r = run_quiet([sys.executable, "-c", CHURN, SHM_DIR, churn, str(n), str(keep)], timeout=120)
        finally:
            if paused:
                os.kill(srv.pid, signal.SIGCONT)
        assert r.returncode == 0, r.stderr
        survivors = sorted(x for x in os.listdir(SHM_DIR) if x.startswith(churn))
        assert len(survivors) == keep, len(survivors)

        def caught_up():
            if any(kind == "rescan" for kind, _ in list(es.events)):
                return "rescan"
            return "per-name" if set(survivors) <= es.sections("created") else None

        how = wait_until(caught_up, timeout=20, interval=0.05, what="a rescan or created events for the survivors")
        assert not es.closed, "the event client was dropped while reading"
        if paused:
            assert how == "rescan", "a queue overflow must be reported as a rescan"
        for kind, data in list(es.events):
            if kind == "rescan":
                assert data["section"] is None and data["source"] == "external", data
        listed = sorted(s["name"] for s in c.list(q=churn, limit=10000)["sections"])
        assert listed == sorted(x for x in os.listdir(SHM_DIR) if x.startswith(churn))
        assert all(not s["managed"] for s in c.list(q=churn)["sections"])
        # The watcher survived: a later change is reported by name again. While the server is still
        # draining the flood, the kernel's queue can be full, and a create then reaches us only inside
        # another `rescan` (which stands for everything before it): try again, a bounded number of times.
        reported = None
        for attempt in range(5):
            later = f"{prefix}later{attempt}"
            seen_before = len(es.events)
            fd = os.open(shm_path(later), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)

            def outcome():
                if later in es.sections("created"):
                    return "named"
                return "rescan" if any(k == "rescan" for k, _ in list(es.events)[seen_before:]) else None

            try:
                reported = wait_until(outcome, timeout=10, what="an event after the overflow")
            except AssertionError as failure:
                tail = [(k, d.get("section")) for k, d in list(es.events)[-5:]]
                raise AssertionError(f"{failure}; stream closed: {es.closed}, {len(es.events)} events, last {tail}; "
                                     f"server log: {srv.stderr_tail(1500)}") from None
            if reported == "named":
                break
            time.sleep(0.5)
        assert reported == "named", "a create after the flood was never reported by name"
        print(f"inotify churn ({'paused' if paused else 'running'}): {len(es.events)} events, caught up by {how}")
        assert srv.alive() and c.get("/healthz").status == 200
    finally:
        es.close()


# --------------------------------------------------------------------------------------------
# the state directory: read-only, full, a corrupt record


def test_read_only_state_directory(server_factory, prefix, tmp_path):
    state = tmp_path / "ro-state"
    first = server_factory(token=TOKEN, state_dir=state)
    a = prefix + "a"
    first.client().create(a, "64KiB", "4KiB", labels={"kept": "yes"})
    stop(first)
    srv = None
    with read_only_bind(state):
        try:
            srv = server_factory(token=TOKEN, state_dir=state)
            c = srv.client()
            s = c.detail(a)
            assert s["managed"] is True and s["labels"] == {"kept": "yes"}, s
            # a create needs a record: refused, nothing left in /dev/shm
            b = prefix + "b"
            r = c.post("/api/v1/sections", json={"name": b, "reserve": "64KiB"})
            p = assert_problem(r, 507, "insufficient-storage")
            assert "state directory" in p["detail"], p
            assert not os.path.exists(shm_path(b))
            assert temporaries(SHM_DIR, srv.pid) == []
            # a delete needs a record too: refused, the section stays whole
            r = c.delete(sec(a))
            assert_problem(r, 507, "insufficient-storage")
            assert os.path.exists(shm_path(a)) and c.detail(a)["managed"] is True
            # what needs no record still works
            r = c.post(sec(a, "grow"), json={"commit": "8KiB"})
            assert r.status == 200 and r.json["commit"] == 8 * KiB, r.describe()
            c.write(a, 0, b"still served")
            assert c.read_raw(a, 0, 12) == b"still served"
            assert c.get("/healthz").status == 200
        finally:
            stop(srv)
    again = server_factory(token=TOKEN, state_dir=state)
    assert again.client().delete(sec(a)).status == 204


@pytest.mark.parametrize("sync", ["auto", "always"])
def test_full_state_directory(server_factory, prefix, tmp_path, sync):
    """A full state directory refuses a create (507, nothing left behind). A delete then still works
    when records are rewritten in place (auto: /dev/shm is a tmpfs, no fsync, no new file); with
    --sync-records always its phase needs a new file, and it is refused whole."""
    state = tmp_path / "full-state"
    srv = None
    with tmpfs(state, "256k"):
        try:
            srv = server_factory(token=TOKEN, state_dir=state, args=("--sync-records", sync))
            c = srv.client()
            a = prefix + "a"
            c.create(a, "64KiB", "4KiB", labels={"x": "y"})
            filler = state / "filler"
            fill(filler)
            b = prefix + "b"
            r = c.post("/api/v1/sections", json={"name": b, "reserve": "64KiB", "labels": {"big": "v" * 255}})
            assert_problem(r, 507, "insufficient-storage")
            assert not os.path.exists(shm_path(b))
            assert temporaries(SHM_DIR, srv.pid) == []
            half = [f for f in os.listdir(state / "records") if f.startswith(".") and not f.startswith(".free-")]
            assert not half, "a half-written record"
            r = c.delete(sec(a))
            if sync == "always":
                assert_problem(r, 507, "insufficient-storage")
                assert c.detail(a)["managed"] is True and os.path.exists(shm_path(a))
            else:
                assert r.status == 204, r.describe()
                assert not os.path.exists(shm_path(a))
                assert c.get(sec(a)).status == 404
                kept = os.listdir(state / "records")  # a deleted section's file is kept for reuse
                assert all(f.startswith(".free-") for f in kept), kept
            assert c.get("/healthz").status == 200
            filler.unlink()
            c.create(b, "64KiB")
            if sync == "always":
                assert c.delete(sec(a)).status == 204
            assert c.delete(sec(b)).status == 204
        finally:
            stop(srv)


def test_corrupt_record_is_set_aside_and_the_rest_served(server_factory, prefix, tmp_path):
    state = tmp_path / "corrupt-state"
    first = server_factory(token=TOKEN, state_dir=state)
    c = first.client()
    good, bad = prefix + "good", prefix + "bad"
    c.create(good, "64KiB", "4KiB", labels={"ok": "1"})
    c.create(bad, "64KiB", "4KiB", labels={"ok": "0"})
    c.write(bad, 0, b"the bytes survive")
    stop(first)
    before = set(os.listdir(state / "records"))
    bad_record = None
    for f in before:
        text = (state / "records" / f).read_text()
        if json.loads(text)["name"] == bad:
            bad_record = f
    assert bad_record, before
    (state / "records" / bad_record).write_text('{"name": "' + bad + '", "reserve": ')  # cut short
    (state / "records" / "0123.json").write_bytes(b"\xff\xfe not json at all")

    srv = server_factory(token=TOKEN, state_dir=state)
    c = srv.client()
    log = srv.stderr_tail(20000)
    assert "corrupt" in log and bad_record in log, log[-2000:]
    aside = os.listdir(state / "corrupt")
    assert any(f.startswith(bad_record) for f in aside) and any(f.startswith("0123.json") for f in aside), aside
    assert set(os.listdir(state / "records")) == before - {bad_record}
    s = c.detail(good)
    assert s["managed"] is True and s["labels"] == {"ok": "1"}, s
    s = c.detail(bad)
    assert s["managed"] is False and s["state"] == "ok", s  # the object is kept, now foreign
    assert c.read_raw(bad, 0, 17) == b"the bytes survive"
    r = c.post(sec(bad, "adopt"), json={"reserve": "64KiB", "labels": {"ok": "again"}})
    assert r.status == 200 and r.json["managed"] is True, r.describe()
    assert c.get("/healthz").status == 200


# --------------------------------------------------------------------------------------------
# an event-stream client that never reads


def test_event_client_that_never_reads_is_dropped(server_factory, prefix):
    srv = server_factory(token=TOKEN)
    c = srv.client()
    name = prefix + "ev"
    c.create(name, "64KiB", "64KiB")
    events_wanted = 10_000
    threads_n = 4

    live = FastEvents(srv.port, seconds=180)

    def written_seen():
        return sum(1 for kind, data in list(live.events) if kind == "written" and data.get("section") == name)

    # warm up, then the baseline
    ka = KeepAlive(srv.port, TOKEN)
    for i in range(200):
        assert ka.request("GET", "/healthz")[0] == 200
    ka.close()
    fds_before = settled_fd_count(srv.pid, 0.5)
    rss_before = rss_kib(srv.pid)

    stalled = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode())
        failures = []

        def writer(k):
            conn = KeepAlive(srv.port, TOKEN)
            try:
                for i in range(events_wanted // threads_n):
                    off = (k * 4096 + i) % (64 * KiB - 8)
                    status, body = conn.request("PUT", sec(name, "data") + f"?offset={off}", body=b"e%07d" % i)
                    if status != 200:
                        failures.append((status, body[:200]))
                        return
            except (OSError, http.client.HTTPException) as e:
                failures.append(repr(e))
            finally:
                conn.close()

        t0 = time.monotonic()
        writers = [threading.Thread(target=writer, args=(k,), daemon=True) for k in range(threads_n)]
        for t in writers:
            t.start()
        peak = rss_before
        for _ in range(1200):
            if not any(t.is_alive() for t in writers) or time.monotonic() - t0 > 120:
                break
            peak = max(peak, rss_kib(srv.pid))
            time.sleep(0.1)
        for t in writers:
            t.join(5)
        elapsed = time.monotonic() - t0
        assert not failures, failures[:3]
        wait_until(lambda: written_seen() >= events_wanted, timeout=30, interval=0.1,
                   what=f"{events_wanted} written events on the reading client")
        rss_after = rss_kib(srv.pid)
        print(f"stalled-client: {events_wanted} events in {elapsed:.1f} s; RSS {rss_before} KiB -> peak {peak} KiB "
              f"-> {rss_after} KiB")
        assert not live.closed, "the reading client was dropped"
        # the stalled client was dropped: its connection is gone from the server (its descriptor closed)
        # while the client still holds its end open and has read nothing
        wait_until(lambda: fd_count(srv.pid) <= fds_before, timeout=10,
                   what="the server to drop the stalled client's connection (fd count back to its baseline)")
        stalled.settimeout(2)
        try:
            drained = stalled.recv(1 << 20)
        except (socket.timeout, ConnectionResetError):
            drained = b""
        assert drained.startswith(b"HTTP/1.1 200") or drained == b"", drained[:100]
    finally:
        stalled.close()
        live.close()
    assert peak - rss_before < 16 * 1024, f"RSS grew by {(peak - rss_before) // 1024} MiB with a stalled client"
    assert srv.alive() and c.get("/healthz").status == 200


def test_racing_truncation_of_large_raw_dumps_leaves_no_mapping(server_factory, prefix):
    """Raw dumps over 1 MiB are sent from a mapping of the object. A truncation racing them may end a
    dump early (the connection closes) but never stalls it, kills the server, or sends bytes that
    were not in the object; and each mapping goes with its response."""
    srv = server_factory(token=TOKEN)
    c = srv.client()
    name = prefix + "rt"
    size = 8 * MiB
    c.create(name, size)
    path = shm_path(name)
    with open(path, "r+b") as f:
        f.write(b"\x5a" * size)
    stop_flag = threading.Event()
    flips = [0]

    def truncator():
        deadline = time.monotonic() + 4
        while not stop_flag.is_set() and time.monotonic() < deadline:
            os.truncate(path, 3 * MiB)
            time.sleep(0.003)
            os.truncate(path, size)
            time.sleep(0.003)
            flips[0] += 1

    outcomes = {"complete": 0, "short": 0, "416": 0}
    failures = []
    t = threading.Thread(target=truncator, daemon=True)
    t.start()
    deadline = time.monotonic() + 3
    tries = 0
    try:
        while time.monotonic() < deadline and tries < 300:
            tries += 1
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            try:
                conn.request("GET", sec(name, "data") + "?format=raw",
                             headers={"Authorization": f"Bearer {srv.admin_token}"})
                resp = conn.getresponse()
                try:
                    body = resp.read()
                except http.client.IncompleteRead as e:
                    body, short = e.partial, True
                else:
                    short = False
                if resp.status == 416:
                    outcomes["416"] += 1
                    continue
                if resp.status != 200:
                    failures.append(f"status {resp.status}: {body[:200]!r}")
                    continue
                # Bytes past 3 MiB may read as zeros (cut off and grown back); none is anything else.
                if body[:3 * MiB].strip(b"\x5a") or body[3 * MiB:].strip(b"\x5a\x00"):
                    failures.append(f"foreign bytes in a dump of {len(body)} bytes")
                outcomes["short" if short else "complete"] += 1
            except (socket.timeout, TimeoutError) as e:
                failures.append(f"a dump stalled: {e!r}")
            except (http.client.HTTPException, OSError):
                outcomes["short"] += 1
            finally:
                conn.close()
    finally:
        stop_flag.set()
        t.join(5)
    assert flips[0] > 10 and tries > 5, (flips[0], tries)
    assert not failures, f"{failures[:5]} ({outcomes})"
    assert outcomes["complete"] > 0, outcomes
    assert srv.alive(), srv.diagnostics()
    assert c.get("/healthz").status == 200

    def mapped() -> bool:
        with open(f"/proc/{srv.pid}/maps") as maps:
            return any(line.rstrip().endswith(path) or path + " (deleted)" in line for line in maps)

    wait_until(lambda: not mapped(), timeout=5, what="the dumps' mappings of the object to be gone")
