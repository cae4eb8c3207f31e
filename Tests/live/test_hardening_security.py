"""Hardening, suite 5 (issue 6): security.

No mutation and no byte of section data without the admin token (every admin route of the served
openapi.json, without a token, with a wrong one, with the read token); a read token on a
non-loopback bind; the Host check; no path outside /dev/shm or the static directory through names,
view ids or static paths; a `global` section refused to the read token; a section another user owns
(a server run as `nobody` can neither read nor write root's 0600 object; the root server can).

Traffic goes to 127.0.0.1 only, also for the server bound to 0.0.0.0. Every loop is bounded; objects
carry the test's prefix and are removed afterwards; servers started here are stopped by their pid.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from support.client import Client, assert_problem, sec
from support.common import REPO_ROOT, wait_until
from support.shm import SHM_DIR, read_object, shm_path, unlink_quietly

ADMIN = "A" * 24 + secrets.token_hex(8)
READ = "R" * 24 + secrets.token_hex(8)
WRONG = "W" * 24 + secrets.token_hex(8)
LEVELS = ("public", "read", "admin")


def routes() -> list[tuple[str, str, str]]:
    """(METHOD, path template, level) of every operation in openapi.json."""
    doc = json.loads((REPO_ROOT / "openapi.json").read_text())
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method in ("get", "put", "post", "delete", "patch", "head"):
                level = op.get("x-shm-admin-level")
                assert level in LEVELS, (method, path, level)
                out.append((method.upper(), path, level))
    return out


ADMIN_ROUTES = [(m, p) for m, p, lvl in routes() if lvl == "admin"]


def shm_state(prefix: str) -> dict[str, tuple]:
    """What a mutation would change: every PREFIX… entry's type, size, blocks, mode, owner, bytes."""
    out = {}
    for n in sorted(os.listdir(SHM_DIR)):
        if not n.startswith(prefix):
            continue
        st = os.lstat(shm_path(n))
        digest = None
        if stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(read_object(n)).hexdigest()
        out[n] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_blocks, stat.S_IMODE(st.st_mode), st.st_uid, digest)
    return out


