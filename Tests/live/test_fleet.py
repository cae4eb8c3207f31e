"""A fleet on one machine (issue 16): two shm-admin servers standing for two hosts, each over a small
tmpfs of its own, host b serving TLS with a self-signed certificate; Debian's Prometheus scrapes both
with the read token (and b with `tls_config`, as monitoring/scrape-config.example.yml says) and evaluates the shipped
rules and alerts (intervals and `for` shortened for the test); a second Prometheus federates from
the first. Proven through Prometheus' HTTP query API, never through our own reading of the format.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml

from support.shm import private_shm_dir

REPO = Path(__file__).resolve().parents[2]
MON = REPO / "monitoring"
READ_TOKEN = "fleet-read-token-0123456789abcdef"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_certificate(directory: Path):
    """A certificate for 127.0.0.1 and its key, made by openssl; the certificate is its own CA."""
    cert, key = directory / "tls-cert.pem", directory / "tls-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    key.chmod(0o600)
    return cert, key


def fast_rules(tmp_path):
    """rules.yml and alerts.yml with 1 s evaluation and every `for` cut to 2 s."""
    paths = []
    for name in ("rules.yml", "alerts.yml"):
        document = yaml.safe_load((MON / name).read_text())
        for group in document["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = "2s"
        path = tmp_path / name
        path.write_text(yaml.safe_dump(document))
        paths.append(str(path))
    return paths


class Prometheus:
    def __init__(self, tmp_path, name, config):
        self.port = free_port()
        self.dir = tmp_path / name
        self.dir.mkdir()
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(self.dir / "log", "wb")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus"), f"--config.file={self.dir / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.dir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, expr):
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as r:
            answer = json.load(r)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def wait_for(self, expr, check, what, timeout=60):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.query(expr)
                if check(last):
                    return last
            except OSError as e:
                last = e
            time.sleep(0.5)
        log = (self.dir / "log").read_text(errors="replace")[-2000:]
        pytest.fail(f"{what}: {expr} gave {last!r} for {timeout} s\n{log}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


def instances(result):
    return sorted({series["metric"]["instance"] for series in result})


def dashboard_exprs():
    for name in ("host.json", "fleet.json"):
        for panel in json.loads((MON / "dashboards" / name).read_text())["panels"]:
            for target in panel["targets"]:
                yield f"{name}: {panel['title']}", target["expr"]


def test_two_hosts_scraped_federated_and_alerted(server_factory, tmp_path):
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is missing: `make test` installs it (apt package prometheus)")
    with ExitStack() as stack:
        cert, key = self_signed_certificate(tmp_path)
        servers = []
        for host, tls in (("a", []), ("b", ["--tls-cert", str(cert), "--tls-key", str(key)])):
            shm, mounted = stack.enter_context(private_shm_dir(tmp_path / host, "8m"))
            if not mounted:
                pytest.skip("mounting a tmpfs needs root")
            servers.append(server_factory(read_token=READ_TOKEN, args=["--shm-dir", str(shm), *tls]))
        a, b = servers
        assert b.dashboard_url.startswith("https://"), b.startup_lines
        targets = [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"]
        token = tmp_path / "read-token"
        token.write_text(READ_TOKEN + "\n")
        token.chmod(0o600)
        first = Prometheus(tmp_path, "prometheus", {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": fast_rules(tmp_path),
            "scrape_configs": [{
                "job_name": "shm-admin", "scrape_interval": "1s", "scrape_timeout": "1s",
                "authorization": {"type": "Bearer", "credentials_file": str(token)},
                "tls_config": {"ca_file": str(cert)},
                # Host b speaks only TLS: its target's scheme is https, the job's default http.
                "static_configs": [{"targets": [targets[0]]},
                                   {"targets": [targets[1]], "labels": {"__scheme__": "https"}}],
            }],
        })
        stack.callback(first.stop)
        second = Prometheus(tmp_path, "federation", {
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [{
                "job_name": "federate", "honor_labels": True, "metrics_path": "/federate",
                "params": {"match[]": ['{job="shm-admin"}', '{__name__=~".+:shm_admin_.+"}']},
                "static_configs": [{"targets": [f"127.0.0.1:{first.port}"]}],
            }],
        })
        stack.callback(second.stop)

        # Both hosts scraped with the read token, every sample accepted.
        first.wait_for('up{job="shm-admin"} == 1', lambda r: instances(r) == sorted(targets), "both targets up")
        first.wait_for('scrape_samples_post_metric_relabeling{job="shm-admin"} > 0',
                       lambda r: len(r) == 2, "samples from both")
        for series in first.query('scrape_samples_scraped{job="shm-admin"} - scrape_samples_post_metric_relabeling'):
            assert float(series["value"][1]) == 0, series
        # Federated upward, with the hosts' instance labels.
        second.wait_for("shm_admin_mount_size_bytes", lambda r: instances(r) == sorted(targets),
                        "both hosts' series through /federate")
        second.wait_for("mount:shm_admin_mount_used:ratio", lambda r: instances(r) == sorted(targets),
                        "recording rules through /federate")

        # Filling host a's tmpfs fires the full-mount alert for host a only.
        assert not first.query('ALERTS{alertname="ShmAdminMountFull"}')
        a.client().create("fill", 8 * 1024 * 1024 - 128 * 1024)
        fired = first.wait_for('ALERTS{alertname="ShmAdminMountFull",alertstate="firing"}',
                               lambda r: len(r) > 0, "ShmAdminMountFull firing", timeout=60)
        assert instances(fired) == [targets[0]], fired
        assert fired[0]["metric"]["severity"] == "critical"
        assert fired[0]["metric"]["mount"], "the alert names the mount"
        # The host's own mount has no container: Prometheus drops the empty label (promtool's unit tests
        # show a container mount's alert carrying it).
        assert fired[0]["metric"].get("container", "") == ""
        time.sleep(3)
        assert instances(first.query('ALERTS{alertname="ShmAdminMountFull"}')) == [targets[0]]

        # Every dashboard panel's expression returns data on this Prometheus.
        empty = []
        for title, expr in dashboard_exprs():
            result = first.query(expr.replace("$instance", targets[0].replace(".", "\\\\.")))
            if not result:
                empty.append(f"{title}: {expr}")
        assert not empty, "panels without data:\n" + "\n".join(empty)
        os.sync()
