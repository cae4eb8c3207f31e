"""Least privilege (issue 15): the server as an unprivileged system user with exactly the capabilities
of each documented profile, read from the shipped unit (AmbientCapabilities of shm-admin.service: read-only
inspection) and its drop-in (admin.conf: admin), given with setpriv as systemd gives them (User=,
AmbientCapabilities=, CapabilityBoundingSet=, NoNewPrivileges=).

Another user (nobody) owns a 0600 object and keeps it mapped. What each profile sees and may do:

| | no capabilities | inspect | admin |
|---|---|---|---|
| that process among the mappers | no | yes | yes |
| read its bytes | 403 | yes | yes |
| adopt it (a record of the server's own) | 403 | yes | yes |
| write, grow it | 403 | 403 | yes |
| delete it (sticky /dev/shm) | 403 | 403 | yes |
| its own sections: create, write, delete | yes | yes | yes |
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

import pytest

from service_support import (ServiceProcess, as_user, capability_mask, capability_profiles, http, is_root,
                             process_capabilities, system_user)

NOBODY = 65534
SECRET = b"NOBODY-SECRET-0123"

HOLD_AS_NOBODY = r'''
import mmap, os, sys
fd = os.open("/dev/shm/" + sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
os.ftruncate(fd, 8192)
os.pwrite(fd, sys.argv[2].encode(), 0)
m = mmap.mmap(fd, 8192)
print("ready", flush=True)
sys.stdin.read()
'''

pytestmark = pytest.mark.skipif(not is_root() or shutil.which("setpriv") is None,
                                reason="needs root and setpriv to run the server as another user")


@pytest.fixture(scope="module")
def service_user():
    with system_user() as name:
        yield name


@pytest.fixture
def nobodys_object(prefix, tmp_path):
    """A 0600 object of nobody's, mapped by a process of nobody's; yields (name, pid)."""
    name = prefix + "nobodys"
    holder = subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "/usr/bin/python3", "-c",
         HOLD_AS_NOBODY, name, SECRET.decode()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield name, holder.pid
    finally:
        holder.stdin.close()
        holder.wait(10)
        if os.path.exists("/dev/shm/" + name):
            os.unlink("/dev/shm/" + name)


def _profile(name: str) -> list[str]:
    return [] if name == "none" else capability_profiles()[name]


@pytest.mark.parametrize("profile", ["none", "inspect", "admin"])
def test_profile_sees_and_may_exactly_what_it_documents(profile, service_user, nobodys_object, prefix, tmp_path):
    name, holder_pid = nobodys_object
    caps = _profile(profile)
    user = pwd.getpwnam(service_user)
    home = Path(tempfile.mkdtemp(prefix="shm-admin-svc-"))  # pytest's own tmp_path is 0700 root's
    os.chmod(home, 0o755)
    state = home / "state"
    state.mkdir(mode=0o700)
    os.chown(state, user.pw_uid, user.pw_gid)
    srv = ServiceProcess(as_user(service_user, caps) + [os.environ["SHM_ADMIN_BIN"], "serve", "--port", "0",
                                                         "--state-dir", str(state)],
                         env={"PATH": "/usr/bin:/bin", "HOME": str(state)}, log_dir=str(tmp_path))
    try:
        srv.wait_banner()
        # exactly the profile's capabilities, and no uid 0 anywhere
        got = process_capabilities(srv.proc.pid)
        mask = capability_mask(caps)
        assert got == {"CapInh": mask, "CapPrm": mask, "CapEff": mask, "CapBnd": mask, "CapAmb": mask}, got
        status = open(f"/proc/{srv.proc.pid}/status").read()
        assert f"Uid:\t{user.pw_uid}\t{user.pw_uid}\t{user.pw_uid}\t{user.pw_uid}" in status

        t = srv.token
        path = "/api/v1/sections/" + urllib.parse.quote(name, safe="")
        inspects = profile != "none"
        administers = profile == "admin"

        status_code, body = http(srv.port, "GET", path + "/views", token=t)
        assert status_code == 200, body
        pids = [m["pid"] for m in json.loads(body)["mappers"]]
        assert (holder_pid in pids) == inspects, (profile, pids)
        detail = json.loads(http(srv.port, "GET", path, token=t)[1])
        assert detail["orphan"] == (not inspects), detail

        read = http(srv.port, "GET", path + f"/data?offset=0&length={len(SECRET)}&format=raw", token=t)
        assert read == ((200, SECRET) if inspects else (403, read[1])), read
        adopt = http(srv.port, "POST", path + "/adopt", token=t, body=b'{"reserve":"64KiB"}')
        assert adopt[0] == (200 if inspects else 403), adopt

        write = http(srv.port, "PUT", path + "/data?offset=4096", token=t, body=b"from the service",
                     content_type="application/octet-stream")
        grow = http(srv.port, "POST", path + "/grow", token=t, body=b'{"by":"4KiB"}')
        with open("/dev/shm/" + name, "rb") as f:
            written = f.read()[4096:4096 + 16] == b"from the service"
        assert written == administers
        if administers:
            assert write[0] == 200 and grow[0] == 200, (write, grow)
        else:
            assert write[0] == 403 and grow[0] == 403, (write, grow)

        delete = http(srv.port, "DELETE", path + "?force=true", token=t)
        assert delete[0] == (204 if administers else 403), delete
        assert os.path.exists("/dev/shm/" + name) == (not administers)

        # its own sections: every profile
        own = prefix + "own-" + profile
        created = http(srv.port, "POST", "/api/v1/sections", token=t,
                       body=json.dumps({"name": own, "reserve": "8KiB"}).encode())
        assert created[0] == 201, created
        assert os.stat("/dev/shm/" + own).st_uid == user.pw_uid
        assert http(srv.port, "PUT", "/api/v1/sections/" + own + "/data?offset=0", token=t, body=b"mine",
                    content_type="application/octet-stream")[0] == 200
        assert http(srv.port, "DELETE", "/api/v1/sections/" + own, token=t)[0] == 204
    finally:
        code = srv.stop()
        srv.close()
        shutil.rmtree(home, ignore_errors=True)
    assert code == 0, srv.stderr()
