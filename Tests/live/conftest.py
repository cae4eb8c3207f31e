"""Live-test support: the real shm-admin server, an HTTP client, python3 peers, cleanup.

Everything here talks to 127.0.0.1 only, and every wait is bounded in time and count.
Shared-memory objects made by the tests carry a per-run prefix (`t-<pid>-<hex>-`), and each
test gets its own sub-prefix; every object with the prefix is unlinked after each test and
again at the end of the session, whether the test passed or not.

Fixtures (names kept specific so other live-test files can share this conftest):
  shm_admin_bin   path of the server binary (env SHM_ADMIN_BIN; fails clearly when unset)
  server          the session's server (generated admin token, default options)
  admin           Client of `server` carrying the admin token
  anon            Client of `server` without a token
  server_factory  starts extra servers with their own options; stops them after the test
  prefix          a unique name prefix for this test; objects with it are removed afterwards
  shm_track       registers extra /dev/shm names (e.g. generated ones) for removal
  peers           starts python3 peer processes (shared_memory, mmap, fcntl) for this test
"""

from __future__ import annotations

import base64
import collections
import errno
import http.client
import json as jsonlib
import os
import re
import secrets
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

SHM_DIR = "/dev/shm"
PAGE = os.sysconf("SC_PAGE_SIZE")
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LISTEN_RE = re.compile(r"^shm-admin listening on http://127\.0\.0\.1:(\d+)/$")
DASHBOARD_RE = re.compile(r"^dashboard: (http://127\.0\.0\.1:(\d+)/)#token=(\S+)$")
PROBLEM_CT = "application/problem+json"

RUN_PREFIX = f"t-{os.getpid()}-{secrets.token_hex(4)}-"
_test_counter = [0]
_running_servers: list["ShmAdminServer"] = []


# --------------------------------------------------------------------------------------------
# small helpers


def shm_path(name: str) -> str:
    return os.path.join(SHM_DIR, name)


def sec(name: str, *parts: str) -> str:
    """`/api/v1/sections/NAME[/part…]` with NAME percent-encoded."""
    path = "/api/v1/sections/" + urllib.parse.quote(name, safe="")
    for p in parts:
        path += "/" + urllib.parse.quote(str(p), safe="")
    return path


def round_up(n: int, page: int = PAGE) -> int:
    return (n + page - 1) // page * page


def wait_until(predicate, timeout: float = 3.0, interval: float = 0.1, what: str = "condition"):
    """Polls `predicate` until it returns a truthy value; bounded in time and count."""
    deadline = time.monotonic() + timeout
    last = None
    for _ in range(int(timeout / interval) + 2):
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def read_object(name: str, offset: int = 0, length: int | None = None) -> bytes:
    """Reads the object's bytes with plain file I/O (no mapping in the test process)."""
    with open(shm_path(name), "rb") as f:
        f.seek(offset)
        return f.read() if length is None else f.read(length)


def assert_problem(resp: "Response", status: int, ptype: str | None = None) -> dict:
    """Asserts an RFC 9457 problem response and returns its JSON body."""
    assert resp.status == status, f"expected {status}: {resp.describe()}"
    ct = resp.header("Content-Type") or ""
    assert ct.split(";")[0].strip().lower() == PROBLEM_CT, f"content-type {ct!r}: {resp.describe()}"
    body = resp.json
    assert isinstance(body, dict), f"problem body is not a JSON object: {resp.describe()}"
    for key in ("type", "title", "status", "detail"):
        assert key in body, f"problem lacks {key!r}: {resp.describe()}"
    assert isinstance(body["type"], str) and body["type"].startswith("/problems/"), resp.describe()
    assert isinstance(body["title"], str) and body["title"], resp.describe()
    assert isinstance(body["detail"], str), resp.describe()
    assert body["status"] == status, resp.describe()
    if ptype is not None:
        assert body["type"] == f"/problems/{ptype}", f"expected type /problems/{ptype}: {resp.describe()}"
    return body


