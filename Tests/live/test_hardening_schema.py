"""Hardening suite 1 — schema fuzzing: schemathesis against the served /openapi.json.

One real server (port 0, its own state directory, --shm-dir on a 64 MiB tmpfs mounted for the test
when permitted, --proc-dir on an empty directory so it sees no other mount, process or System V segment:
the fuzzer's DELETEs of other mounts' objects and of segments, with force=true, must not reach the real
host) is fuzzed with the admin token through every operation but /api/v1/events (a stream
that never ends): examples, coverage, fuzzing and stateful phases, derandomized so every run sends the
same requests, at least MIN_CASES generated cases. Checks: not_a_server_error, status_code_conformance,
content_type_conformance, response_schema_conformance, response_headers_conformance.

507 (not enough shared memory) is the documented answer of create and grow when the tmpfs is full,
which a fuzzer filling 64 MiB reaches; it is accepted for those two operations only (the status must
still be documented there and carry its problem body). Hooks (hardening_hooks.py) bound lock waits and
dump lengths; when no tmpfs can be mounted the server works in a plain directory and sizes are bounded too.

Afterwards every section the server manages is deleted, the tmpfs is unmounted, and /dev/shm is checked:
no entry under a name the fuzzer used may have appeared there (such an entry is removed and fails the test).

Env: HARDENING_FUZZ_EXAMPLES (per operation, default 40) and HARDENING_FUZZ_SEED (a seed instead of the
derandomized run) for longer or varied runs by hand.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.client import Client, sec
from support.shm import private_shm_dir, shm_names, unlink_quietly

HERE = Path(__file__).resolve().parent
MIN_CASES = 1000
EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("HARDENING_FUZZ_SEED")
RUN_TIMEOUT = 400  # seconds; a normal run takes about one minute
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance")
# Operations whose documented answer to a full tmpfs is 507.
MAY_RUN_OUT_OF_MEMORY = ("POST /api/v1/sections", "POST /api/v1/sections/{name}/grow")


def schemathesis_config() -> str:
    blocks = []
    for name in MAY_RUN_OUT_OF_MEMORY:
        blocks.append(f'[[operations]]\ninclude-name = "{name}"\n'
                      'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "507"]\n')
    return "\n".join(blocks)


def out_dir(tmp_path: Path) -> Path:
    base = os.environ.get("TEST_OUT")
    path = Path(base) / "schemathesis" if base else tmp_path / "schemathesis"
    path.mkdir(parents=True, exist_ok=True)
    return path


def used_names(log: Path) -> set[str]:
    names = set()
    try:
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                name = json.loads(line)
            except ValueError:
                continue
            if isinstance(name, str):
                names.add(name)
    except OSError:
        pass
    return names


def delete_managed(client: Client) -> list[str]:
    """Deletes every section the server manages (forced); returns what it could not delete."""
    left = []
    for _ in range(20):  # bounded: 1000 a page
        r = client.get("/api/v1/sections", query={"managed": "true", "limit": 1000}, timeout=30)
        assert r.status == 200, r.describe()
        sections = r.json["sections"]
        if not sections:
            return []
        left = []
        for s in sections:
            d = client.delete(sec(s["name"]), query={"force": "true"}, timeout=30)
            if d.status not in (204, 404):
                left.append(f"{s['name']!r}: {d.status}")
        if left:
            return left
    return left


def test_schemathesis_against_served_openapi(tmp_path, server_factory, prefix, shm_track):
    if subprocess.run([sys.executable, "-c", "import schemathesis"], capture_output=True).returncode != 0:
        pytest.fail("schemathesis is not installed: run `scripts/setup test` (make test does)", pytrace=False)
    before = shm_names()
    names_log = tmp_path / "names.log"
    with private_shm_dir(tmp_path) as (shm_dir, is_tmpfs):
        no_host = tmp_path / "proc"
        no_host.mkdir()
        srv = server_factory(args=["--shm-dir", str(shm_dir), "--proc-dir", str(no_host)])
        admin = srv.client()
        config = tmp_path / "schemathesis.toml"
        config.write_text(schemathesis_config())
        reports = out_dir(tmp_path)
        for old in glob.glob(str(reports / "*.json")):
            os.unlink(old)
        argv = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
                f"http://127.0.0.1:{srv.port}/openapi.json",
                "-H", f"Authorization: Bearer {srv.admin_token}",
                "--exclude-path", "/api/v1/events",
                "--checks", CHECKS,
                "--max-examples", str(EXAMPLES),
                "--request-timeout", "20", "--workers", "1",
                "--no-color", "--report", "json", "--report-dir", str(reports)]
        argv += ["--seed", SEED, "--generation-database", "none"] if SEED else ["--generation-deterministic"]
        env = dict(os.environ, SCHEMATHESIS_HOOKS=str(HERE / "hardening_hooks.py"),
                   HARDENING_NAMES_LOG=str(names_log), HARDENING_BOUND_SIZES="0" if is_tmpfs else "1",
                   HARDENING_NAME_PREFIX="" if is_tmpfs else prefix, PYTHONPATH=str(HERE))
        try:
            workdir = tmp_path / "run"  # schemathesis keeps .hypothesis/ and .schemathesis/ in its cwd
            workdir.mkdir(exist_ok=True)
            run = subprocess.run(argv, capture_output=True, timeout=RUN_TIMEOUT, env=env, cwd=str(workdir))
            output = (run.stdout + run.stderr).decode("utf-8", "replace")
            rc = run.returncode
        except subprocess.TimeoutExpired as e:
            output = ((e.stdout or b"") + (e.stderr or b"")).decode("utf-8", "replace")
            rc = None
        (reports / "output.txt").write_text(output)
        assert srv.alive(), f"the server died under fuzzing; {srv.diagnostics()}\n{output[-3000:]}"
        assert admin.get("/healthz").status == 200
        leftovers = delete_managed(admin)
        rc_stop, timed_out = srv.stop()
        assert not timed_out and rc_stop == 0, f"server stop: rc {rc_stop}, timed out {timed_out}"
        # Beside the shm directory only what the test itself made (no name reached out of it).
        beside = {p.name for p in tmp_path.iterdir()} - {"shm", "run", "proc", "names.log", "schemathesis.toml",
                                                          "schemathesis"}
        strays = sorted(n for n in beside if not (n.startswith("state-") or n.startswith("server-")
                                                  or n.startswith("admin-token") or n.startswith("read-token")))
        assert not strays, f"unexpected entries next to the shm directory: {strays!r}"

    # Nothing under a name the fuzzer used may have appeared in the real /dev/shm.
    names = used_names(names_log)
    escaped = sorted((shm_names() - before) & names)
    for name in escaped:
        shm_track(name)
        unlink_quietly(name)
    assert not escaped, f"objects appeared in /dev/shm under fuzzed names (removed): {escaped!r}"
    assert not leftovers, f"managed sections that could not be deleted: {leftovers!r}"

    assert rc is not None, f"schemathesis did not finish within {RUN_TIMEOUT}s:\n{output[-4000:]}"
    assert rc == 0, f"schemathesis found failures (full output: {reports / 'output.txt'}):\n{output[-12000:]}"
    report_files = sorted(glob.glob(str(reports / "*.json")))
    assert report_files, f"no JSON report in {reports}:\n{output[-3000:]}"
    report = json.loads(Path(report_files[-1]).read_text())
    cases = report["test_cases"]
    operations = report["operations"]
    print(f"schemathesis: {cases['generated']} cases over {operations['tested']} operations "
          f"({'tmpfs' if is_tmpfs else 'plain directory, sizes bounded'}); {len(names)} names used")
    assert operations["tested"] == operations["selected"] == operations["total"] - 1, operations
    assert cases["generated"] >= MIN_CASES, f"only {cases['generated']} cases generated: {cases}"
    assert cases["errored"] == 0 and cases["with_failures"] == 0, cases
