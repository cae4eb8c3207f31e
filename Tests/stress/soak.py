#!/usr/bin/env python3
"""Hardening, suite 3 (issue 6): the soak, run by `make stress` against a release build.

wrk (Debian's package) drives 64 connections for 20 + 60 s through Tests/stress/soak.lua — list, detail,
pages, views, dumps in every format, system, metrics — while, in parallel, a python writer creates,
writes, grows, maps, locks and deletes sections through the API, another process creates and unlinks
objects straight in /dev/shm, and an event-stream client reads every event. The first 20 s are the
warm-up, after which the RSS baseline is taken; the fd baseline is taken idle, before wrk starts.

Checks (exit status 1 if one fails; the summary is printed either way):
  * zero failed valid requests: every wrk answer 2xx, no socket errors, every writer step answered
    as expected, the event client never dropped;
  * RSS growth under 5 % from the end of the warm-up to the end of the soak: one wrk run, the first
    SOAK_WARMUP seconds of which are the warm-up; each value is the lowest of 10 s of samples taken
    every 0.5 s under that load (transient buffers aside: see `window_floor`; the idle values and
    the peak are printed too);
  * the fd count (/proc/PID/fd) back to its idle baseline once the clients are gone.

Environment: SHM_ADMIN_BIN (the server binary; `make stress` passes the release build),
SOAK_SECONDS (60), SOAK_WARMUP (20), SOAK_CONNECTIONS (64), SOAK_THREADS (2).
Traffic stays on loopback (the writer and the event client connect from 127.0.0.2 and 127.0.0.3, so
wrk's 64 connections do not count against the server's per-address limit of 64). Every loop is
bounded; every /dev/shm object is named soak-PID-… and removed at the end, whatever happened; the
server started here is stopped here, by its pid.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHM = "/dev/shm"
PREFIX = f"soak-{os.getpid()}-"
SECONDS = int(os.environ.get("SOAK_SECONDS", "60"))
WARMUP = int(os.environ.get("SOAK_WARMUP", "20"))
CONNECTIONS = int(os.environ.get("SOAK_CONNECTIONS", "64"))
THREADS = int(os.environ.get("SOAK_THREADS", "2"))
FIXTURES = 4
RSS_LIMIT = 5.0  # percent


def say(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def settled_fds(pid: int, seconds: float = 3.0) -> int:
    """The fd count once connections just closed are gone: the lowest seen over `seconds`."""
    low = fd_count(pid)
    for _ in range(int(seconds / 0.1)):
        time.sleep(0.1)
        low = min(low, fd_count(pid))
    return low


# --------------------------------------------------------------------------------------------
# the server


class Server:
    def __init__(self, binary: str, work: Path):
        self.token = secrets.token_hex(32)
        token_file = work / "admin-token"
        token_file.write_text(self.token + "\n")
        token_file.chmod(0o600)
        self.log = open(work / "server.log", "wb")
        self.proc = subprocess.Popen(
            [binary, "serve", "--port", "0", "--state-dir", str(work / "state"), "--token-file", str(token_file),
             "--log-level", os.environ.get("SOAK_LOG_LEVEL", "notice")],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log)
        self.port = None
        buf = b""
        deadline = time.monotonic() + 30
        while self.port is None and time.monotonic() < deadline and self.proc.poll() is None:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", buf)
                if m:
                    self.port = int(m.group(1))
        if self.port is None:
            self.stop()
            raise RuntimeError(f"the server did not start: {buf[:300]!r}, log {self.log_tail()!r}")
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        try:
            for _ in iter(self.proc.stdout.readline, b""):
                pass
        except (OSError, ValueError):
            pass

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 2000) -> str:
        try:
            return Path(self.log.name).read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


class Conn:
    """A keep-alive connection from a given loopback source address; reconnects when closed."""

    def __init__(self, port: int, token: str, source: str):
        self.port, self.token, self.source = port, token, source
        self.conn = None

    def request(self, method: str, path: str, body: bytes | None = None, json_body=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif body is not None:
            headers["Content-Type"] = "application/octet-stream"
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                                       source_address=(self.source, 0))
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the server closed an idle keep-alive connection just as we reused it: once more, fresh
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def sec(name: str, *parts: str) -> str:
    return "/api/v1/sections/" + "/".join((name,) + parts)


# --------------------------------------------------------------------------------------------
# what runs beside wrk


class Background:
    """The API writer, the external /dev/shm writer and the event-stream reader, until stopped."""

    def __init__(self, server: Server, phase: str):
        self.server, self.phase = server, phase
        self.stop_flag = threading.Event()
        self.failures: list[str] = []
        self.cycles = 0
        self.external = 0
        self.events = 0
        self.event_bytes = 0
        self.event_closed = False
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self.api_writer, self.shm_writer)]
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5,
                                             source_address=("127.0.0.3", 0))
        self.sock.sendall(f"GET /api/v1/events HTTP/1.0\r\nHost: 127.0.0.1:{server.port}\r\n"
                          f"Authorization: Bearer {server.token}\r\n\r\n".encode())
        self.threads.append(threading.Thread(target=self.event_reader, daemon=True))

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(60)
        self.sock.close()
        if any(t.is_alive() for t in self.threads):
            self.failures.append(f"{self.phase}: a background thread did not stop within 60 s")

    def fail(self, text: str):
        if len(self.failures) < 20:
            self.failures.append(f"{self.phase}: {text}")

    def expect(self, what: str, got, want) -> bool:
        status, body = got
        if status != want:
            self.fail(f"{what}: {status} (wanted {want}) {body[:200]!r}")
            return False
        return True

    def api_writer(self):
        c = Conn(self.server.port, self.server.token, "127.0.0.2")
        try:
            for i in range(1_000_000):
                if self.stop_flag.is_set():
                    return
                n = f"{PREFIX}{self.phase}-w{i}"
                payload = secrets.token_bytes(4096)
                steps = [
                    ("create", lambda: c.request("POST", "/api/v1/sections",
                                                 json_body={"name": n, "reserve": "1MiB", "commit": "64KiB",
                                                            "labels": {"soak": self.phase}}), 201),
                    ("write", lambda: c.request("PUT", sec(n, "data") + "?offset=4096", body=payload), 200),
                    ("grow", lambda: c.request("POST", sec(n, "grow"), json_body={"by": "64KiB"}), 200),
                ]
                ok = all(self.expect(what, call(), want) for what, call, want in steps)
                if ok:
                    status, body = c.request("GET", sec(n, "data") + "?offset=4096&length=4096&format=raw")
                    ok = self.expect("read", (status, body), 200)
                    if ok and body != payload:
                        self.fail(f"read back {n}: other bytes than written")
                    status, body = c.request("POST", sec(n, "views"), json_body={"access": "ro"})
                    if self.expect("map", (status, body), 201):
                        view = json.loads(body)["id"]
                        self.expect("unmap", c.request("DELETE", sec(n, "views", view)), 204)
                    status, body = c.request("POST", sec(n, "lock"), json_body={"mode": "exclusive", "ttlMs": 5000})
                    if self.expect("lock", (status, body), 201):
                        self.expect("unlock", c.request("DELETE", sec(n, "lock", json.loads(body)["lease"])), 204)
                self.expect("delete", c.request("DELETE", sec(n) + "?force=true"), 204)
                self.cycles += 1
        except (OSError, http.client.HTTPException, ValueError) as e:
            self.fail(f"api writer: {e!r}")
        finally:
            c.close()

    def shm_writer(self):
        """Another process's changes, straight in /dev/shm (the server sees them through inotify)."""
        live: list[str] = []
        try:
            for i in range(1_000_000):
                if self.stop_flag.is_set():
                    return
                n = f"{PREFIX}{self.phase}-x{i}"
                fd = os.open(os.path.join(SHM, n), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                os.ftruncate(fd, 16384)
                os.pwrite(fd, b"external", 0)
                os.close(fd)
                live.append(n)
                if len(live) > 20:
                    os.unlink(os.path.join(SHM, live.pop(0)))
                self.external += 1
                time.sleep(0.01)
        except OSError as e:
            self.fail(f"shm writer: {e!r}")
        finally:
            for n in live:
                try:
                    os.unlink(os.path.join(SHM, n))
                except OSError:
                    pass

    def event_reader(self):
        self.sock.settimeout(0.5)
        for _ in range(10_000_000):
            if self.stop_flag.is_set():
                return
            try:
                chunk = self.sock.recv(1 << 18)
            except socket.timeout:
                continue
            except OSError as e:
                self.event_closed = True
                self.fail(f"the event-stream client was dropped after {self.events} events: {e!r}")
                return
            if not chunk:
                self.event_closed = True
                self.fail(f"the event-stream client was dropped after {self.events} events (end of stream)")
                return
            self.event_bytes += len(chunk)
            self.events += chunk.count(b"\nevent: ")


class RssSampler:
    def __init__(self, pid: int):
        self.pid, self.peak, self.samples = pid, 0, 0
        self.started = time.monotonic()
        self.timeline: list[tuple[float, int]] = []  # (seconds since start, RSS KiB)
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        for _ in range(100_000):
            if self.stop_flag.wait(0.5):
                return
            try:
                rss = rss_kib(self.pid)
                self.peak = max(self.peak, rss)
                self.samples += 1
                self.timeline.append((time.monotonic() - self.started, rss))
            except (OSError, RuntimeError):
                return

    def stop(self) -> int:
        self.stop_flag.set()
        self.thread.join(5)
        return self.peak


# --------------------------------------------------------------------------------------------
# wrk


def run_wrk(server: Server, seconds: int) -> dict:
    argv = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency",
            "-s", str(HERE / "soak.lua"), f"http://127.0.0.1:{server.port}", "--", server.token, PREFIX,
            str(FIXTURES)]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=seconds + 120)
    out = r.stdout.decode(errors="replace")
    result = {"rc": r.returncode, "out": out, "err": r.stderr.decode(errors="replace"), "statuses": {},
              "samples": [], "socket_errors": 0, "requests": 0, "rps": 0.0, "latency": {}}
    for line in out.splitlines():
        if m := re.match(r"^status (\d+) (\d+)$", line):
            result["statuses"][int(m.group(1))] = int(m.group(2))
        elif line.startswith("sample "):
            result["samples"].append(line[7:])
        elif m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", line):
            result["socket_errors"] = sum(int(x) for x in m.groups())
        elif m := re.match(r"^\s*(\d+) requests in", line):
            result["requests"] = int(m.group(1))
        elif m := re.match(r"^Requests/sec:\s+([\d.]+)", line):
            result["rps"] = float(m.group(1))
        elif m := re.match(r"^\s+(50|90|99)%\s+(\S+)", line):
            result["latency"][m.group(1)] = m.group(2)
    return result


