"""An HTTP client for shm-admin on 127.0.0.1, standard library only.

  Client(port, token=None, timeout=15.0)  one HTTP/1.1 request per connection; get/head/post/put/
                                          delete return a Response; create/detail/write/read_raw/
                                          list assert the expected answer
  Response                                status, reason, headers, body, .json, .text, describe()
  sec(name, *parts)                       the API path of a section, percent-encoded
  assert_problem(resp, status, ptype)     checks an RFC 9457 problem answer, returns its body
  encode_query(query), UNSET, PROBLEM_CT
"""

from __future__ import annotations

import http.client
import json as jsonlib
import urllib.parse

from .common import LOOPBACK

PROBLEM_CT = "application/problem+json"
UNSET = object()  # "argument not given", where None has a meaning of its own


def sec(name: str, *parts: str) -> str:
    """`/api/v1/sections/NAME[/part…]` with NAME percent-encoded."""
    path = "/api/v1/sections/" + urllib.parse.quote(name, safe="")
    for p in parts:
        path += "/" + urllib.parse.quote(str(p), safe="")
    return path


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


class Response:
    """One answer, its body read in full."""

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

    def request(self, method, path, query=None, json=UNSET, body=None, token=UNSET,
                headers=None, timeout=None, content_type=UNSET) -> Response:
        hdrs = {}
        tok = self.token if token is UNSET else token
        if tok is not None:
            hdrs["Authorization"] = f"Bearer {tok}"
        data = body
        if json is not UNSET:
            data = jsonlib.dumps(json).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif body is not None:
            hdrs["Content-Type"] = "application/octet-stream"
        if content_type is not UNSET:
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

    def post(self, path, json=UNSET, **kw):
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

