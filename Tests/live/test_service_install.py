"""Installing shm-admin (issue 15): `make install`/`make uninstall`, `make deb`, and the README's
"Install as a service", each command of which is run here as the README gives it (without `sudo`:
the tests run as root), except what needs a booted systemd. There is none here, so instead of
`systemctl start` the installed units pass `systemd-analyze verify` and rate 2.5 or lower with
`systemd-analyze security --offline=true`, and the unit's ExecStart is run by hand under the unit's
user, capabilities (setpriv), environment (its EnvironmentFile) and a NOTIFY_SOCKET.

Everything is undone afterwards even on failure: the package purged, `make uninstall`, the user,
/etc/default/shm-admin, the drop-in and /var/lib/shm-admin removed.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from service_support import (REPO_ROOT, NotifySocket, ServiceProcess, as_user, capability_mask, http, is_root,
                             process_capabilities, run, unit_values, user_exists)

README = (REPO_ROOT / "README.md").read_text()
SECTION = README.split("## Install as a service", 1)[1].split("\n## ", 1)[0]
USER = "shm-admin"
STATE = Path("/var/lib/shm-admin")
DEFAULTS = Path("/etc/default/shm-admin")
DROP_IN = Path("/etc/systemd/system/shm-admin.service.d/admin.conf")
ENABLED = Path("/etc/systemd/system/multi-user.target.wants/shm-admin.service")
MAX_EXPOSURE = 2.5

root_only = pytest.mark.skipif(not is_root(), reason="installs into the system: needs root")


def readme_command(text: str) -> list[str]:
    """The README line that starts with `sudo TEXT` or `TEXT`, as an argv without sudo (checks the
    README still says it)."""
    for line in SECTION.splitlines():
        command = line.split("  #")[0].strip()
        if command in (text, "sudo " + text):
            return text.split()
    raise AssertionError(f"the README's 'Install as a service' no longer says `{text}`")


def make(*args: str, **env) -> subprocess.CompletedProcess:
    return run(["make", "--no-print-directory", *args], cwd=REPO_ROOT, timeout=600,
               env=os.environ | {k: str(v) for k, v in env.items()})


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()}


# --------------------------------------------------------------------------------------------
# the unit, checked and run by hand


def environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them (comments, double quotes)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[key] = value
    return values


def exec_start(unit_text: str, env: dict[str, str]) -> list[str]:
    """ExecStart= with `$VAR` split into words and `${VAR}` kept whole, as systemd expands them."""
    (line,) = [l for l in unit_text.splitlines() if l.startswith("ExecStart=")]
    argv = []
    for word in line[len("ExecStart="):].split():
        if word.startswith("${") and word.endswith("}"):
            argv.append(env.get(word[2:-1], ""))
        elif word.startswith("$"):
            argv += env.get(word[1:], "").split()
        else:
            argv.append(word)
    return argv


def verify_units(*units: Path):
    r = run(["systemd-analyze", "verify", *map(str, units)], check=False, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), f"systemd-analyze verify: {r.stdout}{r.stderr}"


def exposure(unit: str) -> float:
    r = run(["systemd-analyze", "security", "--offline=true", unit], check=False, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, f"no rating from systemd-analyze security: {r.stdout[-2000:]}{r.stderr}"
    return float(m.group(1))


def run_unit_by_hand(unit: Path, drop_ins: list[Path], tmp_path: Path) -> dict:
    """The unit's ExecStart as systemd would start it: its User, the union of its AmbientCapabilities
    (drop-ins add to them), its EnvironmentFile, the state directory it asks for (created as
    StateDirectory= does), a NOTIFY_SOCKET. Returns what it saw."""
    texts = [unit.read_text()] + [d.read_text() for d in drop_ins]
    service_user = unit_values(texts[0], "User")[0]
    caps = []
    for text in texts:
        caps += [c for c in unit_values(text, "AmbientCapabilities") if c not in caps]
    (env_file,) = [v.lstrip("-") for v in unit_values(texts[0], "EnvironmentFile")]
    env = environment_file(Path(env_file))
    (state_name,) = unit_values(texts[0], "StateDirectory")
    state = Path("/var/lib") / state_name
    account = pwd.getpwnam(service_user)
    if not state.exists():
        state.mkdir(mode=0o700)
    os.chown(state, account.pw_uid, account.pw_gid)
    os.chmod(state, 0o700)
    # pytest's tmp_path is root's 0700: the service user could not reach a socket there
    work = Path(tempfile.mkdtemp(prefix="shm-admin-unit-"))
    os.chmod(work, 0o755)
    notify = NotifySocket(str(work))
    srv = ServiceProcess(as_user(service_user, caps) + exec_start(texts[0], env),
                         env={"PATH": "/usr/bin:/bin", "HOME": str(state), "NOTIFY_SOCKET": notify.path} | env,
                         cwd="/", log_dir=str(work))
    try:
        srv.wait_banner()
        assert "READY=1" in notify.receive().split("\n")
        seen = {"capabilities": process_capabilities(srv.proc.pid), "wanted": capability_mask(caps)}
        status, body = http(srv.port, "GET", "/")
        assert status == 200 and body == (REPO_ROOT / "static/index.html").read_bytes()
        assert http(srv.port, "GET", "/openapi.json", token=srv.token) == (200, (REPO_ROOT / "openapi.json").read_bytes())
        assert http(srv.port, "GET", "/api/v1/sections?limit=1", token=srv.token)[0] == 200
        assert http(srv.port, "GET", "/healthz") == (200, b'{"status":"ok"}')
        token = state / "admin-token"
        info = token.stat()
        assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == account.pw_uid
        assert token.read_text().strip() == srv.token
        srv.proc.send_signal(15)
        assert notify.receive() == "STOPPING=1"
        assert srv.wait_exit() == 0, srv.stderr()
        return seen
    finally:
        srv.close()
        notify.close()
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def removed_afterwards(user_existed: bool):
    """Whatever the README's steps leave on the system goes at the end, pass or fail."""
    try:
        yield
    finally:
        if subprocess.run(["dpkg-query", "-W", "shm-admin"], capture_output=True).returncode == 0:
            subprocess.run(["dpkg", "--purge", "shm-admin"], capture_output=True, timeout=120)
        if Path("/usr/local/share/doc/shm-admin/installed-files").exists():
            subprocess.run(["make", "--no-print-directory", "uninstall"], cwd=REPO_ROOT, capture_output=True)
        shutil.rmtree(DROP_IN.parent, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            DEFAULTS.unlink()
        shutil.rmtree(STATE, ignore_errors=True)
        if not user_existed and user_exists(USER):
            subprocess.run(["userdel", USER], capture_output=True, timeout=30)
            subprocess.run(["groupdel", USER], capture_output=True, timeout=30)


@pytest.fixture
def clean_system():
    if subprocess.run(["dpkg-query", "-W", "shm-admin"], capture_output=True).returncode == 0 \
            or Path("/usr/local/share/doc/shm-admin").exists() or DEFAULTS.exists() or STATE.exists():
        pytest.skip("shm-admin is installed on this machine: not touching it")
    with removed_afterwards(user_exists(USER)):
        yield


# --------------------------------------------------------------------------------------------
# make install / uninstall into a DESTDIR


def test_make_install_into_destdir_and_uninstall_removes_exactly_that(shm_admin_bin, tmp_path):
    dest = tmp_path / "dest"
    # something of another package's in a directory install shares: left alone
    other = dest / "usr/local/share/man/man1/other.1"
    other.parent.mkdir(parents=True)
    other.write_text(".TH OTHER 1\n")
    before = files_under(dest)
    make("install", DESTDIR=dest, BIN=shm_admin_bin)
    prefix = dest / "usr/local"
    installed = files_under(dest) - before
    expected = {
        "bin/shm-admin", "share/man/man1/shm-admin.1", "share/man/man1/shm-admin.serve.1",
        "share/bash-completion/completions/shm-admin", "share/zsh/site-functions/_shm-admin",
        "share/fish/vendor_completions.d/shm-admin.fish", "lib/systemd/system/shm-admin.service",
        "lib/systemd/system/shm-admin.socket", "share/doc/shm-admin/README.md",
        "share/doc/shm-admin/examples/shm-admin.default", "share/doc/shm-admin/examples/admin.conf",
        "share/doc/shm-admin/installed-files",
    }
    assert {"usr/local/" + e for e in expected} <= installed, installed
    assert (prefix / "bin/shm-admin").read_bytes() == Path(shm_admin_bin).read_bytes()
    assert stat.S_IMODE((prefix / "bin/shm-admin").stat().st_mode) == 0o755
    unit = (prefix / "lib/systemd/system/shm-admin.service").read_text()
    assert "ExecStart=/usr/local/bin/shm-admin serve" in unit and "@" not in unit.split("ExecStart=")[1].split()[0]
    # man pages and completions come from the command definitions
    page = run(["man", "-l", str(prefix / "share/man/man1/shm-admin.serve.1")],
               env={"MANPAGER": "cat", "MAN_KEEP_FORMATTING": "", "PATH": os.environ["PATH"]}).stdout
    page = re.sub(r".\x08", "", page)  # overstrike bold and underline
    for option in ("--state-dir", "--static-dir", "--token-file", "--unix", "Serve the HTTP API and the dashboard"):
        assert option in page, option
    bash = (prefix / "share/bash-completion/completions/shm-admin").read_text()
    run(["bash", "-n", str(prefix / "share/bash-completion/completions/shm-admin")])
    assert "serve" in bash and "--static-dir" in bash and not bash.startswith("#!")
    assert (prefix / "share/zsh/site-functions/_shm-admin").read_text().startswith("#compdef shm-admin")
    fish = (prefix / "share/fish/vendor_completions.d/shm-admin.fish").read_text()
    assert "complete -c 'shm-admin'" in fish and "'static-dir'" in fish

    make("uninstall", DESTDIR=dest)
    assert files_under(dest) == before
    # the directories install made are gone; the one it shared stays
    assert not (prefix / "share/doc/shm-admin").exists() and not (prefix / "lib/systemd").exists()
    assert other.exists()
    r = run(["make", "--no-print-directory", "uninstall", f"DESTDIR={dest}"], cwd=REPO_ROOT, check=False)
    assert r.returncode != 0 and "nothing to uninstall" in r.stderr


# --------------------------------------------------------------------------------------------
# the README, from a package


def _lintian_errors(deb: Path, binary: str) -> list[str]:
    r = run(["lintian", "--tag-display-limit", "0", str(deb)], check=False, timeout=180)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    # A debug build finds the Swift runtime through a RUNPATH into the toolchain; the release build
    # `make deb` packages links it statically and has none (lintian: no error, checked by hand).
    dynamic = run(["readelf", "-d", binary]).stdout
    if "/opt/swift" in dynamic or "/usr/lib/swift" in dynamic:
        errors = [e for e in errors if "custom-library-search-path" not in e]
    return errors


@root_only
def test_readme_install_from_the_package(shm_admin_bin, tmp_path, clean_system):
    version = run([shm_admin_bin, "--version"]).stdout.strip()
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    deb_name = f"shm-admin_{version}_{arch}.deb"
    readme_command("make deb")
    out = tmp_path / "out"
    out.mkdir()
    make("deb", BIN=shm_admin_bin)
    deb = REPO_ROOT / deb_name
    assert deb.exists(), f"make deb did not write {deb_name}"
    shutil.move(deb, out / deb_name)
    deb = out / deb_name
    assert _lintian_errors(deb, shm_admin_bin) == []
    # libmicrohttpd is linked; libcurl is loaded by the remote mode alone, so it is recommended
    assert "libmicrohttpd12" in run(["dpkg-deb", "-f", str(deb), "Depends"]).stdout
    assert "libcurl" in run(["dpkg-deb", "-f", str(deb), "Recommends"]).stdout
    listing = run(["dpkg-deb", "--contents", str(deb)]).stdout
    for path in ("./usr/bin/shm-admin", "./lib/systemd/system/shm-admin.service", "./lib/systemd/system/shm-admin.socket",
                 "./etc/default/shm-admin", "./usr/share/man/man1/shm-admin.serve.1.gz",
                 "./usr/share/doc/shm-admin/copyright", "./usr/share/doc/shm-admin/examples/admin.conf"):
        assert path in listing, path

    run(readme_command(f"dpkg -i {deb_name}")[:-1] + [str(deb)], timeout=180)
    account = pwd.getpwnam(USER)
    assert account.pw_dir == str(STATE) and account.pw_shell in ("/usr/sbin/nologin", "/bin/false")
    assert account.pw_uid < 1000
    info = STATE.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == account.pw_uid
    assert ENABLED.is_symlink() and os.readlink(ENABLED).endswith("/shm-admin.service")
    unit = Path("/lib/systemd/system/shm-admin.service")
    socket_unit = Path("/lib/systemd/system/shm-admin.socket")
    verify_units(unit, socket_unit)
    assert exposure(str(unit)) <= MAX_EXPOSURE

    # options go in /etc/default/shm-admin: a free port here, whatever else listens on 8080
    DEFAULTS.write_text(DEFAULTS.read_text().replace("--port 8080", "--port 0"))
    seen = run_unit_by_hand(unit, [], tmp_path / "inspect")
    assert seen["capabilities"]["CapEff"] == seen["capabilities"]["CapBnd"] == seen["wanted"]
    assert seen["wanted"] == capability_mask(["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"])
    assert run(readme_command("cat /var/lib/shm-admin/admin-token")).stdout.strip()

    # the admin profile, as the README installs it
    step = readme_command("install -D -m 0644 /usr/share/doc/shm-admin/examples/admin.conf "
                          "/etc/systemd/system/shm-admin.service.d/admin.conf")
    run(step)
    assert DROP_IN.read_text() == (REPO_ROOT / "dist/systemd/admin.conf").read_text()
    verify_units(unit)
    merged = tmp_path / "merged" / "shm-admin.service"  # what systemd makes of unit + drop-in
    merged.parent.mkdir()
    merged.write_text(unit.read_text() + "\n" + DROP_IN.read_text())
    assert exposure(str(merged)) <= MAX_EXPOSURE
    seen = run_unit_by_hand(unit, [DROP_IN], tmp_path / "admin")
    assert seen["capabilities"]["CapEff"] == seen["wanted"] == capability_mask(
        ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_DAC_OVERRIDE", "CAP_FOWNER"])
    shutil.rmtree(DROP_IN.parent)

    # remove keeps the state, purge removes it
    token = (STATE / "admin-token").read_text()
    run(["dpkg", "--remove", "shm-admin"], timeout=120)
    assert not Path("/usr/bin/shm-admin").exists() and not unit.exists()
    assert (STATE / "admin-token").read_text() == token
    run(["dpkg", "--purge", "shm-admin"], timeout=120)
    assert not STATE.exists() and not DEFAULTS.exists() and not ENABLED.exists()


# --------------------------------------------------------------------------------------------
# the README, without a package


@root_only
def test_readme_install_without_a_package(shm_admin_bin, tmp_path, clean_system):
    prefix = Path("/usr/local")
    before = files_under(prefix)
    assert readme_command("make install")
    make("install", BIN=shm_admin_bin)  # the binary under test instead of a second (release) build
    if not user_exists(USER):
        run(readme_command("useradd --system --user-group --home-dir /var/lib/shm-admin --shell /usr/sbin/nologin "
                           "shm-admin"))
    run(readme_command("cp /usr/local/share/doc/shm-admin/examples/shm-admin.default /etc/default/shm-admin"))
    unit = prefix / "lib/systemd/system/shm-admin.service"
    assert "ExecStart=/usr/local/bin/shm-admin serve" in unit.read_text()
    verify_units(unit, prefix / "lib/systemd/system/shm-admin.socket")
    assert exposure(str(unit)) <= MAX_EXPOSURE
    DEFAULTS.write_text(DEFAULTS.read_text().replace("--port 8080", "--port 0"))
    seen = run_unit_by_hand(unit, [], tmp_path / "by-hand")
    assert seen["capabilities"]["CapAmb"] == seen["wanted"]
    run(["make", "--no-print-directory", "uninstall"], cwd=REPO_ROOT)
    assert files_under(prefix) == before
