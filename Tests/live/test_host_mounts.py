"""The mounts of the whole host (API-HOST.md): a container-like /dev/shm in a private mount
namespace (`unshare --mount` plus a 64 MiB tmpfs, as root) holding an object that a process inside
maps, and one sparse object that exposes its writers to SIGBUS. The namespace and its tmpfs go
with the child, which the fixture kills whatever happens."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from support.client import assert_problem
from support.common import MiB, wait_until

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")

UNSHARE_TMPFS = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount -t tmpfs -o size=64m tmpfs /dev/shm && exec "$@"', "sh"]


@pytest.fixture
def container_shm(host_children, prefix):
    """A child in a private mount namespace with its own 64 MiB /dev/shm, mapping PREFIXobj and
    holding a 128 MiB sparse PREFIXobj-sparse."""
    return host_children("mount", prefix + "obj", 128 * MiB, wrap=UNSHARE_TMPFS)


def wait_for_mount(admin, child, name):
    """The child's mount once the scan shows `name` on it. A device freed by an earlier test's tmpfs
    is reused at once, and answers may be a second old: wait for this test's own object."""
    device = child.info["device"]

    def seen():
        r = admin.get(f"/api/v1/mounts/{device}/sections")
        return r.status == 200 and name in [s["name"] for s in r.json["sections"]] and mount_of(admin, device)

    return wait_until(seen, timeout=5, what=f"{name} on mount {device}")


def mount_of(admin, device):
    r = admin.get("/api/v1/mounts")
    assert r.status == 200, r.describe()
    return next((m for m in r.json["mounts"] if m["id"] == device), None)


def test_the_namespace_tmpfs_is_a_mount_with_its_size_processes_and_exposure(admin, container_shm, prefix):
    device = container_shm.info["device"]
    mount = wait_for_mount(admin, container_shm, prefix + "obj")
    mounts = admin.get("/api/v1/mounts").json["mounts"]
    assert mounts[0]["host"] is True, "the server's own mount comes first"
    assert [m["id"] for m in mounts].count(device) == 1
    assert mount["host"] is False and mount["path"] == "/dev/shm"
    assert mount["sizeBytes"] == 64 * MiB
    assert mount["usedBytes"] >= 65536 and mount["freeBytes"] <= 64 * MiB - 65536
    assert mount["objects"] == 2
    assert mount["exposureBytes"] == 128 * MiB, "the sparse object has no memory behind it"
    assert mount["exposed"] is True, "128 MiB unbacked against at most 64 MiB free"
    assert container_shm.pid in mount["pids"] and mount["processes"] >= 1
    assert mount["container"]["runtime"] in ("none", "systemd", "docker", "containerd", "cri-o", "podman", "kubepods")
    assert set(mount["container"]) == {"runtime", "id", "pod", "memoryMax"}
    one = admin.get(f"/api/v1/mounts/{device}")
    assert one.status == 200 and one.json == mount or one.json["id"] == device
    host = admin.get("/api/v1/mounts/host")
    assert host.status == 200 and host.json["host"] is True


def test_a_mounts_objects_are_listed_and_detailed_with_their_mapper(admin, container_shm, prefix):
    device = container_shm.info["device"]
    wait_for_mount(admin, container_shm, prefix + "obj")
    r = admin.get(f"/api/v1/mounts/{device}/sections")
    assert r.status == 200, r.describe()
    names = [s["name"] for s in r.json["sections"]]
    assert names == [prefix + "obj", prefix + "obj-sparse"] and r.json["total"] == 2
    obj = r.json["sections"][0]
    assert obj["kind"] == "shm" and obj["mount"] == device and obj["size"] == 65536
    assert obj["href"] == f"/api/v1/mounts/{device}/sections/{prefix}obj"
    assert obj["mappers"] == 1 and obj["holders"] == 1 and obj["orphan"] is False
    assert obj["managed"] is False and obj["namespace"] == "local" and obj["path"] == f"/dev/shm/{prefix}obj"
    sparse = r.json["sections"][1]
    assert sparse["orphan"] is True and sparse["unbackedBytes"] == 128 * MiB and sparse["namespace"] == "global"
    only_orphans = admin.get(f"/api/v1/mounts/{device}/sections", query={"orphan": "true"})
    assert [s["name"] for s in only_orphans.json["sections"]] == [prefix + "obj-sparse"]
    assert admin.get(f"/api/v1/mounts/{device}/sections", query={"managed": "true"}).json["total"] == 0

    d = admin.get(obj["href"])
    assert d.status == 200, d.describe()
    assert d.json["name"] == prefix + "obj"
    [mapper] = d.json["mapperList"]
    assert mapper["pid"] == container_shm.pid and mapper["access"] == "rw"
    assert mapper["rssBytes"] >= 4096, "the child wrote a page"
    assert mapper["pssBytes"] is not None and mapper["swapBytes"] == 0
    assert {h["pid"] for h in d.json["holderList"]} == {container_shm.pid}, "python's mmap keeps a dup of the fd"
    assert d.json["lockHolders"] == []
    assert_problem(admin.get(f"/api/v1/mounts/{device}/sections/{prefix}absent"), 404)


