"""memfd and unlinked objects (API-HOST.md): memory no `ls` shows, held by children — a
memfd_create object with its fd kept, an object unlinked while mapped (it survives only as a
mapping) and one unlinked while its fd is kept. Identified by device and inode, never by name.
Children are killed after each test, which frees the objects."""

from __future__ import annotations

import pytest

from support.client import assert_problem
from support.common import wait_until


def inventory(admin, kind, q):
    r = admin.get("/api/v1/inventory", query={"kind": kind, "q": q, "limit": "100000"})
    assert r.status == 200, r.describe()
    return r.json["objects"]


def href(info):
    major, minor = info["device"].split(":")
    return f"/api/v1/unlinked/{major}-{minor}:{info['inode']}"


def test_a_memfd_held_by_a_child(admin, host_children, prefix):
    child = host_children("memfd", prefix + "mfd")
    [obj] = wait_until(lambda: inventory(admin, "memfd", prefix + "mfd"), timeout=5, what="memfd listed")
    assert obj["kind"] == "memfd" and obj["name"] == prefix + "mfd"
    assert obj["mount"] is None and obj["path"] is None
    assert obj["href"] == href(child.info)
    assert obj["size"] == 3 * 4096 and obj["allocatedBytes"] == 4096 and obj["unbackedBytes"] == 2 * 4096
    assert obj["holders"] == 1 and obj["mappers"] == 0 and obj["orphan"] is False
    d = admin.get(obj["href"])
    assert d.status == 200, d.describe()
    assert d.json["holderList"] == [{"pid": child.pid, "command": "python3", "fd": child.info["fd"]}]
    assert d.json["mapperList"] == []
    inv = admin.get("/api/v1/inventory", query={"q": prefix})
    assert inv.json["byKind"]["memfd"]["count"] == 1 and inv.json["byKind"]["memfd"]["bytes"] == 4096
    assert 'shm_admin_objects{kind="memfd",mount=""}' in admin.get("/metrics").text
    child.kill()
    wait_until(lambda: admin.get(obj["href"]).status == 404, timeout=5, what="404 once nobody keeps it")
    assert_problem(admin.get(obj["href"]), 404)


def test_an_object_unlinked_while_mapped_lives_on_as_a_mapping(admin, host_children, prefix):
    child = host_children("unlinked", prefix + "unl")
    [obj] = wait_until(lambda: inventory(admin, "unlinked", prefix + "unl"), timeout=5, what="unlinked listed")
    assert obj["kind"] == "unlinked" and obj["name"] == prefix + "unl"
    assert obj["path"] == f"/dev/shm/{prefix}unl" and obj["mount"] == child.info["device"]
    assert obj["href"] == href(child.info)
    assert obj["size"] == 2 * 4096 and obj["allocatedBytes"] == 4096, "stat through /proc/PID/map_files"
    assert obj["mappers"] == 1 and obj["holders"] == 0 and obj["orphan"] is False
    d = admin.get(obj["href"])
    assert d.status == 200, d.describe()
    [mapper] = d.json["mapperList"]
    assert mapper["pid"] == child.pid and mapper["access"] == "rw" and mapper["rssBytes"] == 4096
    assert d.json["holderList"] == []
    inv = admin.get("/api/v1/inventory", query={"q": prefix + "unl"})
    assert inv.json["byMount"][child.info["device"]] == {"count": 1, "bytes": 4096}
    assert prefix + "unl" not in [s["name"] for s in admin.get("/api/v1/sections", query={"q": prefix}).json["sections"]]


def test_an_object_unlinked_with_its_fd_kept(admin, host_children, prefix):
    child = host_children("unlinked-held", prefix + "held")
    [obj] = wait_until(lambda: inventory(admin, "unlinked", prefix + "held"), timeout=5, what="listed")
    assert obj["holders"] == 1 and obj["mappers"] == 0 and obj["size"] == 2 * 4096
    d = admin.get(obj["href"])
    assert [(h["pid"], h["fd"]) for h in d.json["holderList"]] == [(child.pid, child.info["fd"])]


@pytest.mark.parametrize("path, status", [
    ("/api/v1/unlinked/0-1:999999999999", 404), ("/api/v1/unlinked/0:1:5", 400), ("/api/v1/unlinked/x", 400),
    ("/api/v1/unlinked/0-1", 400),
])
def test_unknown_and_malformed_objects(admin, path, status):
    assert_problem(admin.get(path), status)


def test_dumps_of_memfd_and_unlinked_objects(admin, anon, host_children, prefix):
    memfd = host_children("memfd", prefix + "mfd")
    unlinked = host_children("unlinked", prefix + "unl")
    [m] = wait_until(lambda: inventory(admin, "memfd", prefix + "mfd"), timeout=5, what="memfd listed")
    [u] = wait_until(lambda: inventory(admin, "unlinked", prefix + "unl"), timeout=5, what="unlinked listed")
    raw = admin.get(m["href"] + "/data", query={"format": "raw"})
    assert raw.status == 200 and raw.body == b"memfd-bytes" + bytes(3 * 4096 - 11)
    part = admin.get(u["href"] + "/data", query={"format": "raw", "length": "6"})
    assert part.body == b"mapped", "read through /proc/PID/map_files: the child has no descriptor"
    hexed = admin.get(u["href"] + "/data", query={"length": "6"})
    assert hexed.status == 200 and hexed.json["rows"][0]["hex"] == "6d 61 70 70 65 64"
    ranged = admin.get(m["href"] + "/data", query={"format": "raw"}, headers={"Range": "bytes=0-4"})
    assert ranged.status == 206 and ranged.body == b"memfd" and ranged.header("Content-Range") == "bytes 0-4/12288"
    assert_problem(admin.get(m["href"] + "/data", query={"offset": "12289"}), 416)
    assert anon.get(m["href"] + "/data").status in (401, 403)
    memfd.kill()
    wait_until(lambda: admin.get(m["href"] + "/data").status == 404, timeout=5, what="404 once nobody keeps it")
