"""The whole host at the shell (docs CLI.md, version 1.1): `ls --all` over the inventory, `show HREF`
for every kind, `mounts` and `doctor` — each local and remote against the same host, with the same
output both ways, over real peers: a container-like /dev/shm in a private mount namespace, a System V
segment attached by a child, a memfd and an unlinked object held by children, and a small tmpfs
made full and exposed for the doctor's exit statuses.

The host also holds whatever else runs on this machine, so every comparison is narrowed to this
test's objects (`-q PREFIX`, `--mount`, the row of this test's mount) or checks only what this test
made. Children are killed and tmpfs mounts unmounted by the fixtures whatever happens."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys

import pytest

from support.cli import Cli, golden
from support.common import MiB, wait_until
from support.server import ShmAdminServer, stop_checked
from support.shm import private_shm_dir
from test_cli_output import make_object

ROOT_NEEDED = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (tmpfs mounts, other processes' /proc)")
UNSHARE_TMPFS = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount -t tmpfs -o size=64m tmpfs /dev/shm && exec "$@"', "sh"]

MAPPER = r'''
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, int(sys.argv[2]))
print("ready", flush=True)
sys.stdin.read()
'''


def device_of(path) -> str:
    st = os.stat(path)
    return f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"


def mask(text: str) -> str:
    """Ages (`42s`, `5m`, …) and times, which may tick between two runs; then the table's tokens
    line by line, since a wider age moves the columns after it."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>", text)
    return "\n".join(" ".join("<age>" if re.fullmatch(r"\d+[smhd]", t) else t for t in line.split())
                     for line in text.splitlines())


def same(clis, *args, expect_code=0):
    """Runs args on every Cli; asserts one exit status and one output (masked); returns the output."""
    answers = [cli.run(*args) for cli in clis]
    first = answers[0]
    assert first.code == expect_code, (args, first.code, first.error)
    for other in answers[1:]:
        assert other.code == first.code, (args, other.error, first.error)
        assert mask(other.text) == mask(first.text), (args, first.text, other.text)
        assert other.error == first.error, args
    return first.text


def settled(clis, *args, expect_code=0, timeout=5.0):
    """`same`, once the server's view (at most a second old) has caught up with a change just made."""
    def agree():
        try:
            return same(clis, *args, expect_code=expect_code)
        except AssertionError:
            return None
    return wait_until(agree, timeout=timeout, interval=0.2, what=f"local and remote to agree on {args}")


@pytest.fixture(scope="module")
def pair(shm_admin_bin, tmp_path_factory):
    """(local Cli, remote Cli, server, shm dir, root dir) over a private tmpfs holding fixed objects,
    with a root whose logind.conf turns RemoveIPC off (no `removeipc` finding for root's objects)."""
    base = tmp_path_factory.mktemp("cli-host")
    root = base / "root"
    (root / "etc/systemd").mkdir(parents=True)
    (root / "etc/systemd/logind.conf").write_text("[Login]\nRemoveIPC=no\n")
    with private_shm_dir(base) as (shm, _):
        state = base / "state"
        local = Cli(shm_admin_bin, state, shm_dir=shm)
        local.ok("create", "orders", "--reserve", "1MiB", "--commit", "64KiB", "--label", "app=matcher")
        local.ok("write", "orders", input=b"hello, world\n")
        make_object(shm, "plain", 8192, 0o644, b"x" * 10, 4096)
        make_object(shm, "sparse", 1 * MiB, 0o600)
        server = ShmAdminServer(shm_admin_bin, state, extra_args=["--shm-dir", str(shm), "--root-dir", str(root)],
                                log_dir=base).start()
        remote = Cli(shm_admin_bin, state, url=f"http://127.0.0.1:{server.port}")
        try:
            yield local, remote, server, shm, root
        finally:
            stop_checked(server)


