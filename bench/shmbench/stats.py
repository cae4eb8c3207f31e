"""Statistics and number formatting for the results: medians with (min–max) over rounds."""

from __future__ import annotations

import statistics


def summary(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max); NaNs when there are no values."""
    if not values:
        nan = float("nan")
        return nan, nan, nan
    return statistics.median(values), min(values), max(values)


def median(values: list[float]) -> float:
    return summary(values)[0]


def fmt_stats(values: list[float], decimals: int) -> str:
    """'median (min–max)' with the given decimals, as every table in RESULTS.md shows them."""
    m, lo, hi = summary(values)
    return f"{m:.{decimals}f} ({lo:.{decimals}f}–{hi:.{decimals}f})"


def fmt_ratio(x: float) -> str:
    """'1.23', or three significant digits below 0.1 (so that 0.004 does not read 0.00)."""
    return f"{x:.3g}" if x < 0.1 else f"{x:.2f}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def percentile(sorted_values: list[int], pct: int) -> int:
    """The value at pct % (nearest rank, rounded down) of an already sorted list."""
    return sorted_values[min(len(sorted_values) - 1, len(sorted_values) * pct // 100)]


UNITS = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}


def to_bytes(size: str | int) -> int:
    """'16MiB' / '4K' / '1G' / 4096 -> bytes."""
    if isinstance(size, int):
        return size
    s = size.strip()
    if s.endswith("iB"):
        s = s[:-2]
    unit = s[-1] if s and s[-1] in "KMGT" else ""
    number = s[: len(s) - len(unit)]
    if not number.isdigit():
        raise ValueError(f"bad size {size!r}")
    return int(number) << UNITS[unit]


def human_bytes(n: float) -> str:
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.0f} {units[i]}" if n == int(n) else f"{n:.1f} {units[i]}"
