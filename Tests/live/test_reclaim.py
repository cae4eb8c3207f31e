"""Reclaim with quarantine (API-HOST.md "Reclaim"), each fault made for real: a server of its own on
a small tmpfs (--shm-dir) and its own state directory; objects written and checked byte for byte
(sha256) before and after; a python peer that opens objects by name while a reclaim runs; kill -9
of the server in the middle of a reclaim storm, then a restart on the same state and shm directories.

Every reclaim names the test's own mount (or, for System V, excludes every key but the test's), so
nothing outside the test is touched. Servers are stopped, children killed, segments removed and
tmpfs unmounted after each test whatever happens."""

from __future__ import annotations

import hashlib
import json
import os
import random
import select
import subprocess
import sys
import threading
import time

import pytest

from support.client import assert_problem, sec
from support.common import MiB, wait_until
from support.host import sysv_exists
from support.sse import EventStream

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")

QDIR = ".shm-admin-quarantine"


def device_of(path) -> str:
    st = os.stat(path)
    return f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(directory, name, size, seed=None) -> str:
    """Writes `size` pseudo-random bytes as `name`; returns their sha256."""
    data = random.Random(seed if seed is not None else name).randbytes(size)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)
    return sha(data)


def sha_of(path):
    try:
        with open(path, "rb") as f:
            return sha(f.read())
    except FileNotFoundError:
        return None


def reclaim(client, expect=200, **body):
    body.setdefault("olderThan", "0s")
    body.setdefault("mounts", ["host"])
    r = client.post("/api/v1/reclaim", json=body, timeout=60)
    assert r.status == expect, r.describe()
    return r.json


def quarantine(client):
    r = client.get("/api/v1/quarantine")
    assert r.status == 200, r.describe()
    return r.json["items"]


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


@pytest.fixture
def rserver(private_tmpfs, server_factory):
    """start(*args, state_dir=None) -> server on the test's own 8 MiB tmpfs (its servers stop before the
    tmpfs is unmounted)."""

    def start(*args, state_dir=None):
        return server_factory(args=["--shm-dir", str(private_tmpfs), *args], state_dir=state_dir)

    return start


def test_a_dry_run_changes_nothing(rserver, private_tmpfs):
    srv = rserver()
    admin = srv.client()
    shas = {n: put(private_tmpfs, n, 20000) for n in ["leak-a", "leak-b", "leak-c"]}
    put(private_tmpfs, "sem.lock", 32)
    before = {n: os.stat(private_tmpfs / n) for n in os.listdir(private_tmpfs)}
    report = reclaim(admin)  # dryRun defaults to true
    assert report["dryRun"] is True and report["reclaimed"] == [] and report["reclaimedBytes"] == 0
    assert sorted(c["name"] for c in report["candidates"]) == sorted(shas)
    mount = device_of(private_tmpfs)
    for c in report["candidates"]:
        assert c["kind"] == "shm" and c["mount"] == mount and c["bytes"] >= 20000
        assert c["href"] == "/api/v1/sections/" + c["name"] and c["idleSeconds"] >= 0
        assert c["evidence"] == {"holders": 0, "mappers": 0, "lockHolders": 0, "nattch": None}
    after = {n: os.stat(private_tmpfs / n) for n in os.listdir(private_tmpfs)}
    assert set(after) == set(before), "a dry run made or removed entries"
    for n, st in before.items():
        assert (after[n].st_ino, after[n].st_mtime_ns, after[n].st_ctime_ns) == (st.st_ino, st.st_mtime_ns,
                                                                                st.st_ctime_ns)
    assert all(sha_of(private_tmpfs / n) == s for n, s in shas.items())
    assert quarantine(admin) == []
    # A grace the objects have not reached: no candidates.
    assert reclaim(admin, olderThan="1h")["candidates"] == []