def wrk_problems(phase: str, w: dict) -> list[str]:
    problems = []
    if w["rc"] != 0:
        problems.append(f"{phase}: wrk exited {w['rc']}: {w['err'][-300:]}")
    if not w["statuses"]:
        problems.append(f"{phase}: wrk reported no statuses: {w['out'][-500:]}")
    bad = {code: n for code, n in w["statuses"].items() if not 200 <= code <= 299}
    if bad:
        problems.append(f"{phase}: non-2xx answers {bad}; samples {w['samples'][:5]}")
    if w["socket_errors"]:
        problems.append(f"{phase}: {w['socket_errors']} socket errors")
    return problems


# --------------------------------------------------------------------------------------------


def make_fixtures(server: Server) -> None:
    c = Conn(server.port, server.token, "127.0.0.2")
    try:
        for i in range(FIXTURES):
            n = f"{PREFIX}f{i}"
            # f0's whole-commit raw dump (soak.lua) is 2 MiB: past the 1 MiB read at once, so it streams
            status, body = c.request("POST", "/api/v1/sections",
                                     json_body={"name": n, "reserve": "16MiB", "commit": "2MiB" if i == 0 else "1MiB",
                                                "labels": {"soak": "fixture"}})
            assert status == 201, (status, body[:300])
            for off in (0, 4096, 65536, 512 * 1024):
                status, body = c.request("PUT", sec(n, "data") + f"?offset={off}", body=secrets.token_bytes(8192))
                assert status == 200, (status, body[:300])
            status, body = c.request("POST", sec(n, "views"), json_body={"access": "ro"})
            assert status == 201, (status, body[:300])
    finally:
        c.close()


