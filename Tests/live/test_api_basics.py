"""Live tests: health, system, start-up output, auth, Host check, routing errors, static files,
OpenAPI, metrics, body limit and shutdown — against the real server binary."""

import http.client
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from support.client import assert_problem, sec
from support.common import LOOPBACK, PAGE, REPO_ROOT, wait_until
from support.shm import read_object, shm_path
from support.sse import EventStream

ADMIN_TOKEN = "a" * 24 + "0123456789abcdef"
READ_TOKEN = "r" * 24 + "fedcba9876543210"


# --------------------------------------------------------------------------------------------
# health, start-up, system


def test_healthz(anon):
    r = anon.get("/healthz")
    assert r.status == 200, r.describe()
    assert (r.header("Content-Type") or "").startswith("application/json"), r.describe()
    assert r.json == {"status": "ok"}


def test_keep_alive_two_requests_on_one_connection(server):
    conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=10)
    try:
        for _ in range(2):
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200 and json.loads(body) == {"status": "ok"}
            assert (r.getheader("Connection") or "").lower() != "close", "keep-alive not preserved"
    finally:
        conn.close()


def test_startup_lines_and_generated_admin_token(server, anon, prefix):
    assert server.startup_lines[0] == f"shm-admin listening on http://127.0.0.1:{server.port}/"
    assert server.dashboard_url == f"http://127.0.0.1:{server.port}/#token={server.admin_token}"
    token_file = server.state_dir / "admin-token"
    st = os.stat(token_file)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert token_file.read_text().strip() == server.admin_token
    assert re.fullmatch(r"[0-9a-f]{64}", server.admin_token), server.admin_token
    # the printed token is the one that works
    r = server.client().post("/api/v1/sections", json={"reserve": 4096, "name": prefix + "\x01"})
    assert r.status == 422, r.describe()  # authorised, then refused for the name


def test_token_file_is_used(server_factory):
    srv = server_factory(token=ADMIN_TOKEN)
    assert srv.admin_token == ADMIN_TOKEN
    assert srv.dashboard_url == f"http://127.0.0.1:{srv.port}/#token={ADMIN_TOKEN}"


def test_system_fields(anon, admin, prefix):
    r = anon.get("/api/v1/system")
    assert r.status == 200, r.describe()
    s = r.json
    assert s["pageSize"] == PAGE
    vfs = os.statvfs("/dev/shm")
    size = vfs.f_blocks * vfs.f_frsize
    free = vfs.f_bavail * vfs.f_frsize
    assert s["shm"]["path"] == "/dev/shm"
    assert s["shm"]["sizeBytes"] == size
    assert abs(s["shm"]["freeBytes"] - free) <= 256 * 1024 * 1024, (s["shm"], free)
    assert abs(s["shm"]["usedBytes"] - (size - free)) <= 256 * 1024 * 1024, (s["shm"], size - free)
    for key in ("shmmax", "shmall"):
        kernel = int(open(f"/proc/sys/kernel/{key}").read())
        # values past 2^63-1 (the kernel's "unlimited") may be given clamped to 2^63-1
        assert s[key] == kernel or (kernel > 2 ** 63 - 1 and s[key] == 2 ** 63 - 1), (key, s[key], kernel)
    assert s["kernel"] == os.uname().release
    assert isinstance(s["version"], str) and re.match(r"^\d+\.\d+", s["version"]), s["version"]
    assert isinstance(s["uptimeSeconds"], (int, float)) and s["uptimeSeconds"] >= 0
    counts = s["counts"]
    for k in ("sections", "managed", "foreign", "orphan", "semaphores", "missing"):
        assert isinstance(counts[k], int) and counts[k] >= 0, (k, counts)
    assert counts["sections"] >= counts["managed"]
    # a new managed section is counted
    admin.create(prefix + "sys", 4096)
    time.sleep(0.05)
    s2 = anon.get("/api/v1/system").json
    assert s2["counts"]["managed"] == counts["managed"] + 1, (counts, s2["counts"])
    assert s2["uptimeSeconds"] >= s["uptimeSeconds"]