def test_ls_all_of_the_shared_memory_directory(pair):
    local, remote, _, shm, _ = pair
    table = same((local, remote), "ls", "--all", "--mount", "host")
    golden("ls-all.txt", re.sub(r"\b\d+:\d+\b", "<mount>", mask(table)) + "\n")
    assert table.splitlines()[0].split() == ["NAME", "KIND", "OWNER", "PERMS", "SIZE", "ALLOC", "DATA", "MAPPERS",
                                             "ORPHAN", "AGE", "MOUNT", "CONTAINER", "UNBACKED"]
    # largest first (allocated bytes), as the inventory sorts
    assert [line.split()[0] for line in table.splitlines()[1:]] == ["orders", "plain", "sparse"]
    raw = same((local, remote), "ls", "--all", "--mount", device_of(shm), "-r", "-n", "-b",
               "-o", "NAME,SIZE,ALLOC,UNBACKED,MANAGED,HREF")
    assert raw.splitlines() == ["orders 65536 65536 0 yes /api/v1/sections/orders",
                                "plain 8192 4096 4096 no /api/v1/sections/plain",
                                "sparse 1048576 0 1048576 no /api/v1/sections/sparse"]
    assert same((local, remote), "ls", "--all", "--mount", "host", "--managed", "-n", "-o", "NAME") == "orders\n"
    assert same((local, remote), "ls", "--all", "--mount", "host", "--no-managed", "-n", "-o", "NAME",
                "--sort", "NAME") == "plain\nsparse\n"
    assert same((local, remote), "ls", "--all", "--mount", "host", "-q", "lai", "-n", "-o", "NAME") == "plain\n"
    assert same((local, remote), "ls", "--all", "--mount", "host", "--uid", "0", "-n", "-o", "NAME",
                "--sort", "NAME") == "orders\nplain\nsparse\n"
    assert same((local, remote), "ls", "--all", "--mount", "host", "--uid", "4242", "-n") == ""
    assert same((local, remote), "ls", "--all", "--mount", "host", "--kind", "semaphore", "-n") == ""
    assert same((local, remote), "ls", "--all", "--mount", "host", "--orphan", "-n", "-o", "NAME",
                "--sort", "NAME") == "orders\nplain\nsparse\n"
    golden("ls-all-columns.txt", same((local, remote), "ls", "--all", "--list-columns"))


def without_other_mounts(inventory: dict, device: str) -> dict:
    """The inventory with `byMount` cut to `device`: it lists every mount of the machine (with zero
    counts when filtered out), and other programs' mounts come and go between two views of it."""
    return dict(inventory, byMount={k: v for k, v in inventory["byMount"].items() if k == device})


def test_ls_all_json_is_the_inventory(pair):
    local, remote, server, shm, _ = pair
    device = device_of(shm)
    client = server.client()

    def agreed():
        answers = [json.loads(cli.ok("ls", "--all", "--mount", "host", "-J")) for cli in (local, remote)]
        api = client.get("/api/v1/inventory", query={"mount": "host", "limit": "100000"}).json
        views = [without_other_mounts(x, device) for x in answers + [api]]
        return views[0] if views[0] == views[1] == views[2] else None

    api = wait_until(agreed, timeout=5, interval=0.2, what="the same inventory from ls --all -J and the API")
    assert set(api) == {"objects", "total", "byKind", "byMount"} and api["total"] == 3
    assert api["byMount"] == {device: {"count": 3, "bytes": 65536 + 4096}}
    # the bytes as the endpoint sends them, not a re-rendering (two requests: the same pass, or retried)
    wait_until(lambda: remote.run("ls", "--all", "--mount", "host", "-J").out
               == client.get("/api/v1/inventory", query={"mount": "host", "limit": "100000"}).body + b"\n",
               timeout=5, interval=0.2, what="ls --all -J to print the endpoint's bytes")
    # --managed is the CLI's filter: the inventory's shape, counted again over what it keeps
    kept = json.loads(remote.ok("ls", "--all", "--mount", "host", "--managed", "-J"))
    assert [o["name"] for o in kept["objects"]] == ["orders"] and kept["total"] == 1
    assert kept["byKind"]["shm"] == {"count": 1, "bytes": 65536} and kept["byKind"]["sysv"]["count"] == 0
    assert kept["byMount"][device] == {"count": 1, "bytes": 65536}
    assert without_other_mounts(json.loads(local.ok("ls", "--all", "--mount", "host", "--managed", "-J")), device) \
        == without_other_mounts(kept, device)


def test_usage_errors_of_ls_all(pair):
    local, remote, *_ = pair
    for cli in (local, remote):
        r = cli.run("ls", "--kind", "sysv")
        assert r.code == 2 and "--all" in r.error, r.error
        r = cli.run("ls", "--mount", "host")
        assert r.code == 2 and "--all" in r.error, r.error
        r = cli.run("ls", "--all", "--kind", "bogus")
        assert r.code == 2, r.error
        r = cli.run("ls", "--all", "-o", "NAME,NOPE")
        assert r.code == 2 and "unknown column 'NOPE'" in r.error
    # a mount that is not 'host' or MAJ:MIN is the API's 400, the same line both ways
    r = [cli.run("ls", "--all", "--mount", "sda") for cli in (local, remote)]
    assert r[0].code == r[1].code == 1 and r[0].error == r[1].error
    assert r[0].error.startswith("shm-admin: Bad request: "), r[0].error


