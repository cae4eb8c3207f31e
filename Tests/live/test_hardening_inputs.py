"""Hardening suite 2 — the bad-input catalogue: hostile requests as exact bytes over raw sockets.

One server (port 0, its own state directory, --max-body 64KiB, --shm-dir on a private 64 MiB tmpfs, or a
plain directory where mount is not permitted) holds a "victim" section with data, a label and a view.
Each row of CASES is sent on its own connection and must:
  - get one of the expected statuses (API.md's table: 400/404/405/409/413/415/416/422, 507 for a view
    past the address-space budget; 431/414/505 and some 400/413 come from libmicrohttpd itself), with an
    RFC 9457 problem body where the application answers;
  - leave the shm directory (names, sizes, modes, contents), the state directory and the victim as the
    server reports it (commit, reserve, labels, views, leases) exactly as they were, and create nothing
    in the real /dev/shm;
  - leave the server answering /healthz.
Slow-loris headers and a method-override header have their own tests below the table.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.parse

import pytest

from support.client import PROBLEM_CT, Client, sec
from support.common import PAGE
from support.raw_http import raw_request
from support.server import ShmAdminServer, stop_checked
from support.shm import RUN_PREFIX, describe_change, private_shm_dir, shm_names, snapshot

MAX_BODY = 64 * 1024
I63 = 2**63 - 1
VICTIM = RUN_PREFIX + "victim"
NEW = RUN_PREFIX + "inp-new"  # a name no case may create
VICTIM_COMMIT = 4 * PAGE
VAST = RUN_PREFIX + "vast"  # a reserve past the views' address-space budget (32 TiB)
CLOSED = "closed"  # the server closed the connection without an answer


# --------------------------------------------------------------------------------------------
# requests as bytes


def http(method, target, body=b"", headers=(), token=True, host=True, version="HTTP/1.1", ctype=None,
         length=True, ctx=None):
    """An HTTP/1.x request with `Connection: close`; `ctx` supplies the port and the admin token."""
    lines = [f"{method} {target} {version}"]
    if host:
        lines.append(f"Host: 127.0.0.1:{ctx['port']}")
    if token:
        lines.append(f"Authorization: Bearer {ctx['token']}")
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    if isinstance(body, str):
        body = body.encode("utf-8")
    if length and (body or method in ("POST", "PUT")):
        lines.append(f"Content-Length: {len(body)}")
    lines += list(headers)
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def post_json(path, body, **kw):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return lambda ctx: http("POST", path, raw, ctype="application/json", ctx=ctx, **kw)


def create(body):
    """POST /api/v1/sections with `body` (dict: NEW is the name unless it names one)."""
    if isinstance(body, dict):
        body = {"name": NEW, **body}
    return post_json("/api/v1/sections", body)


def victim(*parts):
    return sec(VICTIM, *parts)


def enc(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def chunked(body: bytes, size=4096) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


# --------------------------------------------------------------------------------------------
# the catalogue: (id, request(ctx) -> bytes, expected statuses, answered by the application)

CONTROL = list(range(0x01, 0x20)) + [0x7F]
CASES = []


def case(cid, build, expect, app=True):
    CASES.append(pytest.param(build, set(expect) if isinstance(expect, (set, tuple, list)) else {expect}, app,
                              id=cid))


# hostile names: every control character, in a JSON body and percent-encoded in a path
for c in CONTROL:
    case(f"name-json-ctl-{c:02x}", create({"name": f"h{chr(c)}x", "reserve": PAGE}), 422)
for c in CONTROL:
    case(f"name-path-ctl-{c:02x}", lambda ctx, c=c: http("DELETE", f"/api/v1/sections/h%{c:02X}x", ctx=ctx), 422)
case("name-json-nul", create({"name": "h\x00x", "reserve": PAGE}), 422)
case("name-path-nul", lambda ctx: http("DELETE", "/api/v1/sections/h%00x", ctx=ctx), 400)
case("name-json-raw-ctl", create(b'{"name":"h\x01x","reserve":4096}'), 400)
case("name-json-c1-control", create({"name": "h\u0085x", "reserve": PAGE}), 422)
for name, cid in [(".", "dot"), ("..", "dotdot"), ("a/b", "slash"), ("/", "only-slash"), ("../etc", "up"),
                  ("a\\b", "backslash"), ("", "empty"), ("x" * 256, "256-bytes"), ("é" * 128, "128-e-acute-256-bytes"),
                  ("é" * 255, "255-e-acute"), ("a" * 254 + "é", "254-plus-2-byte"), ("😀" * 64, "64-emoji-256-bytes")]:
    case(f"name-json-{cid}", create({"name": name, "reserve": PAGE}), 422)
for raw_name, cid, expect in [
        ("..", "dotdot-raw", 422), (".", "dot-raw", 422), ("%2E%2E", "dotdot-encoded", 422), ("%2e", "dot-encoded", 422),
        ("%2F", "encoded-slash", 422), ("a%2Fb", "a-encoded-slash-b", 422), ("a%2fb", "lowercase-encoded-slash", 422),
        ("%5C", "encoded-backslash", 422), ("a%5Cb", "a-encoded-backslash-b", 422),
        ("x" * 256, "256-bytes", 422), (enc("é" * 255), "255-e-acute", 422), (enc("a" * 254 + "é"), "256-multibyte", 422),
        ("%C3%28", "invalid-utf8", (400, 422)), ("%FF", "invalid-utf8-ff", (400, 422)),
        ("%C0%AF", "overlong-slash", (400, 422)), ("%ED%A0%80", "utf8-surrogate", (400, 422))]:
    case(f"name-path-{cid}", lambda ctx, n=raw_name: http("DELETE", f"/api/v1/sections/{n}", ctx=ctx), expect)
# an encoded slash must not reach another route of the victim (grow, a view's delete)
case("name-path-slash-grow", lambda ctx: http("POST", f"/api/v1/sections/{enc(VICTIM)}%2Fgrow", '{"by":4096}',
                                              ctype="application/json", ctx=ctx), (405, 422))
case("name-path-slash-view-delete",
     lambda ctx: http("DELETE", f"/api/v1/sections/{enc(VICTIM)}%2Fviews%2F{ctx['view']}", ctx=ctx), 422)
case("name-path-slash-data", lambda ctx: http("PUT", f"/api/v1/sections/{enc(VICTIM)}%2Fdata?offset=0", b"XX",
                                              ctype="application/octet-stream", ctx=ctx), (405, 422))
for raw_json, cid in [(b'{"name":"\xc3\x28","reserve":4096}', "invalid-utf8"),
                      (b'{"name":"\xc0\xaf","reserve":4096}', "overlong-slash"),
                      (b'{"name":"\xff\xfe","reserve":4096}', "ff-fe"),
                      (b'{"name":"\\ud800","reserve":4096}', "lone-surrogate"),
                      (b'{"name":"\xed\xa0\x80","reserve":4096}', "encoded-surrogate")]:
    case(f"name-json-{cid}", create(raw_json), 400)

# sizes
for value, cid in [(-1, "negative"), (-PAGE, "negative-page"), ("-1", "negative-string"), (1.5, "fraction"),
                   (4096.0, "float-whole"), ("1.5GiB", "fraction-unit"), ("1e3", "exponent-string"), ("64 KB", "unit-KB"),
                   ("64kib", "unit-lowercase"), ("64PiB", "unit-PiB"), ("1EiB", "unit-EiB"), ("0x1000", "hex"),
                   ("", "empty-string"), (" 4096", "leading-space"), ("4096KiB ", "trailing-space"),
                   (2**63, "2^63-number"), (str(2**63), "2^63-string"), (2**64, "2^64-number"),
                   (I63, "int64-max-rounds-over"), (str(I63), "int64-max-string"), ("8589934592GiB", "unit-overflow"),
                   ("16777216TiB", "TiB-overflow"), (0, "zero"), (True, "boolean"), (None, "null"),
                   ([4096], "array"), ({"bytes": 4096}, "object")]:
    case(f"size-reserve-{cid}", create({"reserve": value}), 422)
case("size-reserve-exponent", create(b'{"name":"%s","reserve":4e3}' % NEW.encode()), 422)
case("size-reserve-1e400", create(b'{"name":"%s","reserve":1e400}' % NEW.encode()), 422)
case("size-reserve-minus-zero-fraction", create(b'{"name":"%s","reserve":-0.0}' % NEW.encode()), 422)
case("size-commit-over-reserve", create({"reserve": PAGE, "commit": 2 * PAGE}), 422)
case("size-commit-negative", create({"reserve": PAGE, "commit": -1}), 422)
for body, cid, expect in [({"by": -PAGE}, "by-negative", 422), ({"by": I63}, "by-overflow", 422),
                          ({"commit": 2**63}, "commit-2^63", 422), ({"commit": "-1"}, "commit-negative-string", 422),
                          ({"by": "1.5K"}, "by-fraction-unit", 422), ({"commit": PAGE}, "shrink", 409),
                          ({"commit": "1TiB"}, "past-reserve", 422), ({"commit": PAGE, "by": PAGE}, "both", 422),
                          ({}, "neither", 422)]:
    case(f"size-grow-{cid}", lambda ctx, b=body: post_json(victim("grow"), b)(ctx), expect)

# offsets and lengths that overflow when added
for query, cid, expect in [
        (f"offset={I63}&length=2&format=raw", "raw-offset-max-plus-2", 416),
        (f"offset={I63}&length=2&format=hex", "hex-offset-max-plus-2", 416),
        (f"offset=1&length={I63}&format=raw", "raw-length-max", 416),
        (f"offset={I63 - 1}&length=2&format=base64", "base64-end-past-max", 416),
        (f"offset={2**63}", "offset-2^63", 400), ("offset=-1", "offset-negative", 400),
        ("length=-1", "length-negative", 400), ("length=1.5", "length-fraction", 400),
        ("format=xml", "unknown-format", 400), ("lock=maybe", "lock-not-bool", 400),
        ("lockTimeoutMs=-1", "lock-timeout-negative", 400), (f"lockTimeoutMs={2**64}", "lock-timeout-huge", 400)]:
    case(f"data-get-{cid}", lambda ctx, q=query: http("GET", f"{victim('data')}?{q}", ctx=ctx), expect)
case("data-get-range-near-2^63", lambda ctx: http("GET", f"{victim('data')}?format=raw", ctx=ctx, headers=[
    f"Range: bytes={I63 - 1}-{I63}"]), 416)
for query, body, cid, expect in [
        (f"offset={I63}", b"ab", "offset-max", 416), (f"offset={I63 - 1}&partial=true", b"abcd", "partial-overflow", 416),
        (f"offset={VICTIM_COMMIT - 1}", b"ab", "one-past-commit", 416), ("offset=-1", b"ab", "offset-negative", 400),
        ("", b"ab", "offset-missing", 400), (f"offset={2**63}", b"ab", "offset-2^63", 400)]:
    case(f"data-put-{cid}", lambda ctx, q=query, b=body: http("PUT", f"{victim('data')}?{q}", b,
                                                               ctype="application/octet-stream", ctx=ctx), expect)
for body, cid, expect in [
        ({"offset": I63 // PAGE * PAGE, "length": 2 * PAGE}, "offset-near-2^63", 416),
        ({"offset": PAGE, "length": I63 - (I63 % PAGE)}, "length-near-2^63", 416),
        ({"offset": -PAGE, "length": PAGE}, "offset-negative", 422), ({"offset": 1, "length": PAGE}, "misaligned", 422),
        ({"offset": 0, "length": 2**63}, "length-2^63", 422), ({"offset": 0}, "length-missing", 422)]:
    case(f"reset-{cid}", lambda ctx, b=body: post_json(victim("reset"), b)(ctx), expect)
for body, cid in [({"offset": I63 - (I63 % PAGE), "length": 2 * PAGE, "access": "ro"}, "offset-near-2^63"),
                  ({"offset": PAGE, "length": I63, "access": "ro"}, "length-max"),
                  ({"offset": -PAGE, "access": "rw"}, "offset-negative"), ({"access": "rwx"}, "access-unknown")]:
    case(f"view-{cid}", lambda ctx, b=body: post_json(victim("views"), b)(ctx), 422)
case("view-past-address-budget", lambda ctx: post_json(sec(VAST, "views"), {"access": "ro"})(ctx), 507)
case("view-past-address-budget-length",
     lambda ctx: post_json(sec(VAST, "views"), {"access": "ro", "length": 33 << 40})(ctx), 507)
for query, cid in [("from=2&to=1", "from-past-to"), ("from=-1", "from-negative"), ("maxRuns=0", "max-runs-zero"),
                   (f"maxRuns={2**63}", "max-runs-2^63")]:
    case(f"pages-{cid}", lambda ctx, q=query: http("GET", f"{victim('pages')}?{q}", ctx=ctx), 400)

# JSON: deep, huge, duplicated keys, not an object, trailing bytes
case("json-deep-arrays-10000", create(b"[" * 10000 + b"]" * 10000), 400)
case("json-deep-objects-10000", create(b'{"a":' * 10000 + b"1" + b"}" * 10000), 400)
case("json-deep-in-labels", create(b'{"name":"x","reserve":4096,"labels":' + b'{"a":' * 40 + b'"v"' + b"}" * 41), 400)


def at_limit(prefix: bytes, suffix: bytes) -> bytes:
    return prefix + b"x" * (MAX_BODY - len(prefix) - len(suffix)) + suffix


case("json-at-limit-giant-name", create(at_limit(b'{"reserve":4096,"name":"', b'"}')), 422)
case("json-at-limit-giant-unknown", create(at_limit(b'{"reserve":4096,"name":"%s","junk":"' % NEW.encode(), b'"}')),
     400)
case("json-at-limit-giant-label", create(at_limit(b'{"reserve":4096,"name":"%s","labels":{"a":"' % NEW.encode(),
                                                  b'"}}')), 422)
case("json-dup-name", create(b'{"name":"%s","name":"%sb","reserve":4096}' % (NEW.encode(), NEW.encode())), 400)
case("json-dup-reserve", create(b'{"name":"%s","reserve":4096,"reserve":8192}' % NEW.encode()), 400)
case("json-dup-escaped-key", create(b'{"name":"%s","reserve":4096,"reserv\\u0065":8192}' % NEW.encode()), 400)
case("json-dup-label", create(b'{"name":"%s","reserve":4096,"labels":{"a":"1","a":"2"}}' % NEW.encode()), 400)
case("json-dup-grow", lambda ctx: post_json(victim("grow"), b'{"by":4096,"by":4096}')(ctx), 400)
for raw_json, cid in [(b"", "empty"), (b"null", "null"), (b"[]", "array"), (b'"x"', "string"),
                      (b'{"reserve":4096} {}', "two-values"), (b'{"reserve":4096}x', "trailing"),
                      (b'\xef\xbb\xbf{"reserve":4096}', "bom"), (b'{"reserve":4096,}', "trailing-comma"),
                      (b"{'reserve':4096}", "single-quotes"), (b'{"reserve":04096}', "leading-zero"),
                      (b'{"reserve":NaN}', "nan"), (b'{"name":"%s","reserve":4096,"extra":1}' % NEW.encode(), "unknown")]:
    case(f"json-{cid}", create(raw_json), 400)

# wrong content types
BODY = json.dumps({"name": NEW, "reserve": PAGE})
for ctype, cid in [(None, "none"), ("text/plain", "text-plain"), ("application/x-www-form-urlencoded", "form"),
                   ("multipart/form-data; boundary=x", "multipart"), ("application/jsonx", "jsonx"),
                   ("application/xml", "xml"), ("json", "bare-json")]:
    case(f"ctype-{cid}", lambda ctx, t=ctype: http("POST", "/api/v1/sections", BODY, ctype=t, ctx=ctx), 415)
case("ctype-empty", lambda ctx: http("POST", "/api/v1/sections", BODY, headers=["Content-Type:"], ctx=ctx), 415)
case("ctype-utf16", lambda ctx: http("POST", "/api/v1/sections", BODY.encode("utf-16"),
                                     ctype="application/json; charset=utf-16", ctx=ctx), 400)
case("ctype-put-json", lambda ctx: http("PUT", f"{victim('data')}?offset=0", b'{"a":1}', ctype="application/json",
                                        ctx=ctx), 415)
case("ctype-put-problem-json", lambda ctx: http("PUT", f"{victim('data')}?offset=0", b'{"a":1}',
                                                ctype="application/problem+json", ctx=ctx), 415)
case("ctype-grow-text", lambda ctx: http("POST", victim("grow"), '{"by":4096}', ctype="text/plain", ctx=ctx), 415)

# bodies over --max-body (the 413 comes before the body is read; only its head is sent)
case("body-over-limit-create", lambda ctx: http("POST", "/api/v1/sections", b"{" * 100, ctype="application/json",
                                                length=False, headers=[f"Content-Length: {MAX_BODY + 1}"], ctx=ctx), 413)
case("body-over-limit-put", lambda ctx: http("PUT", f"{victim('data')}?offset=0", b"X" * 100, length=False,
                                             ctype="application/octet-stream",
                                             headers=[f"Content-Length: {MAX_BODY + 1}"], ctx=ctx), 413)
case("body-content-length-1e18", lambda ctx: http("POST", "/api/v1/sections", ctype="application/json", length=False,
                                                  headers=["Content-Length: 1000000000000000000"], ctx=ctx), 413)
case("body-content-length-overflow", lambda ctx: http(
    "POST", "/api/v1/sections", ctype="application/json", length=False,
    headers=["Content-Length: 99999999999999999999999"], ctx=ctx), 413, app=False)
case("body-content-length-negative", lambda ctx: http("POST", "/api/v1/sections", ctype="application/json",
                                                      length=False, headers=["Content-Length: -5"], ctx=ctx), 400,
     app=False)
case("body-content-length-twice", lambda ctx: http("POST", "/api/v1/sections", b"{}", ctype="application/json",
                                                   length=False, headers=["Content-Length: 2", "Content-Length: 7"],
                                                   ctx=ctx), 400)
case("body-content-length-twice-same", lambda ctx: http("POST", "/api/v1/sections", b"{}", ctype="application/json",
                                                        length=False, headers=["Content-Length: 2"] * 2, ctx=ctx), 400)
case("body-chunked-over-limit", lambda ctx: http(
    "POST", "/api/v1/sections", chunked(b'{"name":"' + b"x" * (MAX_BODY + 10) + b'"}'), ctype="application/json",
    length=False, headers=["Transfer-Encoding: chunked"], ctx=ctx), 413)
case("body-chunked-put-over-limit", lambda ctx: http(
    "PUT", f"{victim('data')}?offset=0", chunked(b"Z" * (MAX_BODY + 1)), ctype="application/octet-stream",
    length=False, headers=["Transfer-Encoding: chunked"], ctx=ctx), 413)

# chunked bodies
case("chunked-hostile-name", lambda ctx: http(
    "POST", "/api/v1/sections", chunked(json.dumps({"name": "a/b", "reserve": PAGE}).encode(), 3),
    ctype="application/json", length=False, headers=["Transfer-Encoding: chunked"], ctx=ctx), 422)
case("chunked-bad-size", lambda ctx: http("POST", "/api/v1/sections", b"zz\r\n{}\r\n0\r\n\r\n", ctype="application/json",
                                          length=False, headers=["Transfer-Encoding: chunked"], ctx=ctx), 400, app=False)
case("chunked-and-content-length", lambda ctx: http(
    "POST", "/api/v1/sections", chunked(json.dumps({"name": "a\\b", "reserve": PAGE}).encode()), length=False,
    ctype="application/json", headers=["Transfer-Encoding: chunked", "Content-Length: 5"], ctx=ctx), 400)
case("chunked-put-past-commit", lambda ctx: http(
    "PUT", f"{victim('data')}?offset={VICTIM_COMMIT - 1}", chunked(b"ab", 1), ctype="application/octet-stream",
    length=False, headers=["Transfer-Encoding: chunked"], ctx=ctx), 416)

# Host, headers, methods
case("no-host-http10", lambda ctx: http("GET", "/api/v1/sections", host=False, version="HTTP/1.0", ctx=ctx), 400)
case("no-host-http11", lambda ctx: http("GET", "/api/v1/sections", host=False, ctx=ctx), 400)
case("no-host-delete", lambda ctx: http("DELETE", victim(), host=False, ctx=ctx), 400)
case("empty-host", lambda ctx: http("DELETE", victim(), host=False, headers=["Host:"], ctx=ctx), 400)
case("two-hosts", lambda ctx: http("DELETE", victim(), headers=["Host: evil.example"], ctx=ctx), 400)
case("foreign-host", lambda ctx: http("DELETE", victim(), host=False, headers=["Host: evil.example"], ctx=ctx), 403)
case("override-on-post", lambda ctx: http("POST", victim(), b"", ctx=ctx, headers=[
    "X-HTTP-Method-Override: DELETE", "X-Method-Override: DELETE"]), 405)
case("override-query-on-post", lambda ctx: http("POST", victim() + "?_method=DELETE", b"", ctx=ctx), 405)
case("header-100k", lambda ctx: http("GET", "/healthz", ctx=ctx, headers=["X-Big: " + "a" * 100_000]), 431, app=False)
case("header-authorization-100k", lambda ctx: http("DELETE", victim(), token=False, ctx=ctx,
                                                   headers=["Authorization: Bearer " + "t" * 100_000]), 431, app=False)
case("headers-5000", lambda ctx: http("GET", "/healthz", ctx=ctx, headers=[f"X-H{i}: v" for i in range(5000)]), 431,
     app=False)
case("url-100k", lambda ctx: http("GET", "/api/v1/sections/" + "a" * 100_000, ctx=ctx), (414, 431), app=False)
case("query-100k", lambda ctx: http("GET", "/api/v1/sections?q=" + "a" * 100_000, ctx=ctx), (414, 431), app=False)
for method in ("TRACE", "PATCH", "OPTIONS", "CONNECT", "BREW", "delete", "Delete", "PROPFIND"):
    case(f"method-{method}", lambda ctx, m=method: http(m, victim(), ctx=ctx), 405)
case("method-trace-root", lambda ctx: http("TRACE", "/", ctx=ctx), 405)
case("method-options-star", lambda ctx: http("OPTIONS", "*", ctx=ctx), (400, 404))
case("version-http2", lambda ctx: http("DELETE", victim(), version="HTTP/2.0", ctx=ctx), 505, app=False)


# --------------------------------------------------------------------------------------------
# the server and the state to compare


@pytest.fixture(scope="module")
def hostile(shm_admin_bin, tmp_path_factory, shm_run_prefix):
    base = tmp_path_factory.mktemp("hardening-inputs")
    with private_shm_dir(base) as (shm_dir, is_tmpfs):
        srv = ShmAdminServer(shm_admin_bin, base / "state", log_dir=base,
                             extra_args=["--shm-dir", str(shm_dir), "--max-body", str(MAX_BODY)]).start()
        try:
            admin = srv.client()
            admin.create(VICTIM, 16 * PAGE, VICTIM_COMMIT, labels={"role": "victim"})
            admin.write(VICTIM, 0, b"precious bytes")
            admin.create(VAST, "40TiB", PAGE)
            r = admin.post(victim("views"), json={"access": "rw"})
            assert r.status == 201, r.describe()
            ctx = {"port": srv.port, "token": srv.admin_token, "view": r.json["id"], "server": srv, "admin": admin,
                   "shm_dir": shm_dir, "state_dir": base / "state", "base": base, "is_tmpfs": is_tmpfs}
            yield ctx
        finally:
            stop_checked(srv)


def observed(ctx) -> dict:
    """Everything a hostile request must leave alone."""
    r = ctx["admin"].get(victim(), timeout=10)
    assert r.status == 200, r.describe()
    d = r.json
    server_view = {k: d.get(k) for k in ("commit", "reserve", "labels", "namespace", "mode")}
    server_view["views"] = sorted((v["id"], v["offset"], v["length"], v["access"]) for v in d.get("viewList", []))
    server_view["leases"] = sorted(lease["lease"] for lease in d.get("leases", []))
    listing = ctx["admin"].get("/api/v1/sections", query={"limit": 10000}, timeout=10)
    assert listing.status == 200, listing.describe()
    return {"shm": snapshot(ctx["shm_dir"]), "state": snapshot(ctx["state_dir"]), "victim": server_view,
            "names": sorted(s["name"] for s in listing.json["sections"]),
            "beside": sorted(os.listdir(ctx["base"]))}  # nothing lands next to the shm directory either


def assert_problem_body(resp, where):
    ct = (resp.header("Content-Type") or "").split(";")[0].strip().lower()
    assert ct == PROBLEM_CT, f"{where}: content-type {ct!r}: {resp.describe()}"
    body = json.loads(resp.body.decode("utf-8"))
    for key in ("type", "title", "status", "detail"):
        assert key in body, f"{where}: problem lacks {key!r}: {resp.describe()}"
    assert body["status"] == resp.status and body["type"].startswith("/problems/"), resp.describe()


@pytest.mark.parametrize("build,expect,app", CASES)
def test_hostile_request(hostile, build, expect, app, request):
    where = request.node.callspec.id
    data = build(hostile)
    before = observed(hostile)
    real_before = shm_names()
    resp = raw_request(hostile["port"], data, timeout=15)
    outcome = resp.status if resp.status is not None else (CLOSED if resp.closed else None)
    assert outcome in expect, f"{where}: expected {sorted(map(str, expect))}, got {outcome}: {resp.describe()}"
    if app and resp.status is not None:
        assert_problem_body(resp, where)
    if resp.status == 405:
        assert resp.header("Allow"), f"{where}: 405 without Allow: {resp.describe()}"
    assert hostile["server"].alive(), f"{where}: the server died; {hostile['server'].diagnostics()}"
    health = Client(hostile["port"]).get("/healthz", timeout=10)
    assert health.status == 200 and health.json == {"status": "ok"}, f"{where}: {health.describe()}"
    after = observed(hostile)
    for part in ("shm", "state"):
        assert after[part] == before[part], f"{where}: {part} directory changed: " \
                                            f"{describe_change(before[part], after[part])}"
    assert after["victim"] == before["victim"], f"{where}: victim changed: {before['victim']} -> {after['victim']}"
    assert after["names"] == before["names"], f"{where}: sections changed: {before['names']} -> {after['names']}"
    assert after["beside"] == before["beside"], f"{where}: {before['beside']} -> {after['beside']}"
    escaped = {n for n in shm_names() - real_before
               if n.startswith(RUN_PREFIX) or (len(n) == 3 and n[0] == "h" and n[2] == "x")}
    assert not escaped, f"{where}: {sorted(escaped)!r} appeared in the real /dev/shm"


def test_catalogue_size():
    assert len(CASES) >= 40, len(CASES)


def test_method_override_header_on_get_does_not_delete(hostile):
    before = observed(hostile)
    for header in ("X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method"):
        resp = raw_request(hostile["port"], http("GET", victim() + "?_method=DELETE", ctx=hostile,
                                                 headers=[f"{header}: DELETE"]))
        assert resp.status == 200, resp.describe()
        assert json.loads(resp.body)["name"] == VICTIM
    assert observed(hostile) == before


def test_slow_loris_headers_do_not_stop_others(hostile):
    """Twenty clients send their headers a byte at a time; meanwhile others are served at once. (The
    server has no flag for a short idle timeout, so the slow clients are not waited out here.)"""
    port = hostile["port"]
    head = (f"GET /api/v1/sections HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: "
            + "s" * 400 + "\r\n\r\n").encode()
    stop = threading.Event()
    sent = []

    def drip():
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        n, error = 0, None
        try:
            for i in range(len(head) - 4):  # never finishes the head
                if stop.is_set():
                    break
                s.sendall(head[i:i + 1])
                n += 1
                time.sleep(0.02)
        except OSError as e:
            error = e
        finally:
            sent.append((n, error))
            s.close()

    threads = [threading.Thread(target=drip, daemon=True) for _ in range(20)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        client = Client(port, hostile["token"])
        deadline = time.monotonic() + 4.0
        served = 0
        for _ in range(200):
            if time.monotonic() >= deadline:
                break
            t0 = time.monotonic()
            for path in ("/healthz", victim(), "/api/v1/system"):
                r = client.get(path, timeout=5)
                assert r.status == 200, r.describe()
            served += 1
            assert time.monotonic() - t0 < 2.0, "requests stalled behind slow clients"
        assert served >= 5, served
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    # Within the idle timeout (30 s) a slow client is still connected: nothing refused its bytes.
    assert len(sent) == 20 and all(n > 10 and error is None for n, error in sent), sent
