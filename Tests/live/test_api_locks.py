"""Live tests: the section lock against python3 `fcntl.lockf` in another process, leases and
their TTL, `?lock=true` on dumps and writes, and lock holders read from /proc/locks."""

import errno
import re
import time

import pytest

from support.client import assert_problem, sec
from support.common import wait_until
from support.shm import read_object

LOCK_FAILED = {errno.EAGAIN, errno.EACCES}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def take(admin, name, **body):
    r = admin.post(sec(name, "lock"), json=body)
    assert r.status == 201, r.describe()
    j = r.json
    assert isinstance(j["lease"], str) and j["lease"], j
    assert RFC3339.match(j["expiresAt"]), j
    return j


def test_lock_exclusive_blocks_python_until_released(admin, prefix, peers):
    name = prefix + "lk"
    admin.create(name, "64KiB")
    lease = take(admin, name, mode="exclusive", ttlMs=20000)
    assert lease["mode"] == "exclusive"
    p = peers()
    r = p.try_lock(name)
    assert r["ok"] is False and r["errno"] in LOCK_FAILED, r
    r = p.try_lock(name, mode="shared")
    assert r["ok"] is False and r["errno"] in LOCK_FAILED, r
    d = admin.detail(name)
    assert [x["lease"] for x in d["leases"]] == [lease["lease"]]
    rel = admin.delete(sec(name, "lock", lease["lease"]))
    assert rel.status == 204 and rel.body == b"", rel.describe()
    got = wait_until(lambda: p.try_lock(name)["ok"], timeout=2, interval=0.05, what="python lock after release")
    assert got is True
    p.unlock(name)
    assert admin.detail(name)["leases"] == []
    assert_problem(admin.delete(sec(name, "lock", lease["lease"])), 404, "lease-not-found")


def test_lock_shared_lets_python_share(admin, prefix, peers):
    name = prefix + "lks"
    admin.create(name, "64KiB")
    a = take(admin, name, mode="shared", ttlMs=20000)
    b = take(admin, name, mode="shared", ttlMs=20000)
    assert a["lease"] != b["lease"]
    p = peers()
    r = p.try_lock(name, mode="exclusive")
    assert r["ok"] is False and r["errno"] in LOCK_FAILED, r
    assert p.try_lock(name, mode="shared")["ok"] is True
    # a shared python lock does not stop a shared lease, but stops an exclusive one
    take(admin, name, mode="shared", ttlMs=20000)
    r = admin.post(sec(name, "lock"), json={"mode": "exclusive", "timeoutMs": 100})
    assert_problem(r, 423, "lock-timeout")
    p.unlock(name)


def test_python_lock_makes_lease_423(admin, prefix, peers):
    name = prefix + "l423"
    admin.create(name, "64KiB")
    p = peers()
    assert p.try_lock(name)["ok"] is True
    t0 = time.monotonic()
    r = admin.post(sec(name, "lock"), json={"mode": "exclusive", "timeoutMs": 200})
    elapsed = time.monotonic() - t0
    body = assert_problem(r, 423, "lock-timeout")
    assert elapsed >= 0.15, f"answered after {elapsed:.3f}s, before the 200 ms timeout"
    assert elapsed < 5
    assert any(h.get("pid") == p.pid for h in body.get("holders", [])), body
    r = admin.post(sec(name, "lock"), json={"mode": "shared", "timeoutMs": 0})
    assert_problem(r, 423, "lock-timeout")
    assert admin.detail(name)["leases"] == []
    p.unlock(name)
    take(admin, name, mode="exclusive", timeoutMs=200)


def test_lock_waits_within_timeout(admin, prefix, peers):
    """A lock freed while the server waits is taken before the timeout."""
    name = prefix + "lw"
    admin.create(name, "64KiB")
    short = take(admin, name, mode="exclusive", ttlMs=300)
    t0 = time.monotonic()
    r = admin.post(sec(name, "lock"), json={"mode": "exclusive", "timeoutMs": 3000, "ttlMs": 5000})
    elapsed = time.monotonic() - t0
    assert r.status == 201, r.describe()
    assert r.json["lease"] != short["lease"]
    assert 0.1 <= elapsed < 3.0, elapsed


