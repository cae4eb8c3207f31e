"""Live tests: create, list, detail, delete, foreign sections, semaphores, adopt, grow, reset, pages."""

import os
import re
import stat
import time

import pytest

from support.client import assert_problem, sec
from support.common import GiB, KiB, MiB, PAGE, round_up, wait_until
from support.shm import read_object, shm_path

SECTION_FIELDS = {"name", "kind", "managed", "namespace", "path", "state", "reserve", "commit", "allocatedBytes",
                  "dataBytes", "mode", "uid", "gid", "createdAt", "modifiedAt", "views", "mappers", "orphan",
                  "labels"}
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def check_section_shape(s, name):
    missing = SECTION_FIELDS - set(s)
    assert not missing, f"section lacks {missing}: {s}"
    assert s["name"] == name
    assert s["path"] == shm_path(name)
    assert RFC3339_Z.match(s["createdAt"]), s["createdAt"]
    assert RFC3339_Z.match(s["modifiedAt"]), s["modifiedAt"]
    assert re.fullmatch(r"0[0-7]{3}", s["mode"]), s["mode"]
    assert isinstance(s["labels"], dict)


def find(listing, name):
    hits = [s for s in listing["sections"] if s["name"] == name]
    assert len(hits) == 1, f"{name} appears {len(hits)} times in {[s['name'] for s in listing['sections']]}"
    return hits[0]


# --------------------------------------------------------------------------------------------
# create


def test_create_new_section_201(admin, prefix):
    name = prefix + "new"
    r = admin.post("/api/v1/sections", json={"name": name, "reserve": "1MiB", "commit": "64KiB",
                                             "labels": {"app": "matcher", "team": "x"}})
    assert r.status == 201, r.describe()
    s = r.json
    check_section_shape(s, name)
    assert s["created"] is True
    assert (s["kind"], s["managed"], s["namespace"], s["state"]) == ("shm", True, "local", "ok")
    assert (s["reserve"], s["commit"]) == (MiB, 64 * KiB)
    assert s["labels"] == {"app": "matcher", "team": "x"}
    assert s["mode"] == "0600"
    st = os.stat(shm_path(name))
    assert st.st_size == 64 * KiB
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.getuid() and s["uid"] == st.st_uid and s["gid"] == st.st_gid
    # the commit is allocated up front
    assert st.st_blocks * 512 >= 64 * KiB
    assert s["allocatedBytes"] == st.st_blocks * 512
    assert s["dataBytes"] == 0
    assert read_object(name) == b"\0" * (64 * KiB)


def test_create_existing_name_opens_it_200(admin, prefix):
    name = prefix + "twice"
    first = admin.create(name, "64KiB", "8KiB")
    admin.write(name, 0, b"keep me")
    r = admin.post("/api/v1/sections", json={"name": name, "reserve": "64KiB", "commit": "8KiB"})
    assert r.status == 200, r.describe()
    assert r.json["created"] is False
    assert r.json["reserve"] == first["reserve"] == 64 * KiB
    assert r.json["commit"] == 8 * KiB
    assert read_object(name, 0, 7) == b"keep me", "opening an existing section changed its bytes"


def test_create_exclusive_existing_409(admin, prefix):
    name = prefix + "excl"
    admin.create(name, 4096)
    admin.write(name, 0, b"old")
    r = admin.post("/api/v1/sections", json={"name": name, "reserve": 8192, "exclusive": True})
    assert_problem(r, 409, "section-exists")
    assert os.stat(shm_path(name)).st_size == 4096
    assert read_object(name, 0, 3) == b"old"
    # exclusive on a fresh name creates
    r = admin.post("/api/v1/sections", json={"name": name + "2", "reserve": 8192, "exclusive": True})
    assert r.status == 201 and r.json["created"] is True, r.describe()


def test_create_generated_name(admin, shm_track):
    names = []
    for _ in range(2):
        r = admin.post("/api/v1/sections", json={"reserve": "8KiB"})
        assert r.status == 201, r.describe()
        name = r.json["name"]
        shm_track(name)
        names.append(name)
        assert r.json["created"] is True
        assert isinstance(name, str) and 1 <= len(name.encode()) <= 255 and "/" not in name
        assert os.stat(shm_path(name)).st_size == 8192
    assert names[0] != names[1]
    for name in names:
        assert admin.delete(sec(name)).status == 204


