"""README's shell session ("At the shell"), line by line: each command runs as written (through sh,
with `shm-admin` on PATH and the state directory `serve` uses by default) and prints what README
shows, save for times, ages and column widths that follow the name's length."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from support.server import ShmAdminServer, stop_checked

README = Path(__file__).resolve().parent.parent.parent / "README.md"


def session() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of README's block under '## At the shell'."""
    text = README.read_text()
    block = text.split("## At the shell", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


# Lines whose output is the whole machine's (its mounts, its health): README shows one machine's;
# the test checks the header, the shared-memory directory's row, and that the exit status follows
# the findings.
HOST_WIDE = ("shm-admin mounts", "shm-admin doctor")


def normalised(lines: list[str]) -> list[list[str]]:
    out = []
    for line in lines:
        line = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", line)
        tokens = line.split()
        if len(tokens) == 10 and tokens[0] != "NAME":  # an ls row: its last column is the age
            tokens[-1] = "<age>"
        if len(tokens) == 13 and tokens[0] != "NAME":  # an ls --all row: the age, then the mount
            tokens[9], tokens[10] = "<age>", "<mount>"
        if len(tokens) == 2 and tokens[0] == "MOUNT":  # the machine's /dev/shm device (MAJ:MIN)
            tokens[1] = "<mount>"
        out.append(tokens)
    return out


def check_host_wide(command: str, code: int, got: list[str], expected: list[str]) -> None:
    assert got and got[0].split() == expected[0].split(), f"{command}: header:\n" + "\n".join(got)
    if command.startswith("shm-admin mounts"):
        assert code == 0, command
        # the server's own directory first: /dev/shm, as `make run` serves it
        assert got[1].split()[1] == expected[1].split()[1] == "/dev/shm", "\n".join(got)
    else:
        severities = {line.split()[0] for line in got[1:]}
        assert code == (2 if "critical" in severities else 1 if "warning" in severities else 0), (code, got)


@pytest.fixture
def make_run(shm_admin_bin, tmp_path):
    """What `make run` gives a newcomer: a server on the default state directory (here under a
    private XDG_STATE_HOME), and `shm-admin` on PATH."""
    xdg = tmp_path / "xdg"
    server = ShmAdminServer(shm_admin_bin, xdg / "shm-admin", log_dir=tmp_path).start()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "shm-admin").symlink_to(shm_admin_bin)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHM_ADMIN_")}
    env.update(XDG_STATE_HOME=str(xdg), PATH=f"{bin_dir}:{env['PATH']}", NO_COLOR="1")
    yield server, env
    stop_checked(server)


def test_readme_session(make_run, prefix):
    server, env = make_run
    steps = session()
    assert [c.split()[0] for c in (s[0] for s in steps)][:2] == ["alias", "shm-admin"]
    assert any("dump -C" in c for c, _ in steps) and any(c.startswith("shm-admin lock") for c, _ in steps)
    name = prefix + "prices"
    for command, expected in steps:
        if command.startswith("alias "):
            continue  # PATH has shm-admin already
        command = command.replace("prices", name).replace("http://127.0.0.1:8080", f"http://127.0.0.1:{server.port}")
        r = subprocess.run(["sh", "-c", command], capture_output=True, env=env, timeout=60)
        got = r.stdout.decode().replace(name, "prices").splitlines()
        if command.startswith(HOST_WIDE):
            check_host_wide(command, r.returncode, got, expected)
            continue
        assert r.returncode == 0, f"{command}: exit {r.returncode}: {r.stderr.decode()}"
        assert normalised(got) == normalised(expected), f"{command}:\n" + "\n".join(got)
    assert not os.path.exists("/dev/shm/" + name)