def test_lock_waits_hold_no_worker(server_factory, prefix):
    """With one worker thread, clients waiting for a lock do not stop the server answering others;
    a release hands the lock to a waiter, and the one left waiting gets its 423 at its timeout."""
    import threading
    srv = server_factory(token="c" * 24 + "0123456789abcdef", args=["--threads", "1"])
    c = srv.client()
    name = prefix + "nw"
    c.create(name, "64KiB")
    held = take(c, name, mode="exclusive", ttlMs=20000)
    results = {}

    def wait(key):
        t0 = time.monotonic()
        r = srv.client().post(sec(name, "lock"), json={"mode": "exclusive", "timeoutMs": 3000, "ttlMs": 5000})
        results[key] = (r.status, time.monotonic() - t0)

    waiters = [threading.Thread(target=wait, args=(k,)) for k in ("a", "b")]
    for t in waiters:
        t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    assert c.get("/healthz").status == 200
    assert c.get(sec(name)).status == 200
    assert time.monotonic() - t0 < 1.0, "the waiters held the only worker"
    assert results == {}, results
    assert c.delete(sec(name, "lock", held["lease"])).status == 204
    for t in waiters:
        t.join(timeout=15)
    assert not any(t.is_alive() for t in waiters)
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [201, 423], results
    late = [elapsed for status, elapsed in results.values() if status == 423][0]
    assert 2.9 <= late < 5.0, results


def test_locked_dumps_and_writes_hold_no_worker(server_factory, prefix, peers):
    """With one worker thread, a dump and a write waiting for a lock another process holds do not stop
    the server answering others; when the holder lets go, both complete."""
    import threading
    srv = server_factory(token="c" * 24 + "0123456789abcdef", args=["--threads", "1"])
    c = srv.client()
    name = prefix + "dw"
    c.create(name, "64KiB")
    c.write(name, 0, b"before")
    p = peers()
    assert p.try_lock(name)["ok"] is True
    results = {}

    def dump():
        q = {"lock": "true", "lockTimeoutMs": 5000, "format": "raw", "length": 6}
        results["dump"] = srv.client().get(sec(name, "data"), query=q)

    def write():
        q = {"offset": 0, "lock": "true", "lockTimeoutMs": 5000}
        results["write"] = srv.client().put(sec(name, "data"), query=q, body=b"after!")

    waiters = [threading.Thread(target=f) for f in (dump, write)]
    for t in waiters:
        t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    assert c.get("/healthz").status == 200
    assert time.monotonic() - t0 < 1.0, "the waiting dump and write held the only worker"
    assert results == {}, results
    p.unlock(name)
    for t in waiters:
        t.join(timeout=15)
    assert not any(t.is_alive() for t in waiters)
    assert results["dump"].status == 200 and results["dump"].body in (b"before", b"after!"), results["dump"].describe()
    assert results["write"].status == 200 and results["write"].json["written"] == 6, results["write"].describe()
    assert read_object(name, 0, 6) == b"after!"


