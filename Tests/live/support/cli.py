"""Runs the shm-admin shell subcommands (docs CLI.md) the way a person at a shell would.

  Cli(binary, state_dir, shm_dir=None, url=None, env=None)
      .run(*args, input=b"", env=None, timeout=20) -> Result(code, out, err) with bytes out/err;
      local mode unless `url` (remote, with the state directory's admin token found by the CLI).
      .ok(*args) asserts exit 0 and returns stdout as text.
  in_pty(argv, env) -> bytes    runs argv with a pseudo-terminal as stdout (the colour tests)
  GOLDEN, golden(name, text)    compares text with Tests/live/golden/NAME; UPDATE_GOLDEN=1 rewrites it
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@dataclass
class Result:
    code: int
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        return self.out.decode()

    @property
    def error(self) -> str:
        return self.err.decode()


class Cli:
    def __init__(self, binary: str, state_dir, shm_dir=None, url=None, env=None):
        self.binary = binary
        self.state_dir = str(state_dir)
        self.shm_dir = str(shm_dir) if shm_dir else None
        self.url = url
        self.env = dict(env or {})

    def argv(self, *args) -> list[str]:
        command, rest = list(args[:1]), list(args[1:])
        options = ["--state-dir", self.state_dir]
        if self.url:
            options += ["--url", self.url]
        elif self.shm_dir:
            options += ["--shm-dir", self.shm_dir]
        # options go before a `--` (lock's command), after the subcommand
        if "--" in rest:
            cut = rest.index("--")
            return [self.binary] + command + rest[:cut] + options + rest[cut:]
        return [self.binary] + command + rest + options

    def environment(self, env=None) -> dict:
        merged = {k: v for k, v in os.environ.items() if not k.startswith("SHM_ADMIN_")}
        merged.update(self.env)
        merged.update(env or {})
        return merged

    def run(self, *args, input: bytes = b"", env=None, timeout=20.0) -> Result:
        p = subprocess.run(self.argv(*args), input=input, capture_output=True, env=self.environment(env),
                           timeout=timeout)
        return Result(p.returncode, p.stdout, p.stderr)

    def ok(self, *args, **kw) -> str:
        r = self.run(*args, **kw)
        assert r.code == 0, f"{args}: exit {r.code}: {r.error}"
        return r.text

    def popen(self, *args, env=None, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), env=self.environment(env), **kw)


def in_pty(argv: list[str], env: dict, timeout=10.0) -> bytes:
    """stdout (and stderr) of argv run on a pseudo-terminal."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    p.wait(timeout=5)
    return out


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
        return
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 to make it, then review it"
    expected = path.read_text()
    assert text == expected, f"{name} differs from its golden file:\n--- expected\n{expected}--- got\n{text}"
