"""System V segments (API-HOST.md): a segment made with shmget through ctypes and attached by a
child (shmat), seen in the inventory and in its detail with who attaches it. Segments are removed
(IPC_RMID) and children killed after each test, whether it passed or not."""

from __future__ import annotations

import os
import shutil

import pytest

from support.client import assert_problem
from support.common import MiB, wait_until
from support.host import sysv_exists

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/sysvipc/shm"), reason="no System V IPC")


def sysv_object(admin, shmid):
    r = admin.get("/api/v1/inventory", query={"kind": "sysv", "limit": "100000"})
    assert r.status == 200, r.describe()
    return next((o for o in r.json["objects"] if o["shmid"] == shmid), None)


def test_an_attached_segment_is_in_the_inventory_and_its_detail(admin, host_children, sysv_segments):
    shmid = sysv_segments(1 * MiB, key=0x5EED0000 + os.getpid() % 0xFFFF)
    child = host_children("sysv", shmid)
    obj = wait_until(lambda: (o := sysv_object(admin, shmid)) and o["nattch"] == 1 and o, timeout=5,
                     what=f"segment {shmid} attached")
    key = 0x5EED0000 + os.getpid() % 0xFFFF
    assert obj["kind"] == "sysv" and obj["mount"] is None and obj["size"] == 1 * MiB
    assert obj["name"] == f"0x{key:08x}" and obj["key"] == key
    assert obj["mappers"] == 1 and obj["orphan"] is False and obj["holders"] == 0
    assert obj["allocatedBytes"] >= 3 * 4096, "rss: the child touched three pages"
    assert obj["unbackedBytes"] == 1 * MiB - obj["allocatedBytes"]
    assert obj["mode"] == "0600" and obj["uid"] == os.geteuid()
    ipc = int(os.readlink("/proc/self/ns/ipc").split("[")[1].rstrip("]"))
    assert obj["ipc"] == ipc and obj["href"] == f"/api/v1/sysv/{ipc}/{shmid}"

    d = admin.get(obj["href"])
    assert d.status == 200, d.describe()
    assert d.json["shmid"] == shmid and d.json["cpid"] == os.getpid() and d.json["lpid"] == child.pid
    assert d.json["nattch"] == 1 and d.json["attachedAt"] is not None and d.json["detachedAt"] is None
    assert d.json["rssBytes"] >= 3 * 4096 and d.json["swapBytes"] == 0
    [mapper] = d.json["mapperList"]
    assert mapper["pid"] == child.pid and mapper["start"] == hex(child.info["address"])
    assert mapper["rssBytes"] >= 3 * 4096
    assert d.json["holderList"] == [] and d.json["lockHolders"] == []
    assert admin.get(f"/api/v1/sysv/host/{shmid}").json == d.json or \
        admin.get(f"/api/v1/sysv/host/{shmid}").json["shmid"] == shmid

    text = admin.get("/metrics").text
    count = [ln for ln in text.splitlines() if ln.startswith("shm_admin_sysv_segments ")]
    assert count and int(count[0].split()[1]) >= 1
    assert any(ln.startswith("shm_admin_sysv_limit_segments ") for ln in text.splitlines())
    assert 'shm_admin_objects{kind="sysv",mount=""}' in text


def test_a_segment_nobody_attaches_is_an_orphan(admin, host_children, sysv_segments):
    shmid = sysv_segments(64 * 1024)
    child = host_children("sysv", shmid)
    wait_until(lambda: (o := sysv_object(admin, shmid)) and o["nattch"] == 1, timeout=5, what="attached")
    child.kill()
    obj = wait_until(lambda: (o := sysv_object(admin, shmid)) and o["nattch"] == 0 and o, timeout=5,
                     what="detached")
    assert obj["orphan"] is True and obj["mappers"] == 0 and obj["name"] == "0x00000000"
    orphans = admin.get("/api/v1/inventory", query={"kind": "sysv", "orphan": "true", "limit": "100000"})
    assert shmid in [o["shmid"] for o in orphans.json["objects"]]
    assert admin.get(f"/api/v1/sysv/host/{shmid}").json["detachedAt"] is not None


def test_a_removed_segment_is_gone(admin, sysv_segments):
    from support.host import sysv_remove

    shmid = sysv_segments(4096)
    wait_until(lambda: sysv_object(admin, shmid), timeout=5, what="listed")
    sysv_remove(shmid)
    assert not sysv_exists(shmid)
    wait_until(lambda: admin.get(f"/api/v1/sysv/host/{shmid}").status == 404, timeout=5, what="404")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")