def test_data_with_lock_true_423_while_python_holds(admin, prefix, peers):
    name = prefix + "ld"
    admin.create(name, "64KiB")
    admin.write(name, 0, b"locked data")
    p = peers()
    assert p.try_lock(name)["ok"] is True
    r = admin.get(sec(name, "data"), query={"lock": "true", "lockTimeoutMs": 100, "format": "base64"})
    assert_problem(r, 423, "lock-timeout")
    r = admin.get(sec(name, "data"), query={"lock": "true", "lockTimeoutMs": 100, "format": "raw", "length": 11})
    assert_problem(r, 423, "lock-timeout")
    r = admin.put(sec(name, "data"), query={"offset": 0, "lock": "true", "lockTimeoutMs": 100}, body=b"OVERWRITTEN")
    assert_problem(r, 423, "lock-timeout")
    assert read_object(name, 0, 11) == b"locked data"
    # without lock=true the advisory lock is not consulted
    r = admin.get(sec(name, "data"), query={"length": 11, "format": "raw"})
    assert r.status == 200 and r.body == b"locked data", r.describe()
    p.unlock(name)
    r = admin.get(sec(name, "data"), query={"lock": "true", "lockTimeoutMs": 100, "length": 11, "format": "raw"})
    assert r.status == 200 and r.body == b"locked data", r.describe()
    r = admin.put(sec(name, "data"), query={"offset": 0, "lock": "true"}, body=b"new")
    assert r.status == 200 and r.json["written"] == 3, r.describe()
    assert read_object(name, 0, 3) == b"new"


def test_data_lock_true_shared_with_python_shared(admin, prefix, peers):
    name = prefix + "lsh"
    admin.create(name, "64KiB")
    p = peers()
    assert p.try_lock(name, mode="shared")["ok"] is True
    r = admin.get(sec(name, "data"), query={"lock": "true", "lockTimeoutMs": 100, "length": 4, "format": "raw"})
    assert r.status == 200 and r.body == b"\0" * 4, r.describe()
    r = admin.put(sec(name, "data"), query={"offset": 0, "lock": "true", "lockTimeoutMs": 100}, body=b"x")
    assert_problem(r, 423, "lock-timeout")
    p.unlock(name)


def test_lease_expires_by_ttl(admin, prefix, peers):
    name = prefix + "ttl"
    admin.create(name, "64KiB")
    p = peers()
    lease = take(admin, name, mode="exclusive", ttlMs=300)
    t0 = time.monotonic()
    r = p.try_lock(name)
    if time.monotonic() - t0 < 0.25:
        assert r["ok"] is False, "python got the lock while the lease was live"
    wait_until(lambda: p.try_lock(name)["ok"], timeout=3, interval=0.05, what="lock free after the TTL")
    assert time.monotonic() - t0 >= 0.2
    assert admin.detail(name)["leases"] == []
    p.unlock(name)
    assert_problem(admin.delete(sec(name, "lock", lease["lease"])), 404, "lease-not-found")


def test_lock_holders_show_python_pid(admin, prefix, peers):
    name = prefix + "lh"
    admin.create(name, "64KiB")
    p = peers()
    assert p.try_lock(name)["ok"] is True

    def holders():
        return [h for h in admin.detail(name)["lockHolders"] if h["pid"] == p.pid]

    h = wait_until(holders, timeout=3.5, what="python pid in lockHolders")
    assert len(h) == 1 and (h[0]["mode"], h[0]["type"]) == ("exclusive", "POSIX"), h
    p.unlock(name)
    wait_until(lambda: not holders(), timeout=3.5, what="python pid gone from lockHolders")


@pytest.mark.parametrize("body,status", [
    ({"mode": "both"}, 422), ({"mode": "exclusive", "timeoutMs": -1}, 422),
    ({"mode": "exclusive", "timeoutMs": 60001}, 422), ({"mode": "exclusive", "ttlMs": 0}, 422),
    ({"mode": "exclusive", "ttlMs": 3600001}, 422),
])
def test_lock_invalid_body(admin, prefix, body, status):
    name = prefix + "lb"
    admin.create(name, "64KiB")
    r = admin.post(sec(name, "lock"), json=body)
    assert r.status in (400, 422), r.describe()
    assert_problem(r, r.status)
    assert admin.detail(name)["leases"] == []


def test_lock_unknown_section_and_lease_404(admin, prefix):
    assert_problem(admin.post(sec(prefix + "nolock", "lock"), json={"mode": "exclusive"}), 404,
                   "section-not-found")
    name = prefix + "nl"
    admin.create(name, "64KiB")
    assert_problem(admin.delete(sec(name, "lock", "lnope")), 404, "lease-not-found")
