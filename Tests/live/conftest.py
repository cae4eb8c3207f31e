"""Fixtures of the live tests: the real shm-admin server, clients of it, python3 peers, cleanup.

The helpers themselves live in support/ (client, server, peers, sse, shm); this file only wires
them into pytest. Everything talks to 127.0.0.1 only, and every wait is bounded in time and count.
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
  private_tmpfs   an 8 MiB tmpfs of this test's own (a server's --shm-dir); skips without root
  host_children   starts processes that keep shared memory elsewhere (another mount namespace's
                  /dev/shm, System V, memfd, unlinked); kills them and their groups after the test
  sysv_segments   makes System V segments (ctypes shmget); removes them (IPC_RMID) after the test
"""

from __future__ import annotations

import http.client
import os

import pytest

# Asserts in the helpers (Client.create, Peer.ok …) explain themselves as the tests' own do.
pytest.register_assert_rewrite("support")

from support.client import Client, sec  # noqa: E402
from support.peers import Peer  # noqa: E402
from support.server import ServerStartError, ShmAdminServer, running_servers, stop_checked  # noqa: E402
from support.shm import RUN_PREFIX, private_shm_dir, remove_prefixed, unlink_quietly  # noqa: E402

_test_counter = [0]


def _started(srv: ShmAdminServer) -> ShmAdminServer:
    """Starts `srv`; a server that does not come up fails the test with its diagnostics only."""
    try:
        return srv.start()
    except ServerStartError as e:
        why = str(e)
    pytest.fail(why, pytrace=False)  # outside `except`, so the message is not printed twice


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
    srv = _started(ShmAdminServer(shm_admin_bin, base / "state", log_dir=base))
    yield srv
    stop_checked(srv)


@pytest.fixture
def admin(server) -> Client:
    assert server.alive(), f"the session server died; {server.diagnostics()}"
    return server.client()


@pytest.fixture
def anon(server) -> Client:
    return server.client(token=None)


@pytest.fixture
def server_factory(shm_admin_bin, tmp_path, shm_run_prefix):
    """start(token=None|str, read_token=None|str, args=(), umask=None, state_dir=None, cpus=None) -> server."""
    started: list[ShmAdminServer] = []

    def start(token=None, read_token=None, args=(), umask=None, state_dir=None, cpus=None):
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
        srv = _started(ShmAdminServer(shm_admin_bin, state_dir or tmp_path / f"state-{n}", token_file=token_file,
                                      read_token_file=read_token_file, extra_args=args, umask=umask,
                                      log_dir=tmp_path, cpus=cpus))
        started.append(srv)
        return srv

    yield start
    problems = []
    for srv in started:
        try:
            stop_checked(srv)
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
    for srv in list(running_servers):
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


@pytest.fixture
def private_tmpfs(tmp_path):
    with private_shm_dir(tmp_path, "8m") as (path, mounted):
        if not mounted:
            pytest.skip("mounting a tmpfs needs root")
        yield path


@pytest.fixture
def host_children():
    """start(kind, *args, wrap=()) -> HostChild; every child (and its process group) is killed after the test."""
    from support.host import HostChild

    started = []

    def start(kind, *args, wrap=()):
        child = HostChild(kind, *args, wrap=wrap)
        started.append(child)
        return child

    yield start
    for child in started:
        child.kill()


@pytest.fixture
def sysv_segments():
    """make(size, key=0) -> shmid; every segment made is removed (IPC_RMID) after the test."""
    from support.host import sysv_create, sysv_remove

    made = []

    def make(size, key=0):
        shmid = sysv_create(size, key)
        made.append(shmid)
        return shmid

    yield make
    for shmid in made:
        sysv_remove(shmid)