def raw_request(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Sends bytes as they are and reads the answer until the server closes (Connection: close)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        for _ in range(1000):
            if time.monotonic() > deadline:
                break
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def status_of(raw: bytes) -> int:
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    assert m, raw[:200]
    return int(m.group(1))


# --------------------------------------------------------------------------------------------
# no mutation and no byte of section data without the admin token


@pytest.fixture
def guarded(server_factory, prefix, peers):
    """A server with admin and read tokens, and on it: a managed section holding a secret, one of its
    views, a lease on it, and a foreign section holding a secret too."""
    srv = server_factory(token=ADMIN, read_token=READ)
    admin = srv.client()
    secret = b"TOPSECRET-" + secrets.token_hex(12).encode()
    name = prefix + "vault"
    admin.create(name, "64KiB", "16KiB", labels={"tier": "gold"})
    admin.write(name, 100, secret)
    r = admin.post(sec(name, "views"), json={"access": "rw"})
    assert r.status == 201, r.describe()
    view = r.json
    r = admin.post(sec(name, "lock"), json={"mode": "shared", "ttlMs": 600000})
    assert r.status == 201, r.describe()
    lease = r.json["lease"]
    foreign = prefix + "foreign"
    peer = peers()
    peer.create(foreign, 8192)
    peer.write(foreign, 0, secret)
    return {"srv": srv, "admin": admin, "secret": secret, "name": name, "view": view, "lease": lease,
            "foreign": foreign}


def admin_request(method: str, template: str, g: dict):
    """A valid request for an admin route, aimed at the guarded objects: (path, query, json, body)."""
    name = g["foreign"] if template.endswith("/adopt") else g["name"]
    path = (template.replace("{name}", _quote(name)).replace("{id}", g["view"]["id"])
            .replace("{lease}", g["lease"]))
    query, body_json, body = None, None, None
    if template == "/api/v1/sections" and method == "POST":
        body_json = {"name": g["name"] + "-new", "reserve": 4096, "namespace": "global"}
    elif template.endswith("/grow"):
        body_json = {"by": 4096}
    elif template.endswith("/reset"):
        body_json = {"offset": 0, "length": 4096}
    elif template.endswith("/adopt"):
        body_json = {"labels": {"stolen": "yes"}}
    elif template.endswith("/data") and method == "GET":
        query = {"format": "raw"}
    elif template.endswith("/data") and method == "PUT":
        query, body = {"offset": 100}, b"OVERWRITTEN-BY-AN-INTRUDER"
    elif template.endswith("/views") and method == "POST":
        body_json = {"access": "rw"}
    elif template.endswith("/move"):
        body_json = {"oldAddress": g["view"]["address"], "newAddress": None}
    elif template.endswith("/lock") and method == "POST":
        body_json = {"mode": "exclusive", "timeoutMs": 0}
    elif method == "DELETE" and template == "/api/v1/sections/{name}":
        query = {"force": "true"}
    return path, query, body_json, body


def _quote(name: str) -> str:
    import urllib.parse
    return urllib.parse.quote(name, safe="")


def test_route_table_is_covered():
    """Every admin route of openapi.json gets a request below: a new route cannot slip past this suite."""
    templates = {t for _, t in ADMIN_ROUTES}
    assert len(ADMIN_ROUTES) >= 14, ADMIN_ROUTES
    assert {"/api/v1/sections/{name}/data", "/api/v1/sections/{name}/views/{id}/data",
            "/api/v1/sections/{name}/lock/{lease}"} <= templates


@pytest.mark.parametrize("who", ["no-token", "wrong-token", "read-token"])
def test_no_admin_route_without_the_admin_token(guarded, prefix, who):
    g = guarded
    srv, secret = g["srv"], g["secret"]
    token = {"no-token": None, "wrong-token": WRONG, "read-token": READ}[who]
    want = 403 if who == "read-token" else 401
    c = srv.client(token=token)
    before = shm_state(prefix)
    detail_before = g["admin"].detail(g["name"])
    tried = []
    for method, template in ADMIN_ROUTES:
        path, query, body_json, body = admin_request(method, template, g)
        kw = {"query": query}
        if body_json is not None:
            kw["json"] = body_json
        if body is not None:
            kw["body"] = body
        methods = [method] + (["HEAD"] if method == "GET" else [])
        for m in methods:
            r = c.request(m, path, **kw)
            tried.append(f"{m} {template}")
            if m == "HEAD":
                assert r.status == want and r.body == b"", r.describe()
                continue
            p = assert_problem(r, want, "forbidden" if want == 403 else "unauthorized")
            if want == 401:
                assert (r.header("WWW-Authenticate") or "").startswith("Bearer"), r.describe()
            assert secret not in r.body, r.describe()
            assert g["name"] not in p["detail"] or who == "read-token", p
    assert len(tried) >= len(ADMIN_ROUTES)
    # nothing changed: same objects, sizes, modes, bytes; the view and the lease are still there
    assert shm_state(prefix) == before
    after = g["admin"].detail(g["name"])
    assert [v["id"] for v in after["viewList"]] == [v["id"] for v in detail_before["viewList"]]
    assert after["viewList"][0]["address"] == g["view"]["address"]
    assert [x["lease"] for x in after["leases"]] == [g["lease"]]
    assert after["labels"] == {"tier": "gold"}
    assert g["admin"].detail(g["foreign"])["managed"] is False
    assert not os.path.exists(shm_path(g["name"] + "-new"))


def test_read_level_never_carries_section_data(guarded, prefix):
    """Everything the read token may fetch — lists, details, pages, views, metrics, system, events —
    holds no byte of any section's data."""
    g = guarded
    srv, secret = g["srv"], g["secret"]
    c = srv.client(token=READ)
    bodies = []
    for method, template, level in routes():
        if level != "read" or template == "/api/v1/events":
            continue
        if "{ipc}" in template or "{object}" in template:
            continue  # System V and unlinked objects: not sections (their own tests are test_host_*.py)
        for name in (g["name"], g["foreign"]):
            path = template.replace("{name}", _quote(name)).replace("{mount}", "host")
            r = c.request(method, path)
            assert r.status == 200, r.describe()
            bodies.append(r.body)
    for q in ({"q": prefix}, {"q": "TOPSECRET"}, {"managed": "true"}):
        bodies.append(c.get("/api/v1/sections", query=q).body)
    # the event stream while the admin writes the secret again
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        s.sendall(f"GET /api/v1/events HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {READ}\r\n\r\n"
                  .encode())
        time.sleep(0.2)
        g["admin"].write(g["name"], 200, secret)
        g["admin"].write(g["name"], 300, secret)
        stream = b""
        s.settimeout(0.3)
        deadline = time.monotonic() + 5
        for _ in range(100):
            if stream.count(b"event: written") >= 2 or time.monotonic() > deadline:
                break
            try:
                stream += s.recv(65536)
            except socket.timeout:
                pass
        assert stream.count(b"event: written") >= 2, stream[:500]
        bodies.append(stream)
    finally:
        s.close()
    assert len(bodies) >= 10
    for body in bodies:
        assert secret not in body, body[:300]


# --------------------------------------------------------------------------------------------
# a non-loopback bind


def _serve(binary, state, args, timeout=20.0):
    """Starts `shm-admin serve` directly (server_factory expects a loopback banner) and returns
    (process, first output lines); the caller stops it by pid."""
    cmd = [binary, "serve", "--port", "0", "--state-dir", str(state)] + list(args)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines, buf = [], b""
    deadline = time.monotonic() + timeout
    while len(lines) < 2 and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                lines.append(line.decode(errors="replace"))
        elif proc.poll() is not None:
            break
    return proc, lines


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for f in (proc.stdout, proc.stderr):
        if f:
            f.close()


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_non_loopback_bind_refused_without_allow_remote_and_read_token(shm_admin_bin, tmp_path, bind):
    token = tmp_path / "read-token"
    token.write_text(READ + "\n")
    token.chmod(0o600)
    cases = [
        ([], "--allow-remote"),
        (["--allow-remote"], "--read-token-file"),
    ]
    for extra, flag in cases:
        r = subprocess.run([shm_admin_bin, "serve", "--bind", bind, "--port", "0", "--state-dir",
                            str(tmp_path / "state"), *extra], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=30)
        assert r.returncode != 0, (extra, r.stdout, r.stderr)
        err = r.stderr.decode(errors="replace")
        assert flag in err, (extra, err)
        assert b"listening" not in r.stdout, r.stdout


def test_non_loopback_bind_needs_the_read_token(shm_admin_bin, tmp_path, prefix):
    rt = tmp_path / "read-token"
    rt.write_text(READ + "\n")
    rt.chmod(0o600)
    at = tmp_path / "admin-token"
    at.write_text(ADMIN + "\n")
    at.chmod(0o600)
    proc, lines = _serve(shm_admin_bin, tmp_path / "state",
                         ["--bind", "0.0.0.0", "--allow-remote", "--read-token-file", str(rt), "--token-file", str(at)])
    try:
        assert lines and re.match(r"^shm-admin listening on http://0\.0\.0\.0:(\d+)/$", lines[0]), \
            (lines, proc.stderr.read1(4000) if proc.poll() is not None else "")
        port = int(re.match(r".*:(\d+)/$", lines[0]).group(1))
        anon = Client(port)  # 127.0.0.1 only, whatever the bind
        name = prefix + "remote"
        Client(port, ADMIN).create(name, 4096)
        for path in ["/api/v1/sections", "/api/v1/system", "/metrics", "/openapi.json", sec(name),
                     sec(name, "pages"), sec(name, "views")]:
            r = anon.get(path)
            assert_problem(r, 401, "unauthorized")
            r = anon.get(path, token=WRONG)
            assert_problem(r, 401, "unauthorized")
            r = anon.get(path, token=READ)
            assert r.status == 200, r.describe()
        r = anon.get("/api/v1/events", token=None, timeout=5)
        assert_problem(r, 401, "unauthorized")
        assert anon.get("/healthz").status == 200
        r = anon.get(sec(name, "data"), token=READ)
        assert_problem(r, 403, "forbidden")
        assert Client(port, ADMIN).delete(sec(name)).status == 204
    finally:
        _stop(proc)
        unlink_quietly(prefix + "remote")


# --------------------------------------------------------------------------------------------
# the Host check (DNS rebinding)


HOSTILE_HOSTS = [
    "evil.example", "evil.example:80", "127.0.0.1.evil.example", "localhost.evil.example",
    "127.0.0.1.nip.io", "0.0.0.0", "10.0.0.1", "192.168.1.1:8080", "[::ffff:10.0.0.1]",
    "127.0.0.1@evil.example", "evil.example#127.0.0.1", "localhost:80@evil.example", "%31%32%37.0.0.1",
    "127.0.0", "127.0.0.256", "1.127.0.0.1",
]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_host_check_refuses_foreign_hosts_at_every_level(server_factory, prefix, host):
    srv = server_factory(token=ADMIN)
    name = prefix + "h"
    before = shm_state(prefix)
    c = srv.client()
    for method, path, kw in [("GET", "/healthz", {}), ("GET", "/", {}), ("GET", "/api/v1/sections", {}),
                             ("GET", "/nowhere", {}),
                             ("POST", "/api/v1/sections", {"json": {"name": name, "reserve": 4096}})]:
        r = c.request(method, path, headers={"Host": host}, **kw)
        assert_problem(r, 403, "forbidden")
    assert shm_state(prefix) == before and not os.path.exists(shm_path(name))


def test_host_check_accepts_loopback_names_and_refuses_missing_or_doubled_hosts(server_factory, prefix):
    srv = server_factory(token=ADMIN)
    port = srv.port
    c = srv.client()
    for host in ["127.0.0.1", f"127.0.0.1:{port}", "localhost", f"localhost:{port}", "LOCALHOST",
                 f"[::1]:{port}", "[::1]", "127.1.2.3", "app.localhost"]:
        r = c.get("/api/v1/system", headers={"Host": host})
        assert r.status == 200, (host, r.describe())
    # HTTP/1.0 without Host: refused before anything runs
    raw = raw_request(port, b"GET /api/v1/sections HTTP/1.0\r\n\r\n")
    assert status_of(raw) == 400, raw[:300]
    # two Host fields (RFC 9112: 400) must not let the second one past the check, in either order
    name = prefix + "dup"
    body = json.dumps({"name": name, "reserve": 4096}).encode()
    for hosts in (("127.0.0.1", "evil.example"), ("evil.example", "127.0.0.1")):
        head = "".join(f"Host: {h}\r\n" for h in hosts)
        raw = raw_request(port, (f"POST /api/v1/sections HTTP/1.1\r\n{head}Authorization: Bearer {ADMIN}\r\n"
                                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                                 f"Connection: close\r\n\r\n").encode() + body)
        assert status_of(raw) in (400, 403), raw[:300]
        assert not os.path.exists(shm_path(name)), hosts


# --------------------------------------------------------------------------------------------
# no path outside /dev/shm or the static directory


def _passwd_head() -> bytes:
    return Path("/etc/passwd").read_bytes().splitlines()[0]


TRAVERSAL_NAMES = ["..", ".", "../etc/passwd", "..%2fetc%2fpasswd", "a/../../etc/passwd", "/etc/passwd",
                   "..\\..\\etc\\passwd", "%2e%2e", "....//etc/passwd"]


def test_names_and_view_ids_never_reach_outside_dev_shm(server_factory, prefix):
    srv = server_factory(token=ADMIN)
    c = srv.client()
    name = prefix + "n"
    c.create(name, 8192)
    passwd = _passwd_head()
    outside = Path(tempfile.mkdtemp(prefix="shm-admin-outside-"))
    try:
        target = outside / "target"
        target.write_bytes(b"OUTSIDE-" + secrets.token_hex(8).encode())
        target_state = target.read_bytes()
        rel = os.path.relpath(target, SHM_DIR)  # ../tmp/shm-admin-outside-…/target
        for bad in TRAVERSAL_NAMES + [rel, str(target)]:
            for method, parts, kw in [
                ("GET", (), {}), ("GET", ("data",), {"query": {"format": "raw"}}), ("GET", ("pages",), {}),
                ("PUT", ("data",), {"query": {"offset": 0}, "body": b"x"}), ("DELETE", (), {}),
                ("POST", ("adopt",), {"json": {}}), ("POST", ("grow",), {"json": {"by": 4096}}),
                ("POST", ("views",), {"json": {"access": "ro"}}), ("POST", ("lock",), {"json": {"mode": "shared"}}),
            ]:
                r = c.request(method, sec(bad, *parts), **kw)
                assert r.status in (400, 403, 404, 422), (bad, r.describe())
                assert passwd not in r.body and b"OUTSIDE-" not in r.body, r.describe()
        for bad in ["..", ".", "../x", "a/../../etc/passwd", "/etc/passwd", "..\\..\\x", prefix + "/../../x",
                    rel, str(target), prefix + "..%2f..%2fx"]:
            r = c.post("/api/v1/sections", json={"name": bad, "reserve": 4096})
            if r.status == 201:  # a name like '..%2f..%2fx' is just bytes: it lands inside /dev/shm, as itself
                assert bad.startswith(prefix) and "/" not in bad and os.path.isfile(shm_path(bad)), r.describe()
                assert r.json["path"] == shm_path(bad), r.describe()
                assert c.delete(sec(bad)).status == 204
            else:
                assert_problem(r, 422, "invalid-name")
        # view ids are table keys, never paths
        for vid in ["..", "../../etc/passwd", "v1/../../..", "%2e%2e", "v0", "v-1"]:
            for method in ("GET", "PUT", "DELETE"):
                path = sec(name, "views", vid) + ("/data" if method != "DELETE" else "")
                r = c.request(method, path, query={"offset": 0} if method == "PUT" else None,
                              body=b"x" if method == "PUT" else None)
                assert r.status in (400, 404), (vid, r.describe())
                assert passwd not in r.body
        assert target.read_bytes() == target_state
        assert not any(p.name != "target" for p in outside.iterdir()), list(outside.iterdir())
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def test_symlinks_in_dev_shm_are_never_followed(server_factory, prefix):
    """A symlink named like a section — to a file outside, or to another section — is no section:
    nothing reads, writes, locks, maps, adopts, grows or deletes through it."""
    srv = server_factory(token=ADMIN)
    c = srv.client()
    real = prefix + "real"
    c.create(real, 8192)
    secret = b"REAL-" + secrets.token_hex(8).encode()
    c.write(real, 0, secret)
    outside = Path(tempfile.mkdtemp(prefix="shm-admin-outside-"))
    links = {prefix + "to-passwd": "/etc/passwd", prefix + "to-file": str(outside / "file"),
             prefix + "to-section": shm_path(real), prefix + "relative": real}
    try:
        (outside / "file").write_bytes(b"OUTSIDE-FILE")
        for link, target in links.items():
            os.symlink(target, shm_path(link))
        before = shm_state(prefix)
        passwd_before = Path("/etc/passwd").read_bytes()
        for link in links:
            for method, parts, kw in [
                ("GET", (), {}), ("GET", ("pages",), {}), ("GET", ("views",), {}),
                ("GET", ("data",), {"query": {"format": "raw"}}), ("GET", ("data",), {"query": {"format": "hex"}}),
                ("PUT", ("data",), {"query": {"offset": 0}, "body": b"PWNED"}),
                ("POST", ("adopt",), {"json": {"namespace": "global"}}), ("POST", ("grow",), {"json": {"by": 4096}}),
                ("POST", ("reset",), {"json": {"offset": 0, "length": 4096}}),
                ("POST", ("views",), {"json": {"access": "ro"}}), ("POST", ("lock",), {"json": {"mode": "shared"}}),
                ("DELETE", (), {"query": {"force": "true"}}),
            ]:
                r = c.request(method, sec(link, *parts), **kw)
                assert r.status in (403, 404), (link, method, parts, r.describe())
                assert secret not in r.body and b"OUTSIDE-FILE" not in r.body and b"root:" not in r.body
            for exclusive in (False, True):  # the name is taken, by something that is no section
                r = c.post("/api/v1/sections", json={"name": link, "reserve": 4096, "exclusive": exclusive})
                assert_problem(r, 409, "section-exists")
        listed = {s["name"] for s in c.list(q=prefix)["sections"]}
        assert listed == {real}, listed
        assert shm_state(prefix) == before
        assert Path("/etc/passwd").read_bytes() == passwd_before
        assert (outside / "file").read_bytes() == b"OUTSIDE-FILE"
        assert stat.S_IMODE(os.stat(outside / "file").st_mode) != 0o666
        # a managed section whose object another process replaced by a symlink is not followed either
        victim = prefix + "victim"
        c.create(victim, 4096)
        os.unlink(shm_path(victim))
        os.symlink(str(outside / "file"), shm_path(victim))
        for method, parts, kw in [("GET", ("data",), {"query": {"format": "raw"}}),
                                  ("PUT", ("data",), {"query": {"offset": 0}, "body": b"PWNED"}),
                                  ("POST", ("grow",), {"json": {"by": 4096}}),
                                  ("POST", ("reset",), {"json": {"offset": 0, "length": 4096}}),
                                  ("POST", ("views",), {"json": {"access": "rw"}})]:
            r = c.request(method, sec(victim, *parts), **kw)
            assert r.status in (403, 404, 409), (method, parts, r.describe())
            assert b"OUTSIDE-FILE" not in r.body
        assert (outside / "file").read_bytes() == b"OUTSIDE-FILE"
        assert os.stat(outside / "file").st_size == len(b"OUTSIDE-FILE")
    finally:
        for link in list(links) + [prefix + "victim"]:
            unlink_quietly(link)
        shutil.rmtree(outside, ignore_errors=True)


def test_static_symlinks_pointing_outside_are_not_served(server_factory, tmp_path):
    """A copy of static/ (static/ itself is never touched) with symlinks planted in it."""
    static = tmp_path / "static"
    shutil.copytree(REPO_ROOT / "static", static, symlinks=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"STATIC-SECRET")
    (static / "leak.txt").symlink_to("/etc/passwd")
    (static / "secret.js").symlink_to(outside / "secret.txt")
    (static / "rel.css").symlink_to("../outside/secret.txt")
    (static / "sub").symlink_to(outside, target_is_directory=True)
    (static / "token.txt").symlink_to(tmp_path / "state-0" / "admin-token")
    srv = server_factory(args=["--static-dir", str(static)])
    anon = srv.client(token=None)
    r = anon.get("/static/index.html")
    assert r.status == 200 and r.body == (static / "index.html").read_bytes(), r.describe()
    for path in ["/static/leak.txt", "/static/secret.js", "/static/rel.css", "/static/sub/secret.txt",
                 "/static/sub/../sub/secret.txt", "/static/token.txt", "/static/sub%2fsecret.txt",
                 "/static/./leak.txt", "/static//leak.txt"]:
        r = anon.get(path)
        assert r.status in (400, 403, 404), (path, r.describe())
        assert b"STATIC-SECRET" not in r.body and b"root:" not in r.body, r.describe()
        assert srv.admin_token.encode() not in r.body, r.describe()


# --------------------------------------------------------------------------------------------
# a `global` section and the read token


def test_global_section_refused_to_the_read_token(server_factory, prefix):
    srv = server_factory(token=ADMIN, read_token=READ)
    admin, reader = srv.client(), srv.client(token=READ)
    g = prefix + "global"
    secret = b"GLOBAL-" + secrets.token_hex(8).encode()
    s = admin.create(g, "64KiB", "8KiB", namespace="global")
    assert s["namespace"] == "global" and s["mode"] == "0666", s
    admin.write(g, 0, secret)
    # the read token may not make one
    r = reader.post("/api/v1/sections", json={"name": prefix + "g2", "reserve": 4096, "namespace": "global"})
    assert_problem(r, 403, "forbidden")
    assert not os.path.exists(shm_path(prefix + "g2"))
    before = shm_state(prefix)
    for fmt in ("raw", "hex", "hexdump", "base64"):
        for method in ("GET", "HEAD"):
            r = reader.request(method, sec(g, "data"), query={"format": fmt})
            assert r.status == 403 and secret not in r.body, r.describe()
    for method, parts, kw in [("PUT", ("data",), {"query": {"offset": 0}, "body": b"x"}),
                              ("POST", ("grow",), {"json": {"by": 4096}}),
                              ("POST", ("reset",), {"json": {"offset": 0, "length": 4096}}),
                              ("POST", ("views",), {"json": {"access": "ro"}}),
                              ("POST", ("lock",), {"json": {"mode": "shared"}}),
                              ("DELETE", (), {"query": {"force": "true"}})]:
        r = reader.request(method, sec(g, *parts), **kw)
        assert_problem(r, 403, "forbidden")
    # metadata is the read token's; data is not in it
    d = reader.get(sec(g))
    assert d.status == 200 and d.json["namespace"] == "global" and secret not in d.body, d.describe()
    assert shm_state(prefix) == before


# --------------------------------------------------------------------------------------------
# a section another user owns


NOBODY = 65534


def _as_nobody() -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def _nobody_python() -> str | None:
    for candidate in ("/usr/bin/python3", sys.executable):
        try:
            r = subprocess.run(_as_nobody() + [candidate, "-c", "import os; print(os.getuid())"],
                               capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0 and r.stdout.strip() == str(NOBODY).encode():
            return candidate
    return None


MAKE_AS_NOBODY = r'''
import os, sys
fd = os.open(os.path.join("/dev/shm", sys.argv[1]), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
os.ftruncate(fd, 8192)
os.pwrite(fd, sys.argv[2].encode(), 0)
os.close(fd)
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run processes as nobody")
def test_another_users_section_neither_readable_nor_writable_unless_the_server_may(
        server_factory, shm_admin_bin, prefix):
    py = _nobody_python()
    if py is None or shutil.which("setpriv") is None:
        pytest.skip("cannot run python3 as nobody here (setpriv or a nobody-readable python3 missing)")
    root_srv = server_factory(token=ADMIN)
    rc = root_srv.client()
    mine = prefix + "root-only"  # root's, mode 0600
    theirs = prefix + "nobodys"  # nobody's, mode 0600
    root_secret = "ROOT-" + secrets.token_hex(8)
    nobody_secret = "NOBODY-" + secrets.token_hex(8)
    s = rc.create(mine, 8192)
    assert s["mode"] == "0600" and s["uid"] == 0, s
    rc.write(mine, 0, root_secret.encode())
    r = subprocess.run(_as_nobody() + [py, "-c", MAKE_AS_NOBODY, theirs, nobody_secret], capture_output=True,
                       timeout=20)
    assert r.returncode == 0, r.stderr
    st = os.stat(shm_path(theirs))
    assert st.st_uid == NOBODY and stat.S_IMODE(st.st_mode) == 0o600, st

    # the root server may read nobody's object (root may), and write it once adopted
    assert rc.read_raw(theirs, 0, len(nobody_secret)) == nobody_secret.encode()
    r = rc.post(sec(theirs, "adopt"), json={})
    assert r.status == 200, r.describe()
    rc.write(theirs, 4096, b"written by root")

    # a server run as nobody
    home = Path(tempfile.mkdtemp(prefix="shm-admin-nobody-"))
    proc = None
    try:
        os.chmod(home, 0o755)
        os.chown(home, NOBODY, NOBODY)
        token = home / "admin-token"
        token.write_text(ADMIN + "\n")
        os.chown(token, NOBODY, NOBODY)
        os.chmod(token, 0o600)
        cmd = _as_nobody() + [shm_admin_bin, "serve", "--port", "0", "--state-dir", str(home / "state"),
                              "--token-file", str(token)]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=str(home))
        port = None
        deadline = time.monotonic() + 30
        buf = b""
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", buf)
                if m:
                    port = int(m.group(1))
        assert port, (buf, proc.poll(), proc.stderr.read1(4000) if proc.poll() is not None else b"")
        assert os.stat(f"/proc/{proc.pid}").st_uid == NOBODY
        nc = Client(port, ADMIN)
        before = shm_state(prefix)
        bodies = []
        # root's 0600 object: visible as metadata, but neither readable nor writable
        d = nc.get(sec(mine))
        assert d.status == 200 and d.json["uid"] == 0 and d.json["mode"] == "0600", d.describe()
        bodies.append(d.body)
        for method, parts, kw in [
            ("GET", ("data",), {"query": {"format": "raw"}}), ("GET", ("data",), {"query": {"format": "hex"}}),
            ("GET", ("data",), {"query": {"format": "raw", "lock": "true"}}), ("GET", ("pages",), {}),
            ("PUT", ("data",), {"query": {"offset": 0}, "body": b"PWNED"}),
            ("POST", ("adopt",), {"json": {}}), ("POST", ("adopt",), {"json": {"namespace": "global"}}),
            ("POST", ("grow",), {"json": {"by": 4096}}), ("POST", ("reset",), {"json": {"offset": 0, "length": 4096}}),
            ("POST", ("views",), {"json": {"access": "ro"}}), ("POST", ("views",), {"json": {"access": "rw"}}),
            ("POST", ("lock",), {"json": {"mode": "shared"}}), ("POST", ("lock",), {"json": {"mode": "exclusive"}}),
            ("DELETE", (), {"query": {"force": "true"}}),
        ]:
            r = nc.request(method, sec(mine, *parts), **kw)
            assert_problem(r, 403, "forbidden")
            bodies.append(r.body)
        r = nc.post("/api/v1/sections", json={"name": mine, "reserve": 8192, "exclusive": True})
        assert r.status in (403, 409), r.describe()
        for body in bodies:
            assert root_secret.encode() not in body
        assert shm_state(prefix) == before
        assert read_object(mine, 0, len(root_secret)) == root_secret.encode()
        # what nobody may do, the nobody server does: its own object is readable
        assert nc.read_raw(theirs, 0, len(nobody_secret)) == nobody_secret.encode()
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(home, ignore_errors=True)
    # the root server still may
    assert rc.read_raw(mine, 0, len(root_secret)) == root_secret.encode()
    rc.write(mine, 0, b"root writes")
    wait_until(lambda: read_object(mine, 0, 11) == b"root writes", timeout=2)