def test_the_inventory_shows_the_mount_by_kind_and_mount(admin, container_shm, prefix):
    device = container_shm.info["device"]
    wait_for_mount(admin, container_shm, prefix + "obj")
    r = admin.get("/api/v1/inventory", query={"mount": device})
    assert r.status == 200, r.describe()
    assert [o["name"] for o in r.json["objects"]] == [prefix + "obj", prefix + "obj-sparse"], "largest first"
    assert r.json["total"] == 2
    assert r.json["byMount"][device] == {"count": 2, "bytes": 65536}
    assert r.json["byKind"]["shm"] == {"count": 2, "bytes": 65536}
    assert set(r.json["byKind"]) == {"shm", "semaphore", "sysv", "memfd", "unlinked"}
    q = admin.get("/api/v1/inventory", query={"q": prefix + "obj-sp"})
    assert [o["href"] for o in q.json["objects"]] == [f"/api/v1/mounts/{device}/sections/{prefix}obj-sparse"]
    host = admin.get("/api/v1/inventory", query={"mount": "host", "q": prefix})
    assert host.status == 200 and host.json["total"] == 0
    assert admin.get("/api/v1/inventory", query={"uid": "0", "q": prefix}).json["total"] == 2
    assert admin.get("/api/v1/inventory", query={"uid": "12345", "q": prefix}).json["total"] == 0
    page = admin.get("/api/v1/inventory", query={"mount": device, "limit": "1", "offset": "1"})
    assert [o["name"] for o in page.json["objects"]] == [prefix + "obj-sparse"] and page.json["total"] == 2


def test_mount_metrics_carry_the_namespace_tmpfs(admin, container_shm, prefix):
    device = container_shm.info["device"]
    wait_for_mount(admin, container_shm, prefix + "obj")
    text = admin.get("/metrics").text
    assert "shm_admin_build_info{version=" in text
    size = [ln for ln in text.splitlines() if ln.startswith("shm_admin_mount_size_bytes{") and f'mount="{device}"' in ln]
    assert len(size) == 1 and size[0].endswith(f" {64 * MiB}"), size
    exposure = [ln for ln in text.splitlines()
                if ln.startswith("shm_admin_mount_exposure_bytes{") and f'mount="{device}"' in ln]
    assert exposure and exposure[0].endswith(f" {128 * MiB}")
    assert f'shm_admin_objects{{kind="shm",mount="{device}"}} 2' in text
    assert f'shm_admin_object_bytes{{kind="shm",mount="{device}"}} 65536' in text
    assert f'shm_admin_orphan_bytes{{mount="{device}"}} 0' in text, "the sparse orphan holds no memory"
    assert f'shm_admin_unbacked_bytes{{section="{prefix}obj-sparse",mount="{device}"}} {128 * MiB}' in text


def test_the_mount_goes_with_its_namespace(admin, host_children, prefix):
    child = host_children("mount", prefix + "gone", 4096, wrap=UNSHARE_TMPFS)
    device = child.info["device"]
    wait_for_mount(admin, child, prefix + "gone")
    child.kill()
    wait_until(lambda: mount_of(admin, device) is None, timeout=5, what=f"mount {device} gone")
    assert_problem(admin.get(f"/api/v1/mounts/{device}"), 404)