def test_quarantine_keeps_the_bytes_and_restore_puts_them_back(rserver, private_tmpfs):
    srv = rserver()
    admin = srv.client()
    events = EventStream(srv.port, srv.admin_token)
    try:
        events.wait_comment(": connected")
        digest = put(private_tmpfs, "orders", 300_000)
        inode = os.stat(private_tmpfs / "orders").st_ino
        dump_before = admin.get(sec("orders", "data"), query={"format": "hexdump"})
        assert dump_before.status == 200, dump_before.describe()

        report = reclaim(admin, dryRun=False)
        [done] = report["reclaimed"]
        qid = done["quarantine"]
        assert done["name"] == "orders" and len(qid) == 16 and report["reclaimedBytes"] == done["bytes"]
        assert not (private_tmpfs / "orders").exists()
        assert sha_of(private_tmpfs / QDIR / qid) == digest, "quarantine is byte-exact"
        # In no list or count but the quarantine's.
        names = [s["name"] for s in admin.get("/api/v1/sections").json["sections"]]
        assert "orders" not in names and QDIR not in names
        inventory = admin.get("/api/v1/inventory", query={"mount": "host"}).json
        assert all(o["name"] not in ("orders", QDIR, qid) for o in inventory["objects"])
        [item] = quarantine(admin)
        assert item["id"] == qid and item["name"] == "orders" and item["kind"] == "shm"
        assert item["mount"] == device_of(private_tmpfs) and item["bytes"] == done["bytes"]
        ev = events.wait_event(lambda e: e["event"] == "quarantined", what="quarantined event")["json"]
        assert ev["section"] == "orders" and ev["quarantine"] == qid and ev["bytes"] == done["bytes"]
        assert ev["kind"] == "shm" and ev["mount"] == item["mount"]

        text = admin.get("/metrics").text
        assert metric(text, "shm_admin_reclaimed_objects_total") == 1
        assert metric(text, "shm_admin_reclaimed_bytes_total") == done["bytes"]
        assert metric(text, f'shm_admin_quarantine_bytes{{mount="{item["mount"]}"}}') == done["bytes"]

        r = admin.post(f"/api/v1/quarantine/{qid}/restore")
        assert r.status == 200, r.describe()
        assert r.json["name"] == "orders" and r.json["state"] == "ok" and "mapperList" in r.json
        assert sha_of(private_tmpfs / "orders") == digest
        assert os.stat(private_tmpfs / "orders").st_ino == inode
        dump_after = admin.get(sec("orders", "data"), query={"format": "hexdump"})
        assert dump_after.body == dump_before.body, "the hexdump differs after the restore"
        assert quarantine(admin) == [] and os.listdir(private_tmpfs / QDIR) == []
        ev = events.wait_event(lambda e: e["event"] == "restored", what="restored event")["json"]
        assert ev["section"] == "orders" and ev["quarantine"] == qid
        text = admin.get("/metrics").text
        assert metric(text, f'shm_admin_quarantine_bytes{{mount="{item["mount"]}"}}') == 0
        assert_problem(admin.post(f"/api/v1/quarantine/{qid}/restore"), 404)
    finally:
        events.close()


def test_a_restore_onto_a_taken_name_is_409_and_purge_removes_it(rserver, private_tmpfs):
    srv = rserver()
    admin = srv.client()
    events = EventStream(srv.port, srv.admin_token)
    try:
        events.wait_comment(": connected")
        digest = put(private_tmpfs, "cache", 10_000)
        [done] = reclaim(admin, dryRun=False)["reclaimed"]
        qid = done["quarantine"]
        newer = put(private_tmpfs, "cache", 100, seed="newer")
        p = assert_problem(admin.post(f"/api/v1/quarantine/{qid}/restore"), 409, "name-taken")
        assert p["name"] == "cache"
        assert sha_of(private_tmpfs / "cache") == newer and sha_of(private_tmpfs / QDIR / qid) == digest
        assert [i["id"] for i in quarantine(admin)] == [qid]
        r = admin.delete(f"/api/v1/quarantine/{qid}")
        assert r.status == 204, r.describe()
        assert quarantine(admin) == [] and not (private_tmpfs / QDIR / qid).exists()
        assert sha_of(private_tmpfs / "cache") == newer
        ev = events.wait_event(lambda e: e["event"] == "purged", what="purged event")["json"]
        assert ev["section"] == "cache" and ev["quarantine"] == qid
        assert_problem(admin.delete(f"/api/v1/quarantine/{qid}"), 404)
        assert_problem(srv.client(token=None).delete(f"/api/v1/quarantine/{qid}"), 401)
    finally:
        events.close()


