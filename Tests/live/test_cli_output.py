"""shm-admin's shell subcommands: golden tables, raw and JSON forms, escaping, colour, exit codes.

Every test here runs against one host of its own: a private tmpfs as the shared-memory directory
(nothing lands in /dev/shm, and names are fixed, so outputs are byte-for-byte stable), a state
directory, and a server serving both for the JSON comparisons. Times are the only moving part: the
AGE column and the CREATED/MODIFIED lines are masked before comparing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from support.cli import Cli, golden, in_pty
from support.client import sec
from support.server import ShmAdminServer, stop_checked
from support.shm import private_shm_dir

ODD = ["odd name", 'quo"te', "émoji-ü", "ctl\x01x"]


def make_object(directory, name, size, mode=0o600, data=b"", offset=0):
    fd = os.open(os.path.join(directory, name), os.O_CREAT | os.O_RDWR, mode)
    try:
        os.fchmod(fd, mode)
        os.ftruncate(fd, size)
        if data:
            os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def host(shm_admin_bin, tmp_path_factory):
    """(local Cli, remote Cli, server, shm dir) over a private directory holding a fixed set of objects."""
    base = tmp_path_factory.mktemp("cli-host")
    with private_shm_dir(base) as (shm, _):
        state = base / "state"
        local = Cli(shm_admin_bin, state, shm_dir=shm)
        local.ok("create", "orders", "--reserve", "1MiB", "--commit", "64KiB", "--label", "app=matcher")
        local.ok("write", "orders", input=b"hello, world\n")
        make_object(shm, "plain", 8192, 0o644, b"x" * 10, 4096)
        make_object(shm, "sem.lock", 32, 0o600)
        make_object(shm, "stray", 12288, 0o600, b"stray", 0)
        for name in ODD:
            make_object(shm, name, 4096, 0o600)
        server = ShmAdminServer(shm_admin_bin, state, extra_args=["--shm-dir", str(shm)], log_dir=base).start()
        remote = Cli(shm_admin_bin, state, url=f"http://127.0.0.1:{server.port}")
        try:
            yield local, remote, server, shm
        finally:
            stop_checked(server)


def mask_age(text: str) -> str:
    """The last column (AGE) of every row but the header."""
    lines = text.splitlines()
    return "\n".join(lines[:1] + [re.sub(r"\S+$", "<age>", line) for line in lines[1:]]) + "\n"


def mask_times(text: str) -> str:
    """Times, and the private tmpfs's device number (MAJ:MIN), which changes with every mount."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>", text)
    return re.sub(r"(?m)^MOUNT( +)\d+:\d+$", r"MOUNT\1<mount>", text)


def test_ls_default_table(host):
    local, *_ = host
    golden("ls.txt", mask_age(local.ok("ls")))


def test_ls_raw_noheadings_bytes_and_columns(host):
    local, *_ = host
    golden("ls-raw.txt", local.ok("ls", "-r", "-n", "-b", "-o", "NAME,KIND,SIZE,ALLOC,DATA,RESERVE,MANAGED,LABELS"))


def test_ls_added_columns_sort_and_filters(host):
    local, *_ = host
    golden("ls-sort.txt", local.ok("ls", "--sort", "SIZE", "-o", "NAME,SIZE,ALLOC,MODE", "--kind", "shm"))
    header = local.ok("ls", "-o", "+RESERVE,MODE", "-q", "nothing-matches").split()
    assert header == "NAME KIND OWNER PERMS SIZE ALLOC DATA MAPPERS ORPHAN AGE RESERVE MODE".split()
    golden("ls-managed.txt", local.ok("ls", "--managed", "-o", "NAME,NAMESPACE,STATE,LABELS"))
    golden("ls-q.txt", local.ok("ls", "-q", "o", "--no-managed", "-o", "NAME,MANAGED", "-n"))


def test_ls_uid_filter(host):
    local, remote, server, _ = host
    everything = local.ok("ls", "-o", "NAME", "-n")
    assert local.ok("ls", "--uid", "root", "-o", "NAME", "-n") == everything
    assert local.ok("ls", "--uid", "0", "-o", "NAME", "-n") == everything
    assert local.ok("ls", "--uid", "nobody", "-n") == ""
    # every section is root's: the filtered listing is the endpoint's answer, byte for byte
    answer = server.client().get("/api/v1/sections", query={"limit": 10000}).body
    assert local.run("ls", "--uid", "root", "-J").out == answer + b"\n"
    assert remote.run("ls", "--uid", "root", "-J").out == answer + b"\n"
    assert local.run("ls", "--uid", "nobody", "-J").out == b'{"sections":[],"total":0}\n'
    assert local.run("ls", "--uid", "no-such-user").code == 2