@pytest.mark.parametrize("mount, status", [("0:999999", 404), ("nonsense", 400), ("1:2:3", 400)])
def test_unknown_and_malformed_mounts(admin, mount, status):
    assert_problem(admin.get(f"/api/v1/mounts/{mount}"), status)
    assert_problem(admin.get(f"/api/v1/mounts/{mount}/sections"), status)
    if status == 400:
        assert_problem(admin.get("/api/v1/inventory", query={"mount": mount}), 400)


def test_the_servers_own_mount_answers_as_version_1(admin, prefix):
    admin.create(prefix + "own", 8192)
    own = admin.get("/api/v1/mounts/host/sections", query={"q": prefix})
    v1 = admin.get("/api/v1/sections", query={"q": prefix})
    assert own.status == 200 and own.json == v1.json
    detail = admin.get(f"/api/v1/mounts/host/sections/{prefix}own")
    assert detail.status == 200 and detail.json["managed"] is True
    inv = admin.get("/api/v1/inventory", query={"q": prefix + "own"})
    [obj] = inv.json["objects"]
    assert obj["href"] == f"/api/v1/sections/{prefix}own" and obj["managed"] is True and obj["size"] == 8192
    assert obj["mount"] == admin.get("/api/v1/mounts/host").json["id"]


def test_deleting_another_mounts_objects_is_guarded(admin, anon, container_shm, prefix):
    device = container_shm.info["device"]
    wait_for_mount(admin, container_shm, prefix + "obj")
    mapped = f"/api/v1/mounts/{device}/sections/{prefix}obj"
    p = assert_problem(admin.delete(mapped), 409, "section-mapped")
    assert p["pids"] == [container_shm.pid]
    assert admin.get(mapped).status == 200, "still there"
    assert admin.delete(f"/api/v1/mounts/{device}/sections/{prefix}obj-sparse").status == 204, "nobody uses it"
    assert admin.get(f"/api/v1/mounts/{device}/sections/{prefix}obj-sparse").status == 404
    assert admin.delete(mapped, query={"force": "true"}).status == 204
    names = [s["name"] for s in admin.get(f"/api/v1/mounts/{device}/sections").json["sections"]]
    assert names == []
    assert_problem(admin.delete(mapped), 404)
    assert anon.delete(mapped).status in (401, 403)
    # the child still maps its object, now unlinked: it lives on as kind unlinked
    [obj] = wait_until(lambda: admin.get("/api/v1/inventory", query={"kind": "unlinked", "q": prefix + "obj"})
                       .json["objects"], timeout=5, what="the object as unlinked")
    assert obj["mount"] == device and obj["mappers"] == 1


def test_deleting_on_the_servers_own_mount_keeps_version_1s_rules(admin, peers, prefix):
    peer = peers()
    peer.create(prefix + "foreign", 4096)
    wait_until(lambda: admin.get(f"/api/v1/mounts/host/sections/{prefix}foreign").status == 200, timeout=5,
               what="listed")
    assert_problem(admin.delete(f"/api/v1/mounts/host/sections/{prefix}foreign"), 403)
    admin.create(prefix + "mine", 4096)
    assert admin.delete(f"/api/v1/mounts/host/sections/{prefix}mine").status == 204


def test_dumps_of_another_mounts_object(admin, container_shm, prefix):
    device = container_shm.info["device"]
    wait_for_mount(admin, container_shm, prefix + "obj")
    url = f"/api/v1/mounts/{device}/sections/{prefix}obj/data"
    raw = admin.get(url, query={"format": "raw", "length": "16"})
    assert raw.status == 200 and raw.body == b"inside-namespace"
    whole = admin.get(url, query={"format": "raw"})
    assert len(whole.body) == 65536 and whole.header("Accept-Ranges") == "bytes"
    text = admin.get(url, query={"format": "hexdump", "length": "16"})
    assert text.status == 200 and "|inside-namespace|" in text.text
    b64 = admin.get(url, query={"format": "base64", "offset": "7", "length": "9"})
    assert b64.status == 200 and b64.json["offset"] == 7
    assert_problem(admin.get(url, query={"offset": "65537"}), 416)
    assert_problem(admin.get(f"/api/v1/mounts/{device}/sections/{prefix}absent/data"), 404)
    big = admin.get(f"/api/v1/mounts/{device}/sections/{prefix}obj-sparse/data", query={"format": "raw"})
    assert big.status == 200 and len(big.body) == 128 * MiB and big.body.count(0) == 128 * MiB, "streamed, sparse"
    time.sleep(1.2)  # answers are at most a second old
    sparse = admin.get(f"/api/v1/mounts/{device}/sections/{prefix}obj-sparse").json
    assert sparse["allocatedBytes"] == 0, "read with pread: a dump allocates no hole of the container's tmpfs"