# --------------------------------------------------------------------------------------------
# auth


READ_ENDPOINTS = [
    ("GET", "/api/v1/sections"),
    ("GET", "/api/v1/system"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
]


@pytest.mark.parametrize("method,path", READ_ENDPOINTS)
def test_read_endpoints_open_on_loopback(anon, method, path):
    r = anon.request(method, path)
    assert r.status == 200, r.describe()


def _admin_requests(name):
    """(method, path, query, json, body) of admin-level requests on an existing section NAME."""
    return [
        ("POST", "/api/v1/sections", None, {"name": name + "-x", "reserve": 4096}, None),
        ("DELETE", sec(name), None, None, None),
        ("POST", sec(name, "grow"), None, {"by": 4096}, None),
        ("POST", sec(name, "reset"), None, {"offset": 0, "length": 4096}, None),
        ("GET", sec(name, "data"), {"format": "raw"}, None, None),
        ("GET", sec(name, "data"), {"format": "hex"}, None, None),
        ("PUT", sec(name, "data"), {"offset": 0}, None, b"xyz"),
        ("POST", sec(name, "lock"), None, {"mode": "exclusive"}, None),
        ("POST", sec(name, "views"), None, {"access": "ro"}, None),
        ("POST", sec(name, "adopt"), None, {}, None),
    ]


ADMIN_IDS = ["create", "delete", "grow", "reset", "dump-raw", "dump-hex", "write", "lock", "view", "adopt"]


@pytest.mark.parametrize("idx", range(len(ADMIN_IDS)), ids=ADMIN_IDS)
@pytest.mark.parametrize("token", [None, "wrong-token-0000"], ids=["no-token", "wrong-token"])
def test_admin_endpoints_need_admin_token(admin, anon, prefix, idx, token):
    name = prefix + "auth"
    admin.create(name, 8192, 4096)
    admin.write(name, 0, b"secret")
    method, path, query, body_json, body = _admin_requests(name)[idx]
    kw = {"query": query, "token": token}
    if body_json is not None:
        kw["json"] = body_json
    if body is not None:
        kw["body"] = body
    r = anon.request(method, path, **kw)
    assert_problem(r, 401, "unauthorized")
    assert (r.header("WWW-Authenticate") or "").startswith("Bearer"), r.describe()
    assert b"secret" not in r.body
    # nothing changed
    assert os.stat(shm_path(name)).st_size == 4096
    assert read_object(name, 0, 6) == b"secret"


@pytest.fixture
def read_token_server(server_factory):
    return server_factory(token=ADMIN_TOKEN, read_token=READ_TOKEN)


@pytest.mark.parametrize("method,path", READ_ENDPOINTS + [("GET", "/api/v1/events")])
def test_read_token_required_when_configured(read_token_server, method, path):
    c = read_token_server.client(token=None)
    r = c.request(method, path, timeout=5)
    assert_problem(r, 401, "unauthorized")
    assert (r.header("WWW-Authenticate") or "").startswith("Bearer"), r.describe()
    r = c.request(method, path, token="not-the-read-token")
    assert_problem(r, 401, "unauthorized")
    if path == "/api/v1/events":
        for tok in (READ_TOKEN, ADMIN_TOKEN):
            es = EventStream(read_token_server.port, token=tok)
            try:
                assert es.status == 200
                es.wait_comment(": connected")
            finally:
                es.close()
        return
    for tok in (READ_TOKEN, ADMIN_TOKEN):
        r = c.request(method, path, token=tok)
        assert r.status == 200, r.describe()


def test_public_endpoints_stay_public_with_read_token(read_token_server):
    c = read_token_server.client(token=None)
    r = c.get("/healthz")
    assert r.status == 200 and r.json == {"status": "ok"}, r.describe()
    r = c.get("/")
    assert r.status == 200, r.describe()
    assert "text/html" in (r.header("Content-Type") or ""), r.describe()


def test_read_token_on_admin_endpoint_is_403(read_token_server, prefix):
    name = prefix + "rt"
    c = read_token_server.client(token=READ_TOKEN)
    r = c.post("/api/v1/sections", json={"name": name, "reserve": 4096})
    assert_problem(r, 403, "forbidden")
    assert not os.path.exists(shm_path(name))
    read_token_server.client().create(name, 4096)
    for method, path, query, body_json, body in _admin_requests(name):
        kw = {"query": query}
        if body_json is not None:
            kw["json"] = body_json
        if body is not None:
            kw["body"] = body
        r = c.request(method, path, **kw)
        assert_problem(r, 403, "forbidden")
    assert os.path.exists(shm_path(name))


# --------------------------------------------------------------------------------------------
# Host check (DNS rebinding)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "attacker.127.0.0.1.nip.io:{port}",
                                  "10.1.2.3:{port}"])
