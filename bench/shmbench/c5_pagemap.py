"""5. Page map of a 16 GiB reserve with 10,000 scattered data pages: the API against a
SEEK_DATA/SEEK_HOLE walker and an mmap+mincore walker (C, timing themselves)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .context import SHM, Bench, shm_available
from .errors import BenchError
from .load import curl_time, elapsed_ms
from .report import say
from .stats import fmt_ratio, fmt_stats, human_bytes, median, to_bytes


def title(b: Bench) -> str:
    return f"Page map of a {human_bytes(to_bytes(b.sizes.c5_reserve))} reserve with {b.sizes.c5_pages} scattered data pages"


def _field(line: str, key: str) -> str | None:
    m = re.search(rf"(?:^|\s){key}=(\d+)", line)
    return m.group(1) if m else None


def run(b: Bench) -> None:
    s = b.sizes
    name = f"{b.prefix}c5-pages"
    obj = str(Path(SHM) / name)
    want, margin = to_bytes(s.c5_reserve), s.mem_margin
    # Other programs may hold memory for a moment (a build, a test filling tmpfs): wait up to 30 s.
    avail = shm_available()
    for i in range(30):
        if avail >= want + margin:
            break
        if i == 0:
            say(f"5: {human_bytes(avail)} available, waiting up to 30 s for {human_bytes(want + margin)}")
        time.sleep(1)
        avail = shm_available()
    reserve, note = want, ""
    if avail < want + margin:
        reserve = (avail - margin) >> 30 << 30
        if reserve < 1 << 30:
            raise BenchError(f"5: only {human_bytes(avail)} of shared memory is free; need at least 1 GiB plus {human_bytes(margin)}")
        note = (f"Scaled down: {SHM} had only {human_bytes(avail)} available (memory or tmpfs), so the reserve is "
                f"{human_bytes(reserve)} instead of {s.c5_reserve}.")
        say(f"5: {note}")
    say(f"5: creating a {human_bytes(reserve)} section committed in full (fallocate), then resetting it")
    auth = ["-H", f"Authorization: Bearer {b.api.token}"]
    c = curl_time(f"{b.server.url}/api/v1/sections", "-X", "POST", *auth, "-H", "Content-Type: application/json",
                  "--data-binary", f'{{"name":"{name}","reserve":{reserve},"commit":{reserve}}}')
    if c.code != 201:
        raise BenchError(f"5: creating the {reserve}-byte section answered {c.code}")
    create_ms = c.us / 1000
    # Give the memory back at once: the pages stay committed (they read as zeros) but hold no memory.
    try:
        b.api.post(f"/api/v1/sections/{name}/reset", json={"offset": 0, "length": reserve})
        reset_note = "then reset in full (memory given back)"
    except BenchError:
        reset_note = "reset failed, so the memory stayed committed during the measurement"
        b.report.error("5: POST …/reset of the whole section failed")
    b.shmtool("scatter", obj, str(reserve), str(s.c5_pages), "5")

    pages_path = f"/api/v1/sections/{name}/pages?maxRuns=1000000"
    pages_body = b.api.get(pages_path).body
    d = json.loads(pages_body)
    runs = d["runs"]
    data = [r for r in runs if r["state"] == "data"]
    a_runs, a_druns, a_dbytes = len(runs), len(data), sum(r["length"] for r in data)
    walk = b.c_peer("walk_holes", obj, str(reserve))
    mc = b.c_peer("mincore_walk", obj, str(reserve))
    w_runs, w_druns, w_dbytes = (_field(walk, k) for k in ("runs", "data_runs", "data_bytes"))
    if d.get("truncated"):
        b.report.error("5: the page map came back truncated with maxRuns=1000000")
    if (str(a_runs), str(a_druns), str(a_dbytes), str(d.get("dataBytes"))) != (w_runs, w_druns, w_dbytes, w_dbytes):
        b.report.error(f"5: page map (runs {a_runs}, data runs {a_druns}, data bytes {a_dbytes}, dataBytes "
                       f"{d.get('dataBytes')}) disagrees with walk_holes ({walk})")
    if _field(mc, "data_bytes") != w_dbytes:
        b.report.error(f"5: mincore_walk disagrees with walk_holes: {mc} vs {walk}")

    ms: dict[str, list[float]] = {"shm-admin": [], "walk_holes": [], "mincore_walk": []}
    for r in range(1, b.rounds + 1):
        c = curl_time(b.server.url + pages_path, *auth)
        if c.code != 200:
            raise BenchError(f"5: GET …/pages answered {c.code}")
        ms["shm-admin"].append(c.us / 1000)
        ms["walk_holes"].append(elapsed_ms(b.c_peer("walk_holes", obj, str(reserve))))
        ms["mincore_walk"].append(elapsed_ms(b.c_peer("mincore_walk", obj, str(reserve))))
        say(f"5: round {r} done")
    b.api.delete(f"/api/v1/sections/{name}")
    lines = [
        f"A {human_bytes(reserve)} section created through the API with commit = reserve ({create_ms:.0f} ms), {reset_note};",
        f"{s.c5_pages} distinct pages at random offsets then written directly to the object: {a_runs} runs, {a_druns} data runs, "
        f"{human_bytes(a_dbytes)} of data.",
    ]
    if note:
        lines += ["", note]
    lines += [
        "",
        f"shm-admin: `GET …/pages?maxRuns=1000000` (curl time_total, {len(pages_body)} bytes of JSON);",
        "walk_holes (lseek SEEK_DATA/SEEK_HOLE) and mincore_walk (mmap of the reserve + mincore): their own clock, open to close.",
        "All three agreed on the runs before timing.",
        "",
        "| walker | ms median (min–max) |",
        "|---|---|",
    ]
    lines += [f"| {k} | {fmt_stats(v, 2)} |" for k, v in ms.items()]
    b.report.part(5, "\n".join(lines))
    ratio = median(ms["shm-admin"]) / median(ms["walk_holes"])
    b.report.target(5, "page map vs SEEK_DATA walker", "≤ 1.2×", f"{fmt_ratio(ratio)}×", ratio <= 1.2)
