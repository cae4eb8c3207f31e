"""The same command, local and remote against the same host, prints the same thing; and the remote
plumbing: http and unix: URLs, SHM_ADMIN_URL, the token's three sources, problem+json as one line."""

from __future__ import annotations

import os
import re
import socket
import threading

import pytest

from support.cli import Cli
from support.server import ShmAdminServer, stop_checked
from support.shm import private_shm_dir
from test_cli_output import ODD, make_object


@pytest.fixture(scope="module")
def pair(shm_admin_bin, tmp_path_factory):
    """(local, over TCP, over a Unix socket, server) for one private host."""
    base = tmp_path_factory.mktemp("cli-pair")
    with private_shm_dir(base) as (shm, _):
        state = base / "state"
        make_object(shm, "foreign", 8192, 0o644, b"foreign bytes", 100)
        for name in ODD:
            make_object(shm, name, 4096)
        # made before the servers start, so that every view of the host agrees from the first test
        local = Cli(shm_admin_bin, state, shm_dir=shm)
        local.ok("create", "orders", "--reserve", "1MiB", "--commit", "64KiB", "--label", "team=core")
        local.ok("write", "orders", "--offset", "4096", input=b"remote bytes" * 100)
        server = ShmAdminServer(shm_admin_bin, state, extra_args=["--shm-dir", str(shm)], log_dir=base).start()
        socket = base / "api.sock"
        unix_server = ShmAdminServer(shm_admin_bin, state, extra_args=["--shm-dir", str(shm), "--unix", str(socket)],
                                     log_dir=base)
        unix_server.start = _start_unix(unix_server)
        unix_server.start()
        tcp = Cli(shm_admin_bin, state, url=f"http://127.0.0.1:{server.port}")
        unix = Cli(shm_admin_bin, state, url=f"unix:{socket}")
        try:
            yield local, tcp, unix, server
        finally:
            stop_checked(unix_server)
            stop_checked(server)


