"""`dump -C` is `hexdump -C` byte for byte; `dump --raw` streams without holding the object and
refuses a terminal; `write` from standard input; `rm` of a mapped section names the pid and refuses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from support.cli import Cli, in_pty
from support.shm import shm_path


@pytest.fixture(params=["local", "remote"])
def cli(request, server, shm_admin_bin):
    if request.param == "local":
        return Cli(shm_admin_bin, server.state_dir)
    return Cli(shm_admin_bin, server.state_dir, url=f"http://127.0.0.1:{server.port}")


def hexdump(path, offset=None, length=None) -> bytes:
    argv = ["hexdump", "-C"]
    if offset is not None:
        argv += ["-s", str(offset)]
    if length is not None:
        argv += ["-n", str(length)]
    return subprocess.run(argv + [path], capture_output=True, check=True).stdout


CONTENTS = {
    "zeros": bytes(8192),
    "text": b"The quick brown fox jumps over the lazy dog.\n" * 50,
    "mixed": bytes(range(256)) * 3 + bytes(100) + b"tail\x00\x01\x02",
    "squeeze": b"A" * 16 * 10 + b"B" * 5 + b"A" * 16 * 3 + b"end",
}
WINDOWS = [(None, None), (0, 0), (1, 33), (17, 1000), (4000, 200), (100, None)]


@pytest.mark.parametrize("kind", sorted(CONTENTS))
def test_dump_C_is_hexdump_C(cli, prefix, kind):
    name = prefix + kind
    data = CONTENTS[kind]
    cli.ok("create", name, "--reserve", str(len(data)), "--commit", str(len(data)))
    cli.ok("write", name, input=data)
    size = os.path.getsize(shm_path(name))
    for offset, length in WINDOWS:
        if (offset or 0) + (length or 0) > size:
            continue  # past the commit: hexdump stops short, the API refuses (416)
        args = ["dump", name, "-C"]
        if offset is not None:
            args += ["--offset", str(offset)]
        if length is not None:
            args += ["--length", str(length)]
        r = cli.run(*args)
        assert r.code == 0, r.error
        assert r.out == hexdump(shm_path(name), offset, length), (kind, offset, length)


def test_raw_dump_streams_a_large_object_without_holding_it(cli, prefix):
    name = prefix + "large"
    size = 256 << 20
    cli.ok("create", name, "--reserve", "256MiB")
    with open(shm_path(name), "r+b") as f:
        f.seek(size - 5)
        f.write(b"last!")
    # the child's peak resident memory, measured in a process of its own
    probe = (
        "import resource, subprocess, sys, hashlib\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, env=None)\n"
        "h = hashlib.sha256(); n = 0\n"
        "for chunk in iter(lambda: p.stdout.read(1 << 20), b''):\n"
        "    h.update(chunk); n += len(chunk)\n"
        "p.wait()\n"
        "print(p.returncode, n, h.hexdigest(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cli.argv("dump", name, "--raw")], capture_output=True,
                         env=cli.environment(), timeout=120).stdout.decode().split()
    code, count, digest, peak_kib = int(out[0]), int(out[1]), out[2], int(out[3])
    assert code == 0 and count == size
    import hashlib
    with open(shm_path(name), "rb") as f:
        assert digest == hashlib.file_digest(f, "sha256").hexdigest()
    assert peak_kib < 64 * 1024, f"dump --raw peaked at {peak_kib} KiB for a 256 MiB object"


def test_raw_dump_window_and_terminal_refusal(cli, prefix):
    name = prefix + "rawwin"
    cli.ok("create", name, "--reserve", "8KiB")
    cli.ok("write", name, "--offset", "100", input=b"window")
    assert cli.run("dump", name, "--raw", "--offset", "98", "--length", "10").out == b"\0\0window\0\0"
    refused = in_pty(cli.argv("dump", name, "--raw"), cli.environment())
    assert b"shm-admin: Refused: standard output is a terminal" in refused
    forced = in_pty(cli.argv("dump", name, "--raw", "--force", "--offset", "100", "--length", "6"),
                    cli.environment())
    assert forced == b"window"


def test_write_from_stdin_partial_and_refused(cli, prefix):
    name = prefix + "write"
    cli.ok("create", name, "--reserve", "4KiB")
    assert cli.ok("write", name, "--offset", "4090", "--partial", input=b"0123456789") == \
        "wrote 6 of 10 bytes at offset 4090\n"
    r = cli.run("write", name, "--offset", "4090", input=b"0123456789")
    assert r.code == 1 and r.error.startswith("shm-admin: Range not satisfiable: ")
    assert cli.ok("write", name, "--lock", input=b"locked") == "wrote 6 of 6 bytes at offset 0\n"
    with open(shm_path(name), "rb") as f:
        assert f.read(6) == b"locked"


def test_rm_of_a_mapped_section_names_the_pid_and_refuses(cli, prefix, peers):
    name = prefix + "mapped"
    cli.ok("create", name, "--reserve", "4KiB")
    peer = peers()
    peer.attach(name)
    r = cli.run("rm", name)
    assert r.code == 1, r.error
    assert r.error.startswith("shm-admin: Section is mapped by other processes: "), r.error
    assert f"(pids: {peer.pid})" in r.error, r.error
    assert os.path.exists(shm_path(name))
    # show names the mapper, with its memory from smaps (the mapper list is at most a second old)
    deadline = time.monotonic() + 5
    while not re.search(rf"(?m)^\s*{peer.pid} python3 ", shown := cli.ok("show", name)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert re.search(r"(?m)^\s*PID COMMAND\s+START\s+END\s+OFFSET ACCESS\s+RSS\s+PSS$", shown), shown
    assert re.search(rf"(?m)^\s*{peer.pid} python3 .* rw\s+\S+\s+\S+$", shown), shown
    assert cli.run("rm", name, "--force").code == 0
    assert not os.path.exists(shm_path(name))


def test_rm_of_a_foreign_section_is_refused_until_adopted(cli, prefix, peers):
    name = prefix + "foreign"
    peer = peers()
    peer.create(name, 4096)
    peer.ok("detach", name=name)
    r = cli.run("rm", name)
    assert r.code == 1 and r.error.startswith("shm-admin: Forbidden: "), r.error
    cli.ok("adopt", name)
    assert cli.run("rm", name).code == 0
    assert not os.path.exists(shm_path(name))