def unlink_quietly(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        return
    try:
        os.unlink(shm_path(name))
    except FileNotFoundError:
        pass
    except OSError:
        pass


def remove_prefixed(prefix: str) -> None:
    """Unlinks every /dev/shm entry named PREFIX… or sem.PREFIX…"""
    try:
        entries = os.listdir(SHM_DIR)
    except OSError:
        return
    for entry in entries:
        if entry.startswith(prefix) or entry.startswith("sem." + prefix):
            unlink_quietly(entry)


# --------------------------------------------------------------------------------------------
# HTTP client


class Response:
    def __init__(self, method, path, status, reason, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.headers = headers  # http.client.HTTPMessage
        self.body = body
        self._json = ...

    def header(self, name: str):
        return self.headers.get(name)

    @property
    def json(self):
        if self._json is ...:
            try:
                self._json = jsonlib.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self._json = None
        return self._json

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def describe(self) -> str:
        body = self.body[:600]
        return f"{self.method} {self.path} -> {self.status} {self.reason} {dict(self.headers)!r} {body!r}"

    def __repr__(self):
        return f"<Response {self.describe()}>"


_DEFAULT = object()


def encode_query(query) -> str:
    if not query:
        return ""
    items = []
    for k, v in (query.items() if isinstance(query, dict) else query):
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        items.append((k, str(v)))
    return urllib.parse.urlencode(items)


class Client:
    """One HTTP/1.1 request per connection to 127.0.0.1:PORT; nothing is normalised."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 15.0):
        self.port = port
        self.token = token
        self.timeout = timeout

    def with_token(self, token):
        return Client(self.port, token, self.timeout)

    def request(self, method, path, query=None, json=_DEFAULT, body=None, token=_DEFAULT,
                headers=None, timeout=None, content_type=_DEFAULT) -> Response:
        hdrs = {}
        tok = self.token if token is _DEFAULT else token
        if tok is not None:
            hdrs["Authorization"] = f"Bearer {tok}"
        data = body
        if json is not _DEFAULT:
            data = jsonlib.dumps(json).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif body is not None:
            hdrs["Content-Type"] = "application/octet-stream"
        if content_type is not _DEFAULT:
            if content_type is None:
                hdrs.pop("Content-Type", None)
            else:
                hdrs["Content-Type"] = content_type
        if isinstance(data, str):
            data = data.encode("utf-8")
        if headers:
            hdrs.update(headers)
        q = encode_query(query)
        full = path + ("?" + q if q else "")
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=timeout or self.timeout)
        try:
            try:
                conn.request(method, full, body=data, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (413) before reading the whole body; if http.client already
                # dropped the socket, the server is gone: an OSError, as callers expect.
                if conn.sock is None:
                    raise
            r = conn.getresponse()
            payload = r.read()
            return Response(method, full, r.status, r.reason, r.headers, payload)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def post(self, path, json=_DEFAULT, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # convenience used by many tests -----------------------------------------------------
    def create(self, name, reserve, commit=None, expect=201, **extra):
        body = {"name": name, "reserve": reserve}
        if commit is not None:
            body["commit"] = commit
        body.update(extra)
        r = self.post("/api/v1/sections", json=body)
        assert r.status == expect, f"create {name}: {r.describe()}"
        return r.json

    def detail(self, name):
        r = self.get(sec(name))
        assert r.status == 200, r.describe()
        return r.json

    def write(self, name, offset, data: bytes, **query):
        r = self.put(sec(name, "data"), query={"offset": offset, **query}, body=data)
        assert r.status == 200, r.describe()
        assert r.json == {"offset": offset, "written": len(data), "requested": len(data)}, r.describe()
        return r.json

    def read_raw(self, name, offset, length):
        r = self.get(sec(name, "data"), query={"offset": offset, "length": length, "format": "raw"})
        assert r.status == 200, r.describe()
        return r.body

    def list(self, **query):
        r = self.get("/api/v1/sections", query=query)
        assert r.status == 200, r.describe()
        return r.json


# --------------------------------------------------------------------------------------------
# the server process


class ShmAdminServer:
    def __init__(self, binary: str, state_dir: Path, token_file=None, read_token_file=None,
                 extra_args=(), umask=None, log_dir: Path | None = None):
        self.binary = binary
        self.state_dir = Path(state_dir)
        self.token_file = token_file
        self.read_token_file = read_token_file
        self.extra_args = list(extra_args)
        self.umask = umask
        self.log_dir = Path(log_dir or state_dir)
        self.proc: subprocess.Popen | None = None
        self.port = None
        self.admin_token = None
        self.read_token = None
        self.dashboard_url = None
        self.startup_lines: list[str] = []
        self._lines = collections.deque(maxlen=300)
        self._stderr_path = None
        self._drain = None

    @property
    def argv(self):
        argv = [self.binary, "serve", "--port", "0", "--state-dir", str(self.state_dir)]
        if self.token_file:
            argv += ["--token-file", str(self.token_file)]
        if self.read_token_file:
            argv += ["--read-token-file", str(self.read_token_file)]
        return argv + self.extra_args

    def start(self):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._stderr_path = self.log_dir / f"server-{secrets.token_hex(3)}.stderr"
        err = open(self._stderr_path, "wb")
        umask = self.umask
        preexec = (lambda: os.umask(umask)) if umask is not None else None
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err, preexec_fn=preexec, cwd=str(self.log_dir))
        finally:
            err.close()
        _running_servers.append(self)
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        lines: list[str] = []
        dashboard = None
        while dashboard is None and time.monotonic() < deadline and len(lines) < 20:
            if b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                lines.append(line.decode("utf-8", "replace").rstrip("\r"))
                if len(lines) >= 2 and lines[-1].startswith("dashboard: "):
                    dashboard = lines[-1]
                continue
            ready, _, _ = select.select([fd], [], [], max(0.0, min(0.5, deadline - time.monotonic())))
            if not ready:
                if self.proc.poll() is not None:
                    break
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        self.startup_lines = lines
        if not lines or not LISTEN_RE.match(lines[0]) or dashboard is None:
            self._fail_start(f"expected `shm-admin listening on http://127.0.0.1:PORT/` then "
                             f"`dashboard: …#token=TOKEN` within {STARTUP_TIMEOUT}s; got {lines!r} "
                             f"(pending {buf[:200]!r})")
        self.port = int(LISTEN_RE.match(lines[0]).group(1))
        m = DASHBOARD_RE.match(dashboard)
        if not m:
            self._fail_start(f"bad dashboard line {dashboard!r}")
        self.dashboard_url = dashboard[len("dashboard: "):]
        self.admin_token = m.group(3)
        if self.read_token_file:
            self.read_token = Path(self.read_token_file).read_text().strip()
        self._lines.extend(lines)
        if buf:
            self._lines.append(buf.decode("utf-8", "replace"))
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()
        return self

    def _drain_stdout(self):
        out = self.proc.stdout
        try:
            for raw in iter(out.readline, b""):
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        except (OSError, ValueError):
            pass

    def _fail_start(self, why):
        rc = None
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            rc = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        pytest.fail(f"shm-admin did not start ({' '.join(self.argv)}): {why}; exit code {rc}; "
                    f"stderr: {self.stderr_tail()!r}", pytrace=False)

    def stderr_tail(self, n=4000) -> str:
        try:
            data = Path(self._stderr_path).read_bytes()
        except (OSError, TypeError):
            return ""
        return data[-n:].decode("utf-8", "replace")

    def diagnostics(self) -> str:
        return f"stdout tail: {list(self._lines)[-20:]!r}\nstderr tail: {self.stderr_tail()!r}"

    @property
    def pid(self):
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, token=_DEFAULT) -> Client:
        return Client(self.port, self.admin_token if token is _DEFAULT else token)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends `sig`, waits up to `timeout`, kills on expiry. Returns (exit code, timed_out)."""
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), False
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout), False
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            return self.proc.returncode, True
        finally:
            self._close()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close()

    def _close(self):
        if self in _running_servers:
            _running_servers.remove(self)
        if self._drain is not None:
            self._drain.join(2)


