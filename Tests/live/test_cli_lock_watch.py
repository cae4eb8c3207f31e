"""`shm-admin lock` against Python's fcntl.lockf in both directions, its exit status and signals;
`shm-admin watch` seeing other processes' objects, stopping on SIGINT and on a broken pipe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from support.cli import Cli


@pytest.fixture(params=["local", "remote"])
def cli(request, server, shm_admin_bin):
    if request.param == "local":
        return Cli(shm_admin_bin, server.state_dir)
    return Cli(shm_admin_bin, server.state_dir, url=f"http://127.0.0.1:{server.port}")


def wait_for(path, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, f"exited early: {proc.returncode}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def holding_command(tmp_path, trap=""):
    """A command that says it runs (a file appears), then waits for a `done` file."""
    ready, done = tmp_path / "ready", tmp_path / "done"
    script = f'{trap} touch "{ready}"; while [ ! -e "{done}" ]; do sleep 0.02; done'
    return ["sh", "-c", script], ready, done


def test_python_holder_makes_lock_time_out_naming_it(cli, prefix, peers):
    name = prefix + "held"
    peer = peers()
    peer.create(name, 4096)
    assert peer.try_lock(name)["ok"]
    start = time.monotonic()
    r = cli.run("lock", name, "--timeout", "300ms", "--", "echo", "never")
    assert r.code == 1 and r.out == b"", r
    assert r.error.startswith("shm-admin: Lock not acquired: "), r.error
    assert f"held by pid {peer.pid} (exclusive)" in r.error, r.error
    assert time.monotonic() - start < 5
    # released: now it runs, and the command's output and status come through
    peer.unlock(name)
    r = cli.run("lock", name, "--timeout", "1s", "--", "sh", "-c", "echo inside; exit 7")
    assert (r.code, r.text) == (7, "inside\n")


def test_lock_is_seen_by_python_lockf_while_the_command_runs(cli, prefix, peers, tmp_path):
    name = prefix + "holds"
    peer = peers()
    peer.create(name, 4096)
    command, ready, done = holding_command(tmp_path)
    proc = cli.popen("lock", name, "--", *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(ready, proc)
        assert not peer.try_lock(name)["ok"], "lockf got the lock that shm-admin lock holds"
        assert not peer.try_lock(name, mode="shared")["ok"]
    finally:
        done.touch()
        assert proc.wait(10) == 0
    assert peer.try_lock(name)["ok"], "the lock was not released when the command ended"
    peer.unlock(name)


def test_shared_lock_shares_with_python_and_excludes_writers(cli, prefix, peers, tmp_path):
    name = prefix + "shared"
    peer, other = peers(), peers()
    peer.create(name, 4096)
    assert peer.try_lock(name, mode="shared")["ok"]
    command, ready, done = holding_command(tmp_path)
    proc = cli.popen("lock", name, "--shared", "--timeout", "2s", "--", *command)
    try:
        wait_for(ready, proc)
        assert not other.try_lock(name)["ok"], "an exclusive lockf got in beside two shared holders"
    finally:
        done.touch()
        assert proc.wait(10) == 0
    peer.unlock(name)
    assert cli.run("lock", name, "--timeout", "0", "--", "true").code == 0


def test_exit_status_as_flock_reports_it(cli, prefix, peers):
    name = prefix + "status"
    peers().create(name, 4096)
    assert cli.run("lock", name, "--", "sh", "-c", "exit 0").code == 0
    assert cli.run("lock", name, "--", "sh", "-c", "exit 42").code == 42
    assert cli.run("lock", name, "--", "sh", "-c", "kill -TERM $$").code == 128 + signal.SIGTERM
    r = cli.run("lock", name, "--", "no-such-command-here")
    assert r.code == 127 and "cannot run no-such-command-here" in r.error


def test_signals_are_passed_on_to_the_command(cli, prefix, peers, tmp_path):
    name = prefix + "signals"
    peers().create(name, 4096)
    command, ready, done = holding_command(tmp_path, trap='trap "echo got-term; exit 5" TERM;')
    proc = cli.popen("lock", name, "--", *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(ready, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        done.touch()
    assert proc.returncode == 5, (out, err)
    assert out == b"got-term\n"


def test_missing_section(cli):
    r = cli.run("lock", "no-such-section-for-lock", "--", "true")
    assert r.code == 1 and r.error.startswith("shm-admin: Section not found: ")


def read_lines(proc, count, timeout=10.0):
    lines = []
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    buffer = b""
    while len(lines) < count and time.monotonic() < deadline:
        chunk = proc.stdout.read()
        if chunk:
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            lines += [line.decode() for line in done]
        else:
            time.sleep(0.02)
    return lines


def test_watch_sees_an_object_made_by_another_process(cli, prefix, peers):
    name = prefix + "watched"
    proc = cli.popen("watch", "-J", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)  # the watch is set up (inotify, or the event stream)
        peers().create(name, 4096)
        events = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(e.get("section") == name for e in events):
            events += [json.loads(line) for line in read_lines(proc, 1, timeout=1)]
        mine = [e for e in events if e.get("section") == name]
        assert mine and mine[0]["type"] == "created" and mine[0]["source"] == "external", events
        assert set(mine[0]) >= {"id", "type", "section", "source", "time"}
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(5) == 0, proc.stderr.read()


def test_watch_names_filter_and_text_lines(cli, prefix, peers):
    name, other = prefix + "only", prefix + "other"
    proc = cli.popen("watch", name, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        peer = peers()
        peer.create(other, 4096)
        peer.create(name, 4096)
        lines = read_lines(proc, 1)
        assert lines and lines[0].split()[1:] == ["created", name, "external"], lines
        time.sleep(0.5)
        assert all(other not in line for line in lines + read_lines(proc, 5, timeout=0.5))
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(5) == 0


def test_watch_ends_when_its_reader_goes_away(cli, prefix, peers):
    argv = " ".join(f"'{a}'" for a in cli.argv("watch"))
    proc = subprocess.Popen(["sh", "-c", f"{argv} | head -3"], stdout=subprocess.PIPE, env=cli.environment())
    time.sleep(0.5)
    peer = peers()
    for n in range(3):
        peer.create(f"{prefix}pipe-{n}", 4096)
    out, _ = proc.communicate(timeout=15)  # ends: head took 3 lines, then watch saw the pipe close
    assert proc.returncode == 0 and len(out.splitlines()) == 3
