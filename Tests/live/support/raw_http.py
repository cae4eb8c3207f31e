"""One HTTP request as exact bytes over a socket, for inputs http.client would refuse or fix up.

  raw_request(port, data, timeout=10.0, drip=None) -> RawResponse   sends `data` as is (a byte at a
      time when `drip` is given) and parses the first response: .status, .reason, .headers
      (lower-case keys), .body, .closed (the server closed the connection), describe()
"""

from __future__ import annotations

import socket
import time

from .common import LOOPBACK


class RawResponse:
    """The first response in `raw`, parsed leniently: status None when there is no valid head."""

    def __init__(self, raw: bytes, closed: bool):
        self.raw = raw
        self.closed = closed  # the server closed the connection
        self.status = None
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.body = b""
        if b"\r\n\r\n" not in raw:
            return
        head, rest = raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        length = self.headers.get("content-length")
        self.body = rest[:int(length)] if length and length.isdigit() else rest

    def header(self, name: str):
        return self.headers.get(name.lower())

    def describe(self) -> str:
        return f"{self.raw[:700]!r}"


def complete(buf: bytes) -> bool:
    """Whether `buf` holds a whole response (head plus Content-Length bytes, or no body)."""
    if b"\r\n\r\n" not in buf:
        return False
    head, rest = buf.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length" and v.strip().isdigit():
            return len(rest) >= int(v.strip())
    status = head.split(b" ", 2)[1] if head.count(b" ") >= 1 else b""
    return status in (b"204", b"304")


def raw_request(port: int, data: bytes, timeout: float = 10.0, drip: float | None = None) -> RawResponse:
    """Sends `data` as is (a byte at a time `drip` seconds apart when given) and reads the first response."""
    deadline = time.monotonic() + timeout
    sock = socket.create_connection((LOOPBACK, port), timeout=min(timeout, 5.0))
    buf = b""
    closed = False
    try:
        try:
            if drip is None:
                sock.sendall(data)
            else:
                for i in range(len(data)):
                    sock.sendall(data[i:i + 1])
                    time.sleep(drip)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413, 431) and close before reading everything
        while not complete(buf):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(min(left, 1.0))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
    finally:
        sock.close()
    return RawResponse(buf, closed)
