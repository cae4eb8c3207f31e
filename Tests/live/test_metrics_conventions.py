"""/metrics follows the exporter conventions a Prometheus user expects (issue 16): base units in the
names, `_total` counters, HELP and TYPE on every family, `shm_admin_build_info`, label names from a
small fixed set (the same in versions 1 and 1.1), per-section series bounded by the cap, and a
clean `promtool check metrics`. The server runs over a tmpfs of its own, so the counts are exact.
"""

import re
import shutil
import subprocess


LABELS = {"section", "managed", "kind", "method", "route", "code", "le", "mount", "path", "container", "id",
          "severity", "version", "revision"}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    helps, types, samples = {}, {}, []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            helps[name] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            types[name] = kind
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, f"unparsable sample line: {line!r}"
            samples.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return helps, types, samples


def family(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) == "histogram":
            return base
    return name


def test_metrics_follow_the_exporter_conventions(server_factory, private_tmpfs):
    srv = server_factory(args=["--shm-dir", str(private_tmpfs), "--metrics-section-cap", "3"])
    admin = srv.client()
    for n in range(5):
        admin.create(f"conv-{n}", "64KiB", "8KiB")
    admin.get("/healthz")
    r = admin.get("/metrics")
    assert r.status == 200, r.describe()
    helps, types, samples = parse(r.text)

    for name, labels, value in samples:
        base = family(name, types)
        assert base in helps and helps[base].strip(), f"{base} has no HELP"
        assert base in types, f"{base} has no TYPE"
        assert re.fullmatch(r"shm_admin_[a-z_]+", base), base
        assert set(labels) <= LABELS, f"{name}: label names {set(labels) - LABELS} are not in the fixed set"
    for name, kind in types.items():
        if kind == "counter":
            assert name.endswith("_total"), f"counter {name} must end in _total"
        else:
            assert not name.endswith("_total"), f"{kind} {name} must not end in _total"
        assert not re.search(r"_(kb|mb|kib|mib|ms|us|millis|percent)$", name), f"{name}: not a base unit"
        if "duration" in name or "latency" in name:
            assert name.endswith("_seconds"), name
        if kind == "gauge" and ("size" in name or "free" in name or "used" in name or "allocated" in name):
            assert name.endswith("_bytes"), f"{name} measures memory: its unit is bytes"

    build = [s for s in samples if s[0] == "shm_admin_build_info"]
    assert len(build) == 1 and build[0][2] == 1.0, "shm_admin_build_info{version,revision} 1"
    assert set(build[0][1]) == {"version", "revision"} and build[0][1]["version"]

    # Bounded cardinality: per-section families stop at the cap; the rest are counted.
    for name in {s[0] for s in samples if s[0].startswith("shm_admin_section_") and "section" in s[1]}:
        sections = {s[1]["section"] for s in samples if s[0] == name}
        assert len(sections) <= 3, f"{name} has {len(sections)} sections past the cap of 3"
    (dropped,) = [s[2] for s in samples if s[0] == "shm_admin_section_series_dropped"]
    assert dropped == 2.0

    # Version 1's labels keep their names and meaning.
    kinds = {s[1].get("kind") for s in samples if s[0] == "shm_admin_sections"}
    assert {"shm", "semaphore"} <= kinds
    managed = [s for s in samples if s[0] == "shm_admin_sections" and s[1] == {"managed": "true", "kind": "shm"}]
    assert managed and managed[0][2] == 5.0

    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make test` installs it (apt package prometheus)"
    p = subprocess.run([promtool, "check", "metrics"], input=r.body, capture_output=True, timeout=60)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()
