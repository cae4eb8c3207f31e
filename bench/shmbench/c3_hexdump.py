"""3. format=hexdump of 4 MiB against `hexdump -C` on the same object, byte-identical output: once on
mixed bytes (random blocks, zero blocks that make `*` lines, text) and once on random bytes, where no
line is squeezed and every one of them is formatted (issue 17)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .context import SHM, Bench
from .errors import BenchError
from .load import curl_time, wall_us
from .report import say
from .stats import fmt_stats, human_bytes, median, to_bytes

# (kind, shmtool pattern, target speed-up over hexdump -C, what the bytes are)
KINDS = [
    ("mixed", "hexmix", 20, "mixed bytes (random blocks, zero blocks that make `*` lines, text)"),
    ("random", "random", 40, "random bytes (no `*` line: every line formatted)"),
]


def title(b: Bench) -> str:
    return f"format=hexdump of {human_bytes(to_bytes(b.sizes.c3_size))}"


def _same_as_hexdump(b: Bench, kind: str, ours: bytes, theirs: bytes) -> str:
    if ours == theirs:
        return "yes"
    (b.tmp / f"c3-{kind}-api.txt").write_bytes(ours)
    (b.tmp / f"c3-{kind}-hexdump.txt").write_bytes(theirs)
    diff = subprocess.run(["diff", str(b.tmp / f"c3-{kind}-hexdump.txt"), str(b.tmp / f"c3-{kind}-api.txt")],
                          capture_output=True, text=True).stdout
    (b.out / "c3-diff.txt").write_text("".join(diff.splitlines(True)[:20]))
    b.report.error(f"3: format=hexdump of {kind} bytes differs from hexdump -C "
                   f"(first lines of the diff in {b.out / 'c3-diff.txt'})")
    return "no"


def run(b: Bench) -> None:
    size = to_bytes(b.sizes.c3_size)
    auth = ["-H", f"Authorization: Bearer {b.api.token}"]
    cases = []
    for kind, pattern, goal, what in KINDS:
        name = f"{b.prefix}c3-{kind}"
        obj = str(Path(SHM) / name)
        b.api.post("/api/v1/sections", json={"name": name, "reserve": b.sizes.c3_size, "commit": b.sizes.c3_size})
        b.shmtool("fill", obj, "0", str(size), pattern, "3")
        path = f"/api/v1/sections/{name}/data?offset=0&length={size}&format=hexdump"
        argv = ["hexdump", "-C", "-s", "0", "-n", str(size), obj]
        theirs = subprocess.run(argv, capture_output=True, check=True).stdout
        same = _same_as_hexdump(b, kind, b.api.get(path).body, theirs)
        cases.append({"kind": kind, "name": name, "path": path, "argv": argv, "goal": goal, "what": what,
                      "same": same, "text": len(theirs), "shm-admin": [], "hexdump": []})
    for r in range(1, b.rounds + 1):
        for case in cases:  # alternating: ours and hexdump's on each kind of bytes in every round
            c = curl_time(b.server.url + case["path"], *auth)
            if c.code != 200:
                raise BenchError(f"3: format=hexdump of {case['kind']} bytes answered {c.code}")
            case["shm-admin"].append(c.us / 1000)
            case["hexdump"].append(wall_us(case["argv"]) / 1000)
        say(f"3: round {r} done")
    lines = [f"shm-admin: `GET …/data?offset=0&length={size}&format=hexdump` (curl time_total);",
             f"hexdump: `hexdump -C -s 0 -n {size} OBJECT >/dev/null` (wall time). Alternating rounds.", "",
             "| bytes | producer | ms median (min–max) | text bytes | identical to hexdump -C |",
             "|---|---|---|---|---|"]
    for case in cases:
        b.api.delete(f"/api/v1/sections/{case['name']}")
        lines.append(f"| {case['kind']} | shm-admin | {fmt_stats(case['shm-admin'], 2)} | {case['text']} | "
                     f"**{case['same']}** |")
        lines.append(f"| {case['kind']} | hexdump -C | {fmt_stats(case['hexdump'], 2)} | | |")
    b.report.part(3, "\n".join([f"{human_bytes(size)} of {cases[0]['what']}; then of {cases[1]['what']}.", *lines]))
    for case in cases:
        speedup = median(case["hexdump"]) / median(case["shm-admin"])
        b.report.target(3, f"format=hexdump speed vs hexdump -C, {case['kind']} bytes", f"≥ {case['goal']}×",
                        f"{speedup:.1f}× (identical: {case['same']})", speedup >= case["goal"] and case["same"] == "yes")