@pytest.mark.parametrize("reserve,commit,want_reserve,want_commit", [
    ("64KiB", "4KiB", 64 * KiB, 4 * KiB),
    ("1MiB", "100", MiB, PAGE),
    (10000, 1, round_up(10000), PAGE),
    ("1M", "1K", MiB, PAGE),
    ("4096", None, 4096, 4096),
    (1, None, PAGE, PAGE),
    ("2 KiB", None, PAGE, PAGE),
    ("1GiB", "64KiB", GiB, 64 * KiB),
    ("1G", "1M", GiB, MiB),
    ("1TiB", "4K", 1 << 40, 4096),
    ("1T", 8193, 1 << 40, 3 * PAGE),
    (12345, 12345, round_up(12345), round_up(12345)),
])
def test_create_sizes_units_and_rounding(admin, prefix, reserve, commit, want_reserve, want_commit):
    name = prefix + "sz"
    s = admin.create(name, reserve, commit)
    assert (s["reserve"], s["commit"]) == (want_reserve, want_commit), s
    assert os.stat(shm_path(name)).st_size == want_commit


def test_commit_defaults_to_reserve(admin, prefix):
    name = prefix + "plain"
    s = admin.create(name, "64KiB")
    assert s["commit"] == s["reserve"] == 64 * KiB
    st = os.stat(shm_path(name))
    assert st.st_size == 64 * KiB and st.st_blocks * 512 >= 64 * KiB


def test_namespace_modes_ignore_umask(server_factory, prefix):
    srv = server_factory(token="u" * 32, umask=0o077)
    c = srv.client()
    g = c.create(prefix + "glob", 4096, namespace="global")
    loc = c.create(prefix + "loc", 4096, namespace="local")
    dflt = c.create(prefix + "dflt", 4096)
    assert (g["namespace"], g["mode"]) == ("global", "0666"), g
    assert (loc["namespace"], loc["mode"]) == ("local", "0600"), loc
    assert (dflt["namespace"], dflt["mode"]) == ("local", "0600"), dflt
    assert stat.S_IMODE(os.stat(shm_path(prefix + "glob")).st_mode) == 0o666
    assert stat.S_IMODE(os.stat(shm_path(prefix + "loc")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(shm_path(prefix + "dflt")).st_mode) == 0o600
    r = c.post("/api/v1/sections", json={"name": prefix + "bad", "reserve": 4096, "namespace": "public"})
    assert r.status in (400, 422), r.describe()
    assert_problem(r, r.status)
    assert not os.path.exists(shm_path(prefix + "bad"))


@pytest.mark.parametrize("make_name", [
    lambda p: "",
    lambda p: ".",
    lambda p: "..",
    lambda p: p + "a/b",
    lambda p: "a/b",
    lambda p: p + "a\\b",
    lambda p: p + "ctl\x01",
    lambda p: p + "tab\tname",
    lambda p: p + "nl\n",
    lambda p: p + "nul\x00x",
    lambda p: p + "del\x7f",
    lambda p: p + "c1\u0085",
    lambda p: p + "x" * (256 - len(p)),
    lambda p: p + "é" * ((256 - len(p)) // 2) + ("x" if (256 - len(p)) % 2 else ""),
], ids=["empty", "dot", "dotdot", "slash", "bare-slash", "backslash", "ctl-01", "tab", "newline", "nul", "del",
        "c1-nel", "256-bytes", "256-bytes-utf8"])
def test_create_invalid_name_422(admin, prefix, make_name):
    name = make_name(prefix)
    r = admin.post("/api/v1/sections", json={"name": name, "reserve": 4096})
    assert_problem(r, 422, "invalid-name")
    if name and "/" not in name and "\x00" not in name and name not in (".", ".."):
        assert not os.path.exists(shm_path(name)), "an invalid name was created"
    assert not any(e.startswith(prefix) for e in os.listdir("/dev/shm")), "something was created"


@pytest.mark.parametrize("suffix_len", [255, 254])
def test_create_name_length_limit_accepted(admin, prefix, suffix_len):
    name = prefix + "y" * (suffix_len - len(prefix))
    s = admin.create(name, 4096)
    assert s["name"] == name and len(name.encode()) == suffix_len
    assert os.path.exists(shm_path(name))
    r = admin.get(sec(name))
    assert r.status == 200 and r.json["name"] == name, r.describe()


def test_create_utf8_name(admin, prefix):
    name = prefix + "zone-é-日本"
    s = admin.create(name, 4096)
    assert s["name"] == name
    assert os.path.exists(shm_path(name))
    assert admin.get(sec(name)).json["name"] == name


@pytest.mark.parametrize("field,value", [
    ("reserve", -1), ("reserve", -4096), ("reserve", 1.5), ("reserve", "1XB"), ("reserve", "-1"),
    ("reserve", 2 ** 64), ("reserve", 2 ** 63), ("reserve", "9223372036854775808"), ("reserve", "1.5KiB"),
    ("reserve", ""), ("reserve", "KiB"), ("reserve", "1 2"), ("reserve", 0), ("reserve", "0"),
    ("reserve", "9999999T"), ("reserve", "1kib"), ("reserve", " 1KiB"),
    ("commit", -1), ("commit", "-1"), ("commit", 0.5), ("commit", "1XB"), ("commit", 2 ** 64),
    ("commit", 8192),  # commit > reserve (4096)
    ("commit", "1MiB"),
])
def test_create_invalid_size_422(admin, prefix, field, value):
    name = prefix + "badsize"
    body = {"name": name, "reserve": 4096}
    body[field] = value
    r = admin.post("/api/v1/sections", json=body)
    assert_problem(r, 422)
    assert r.json["type"] in ("/problems/invalid-size", "/problems/invalid-request"), r.describe()
    assert not os.path.exists(shm_path(name))


def test_create_missing_reserve_refused(admin, prefix):
    r = admin.post("/api/v1/sections", json={"name": prefix + "nores"})
    assert r.status in (400, 422), r.describe()
    assert_problem(r, r.status)
    assert not os.path.exists(shm_path(prefix + "nores"))


@pytest.mark.parametrize("path_parts,body", [
    ((), {"reserve": 4096, "bogus": 1}),
    ((), {"reserve": 4096, "Name": "x"}),
    (("grow",), {"by": 4096, "extra": True}),
    (("reset",), {"offset": 0, "length": 4096, "zero": 1}),
    (("lock",), {"mode": "exclusive", "ttl": 5}),
    (("views",), {"access": "ro", "addr": "0x0"}),
    (("adopt",), {"reserve": 8192, "owner": "me"}),
])
def test_unknown_json_field_400(admin, prefix, path_parts, body):
    name = prefix + "uf"
    admin.create(name, "64KiB", "4KiB")
    if not path_parts:
        body = dict(body, name=prefix + "uf-new")
        path = "/api/v1/sections"
    else:
        path = sec(name, *path_parts)
    r = admin.post(path, json=body)
    assert_problem(r, 400, "bad-request")
    assert not os.path.exists(shm_path(prefix + "uf-new"))
    assert os.stat(shm_path(name)).st_size == 4096


@pytest.mark.parametrize("raw", [b'{"reserve": 4096', b"not json", b"", b'{"reserve": 4096,}', b"\xff\xfe{}",
                                 b'{"reserve": 4096} trailing', b"[1,2]", b'"text"'])
def test_malformed_json_400(admin, prefix, raw):
    r = admin.post("/api/v1/sections", body=raw, content_type="application/json")
    assert_problem(r, 400, "bad-request")
    assert not any(e.startswith(prefix) for e in os.listdir("/dev/shm"))


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream",
                                   "multipart/form-data; boundary=x"])