def test_show_hrefs_of_the_own_directory(pair):
    local, remote, _, shm, _ = pair
    by_name = same((local, remote), "show", "plain")
    # the same detail (version 1's, the object being in the shared-memory directory), without the
    # page-map summary, which `show NAME` adds
    by_href = same((local, remote), "show", "/api/v1/mounts/host/sections/plain")
    assert by_href.splitlines() == [line for line in by_name.splitlines() if not line.startswith("PAGES")]
    text = same((local, remote), "show", f"/api/v1/mounts/{device_of(shm)}/sections/plain")
    assert "NAME       plain" in text and "MAPPERS    0" in text
    r = [cli.run("show", f"/api/v1/mounts/{device_of(shm)}/sections/nope") for cli in (local, remote)]
    assert r[0].code == r[1].code == 1 and r[0].error == r[1].error, (r[0].error, r[1].error)
    r = [cli.run("show", "/api/v1/sysv/host/notanumber") for cli in (local, remote)]
    assert r[0].code == r[1].code == 1 and r[0].error == r[1].error and "Bad request" in r[0].error


@ROOT_NEEDED
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_another_mount_namespace(pair, host_children, prefix):
    local, remote, *_ = pair
    child = host_children("mount", prefix + "obj", 128 * MiB, wrap=UNSHARE_TMPFS)
    device = child.info["device"]
    listed = settled((local, remote), "ls", "--all", "--mount", device, "-o", "NAME,KIND,SIZE,ALLOC,UNBACKED,"
                     "MAPPERS,HOLDERS,ORPHAN,MOUNT,HREF", "-r", "-b")
    assert listed.splitlines()[1:] == [
        f"{prefix}obj shm 65536 65536 0 1 1 no {device} /api/v1/mounts/{device}/sections/{prefix}obj",
        f"{prefix}obj-sparse shm {128 * MiB} 0 {128 * MiB} 0 0 yes {device} "
        f"/api/v1/mounts/{device}/sections/{prefix}obj-sparse",
    ]
    settled((local, remote), "ls", "--all", "--mount", device)
    wait_until(lambda: without_other_mounts(json.loads(local.ok("ls", "--all", "--mount", device, "-J")), device)
               == without_other_mounts(json.loads(remote.ok("ls", "--all", "--mount", device, "-J")), device),
               timeout=5, interval=0.2, what="the same inventory of the mount both ways")
    # show HREF: the mapper with its memory (rss/pss of the mapping, from smaps)
    href = f"/api/v1/mounts/{device}/sections/{prefix}obj"
    text = settled((local, remote), "show", href, "-b")
    mappers = text.split("mappers:\n", 1)[1].splitlines()
    assert mappers[0].split() == ["PID", "COMMAND", "START", "END", "OFFSET", "ACCESS", "RSS", "PSS"]
    row = mappers[1].split()
    assert row[0] == str(child.pid) and row[1] == "python3" and row[5] == "rw" and row[6] == "65536", text
    assert int(row[7]) > 0
    assert "holders:" in text and f"MOUNT      {device}" in text
    detail = wait_until(lambda: (lambda a, b: a if a == b else None)(
        json.loads(remote.ok("show", href, "-J")), json.loads(local.ok("show", href, "-J"))),
        timeout=5, interval=0.2, what="the same detail both ways")
    assert detail["mapperList"][0]["rssBytes"] == 65536
    # mounts: the namespace's tmpfs, its size and exposure
    # (this mount's row only: the rest of the machine's mounts change as other programs run)
    def rows_of(cli, *args):
        return [line for line in cli.ok("mounts", "-r", "-b", "-n", *args).splitlines()
                if line.split()[0] == device]

    def agreed(*args):
        rows = [rows_of(cli, *args) for cli in (local, remote)]
        return rows[0] if rows[0] and rows[0] == rows[1] else None

    [row] = wait_until(agreed, timeout=5, interval=0.2, what="this mount's row, the same both ways")
    cells = row.split()
    assert cells[1] == "/dev/shm" and cells[2] == str(64 * MiB)
    assert cells[6] == str(128 * MiB) and cells[7] == "yes", row
    # -o with more columns, --sort: this mount's row is the same both ways
    row = agreed("-o", "ID,PATH,SIZE,HOST,OBJECTS,PROCESSES,PIDS,MEMMAX", "--sort", "ID")
    assert row == [f"{device} /dev/shm {64 * MiB} no 2 1 {child.pid} -"], row
    mounts = json.loads(remote.ok("mounts", "-J"))
    assert json.loads(local.ok("mounts", "-J"))["mounts"][0]["host"] is True and mounts["mounts"][0]["host"] is True
    assert device in [m["id"] for m in mounts["mounts"]]