def phase(server: Server, name: str, seconds: int) -> tuple[dict, Background, RssSampler]:
    bg = Background(server, name)
    sampler = RssSampler(server.pid)
    bg.start()
    w = run_wrk(server, seconds)
    bg.stop()
    sampler.stop()
    return w, bg, sampler


def window_floor(sampler: RssSampler, start: float, end: float) -> int:
    """The lowest RSS sampled between `start` and `end` seconds into the run (about twenty samples).
    Under load RSS jumps by a request's buffers (2 MiB blocks that malloc hands back a moment or a
    few seconds later: the timeline shows them); a leak raises the floor, and the floor is what is
    compared. A median of 5 s landed on such a jump at the end of one soak and read +8.5 %."""
    window = [rss for at, rss in sampler.timeline if start <= at < end]
    if not window:
        raise RuntimeError(f"no RSS samples between {start} s and {end} s")
    return min(window)


def timeline(sampler: RssSampler, step: float = 10.0) -> str:
    """RSS every `step` seconds of a phase, in KiB."""
    points, next_at = [], 0.0
    for at, rss in sampler.timeline:
        if at >= next_at:
            points.append(f"{at:.0f}s {rss}")
            next_at += step
    return ", ".join(points)


def remove_objects() -> int:
    n = 0
    for entry in os.listdir(SHM):
        if entry.startswith(PREFIX):
            try:
                os.unlink(os.path.join(SHM, entry))
                n += 1
            except OSError:
                pass
    return n


