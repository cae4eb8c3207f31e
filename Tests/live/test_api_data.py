"""Live tests: writing and dumping section data, python3 peers reading and writing the same bytes,
hexdump equality with the real `hexdump -C`, Range/HEAD, and a dump racing a truncation."""

import base64
import http.client
import os
import random
import subprocess
import threading
import time

import pytest

from support.client import assert_problem, sec
from support.common import KiB, LOOPBACK, MiB
from support.shm import read_object, shm_path


def test_put_data_python_reads_same_bytes(admin, prefix, peers):
    name = prefix + "w"
    admin.create(name, "64KiB", "16KiB")
    payload = bytes(random.Random(1).randrange(256) for _ in range(5000))
    r = admin.put(sec(name, "data"), query={"offset": 100}, body=payload)
    assert r.status == 200, r.describe()
    assert r.json == {"offset": 100, "written": 5000, "requested": 5000}
    p = peers()
    assert p.read(name, 100, 5000) == payload
    assert p.read(name, 0, 100) == b"\0" * 100
    assert read_object(name, 100, 5000) == payload


def test_python_writes_server_reads_base64(admin, prefix, peers):
    name = prefix + "pw"
    admin.create(name, "64KiB", "16KiB")
    payload = b"written by python \x00\x01\xff" + os.urandom(300)
    p = peers()
    p.write(name, 5000, payload)
    r = admin.get(sec(name, "data"), query={"offset": 5000, "length": len(payload), "format": "base64"})
    assert r.status == 200, r.describe()
    assert r.json["offset"] == 5000 and r.json["length"] == len(payload)
    assert base64.b64decode(r.json["data"]) == payload


@pytest.mark.parametrize("offset,size", [(4000, 200), (4096, 1), (0, 4097), (10 ** 12, 10), (2 ** 62, 1)])
def test_write_past_commit_416_nothing_written(admin, prefix, offset, size):
    name = prefix + "416"
    admin.create(name, "64KiB", "4KiB")
    r = admin.put(sec(name, "data"), query={"offset": offset}, body=b"\xee" * size)
    body = assert_problem(r, 416, "range-not-satisfiable")
    assert body.get("commit") == 4096, body
    assert read_object(name) == b"\0" * 4096, "a refused write changed bytes"
    assert os.stat(shm_path(name)).st_size == 4096


@pytest.mark.parametrize("offset,size,written", [(4000, 200, 96), (0, 5000, 4096), (4095, 10, 1), (100, 50, 50)])
def test_partial_write_writes_what_fits(admin, prefix, offset, size, written):
    name = prefix + "part"
    admin.create(name, "64KiB", "4KiB")
    data = bytes((i * 7 + 3) % 256 for i in range(size))
    r = admin.put(sec(name, "data"), query={"offset": offset, "partial": "true"}, body=data)
    assert r.status == 200, r.describe()
    assert r.json == {"offset": offset, "written": written, "requested": size}
    assert read_object(name, offset, written) == data[:written]
    assert os.stat(shm_path(name)).st_size == 4096


@pytest.mark.parametrize("query", [{"offset": "-1"}, {"offset": "abc"}, {"offset": "1.5"}, {"partial": "perhaps"}])
def test_write_bad_query_400(admin, prefix, query):
    name = prefix + "bq"
    admin.create(name, "4KiB")
    r = admin.put(sec(name, "data"), query=query, body=b"abc")
    assert_problem(r, 400, "bad-request")
    assert read_object(name) == b"\0" * 4096


def test_write_with_json_content_type_415(admin, prefix):
    name = prefix + "ctj"
    admin.create(name, "4KiB")
    r = admin.put(sec(name, "data"), query={"offset": 0}, body=b'{"a": 1}', content_type="application/json")
    assert_problem(r, 415, "unsupported-media-type")
    assert read_object(name, 0, 8) == b"\0" * 8


def test_write_accepts_any_non_json_content_type(admin, prefix):
    name = prefix + "ctw"
    admin.create(name, "4KiB")
    r = admin.put(sec(name, "data"), query={"offset": 0}, body=b"text body", content_type="text/plain")
    assert r.status == 200 and r.json["written"] == 9, r.describe()
    assert read_object(name, 0, 9) == b"text body"


# --------------------------------------------------------------------------------------------
# dumps