@ROOT_NEEDED
def test_sysv_memfd_and_unlinked_objects(pair, host_children, sysv_segments, prefix):
    local, remote, *_ = pair
    key = 0x5A000000 | secrets.randbits(20)
    shmid = sysv_segments(64 * 1024, key)
    attached = host_children("sysv", shmid)
    memfd = host_children("memfd", prefix + "mfd")
    unlinked = host_children("unlinked", prefix + "unl")
    key_text = f"0x{key:08x}"

    sysv = settled((local, remote), "ls", "--all", "--kind", "sysv", "-q", key_text, "-r", "-b", "-o",
                   "NAME,KIND,SIZE,ALLOC,UNBACKED,MAPPERS,ORPHAN,NATTCH,SHMID,HREF")
    [row] = sysv.splitlines()[1:]
    cells = row.split()
    assert cells[:8] == [key_text, "sysv", "65536", str(3 * 4096), str(65536 - 3 * 4096), "1", "no", "1"], row
    assert cells[8] == str(shmid) and re.fullmatch(rf"/api/v1/sysv/\d+/{shmid}", cells[9]), row
    text = settled((local, remote), "show", cells[9], "-b")
    assert f"KEY        {key_text}" in text and f"SHMID      {shmid}" in text and "NATTCH     1" in text
    assert str(attached.pid) in text.split("mappers:", 1)[1]

    mfd = settled((local, remote), "ls", "--all", "--kind", "memfd", "-q", prefix + "mfd", "-r", "-b", "-o",
                  "NAME,KIND,SIZE,ALLOC,HOLDERS,MAPPERS,ORPHAN,MOUNT,HREF")
    [row] = mfd.splitlines()[1:]
    major, minor = memfd.info["device"].split(":")
    href = f"/api/v1/unlinked/{major}-{minor}:{memfd.info['inode']}"
    # a memfd has no mount: an empty MOUNT cell
    assert row.split() == [prefix + "mfd", "memfd", str(3 * 4096), "4096", "1", "0", "no", href], row
    text = settled((local, remote), "show", href)
    holders = text.split("holders:\n", 1)[1].splitlines()
    assert holders[1].split() == [str(memfd.pid), "python3", str(memfd.info["fd"])], text

    unl = settled((local, remote), "ls", "--all", "--kind", "unlinked", "-q", prefix + "unl", "-o",
                  "NAME,KIND,MAPPERS,HOLDERS,ORPHAN,MOUNT", "-n")
    assert unl.split() == [prefix + "unl", "unlinked", "1", "0", "no", unlinked.info["device"]], unl
    major, minor = unlinked.info["device"].split(":")
    settled((local, remote), "show", f"/api/v1/unlinked/{major}-{minor}:{unlinked.info['inode']}")
    # every kind of this test in one listing, the same both ways
    settled((local, remote), "ls", "--all", "-q", prefix, "--sort", "NAME")


