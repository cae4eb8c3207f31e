"""shm-admin under test: the live tests' server manager and HTTP client (Tests/live/support),
wrapped for the bench: failures become BenchError, every server started is stopped at the end."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .errors import BenchError

LIVE_TESTS = Path(__file__).resolve().parents[2] / "Tests" / "live"
if str(LIVE_TESTS) not in sys.path:
    sys.path.append(str(LIVE_TESTS))

from support.client import Client, Response  # noqa: E402
from support.server import ServerStartError, ShmAdminServer  # noqa: E402


class Server:
    """One shm-admin process with a fresh state dir, the bench's token file, port 0; its stderr
    (the access log) at `log`; confined to `cpus` from its start when given."""

    def __init__(self, binary: str, work_dir: Path, log_dir: Path, token_file: Path, label: str,
                 cpus: set[int] | None = None):
        self.label = label
        self.srv = ShmAdminServer(binary, work_dir / f"state-{label}", token_file=token_file,
                                  log_dir=log_dir / f"server-{label}", cpus=cpus)
        self.api: Api | None = None

    def start(self) -> "Server":
        try:
            self.srv.start()
        except ServerStartError as e:
            raise BenchError(str(e)) from None
        self.api = Api(self.srv.client())
        deadline = time.monotonic() + 10
        while self.api.client.get("/healthz").status != 200:
            if time.monotonic() > deadline:
                raise BenchError(f"GET {self.url}/healthz is not 200")
            time.sleep(0.1)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.srv.port}"

    @property
    def pid(self) -> int:
        return self.srv.pid

    @property
    def log(self) -> Path:
        """The server's stderr: its access log, one line per request."""
        return Path(self.srv._stderr_path)

    def alive(self) -> bool:
        return self.srv.alive()

    def stop(self) -> None:
        rc, timed_out = self.srv.stop()
        if timed_out:
            raise BenchError(f"shm-admin ({self.label}) did not stop on TERM in 10 s: killed")


class Api:
    """Requests that must succeed: a non-2xx answer is a BenchError quoting the problem."""

    def __init__(self, client: Client):
        self.client = client

    @property
    def token(self) -> str:
        return self.client.token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.client.token}"}

    def call(self, method: str, path: str, json=None, query=None, ok=range(200, 300)) -> Response:
        kw = {} if json is None else {"json": json}
        try:
            r = self.client.request(method, path, query=query, timeout=600, **kw)
        except OSError as e:
            raise BenchError(f"{method} {path}: {e}") from None
        if r.status not in ok:
            raise BenchError(f"{method} {path} answered {r.status}: {r.body[:400]!r}")
        return r

    def get(self, path: str, **kw) -> Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, json=None, **kw) -> Response:
        return self.call("POST", path, json=json, **kw)

    def delete(self, path: str, **kw) -> Response:
        return self.call("DELETE", path, **kw)

    def delete_prefixed(self, prefix: str) -> None:
        """Deletes every section whose name starts with `prefix` (404 is fine: a request still in
        flight when wrk stopped may have deleted it meanwhile)."""
        listing = self.get("/api/v1/sections", query={"q": prefix, "limit": 10000}).json
        for s in listing["sections"]:
            if s["name"].startswith(prefix):
                self.delete(f"/api/v1/sections/{s['name']}", ok=[*range(200, 300), 404])