def expected_rows(data, offset):
    rows = []
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        rows.append({"offset": offset + i, "hex": " ".join(f"{b:02x}" for b in chunk),
                     "ascii": "".join(chr(b) if 0x20 <= b <= 0x7e else "." for b in chunk)})
    return rows


@pytest.fixture
def filled(admin, prefix):
    name = prefix + "dump"
    admin.create(name, "64KiB", "16KiB")
    data = bytearray(16 * KiB)
    data[0:256] = bytes(range(256))
    data[1280:1300] = b"Hello, shared memory"
    data[1300:2048] = b"A" * 748
    data[5000:5100] = bytes(random.Random(7).randrange(256) for _ in range(100))
    data[16 * KiB - 16:] = b"0123456789abcdef"
    admin.write(name, 0, bytes(data[:8192]))
    admin.write(name, 8192, bytes(data[8192:]))
    assert read_object(name) == bytes(data)
    return name, bytes(data)


@pytest.mark.parametrize("offset,length", [(0, 40), (0, 256), (5, 20), (1270, 50), (16 * KiB - 20, 20), (0, 0),
                                           (100, 1)])
def test_dump_hex_rows(admin, filled, offset, length):
    name, data = filled
    r = admin.get(sec(name, "data"), query={"offset": offset, "length": length, "format": "hex"})
    assert r.status == 200, r.describe()
    assert (r.header("Content-Type") or "").startswith("application/json")
    j = r.json
    assert j["offset"] == offset and j["length"] == length
    assert j["rows"] == expected_rows(data[offset:offset + length], offset)


def test_dump_defaults_hex_to_end_of_commit(admin, filled):
    name, data = filled
    r = admin.get(sec(name, "data"), query={"offset": 16 * KiB - 32})
    assert r.status == 200, r.describe()
    assert r.json["length"] == 32 and r.json["rows"] == expected_rows(data[-32:], 16 * KiB - 32)


@pytest.mark.parametrize("offset,length", [(0, 16 * KiB), (3, 1000), (0, 0), (16 * KiB - 1, 1)])
def test_dump_base64(admin, filled, offset, length):
    name, data = filled
    r = admin.get(sec(name, "data"), query={"offset": offset, "length": length, "format": "base64"})
    assert r.status == 200, r.describe()
    assert r.json["offset"] == offset and r.json["length"] == length
    assert base64.b64decode(r.json["data"]) == data[offset:offset + length]


def test_dump_raw(admin, filled):
    name, data = filled
    r = admin.get(sec(name, "data"), query={"offset": 1000, "length": 5000, "format": "raw"})
    assert r.status == 200, r.describe()
    assert (r.header("Content-Type") or "").startswith("application/octet-stream")
    assert int(r.header("Content-Length")) == 5000
    assert r.body == data[1000:6000]
    r = admin.get(sec(name, "data"), query={"format": "raw"})
    assert r.status == 200 and r.body == data


@pytest.mark.parametrize("rng,start,end", [("bytes=10-19", 10, 19), ("bytes=0-0", 0, 0), ("bytes=4990-", 4990, 4999),
                                           ("bytes=-10", 4990, 4999), ("bytes=100-99999", 100, 4999)])
def test_dump_raw_range_206(admin, filled, rng, start, end):
    name, data = filled
    r = admin.get(sec(name, "data"), query={"offset": 1000, "length": 5000, "format": "raw"}, headers={"Range": rng})
    assert r.status == 206, r.describe()
    assert r.header("Content-Range") == f"bytes {start}-{end}/5000", r.describe()
    assert int(r.header("Content-Length")) == end - start + 1
    assert r.body == data[1000 + start:1000 + end + 1]


@pytest.mark.parametrize("rng", ["bytes=5000-5010", "bytes=9999-", "bytes=6000-7000"])
def test_dump_raw_range_unsatisfiable_416(admin, filled, rng):
    name, _ = filled
    r = admin.get(sec(name, "data"), query={"offset": 1000, "length": 5000, "format": "raw"}, headers={"Range": rng})
    assert_problem(r, 416, "range-not-satisfiable")
    assert r.header("Content-Range") in (None, "bytes */5000"), r.describe()