def test_list_columns(host):
    local, *_ = host
    golden("ls-columns.txt", local.ok("ls", "--list-columns"))
    golden("pages-columns.txt", local.ok("pages", "orders", "--list-columns"))


def test_ls_json_is_the_endpoint_answer_byte_for_byte(host):
    local, remote, server, _ = host
    answer = server.client().get("/api/v1/sections", query={"limit": 10000})
    assert answer.status == 200
    assert local.run("ls", "-J").out == answer.body + b"\n"
    assert remote.run("ls", "-J").out == answer.body + b"\n"
    filtered = server.client().get("/api/v1/sections", query={"limit": 10000, "managed": "true", "q": "ord"})
    assert local.run("ls", "-J", "--managed", "-q", "ord").out == filtered.body + b"\n"


def test_odd_names_are_escaped_never_raw(host):
    local, *_ = host
    out = local.run("ls", "-o", "NAME", "-n").out
    assert b"\x01" not in out and "é".encode() not in out and b'"' not in out
    for shown in [b"odd\\x20name", b"quo\\x22te", b"\\xc3\\xa9moji-\\xc3\\xbc", b"ctl\\x01x"]:
        assert shown + b"\n" in out
    # the escaped form is accepted back as a name
    assert "odd\\x20name" in local.ok("show", "odd\\x20name")


def test_show_text_and_json(host):
    local, remote, server, shm = host
    golden("show.txt", mask_times(local.ok("show", "orders")).replace(str(shm), "<shm>"))
    golden("show-bytes.txt", mask_times(local.ok("show", "plain", "-b")).replace(str(shm), "<shm>"))
    answer = server.client().get(sec("orders"))
    assert local.run("show", "orders", "-J").out == answer.body + b"\n"
    assert local.ok("show", "/api/v1/sections/orders") == local.ok("show", "orders")


def test_pages_table_bar_and_json(host):
    local, _, server, _ = host
    golden("pages.txt", local.ok("pages", "orders"))
    golden("pages-bytes.txt", local.ok("pages", "orders", "-b", "-r"))
    golden("pages-bar.txt", local.ok("pages", "orders", "--bar"))
    golden("pages-window.txt", local.ok("pages", "orders", "--from", "4096", "--to", "131072", "-n"))
    answer = server.client().get(sec("orders", "pages"))
    assert local.run("pages", "orders", "-J").out == answer.body + b"\n"


def test_dump_forms(host):
    local, _, server, _ = host
    golden("dump-C.txt", local.ok("dump", "orders", "--length", "64"))
    assert local.ok("dump", "orders", "--length", "64", "-C") == local.ok("dump", "orders", "--length", "64")
    for form, fmt in [("--hex", "hex"), ("--base64", "base64")]:
        answer = server.client().get(sec("orders", "data"), query={"format": fmt, "length": 32, "offset": 0})
        out = local.run("dump", "orders", "--length", "32", form).out
        assert out == answer.body + b"\n"
        golden(f"dump-{fmt}.txt", out.decode())


def test_mutations_print_the_section(host):
    local, *_ = host
    cols = ["-o", "NAME,SIZE,RESERVE,ALLOC,DATA,MANAGED,NAMESPACE,LABELS"]
    out = local.ok("create", "fresh", "--reserve", "256KiB", "--commit", "64KiB", "--global", "--label", "k=v", *cols)
    out += local.ok("create", "fresh", "--reserve", "256KiB", *cols)
    out += local.ok("grow", "fresh", "--to", "128KiB", *cols)
    out += local.ok("grow", "fresh", "--by", "64KiB", *cols)
    out += local.ok("write", "fresh", "--offset", "8192", input=b"abc" * 10)
    out += local.ok("write", "fresh", "--offset", "196604", "--partial", input=b"123456")
    out += local.ok("reset", "fresh", "--offset", "0", "--length", "65536", *cols)
    out += local.ok("adopt", "stray", "--reserve", "64KiB", "--label", "adopted=yes", *cols)
    out += local.ok("rm", "fresh")
    golden("mutations.txt", out)
    created = json.loads(local.run("create", "fresh2", "--reserve", "4KiB", "-J").out)
    assert created["created"] is True and created["name"] == "fresh2"
    assert local.run("write", "fresh2", "-J", input=b"z").out == b'{"offset":0,"written":1,"requested":1}\n'
    local.ok("rm", "fresh2")


