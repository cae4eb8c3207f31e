#!/usr/bin/env python3
"""Writes the Grafana dashboards (host.json, fleet.json) from the panel lists below.

One source for both, so they keep the same metric names and selectors as alerts.yml and rules.yml;
Tests/live/test_monitoring.py checks that the committed JSON is what this prints and that every
expression parses and returns data on a real Prometheus. Run: python3 monitoring/dashboards/generate.py
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job="shm-admin",instance=~"$instance"'

HOST_PANELS = [
    # (title, unit, [(expr, legend)], kind)
    ("Mount use", "percentunit",
     [(f"mount:shm_admin_mount_used:ratio{{{SEL}}}", "{{mount}} {{path}} {{container}}")], "timeseries"),
    ("SIGBUS exposure and free bytes", "bytes",
     [(f"shm_admin_mount_exposure_bytes{{{SEL}}}", "exposure {{mount}}"),
      (f"shm_admin_mount_free_bytes{{{SEL}}}", "free {{mount}}")], "timeseries"),
    ("Objects by kind", "short", [(f"sum by (kind) (shm_admin_objects{{{SEL}}})", "{{kind}}")], "timeseries"),
    ("Memory by kind", "bytes", [(f"sum by (kind) (shm_admin_object_bytes{{{SEL}}})", "{{kind}}")], "timeseries"),
    ("Largest sections (allocated)", "bytes",
     [(f"topk(10, shm_admin_section_allocated_bytes{{{SEL}}})", "{{section}}")], "bargauge"),
    ("Orphan sections", "short", [(f"shm_admin_orphan_sections{{{SEL}}}", "orphans")], "timeseries"),
    ("Objects created minus deleted, last hour", "short",
     [(f"mount:shm_admin_objects:delta1h{{{SEL}}}", "{{mount}}")], "timeseries"),
    ("System V segments / shmmni", "percentunit",
     [(f"instance:shm_admin_sysv_segments:ratio{{{SEL}}}", "segments")], "stat"),
    ("HTTP requests", "reqps",
     [(f"sum by (route) (rate(shm_admin_http_requests_total{{{SEL}}}[5m]))", "{{route}}")], "timeseries"),
    ("HTTP p99 by route", "s",
     [(f"histogram_quantile(0.99, sum by (le, route) (rate(shm_admin_http_request_duration_seconds_bucket{{{SEL}}}[5m])))",
       "{{route}}")], "timeseries"),
]

FLEET_PANELS = [
    ("shm-admin targets up", "short",
     [('sum(up{job="shm-admin"})', "up"), ('count(up{job="shm-admin"})', "targets")], "stat"),
    ("Fullest mount per host", "percentunit",
     [("instance:shm_admin_mount_used:max_ratio", "{{instance}}")], "timeseries"),
    ("Exposed mounts per host", "short",
     [('sum by (instance) (shm_admin_mount_exposure_bytes{job="shm-admin"} > bool shm_admin_mount_free_bytes{job="shm-admin"})',
       "{{instance}}")], "timeseries"),
    ("Orphan sections per host", "short",
     [('sum by (instance) (shm_admin_orphan_sections{job="shm-admin"})', "{{instance}}")], "timeseries"),
    ("Objects created minus deleted per host, last hour", "short",
     [("sum by (instance) (mount:shm_admin_objects:delta1h)", "{{instance}}")], "timeseries"),
    ("Shared memory in use per host", "bytes",
     [('sum by (instance) (shm_admin_mount_used_bytes{job="shm-admin"})', "{{instance}}")], "timeseries"),
]


def panel(index, title, unit, targets, kind):
    return {
        "id": index + 1,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + n), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for n, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard(uid, title, panels, with_instance):
    variables = [{
        "name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source",
        "current": {}, "hide": 0,
    }]
    if with_instance:
        variables.append({
            "name": "instance", "type": "query", "label": "Host", "datasource": DATASOURCE,
            "query": {"query": 'label_values(up{job="shm-admin"}, instance)', "refId": "instance"},
            "definition": 'label_values(up{job="shm-admin"}, instance)',
            "refresh": 2, "includeAll": False, "multi": False, "current": {}, "hide": 0,
        })
    return {
        "uid": uid,
        "title": title,
        "tags": ["shm-admin", "shared-memory"],
        "timezone": "utc",
        "schemaVersion": 38,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "panels": [panel(i, *p) for i, p in enumerate(panels)],
    }


def documents():
    return {
        "host.json": dashboard("shm-admin-host", "shm-admin / host", HOST_PANELS, True),
        "fleet.json": dashboard("shm-admin-fleet", "shm-admin / fleet", FLEET_PANELS, False),
    }


def render(document):
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    for name, document in documents().items():
        (HERE / name).write_text(render(document))
    sys.exit(0)