def test_purge_frees_the_space(rserver, private_tmpfs):
    admin = rserver().client()
    put(private_tmpfs, "big", 4 * MiB)

    def used():
        st = os.statvfs(private_tmpfs)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    before = used()
    [done] = reclaim(admin, dryRun=False)["reclaimed"]
    assert used() >= before - 64 * 1024, "quarantine keeps the memory until the purge"
    r = admin.delete(f"/api/v1/quarantine/{done['quarantine']}")
    assert r.status == 204, r.describe()
    assert used() <= before - 4 * MiB + 64 * 1024, "the purge freed the tmpfs pages"


def test_delete_mode_purges_at_once(rserver, private_tmpfs):
    admin = rserver().client()
    put(private_tmpfs, "scratch", 1 * MiB)
    report = reclaim(admin, dryRun=False, mode="delete")
    [done] = report["reclaimed"]
    assert done["quarantine"] is None and not (private_tmpfs / "scratch").exists()
    assert quarantine(admin) == [] and os.listdir(private_tmpfs / QDIR) == []


def test_the_ttl_purges_from_a_timer(rserver, private_tmpfs):
    srv = rserver("--quarantine-ttl", "1s")
    admin = srv.client()
    put(private_tmpfs, "short-lived", 8192)
    [done] = reclaim(admin, dryRun=False)["reclaimed"]
    [item] = quarantine(admin)
    assert item["id"] == done["quarantine"]
    wait_until(lambda: quarantine(admin) == [] and os.listdir(private_tmpfs / QDIR) == [], timeout=10,
               what="the TTL purge")


def test_exclude_globs_and_semaphores_are_never_touched(rserver, private_tmpfs):
    admin = rserver().client()
    keep = put(private_tmpfs, "keep-1", 4096)
    put(private_tmpfs, "drop-1", 4096)
    semaphore = put(private_tmpfs, "sem.counter", 32)
    report = reclaim(admin, dryRun=False, exclude=["keep-*"])
    assert [c["name"] for c in report["reclaimed"]] == ["drop-1"]
    assert report["skipped"] == [{"href": "/api/v1/sections/keep-1", "reason": "excluded", "detail": None,
                                  "quarantine": None}]
    assert all(c["name"] != "sem.counter" for c in report["candidates"])
    assert sha_of(private_tmpfs / "keep-1") == keep and sha_of(private_tmpfs / "sem.counter") == semaphore
    assert_problem(admin.post("/api/v1/reclaim", json={"kinds": ["semaphore"]}), 422)
    assert_problem(admin.post("/api/v1/reclaim", json={"mode": "shred"}), 422)
    assert_problem(admin.post("/api/v1/reclaim", json={"olderThan": "soon"}), 422)
    assert_problem(admin.post("/api/v1/reclaim", json={"bogus": 1}), 400)
    assert_problem(admin.post("/api/v1/reclaim", json={"mounts": ["nowhere"]}), 400)


def only_key(key: int) -> list[str]:
    """Globs that exclude every System V key but `key` (reclaim never touches others' segments)."""
    text = f"0x{key:08x}"
    return [text[:i] + f"[!{text[i]}]*" for i in range(2, len(text))]