def _stop_checked(srv: ShmAdminServer):
    if not srv.alive():
        _running_servers.remove(srv) if srv in _running_servers else None
        return
    rc, timed_out = srv.stop()
    assert not timed_out, f"server pid {srv.pid} did not exit within {STOP_TIMEOUT}s of SIGTERM; " \
                          f"{srv.diagnostics()}"
    assert rc == 0, f"server exited {rc} after SIGTERM; {srv.diagnostics()}"


# --------------------------------------------------------------------------------------------
# python3 peers


PEER_SOURCE = r'''
import base64, fcntl, json, os, sys
from multiprocessing import shared_memory, resource_tracker
# never unlink at exit: the tests decide what happens to the object
resource_tracker.register = lambda *a, **k: None
resource_tracker.unregister = lambda *a, **k: None
SHM = sys.argv[1]
shms, lockfds = {}, {}
def reply(**kw):
    sys.stdout.write(json.dumps(kw) + "\n"); sys.stdout.flush()
def seg(name):
    if name not in shms:
        shms[name] = shared_memory.SharedMemory(name=name)
    return shms[name]
reply(ok=True, pid=os.getpid())
for line in sys.stdin:
    cmd = json.loads(line); op = cmd["op"]; name = cmd.get("name")
    try:
        if op == "create":
            shms[name] = shared_memory.SharedMemory(name=name, create=True, size=cmd["size"])
            reply(ok=True, size=shms[name].size)
        elif op == "attach":
            reply(ok=True, size=seg(name).size)
        elif op == "detach":
            s = shms.pop(name); s.close(); reply(ok=True)
        elif op == "write":
            data = base64.b64decode(cmd["data"]); off = cmd["offset"]
            fresh = name not in shms
            s = seg(name); s.buf[off:off + len(data)] = data
            if fresh:
                shms.pop(name).close()
            reply(ok=True, written=len(data))
        elif op == "read":
            off, n = cmd["offset"], cmd["length"]
            s = shared_memory.SharedMemory(name=name)
            data = bytes(s.buf[off:off + n]); s.close()
            reply(ok=True, data=base64.b64encode(data).decode())
        elif op == "lock":
            fd = os.open(os.path.join(SHM, name), os.O_RDWR)
            flags = fcntl.LOCK_EX if cmd.get("mode", "exclusive") == "exclusive" else fcntl.LOCK_SH
            if cmd.get("nb", True):
                flags |= fcntl.LOCK_NB
            try:
                fcntl.lockf(fd, flags)
            except OSError as e:
                os.close(fd); reply(ok=False, errno=e.errno); continue
            lockfds[name] = fd; reply(ok=True)
        elif op == "unlock":
            fd = lockfds.pop(name); fcntl.lockf(fd, fcntl.LOCK_UN); os.close(fd); reply(ok=True)
        elif op == "truncate":
            os.truncate(os.path.join(SHM, name), cmd["size"]); reply(ok=True)
        elif op == "exit":
            reply(ok=True); break
        else:
            reply(ok=False, error="unknown op " + op)
    except Exception as e:
        reply(ok=False, error=repr(e))
'''


