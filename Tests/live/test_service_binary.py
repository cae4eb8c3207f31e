"""The binary as a service needs it (issue 15): self-contained, socket-activated, speaking sd_notify,
and refusing loose token files.

- Copied alone to an empty directory and run from there, it serves the dashboard and openapi.json
  built into it, byte for byte the checkout's; `--static-dir` still serves another directory.
- Given a listening socket as fd 3 with LISTEN_FDS/LISTEN_PID (what systemd's socket activation
  does), it serves on that socket and binds nothing itself; a LISTEN_PID of another process is
  ignored; a non-loopback socket is refused without --allow-remote.
- With NOTIFY_SOCKET it sends READY=1 once it listens and STOPPING=1 when told to stop.
- A token file that group or others may access, or that belongs to another user, stops the start
  with a message naming the file and the fix, as ssh refuses a loose key.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat

import pytest

from service_support import REPO_ROOT, NotifySocket, ServiceProcess, http, is_root


def _env(home: str) -> dict:
    return {"PATH": "/usr/bin:/bin", "HOME": home}


def test_binary_alone_serves_the_dashboard_and_openapi(shm_admin_bin, tmp_path):
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    binary = alone / "shm-admin"
    shutil.copy2(shm_admin_bin, binary)
    assert sorted(os.listdir(alone)) == ["shm-admin"]
    srv = ServiceProcess([str(binary), "serve", "--port", "0", "--state-dir", str(alone / "state")],
                         env=_env(str(alone)), cwd=str(alone), log_dir=str(tmp_path)).wait_banner()
    try:
        status, body = http(srv.port, "GET", "/")
        assert status == 200 and body == (REPO_ROOT / "static/index.html").read_bytes()
        for name in sorted(os.listdir(REPO_ROOT / "static")):
            status, body = http(srv.port, "GET", "/static/" + name)
            assert status == 200, name
            assert body == (REPO_ROOT / "static" / name).read_bytes(), name
        status, body = http(srv.port, "GET", "/openapi.json", token=srv.token)
        assert status == 200 and body == (REPO_ROOT / "openapi.json").read_bytes()
        json.loads(body)
        assert http(srv.port, "GET", "/static/no-such.js")[0] == 404
    finally:
        assert srv.stop() == 0, srv.stderr()
        srv.close()

    # --static-dir still overrides the built-in dashboard
    mine = tmp_path / "my-static"
    mine.mkdir()
    (mine / "index.html").write_text("<!doctype html><title>mine</title>")
    srv = ServiceProcess([str(binary), "serve", "--port", "0", "--state-dir", str(alone / "state"),
                          "--static-dir", str(mine)], env=_env(str(alone)), cwd=str(alone),
                         log_dir=str(tmp_path)).wait_banner()
    try:
        assert http(srv.port, "GET", "/") == (200, b"<!doctype html><title>mine</title>")
        assert http(srv.port, "GET", "/static/app.js")[0] == 404
    finally:
        assert srv.stop() == 0, srv.stderr()
        srv.close()


def _listening_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(16)
    return sock


ACTIVATE = 'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@"'


def test_socket_activation_and_sd_notify(shm_admin_bin, tmp_path):
    sock = _listening_socket()
    port = sock.getsockname()[1]
    notify = NotifySocket(str(tmp_path))
    env = _env(str(tmp_path)) | {"NOTIFY_SOCKET": notify.path}
    # `--port 1` would need privileges: proof that nothing is bound besides the socket passed
    srv = ServiceProcess(["sh", "-c", ACTIVATE, "sh", shm_admin_bin, "serve", "--port", "1", "--state-dir",
                          str(tmp_path / "state")], env=env, pass_fd=sock.fileno(), log_dir=str(tmp_path))
    try:
        srv.wait_banner()
        assert (srv.host, srv.port) == ("127.0.0.1", port), srv.lines
        ready = notify.receive()
        assert "READY=1" in ready.split("\n"), ready
        sock.close()  # the server holds its own copy
        assert http(port, "GET", "/healthz") == (200, b'{"status":"ok"}')
        status, body = http(port, "GET", "/api/v1/sections?limit=1", token=srv.token)
        assert status == 200, body
        assert "socket systemd passed (fd 3)" in srv.stderr()
        srv.proc.send_signal(15)
        assert notify.receive() == "STOPPING=1"
        assert srv.wait_exit() == 0, srv.stderr()
        with pytest.raises(OSError):
            http(port, "GET", "/healthz", timeout=2)
    finally:
        srv.close()
        notify.close()
        sock.close()


def test_socket_meant_for_another_process_is_ignored(shm_admin_bin, tmp_path):
    sock = _listening_socket()
    env = _env(str(tmp_path)) | {"LISTEN_PID": "1", "LISTEN_FDS": "1"}
    srv = ServiceProcess([shm_admin_bin, "serve", "--port", "0", "--state-dir", str(tmp_path / "state")],
                         env=env, pass_fd=sock.fileno(), log_dir=str(tmp_path))
    try:
        srv.wait_banner()
        assert srv.port != sock.getsockname()[1]
        assert http(srv.port, "GET", "/healthz")[0] == 200
    finally:
        assert srv.stop() == 0, srv.stderr()
        srv.close()
        sock.close()


def test_non_loopback_socket_from_systemd_needs_allow_remote(shm_admin_bin, tmp_path):
    sock = _listening_socket("0.0.0.0")
    srv = ServiceProcess(["sh", "-c", ACTIVATE, "sh", shm_admin_bin, "serve", "--state-dir",
                          str(tmp_path / "state")], env=_env(str(tmp_path)), pass_fd=sock.fileno(),
                         log_dir=str(tmp_path))
    try:
        assert srv.wait_exit() == 1
        assert "not a loopback address: pass --allow-remote" in srv.stderr(), srv.stderr()
    finally:
        srv.close()
        sock.close()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_loose_token_file_refused(shm_admin_bin, tmp_path, mode):
    token = tmp_path / "admin-token"
    token.write_text("t" * 32 + "\n")
    os.chmod(token, mode)
    for option in ("--token-file", "--read-token-file"):
        args = [shm_admin_bin, "serve", "--port", "0", "--state-dir", str(tmp_path / "state"), option, str(token)]
        srv = ServiceProcess(args, env=_env(str(tmp_path)), log_dir=str(tmp_path))
        try:
            assert srv.wait_exit() == 1
            err = srv.stderr()
            assert f"the token file {token} is accessible by group or others (mode {mode:o})" in err, err
            assert f"chmod 600 {token}" in err, err
        finally:
            srv.close()
    # the generated one under the state directory is checked too
    state = tmp_path / "state2"
    state.mkdir(mode=0o700)
    (state / "admin-token").write_text("t" * 32 + "\n")
    os.chmod(state / "admin-token", mode)
    srv = ServiceProcess([shm_admin_bin, "serve", "--port", "0", "--state-dir", str(state)],
                         env=_env(str(tmp_path)), log_dir=str(tmp_path))
    try:
        assert srv.wait_exit() == 1
        assert "accessible by group or others" in srv.stderr()
    finally:
        srv.close()


@pytest.mark.skipif(not is_root(), reason="needs root to give the token file to another user")
def test_token_file_of_another_user_refused(shm_admin_bin, tmp_path):
    token = tmp_path / "admin-token"
    token.write_text("t" * 32 + "\n")
    os.chmod(token, 0o600)
    os.chown(token, 65534, 65534)
    srv = ServiceProcess([shm_admin_bin, "serve", "--port", "0", "--state-dir", str(tmp_path / "state"),
                          "--token-file", str(token)], env=_env(str(tmp_path)), log_dir=str(tmp_path))
    try:
        assert srv.wait_exit() == 1
        assert "belongs to uid 65534" in srv.stderr(), srv.stderr()
    finally:
        srv.close()
    os.chmod(token, 0o400)
    os.chown(token, 0, 0)
    srv = ServiceProcess([shm_admin_bin, "serve", "--port", "0", "--state-dir", str(tmp_path / "state"),
                          "--token-file", str(token)], env=_env(str(tmp_path)), log_dir=str(tmp_path))
    try:
        srv.wait_banner()
        assert stat.S_IMODE(os.stat(token).st_mode) == 0o400
    finally:
        assert srv.stop() == 0
        srv.close()