@pytest.mark.parametrize("path", ["/api/v1/system", "/api/v1/sections", "/healthz"])
def test_foreign_host_header_refused(server, anon, host, path):
    r = anon.get(path, headers={"Host": host.format(port=server.port)})
    assert_problem(r, 403, "forbidden")


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "localhost", "[::1]:{port}",
                                  "LOCALHOST:{port}"])
def test_loopback_host_header_accepted(server, anon, host):
    r = anon.get("/api/v1/system", headers={"Host": host.format(port=server.port)})
    assert r.status == 200, r.describe()
    assert r.json["pageSize"] == PAGE


# --------------------------------------------------------------------------------------------
# routing errors


@pytest.mark.parametrize("method,path,allowed", [
    ("PATCH", "/api/v1/sections", {"GET", "POST"}),
    ("PUT", "/healthz", {"GET"}),
    ("DELETE", "/api/v1/system", {"GET"}),
    ("POST", "/metrics", {"GET"}),
    ("GET", "/api/v1/sections/{name}/grow", {"POST"}),
    ("PATCH", "/api/v1/sections/{name}", {"GET", "DELETE"}),
    ("POST", "/api/v1/sections/{name}/data", {"GET", "PUT"}),
    ("PUT", "/api/v1/sections/{name}/lock", {"POST"}),
])
def test_wrong_method_is_405_with_allow(admin, prefix, method, path, allowed):
    name = prefix + "m"
    admin.create(name, 4096)
    r = admin.request(method, path.format(name=name))
    assert_problem(r, 405, "method-not-allowed")
    allow = {m.strip().upper() for m in (r.header("Allow") or "").split(",") if m.strip()}
    assert allowed <= allow, f"Allow {allow} lacks {allowed}: {r.describe()}"
    assert method not in allow


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/sections", "/nope", "/api/v1/sections/x/nope/deeper",
                                  "/api/v1"])
def test_unknown_route_is_404_problem(admin, path):
    r = admin.get(path)
    assert_problem(r, 404)
    assert r.json["type"] in ("/problems/not-found", "/problems/section-not-found"), r.describe()


def test_unknown_section_is_404(admin, prefix):
    for method, path in [("GET", sec(prefix + "none")), ("GET", sec(prefix + "none", "pages")),
                         ("DELETE", sec(prefix + "none")), ("GET", sec(prefix + "none", "views"))]:
        r = admin.request(method, path)
        assert_problem(r, 404, "section-not-found")


# --------------------------------------------------------------------------------------------
# static files


def _passwd_marker():
    with open("/etc/passwd") as f:
        return f.readline().strip().encode()


@pytest.mark.parametrize("path", [
    "/static/..%2f..%2fetc/passwd",
    "/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/../../etc/passwd",
    "/static/../../../../../../etc/passwd",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/..%5c..%5cetc%5cpasswd",
    "/static/%252e%252e/%252e%252e/etc/passwd",
    "/static/....//....//etc/passwd",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/..%00/etc/passwd",
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
])
def test_static_traversal_never_leaks_files(anon, path):
    r = anon.get(path)
    assert r.status in (400, 403, 404), r.describe()
    assert _passwd_marker() not in r.body
    assert b"root:" not in r.body
    assert_problem(r, r.status)


