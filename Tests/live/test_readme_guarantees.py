"""The README's Guarantees section promises only what a test checks: every test it names exists
(in the file it names, when it names one), and every paragraph names at least one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def guarantees() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## Guarantees\n(.*?)(?=^## )", text, re.M | re.S)
    assert m, "README.md has no '## Guarantees' section"
    return m.group(1)


def defined_tests() -> dict[str, set[str]]:
    """test name -> files (relative to the repo) that define it."""
    out: dict[str, set[str]] = {}
    for path in list((ROOT / "Tests" / "live").glob("test_*.py")) + list((ROOT / "Tests" / "stress").glob("*.py")):
        for name in re.findall(r"^(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), re.M):
            out.setdefault(name, set()).add(path.name)
    return out


def test_every_named_test_exists_where_the_readme_says():
    text = guarantees()
    tests = defined_tests()
    missing, misplaced = [], []
    for file, name in re.findall(r"(?:`?(\w+\.py)::)?(test_\w+)(?![\w.*])", text):
        if name not in tests:
            missing.append(name)
        elif file and file not in tests[name]:
            misplaced.append(f"{file}::{name} (defined in {sorted(tests[name])})")
    assert not missing, f"README promises tests that do not exist: {missing}"
    assert not misplaced, f"README names the wrong file: {misplaced}"


def test_every_paragraph_is_backed_by_a_test():
    blocks = [b.strip() for b in re.split(r"\n\s*\n", guarantees()) if b.strip()]
    promises = [b for b in blocks if b.startswith("**") or b.startswith("- ")]
    assert len(promises) >= 10
    for block in promises:
        items = [i for i in re.split(r"\n(?=- )", block) if i.strip()]
        for item in items:
            if item.rstrip().endswith(":"):
                continue  # an introduction to the list below it
            assert re.search(r"test_\w+", item), f"a guarantee with no test: {item[:160]!r}"
