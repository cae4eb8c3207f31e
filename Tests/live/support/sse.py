"""Server-Sent Events from GET /api/v1/events, read over a raw socket so every byte is seen.

  EventStream(port, token=None, connect_timeout=5.0)  sends the request and parses the response head
      (.status, .headers, .chunked); .wait_event(predicate, timeout, what) returns the first event
      that matches, each a dict with event, data, json and id; .wait_comment(text) waits for a
      `:` comment line; .close().
"""

from __future__ import annotations

import json as jsonlib
import socket
import time

from .common import LOOPBACK


class EventStream:
    """One open event stream; events and comments are kept as they are read."""

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
