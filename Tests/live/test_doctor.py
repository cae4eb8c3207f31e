"""The doctor on real faults (API-HOST.md "Doctor findings"): a small tmpfs of our own as the
server's --shm-dir, a sparse object mapped by a child (`sigbus-exposure` critical before a byte is
touched, and the child then really dies of SIGBUS writing into the hole once the tmpfs is full),
the tmpfs filled past 80 % and 95 % (`shm-full`, with its `finding` events), a prepared --root-dir
whose logind.conf and drop-ins leave RemoveIPC on, with objects owned by uid 1234 (`removeipc`), an
unlink by another process while a child maps the object (`deleted-while-mapped`), and System V
near kernel.shmmni in a private IPC namespace (`sysv-limits`, the host's limit untouched). Every
tmpfs is unmounted and every child killed whatever happens."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from support.common import MiB, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")

MAPPER = r'''
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, int(sys.argv[2]))
print("ready", flush=True)
for line in sys.stdin:
    offset = int(line)
    m[offset] = 0x5A
    print("wrote", flush=True)
'''


@pytest.fixture
def small_tmpfs(tmp_path):
    """An 8 MiB tmpfs at tmp_path/shm; unmounted after the test."""
    path = tmp_path / "shm"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=1777", "tmpfs", str(path)], check=True)
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def mappers():
    """start(path, size) -> Popen of a child mapping the file; every child is killed after the test."""
    started = []

    def start(path, size):
        child = subprocess.Popen([sys.executable, "-c", MAPPER, str(path), str(size)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        started.append(child)
        assert child.stdout.readline().strip() == "ready"
        return child

    yield start
    for child in started:
        if child.poll() is None:
            child.kill()
        child.wait()


def device_of(path) -> str:
    st = os.stat(path)
    return f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"


def root_tree(base, files: dict[str, str], links: dict[str, str] = {}):
    for rel, text in files.items():
        full = base / rel.lstrip("/")
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)
    for rel, target in links.items():
        full = base / rel.lstrip("/")
        full.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, full)
    return base


def findings(admin, check_id, mount=None):
    r = admin.get("/api/v1/doctor")
    assert r.status == 200, r.describe()
    return [f for f in r.json["findings"]
            if f["id"] == check_id and (mount is None or f["evidence"].get("mount") == mount)]


def fill(path, target_bytes=None):
    """Writes a filler file until the tmpfs is full (ENOSPC) or `target_bytes` are written."""
    written = 0
    with open(path, "ab") as f:
        chunk = b"\xff" * (64 * 1024)
        try:
            while target_bytes is None or written < target_bytes:
                f.write(chunk)
                f.flush()
                written += len(chunk)
        except OSError:
            pass
    return written


def test_sparse_mapped_object_is_sigbus_exposure_and_a_write_into_the_hole_dies(
        server_factory, small_tmpfs, mappers, tmp_path):
    sparse = small_tmpfs / "doctor-sparse"
    with open(sparse, "wb") as f:
        f.truncate(32 * MiB)
    child = mappers(sparse, 32 * MiB)
    root = root_tree(tmp_path / "root", {"/etc/systemd/logind.conf": "[Login]\nRemoveIPC=no\n"})
    srv = server_factory(args=["--shm-dir", str(small_tmpfs), "--root-dir", str(root)])
    admin = srv.client()
    mount = device_of(small_tmpfs)

    found = wait_until(lambda: findings(admin, "sigbus-exposure", mount), timeout=5, what="sigbus-exposure")
    [finding] = found
    assert finding["severity"] == "critical", finding
    assert finding["subjects"] == ["/api/v1/sections/doctor-sparse"]
    assert finding["evidence"]["exposureBytes"] == 32 * MiB
    assert 0 < finding["evidence"]["freeBytes"] <= 8 * MiB
    assert child.pid in finding["evidence"]["pids"]
    assert "--shm-size" in finding["fix"] and "fallocate" in finding["fix"]
    assert not findings(admin, "removeipc"), "RemoveIPC=no in logind.conf"
    report = admin.get("/api/v1/doctor").json
    assert report["summary"]["critical"] >= 1
    order = {"critical": 0, "warning": 1, "info": 2}
    assert [order[f["severity"]] for f in report["findings"]] == sorted(order[f["severity"]] for f in report["findings"])

    # The periodic run (at start, then every 10 s) keeps the metric; every id is exported.
    def metric():
        # At least this mount's: the server sees the whole host, whose /dev/shm may be exposed too.
        text = admin.get("/metrics").text
        m = re.search(r'^shm_admin_doctor_findings\{id="sigbus-exposure",severity="critical"\} (\d+)$', text, re.M)
        return text if m and int(m.group(1)) >= 1 else None
    text = wait_until(metric, timeout=5, what="the findings metric")
    for check in ("shm-full", "shm-small", "removeipc", "sysv-limits", "orphans", "unlinked-held",
                  "missing-sections", "deleted-while-mapped"):
        for severity in ("critical", "warning", "info"):
            assert re.search(rf'^shm_admin_doctor_findings{{id="{check}",severity="{severity}"}} \d+$', text, re.M)
    history = admin.get("/api/v1/history")
    assert history.status == 200 and history.json["interval"] == 10
    assert mount in history.json["mounts"], history.json
    t, used, exposure = history.json["mounts"][mount][-1]
    assert exposure == 32 * MiB and used >= 0 and t > 1_700_000_000
    assert admin.get("/api/v1/history", query={"since": "2999-01-01T00:00:00Z"}).json["mounts"] == {}
    assert admin.get("/api/v1/history", query={"since": "yesterday"}).status == 400

    # The finding was right: with the tmpfs full, a write into the hole is a SIGBUS.
    fill(small_tmpfs / "filler")
    child.stdin.write(f"{16 * MiB}\n")
    child.stdin.flush()
    assert child.wait(timeout=10) == -signal.SIGBUS


def test_a_filling_tmpfs_is_shm_full_warning_then_critical(server_factory, small_tmpfs, tmp_path):
    """Each finding that appears or changes severity is a `finding` event of the 10 s run."""
    from support.sse import EventStream

    root = root_tree(tmp_path / "root", {"/etc/systemd/logind.conf": "[Login]\nRemoveIPC=no\n"})
    srv = server_factory(args=["--shm-dir", str(small_tmpfs), "--root-dir", str(root)])
    admin = srv.client()
    mount = device_of(small_tmpfs)
    assert not findings(admin, "shm-full", mount)
    events = EventStream(srv.port, token=srv.admin_token)

    def shm_full_event(severity):
        def match(ev):
            data = ev.get("json") or {}
            return (ev.get("event") == "finding" and data.get("finding", {}).get("id") == "shm-full"
                    and data["finding"]["severity"] == severity)
        return match
    try:
        events.wait_comment(": connected", timeout=5)
        fill(small_tmpfs / "filler", 7 * MiB)  # 87.5 %
        [warning] = wait_until(lambda: findings(admin, "shm-full", mount), timeout=5, what="shm-full warning")
        assert warning["severity"] == "warning", warning
        assert warning["subjects"][0] == f"/api/v1/mounts/{mount}"
        assert "/api/v1/sections/filler" in warning["subjects"]
        event = events.wait_event(shm_full_event("warning"), timeout=15, what="the finding event")
        assert event["json"]["section"] is None and event["json"]["source"] == "external"
        assert event["json"]["finding"]["evidence"]["mount"] == mount
        fill(small_tmpfs / "filler")
        crit = wait_until(lambda: [f for f in findings(admin, "shm-full", mount) if f["severity"] == "critical"],
                          timeout=5, what="shm-full critical")
        assert crit[0]["evidence"]["usedPercent"] >= 95
        assert crit[0]["evidence"]["sizeBytes"] == 8 * MiB
        later = events.wait_event(shm_full_event("critical"), timeout=15, what="the changed finding's event")
        assert int(later["id"]) > int(event["id"])
    finally:
        events.close()


def test_removeipc_read_through_drop_ins_with_objects_of_uid_1234(server_factory, small_tmpfs, tmp_path):
    owned = small_tmpfs / "doctor-user-owned"
    owned.write_bytes(b"x" * 4096)
    os.chown(owned, 1234, 1234)
    system = small_tmpfs / "doctor-system-owned"
    system.write_bytes(b"y" * 4096)
    os.chown(system, 999, 999)
    # logind.conf says no; drop-ins in every directory, the last by file name (30-run) says yes; a
    # masked name (/etc's 40-masked.conf -> /dev/null) hides /usr/lib's "no".
    yes_root = root_tree(tmp_path / "yes", {
        "/etc/systemd/logind.conf": "[Login]\nRemoveIPC=no\n",
        "/usr/lib/systemd/logind.conf.d/10-vendor.conf": "[Login]\nRemoveIPC=no\n",
        "/usr/local/lib/systemd/logind.conf.d/20-local.conf": "[Login]\nRemoveIPC=no\n",
        "/run/systemd/logind.conf.d/30-run.conf": "[Login]\nRemoveIPC=yes\n",
        "/usr/lib/systemd/logind.conf.d/40-masked.conf": "[Login]\nRemoveIPC=no\n",
        "/etc/login.defs": "SYS_UID_MAX 999\n",
    }, links={"/etc/systemd/logind.conf.d/40-masked.conf": "/dev/null"})
    srv = server_factory(args=["--shm-dir", str(small_tmpfs), "--root-dir", str(yes_root)])
    admin = srv.client()
    [finding] = wait_until(lambda: findings(admin, "removeipc"), timeout=5, what="removeipc")
    assert finding["severity"] == "warning"
    assert finding["subjects"] == ["/api/v1/sections/doctor-user-owned"]
    assert finding["evidence"]["uids"] == [1234]
    assert finding["evidence"]["source"].endswith("/run/systemd/logind.conf.d/30-run.conf")
    assert "RemoveIPC=no" in finding["fix"] and "system user" in finding["fix"]

    # /etc's drop-in of the same name masks /run's: RemoveIPC=no wins, no finding.
    no_root = root_tree(tmp_path / "no", {
        "/etc/systemd/logind.conf": "[Login]\n",
        "/etc/systemd/logind.conf.d/30-run.conf": "[Login]\nRemoveIPC=no\n",
        "/run/systemd/logind.conf.d/30-run.conf": "[Login]\nRemoveIPC=yes\n",
    })
    other = server_factory(args=["--shm-dir", str(small_tmpfs), "--root-dir", str(no_root)]).client()
    assert not findings(other, "removeipc")

    # No setting anywhere is systemd's default, yes; login.defs' SYS_UID_MAX moves the line.
    high_root = root_tree(tmp_path / "high", {"/etc/login.defs": "SYS_UID_MAX 2000\n"})
    high = server_factory(args=["--shm-dir", str(small_tmpfs), "--root-dir", str(high_root)]).client()
    assert not findings(high, "removeipc"), "uid 1234 is a system user under SYS_UID_MAX 2000"
    default_root = root_tree(tmp_path / "default", {})
    default = server_factory(args=["--shm-dir", str(small_tmpfs), "--root-dir", str(default_root)]).client()
    [finding] = findings(default, "removeipc")
    assert finding["evidence"]["source"] is None


def test_grace_option_is_validated(shm_admin_bin, tmp_path):
    r = subprocess.run([shm_admin_bin, "serve", "--grace", "soon", "--state-dir", str(tmp_path / "s")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "--grace" in r.stderr


def test_an_unlink_by_another_process_while_a_child_maps_is_deleted_while_mapped(
        server_factory, small_tmpfs, mappers, tmp_path):
    from support.sse import EventStream

    target = small_tmpfs / "doctor-mapped"
    target.write_bytes(b"m" * 65536)
    inode = os.stat(target).st_ino
    child = mappers(target, 65536)
    root = root_tree(tmp_path / "root", {"/etc/systemd/logind.conf": "[Login]\nRemoveIPC=no\n"})
    srv = server_factory(args=["--shm-dir", str(small_tmpfs), "--root-dir", str(root)])
    admin = srv.client()
    mount = device_of(small_tmpfs)
    events = EventStream(srv.port, token=srv.admin_token)
    try:
        events.wait_comment(": connected", timeout=5)
        assert not findings(admin, "deleted-while-mapped")
        subprocess.run([sys.executable, "-c", f"import os; os.unlink({str(target)!r})"], check=True)
        event = events.wait_event(lambda ev: ev.get("event") == "deleted-while-mapped", timeout=10,
                                  what="deleted-while-mapped")
    finally:
        events.close()
    data = event["json"]
    assert data["section"] == "doctor-mapped" and data["source"] == "external", data
    assert data["pids"] == [child.pid] and data["uid"] is None
    [finding] = wait_until(lambda: findings(admin, "deleted-while-mapped"), timeout=5, what="the finding")
    assert finding["severity"] == "warning"
    major, minor = mount.split(":")
    assert finding["subjects"] == [f"/api/v1/unlinked/{major}-{minor}:{inode}"]
    [unlink] = finding["evidence"]["unlinks"]
    assert unlink["name"] == "doctor-mapped" and unlink["mount"] == mount and unlink["pids"] == [child.pid]
    assert "RemoveIPC=no" in finding["fix"]
    # The child still reads its bytes: the memory lives on as an unlinked object.
    assert admin.get(finding["subjects"][0]).status == 200


WRAPPER = r'''#!/bin/sh
# The server in a private IPC namespace whose kernel.shmmni is 10, holding 8 unattached segments:
# the namespace (and its segments) goes with the server.
exec unshare --ipc sh -c 'sysctl -qw kernel.shmmni=10 && python3 -c "
import ctypes
libc = ctypes.CDLL(None)
for _ in range(8):
    assert libc.shmget(0, 4096, 0o1600) >= 0
" && exec "$0" "$@"' BINARY "$@"
'''


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_sysv_segments_near_shmmni_in_a_private_ipc_namespace(shm_admin_bin, small_tmpfs, tmp_path):
    from support.server import ShmAdminServer, stop_checked

    wrapper = tmp_path / "in-private-ipc"
    wrapper.write_text(WRAPPER.replace("BINARY", shm_admin_bin))
    wrapper.chmod(0o755)
    root = root_tree(tmp_path / "root", {"/etc/systemd/logind.conf": "[Login]\nRemoveIPC=no\n"})
    srv = ShmAdminServer(str(wrapper), tmp_path / "state", extra_args=[
        "--shm-dir", str(small_tmpfs), "--root-dir", str(root)], log_dir=tmp_path).start()
    try:
        admin = srv.client()
        [finding] = wait_until(lambda: findings(admin, "sysv-limits"), timeout=5, what="sysv-limits")
        assert finding["severity"] == "warning"
        assert finding["evidence"]["segments"] == 8 and finding["evidence"]["shmmni"] == 10
        assert finding["evidence"]["unattached"] == 8 and len(finding["subjects"]) == 8
        assert all(s.startswith("/api/v1/sysv/") for s in finding["subjects"])
        assert "kernel.shmmni" in finding["fix"]
    finally:
        stop_checked(srv)