def test_dump_raw_head(admin, filled):
    name, _ = filled
    r = admin.head(sec(name, "data"), query={"offset": 0, "length": 3000, "format": "raw"})
    assert r.status == 200, r.describe()
    assert int(r.header("Content-Length")) == 3000
    assert (r.header("Content-Type") or "").startswith("application/octet-stream")
    assert r.body == b""


@pytest.mark.parametrize("fmt", ["hex", "base64", "raw", "hexdump"])
@pytest.mark.parametrize("offset,length", [(16 * KiB, 1), (16 * KiB - 10, 11), (0, 16 * KiB + 1), (2 ** 40, 16)])
def test_dump_outside_commit_416(admin, filled, fmt, offset, length):
    name, _ = filled
    r = admin.get(sec(name, "data"), query={"offset": offset, "length": length, "format": fmt})
    body = assert_problem(r, 416, "range-not-satisfiable")
    assert body.get("commit") == 16 * KiB, body


@pytest.mark.parametrize("query", [{"format": "xml"}, {"offset": "x"}, {"length": "-5"}])
def test_dump_bad_query_400(admin, filled, query):
    name, _ = filled
    assert_problem(admin.get(sec(name, "data"), query=query), 400, "bad-request")


def test_dump_hex_over_cap_422(admin, prefix):
    name = prefix + "cap"
    admin.create(name, "32MiB", "17MiB")
    r = admin.get(sec(name, "data"), query={"offset": 0, "length": 16 * MiB + 1, "format": "hex"}, timeout=60)
    assert_problem(r, 422)
    r = admin.get(sec(name, "data"), query={"offset": 0, "length": 16 * MiB + 1, "format": "raw"}, timeout=60)
    assert r.status == 200 and len(r.body) == 16 * MiB + 1 and r.body.count(0) == len(r.body)


HEXDUMP_RANGES = [
    (0, 16 * KiB),        # whole commit: rows, `*` runs of zeros and of 'A'
    (0, 0),               # empty length
    (3, 40),              # starts and ends mid-row
    (250, 150),           # crosses into zeros, `*`, ends mid-row
    (256, 1024),          # zeros only: one row, `*`, the end offset
    (1290, 777),          # text, 'A' run, `*`
    (16 * KiB - 5, 5),    # the last bytes of the commit
    (1000, 1),            # one byte
    (16, 16),             # exactly one row
    (0, 4096),
    (4999, 102),
]


@pytest.mark.parametrize("offset,length", HEXDUMP_RANGES)
def test_dump_hexdump_matches_hexdump_C(admin, filled, offset, length):
    name, _ = filled
    want = subprocess.run(["hexdump", "-C", "-s", str(offset), "-n", str(length), shm_path(name)],
                          capture_output=True, check=True, timeout=30).stdout
    r = admin.get(sec(name, "data"), query={"offset": offset, "length": length, "format": "hexdump"})
    assert r.status == 200, r.describe()
    assert (r.header("Content-Type") or "").startswith("text/plain"), r.describe()
    assert r.body == want, f"hexdump -C -s {offset} -n {length} differs:\n--- want\n{want.decode()}\n--- got\n" \
                           f"{r.body.decode('utf-8', 'replace')}"


def rows_with_runs(size: int, seed: int) -> bytes:
    """Random rows with runs of equal rows (zeros, one repeated row) of many lengths, so that hexdump's
    `*` lines start, go on and end on every side of the server's 256 KiB blocks of text."""
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        kind = rnd.randrange(4)
        if kind == 0:
            out += bytes(16 * rnd.randrange(1, 41))
        elif kind == 1:
            out += bytes(rnd.randrange(256) for _ in range(16)) * rnd.randrange(1, 6)
        else:
            out += rnd.randbytes(16 * rnd.randrange(1, 7))
    return bytes(out[:size])


