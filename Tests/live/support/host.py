"""Real peers for the whole-host tests (API-HOST.md): processes that keep shared memory the server
did not make, in places version 1 never looked.

  HostChild(kind, *args, wrap=())   a python3 child that sets up one kind of object, reports it on
                                    its first stdout line (JSON), then holds it until its stdin
                                    closes; `wrap` runs it under another command (unshare …)
  sysv_create(size), sysv_remove(shmid)
                                    System V segments of this process's IPC namespace (ctypes)
  host_children                     the pytest fixture that starts children and always kills them

Kinds: `mount NAME SIZE` (an object in whatever /dev/shm the child sees, mapped and written, plus a
sparse `NAME-sparse` of SIZE bytes), `sysv SHMID` (attach and touch a segment), `sysv-own KEY SIZE [detach]`
(make a segment in the child's IPC namespace and attach it, or leave it detached: under
`unshare --ipc` it goes with the namespace when the child exits), `memfd NAME`
(memfd_create, written, fd kept), `unlinked NAME` (a /dev/shm object mapped, then unlinked and its
fd closed: it survives only as a mapping), `unlinked-held NAME` (unlinked, fd kept, not mapped).
Every child is in its own process group and is killed with it; a child in a private mount
namespace takes its tmpfs with it when it exits, so nothing is left on the host.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time

CHILD_SOURCE = r'''
import ctypes, json, mmap, os, sys
kind, args = sys.argv[1], sys.argv[2:]
libc = ctypes.CDLL(None, use_errno=True)
keep = []
info = {"pid": os.getpid()}
def dev(st):
    return f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
if kind == "mount":
    name, size = args[0], int(args[1])
    fd = os.open("/dev/shm/" + name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.ftruncate(fd, 65536)
    m = mmap.mmap(fd, 65536)
    m[:] = b"inside-namespace" + bytes(65536 - 16)
    keep += [fd, m]
    sparse = os.open("/dev/shm/" + name + "-sparse", os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
    os.ftruncate(sparse, size)
    os.close(sparse)
    st = os.fstat(fd)
    info.update(device=dev(os.stat("/dev/shm")), inode=st.st_ino,
                mnt=os.readlink("/proc/self/ns/mnt"))
elif kind == "sysv":
    shmid = int(args[0])
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    address = libc.shmat(shmid, None, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "shmat")
    ctypes.memset(address, 0x5A, 3 * 4096)
    info.update(address=address)
elif kind == "sysv-own":
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    shmid = libc.shmget(int(args[0]), ctypes.c_size_t(int(args[1])), 0o1000 | 0o600)
    if shmid < 0:
        raise OSError(ctypes.get_errno(), "shmget")
    address = libc.shmat(shmid, None, 0)
    ctypes.memset(address, 0x11, 4096)
    if args[2:] == ["detach"]:
        libc.shmdt(ctypes.c_void_p(address))
    info.update(shmid=shmid, address=address, ipc=int(os.readlink("/proc/self/ns/ipc")[5:-1]))
elif kind == "memfd":
    fd = os.memfd_create(args[0])
    os.ftruncate(fd, 3 * 4096)
    os.pwrite(fd, b"memfd-bytes", 0)
    keep.append(fd)
    st = os.fstat(fd)
    info.update(device=dev(st), inode=st.st_ino, fd=fd)
elif kind in ("unlinked", "unlinked-held"):
    path = "/dev/shm/" + args[0]
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.ftruncate(fd, 2 * 4096)
    os.pwrite(fd, b"unlinked-bytes", 0)
    st = os.fstat(fd)
    info.update(device=dev(st), inode=st.st_ino)
    if kind == "unlinked":
        # libc's mmap, not python's: mmap.mmap keeps a dup of the descriptor, and this object must
        # survive as a mapping only.
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_long]
        address = libc.mmap(None, 2 * 4096, 3, 1, fd, 0)  # PROT_READ | PROT_WRITE, MAP_SHARED
        ctypes.memmove(address, b"mapped", 6)
        os.unlink(path)
        os.close(fd)
    else:
        os.unlink(path)
        keep.append(fd)
        info.update(fd=fd)
else:
    raise SystemExit("unknown kind " + kind)
print(json.dumps(info), flush=True)
sys.stdin.read()
'''


class HostChild:
    """A child holding one object; `info` is what it reported (pid, device, inode …)."""

    def __init__(self, kind: str, *args, wrap=()):
        argv = list(wrap) + [sys.executable, "-c", CHILD_SOURCE, kind] + [str(a) for a in args]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        line = b""
        deadline = time.monotonic() + 15
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, min(left, 0.5)))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                line += chunk
            elif left <= 0:
                break
        if not line.endswith(b"\n"):
            self.kill()
            err = self.proc.stderr.read().decode("utf-8", "replace")[-2000:]
            raise AssertionError(f"host child {kind} {args} did not start: {err}")
        self.info = json.loads(line)

    @property
    def pid(self) -> int:
        return self.info["pid"]

    def kill(self):
        """Kills the child's whole process group and reaps it (idempotent)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


_libc = ctypes.CDLL(None, use_errno=True)
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0


def sysv_create(size: int, key: int = IPC_PRIVATE) -> int:
    shmid = _libc.shmget(key, ctypes.c_size_t(size), IPC_CREAT | 0o600)
    if shmid < 0:
        raise OSError(ctypes.get_errno(), "shmget")
    return shmid


def sysv_remove(shmid: int) -> None:
    _libc.shmctl(shmid, IPC_RMID, None)


def sysv_exists(shmid: int) -> bool:
    with open("/proc/sysvipc/shm") as f:
        return any(line.split()[1] == str(shmid) for line in f.readlines()[1:] if line.split())
