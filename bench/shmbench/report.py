"""What a run found: one markdown part per comparison, the target lines, the errors; and RESULTS.md."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .stats import mark


@dataclass
class Target:
    comparison: int
    what: str
    target: str
    result: str
    ok: bool


@dataclass
class Report:
    errors_file: Path
    parts: dict[int, list[str]] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def part(self, n: int, text: str) -> None:
        """Appends markdown to comparison n's section."""
        self.parts.setdefault(n, []).append(text.rstrip("\n"))

    def target(self, n: int, what: str, target: str, result: str, ok: bool) -> None:
        self.targets.append(Target(n, what, target, result, ok))

    def error(self, msg: str) -> None:
        """A failed step that does not stop its comparison (a smoke run then exits non-zero)."""
        say(f"ERROR: {msg}")
        self.errors.append(msg)
        with open(self.errors_file, "a") as f:
            f.write(msg + "\n")


@dataclass
class Header:
    mode_text: str
    machine: str
    server: str
    peers: str
    smoke: bool
    titles: dict[int, str]


def write_results(dest: Path, report: Report, header: Header, analysis: Path | None) -> None:
    lines = ["# shm-admin benchmarks", ""]
    if header.smoke:
        lines += ["**Smoke run** (BENCH_SMOKE=1): tiny sizes, one round. These numbers say the scripts work, nothing more.", ""]
    lines += [
        f"Made by `bench/shmbench` ({header.mode_text}). Each comparison ran in one go, alternating its variants",
        "A B C A B C …; figures are the median and (min–max) over the rounds. Loopback only. Every peer ran",
        "in each of its configurations listed in its section, and is compared at the fastest of them.",
        "",
        f"- Machine: {header.machine}",
        f"- Server: {header.server}",
        f"- Peers: {header.peers}",
        "",
        "## Targets (issues 5, 12, 14 and 17; information, the bench does not fail on them)",
        "",
        "| # | what | target | result | |",
        "|---|---|---|---|---|",
    ]
    for t in sorted(report.targets, key=lambda t: t.comparison):  # stable: order within a comparison kept
        lines.append(f"| {t.comparison} | {t.what} | {t.target} | {t.result} | {mark(t.ok)} |")
    for n in sorted(report.parts):
        lines += ["", f"## {n}. {header.titles[n]}", "", *report.parts[n]]
    lines += ["", "## Errors", ""]
    lines += [f"- {e}" for e in report.errors] or ["None."]
    text = "\n".join(lines) + "\n"
    if analysis is not None and analysis.is_file():
        text += "\n" + analysis.read_text()
    dest.write_text(text)


_log_file = None


def open_log(path: Path) -> None:
    global _log_file
    _log_file = open(path, "w", buffering=1)


def say(msg: str) -> None:
    """A progress line on stderr and in bench/out/run.log."""
    line = f"[bench {time.strftime('%H:%M:%S')}] {msg}"
    print(line, file=sys.stderr, flush=True)
    if _log_file is not None:
        _log_file.write(line + "\n")
