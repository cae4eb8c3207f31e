"""Live tests: the server's own views (map, alias, read-only, move, unmap) and other processes'
mappings, including a view surviving a truncation by another process."""

import base64
import os
import re

import pytest

from support.client import assert_problem, sec
from support.common import KiB, MiB, PAGE, wait_until
from support.shm import read_object, shm_path

HEX_ADDR = re.compile(r"^0x[0-9a-f]+$")


def map_view(admin, name, **body):
    r = admin.post(sec(name, "views"), json=body)
    assert r.status == 201, r.describe()
    v = r.json
    assert set(v) >= {"id", "offset", "length", "access", "address"}, v
    assert isinstance(v["id"], str) and v["id"]
    assert HEX_ADDR.match(v["address"]), v["address"]
    assert int(v["address"], 16) % PAGE == 0
    return v


def view_read(admin, name, vid, offset, length):
    r = admin.get(sec(name, "views", vid, "data"), query={"offset": offset, "length": length, "format": "base64"})
    assert r.status == 200, r.describe()
    assert r.json["offset"] == offset and r.json["length"] == length
    return base64.b64decode(r.json["data"])


@pytest.mark.parametrize("access", ["rw", "ro"])
def test_map_view_defaults(admin, prefix, access):
    name = prefix + "v"
    admin.create(name, "1MiB", "64KiB")
    v = map_view(admin, name, access=access)
    assert (v["offset"], v["length"], v["access"]) == (0, MiB, access)
    r = admin.get(sec(name, "views"))
    assert r.status == 200, r.describe()
    assert [x["id"] for x in r.json["views"]] == [v["id"]]
    assert r.json["views"][0]["address"] == v["address"]
    assert isinstance(r.json["mappers"], list)
    assert admin.detail(name)["views"] == 1


def test_map_view_offset_and_length(admin, prefix):
    name = prefix + "vo"
    admin.create(name, "1MiB", "64KiB")
    admin.write(name, 2 * PAGE, b"at two pages")
    v = map_view(admin, name, access="ro", offset=2 * PAGE)
    assert v["offset"] == 2 * PAGE and v["length"] == MiB - 2 * PAGE
    assert view_read(admin, name, v["id"], 0, 12) == b"at two pages"
    v2 = map_view(admin, name, access="ro", offset=PAGE, length=2 * PAGE)
    assert v2["length"] == 2 * PAGE
    assert view_read(admin, name, v2["id"], PAGE, 12) == b"at two pages"


@pytest.mark.parametrize("body", [{"access": "rw", "offset": 100}, {"access": "rx"}, {"access": "rw", "offset": -4096},
                                  {"access": "rw", "offset": 2 * MiB}, {"access": "rw", "length": 2 * MiB}])
def test_map_view_invalid_422(admin, prefix, body):
    name = prefix + "vi"
    admin.create(name, "1MiB", "64KiB")
    r = admin.post(sec(name, "views"), json=body)
    assert r.status in (400, 422), r.describe()
    assert_problem(r, r.status)
    assert admin.detail(name)["views"] == 0


def test_two_views_alias(admin, prefix):
    name = prefix + "alias"
    admin.create(name, "1MiB", "64KiB")
    a = map_view(admin, name, access="rw")
    b = map_view(admin, name, access="rw")
    c = map_view(admin, name, access="ro")
    assert len({a["address"], b["address"], c["address"]}) == 3
    r = admin.put(sec(name, "views", a["id"], "data"), query={"offset": 10}, body=b"through a")
    assert r.status == 200 and r.json == {"offset": 10, "written": 9, "requested": 9}, r.describe()
    assert view_read(admin, name, b["id"], 10, 9) == b"through a"
    assert view_read(admin, name, c["id"], 10, 9) == b"through a"
    assert read_object(name, 10, 9) == b"through a"
    r = admin.put(sec(name, "views", b["id"], "data"), query={"offset": 40000}, body=b"through b")
    assert r.status == 200, r.describe()
    assert view_read(admin, name, a["id"], 40000, 9) == b"through b"
    # section data and view data are the same bytes
    assert admin.read_raw(name, 40000, 9) == b"through b"


def test_view_sees_later_grow(admin, prefix):
    name = prefix + "vg"
    admin.create(name, "1MiB", "4KiB")
    v = map_view(admin, name, access="rw")
    r = admin.put(sec(name, "views", v["id"], "data"), query={"offset": 8192}, body=b"x")
    assert_problem(r, 416, "range-not-satisfiable")
    assert admin.post(sec(name, "grow"), json={"commit": "64KiB"}).status == 200
    r = admin.put(sec(name, "views", v["id"], "data"), query={"offset": 8192}, body=b"after grow")
    assert r.status == 200, r.describe()
    assert read_object(name, 8192, 10) == b"after grow"


def test_write_through_ro_view_409(admin, prefix):
    name = prefix + "ro"
    admin.create(name, "64KiB")
    v = map_view(admin, name, access="ro")
    r = admin.put(sec(name, "views", v["id"], "data"), query={"offset": 0}, body=b"nope")
    assert_problem(r, 409, "read-only-view")
    assert read_object(name, 0, 4) == b"\0" * 4


