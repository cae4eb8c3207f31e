"""python3 peer processes that map, write, read and lock shared-memory objects on command.

  Peer(log_dir)   starts `python3 -c PEER_SOURCE /dev/shm`; .call(op, **kw) sends one JSON command
                  and returns the JSON reply; .ok(…) asserts it succeeded; create/attach/write/read/
                  try_lock/unlock wrap the common ones; .exit() ends the process.
The peer never unlinks at exit: the tests decide what happens to each object.
"""

from __future__ import annotations

import base64
import json as jsonlib
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .shm import SHM_DIR


PEER_SOURCE = r'''
import base64, fcntl, json, os, sys
from multiprocessing import shared_memory, resource_tracker
# never unlink at exit: the tests decide what happens to the object
resource_tracker.register = lambda *a, **k: None
resource_tracker.unregister = lambda *a, **k: None
SHM = sys.argv[1]
shms, lockfds = {}, {}
def reply(**kw):
    sys.stdout.write(json.dumps(kw) + "\n"); sys.stdout.flush()
def seg(name):
    if name not in shms:
        shms[name] = shared_memory.SharedMemory(name=name)
    return shms[name]
reply(ok=True, pid=os.getpid())
for line in sys.stdin:
    cmd = json.loads(line); op = cmd["op"]; name = cmd.get("name")
    try:
        if op == "create":
            shms[name] = shared_memory.SharedMemory(name=name, create=True, size=cmd["size"])
            reply(ok=True, size=shms[name].size)
        elif op == "attach":
            reply(ok=True, size=seg(name).size)
        elif op == "detach":
            s = shms.pop(name); s.close(); reply(ok=True)
        elif op == "write":
            data = base64.b64decode(cmd["data"]); off = cmd["offset"]
            fresh = name not in shms
            s = seg(name); s.buf[off:off + len(data)] = data
            if fresh:
                shms.pop(name).close()
            reply(ok=True, written=len(data))
        elif op == "read":
            off, n = cmd["offset"], cmd["length"]
            s = shared_memory.SharedMemory(name=name)
            data = bytes(s.buf[off:off + n]); s.close()
            reply(ok=True, data=base64.b64encode(data).decode())
        elif op == "lock":
            fd = os.open(os.path.join(SHM, name), os.O_RDWR)
            flags = fcntl.LOCK_EX if cmd.get("mode", "exclusive") == "exclusive" else fcntl.LOCK_SH
            if cmd.get("nb", True):
                flags |= fcntl.LOCK_NB
            try:
                fcntl.lockf(fd, flags)
            except OSError as e:
                os.close(fd); reply(ok=False, errno=e.errno); continue
            lockfds[name] = fd; reply(ok=True)
        elif op == "unlock":
            fd = lockfds.pop(name); fcntl.lockf(fd, fcntl.LOCK_UN); os.close(fd); reply(ok=True)
        elif op == "truncate":
            os.truncate(os.path.join(SHM, name), cmd["size"]); reply(ok=True)
        elif op == "exit":
            reply(ok=True); break
        else:
            reply(ok=False, error="unknown op " + op)
    except Exception as e:
        reply(ok=False, error=repr(e))
'''


class Peer:
    """A python3 process driven line by line over stdin/stdout (JSON commands)."""

    def __init__(self, log_dir: Path):
        self._err = tempfile.TemporaryFile(dir=str(log_dir))
        self.proc = subprocess.Popen([sys.executable, "-c", PEER_SOURCE, SHM_DIR], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err)
        self._buf = b""
        hello = self._reply(15.0)
        assert hello.get("ok") and hello.get("pid") == self.proc.pid, hello

    @property
    def pid(self):
        return self.proc.pid

    def _stderr(self):
        try:
            self._err.seek(0)
            return self._err.read()[-2000:].decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def _reply(self, timeout):
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"peer {self.proc.pid} did not answer within {timeout}s; "
                                     f"stderr: {self._stderr()!r}")
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(f"peer {self.proc.pid} exited; stderr: {self._stderr()!r}")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return jsonlib.loads(line)

    def call(self, op, timeout=10.0, **kw):
        msg = dict(op=op, **kw)
        self.proc.stdin.write((jsonlib.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()
        return self._reply(timeout)

    def ok(self, op, **kw):
        r = self.call(op, **kw)
        assert r.get("ok"), f"peer {op} {kw}: {r}"
        return r

    # helpers
    def create(self, name, size):
        return self.ok("create", name=name, size=size)

    def attach(self, name):
        return self.ok("attach", name=name)

    def write(self, name, offset, data: bytes):
        return self.ok("write", name=name, offset=offset, data=base64.b64encode(data).decode())

    def read(self, name, offset, length) -> bytes:
        return base64.b64decode(self.ok("read", name=name, offset=offset, length=length)["data"])

    def try_lock(self, name, mode="exclusive") -> dict:
        return self.call("lock", name=name, mode=mode, nb=True)

    def unlock(self, name):
        return self.ok("unlock", name=name)

    def exit(self, timeout=5.0):
        if self.proc.poll() is None:
            try:
                self.call("exit", timeout=timeout)
            except (AssertionError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self._err.close()