def _start_unix(srv):
    """A server on a Unix socket prints `listening on unix:PATH`, which ShmAdminServer.start does not
    parse: start it and wait for the socket instead."""
    import subprocess
    import time

    def start():
        srv.state_dir.mkdir(parents=True, exist_ok=True)
        err = open(srv.log_dir / "unix-server.stderr", "wb")
        srv.proc = subprocess.Popen(srv.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        path = srv.extra_args[srv.extra_args.index("--unix") + 1]
        deadline = time.monotonic() + 20
        while not os.path.exists(path):
            assert srv.proc.poll() is None and time.monotonic() < deadline, "the unix-socket server did not start"
            time.sleep(0.05)
        return srv

    return start


def mask_age(text: str) -> str:
    return re.sub(r"(?m) \d+[smhd]$", " <age>", text)


SAME = [
    ["ls"],
    ["ls", "-r", "-b"],
    ["ls", "-J"],
    ["ls", "--managed", "-o", "NAME,RESERVE,LABELS"],
    ["ls", "--kind", "shm", "--no-managed", "-n", "--sort", "SIZE"],
    ["ls", "-q", "odd"],
    ["ls", "--orphan", "-o", "NAME,ORPHAN"],
    ["ls", "--list-columns"],
    ["show", "orders"],
    ["show", "foreign", "-b"],
    ["show", "odd\\x20name"],
    ["pages", "orders"],
    ["pages", "orders", "--bar"],
    ["pages", "orders", "-J", "--from", "4096"],
    ["dump", "orders", "--offset", "4000", "--length", "300"],
    ["dump", "orders", "--length", "64", "--hex"],
    ["dump", "orders", "--length", "64", "--base64"],
    ["dump", "foreign", "--raw"],
    ["show", "missing-one"],
    ["grow", "orders", "--to", "1KiB"],
    ["rm", "foreign"],
    ["adopt", "orders"],
    ["dump", "orders", "--offset", "70000", "--length", "1"],
]


@pytest.mark.parametrize("args", SAME, ids=[" ".join(a) for a in SAME])
def test_same_output_local_and_remote(pair, args):
    local, tcp, unix, _ = pair
    answers = [cli.run(*args) for cli in (local, tcp, unix)]
    first = answers[0]
    for other in answers[1:]:
        assert other.code == first.code, (args, other.error, first.error)
        # created/modified times come from the same host; only AGE may tick between the runs
        assert mask_age(other.text) == mask_age(first.text), args
        assert other.error == first.error, args


def test_mutations_local_and_remote_give_the_same_answers(pair):
    local, tcp, unix, _ = pair
    cols = ["-o", "NAME,SIZE,RESERVE,ALLOC,DATA,MANAGED,LABELS"]
    outputs = []
    for n, cli in enumerate((local, tcp, unix)):
        name = f"same-{n}"
        out = cli.ok("create", name, "--reserve", "128KiB", "--commit", "4KiB", "--label", "n=1", *cols)
        out += cli.ok("grow", name, "--by", "4KiB", *cols)
        out += cli.ok("write", name, "--offset", "10", input=b"0123456789")
        out += cli.ok("reset", name, "--offset", "4096", "--length", "4096", *cols)
        out += cli.ok("dump", name, "--length", "32")
        r = cli.run("write", name, "--offset", "8190", input=b"toolong")
        out += f"{r.code} {r.error}"
        cli.ok("rm", name)
        outputs.append(out.replace(name, "NAME"))
    assert outputs[0] == outputs[1] == outputs[2]


def test_url_from_the_environment_and_token_sources(pair, tmp_path):
    local, tcp, _, server = pair
    # SHM_ADMIN_URL instead of --url
    env_cli = Cli(local.binary, tmp_path / "empty-state")
    r = env_cli.run("ls", "-J", env={"SHM_ADMIN_URL": tcp.url})
    assert r.code == 0 and r.out == tcp.run("ls", "-J").out
    # no token anywhere: reads work on loopback, a mutation is refused with the server's problem
    r = env_cli.run("rm", "foreign", env={"SHM_ADMIN_URL": tcp.url})
    assert r.code == 1 and r.error.startswith("shm-admin: Unauthorized: "), r.error
    # SHM_ADMIN_TOKEN
    r = env_cli.run("lock", "orders", "--", "true", env={"SHM_ADMIN_URL": tcp.url,
                                                         "SHM_ADMIN_TOKEN": server.admin_token})
    assert r.code == 0, r.error
    # --token-file, which wins over the environment
    token_file = tmp_path / "token"
    token_file.write_text(server.admin_token + "\n")
    r = env_cli.run("lock", "orders", "--token-file", str(token_file), "--", "true",
                    env={"SHM_ADMIN_URL": tcp.url, "SHM_ADMIN_TOKEN": "wrong"})
    assert r.code == 0, r.error
    r = env_cli.run("lock", "orders", "--", "true", env={"SHM_ADMIN_URL": tcp.url, "SHM_ADMIN_TOKEN": "wrong"})
    assert r.code == 1 and r.error.startswith("shm-admin: "), r.error
    # an unreadable --token-file is said so
    r = env_cli.run("ls", "--token-file", str(tmp_path / "nope"), env={"SHM_ADMIN_URL": tcp.url})
    assert r.code == 1 and "Cannot read the token" in r.error


def test_unreachable_server_and_bad_url(pair, tmp_path):
    local, *_ = pair
    cli = Cli(local.binary, tmp_path / "state")
    r = cli.run("ls", "--url", "http://127.0.0.1:1")
    assert r.code == 1 and r.error.startswith("shm-admin: cannot reach http://127.0.0.1:1: "), r.error
    r = cli.run("ls", "--url", "ftp://example")
    assert r.code == 1 and "Bad URL" in r.error


def test_a_server_claiming_a_huge_body_is_a_clean_error(pair, tmp_path):
    """The client reserves the body a Content-Length announces, up to a bound: a server that claims
    a terabyte and sends a few bytes makes a one-line transfer error, not an allocation that kills
    the command."""
    local, *_ = pair
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(20)

    def serve():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1099511627776\r\nConnection: close\r\n\r\n{\"sections\":[")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        cli = Cli(local.binary, tmp_path / "state", url=f"http://127.0.0.1:{listener.getsockname()[1]}")
        token = tmp_path / "token"
        token.write_text("t" * 32 + "\n")
        token.chmod(0o600)
        r = cli.run("ls", "--token-file", str(token))
        assert r.code == 1, (r.code, r.error)
        assert r.error.startswith("shm-admin: ") and len(r.error.splitlines()) == 1, r.error
        assert "transfer" in r.error.lower() or "bytes remaining" in r.error, r.error
        assert r.text == ""
    finally:
        listener.close()
        thread.join(20)


def test_remote_mode_without_libcurl_says_so(pair, tmp_path):
    """libcurl is loaded only for a remote request: one that cannot be loaded (here a broken
    libcurl.so.4 found first through LD_LIBRARY_PATH) is a one-line error, and local mode never
    notices."""
    local, tcp, *_ = pair
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "libcurl.so.4").write_bytes(b"not an ELF object")
    env = {"LD_LIBRARY_PATH": str(broken)}
    r = tcp.run("ls", "-n", "-o", "NAME", env=env)
    assert r.code == 1 and r.error.startswith("shm-admin: remote mode needs libcurl: "), r.error
    assert "libcurl.so.4" in r.error and "apt-get install libcurl4" in r.error and len(r.error.splitlines()) == 1
    assert r.text == ""
    r = local.run("ls", "-n", "-o", "NAME", env=env)
    assert r.code == 0 and "orders" in r.text.split(), r.error


def test_a_running_server_follows_local_mode_changes(server, shm_admin_bin, prefix):
    """`shm-admin create` and `rm` in local mode beside a server on the same state directory: the
    server manages the section at once, and forgets it (not `missing`) after the delete."""
    import time

    local = Cli(shm_admin_bin, server.state_dir)
    remote = Cli(shm_admin_bin, server.state_dir, url=f"http://127.0.0.1:{server.port}")
    name = prefix + "beside"

    def remote_view():
        return remote.run("ls", "-q", name, "-n", "-o", "NAME,MANAGED,STATE,RESERVE", "-b").text.split()

    local.ok("create", name, "--reserve", "64KiB", "--commit", "4KiB")
    deadline = time.monotonic() + 5
    while remote_view() != [name, "yes", "ok", "65536"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert remote_view() == [name, "yes", "ok", "65536"]
    local.ok("rm", name)
    deadline = time.monotonic() + 5
    while remote_view() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert remote_view() == []
