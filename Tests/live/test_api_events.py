"""Live tests: Server-Sent Events for changes made through the API and by other processes."""

import os
import re

import pytest

from support.client import sec
from support.common import KiB
from support.shm import shm_path
from support.sse import EventStream

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture
def events(server):
    es = EventStream(server.port)
    yield es
    es.close()


def for_section(kind, name, source=None):
    def match(ev):
        j = ev.get("json") or {}
        return ev.get("event") == kind and j.get("section") == name and (source is None or j.get("source") == source)
    return match


def check_event(ev, kind, name, source):
    j = ev["json"]
    assert j is not None, ev
    assert j["type"] == kind and j["section"] == name and j["source"] == source, j
    assert int(ev["id"]) == j["id"], ev
    assert RFC3339.match(j["time"]), j


def test_events_stream_head_and_connected(events):
    assert events.status == 200
    assert events.headers.get("content-type", "").startswith("text/event-stream"), events.headers
    events.wait_comment(": connected", timeout=5)


def test_events_for_api_changes(admin, prefix, events):
    events.wait_comment(": connected", timeout=5)
    name = prefix + "ev"
    admin.create(name, "64KiB", "4KiB")
    assert admin.post(sec(name, "grow"), json={"by": "4KiB"}).status == 200
    admin.write(name, 0, b"evt")
    assert admin.delete(sec(name)).status == 204
    created = events.wait_event(for_section("created", name), what=f"created {name}")
    grown = events.wait_event(for_section("grown", name), what=f"grown {name}")
    written = events.wait_event(for_section("written", name), what=f"written {name}")
    deleted = events.wait_event(for_section("deleted", name), what=f"deleted {name}")
    check_event(created, "created", name, "api")
    check_event(grown, "grown", name, "api")
    check_event(written, "written", name, "api")
    check_event(deleted, "deleted", name, "api")
    assert int(created["id"]) < int(grown["id"]) < int(written["id"]) < int(deleted["id"])


def test_events_for_views_and_locks(admin, prefix, events):
    events.wait_comment(": connected", timeout=5)
    name = prefix + "evl"
    admin.create(name, "64KiB")
    v = admin.post(sec(name, "views"), json={"access": "rw"}).json
    admin.post(sec(name, "views", v["id"], "move"), json={"oldAddress": v["address"]})
    admin.delete(sec(name, "views", v["id"]))
    lease = admin.post(sec(name, "lock"), json={"mode": "exclusive"}).json
    admin.delete(sec(name, "lock", lease["lease"]))
    admin.post(sec(name, "reset"), json={"offset": 0, "length": 4096})
    for kind in ("view-mapped", "view-moved", "view-unmapped", "locked", "unlocked", "reset"):
        ev = events.wait_event(for_section(kind, name), what=f"{kind} {name}")
        check_event(ev, kind, name, "api")


def test_events_for_external_changes(admin, prefix, events, peers):
    events.wait_comment(": connected", timeout=5)
    name = prefix + "ext"
    p = peers()
    p.create(name, 8192)
    ev = events.wait_event(for_section("created", name, "external"), timeout=5, what=f"external created {name}")
    check_event(ev, "created", name, "external")
    p.exit()
    os.unlink(shm_path(name))
    ev = events.wait_event(for_section("deleted", name, "external"), timeout=5, what=f"external deleted {name}")
    check_event(ev, "deleted", name, "external")


def test_events_adopted(admin, prefix, events, peers):
    events.wait_comment(": connected", timeout=5)
    name = prefix + "evad"
    p = peers()
    p.create(name, 4 * KiB)
    p.exit()
    assert admin.post(sec(name, "adopt"), json={}).status == 200
    ev = events.wait_event(for_section("adopted", name), what=f"adopted {name}")
    check_event(ev, "adopted", name, "api")


def test_events_two_clients_see_the_same_event(server, admin, prefix):
    a, b = EventStream(server.port), EventStream(server.port)
    try:
        a.wait_comment(": connected")
        b.wait_comment(": connected")
        name = prefix + "two"
        admin.create(name, 4096)
        ea = a.wait_event(for_section("created", name))
        eb = b.wait_event(for_section("created", name))
        assert ea["id"] == eb["id"] and ea["json"] == eb["json"]
    finally:
        a.close()
        b.close()


def test_stalled_event_client_does_not_block_others(server, admin, prefix):
    """A client that never reads must not stop requests or other event clients."""
    import socket
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
    live = EventStream(server.port)
    try:
        live.wait_comment(": connected")
        last = None
        for i in range(150):
            n = f"{prefix}st{i}"
            admin.create(n, 4096, labels={"pad": "p" * 200})
            assert admin.delete(sec(n)).status == 204
            last = n
        ev = live.wait_event(for_section("deleted", last), timeout=10, what="last event on the live client")
        check_event(ev, "deleted", last, "api")
        assert admin.get("/healthz").status == 200
    finally:
        stalled.close()
        live.close()
