"""shm-admin.service's SystemCallFilter (issue 15): every system call the server makes through a run of
the API's operations — create, write, grow, page map, views mapped, read and written through and
moved, locks, dumps in every format, events, metrics, an object made by another process, delete,
graceful stop — is in the set the unit allows. A call outside it would fail with EPERM under systemd
(SystemCallErrorNumber=EPERM), in a way no other test here would see. The allowed set is what this
machine's systemd-analyze says the unit's SystemCallFilter= groups hold.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import time
import urllib.parse

import pytest

from service_support import UNIT_TEMPLATE, ServiceProcess, http, run

pytestmark = pytest.mark.skipif(shutil.which("strace") is None or shutil.which("systemd-analyze") is None,
                                reason="needs strace and systemd-analyze")


def allowed_system_calls() -> set[str]:
    out = run(["systemd-analyze", "syscall-filter"]).stdout
    groups: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.strip()
            groups[current] = []
        elif line.strip() and not line.strip().startswith("#") and current:
            groups[current].append(line.strip())

    def expand(item: str) -> set[str]:
        if not item.startswith("@"):
            return {item}
        return set().union(*(expand(x) for x in groups[item]))

    # line by line, in the unit's order: a list adds to what is allowed, a `~` list takes away from it
    allowed: set[str] = set()
    for line in UNIT_TEMPLATE.read_text().splitlines():
        if not line.startswith("SystemCallFilter="):
            continue
        value = line[len("SystemCallFilter="):]
        items = set().union(*(expand(x) for x in value.lstrip("~").split()))
        allowed = allowed - items if value.startswith("~") else allowed | items
    assert "openat" in allowed and "reboot" not in allowed
    return allowed


def test_every_system_call_is_allowed_by_the_unit(shm_admin_bin, tmp_path, prefix):
    allowed = allowed_system_calls()
    trace = tmp_path / "trace"
    srv = ServiceProcess(["strace", "-f", "-qq", "-o", str(trace), shm_admin_bin, "serve", "--port", "0",
                          "--state-dir", str(tmp_path / "state")],
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, log_dir=str(tmp_path))
    server_pid = None
    try:
        srv.wait_banner(timeout=60)
        # the server is strace's child: signals go to it, and a failure must not leave it running
        (server_pid,) = map(int, open(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children").read().split())
        t = srv.token
        name = prefix + "traced"
        path = "/api/v1/sections/" + urllib.parse.quote(name, safe="")

        def call(method, p, body=None, expect=200, content_type="application/json"):
            status, data = http(srv.port, method, p, token=t, body=body, content_type=content_type, timeout=30)
            assert status == expect, (method, p, status, data[:300])
            return json.loads(data) if data and content_type == "application/json" and data[:1] == b"{" else data

        events = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        events.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                       f"Authorization: Bearer {t}\r\n\r\n".encode())
        call("POST", "/api/v1/sections", json.dumps({"name": name, "reserve": "1MiB", "commit": "64KiB",
                                                     "labels": {"app": "trace"}}).encode(), expect=201)
        call("PUT", path + "/data?offset=0", b"hello " * 100, content_type="application/octet-stream")
        call("POST", path + "/grow", b'{"by":"64KiB"}')
        call("POST", path + "/reset", b'{"offset":0,"length":4096}')
        call("GET", path + "/pages")
        view = call("POST", path + "/views", b'{"access":"rw"}', expect=201)
        call("PUT", path + f"/views/{view['id']}/data?offset=8", b"through a view",
             content_type="application/octet-stream")
        call("GET", path + f"/views/{view['id']}/data?offset=0&length=64&format=raw")
        call("GET", path + "/views")
        for fmt in ("raw", "hexdump", "base64", "hex"):
            http(srv.port, "GET", path + f"/data?offset=0&length=256&format={fmt}", token=t)
        lease = call("POST", path + "/lock", b'{"mode":"exclusive","timeoutMs":100}', expect=201)
        call("DELETE", path + f"/lock/{lease['lease']}", expect=204)
        call("DELETE", path + f"/views/{view['id']}", expect=204)
        call("GET", "/metrics")
        call("GET", "/api/v1/system")
        call("GET", "/api/v1/sections?limit=1000")
        call("GET", path)
        # an object made and removed by another process (inotify, the /proc scan)
        other = "/dev/shm/" + prefix + "other"
        with open(other, "wb") as f:
            f.write(b"x" * 4096)
        time.sleep(1.2)
        call("GET", "/api/v1/sections?q=" + urllib.parse.quote(prefix))
        os.unlink(other)
        call("DELETE", path + "?force=true", expect=204)
        call("GET", "/")
        events.close()
        os.kill(server_pid, signal.SIGTERM)  # strace exits with the server's status
        assert srv.wait_exit(30) == 0, srv.stderr()
    finally:
        if server_pid is not None and srv.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server_pid, signal.SIGKILL)
        srv.close()
    used = set()
    for line in trace.read_text(errors="replace").splitlines():
        m = re.match(r"^\d+\s+([a-z_0-9]+)\(", line)
        if m:
            used.add(m.group(1))
    assert len(used) > 30, sorted(used)
    outside = sorted(used - allowed - {"execve"})  # strace's own exec of the server
    assert outside == [], f"system calls outside the unit's SystemCallFilter: {outside}"
