"""The operators' kit against a real Prometheus (2.42, Debian's `prometheus` package):
the first burst after a start is seen by increase(), the alert rules pass promtool's
checks and unit tests, and every dashboard expression returns data."""
from __future__ import annotations

import json
import math
import re
import subprocess
import time

import pytest
import requests
import yaml

from tests.jobs_support import create_job, wait_job
from tests.prometheus_support import JOB, Prometheus
from tests.receivers import Receiver
from tests.servers import ROOT, Service
from tests.transports import HttpTransport

ALERTS = ROOT / "deploy/prometheus/alerts.yml"
ALERT_TESTS = ROOT / "deploy/prometheus/alerts_test.yml"
DASHBOARD = ROOT / "deploy/grafana/dashboard.json"
BURST = 200


@pytest.mark.parametrize("mode", ["embedded", "scale_out"])
def test_prometheus_sees_the_whole_first_burst_after_a_start(mode, redis_server):
    """A burst right after the first scrape of a fresh process: increase() counts it all
    (a series first exported with the burst already in it would show 0)."""
    env = {"REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2"} if mode == "scale_out" else {}
    with Service(env) as service, Prometheus(f"127.0.0.1:{service.port}") as prometheus:
        prometheus.wait_for_scrape_after(0)
        with requests.Session() as session:
            for n in range(BURST):
                reply = session.post(service.url("/invoke"), json={"number": n}, timeout=10)
                assert reply.status_code == 200
        at = prometheus.wait_for_scrape_after(time.time())
        result = prometheus.query('sum(increase(http_requests_total{endpoint="/invoke"}[1m]))', at=at)
        seen = float(result[0]["value"][1]) if result else 0.0
        assert abs(seen - BURST) <= BURST * 0.1, f"increase() saw {seen} of {BURST} requests"


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)


def test_alert_rules_pass_promtool_check_and_their_unit_tests():
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(ALERT_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_metrics_pass_promtool_check_metrics(http):
    http.post_json("/invoke", {"number": 7})
    body = http.get("/metrics").text
    checked = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


def test_each_alert_has_a_firing_and_a_silent_test_a_summary_and_a_runbook():
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    readme = (ROOT / "README.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", readme, re.M)}
    assert alert_rules()
    for rule in alert_rules():
        name = rule["alert"]
        outcomes = [bool(case["exp_alerts"]) for case in cases if case["alertname"] == name]
        assert True in outcomes, f"{name} has no test where it fires"
        assert False in outcomes, f"{name} has no test where it stays silent"
        assert rule["annotations"]["summary"], name
        runbook = rule["annotations"]["runbook_url"]
        assert runbook == f"README.md#{name.lower()}" and name.lower() in anchors, runbook


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "job"}
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def concrete(expr: str) -> str:
    """A panel's expression as Grafana would send it for this test's Prometheus."""
    return expr.replace("$__rate_interval", "1m").replace("$job", JOB)


def serve_some_of_everything(deployment) -> None:
    """Requests, an error, a completed job with a delivered webhook, and a failed job."""
    http = HttpTransport(deployment.base_url)
    for number in (7, 8, 9):
        assert http.post_json("/invoke", {"number": number}).status == 200
    assert http.post_json("/invoke", {"number": "x"}).status == 400
    with Receiver() as receiver:
        done = create_job(http, "PrimeChecker", {"number": 91}, webhook=receiver.url)
        wait_job(http, done, until={"completed"}, webhook_status="delivered")
    failed = create_job(http, "PositiveOnly", {"number": 0})
    wait_job(http, failed, until={"failed"})


def test_every_dashboard_expression_returns_data(deployment):
    """Both modes (the queue and worker panels read Redis in scale-out)."""
    target = deployment.base_url.removeprefix("http://")
    with Prometheus(target) as prometheus:
        prometheus.wait_for_scrape_after(0)
        serve_some_of_everything(deployment)
        at = prometheus.wait_for_scrape_after(time.time())
        for expr in dashboard_expressions():
            result = prometheus.query(concrete(expr), at=at)
            values = [float(series["value"][1]) for series in result]
            assert any(math.isfinite(v) for v in values), f"no data for {expr}: {result}"


def test_the_dashboard_is_a_grafana_10_import():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 38  # Grafana 10.0
    datasource = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
    assert datasource["type"] == "datasource" and datasource["query"] == "prometheus"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