@pytest.mark.skipif(not os.path.exists("/proc/sysvipc/shm"), reason="no System V IPC")
def test_system_v_only_when_named_and_never_while_attached(rserver, host_children, sysv_segments):
    admin = rserver().client()
    base = 0x5EC00000 + (os.getpid() % 0x7FFF) * 2
    idle = sysv_segments(64 * 1024, key=base)
    attached = sysv_segments(64 * 1024, key=base + 1)
    host_children("sysv", attached)
    wait_until(lambda: any(o["shmid"] == attached and o["nattch"] == 1 for o in
                           admin.get("/api/v1/inventory", query={"kind": "sysv", "limit": "100000"}).json["objects"]),
               timeout=5, what="the attached segment")
    # Not named in kinds: System V is never a candidate.
    assert all(c["kind"] == "shm" for c in reclaim(admin, exclude=only_key(base))["candidates"])
    for key, shmid in ((base + 1, attached), (base, idle)):
        report = reclaim(admin, dryRun=False, kinds=["sysv"], exclude=only_key(key))
        names = [c["name"] for c in report["reclaimed"]]
        if shmid == attached:
            assert names == [] and all(c["name"] != f"0x{key:08x}" for c in report["candidates"])
            assert sysv_exists(attached), "an attached segment was removed"
        else:
            [done] = report["reclaimed"]
            assert done["name"] == f"0x{key:08x}" and done["kind"] == "sysv" and done["mount"] is None
            assert done["evidence"]["nattch"] == 0 and done["quarantine"] is None
            assert not sysv_exists(idle), "the idle segment is still there"
    assert quarantine(admin) == [], "System V is never quarantined"


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_pids_in_names_are_never_evidence(rserver, private_tmpfs):
    admin = rserver().client()
    alive = os.getpid()
    gone = dead_pid()
    unprotected = f"worker.{alive}"
    held = f"worker.{gone}"
    put(private_tmpfs, unprotected, 4096)
    digest = put(private_tmpfs, held, 8192)
    holder = subprocess.Popen([sys.executable, "-c", MAP_AND_WAIT, str(private_tmpfs / held)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "mapped"
        report = reclaim(admin, dryRun=False)
        assert [c["name"] for c in report["reclaimed"]] == [unprotected], \
            "a live pid in a name protected the object, or a dead pid exposed a mapped one"
        assert sha_of(private_tmpfs / held) == digest
    finally:
        holder.kill()
        holder.wait()


UNSHARE_TMPFS = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount -t tmpfs -o size=64m tmpfs /dev/shm && exec "$@"', "sh"]

MAP_AND_WAIT = r'''
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, os.fstat(fd).st_size)
os.close(fd)
print("mapped", flush=True)
sys.stdin.readline()
'''


def test_another_mount_namespace_is_reclaimed_and_restored(rserver, host_children, prefix):
    admin = rserver().client()
    child = host_children("mount", prefix + "obj", 1 * MiB, wrap=UNSHARE_TMPFS)
    device = child.info["device"]
    root = f"/proc/{child.pid}/root/dev/shm"
    digest = put(root, prefix + "leak", 50_000)
    wait_until(lambda: prefix + "leak" in [s["name"] for s in
                                          admin.get(f"/api/v1/mounts/{device}/sections").json.get("sections", [])],
               timeout=5, what="the leak on the namespace's mount")
    report = reclaim(admin, dryRun=False, mounts=[device], exclude=["*-sparse"])
    [done] = report["reclaimed"]
    assert done["name"] == prefix + "leak" and done["mount"] == device
    assert done["href"] == f"/api/v1/mounts/{device}/sections/{prefix}leak"
    assert prefix + "obj" not in [c["name"] for c in report["candidates"]], "a mapped object was a candidate"
    assert sha_of(f"{root}/{QDIR}/{done['quarantine']}") == digest
    r = admin.post(f"/api/v1/quarantine/{done['quarantine']}/restore")
    assert r.status == 200, r.describe()
    assert r.json["name"] == prefix + "leak" and r.json["mount"] == device and "holderList" in r.json
    assert sha_of(f"{root}/{prefix}leak") == digest


# The peer of the race: told a round's names and their sha256, it waits a random moment, then keeps
# opening them by name (never creating) until told to stop, mapping each one it gets and checking
# its bytes; it keeps every one it opened until it has answered which (and their inodes).
RACE_PEER = r'''
import hashlib, json, mmap, os, random, select, sys, time
def readline():
    # Byte by byte from fd 0: sys.stdin's buffer could swallow the "stop" line with the round's,
    # and select() on the descriptor would then wait for it forever.
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            break
        line += byte
    return line.decode()
while True:
    line = readline()
    if not line:
        break
    round = json.loads(line)
    time.sleep(round["delay"])
    held, bad, keep = {}, [], []
    wanted = list(round["names"])
    random.shuffle(wanted)
    while True:
        for name in wanted:
            if name in held:
                continue
            try:
                fd = os.open(os.path.join(round["dir"], name), os.O_RDWR)
            except FileNotFoundError:
                continue
            m = mmap.mmap(fd, os.fstat(fd).st_size)
            if hashlib.sha256(m[:]).hexdigest() != round["sha"][name]:
                bad.append(name)
            held[name] = os.fstat(fd).st_ino
            keep.append((fd, m))
        if select.select([0], [], [], 0.001)[0]:
            readline()
            break
    print(json.dumps({"held": held, "bad": bad}), flush=True)
    readline()
    for fd, m in keep:
        m.close()
        os.close(fd)
    print("released", flush=True)
'''


def test_a_process_that_opens_an_object_by_name_during_reclaim_keeps_it(rserver, private_tmpfs):
    """Rounds of 20 objects each, bounded to 2,000 objects or 60 s: the peer opens a random half of
    them by name at a random moment of the reclaim. Every object it opened must still be under its
    name, the same inode, its bytes intact; every other one is under its name or in quarantine."""
    admin = rserver().client()
    peer = subprocess.Popen([sys.executable, "-c", RACE_PEER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    rng = random.Random(1234)
    raced = reopened = kept = 0
    last = 0.3  # how long the last reclaim took: the peer starts at a random moment of the next
    deadline = time.monotonic() + 60
    try:
        for round_number in range(100):
            if time.monotonic() > deadline and round_number >= 10:
                break
            names = [f"r{round_number}-{i}" for i in range(20)]
            shas = {n: put(private_tmpfs, n, 8192, seed=f"{round_number}-{n}") for n in names}
            targets = [n for n in names if rng.random() < 0.5]
            peer.stdin.write(json.dumps({"dir": str(private_tmpfs), "names": targets,
                                         "sha": {n: shas[n] for n in targets},
                                         "delay": rng.uniform(0, 1.2 * last)}) + "\n")
            peer.stdin.flush()
            started = time.monotonic()
            report = reclaim(admin, dryRun=False)
            last = time.monotonic() - started
            peer.stdin.write("stop\n")
            peer.stdin.flush()
            ready, _, _ = select.select([peer.stdout], [], [], 30)
            assert ready, "the peer did not answer"
            answer = json.loads(peer.stdout.readline())
            assert answer["bad"] == [], f"the peer read wrong bytes from {answer['bad']}"
            reclaimed = {c["name"] for c in report["reclaimed"]}
            items = {i["name"]: i for i in quarantine(admin)}
            for name, inode in answer["held"].items():
                assert name not in reclaimed and name not in items, f"{name} was taken from the peer"
                st = os.stat(private_tmpfs / name)
                assert st.st_ino == inode, f"{name}: the peer's object is no longer under its name"
                assert sha_of(private_tmpfs / name) == shas[name]
            for name in names:
                where = [private_tmpfs / name] if name not in items else [private_tmpfs / QDIR / items[name]["id"]]
                assert sha_of(where[0]) == shas[name], f"{name} lost"
            raced += len(answer["held"])
            reopened += sum(1 for s in report["skipped"] if s["reason"] == "reopened")
            kept += len(reclaimed)
            peer.stdin.write("release\n")
            peer.stdin.flush()
            assert peer.stdout.readline().strip() == "released"
            for item in items.values():
                assert admin.delete(f"/api/v1/quarantine/{item['id']}").status == 204
            for name in names:
                if (private_tmpfs / name).exists():
                    os.unlink(private_tmpfs / name)
        assert kept > 0 and raced > 0, (kept, raced)
        print(f"race: {round_number + 1} rounds, {raced} opened by the peer, {reopened} reopened, {kept} reclaimed")
    finally:
        peer.kill()
        peer.wait()


def test_kill_9_during_a_reclaim_storm_loses_nothing(rserver, private_tmpfs, tmp_path):
    """Round 0 reclaims 150 objects to the end (and times it); then six rounds of 60 new objects, a
    reclaim, kill -9 of the server at a moment spread over that reclaim's expected length (early,
    mid-move, during the final check, after the end), and a restart on the same state and shm
    directories. After each restart every object ever made is under its name or in quarantine (as
    GET /api/v1/quarantine says), never both, its bytes intact, and nothing else is there."""
    state = tmp_path / "storm-state"
    rng = random.Random(99)
    shas: dict[str, str] = {}
    srv = rserver(state_dir=state)
    body = {"dryRun": False, "olderThan": "0s", "mounts": ["host"]}

    def make(round_number, count):
        for i in range(count):
            name = f"s{round_number}-{i}"
            shas[name] = put(private_tmpfs, name, rng.randrange(4096, 12288), seed=name)

    def check(label):
        admin = srv.client()
        items = quarantine(admin)
        by_name = {i["name"]: i for i in items}
        assert len(by_name) == len(items), "an object is in quarantine twice"
        files = set(os.listdir(private_tmpfs / QDIR)) if (private_tmpfs / QDIR).exists() else set()
        assert files == {i["id"] for i in items}, \
            "a file in quarantine without its record, or a record without its file"
        present = set(os.listdir(private_tmpfs)) - {QDIR}
        assert present <= set(shas), f"unexpected entries: {present - set(shas)}"
        for name, digest in shas.items():
            under_name = sha_of(private_tmpfs / name)
            in_quarantine = sha_of(private_tmpfs / QDIR / by_name[name]["id"]) if name in by_name else None
            assert (under_name is None) != (in_quarantine is None), f"{name}: under its name and in quarantine, or lost"
            assert (under_name or in_quarantine) == digest, f"{name}: bytes changed"
        print(f"{label}: {len(items)} in quarantine, {len(present)} under their names")
        return len(present)

    make(0, 150)
    started = time.monotonic()
    report = reclaim(srv.client(), **body)
    per_object = (time.monotonic() - started) / max(1, len(report["reclaimed"]))
    assert len(report["reclaimed"]) == 150
    check("round 0 (not killed)")
    for round_number, fraction in enumerate([0.1, 0.3, 0.5, 0.65, 0.8, 1.0], start=1):
        make(round_number, 60)
        expected = per_object * (len(set(os.listdir(private_tmpfs)) - {QDIR}))
        delay = fraction * expected
        admin = srv.client()
        outcome = {}

        def run():
            try:
                outcome["status"] = admin.post("/api/v1/reclaim", json=body, timeout=60).status
            except Exception as e:  # the server is killed under it
                outcome["error"] = type(e).__name__

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        time.sleep(delay)
        srv.kill9()
        worker.join(30)
        srv = rserver(state_dir=state)
        check(f"round {round_number}: killed after {delay:.2f}s of ~{expected:.2f}s ({outcome})")
