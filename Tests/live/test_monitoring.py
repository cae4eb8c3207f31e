"""The monitoring mixin (monitoring/): rules, alerts, their unit tests, runbook, dashboards, the
DaemonSet and the example scrape config, checked with the real promtool (no server needed here;
the live scrape by Prometheus is test_fleet.py).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MON = REPO / "monitoring"
CONTRACTS = [REPO.parent / "shared/design/API.md", REPO.parent / "shared/design/API-HOST.md"]


def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: `make test` installs it (apt package prometheus)")
    return path


def run(*argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def rules(name):
    return [rule for group in yaml.safe_load((MON / name).read_text())["groups"] for rule in group["rules"]]


def alerts():
    return rules("alerts.yml")


def unit_tests():
    return yaml.safe_load((MON / "tests/alerts_test.yml").read_text())["tests"]


def dashboard_exprs():
    for name in ("host.json", "fleet.json"):
        for panel in json.loads((MON / "dashboards" / name).read_text())["panels"]:
            for target in panel["targets"]:
                yield name, panel["title"], target["expr"]


def contract_metrics():
    names = set()
    for path in CONTRACTS:
        if not path.is_file():
            pytest.skip(f"{path} is absent (shared/ is not next to the repo)")
        text = path.read_text()
        metrics = text[text.index("## Metrics"):]
        names |= set(re.findall(r"`(shm_admin_[a-z_]+)", metrics))
    return names


def test_rule_files_pass_promtool_check():
    p = run(promtool(), "check", "rules", str(MON / "rules.yml"), str(MON / "alerts.yml"))
    assert p.returncode == 0, p.stdout + p.stderr


def test_every_alert_fires_and_stays_silent_in_promtool_unit_tests():
    p = run(promtool(), "test", "rules", str(MON / "tests/alerts_test.yml"))
    assert p.returncode == 0, p.stdout + p.stderr
    fired, silent = set(), set()
    for test in unit_tests():
        for case in test.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - fired == set(), "alerts never shown firing"
    assert names - silent == set(), "alerts never shown staying silent"


def test_the_alerts_the_issue_asks_for_are_there():
    exprs = {rule["alert"]: rule["expr"] for rule in alerts()}
    wanted = {
        "shm_admin_mount_used": "a mount almost full and full",
        "shm_admin_mount_exposure_bytes": "SIGBUS exposure",
        "shm_admin_orphan": "orphans or orphan bytes rising",
        "shm_admin_objects:delta1h": "the leak rate",
        'severity="critical"': "critical doctor findings",
        "removeipc": "RemoveIPC risk",
        "sysv_segments": "System V limits",
        "up{": "shm-admin down",
        "absent(": "not scraped",
        "scrape_duration_seconds": "scrape too slow",
    }
    for needle, what in wanted.items():
        assert any(needle in expr for expr in exprs.values()), f"no alert for {what}"
    full = [rule for rule in alerts() if rule["alert"].startswith("ShmAdminMount")]
    assert len(full) == 2 and all("container" in rule["annotations"]["description"] for rule in full)


def test_every_alert_has_severity_for_and_a_runbook_section():
    runbook = (MON / "RUNBOOK.md").read_text()
    headings = set(re.findall(r"^## (\w+)$", runbook, re.M))
    for rule in alerts():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name
        assert rule["annotations"]["runbook"] == f"RUNBOOK.md#{name.lower()}", name
        assert name in headings, f"RUNBOOK.md has no section for {name}"
        body = runbook.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("**Means**", "**Confirm**", "**Do**"):
            assert part in body, f"{name}: runbook section lacks {part}"
    assert headings == {rule["alert"] for rule in alerts()}, "runbook sections without an alert"


def test_dashboards_are_what_the_generator_writes():
    sys.path.insert(0, str(MON / "dashboards"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    for name, document in generate.documents().items():
        assert (MON / "dashboards" / name).read_text() == generate.render(document), (
            f"{name} is stale: run python3 monitoring/dashboards/generate.py")


def test_every_dashboard_expression_parses(tmp_path):
    records = [{"record": f"dashboard:check_{n}", "expr": expr.replace("$instance", ".*")}
               for n, (_, _, expr) in enumerate(dashboard_exprs())]
    assert len(records) >= 15
    path = tmp_path / "exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": records}]}))
    p = run(promtool(), "check", "rules", str(path))
    assert p.returncode == 0, p.stdout + p.stderr


def test_every_metric_used_is_in_the_contract():
    known = contract_metrics()
    recorded = {rule["record"] for rule in rules("rules.yml")}
    texts = [(MON / "alerts.yml").read_text(), (MON / "rules.yml").read_text()]
    texts += [expr for _, _, expr in dashboard_exprs()]
    used = set()
    for text in texts:
        used |= {m for m in re.findall(r"(?<![:\w])(shm_admin_[a-z_]+)", text)}
    used = {re.sub(r"_(bucket|sum|count)$", "", m) if m.endswith(("_bucket", "_sum", "_count")) else m for m in used}
    assert used - known == set(), "metrics not in API.md / API-HOST.md"
    for record in recorded:
        assert re.fullmatch(r"[a-z]+:shm_admin_[a-z_0-9]+:[a-z_0-9]+", record), f"{record}: level:metric:operation"


def test_daemonset_sees_the_host_with_the_read_only_profile(shm_admin_bin):
    (daemonset,) = yaml.safe_load_all((MON / "kubernetes/daemonset.yaml").read_text())
    assert daemonset["kind"] == "DaemonSet"
    spec = daemonset["spec"]["template"]["spec"]
    assert spec["hostPID"] is True, "other processes' maps and fds need the host PID namespace"
    (container,) = spec["containers"]
    caps = container["securityContext"]["capabilities"]
    assert caps["drop"] == ["ALL"] and sorted(caps["add"]) == ["DAC_READ_SEARCH", "SYS_PTRACE"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "--shm-dir=/host/dev/shm" in container["args"] and "/host/dev/shm" in mounts
    help_text = run(shm_admin_bin, "serve", "--help").stdout
    for arg in container["args"][1:]:
        flag = arg.split("=", 1)[0]
        assert flag in help_text, f"the DaemonSet passes {flag}, which `serve` does not know"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_example_scrape_config_uses_the_read_token_and_passes_promtool(tmp_path):
    config = yaml.safe_load((MON / "scrape-config.example.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "shm-admin", "the alerts select job=\"shm-admin\""
    assert job["authorization"]["credentials_file"]
    token = tmp_path / "token"
    token.write_text("x" * 32)
    targets = tmp_path / "targets"
    targets.mkdir()
    job["authorization"]["credentials_file"] = str(token)
    job["file_sd_configs"][0]["files"] = [str(targets / "*.yml")]
    config["rule_files"] = [str(MON / "rules.yml"), str(MON / "alerts.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    p = run(promtool(), "check", "config", str(path))
    assert p.returncode == 0, p.stdout + p.stderr