@pytest.mark.parametrize("path,marker", [
    ("/static/..%2fPackage.swift", b"swift-tools-version"),
    ("/static/%2e%2e/Package.swift", b"swift-tools-version"),
    ("/static/../Package.swift", b"swift-tools-version"),
    ("/static/..%2fMakefile", b".PHONY"),
    ("/static/..%2f.git%2fconfig", b"[core]"),
])
def test_static_traversal_never_leaks_repo_files(anon, path, marker):
    r = anon.get(path)
    assert r.status in (400, 403, 404), r.describe()
    assert marker not in r.body


def test_static_file_served(anon):
    r = anon.get("/")
    assert r.status == 200, r.describe()
    assert "text/html" in (r.header("Content-Type") or "")
    assert r.body == (REPO_ROOT / "static" / "index.html").read_bytes()
    r = anon.get("/static/api.js")
    assert r.status == 200, r.describe()
    assert r.body == (REPO_ROOT / "static" / "api.js").read_bytes()
    assert "javascript" in (r.header("Content-Type") or ""), r.describe()


# --------------------------------------------------------------------------------------------
# openapi


def test_openapi_served_equals_repo_file(anon):
    repo_file = REPO_ROOT / "openapi.json"
    assert repo_file.exists(), f"{repo_file} is missing"
    r = anon.get("/openapi.json")
    assert r.status == 200, r.describe()
    assert (r.header("Content-Type") or "").startswith("application/json"), r.describe()
    assert r.json == json.loads(repo_file.read_text()), "served /openapi.json differs from the repo's openapi.json"
    assert r.json.get("openapi", "").startswith("3.1"), r.json.get("openapi")


# --------------------------------------------------------------------------------------------
# metrics

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

METRIC_NAMES = [
    "shm_admin_sections", "shm_admin_orphan_sections", "shm_admin_section_commit_bytes",
    "shm_admin_section_reserve_bytes", "shm_admin_section_allocated_bytes", "shm_admin_section_data_bytes",
    "shm_admin_section_mappers", "shm_admin_shm_filesystem_size_bytes", "shm_admin_shm_filesystem_free_bytes",
    "shm_admin_http_requests_total", "shm_admin_section_series_dropped",
]


def parse_metrics(text):
    samples, types = [], {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            types[parts[2]] = parts[3]
            continue
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"unparsable metrics line {line!r}"
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples, types


def _one(samples, name, **labels):
    found = [v for n, l, v in samples if n == name and all(l.get(k) == v2 for k, v2 in labels.items())]
    assert len(found) == 1, f"{name}{labels}: {found}"
    return found[0]


def test_metrics_names_and_values(admin, anon, prefix):
    name = prefix + "met"
    admin.create(name, "64KiB", "8KiB")
    admin.write(name, 0, b"m" * 4096)
    anon.get("/healthz")
    r = anon.get("/metrics")
    assert r.status == 200, r.describe()
    assert (r.header("Content-Type") or "").startswith("text/plain"), r.describe()
    samples, types = parse_metrics(r.text)
    names = {n for n, _, _ in samples}
    for metric in METRIC_NAMES:
        assert metric in names, f"metric {metric} missing"
    hist = "shm_admin_http_request_duration_seconds"
    assert types.get(hist) == "histogram", types.get(hist)
    assert {hist + "_bucket", hist + "_sum", hist + "_count"} <= names
    assert all("route" in l for n, l, _ in samples if n.startswith(hist)), "histogram samples lack route"
    assert any(l.get("le") == "+Inf" for n, l, _ in samples if n == hist + "_bucket")
    reqs = [l for n, l, _ in samples if n == "shm_admin_http_requests_total"]
    assert all({"method", "route", "code"} <= set(l) for l in reqs), reqs[:3]
    assert any(l["code"] == "200" and l["method"] == "GET" for l in reqs)
    st = os.stat(shm_path(name))
    assert _one(samples, "shm_admin_section_commit_bytes", section=name, managed="true") == 8192
    assert _one(samples, "shm_admin_section_reserve_bytes", section=name) == 65536
    assert _one(samples, "shm_admin_section_allocated_bytes", section=name, managed="true") == st.st_blocks * 512
    assert _one(samples, "shm_admin_section_data_bytes", section=name, managed="true") == 4096
    assert _one(samples, "shm_admin_section_mappers", section=name) == 0
    assert _one(samples, "shm_admin_sections", managed="true", kind="shm") >= 1
    vfs = os.statvfs("/dev/shm")
    assert _one(samples, "shm_admin_shm_filesystem_size_bytes") == vfs.f_blocks * vfs.f_frsize


def test_metrics_pass_promtool(anon, admin, prefix):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt package `prometheus` provides it); "
                    "`promtool check metrics` not run")
    admin.create(prefix + "prom", 4096)
    r = anon.get("/metrics")
    assert r.status == 200
    p = subprocess.run([promtool, "check", "metrics"], input=r.body, capture_output=True, timeout=60)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()