class Peer:
    """A python3 process driven line by line over stdin/stdout (JSON commands)."""

    def __init__(self, log_dir: Path):
        self._err = tempfile.TemporaryFile(dir=str(log_dir))
        self.proc = subprocess.Popen([sys.executable, "-c", PEER_SOURCE, SHM_DIR], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err)
        self._buf = b""
        hello = self._reply(15.0)
        assert hello.get("ok") and hello.get("pid") == self.proc.pid, hello

    @property
    def pid(self):
        return self.proc.pid

    def _stderr(self):
        try:
            self._err.seek(0)
            return self._err.read()[-2000:].decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def _reply(self, timeout):
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"peer {self.proc.pid} did not answer within {timeout}s; "
                                     f"stderr: {self._stderr()!r}")
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(f"peer {self.proc.pid} exited; stderr: {self._stderr()!r}")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return jsonlib.loads(line)

    def call(self, op, timeout=10.0, **kw):
        msg = dict(op=op, **kw)
        self.proc.stdin.write((jsonlib.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()
        return self._reply(timeout)

    def ok(self, op, **kw):
        r = self.call(op, **kw)
        assert r.get("ok"), f"peer {op} {kw}: {r}"
        return r

    # helpers
    def create(self, name, size):
        return self.ok("create", name=name, size=size)

    def attach(self, name):
        return self.ok("attach", name=name)

    def write(self, name, offset, data: bytes):
        return self.ok("write", name=name, offset=offset, data=base64.b64encode(data).decode())

    def read(self, name, offset, length) -> bytes:
        return base64.b64decode(self.ok("read", name=name, offset=offset, length=length)["data"])

    def try_lock(self, name, mode="exclusive") -> dict:
        return self.call("lock", name=name, mode=mode, nb=True)

    def unlock(self, name):
        return self.ok("unlock", name=name)

    def exit(self, timeout=5.0):
        if self.proc.poll() is None:
            try:
                self.call("exit", timeout=timeout)
            except (AssertionError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self._err.close()


# --------------------------------------------------------------------------------------------
# Server-Sent Events over a raw socket


class EventStream:
    def __init__(self, port: int, token: str | None = None, connect_timeout=5.0):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=connect_timeout)
        req = (f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Accept: text/event-stream\r\nCache-Control: no-cache\r\n")
        if token:
            req += f"Authorization: Bearer {token}\r\n"
        self.sock.sendall((req + "\r\n").encode())
        self.raw = b""
        self.text = ""
        self.closed = False
        self.comments: list[str] = []
        self.events: list[dict] = []
        deadline = time.monotonic() + connect_timeout
        while b"\r\n\r\n" not in self.raw:
            if not self._recv(deadline):
                raise AssertionError(f"no response head from /api/v1/events: {self.raw[:300]!r}")
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for h in lines[1:]:
            k, _, v = h.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()

    def _recv(self, deadline) -> bool:
        left = deadline - time.monotonic()
        if left <= 0 or self.closed:
            return False
        self.sock.settimeout(min(left, 0.5))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        if not chunk:
            self.closed = True
            return False
        self.raw += chunk
        return True

    def _decode(self):
        if not self.chunked:
            self.text += self.raw.decode("utf-8", "replace")
            self.raw = b""
            return
        while True:
            if b"\r\n" not in self.raw:
                return
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.closed = True
                return
            if len(rest) < size + 2:
                return
            self.text += rest[:size].decode("utf-8", "replace")
            self.raw = rest[size + 2:]

    def _next_block(self, deadline):
        while True:
            self._decode()
            norm = self.text.replace("\r\n", "\n")
            if "\n\n" in norm:
                block, rest = norm.split("\n\n", 1)
                self.text = rest
                return block.split("\n")
            if not self._recv(deadline):
                if time.monotonic() >= deadline or self.closed:
                    return None

    def _parse(self, lines):
        ev = {"event": "message", "data": []}
        for line in lines:
            if line.startswith(":"):
                self.comments.append(line)
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                ev["data"].append(value)
            else:
                ev[field] = value
        if not ev["data"] and "id" not in ev:
            return None
        raw = "\n".join(ev["data"])
        try:
            ev["json"] = jsonlib.loads(raw)
        except ValueError:
            ev["json"] = None
        ev["data"] = raw
        return ev

    def wait_comment(self, text, timeout=5.0):
        deadline = time.monotonic() + timeout
        for _ in range(10000):
            if any(c.strip() == text for c in self.comments):
                return True
            block = self._next_block(deadline)
            if block is None:
                break
            ev = self._parse(block)
            if ev:
                self.events.append(ev)
        raise AssertionError(f"comment {text!r} not seen within {timeout}s; comments {self.comments!r}, "
                             f"events {self.events!r}")

    def wait_event(self, predicate, timeout=5.0, what="event"):
        for ev in self.events:
            if predicate(ev):
                return ev
        deadline = time.monotonic() + timeout
        for _ in range(10000):
            block = self._next_block(deadline)
            if block is None:
                break
            ev = self._parse(block)
            if ev:
                self.events.append(ev)
                if predicate(ev):
                    return ev
        raise AssertionError(f"{what} not seen within {timeout}s; events seen: {self.events!r}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def shm_admin_bin() -> str:
    binary = os.environ.get("SHM_ADMIN_BIN")
    if not binary:
        pytest.fail("SHM_ADMIN_BIN is not set: run `make test`, or set SHM_ADMIN_BIN=/path/to/shm-admin "
                    "(e.g. .build/debug/shm-admin) to run the live API tests", pytrace=False)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail(f"SHM_ADMIN_BIN={binary!r} is not an executable file", pytrace=False)
    return binary


@pytest.fixture(scope="session")
def shm_run_prefix():
    yield RUN_PREFIX
    remove_prefixed(RUN_PREFIX)


@pytest.fixture(scope="session")
def server(shm_admin_bin, tmp_path_factory, shm_run_prefix):
    """The session's server: generated admin token, default options."""
    base = tmp_path_factory.mktemp("shm-admin-session")
    srv = ShmAdminServer(shm_admin_bin, base / "state", log_dir=base).start()
    yield srv
    _stop_checked(srv)


@pytest.fixture
def admin(server) -> Client:
    assert server.alive(), f"the session server died; {server.diagnostics()}"
    return server.client()


@pytest.fixture
def anon(server) -> Client:
    return server.client(token=None)


@pytest.fixture
def server_factory(shm_admin_bin, tmp_path, shm_run_prefix):
    """start(token=None|str, read_token=None|str, args=(), umask=None, state_dir=None) -> server."""
    started: list[ShmAdminServer] = []

    def start(token=None, read_token=None, args=(), umask=None, state_dir=None):
        n = len(started)
        token_file = read_token_file = None
        if token is not None:
            token_file = tmp_path / f"admin-token-{n}"
            token_file.write_text(token + "\n")
            os.chmod(token_file, 0o600)
        if read_token is not None:
            read_token_file = tmp_path / f"read-token-{n}"
            read_token_file.write_text(read_token + "\n")
            os.chmod(read_token_file, 0o600)
        srv = ShmAdminServer(shm_admin_bin, state_dir or tmp_path / f"state-{n}", token_file=token_file,
                             read_token_file=read_token_file, extra_args=args, umask=umask,
                             log_dir=tmp_path).start()
        started.append(srv)
        return srv

    yield start
    problems = []
    for srv in started:
        try:
            _stop_checked(srv)
        except AssertionError as e:
            problems.append(str(e))
    assert not problems, problems


@pytest.fixture
def shm_track():
    """Returns a function that registers extra /dev/shm names for removal after the test."""
    names: list[str] = []
    yield names.append
    for n in names:
        unlink_quietly(n)


@pytest.fixture
def prefix(shm_run_prefix, request):
    _test_counter[0] += 1
    p = f"{shm_run_prefix}{_test_counter[0]}-"
    yield p
    # forget managed records on running servers (best effort), then unlink every object
    for srv in list(_running_servers):
        if not srv.alive():
            continue
        try:
            c = srv.client()
            r = c.get("/api/v1/sections", query={"q": p, "limit": 1000}, timeout=5)
            for s in (r.json or {}).get("sections", [])[:1000] if r.status == 200 else []:
                if s.get("managed") and s.get("name", "").startswith(p):
                    c.delete(sec(s["name"]), query={"force": "true"}, timeout=5)
        except (OSError, http.client.HTTPException, AttributeError, TypeError):
            pass
    remove_prefixed(p)


@pytest.fixture
def peers(tmp_path):
    started: list[Peer] = []

    def start() -> Peer:
        p = Peer(tmp_path)
        started.append(p)
        return p

    yield start
    for p in started:
        p.exit()