@pytest.mark.parametrize("offset,length", [(0, 2 * MiB), (5, 2 * MiB - 5), (300 * KiB + 7, 700 * KiB + 3)])
def test_streamed_hexdump_across_blocks_matches_hexdump_C(admin, prefix, offset, length):
    """More than one block of text (the server writes the text in 256 KiB blocks as the client reads it),
    `*` runs across the block boundaries, and a HEAD with the same Content-Length as the GET."""
    name = prefix + "blocks"
    admin.create(name, "2MiB", "2MiB")
    data = rows_with_runs(2 * MiB, seed=offset + length)
    for at in range(0, len(data), 512 * KiB):
        admin.write(name, at, data[at:at + 512 * KiB])
    want = subprocess.run(["hexdump", "-C", "-s", str(offset), "-n", str(length), shm_path(name)],
                          capture_output=True, check=True, timeout=60).stdout
    assert len(want) > 3 * 256 * KiB and want.count(b"\n*\n") > 1000, "too few blocks or `*` runs to prove much"
    query = {"offset": offset, "length": length, "format": "hexdump"}
    r = admin.get(sec(name, "data"), query=query, timeout=60)
    assert r.status == 200, r.describe()
    assert r.header("Content-Length") == str(len(want)), r.describe()
    if r.body != want:
        at = next((i for i, (a, b) in enumerate(zip(r.body, want)) if a != b), min(len(r.body), len(want)))
        pytest.fail(f"differs from hexdump -C at text byte {at} of {len(want)}: "
                    f"want {want[at - 80:at + 80]!r}, got {r.body[at - 80:at + 80]!r}")
    h = admin.head(sec(name, "data"), query=query)
    assert h.status == 200 and h.body == b"", h.describe()
    assert h.header("Content-Length") == str(len(want)), h.describe()