def test_metrics_section_series_cap(server_factory, prefix):
    srv = server_factory(token=ADMIN_TOKEN, args=["--metrics-section-cap", "1"])
    c = srv.client()
    for i in range(3):
        c.create(f"{prefix}cap{i}", 4096)
    r = c.get("/metrics")
    assert r.status == 200, r.describe()
    samples, _ = parse_metrics(r.text)
    sections = {l["section"] for n, l, _ in samples if n == "shm_admin_section_commit_bytes"}
    assert len(sections) <= 1, sections
    dropped = _one(samples, "shm_admin_section_series_dropped")
    assert dropped >= 2, dropped


# --------------------------------------------------------------------------------------------
# body limit, content checks, shutdown


def test_body_over_max_body_is_413(server_factory, prefix):
    srv = server_factory(token=ADMIN_TOKEN, args=["--max-body", "1024"])
    c = srv.client()
    name = prefix + "big"
    r = c.post("/api/v1/sections", json={"name": name, "reserve": 4096, "labels": {"pad": "x" * 200}})
    assert r.status == 201, r.describe()  # under the limit
    big = {"name": prefix + "big2", "reserve": 4096, "labels": {f"k{i}": "v" * 200 for i in range(20)}}
    r = c.post("/api/v1/sections", json=big)
    assert_problem(r, 413, "payload-too-large")
    assert not os.path.exists(shm_path(prefix + "big2"))
    r = c.put(sec(name, "data"), query={"offset": 0}, body=b"\xaa" * 2048)
    assert_problem(r, 413, "payload-too-large")
    assert read_object(name) == b"\0" * 4096, "a refused write changed the object"
    r = c.put(sec(name, "data"), query={"offset": 0}, body=b"\xaa" * 1000)
    assert r.status == 200 and r.json["written"] == 1000, r.describe()


def test_access_log_lines(server_factory, prefix):
    """One line per request in the documented format (docs/API-DETAILS.md), written within ~100 ms;
    none at --log-level notice."""
    srv = server_factory(token=ADMIN_TOKEN)
    c = srv.client()
    assert c.get("/healthz").status == 200
    assert c.get(sec(prefix + "absent")).status == 404
    line = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info shm-admin: GET /api/v1/sections/\{name\} 404 "
                      r"bytes=\d+ duration_us=\d+ remote=127\.0\.0\.1$", re.M)
    found = wait_until(lambda: line.search(srv.stderr_tail(20000)), timeout=3, what="the access-log line")
    assert found
    assert re.search(r" info shm-admin: GET /healthz 200 bytes=15 duration_us=\d+ remote=127\.0\.0\.1\n",
                     srv.stderr_tail(20000))
    quiet = server_factory(token=ADMIN_TOKEN, args=["--log-level", "notice"])
    assert quiet.client().get("/healthz").status == 200
    time.sleep(0.3)
    assert "GET /healthz" not in quiet.stderr_tail(20000)


