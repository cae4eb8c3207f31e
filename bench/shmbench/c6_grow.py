"""6. Grow a section by 1 GiB through the API against one fallocate(2) of 1 GiB (C, its own clock)."""

from __future__ import annotations

import os
from pathlib import Path

from .context import SHM, Bench
from .errors import BenchError
from .load import curl_time, elapsed_ms
from .report import say
from .stats import fmt_ratio, fmt_stats, human_bytes, median, to_bytes


def title(b: Bench) -> str:
    return f"Grow by {human_bytes(to_bytes(b.sizes.c6_size))}"


def run(b: Bench) -> None:
    size = to_bytes(b.sizes.c6_size)
    auth = ["-H", f"Authorization: Bearer {b.api.token}"]
    ms: dict[str, list[float]] = {"shm-admin": [], "falloc": []}
    for r in range(1, b.rounds + 1):
        name = f"{b.prefix}c6-api-r{r}"
        peer = str(Path(SHM) / f"{b.prefix}c6-peer-r{r}")
        b.api.post("/api/v1/sections", json={"name": name, "reserve": 2 * size, "commit": 4096})
        c = curl_time(f"{b.server.url}/api/v1/sections/{name}/grow", "-X", "POST", *auth,
                      "-H", "Content-Type: application/json", "--data-binary", f'{{"by":{size}}}')
        if c.code != 200:
            raise BenchError(f"6: POST …/grow answered {c.code}")
        commit = os.stat(Path(SHM) / name).st_size
        if commit != 4096 + size:
            b.report.error(f"6: after grow by {size} the object is {commit} bytes, expected {4096 + size}")
        ms["shm-admin"].append(c.us / 1000)
        b.api.delete(f"/api/v1/sections/{name}")
        b.shmtool("create", peer, "4096")
        try:
            ms["falloc"].append(elapsed_ms(b.c_peer("falloc", peer, "end", str(size))))
        finally:
            os.unlink(peer)
        say(f"6: round {r} done")
    b.report.part(6, "\n".join([
        f"Each round: a fresh section (reserve {human_bytes(2 * size)}, commit 4 KiB) grown by {human_bytes(size)};",
        f"shm-admin: `POST …/grow {{\"by\": {size}}}` (curl time_total); falloc: one `fallocate(fd, 0, size, {size})` on a fresh",
        "4 KiB object, its own clock (open to close). Both objects are deleted after each round, so memory stays free.",
        "",
        "| grower | ms median (min–max) |",
        "|---|---|",
        f"| shm-admin | {fmt_stats(ms['shm-admin'], 1)} |",
        f"| falloc | {fmt_stats(ms['falloc'], 1)} |",
    ]))
    ratio = median(ms["shm-admin"]) / median(ms["falloc"])
    b.report.target(6, f"grow by {human_bytes(size)} vs fallocate", "≤ 1.1×", f"{fmt_ratio(ratio)}×", ratio <= 1.1)
