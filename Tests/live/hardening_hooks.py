"""Schemathesis hooks for Tests/live/test_hardening_schema.py (loaded through SCHEMATHESIS_HOOKS).

They keep the fuzzer's requests bounded without taking any hostility out of them:
  - lock waits (`?lockTimeoutMs=`, the lock body's `timeoutMs`) at most LOCK_WAIT_MS, so a lease the
    fuzzer took earlier (TTL up to an hour) cannot make one request wait a minute;
  - dump lengths (`?length=` on GET …/data, given or not) at most DUMP_BOUND bytes, so no dump of any
    format takes long;
  - with HARDENING_BOUND_SIZES=1 (no private tmpfs could be mounted, the server works on the real
    /dev/shm): every size in a body at most SIZE_BOUND, and every section name prefixed with
    HARDENING_NAME_PREFIX, so the fuzzer can neither fill the host's shared memory nor touch a section
    it did not make. Hostile names stay hostile behind the prefix (control characters, '/', '\\').
Every section name the fuzzer sends or is answered with is appended to HARDENING_NAMES_LOG (one JSON
string a line), so the test can remove whatever is left under those names.
"""

from __future__ import annotations

import json
import os
import re

import schemathesis

LOCK_WAIT_MS = 100
DUMP_BOUND = 64 * 1024
SIZE_BOUND = 16 * 1024 * 1024
SIZE_FIELDS = ("reserve", "commit", "by")
_UNITS = {"": 0, "K": 10, "KiB": 10, "M": 20, "MiB": 20, "G": 30, "GiB": 30, "T": 40, "TiB": 40}
_SIZE_RE = re.compile(r"^([0-9]+) ?(K|M|G|T|KiB|MiB|GiB|TiB)?$")

_NAMES_LOG = os.environ.get("HARDENING_NAMES_LOG")
_BOUND_SIZES = os.environ.get("HARDENING_BOUND_SIZES") == "1"
_NAME_PREFIX = os.environ.get("HARDENING_NAME_PREFIX", "")


def _record(name) -> None:
    if _NAMES_LOG and isinstance(name, str) and name:
        with open(_NAMES_LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(name) + "\n")


def _as_int(value):
    """The integer a query value or body member stands for, or None when it is no plain integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,30}", value):
        return int(value)
    return None


def _clamp(container: dict, key: str, bound: int) -> None:
    number = _as_int(container.get(key))
    if number is not None and number > bound:
        container[key] = str(bound) if isinstance(container[key], str) else bound


def _bound_size(value):
    """A valid size above SIZE_BOUND becomes SIZE_BOUND; anything else (invalid ones too) is kept."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return SIZE_BOUND if value > SIZE_BOUND else value
    if isinstance(value, str):
        m = _SIZE_RE.match(value)
        if m and int(m.group(1)) << _UNITS[m.group(2) or ""] > SIZE_BOUND:
            return SIZE_BOUND
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    method = case.operation.method.upper()
    params = case.path_parameters if isinstance(case.path_parameters, dict) else None
    body = case.body if isinstance(case.body, dict) else None
    query = case.query if isinstance(case.query, dict) else None

    if _BOUND_SIZES and _NAME_PREFIX:
        if params is not None and isinstance(params.get("name"), str):
            params["name"] = _NAME_PREFIX + params["name"]
        if body is not None and path == "/api/v1/sections" and method == "POST":
            if isinstance(body.get("name"), str):
                body["name"] = _NAME_PREFIX + body["name"]
            elif "name" not in body or body.get("name") is None:
                body["name"] = _NAME_PREFIX + "gen-" + os.urandom(6).hex()
    if _BOUND_SIZES and body is not None:
        for key in SIZE_FIELDS:
            if key in body:
                body[key] = _bound_size(body[key])

    if query is not None:
        _clamp(query, "lockTimeoutMs", LOCK_WAIT_MS)
        if method == "GET" and path.endswith("/data"):
            # Absent means "to the end of the commit": up to 64 MiB, whose hex rendering alone keeps a
            # worker busy for seconds in a debug build. The default length is covered by test_api_data.
            if "length" not in query:
                query["length"] = DUMP_BOUND
            _clamp(query, "length", DUMP_BOUND)
    if body is not None and path.endswith("/lock") and method == "POST":
        _clamp(body, "timeoutMs", LOCK_WAIT_MS)

    if params is not None:
        _record(params.get("name"))
    if body is not None:
        _record(body.get("name"))


@schemathesis.hook
def after_call(context, case, response):
    try:
        data = json.loads(response.content or b"null")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return
    if isinstance(data, dict):
        _record(data.get("name"))
