"""`shm-admin reclaim` and `quarantine` (docs CLI.md, version 1.1), local and remote over one host:
a private tmpfs as the shared-memory directory (so nothing of the machine's /dev/shm is ever a
candidate: every reclaim here is limited to `--mount host`), a server on it and the same state
directory, whose quarantine records both modes share."""

from __future__ import annotations

import json
import os
import re

import pytest

from support.cli import Cli, golden
from support.common import wait_until
from support.server import ShmAdminServer, stop_checked
from support.shm import private_shm_dir
from test_cli_output import make_object

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")


@pytest.fixture
def host(shm_admin_bin, tmp_path):
    """(local, remote, shm): objects a1, a2 (8 KiB of data each) and keep1, all orphans."""
    with private_shm_dir(tmp_path, "16m") as (shm, mounted):
        if not mounted:
            pytest.skip("mounting a tmpfs needs root")
        for name in ("a1", "a2", "keep1"):
            make_object(shm, name, 8192, 0o600, os.urandom(8192))
        state = tmp_path / "state"
        server = ShmAdminServer(shm_admin_bin, state, extra_args=["--shm-dir", str(shm)], log_dir=tmp_path).start()
        try:
            yield Cli(shm_admin_bin, state, shm_dir=shm), Cli(shm_admin_bin, state, url=f"http://127.0.0.1:{server.port}"), shm
        finally:
            stop_checked(server)


def mask(text: str) -> str:
    return "\n".join(" ".join("<idle>" if re.fullmatch(r"\d+[smhd]", t) else t for t in line.split())
                     for line in text.splitlines())


SCOPE = ["--mount", "host", "--older-than", "0s"]


def test_a_dry_run_lists_the_same_candidates_both_ways_and_changes_nothing(host):
    local, remote, shm = host
    answers = [cli.run("reclaim", *SCOPE) for cli in (local, remote)]
    assert [a.code for a in answers] == [0, 0], [a.error for a in answers]
    assert mask(answers[0].text) == mask(answers[1].text)
    lines = answers[0].text.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "MOUNT", "SIZE", "IDLE"]
    assert sorted(line.split()[0] for line in lines[1:4]) == ["a1", "a2", "keep1"]
    assert lines[-1] == "dry run: 3 objects, 24K would be reclaimed (--yes to reclaim them)"
    # --dry-run wins over --yes; -J is the endpoint's report
    for cli in (local, remote):
        report = json.loads(cli.ok("reclaim", *SCOPE, "--dry-run", "--yes", "-J"))
        assert report["dryRun"] is True and report["reclaimed"] == [] and report["reclaimedBytes"] == 0
        assert sorted(c["name"] for c in report["candidates"]) == ["a1", "a2", "keep1"]
        assert report["candidates"][0]["evidence"] == {"holders": 0, "mappers": 0, "lockHolders": 0, "nattch": None}
    assert sorted(os.listdir(shm)) == ["a1", "a2", "keep1"]
    # not idle long enough: nothing
    assert local.ok("reclaim", "--mount", "host", "--older-than", "1h", "-n") == ""


def test_reclaim_restore_and_purge_across_the_two_modes(host):
    local, remote, shm = host
    before = (shm / "a1").read_bytes()
    out = local.ok("reclaim", *SCOPE, "--exclude", "keep*", "--yes", "-o", "NAME,SIZE", "-b", "--sort", "NAME")
    assert out.splitlines() == ["NAME SIZE", "a1   8192", "a2   8192", "", "skipped:",
                                "/api/v1/sections/keep1  excluded", "reclaimed 2 objects, 16384"], out
    assert sorted(n for n in os.listdir(shm) if not n.startswith(".")) == ["keep1"]
    # the server reads the records the command line wrote: the same quarantine both ways
    listing = wait_until(lambda: (lambda a, b: a if a == b and a else None)(
        local.ok("quarantine", "ls", "-r", "-n", "-b", "-o", "ID,NAME,SIZE,KIND", "--sort", "NAME"),
        remote.ok("quarantine", "ls", "-r", "-n", "-b", "-o", "ID,NAME,SIZE,KIND", "--sort", "NAME")), timeout=5,
        what="the same quarantine both ways")
    rows = [line.split() for line in listing.splitlines()]
    assert [r[1:] for r in rows] == [["a1", "8192", "shm"], ["a2", "8192", "shm"]]
    ids = {r[1]: r[0] for r in rows}
    assert local.ok("quarantine", "-n", "-o", "NAME", "--sort", "NAME") == "a1\na2\n", "ls is the default"
    # restore remotely: back under its name, byte for byte, shown as show shows it
    text = remote.ok("quarantine", "restore", ids["a1"])
    assert text.splitlines()[0].split() == ["NAME", "a1"] and (shm / "a1").read_bytes() == before
    # purge locally; an unknown id is the same refusal both ways
    assert local.ok("quarantine", "purge", ids["a2"]) == f"purged {ids['a2']}\n"
    assert sorted(n for n in os.listdir(shm) if not n.startswith(".")) == ["a1", "keep1"]
    refusals = [cli.run("quarantine", "purge", ids["a2"]) for cli in (local, remote)]
    assert [r.code for r in refusals] == [1, 1] and refusals[0].error == refusals[1].error
    assert refusals[0].error.startswith("shm-admin: Not found: "), refusals[0].error
    assert json.loads(remote.ok("quarantine", "-J")) == {"items": []} == json.loads(local.ok("quarantine", "ls", "-J"))
    # --mode delete, remotely: gone at once, nothing in quarantine
    report = json.loads(remote.ok("reclaim", *SCOPE, "--exclude", "a*", "--mode", "delete", "--yes", "-J"))
    assert [c["name"] for c in report["reclaimed"]] == ["keep1"] and report["reclaimed"][0]["quarantine"] is None
    assert sorted(n for n in os.listdir(shm) if not n.startswith(".")) == ["a1"]
    assert local.ok("quarantine", "-n") == ""


def test_reclaim_usage_errors(host):
    local, remote, _ = host
    for cli in (local, remote):
        for args in (["--older-than", "soon"], ["--mode", "shred"], ["-o", "NAME,NOPE"]):
            r = cli.run("reclaim", "--mount", "host", *args)
            assert r.code == 2, (args, r.error)
        r = cli.run("quarantine", "restore")
        assert r.code == 2
    # a mount that is not 'host' or MAJ:MIN: the API's refusal, the same both ways
    r = [cli.run("reclaim", "--mount", "sda") for cli in (local, remote)]
    assert r[0].code == r[1].code == 1 and r[0].error == r[1].error, (r[0].error, r[1].error)


def test_reclaim_and_quarantine_columns(host):
    local, remote, _ = host
    golden("reclaim-columns.txt", local.ok("reclaim", "--list-columns"))
    golden("quarantine-columns.txt", remote.ok("quarantine", "ls", "--list-columns"))
    # the dry run's table, golden with its idle times masked
    # (tokens joined by one space: the device's MAJ:MIN, masked, sets the widths)
    golden("reclaim-dry-run.txt", re.sub(r"\b\d+:\d+\b", "<mount>", mask(local.ok("reclaim", *SCOPE, "--sort", "NAME")))
           + "\n")