def bytes_of_kind(kind: str, size: int) -> bytes:
    """Random bytes (no `*` line at all), zeros (one line, `*`, the end offset), or rows repeated in threes."""
    if kind == "random":
        return random.Random(size).randbytes(size)
    if kind == "zeros":
        return bytes(size)
    return bytes(((i // 48) % 3) * 0x35 for i in range(size))


@pytest.mark.parametrize("kind", ["random", "zeros", "repeating"])
@pytest.mark.parametrize("offset,length", [(0, 1 * MiB), (3, 1 * MiB - 3), (4093, 70_001), (1 * MiB - 7, 7),
                                           (16, 16), (512 * KiB, 0)])
def test_hexdump_of_random_zero_and_repeating_bytes_matches_hexdump_C(admin, prefix, kind, offset, length):
    """The formatter's fast path (whole 16-byte lines at eight-digit offsets) and its edges: odd offsets,
    a last partial line, a single line, nothing at all, on bytes that never squeeze, always squeeze, and
    squeeze in runs of three."""
    name = prefix + "hx" + kind[0]
    admin.create(name, "1MiB", "1MiB")
    data = bytes_of_kind(kind, 1 * MiB)
    for at in range(0, len(data), 512 * KiB):
        admin.write(name, at, data[at:at + 512 * KiB])
    want = subprocess.run(["hexdump", "-C", "-s", str(offset), "-n", str(length), shm_path(name)],
                          capture_output=True, check=True, timeout=60).stdout
    r = admin.get(sec(name, "data"), query={"offset": offset, "length": length, "format": "hexdump"}, timeout=60)
    assert r.status == 200, r.describe()
    assert r.header("Content-Length") == str(len(want)), r.describe()
    if r.body != want:
        at = next((i for i, (a, b) in enumerate(zip(r.body, want)) if a != b), min(len(r.body), len(want)))
        pytest.fail(f"differs from hexdump -C -s {offset} -n {length} at text byte {at} of {len(want)}: "
                    f"want {want[max(0, at - 80):at + 80]!r}, got {r.body[max(0, at - 80):at + 80]!r}")


def test_streamed_hexdump_truncated_by_another_process_meanwhile(admin, prefix):
    """The bytes are read before the answer starts; the text is written while the client reads. A
    truncation by another process in between changes nothing in the dump in flight (it is the bytes as
    they were read), never reaches the server as a SIGBUS, and the next dump is a clean 416."""
    name = prefix + "trunc"
    size = 8 * MiB
    admin.create(name, "8MiB", "8MiB")
    data = rows_with_runs(size, seed=5)
    for at in range(0, size, MiB):
        admin.write(name, at, data[at:at + MiB])
    want = subprocess.run(["hexdump", "-C", shm_path(name)], capture_output=True, check=True, timeout=60).stdout
    conn = http.client.HTTPConnection(LOOPBACK, admin.port, timeout=30)
    try:
        conn.request("GET", sec(name, "data") + f"?offset=0&length={size}&format=hexdump",
                     headers={"Authorization": f"Bearer {admin.token}"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Length") == str(len(want))
        head = resp.read(256 * KiB)
        os.truncate(shm_path(name), 0)  # another process takes the bytes away mid-stream
        time.sleep(0.1)
        body = head + resp.read()
    finally:
        conn.close()
    assert body == want, f"{len(body)} bytes of text instead of {len(want)}, or other bytes"
    assert admin.get("/healthz").status == 200
    r = admin.get(sec(name, "data"), query={"offset": 0, "length": size, "format": "hexdump"})
    assert_problem(r, 416, "range-not-satisfiable")


# --------------------------------------------------------------------------------------------
# a dump racing a truncation by another process


def test_dump_racing_truncation(admin, prefix):
    name = prefix + "race"
    size = 256 * KiB
    admin.create(name, "1MiB", size)
    admin.write(name, 0, b"\x5a" * size)
    path = shm_path(name)
    stop = threading.Event()
    flips = [0]

    def truncator():
        deadline = time.monotonic() + 2.5
        while not stop.is_set() and time.monotonic() < deadline:
            os.truncate(path, 0)
            time.sleep(0.002)
            os.truncate(path, size)
            time.sleep(0.002)
            flips[0] += 1

    t = threading.Thread(target=truncator, daemon=True)
    t.start()
    outcomes = {}
    failures = []
    queries = [
        ({"offset": 0, "length": size, "format": "raw"}, {}),
        ({"offset": 0, "length": size, "format": "raw"}, {"Range": "bytes=1000-200000"}),
        ({"offset": 4096, "length": 64 * KiB, "format": "hexdump"}, {}),
        ({"offset": 0, "length": 4096, "format": "hex"}, {}),
        ({"offset": 0, "length": 8192, "format": "base64"}, {}),
    ]
    deadline = time.monotonic() + 2.0
    i = 0
    try:
        while time.monotonic() < deadline and i < 2000:
            query, headers = queries[i % len(queries)]
            i += 1
            conn = http.client.HTTPConnection(LOOPBACK, admin.port, timeout=10)
            try:
                qs = "&".join(f"{k}={v}" for k, v in query.items())
                hdrs = {"Authorization": f"Bearer {admin.token}", **headers}
                conn.request("GET", sec(name, "data") + "?" + qs, headers=hdrs)
                resp = conn.getresponse()
                body = resp.read()
                key = (query["format"], resp.status)
                outcomes[key] = outcomes.get(key, 0) + 1
                if resp.status not in (200, 206, 416):
                    failures.append(f"{query} -> {resp.status} {body[:200]!r}")
                elif resp.status in (200, 206) and resp.getheader("Content-Length") is not None \
                        and len(body) != int(resp.getheader("Content-Length")):
                    failures.append(f"{query} -> short body {len(body)} of {resp.getheader('Content-Length')}")
            except (http.client.HTTPException, OSError) as e:
                failures.append(f"{query} -> connection failure {e!r}")
            finally:
                conn.close()
    finally:
        stop.set()
        t.join(5)
    assert i > 10 and flips[0] > 10, (i, flips[0])
    assert not failures, f"{len(failures)} bad answers of {i} ({outcomes}): {failures[:10]}"
    r = admin.get("/healthz")
    assert r.status == 200 and r.json == {"status": "ok"}
    os.truncate(path, size)
    assert admin.get(sec(name)).status == 200


def test_raw_dump_of_a_sparse_section_allocates_nothing(admin, prefix):
    """A raw dump reads holes as zeros without giving them memory: mapping a sparse tmpfs object to
    send it would allocate every hole it reads (a dump of a reset 8 MiB section filled 8 MiB)."""
    name = prefix + "sparse"
    admin.create(name, "8MiB")
    r = admin.post(sec(name, "reset"), json={"offset": 0, "length": 8 * MiB})
    assert r.status == 200, r.describe()
    admin.put(sec(name, "data"), query={"offset": 4 * MiB}, body=b"x" * 4096)
    before = os.stat(shm_path(name)).st_blocks * 512
    assert before == 4096, before
    r = admin.get(sec(name, "data"), query={"format": "raw"})
    assert r.status == 200, r.describe()
    assert len(r.body) == 8 * MiB and r.body[4 * MiB:4 * MiB + 4096] == b"x" * 4096
    assert r.body.count(0) == 8 * MiB - 4096
    assert os.stat(shm_path(name)).st_blocks * 512 == before, "the dump allocated the holes it read"