NUL = bytes(1)


def check_json_answers(server: Server) -> list[str]:
    """Every JSON read endpoint of the release build answers JSON a strict parser takes: the test
    suites run a debug build, and the optimizer once turned `json.int(0)` into a NUL byte in release
    only (JSONWriter.writeInteger). A memfd held here puts objects of every writer path in the
    inventory (a memfd's `views` is the constant 0)."""
    problems: list[str] = []
    memfd = os.memfd_create(f"{PREFIX}memfd")
    os.ftruncate(memfd, 8192)
    os.pwrite(memfd, b"soak", 0)
    c = Conn(server.port, server.token, "127.0.0.2")
    try:
        paths = ["/api/v1/system", "/api/v1/sections", sec(f"{PREFIX}f0"), sec(f"{PREFIX}f0", "pages"),
                 sec(f"{PREFIX}f0", "views"), "/api/v1/inventory?limit=100000", "/api/v1/mounts", "/api/v1/mounts/host",
                 "/api/v1/doctor", "/api/v1/history"]
        inventory = None
        for path in paths:
            status, body = c.request("GET", path)
            try:
                nul = body.find(NUL)
                if nul >= 0:
                    raise ValueError(f"a NUL byte at {nul}: {body[max(0, nul - 60):nul + 20]!r}")
                doc = json.loads(body)
            except ValueError as e:
                problems.append(f"GET {path} ({status}) is not JSON: {e}")
                continue
            if status != 200:
                problems.append(f"GET {path} answered {status}: {body[:200]!r}")
            if path.startswith("/api/v1/inventory"):
                inventory = doc
        deadline = time.monotonic() + 5  # answers are up to a second old: the memfd shows within that
        while inventory is not None:
            mine = [o for o in inventory["objects"] if o["kind"] == "memfd" and o["name"] == f"{PREFIX}memfd"]
            if mine or time.monotonic() > deadline:
                break
            time.sleep(0.2)
            status, body = c.request("GET", "/api/v1/inventory?limit=100000&kind=memfd")
            inventory = json.loads(body) if status == 200 and NUL not in body else None
        if inventory is not None:
            if len(mine) != 1 or mine[0]["views"] != 0:
                problems.append(f"the inventory does not show this process's memfd as it should: {mine}")
            for o in mine[:1]:
                status, body = c.request("GET", o["href"])
                try:
                    json.loads(body)
                except ValueError as e:
                    problems.append(f"GET {o['href']} ({status}) is not JSON: {e}")
    finally:
        c.close()
        os.close(memfd)
    return problems