EXIT_CASES = [
    # usage: exit 2 (argument-parser's rules, and our own validation)
    (["ls", "--bogus"], 2, None),
    (["ls", "-o", "NAME,NOPE"], 2, "unknown column 'NOPE'"),
    (["ls", "--sort", "NOPE"], 2, "unknown --sort column"),
    (["create", "x"], 2, "--reserve"),
    (["create", "x", "--reserve", "lots"], 2, "is not a size"),
    (["grow", "orders"], 2, "exactly one of --to and --by"),
    (["lock", "orders"], 2, "after --"),
    (["lock", "orders", "--timeout", "soon", "--", "true"], 2, "is not a duration"),
    (["dump", "orders", "-C", "--hex"], 2, "at most one"),
    # refused or failed: exit 1, one line `shm-admin: TITLE: DETAIL`
    (["show", "no-such"], 1, "shm-admin: Section not found: section 'no-such' does not exist"),
    (["grow", "orders", "--to", "4KiB"], 1, "shm-admin: A commit never shrinks: "),
    (["grow", "orders", "--to", "2MiB"], 1, "shm-admin: Past the reserve: "),
    (["create", "orders", "--reserve", "1MiB", "--exclusive"], 1, "shm-admin: Section exists: "),
    (["rm", "plain2"], 1, "shm-admin: Section not found: "),
    (["rm", "sem.lock"], 1, "shm-admin: Forbidden: "),
    (["reset", "orders", "--offset", "1", "--length", "4096"], 1, "shm-admin: Invalid request: "),
    (["dump", "orders", "--offset", "999999999", "--length", "1"], 1, "shm-admin: Range not satisfiable: "),
    (["show", "bad/name"], 1, "shm-admin: Invalid section name: "),
    # fine: exit 0
    (["ls", "-q", "nothing-matches-this"], 0, None),
]


@pytest.mark.parametrize("args,code,message", EXIT_CASES, ids=[" ".join(c[0]) for c in EXIT_CASES])
def test_exit_codes(host, args, code, message):
    local, remote, *_ = host
    for cli in (local, remote):
        r = cli.run(*args)
        assert r.code == code, f"{cli.url or 'local'} {args}: {r.code} {r.error}"
        if message:
            assert message in r.error
        if code == 1:
            assert r.error.count("\n") == 1 and r.error.startswith("shm-admin: "), r.error
            assert r.out == b""


def test_no_escape_codes_off_a_terminal_or_with_no_color(host):
    local, *_ = host
    piped = local.run("ls").out
    assert b"\x1b" not in piped
    on_terminal = in_pty(local.argv("ls"), local.environment())
    assert b"\x1b[1m" in on_terminal, "a terminal gets a bold header (else this test proves nothing)"
    no_color = in_pty(local.argv("ls"), local.environment({"NO_COLOR": "1"}))
    assert b"\x1b" not in no_color and b"NAME" in no_color
    assert b"\x1b" not in in_pty(local.argv("show", "orders"), local.environment({"NO_COLOR": "1"}))


def test_help_lists_the_subcommands_shipped(shm_admin_bin):
    out = subprocess.run([shm_admin_bin, "--help"], capture_output=True, text=True).stdout
    for name in ["serve", "ls", "show", "create", "grow", "reset", "write", "dump", "pages", "rm", "adopt", "lock",
                 "watch", "mounts", "doctor", "reclaim", "quarantine"]:
        assert re.search(rf"^\s+{name}\b", out, re.M), name


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the command as another user")
def test_local_mode_says_once_what_it_cannot_see_without_root(shm_admin_bin, tmp_path):
    import shutil
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is not installed")
    import tempfile
    home = tempfile.mkdtemp(prefix="shm-admin-cli-nobody-")  # pytest's own tmp is root's only
    os.chmod(home, 0o777)
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", shm_admin_bin, "ls", "-q",
            "nothing-matches", "--state-dir", home + "/state"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, env={"PATH": os.environ["PATH"], "HOME": home})
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("shm-admin: not root: "), r.stderr
    assert re.search(r"of \d+ other users' processes are not visible", lines[0])
    # as root: nothing said
    assert Cli(shm_admin_bin, tmp_path / "state-root").run("ls", "-q", "nothing-matches").err == b""


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_come_from_the_definitions(shm_admin_bin, shell):
    r = subprocess.run([shm_admin_bin, "--generate-completion-script", shell], capture_output=True, text=True)
    assert r.returncode == 0 and "dump" in r.stdout and "list-columns" in r.stdout
