"""--proc-dir and --root-dir (API-HOST.md "Server options"): the server pointed at a prepared /proc
tree sees the containers it describes — each runtime's cgroup format, a memory limit from the
root's cgroup tree — as a host's /proc mounted elsewhere would show them. No root needed."""

from __future__ import annotations

import os

import pytest

from support.common import MiB

DOCKER = "3f2a" * 16
POD = "0b5d6f2a-1c3e-4f5a-9b7c-2d4e6f8a0b1c"

RUNTIMES = [
    ("docker", f"0::/system.slice/docker-{DOCKER}.scope\n", f"system.slice/docker-{DOCKER}.scope", DOCKER, None),
    ("podman", f"0::/machine.slice/libpod-{DOCKER}.scope/container\n",
     f"machine.slice/libpod-{DOCKER}.scope/container", DOCKER, None),
    ("kubepods", f"0::/kubepods.slice/kubepods-pod{POD.replace('-', '_')}.slice/cri-containerd-{DOCKER}.scope\n",
     f"kubepods.slice/kubepods-pod{POD.replace('-', '_')}.slice/cri-containerd-{DOCKER}.scope", DOCKER, POD),
    ("cri-o", f"0::/system.slice/crio-{DOCKER}.scope\n", f"system.slice/crio-{DOCKER}.scope", DOCKER, None),
]


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_host(base, cgroup, cgroup_path):
    """/proc with the server's own process (1) and one container process (200) whose /dev/shm is a
    directory of the tree, on the tree's own device."""
    proc, root = base / "proc", base / "root"
    base.mkdir(parents=True)
    st = os.stat(base)
    device = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    (proc).mkdir(parents=True)
    os.symlink("1", proc / "self")
    for pid, mnt, cg, shm in [(1, 1001, "0::/init.scope\n", None), (200, 2002, cgroup, device)]:
        p = proc / str(pid)
        (p / "ns").mkdir(parents=True)
        os.symlink(f"mnt:[{mnt}]", p / "ns" / "mnt")
        os.symlink("ipc:[4026531839]", p / "ns" / "ipc")
        info = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        if shm:
            info += f"30 22 {shm} / /dev/shm rw - tmpfs shm rw,size=65536k\n"
        write(p / "mountinfo", info)
        write(p / "cgroup", cg)
        write(p / "comm", "proc\n")
        write(p / "maps", "55d0c0a00000-55d0c0a21000 r-xp 00000000 08:01 1234   /usr/bin/proc\n")
        (p / "fd").mkdir()
    shm_dir = proc / "200" / "root" / "dev" / "shm"
    shm_dir.mkdir(parents=True)
    (shm_dir / "PostgreSQL.1804289383").write_bytes(b"x" * 8192)
    write(root / "sys/fs/cgroup" / cgroup_path / "memory.max", f"{256 * MiB}\n")
    return proc, root, device


@pytest.mark.parametrize("runtime, cgroup, cgroup_path, cid, pod", RUNTIMES, ids=[r[0] for r in RUNTIMES])
def test_each_runtimes_container_from_a_prepared_proc(server_factory, tmp_path, runtime, cgroup, cgroup_path, cid,
                                                      pod):
    proc, root, device = fake_host(tmp_path / "host", cgroup, cgroup_path)
    srv = server_factory(args=["--proc-dir", str(proc), "--root-dir", str(root)])
    c = srv.client()
    mounts = c.get("/api/v1/mounts").json["mounts"]
    [mount] = [m for m in mounts if m["id"] == device]
    assert mount["container"] == {"runtime": runtime, "id": cid, "pod": pod, "memoryMax": 256 * MiB}
    assert mount["pids"] == [200] and mount["objects"] == 1
    sections = c.get(f"/api/v1/mounts/{device}/sections").json
    assert [s["name"] for s in sections["sections"]] == ["PostgreSQL.1804289383"]
    assert sections["sections"][0]["container"] == {"runtime": runtime, "id": cid, "pod": pod}
    inv = c.get("/api/v1/inventory", query={"mount": device}).json
    assert inv["total"] == 1 and inv["byMount"][device] == {"count": 1, "bytes": 8192}