def main() -> int:
    binary = os.environ.get("SHM_ADMIN_BIN")
    if not binary or not os.access(binary, os.X_OK):
        print("soak: set SHM_ADMIN_BIN to the server binary (make stress does)", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print("soak: wrk is not installed (make stress installs it: scripts/setup stress)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="shm-admin-soak-"))
    server = None
    problems: list[str] = []
    started = time.monotonic()
    try:
        server = Server(binary, work)
        say(f"server pid {server.pid} on 127.0.0.1:{server.port} ({binary})")
        make_fixtures(server)
        json_problems = check_json_answers(server)
        problems += json_problems
        say(f"release answers: {'valid JSON' if not json_problems else json_problems}")
        idle_rss = rss_kib(server.pid)

        base_fds = settled_fds(server.pid)
        say(f"idle: RSS {idle_rss} KiB, {base_fds} fds")
        say(f"wrk -t{THREADS} -c{CONNECTIONS} for {WARMUP + SECONDS} s ({WARMUP} s warm-up, then the {SECONDS} s "
            f"soak), with the writers and an event client all along")
        w1, bg1, sampler = phase(server, "soak", WARMUP + SECONDS)
        problems += wrk_problems("soak", w1) + bg1.failures
        peak = sampler.peak
        base_rss = window_floor(sampler, WARMUP - 10, WARMUP)
        end_rss = window_floor(sampler, WARMUP + SECONDS - 10, WARMUP + SECONDS + 1)
        time.sleep(1)
        end_fds = settled_fds(server.pid)
        for _ in range(100):  # connections closing: up to 10 s more
            if end_fds <= base_fds:
                break
            time.sleep(0.1)
            end_fds = min(end_fds, fd_count(server.pid))
        end_idle = rss_kib(server.pid)
        growth = (end_rss - base_rss) * 100.0 / base_rss
        if not server.alive():
            problems.append("the server died")
        if growth >= RSS_LIMIT:
            problems.append(f"RSS grew {growth:.2f} % (limit {RSS_LIMIT} %)")
        if end_fds > base_fds:
            fds = sorted(os.readlink(f"/proc/{server.pid}/fd/{f}") for f in os.listdir(f"/proc/{server.pid}/fd"))
            problems.append(f"fd count {end_fds} after the soak, baseline {base_fds}: {fds}")
        if bg1.events == 0:
            problems.append("the event client received no events during the soak")

        total = sum(w1["statuses"].values())
        ok = sum(n for code, n in w1["statuses"].items() if 200 <= code <= 299)
        print()
        print("== soak summary ==")
        print(f"server          pid {server.pid} ({binary}), wrk -t{THREADS} -c{CONNECTIONS} for "
              f"{WARMUP} s warm-up + {SECONDS} s soak")
        print(f"wrk             {total} answers in {WARMUP + SECONDS} s ({w1['rps']:.0f} req/s), {ok} 2xx, statuses "
              f"{dict(sorted(w1['statuses'].items()))}, socket errors {w1['socket_errors']}, "
              f"latency p50 {w1['latency'].get('50', '?')} p90 {w1['latency'].get('90', '?')} "
              f"p99 {w1['latency'].get('99', '?')}")
        print(f"api writer      {bg1.cycles} create/write/grow/read/map/lock/delete cycles, "
              f"{len(bg1.failures)} failures")
        print(f"/dev/shm writer {bg1.external} objects created and unlinked by another process")
        print(f"event client    {bg1.events} events ({bg1.event_bytes} bytes), "
              f"{'dropped' if bg1.event_closed else 'never dropped'}")
        print(f"RSS             under load: at the end of the warm-up {base_rss} KiB, at the end of the soak "
              f"{end_rss} KiB (lowest of the last 10 s): growth {growth:+.2f} % (limit < {RSS_LIMIT} %); peak {peak} KiB; "
              f"idle before {idle_rss} KiB, after {end_idle} KiB")
        print(f"RSS timeline    {timeline(sampler)} (KiB)")
        print(f"fds             baseline {base_fds}, after the soak {end_fds}")
        print(f"time            {time.monotonic() - started:.0f} s")
    except Exception as e:  # noqa: BLE001 - reported as a failed soak
        problems.append(f"soak aborted: {e!r}")
    finally:
        if server is not None:
            rc = server.stop()
            if rc != 0:
                problems.append(f"the server exited {rc} on SIGTERM; log: {server.log_tail()}")
        removed = remove_objects()
        if removed:
            say(f"removed {removed} leftover objects named {PREFIX}*")
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        print("\nSOAK FAILED:")
        for p in problems:
            print("  - " + p)
        return 1
    print("\nsoak passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