def test_a_segment_of_another_ipc_namespace(admin, host_children):
    """`unshare --ipc`: a namespace of its own, as Docker gives each container. Its segment is
    invisible to the server's /proc/sysvipc/shm; the scan reads it from a thread that enters the
    namespace. The namespace, and the segment, go with the child."""
    key = 0x7E570000 + os.getpid() % 0xFFFF
    child = host_children("sysv-own", key, 256 * 1024, wrap=["unshare", "--ipc"])
    ipc, shmid = child.info["ipc"], child.info["shmid"]
    own = int(os.readlink("/proc/self/ns/ipc").split("[")[1].rstrip("]"))
    assert ipc != own
    href = f"/api/v1/sysv/{ipc}/{shmid}"

    def listed():
        r = admin.get("/api/v1/inventory", query={"kind": "sysv", "q": f"0x{key:08x}"})
        return [o for o in r.json["objects"] if o["ipc"] == ipc]

    [obj] = wait_until(listed, timeout=5, what="the other namespace's segment listed")
    assert obj["href"] == href and obj["shmid"] == shmid and obj["nattch"] == 1 and obj["size"] == 256 * 1024
    assert obj["mappers"] == 1 and obj["allocatedBytes"] >= 4096
    d = admin.get(href)
    assert d.status == 200, d.describe()
    assert [m["pid"] for m in d.json["mapperList"]] == [child.pid]
    assert d.json["cpid"] == child.pid
    if shmid not in [int(line.split()[1]) for line in open("/proc/sysvipc/shm").readlines()[1:] if line.split()]:
        assert_problem(admin.get(f"/api/v1/sysv/host/{shmid}"), 404)
    child.kill()
    wait_until(lambda: admin.get(href).status == 404, timeout=5, what="gone with its namespace")


def test_removing_a_segment_is_guarded_by_nattch(admin, host_children, sysv_segments):
    shmid = sysv_segments(64 * 1024)
    child = host_children("sysv", shmid)
    wait_until(lambda: (o := sysv_object(admin, shmid)) and o["nattch"] == 1, timeout=5, what="attached")
    p = assert_problem(admin.delete(f"/api/v1/sysv/host/{shmid}"), 409, "section-mapped")
    assert p["pids"] == [child.pid]
    assert sysv_exists(shmid)
    assert admin.delete(f"/api/v1/sysv/host/{shmid}", query={"force": "true"}).status == 204
    child.kill()
    wait_until(lambda: not sysv_exists(shmid), timeout=5, what="gone once the child detached")
    detached = sysv_segments(4096)
    wait_until(lambda: sysv_object(admin, detached), timeout=5, what="listed")
    assert admin.delete(f"/api/v1/sysv/host/{detached}").status == 204
    assert not sysv_exists(detached)
    assert_problem(admin.delete(f"/api/v1/sysv/host/{detached}"), 404)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")
def test_removing_a_segment_of_another_ipc_namespace(admin, host_children):
    key = 0x7E580000 + os.getpid() % 0xFFFF
    child = host_children("sysv-own", key, 4096, "detach", wrap=["unshare", "--ipc"])
    href = f"/api/v1/sysv/{child.info['ipc']}/{child.info['shmid']}"
    wait_until(lambda: admin.get(href).status == 200, timeout=5, what="listed")
    assert admin.get(href).json["nattch"] == 0
    assert admin.delete(href).status == 204
    assert_problem(admin.get(href), 404)


def test_a_segment_is_dumped_from_a_read_only_attachment(admin, host_children, sysv_segments):
    shmid = sysv_segments(64 * 1024)
    host_children("sysv", shmid)  # fills the first three pages with 0x5A
    wait_until(lambda: (o := sysv_object(admin, shmid)) and o["nattch"] == 1, timeout=5, what="attached")
    raw = admin.get(f"/api/v1/sysv/host/{shmid}/data", query={"format": "raw", "offset": "12280", "length": "16"})
    assert raw.status == 200 and raw.body == b"\x5a" * 8 + bytes(8)
    assert admin.get(f"/api/v1/sysv/host/{shmid}").json["nattch"] == 1, "the server's attachment is gone again"
    hexed = admin.get(f"/api/v1/sysv/host/{shmid}/data", query={"length": "4"})
    assert hexed.status == 200 and hexed.json["rows"][0]["hex"] == "5a 5a 5a 5a"
    assert_problem(admin.get(f"/api/v1/sysv/host/{shmid}/data", query={"offset": "65537"}), 416)


@pytest.mark.parametrize("path, status", [
    ("/api/v1/sysv/host/999999999", 404), ("/api/v1/sysv/1/0", 404), ("/api/v1/sysv/nonsense/1", 400),
    ("/api/v1/sysv/host/-1", 400), ("/api/v1/sysv/host/x", 400),
])
def test_unknown_and_malformed_segments(admin, path, status):
    assert_problem(admin.get(path), status)
