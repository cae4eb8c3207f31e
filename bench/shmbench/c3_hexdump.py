"""3. format=hexdump of 4 MiB against `hexdump -C` on the same object, byte-identical output."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .context import SHM, Bench
from .errors import BenchError
from .load import curl_time, wall_us
from .report import say
from .stats import fmt_stats, human_bytes, median, to_bytes


def title(b: Bench) -> str:
    return f"format=hexdump of {human_bytes(to_bytes(b.sizes.c3_size))}"


def run(b: Bench) -> None:
    size = to_bytes(b.sizes.c3_size)
    name = f"{b.prefix}c3-hex"
    obj = str(Path(SHM) / name)
    b.api.post("/api/v1/sections", json={"name": name, "reserve": b.sizes.c3_size, "commit": b.sizes.c3_size})
    b.shmtool("fill", obj, "0", str(size), "hexmix", "3")
    path = f"/api/v1/sections/{name}/data?offset=0&length={size}&format=hexdump"
    ours = b.api.get(path).body
    hexdump_argv = ["hexdump", "-C", "-s", "0", "-n", str(size), obj]
    theirs = subprocess.run(hexdump_argv, capture_output=True, check=True).stdout
    same = "yes"
    if ours != theirs:
        same = "no"
        (b.tmp / "c3-api.txt").write_bytes(ours)
        (b.tmp / "c3-hexdump.txt").write_bytes(theirs)
        diff = subprocess.run(["diff", str(b.tmp / "c3-hexdump.txt"), str(b.tmp / "c3-api.txt")],
                              capture_output=True, text=True).stdout
        (b.out / "c3-diff.txt").write_text("".join(diff.splitlines(True)[:20]))
        b.report.error(f"3: format=hexdump differs from hexdump -C (first lines of the diff in {b.out / 'c3-diff.txt'})")
    ms = {"shm-admin": [], "hexdump": []}
    auth = ["-H", f"Authorization: Bearer {b.api.token}"]
    for r in range(1, b.rounds + 1):
        c = curl_time(b.server.url + path, *auth)
        if c.code != 200:
            raise BenchError(f"3: format=hexdump answered {c.code}")
        ms["shm-admin"].append(c.us / 1000)
        ms["hexdump"].append(wall_us(hexdump_argv) / 1000)
        say(f"3: round {r} done")
    b.api.delete(f"/api/v1/sections/{name}")
    speedup = median(ms["hexdump"]) / median(ms["shm-admin"])
    b.report.part(3, "\n".join([
        f"{human_bytes(size)} of mixed bytes (random blocks, zero blocks that make `*` lines, text).",
        f"shm-admin: `GET …/data?offset=0&length={size}&format=hexdump` (curl time_total);",
        f"hexdump: `hexdump -C -s 0 -n {size} OBJECT >/dev/null` (wall time).",
        f"Output byte-identical to `hexdump -C`: **{same}** ({len(theirs)} bytes of text).",
        "",
        "| producer | ms median (min–max) |",
        "|---|---|",
        f"| shm-admin | {fmt_stats(ms['shm-admin'], 2)} |",
        f"| hexdump -C | {fmt_stats(ms['hexdump'], 2)} |",
    ]))
    b.report.target(3, "format=hexdump speed vs hexdump -C", "≥ 20×", f"{speedup:.1f}× (identical: {same})",
                    speedup >= 20 and same == "yes")