@pytest.fixture
def small_host(shm_admin_bin, tmp_path):
    """(local Cli, remote Cli, tmpfs, start_mapper): an 8 MiB tmpfs as a server's --shm-dir, with a
    root turning RemoveIPC off; every mapper child is killed and the tmpfs unmounted after."""
    root = tmp_path / "root"
    (root / "etc/systemd").mkdir(parents=True)
    (root / "etc/systemd/logind.conf").write_text("[Login]\nRemoveIPC=no\n")
    children = []
    with private_shm_dir(tmp_path, "8m") as (shm, mounted):
        if not mounted:
            pytest.skip("mounting a tmpfs needs root")
        state = tmp_path / "state"
        server = ShmAdminServer(shm_admin_bin, state, extra_args=["--shm-dir", str(shm), "--root-dir", str(root)],
                                log_dir=tmp_path).start()
        local = Cli(shm_admin_bin, state, shm_dir=shm)
        remote = Cli(shm_admin_bin, state, url=f"http://127.0.0.1:{server.port}")

        def start_mapper(path, size):
            child = subprocess.Popen([sys.executable, "-c", MAPPER, str(path), str(size)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
            children.append(child)
            assert child.stdout.readline().strip() == "ready"
            return child

        try:
            yield local, remote, shm, root, start_mapper
        finally:
            for child in children:
                child.kill()
                child.wait()
            stop_checked(server)


def expected_status(report) -> int:
    summary = report["summary"]
    return 2 if summary["critical"] else 1 if summary["warning"] else 0


def doctor(cli, root, *args):
    extra = ["--root-dir", str(root)] if not cli.url else []
    return cli.run("doctor", *args, *extra)


def ours(report, device):
    return [f for f in report["findings"] if f["evidence"].get("mount") == device
            or any(device in s or "/api/v1/sections/" in s for s in f["subjects"])]


@ROOT_NEEDED
def test_doctor_exit_statuses_local_and_remote(small_host):
    local, remote, shm, root, start_mapper = small_host
    device = device_of(shm)

    def reports():
        return [json.loads(doctor(cli, root, "-J").out) for cli in (local, remote)]

    # a healthy mount: nothing about it; the status is what the host's report says
    for cli in (local, remote):
        r = doctor(cli, root, "-J")
        report = json.loads(r.out)
        assert set(report) == {"checkedAt", "findings", "summary"}
        assert not ours(report, device), report
        assert r.code == expected_status(report), (r.code, report["summary"])
        if not report["findings"]:
            assert r.code == 0 and doctor(cli, root).text.splitlines() == ["SEVERITY ID TITLE FIX"]

    # 7 of 8 MiB used: shm-full, a warning (exit 1 at least)
    with open(shm / "filler", "wb") as f:
        f.write(b"\xff" * (7 * MiB))

    def full():
        found = [[f for f in ours(report, device) if f["id"] == "shm-full"] for report in reports()]
        return found if all(found) else None
    local_found, remote_found = wait_until(full, timeout=5, what="shm-full both ways")
    assert local_found[0]["severity"] == remote_found[0]["severity"] == "warning"
    for cli in (local, remote):
        r = doctor(cli, root)
        assert r.code >= 1, r.text
        assert any(line.split()[:2] == ["warning", "shm-full"] for line in r.text.splitlines()), r.text

    # a sparse object four times the free space, mapped: sigbus-exposure, critical (exit 2)
    sparse = shm / "sparse"
    with open(sparse, "wb") as f:
        f.truncate(4 * MiB)
    start_mapper(sparse, 4 * MiB)

    def exposed():
        found = [[f for f in ours(report, device) if f["id"] == "sigbus-exposure"] for report in reports()]
        return found if all(found) else None
    wait_until(exposed, timeout=5, what="sigbus-exposure both ways")
    # raw rows: the widths of an aligned table follow every finding of the host, and a server may
    # have one a one-shot local run cannot (its history)
    columns = ["-r", "-o", "SEVERITY,ID,TITLE,FIX,SUBJECTS,DETAIL"]

    def agreed():
        # the server answers from a pass at most a second old: until it has seen the mapper too
        answers = [doctor(cli, root, *columns) for cli in (local, remote)]
        mine = [[line for line in a.text.splitlines() if device in line or "/api/v1/sections/" in line]
                for a in answers]
        return answers if mine[0] == mine[1] else None
    answers = wait_until(agreed, timeout=5, interval=0.2, what="the same findings about this mount both ways")
    assert answers[0].code == answers[1].code == 2, [a.error for a in answers]
    assert any(line.startswith("critical sigbus-exposure ") and "/api/v1/sections/sparse" in line
               for line in answers[0].text.splitlines()), answers[0].text
    raw = doctor(local, root, "-r", "-n", "-o", "SEVERITY,ID,TITLE")
    assert any(line.startswith("critical sigbus-exposure Writers\\x20on\\x20") for line in raw.text.splitlines())
    golden("doctor-columns.txt", local.ok("doctor", "--list-columns"))
    golden("mounts-columns.txt", local.ok("mounts", "--list-columns"))
    # the bytes of GET /api/v1/doctor, remotely, as they are
    assert set(json.loads(remote.run("doctor", "-J").out)) == {"checkedAt", "findings", "summary"}