def test_wrong_content_type_415(admin, prefix, ctype):
    name = prefix + "ct"
    body = ('{"name": "%s", "reserve": 4096}' % name).encode()
    r = admin.post("/api/v1/sections", body=body, content_type=ctype)
    assert_problem(r, 415, "unsupported-media-type")
    assert not os.path.exists(shm_path(name))


def test_json_content_type_with_charset_accepted(admin, prefix):
    name = prefix + "cs"
    body = ('{"name": "%s", "reserve": 4096}' % name).encode()
    r = admin.post("/api/v1/sections", body=body, content_type="application/json; charset=utf-8")
    assert r.status == 201, r.describe()


@pytest.mark.parametrize("labels", [
    {"": "v"}, {"k" * 64: "v"}, {"k": "v" * 256}, {f"k{i}": "v" for i in range(65)}, {"k": 1}, ["a"],
])
def test_invalid_labels_422(admin, prefix, labels):
    r = admin.post("/api/v1/sections", json={"name": prefix + "lab", "reserve": 4096, "labels": labels})
    assert r.status in (400, 422), r.describe()
    assert_problem(r, r.status)
    assert not os.path.exists(shm_path(prefix + "lab"))


# --------------------------------------------------------------------------------------------
# list


@pytest.fixture
def population(admin, prefix, peers):
    """3 managed sections (one mapped by a peer), 1 foreign (orphan), 1 semaphore."""
    m = [prefix + f"m{i}" for i in range(3)]
    for i, n in enumerate(m):
        admin.create(n, "64KiB", "4KiB", labels={"i": str(i)})
    creator = peers()
    foreign = prefix + "f0"
    creator.create(foreign, 8192)
    creator.exit()
    sem = "sem." + prefix + "s0"
    fd = os.open(shm_path(sem), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.write(fd, b"\0" * 32)
    os.close(fd)
    mapper = peers()
    mapper.attach(m[1])

    def mapped():
        d = admin.detail(m[1])
        return d["orphan"] is False and any(x["pid"] == mapper.pid for x in d["mapperList"])

    wait_until(mapped, timeout=3.5, what="peer mapping visible")
    return {"managed": m, "foreign": foreign, "semaphore": sem, "mapped": m[1], "mapper": mapper}


def names_of(listing):
    return [s["name"] for s in listing["sections"]]


def test_list_all_sorted_with_total(admin, prefix, population):
    ls = admin.list(q=prefix)
    names = names_of(ls)
    assert ls["total"] == 5, ls
    assert names == sorted(names)
    assert set(population["managed"] + [population["foreign"]]) <= set(names)
    sem = [s for s in ls["sections"] if s["kind"] == "semaphore"]
    assert len(sem) == 1 and prefix + "s0" in sem[0]["name"], sem
    for s in ls["sections"]:
        check_section_shape(s, s["name"])


@pytest.mark.parametrize("query,expect", [
    ({"managed": "true"}, lambda p: p["managed"]),
    ({"managed": "false"}, lambda p: [p["foreign"], "SEM"]),
    ({"kind": "shm"}, lambda p: p["managed"] + [p["foreign"]]),
    ({"kind": "semaphore"}, lambda p: ["SEM"]),
    ({"orphan": "false"}, lambda p: [p["mapped"]]),
    ({"orphan": "true", "kind": "shm"}, lambda p: [n for n in p["managed"] if n != p["mapped"]] + [p["foreign"]]),
    ({"managed": "true", "orphan": "true"}, lambda p: [n for n in p["managed"] if n != p["mapped"]]),
    ({"qsuffix": "m1"}, lambda p: [p["mapped"]]),
    ({"qsuffix": "f"}, lambda p: [p["foreign"]]),
    ({"qsuffix": "nothing-matches"}, lambda p: []),
], ids=["managed", "unmanaged", "kind-shm", "kind-sem", "not-orphan", "orphan-shm", "managed-orphan", "q-m1",
        "q-f", "q-none"])
def test_list_filters(admin, prefix, population, query, expect):
    query = dict(query)
    q = prefix + query.pop("qsuffix", "")
    ls = admin.list(q=q, **query)
    got = names_of(ls)
    want = expect(population)
    sem_names = [n for n in got if n.endswith(prefix + "s0")]
    want = sorted(sem_names[0] if n == "SEM" and sem_names else n for n in want)
    assert sorted(got) == want, (query, got)
    assert ls["total"] == len(want)


@pytest.mark.parametrize("limit,offset", [(2, 0), (2, 2), (2, 4), (10, 3), (1, 5), (0, 0)])
def test_list_limit_offset(admin, prefix, population, limit, offset):
    everything = names_of(admin.list(q=prefix))
    ls = admin.list(q=prefix, limit=limit, offset=offset)
    assert names_of(ls) == everything[offset:offset + limit]
    assert ls["total"] == 5


@pytest.mark.parametrize("query", [{"limit": "-1"}, {"limit": "abc"}, {"limit": "10001"}, {"offset": "-3"},
                                   {"managed": "maybe"}, {"kind": "bogus"}, {"orphan": "2"}])
def test_list_bad_query_400(admin, query):
    r = admin.get("/api/v1/sections", query=query)
    assert_problem(r, 400, "bad-request")


def test_detail_lists_views_mappers_holders_leases(admin, prefix, peers):
    name = prefix + "det"
    admin.create(name, "64KiB", "16KiB", labels={"a": "b"})
    r = admin.post(sec(name, "views"), json={"access": "rw"})
    assert r.status == 201, r.describe()
    view = r.json
    r = admin.post(sec(name, "lock"), json={"mode": "shared", "ttlMs": 20000})
    assert r.status == 201, r.describe()
    lease = r.json
    p = peers()
    p.attach(name)

    def seen():
        d = admin.detail(name)
        return d if any(m["pid"] == p.pid for m in d["mapperList"]) and \
            any(h["pid"] == p.pid for h in d["holderList"]) else None

    d = wait_until(seen, timeout=3.5, what="peer in mapperList and holderList")
    check_section_shape(d, name)
    assert d["labels"] == {"a": "b"}
    assert [v["id"] for v in d["viewList"]] == [view["id"]]
    assert d["viewList"][0]["address"] == view["address"] and d["viewList"][0]["access"] == "rw"
    assert d["views"] == 1
    assert d["mappers"] >= 1 and d["orphan"] is False
    m = [m for m in d["mapperList"] if m["pid"] == p.pid][0]
    assert "python" in m["command"], m
    assert re.fullmatch(r"0x[0-9a-f]+", m["start"]) and re.fullmatch(r"0x[0-9a-f]+", m["end"]), m
    assert int(m["end"], 16) - int(m["start"], 16) >= 16 * KiB
    assert m["offset"] == 0 and m["access"] == "rw"
    h = [h for h in d["holderList"] if h["pid"] == p.pid][0]
    assert isinstance(h["fd"], int) and h["fd"] >= 0 and "python" in h["command"], h
    assert [(x["lease"], x["mode"], x["expiresAt"]) for x in d["leases"]] == [
        (lease["lease"], "shared", lease["expiresAt"])], d["leases"]
    assert isinstance(d["lockHolders"], list)


def test_detail_unknown_section_404(admin, prefix):
    assert_problem(admin.get(sec(prefix + "ghost")), 404, "section-not-found")


def test_detail_invalid_name_in_path_422(admin, prefix):
    assert_problem(admin.get(sec(prefix + "\x01")), 422, "invalid-name")
    assert_problem(admin.get(sec(prefix + "x" * 300)), 422, "invalid-name")


# --------------------------------------------------------------------------------------------
# foreign sections and semaphores


def test_foreign_section_listed_and_mapper_seen(admin, prefix, peers):
    name = prefix + "py"
    p = peers()
    p.create(name, 8192)
    p.write(name, 0, b"from python")

    def listed():
        ls = admin.list(q=name)
        return ls["sections"][0] if ls["total"] == 1 else None

    s = wait_until(listed, timeout=3, what="foreign section listed")
    assert s["name"] == name and s["kind"] == "shm"
    assert s["managed"] is False and s["reserve"] is None
    assert s["commit"] == 8192 and s["namespace"] == "local" and s["state"] == "ok"

    def mapped():
        d = admin.detail(name)
        return d if any(m["pid"] == p.pid for m in d["mapperList"]) else None

    d = wait_until(mapped, timeout=3.5, what="python pid in mapperList")
    assert d["orphan"] is False and d["mappers"] >= 1
    assert admin.list(q=name)["sections"][0]["orphan"] is False
    p.exit()
    wait_until(lambda: admin.detail(name)["orphan"] is True, timeout=3.5, what="orphan after python exited")
    d = admin.detail(name)
    assert d["mapperList"] == [] and d["mappers"] == 0
    assert admin.list(q=name, orphan="true")["total"] == 1
    assert read_object(name, 0, 11) == b"from python"


@pytest.mark.parametrize("method,parts,kw", [
    ("POST", ("grow",), {"json": {"commit": "64KiB"}}),
    ("POST", ("grow",), {"json": {"by": 4096}}),
    ("POST", ("reset",), {"json": {"offset": 0, "length": 4096}}),
    ("PUT", ("data",), {"query": {"offset": 0}, "body": b"overwrite"}),
])
def test_foreign_section_mutation_403(admin, prefix, peers, method, parts, kw):
    name = prefix + "fm"
    p = peers()
    p.create(name, 8192)
    p.write(name, 0, b"untouched")
    p.exit()
    before = os.stat(shm_path(name))
    r = admin.request(method, sec(name, *parts), **kw)
    assert_problem(r, 403, "forbidden")
    after = os.stat(shm_path(name))
    assert (after.st_size, after.st_blocks) == (before.st_size, before.st_blocks)
    assert read_object(name, 0, 9) == b"untouched"


@pytest.fixture
def semaphore(prefix):
    path = shm_path("sem." + prefix + "x")
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.write(fd, b"\x01" + b"\0" * 31)
    os.close(fd)
    return "sem." + prefix + "x"


def _sem_entry(admin, prefix):
    ls = admin.list(q=prefix + "x", kind="semaphore")
    assert ls["total"] == 1, ls
    return ls["sections"][0]


def test_semaphore_listed(admin, prefix, semaphore):
    s = _sem_entry(admin, prefix)
    assert s["kind"] == "semaphore" and s["managed"] is False
    assert s["name"] in (semaphore, semaphore[len("sem."):]), s["name"]
    assert admin.list(q=prefix + "x", kind="shm")["total"] == 0


@pytest.mark.parametrize("method,parts,kw", [
    ("DELETE", (), {}),
    ("DELETE", (), {"query": {"force": "true"}}),
    ("POST", ("grow",), {"json": {"by": 4096}}),
    ("POST", ("reset",), {"json": {"offset": 0, "length": 4096}}),
    ("PUT", ("data",), {"query": {"offset": 0}, "body": b"zz"}),
    ("POST", ("adopt",), {"json": {}}),
])
def test_semaphore_never_mutated_403(admin, prefix, semaphore, method, parts, kw):
    s = _sem_entry(admin, prefix)
    r = admin.request(method, sec(s["name"], *parts), **kw)
    assert_problem(r, 403, "forbidden")
    with open(shm_path(semaphore), "rb") as f:
        assert f.read() == b"\x01" + b"\0" * 31
    assert _sem_entry(admin, prefix)["managed"] is False


# --------------------------------------------------------------------------------------------
# adopt


def _foreign(peers, name, size, data=b""):
    p = peers()
    p.create(name, size)
    if data:
        p.write(name, 0, data)
    p.exit()


def test_adopt_foreign_then_grow(admin, prefix, peers):
    name = prefix + "adopt"
    _foreign(peers, name, 10000, b"adopt me")
    r = admin.post(sec(name, "adopt"), json={"reserve": "1MiB", "labels": {"owner": "t"}})
    assert r.status == 200, r.describe()
    s = r.json
    assert s["managed"] is True and s["reserve"] == MiB and s["labels"] == {"owner": "t"}
    assert s["commit"] == 10000 and os.stat(shm_path(name)).st_size == 10000
    d = admin.detail(name)
    assert d["managed"] is True and d["reserve"] == MiB
    r = admin.post(sec(name, "grow"), json={"commit": "64KiB"})
    assert r.status == 200, r.describe()
    assert r.json["commit"] == 64 * KiB
    assert os.stat(shm_path(name)).st_size == 64 * KiB
    assert read_object(name, 0, 8) == b"adopt me"
    assert admin.list(q=name, managed="true")["total"] == 1
    # adopting again: already managed
    assert_problem(admin.post(sec(name, "adopt"), json={}), 409)


def test_adopt_default_reserve_is_size_rounded(admin, prefix, peers):
    name = prefix + "adef"
    _foreign(peers, name, 10000)
    r = admin.post(sec(name, "adopt"), json={})
    assert r.status == 200, r.describe()
    assert r.json["reserve"] == round_up(10000) and r.json["managed"] is True


def test_adopt_reserve_below_size_422(admin, prefix, peers):
    name = prefix + "asmall"
    _foreign(peers, name, 3 * PAGE)
    assert_problem(admin.post(sec(name, "adopt"), json={"reserve": PAGE}), 422)
    assert admin.detail(name)["managed"] is False


def test_adopt_unknown_404(admin, prefix):
    assert_problem(admin.post(sec(prefix + "nobody", "adopt"), json={}), 404, "section-not-found")


# --------------------------------------------------------------------------------------------
# grow


@pytest.mark.parametrize("body,want", [
    ({"by": "4KiB"}, 8192), ({"by": 4096}, 8192), ({"by": 1}, 8192), ({"commit": "64KiB"}, 65536),
    ({"commit": 5000}, 8192), ({"commit": "1MiB"}, MiB), ({"commit": 4096}, 4096), ({"by": "1020KiB"}, MiB),
], ids=["by-unit", "by-int", "by-1", "to-unit", "to-unaligned", "to-reserve", "to-same", "by-to-reserve"])
def test_grow(admin, prefix, body, want):
    name = prefix + "g"
    admin.create(name, "1MiB", "4KiB")
    admin.write(name, 0, b"before grow")
    r = admin.post(sec(name, "grow"), json=body)
    assert r.status == 200, r.describe()
    assert r.json["commit"] == want and r.json["reserve"] == MiB
    st = os.stat(shm_path(name))
    assert st.st_size == want
    assert st.st_blocks * 512 >= want, "grow did not allocate the new range"
    assert admin.detail(name)["commit"] == want
    assert read_object(name, 0, 11) == b"before grow"
    assert read_object(name, 4096) == b"\0" * (want - 4096)


@pytest.mark.parametrize("body,status,ptype", [
    ({"commit": 4096}, 409, "shrink-refused"),
    ({"commit": 0}, 409, "shrink-refused"),
    ({"commit": "2MiB"}, 422, "past-reserve"),
    ({"commit": MiB + 1}, 422, "past-reserve"),
    ({"by": "1MiB"}, 422, "past-reserve"),
    ({"by": -4096}, 422, None),
    ({"commit": "1XB"}, 422, "invalid-size"),
    ({}, 422, None),
])
def test_grow_refused(admin, prefix, body, status, ptype):
    name = prefix + "gr"
    admin.create(name, "1MiB", "8KiB")
    before = os.stat(shm_path(name))
    r = admin.post(sec(name, "grow"), json=body)
    if body == {}:
        assert r.status in (400, 422), r.describe()
        status = r.status
    assert_problem(r, status, ptype)
    after = os.stat(shm_path(name))
    assert (after.st_size, after.st_blocks) == (before.st_size, before.st_blocks)
    assert admin.detail(name)["commit"] == 8192


def test_commit_past_tmpfs_capacity_is_422_and_changes_nothing(admin, prefix):
    """A commit larger than the whole filesystem can never succeed: 422 past-capacity naming its size
    (not 507, which says "not now"), and nothing changes."""
    vfs = os.statvfs("/dev/shm")
    total = vfs.f_blocks * vfs.f_frsize
    target = round_up(total + GiB)
    reserve = max(64 * GiB, round_up(2 * target))
    name = prefix + "huge"
    admin.create(name, reserve, "4KiB")
    admin.write(name, 0, b"still here")
    before = os.stat(shm_path(name))
    r = admin.post(sec(name, "grow"), json={"commit": target}, timeout=60)
    p = assert_problem(r, 422, "past-capacity")
    assert p["sizeBytes"] == total and p["section"] == name
    r = admin.post(sec(name, "grow"), json={"by": target}, timeout=60)
    assert assert_problem(r, 422, "past-capacity")["sizeBytes"] == total
    after = os.stat(shm_path(name))
    assert (after.st_size, after.st_blocks) == (before.st_size, before.st_blocks)
    d = admin.detail(name)
    assert d["commit"] == 4096 and d["reserve"] == reserve
    assert read_object(name, 0, 10) == b"still here"
    # and creating a section whose commit can never fit leaves nothing behind
    for body in ({"name": prefix + "huge2", "reserve": reserve, "commit": target},
                 {"name": prefix + "huge2", "reserve": 396169500666305920}):
        r = admin.post("/api/v1/sections", json=body, timeout=60)
        assert assert_problem(r, 422, "past-capacity")["sizeBytes"] == total
        assert not os.path.exists(shm_path(prefix + "huge2"))
    # a reserve alone past the capacity costs nothing and is fine
    admin.create(prefix + "sparse", round_up(total + GiB), "4KiB")


# --------------------------------------------------------------------------------------------
# reset and pages


def test_reset_page_aligned_reads_zeros(admin, prefix):
    name = prefix + "rst"
    admin.create(name, "64KiB")
    admin.write(name, 0, b"\xab" * (64 * KiB))
    before = admin.detail(name)
    assert before["dataBytes"] == 64 * KiB
    r = admin.post(sec(name, "reset"), json={"offset": PAGE, "length": 2 * PAGE})
    assert r.status == 200, r.describe()
    assert r.json["name"] == name and r.json["commit"] == 64 * KiB, r.describe()
    data = read_object(name)
    assert data[:PAGE] == b"\xab" * PAGE
    assert data[PAGE:3 * PAGE] == b"\0" * (2 * PAGE)
    assert data[3 * PAGE:] == b"\xab" * (64 * KiB - 3 * PAGE)
    assert admin.read_raw(name, PAGE, 2 * PAGE) == b"\0" * (2 * PAGE)
    after = admin.detail(name)
    assert after["commit"] == 64 * KiB, "reset changed the commit"
    assert after["dataBytes"] == 64 * KiB - 2 * PAGE
    assert os.stat(shm_path(name)).st_size == 64 * KiB
    pages = admin.get(sec(name, "pages"), query={"from": 0, "to": 4 * PAGE}).json
    assert [(x["offset"], x["length"], x["state"]) for x in pages["runs"]] == [
        (0, PAGE, "data"), (PAGE, 2 * PAGE, "committed"), (3 * PAGE, PAGE, "data")]


@pytest.mark.parametrize("body", [{"offset": 100, "length": 4096}, {"offset": 0, "length": 100},
                                  {"offset": 4095, "length": 4097}, {"offset": 0, "length": -4096}])
def test_reset_misaligned_422(admin, prefix, body):
    name = prefix + "rmis"
    admin.create(name, "16KiB")
    admin.write(name, 0, b"\x11" * (16 * KiB))
    r = admin.post(sec(name, "reset"), json=body)
    assert_problem(r, 422)
    assert read_object(name) == b"\x11" * (16 * KiB)


def _pages_section(admin, name):
    admin.create(name, "1MiB", "64KiB")
    admin.write(name, 0, b"a" * PAGE)
    admin.write(name, 32 * KiB, b"b" * PAGE)


def runs_of(p):
    return [(r["offset"], r["length"], r["state"]) for r in p["runs"]]


def test_pages_runs(admin, prefix):
    name = prefix + "pg"
    _pages_section(admin, name)
    r = admin.get(sec(name, "pages"))
    assert r.status == 200, r.describe()
    p = r.json
    assert p["pageSize"] == PAGE and p["reserve"] == MiB and p["commit"] == 64 * KiB
    assert p["dataBytes"] == 2 * PAGE
    assert p["allocatedBytes"] == os.stat(shm_path(name)).st_blocks * 512
    assert runs_of(p) == [(0, PAGE, "data"), (PAGE, 32 * KiB - PAGE, "committed"), (32 * KiB, PAGE, "data"),
                          (32 * KiB + PAGE, 32 * KiB - PAGE, "committed"), (64 * KiB, MiB - 64 * KiB, "reserved")]
    assert p.get("truncated", False) is False


@pytest.mark.parametrize("frm,to,want", [
    (PAGE, 40 * KiB, [(PAGE, 32 * KiB - PAGE, "committed"), (32 * KiB, PAGE, "data"),
                      (32 * KiB + PAGE, 40 * KiB - 32 * KiB - PAGE, "committed")]),
    (32 * KiB, 32 * KiB + PAGE, [(32 * KiB, PAGE, "data")]),
    (60 * KiB, 128 * KiB, [(60 * KiB, 4 * KiB, "committed"), (64 * KiB, 64 * KiB, "reserved")]),
    (512 * KiB, MiB, [(512 * KiB, 512 * KiB, "reserved")]),
])
def test_pages_window(admin, prefix, frm, to, want):
    name = prefix + "pw"
    _pages_section(admin, name)
    r = admin.get(sec(name, "pages"), query={"from": frm, "to": to})
    assert r.status == 200, r.describe()
    assert runs_of(r.json) == want


@pytest.mark.parametrize("max_runs", [1, 2, 4])
def test_pages_max_runs_truncated(admin, prefix, max_runs):
    name = prefix + "pt"
    _pages_section(admin, name)
    full = runs_of(admin.get(sec(name, "pages")).json)
    r = admin.get(sec(name, "pages"), query={"maxRuns": max_runs})
    assert r.status == 200, r.describe()
    assert r.json["truncated"] is True
    assert runs_of(r.json) == full[:max_runs]
    r = admin.get(sec(name, "pages"), query={"maxRuns": 5})
    assert r.json.get("truncated", False) is False and runs_of(r.json) == full


@pytest.mark.parametrize("query", [{"from": "x"}, {"maxRuns": "-1"}, {"from": 8192, "to": 4096}])
def test_pages_bad_query(admin, prefix, query):
    name = prefix + "pq"
    admin.create(name, "64KiB")
    r = admin.get(sec(name, "pages"), query=query)
    assert r.status in (400, 422), r.describe()
    assert_problem(r, r.status)


# --------------------------------------------------------------------------------------------
# delete


def test_delete_204_object_gone(admin, prefix):
    name = prefix + "del"
    admin.create(name, 4096)
    r = admin.delete(sec(name))
    assert r.status == 204, r.describe()
    assert r.body == b""
    assert not os.path.exists(shm_path(name))
    assert_problem(admin.get(sec(name)), 404, "section-not-found")
    assert admin.list(q=name)["total"] == 0
    assert_problem(admin.delete(sec(name)), 404, "section-not-found")


def test_delete_while_mapped_409_then_force(admin, prefix, peers):
    name = prefix + "mdel"
    admin.create(name, 8192)
    p = peers()
    p.attach(name)
    wait_until(lambda: any(m["pid"] == p.pid for m in admin.detail(name)["mapperList"]), timeout=3.5,
               what="peer mapping visible")
    r = admin.delete(sec(name))
    body = assert_problem(r, 409, "section-mapped")
    assert p.pid in body.get("pids", []), body
    assert os.path.exists(shm_path(name))
    assert admin.detail(name)["managed"] is True
    r = admin.delete(sec(name), query={"force": "true"})
    assert r.status == 204, r.describe()
    assert not os.path.exists(shm_path(name))
    assert admin.list(q=name)["total"] == 0


def test_missing_managed_section_state(admin, prefix):
    name = prefix + "gone"
    admin.create(name, "64KiB", "8KiB", labels={"k": "v"})
    os.unlink(shm_path(name))

    def missing():
        r = admin.get(sec(name))
        return r.json if r.status == 200 and r.json.get("state") == "missing" else None

    d = wait_until(missing, timeout=3, what="state missing")
    assert d["managed"] is True and d["reserve"] == 64 * KiB and d["labels"] == {"k": "v"}
    assert (d["commit"], d["allocatedBytes"], d["dataBytes"]) == (0, 0, 0)
    assert admin.delete(sec(name)).status == 204
    assert_problem(admin.get(sec(name)), 404, "section-not-found")