def test_view_data_formats(admin, prefix):
    name = prefix + "vf"
    admin.create(name, "64KiB")
    admin.write(name, 0, b"Hello view data!" * 3)
    v = map_view(admin, name, access="ro")
    r = admin.get(sec(name, "views", v["id"], "data"), query={"offset": 0, "length": 20, "format": "hex"})
    assert r.status == 200, r.describe()
    assert [row["offset"] for row in r.json["rows"]] == [0, 16]
    assert r.json["rows"][0]["ascii"] == "Hello view data!"
    r = admin.get(sec(name, "views", v["id"], "data"), query={"offset": 3, "length": 10, "format": "raw"})
    assert r.status == 200 and r.body == b"lo view da", r.describe()


def test_move_view(admin, prefix):
    name = prefix + "mv"
    admin.create(name, "1MiB", "64KiB")
    v = map_view(admin, name, access="rw")
    admin.put(sec(name, "views", v["id"], "data"), query={"offset": 1234}, body=b"survives the move")
    r = admin.post(sec(name, "views", v["id"], "move"), json={"oldAddress": v["address"], "newAddress": None})
    assert r.status == 200, r.describe()
    moved = r.json
    assert moved["id"] == v["id"] and HEX_ADDR.match(moved["address"])
    assert moved["address"] != v["address"]
    assert (moved["offset"], moved["length"], moved["access"]) == (v["offset"], v["length"], v["access"])
    assert view_read(admin, name, v["id"], 1234, 17) == b"survives the move"
    views = admin.get(sec(name, "views")).json["views"]
    assert [(x["id"], x["address"]) for x in views] == [(v["id"], moved["address"])]
    # the old address is stale now
    r = admin.post(sec(name, "views", v["id"], "move"), json={"oldAddress": v["address"]})
    assert_problem(r, 409)


def test_move_view_misaligned_address_422(admin, prefix):
    name = prefix + "mva"
    admin.create(name, "64KiB")
    v = map_view(admin, name, access="rw")
    r = admin.post(sec(name, "views", v["id"], "move"), json={"oldAddress": v["address"],
                                                               "newAddress": "0x7f0000000123"})
    assert_problem(r, 422)
    views = admin.get(sec(name, "views")).json["views"]
    assert views[0]["address"] == v["address"]


def test_unmap_view_204(admin, prefix):
    name = prefix + "um"
    admin.create(name, "64KiB")
    v = map_view(admin, name, access="rw")
    r = admin.delete(sec(name, "views", v["id"]))
    assert r.status == 204 and r.body == b"", r.describe()
    assert admin.get(sec(name, "views")).json["views"] == []
    assert admin.detail(name)["views"] == 0
    assert_problem(admin.get(sec(name, "views", v["id"], "data")), 404, "view-not-found")
    assert_problem(admin.delete(sec(name, "views", v["id"])), 404, "view-not-found")


@pytest.mark.parametrize("method,parts,kw", [
    ("GET", ("data",), {}),
    ("PUT", ("data",), {"query": {"offset": 0}, "body": b"x"}),
    ("DELETE", (), {}),
    ("POST", ("move",), {"json": {"oldAddress": "0x1000"}}),
])
def test_unknown_view_404(admin, prefix, method, parts, kw):
    name = prefix + "uv"
    admin.create(name, "64KiB")
    r = admin.request(method, sec(name, "views", "v999999", *parts), **kw)
    assert_problem(r, 404, "view-not-found")


def test_views_endpoint_lists_other_mappers(admin, prefix, peers):
    name = prefix + "vm"
    admin.create(name, "64KiB")
    map_view(admin, name, access="rw")
    p = peers()
    p.attach(name)

    def seen():
        m = admin.get(sec(name, "views")).json["mappers"]
        return [x for x in m if x["pid"] == p.pid]

    mine = wait_until(seen, timeout=3.5, what="python pid in views.mappers")
    assert mine[0]["access"] == "rw" and mine[0]["offset"] == 0
    assert HEX_ADDR.match(mine[0]["start"]) and HEX_ADDR.match(mine[0]["end"])
    assert int(mine[0]["end"], 16) - int(mine[0]["start"], 16) == 64 * KiB


@pytest.mark.parametrize("fmt", ["base64", "hex", "raw", "hexdump"])
def test_view_survives_truncation_by_other_process(admin, prefix, peers, fmt):
    name = prefix + "vt"
    admin.create(name, "64KiB")
    v = map_view(admin, name, access="rw")
    admin.put(sec(name, "views", v["id"], "data"), query={"offset": 0}, body=b"\x42" * 8192)
    p = peers()
    p.ok("truncate", name=name, size=0)
    assert os.stat(shm_path(name)).st_size == 0
    r = admin.get(sec(name, "views", v["id"], "data"), query={"offset": 0, "length": 4096, "format": fmt})
    assert_problem(r, 416, "range-not-satisfiable")
    r = admin.put(sec(name, "views", v["id"], "data"), query={"offset": 0}, body=b"boom")
    assert_problem(r, 416, "range-not-satisfiable")
    assert os.stat(shm_path(name)).st_size == 0
    h = admin.get("/healthz")
    assert h.status == 200 and h.json == {"status": "ok"}
    assert admin.get(sec(name)).status == 200
    # grown back by the other process, the view works again
    p.ok("truncate", name=name, size=64 * KiB)
    assert view_read(admin, name, v["id"], 0, 4) == b"\0\0\0\0"