def test_a_container_starting_and_stopping_is_an_event(server, host_children, prefix):
    from support.sse import EventStream

    stream = EventStream(server.port, token=server.admin_token)
    try:
        assert stream.status == 200
        time.sleep(2.5)  # the first check after a stream opens only takes the baseline
        child = host_children("mount", prefix + "ev", 4096, wrap=UNSHARE_TMPFS)
        device = child.info["device"]
        added = stream.wait_event(lambda e: e["event"] == "mount-added" and e["json"]["mount"] == device,
                                  timeout=8, what=f"mount-added {device}")
        assert added["json"]["section"] is None and added["json"]["source"] == "external"
        assert child.pid in added["json"]["pids"]
        assert int(added["id"]) == added["json"]["id"]
        child.kill()
        removed = stream.wait_event(lambda e: e["event"] == "mount-removed" and e["json"]["mount"] == device,
                                    timeout=8, what=f"mount-removed {device}")
        assert child.pid in removed["json"]["pids"], "the processes it had when last seen"
        assert removed["json"]["id"] > added["json"]["id"]
    finally:
        stream.close()


def test_page_maps_of_another_mounts_objects(admin, container_shm, prefix):
    device = container_shm.info["device"]
    wait_for_mount(admin, container_shm, prefix + "obj")
    full = admin.get(f"/api/v1/mounts/{device}/sections/{prefix}obj/pages")
    assert full.status == 200, full.describe()
    assert full.json["commit"] == full.json["reserve"] == 65536 and full.json["dataBytes"] == 65536
    assert full.json["runs"] == [{"offset": 0, "length": 65536, "state": "data"}]
    sparse = admin.get(f"/api/v1/mounts/{device}/sections/{prefix}obj-sparse/pages")
    assert sparse.json["runs"] == [{"offset": 0, "length": 128 * MiB, "state": "committed"}]
    assert sparse.json["dataBytes"] == 0 and sparse.json["allocatedBytes"] == 0
    part = admin.get(f"/api/v1/mounts/{device}/sections/{prefix}obj/pages", query={"from": "4096", "to": "8192"})
    assert part.json["runs"] == [{"offset": 4096, "length": 4096, "state": "data"}]
    assert part.json["dataBytes"] == 65536, "dataBytes is the whole object's"
    assert_problem(admin.get(f"/api/v1/mounts/{device}/sections/{prefix}obj/pages", query={"from": "2", "to": "1"}),
                   400)
    assert admin.get(f"/api/v1/mounts/host/sections/{prefix}absent/pages").status == 404


def test_version_1_sections_gain_the_host_members(admin, peers, prefix):
    """API-HOST.md: sections gain href, mount, size and unbackedBytes; mapper entries of a detail
    gain rssBytes, pssBytes and swapBytes."""
    admin.create(prefix + "sp ace", 65536, commit=16384)
    own = admin.get("/api/v1/mounts/host").json["id"]
    [s] = admin.get("/api/v1/sections", query={"q": prefix + "sp ace"}).json["sections"]
    assert s["href"] == f"/api/v1/sections/{prefix}sp%20ace" and s["mount"] == own
    assert s["size"] == s["commit"] == 16384 and s["unbackedBytes"] == 0, "the commit is allocated up front"
    peer = peers()
    peer.attach(prefix + "sp ace")
    peer.write(prefix + "sp ace", 0, b"x")
    d = wait_until(lambda: (r := admin.get(s["href"]).json)["mapperList"] and r, timeout=5, what="the peer mapping")
    [m] = d["mapperList"]
    assert m["pid"] == peer.pid and m["rssBytes"] >= 4096 and m["pssBytes"] is not None and m["swapBytes"] == 0
    assert d["href"] == s["href"] and d["mount"] == own