@pytest.mark.parametrize("value", ["0", "257", "many"])
def test_bad_threads_option_is_refused(shm_admin_bin, tmp_path, value):
    p = subprocess.run([shm_admin_bin, "serve", "--port", "0", "--state-dir", str(tmp_path / "state"),
                        "--threads", value], capture_output=True, timeout=30)
    assert p.returncode != 0
    assert b"--threads" in p.stderr, p.stderr[-500:]
    assert not (tmp_path / "state").exists() or not os.listdir(tmp_path / "state" / "records")


def test_one_worker_serves_concurrent_clients(server_factory, prefix):
    import threading
    srv = server_factory(token=ADMIN_TOKEN, args=["--threads", "1"])
    failures = []

    def cycle(index):
        c = srv.client()
        for round_ in range(5):
            name = f"{prefix}w{index}-{round_}"
            r = c.post("/api/v1/sections", json={"name": name, "reserve": "64KiB", "commit": "4KiB"})
            if r.status != 201:
                failures.append(r.describe())
                continue
            if c.delete(sec(name)).status != 204:
                failures.append("delete " + name)

    threads = [threading.Thread(target=cycle, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a client never got its answers"
    assert failures == []


def worker_threads(pid: int) -> int:
    """libmicrohttpd's workers of a running server, by their thread names (MHD-worker, MHD-single)."""
    names = [Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip() for tid in os.listdir(f"/proc/{pid}/task")]
    return sum(1 for n in names if n in ("MHD-worker", "MHD-single"))


def test_workers_follow_the_cpus_the_server_may_run_on(server_factory):
    """One worker per CPU of its affinity at start: confined to one CPU (taskset, CPUAffinity=), it runs
    one, so two busy workers never take turns on that CPU; unconfined, one per CPU this process may use."""
    one = server_factory(token=ADMIN_TOKEN, cpus={min(os.sched_getaffinity(0))})
    every = server_factory(token=ADMIN_TOKEN)
    assert one.client().get("/healthz").status == 200
    assert every.client().get("/healthz").status == 200
    assert worker_threads(one.pid) == 1
    assert worker_threads(every.pid) == len(os.sched_getaffinity(0))
    given = server_factory(token=ADMIN_TOKEN, cpus={min(os.sched_getaffinity(0))}, args=["--threads", "3"])
    assert given.client().get("/healthz").status == 200
    assert worker_threads(given.pid) == 3  # --threads wins over the affinity


@pytest.mark.parametrize("sync, logged", [("auto", "are not fsynced"), ("always", "are fsynced")])
def test_record_sync_choice_is_logged(server_factory, sync, logged):
    srv = server_factory(token=ADMIN_TOKEN, args=["--sync-records", sync])
    assert srv.client().get("/healthz").status == 200
    log = srv.stderr_tail(20000)
    assert logged in log, log[-2000:]


def test_bad_sync_records_option_is_refused(shm_admin_bin, tmp_path):
    p = subprocess.run([shm_admin_bin, "serve", "--port", "0", "--state-dir", str(tmp_path / "state"),
                        "--sync-records", "sometimes"], capture_output=True, timeout=30)
    assert p.returncode != 0
    assert b"--sync-records must be auto or always" in p.stderr, p.stderr[-500:]


@pytest.mark.parametrize("first_request", [True, False], ids=["after-a-request", "right-after-start"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_graceful_shutdown_exits_0(server_factory, sig, first_request):
    srv = server_factory(token=ADMIN_TOKEN)
    if first_request:
        assert srv.client().get("/healthz").status == 200
    rc, timed_out = srv.stop(sig)
    assert not timed_out and rc == 0, (rc, timed_out, srv.diagnostics())


def test_graceful_shutdown_with_open_event_stream(server_factory):
    srv = server_factory(token=ADMIN_TOKEN)
    es = EventStream(srv.port)
    try:
        es.wait_comment(": connected")
        t0 = time.monotonic()
        rc, timed_out = srv.stop(signal.SIGTERM)
        assert not timed_out and rc == 0, (rc, timed_out, srv.diagnostics())
        assert time.monotonic() - t0 < 10
    finally:
        es.close()
