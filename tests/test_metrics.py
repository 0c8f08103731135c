"""GET /metrics: the nine documented families and the operating gauges, parsed with
prometheus_client's parser; every series known up front present at 0 from the start."""
from __future__ import annotations

import threading
import time

import pytest
import requests
from marshmallow import Schema, fields

from app.algorithms.base import Algorithm
from app.algorithms.registry import ALGORITHMS
from tests.conftest import TEST_ALGORITHMS
from tests.jobs_support import create_job, wait_job
from tests.metrics_support import parse, sample, scrape
from tests.servers import RedisServer, Service, wait_for
from tests.transports import ClientTransport, HttpTransport

DOCUMENTED = {
    "http_requests": ("counter", {"method", "endpoint", "status"}),
    "http_request_duration_seconds": ("histogram", {"method", "endpoint"}),
    "http_requests_in_progress": ("gauge", set()),
    "algorithm_executions": ("counter", {"algorithm", "status"}),
    "algorithm_execution_duration_seconds": ("histogram", {"algorithm"}),
    "jobs_created": ("counter", {"algorithm"}),
    "jobs_completed": ("counter", {"algorithm", "status"}),
    "job_execution_duration_seconds": ("histogram", {"algorithm"}),
    "webhook_deliveries": ("counter", {"status"}),
}
# Beyond the nine: what runs and waits now, and readiness (README, "Operating").
OPERATING = {
    "jobs_active": ("gauge", {"state"}),
    "jobs_queue_depth": ("gauge", set()),
    "jobs_queue_oldest_age_seconds": ("gauge", set()),
    "service_ready": ("gauge", {"check"}),
}
# Every (endpoint, method) the API serves, as README lists them.
ROUTES = {("/invoke", "POST"), ("/invoke/{algorithm}", "POST"), ("/algorithms", "GET"),
          ("/jobs", "POST"), ("/jobs/{job_id}", "GET"), ("/jobs/{job_id}", "DELETE"),
          ("/healthz", "GET"), ("/readyz", "GET"), ("/metrics", "GET"), ("/docs", "GET"),
          ("/redoc", "GET"), ("/openapi.json", "GET")}


def test_documented_families_types_and_labels(http):
    http.post_json("/invoke", {"number": 17})
    families = scrape(http)
    for name, (kind, labels) in {**DOCUMENTED, **OPERATING}.items():
        assert name in families, name
        assert families[name].type == kind, name
        for s in families[name].samples:
            assert set(s.labels) - {"le"} == labels, (name, s.labels)


def test_counts_requests_by_route_template_and_outcome(http):
    before = scrape(http)
    for number in (2, 3, "x"):
        http.post_json("/invoke", {"number": number})
    http.get("/jobs/abcdef123456")
    http.get("/jobs/abcdef654321")
    after = scrape(http)

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("http_requests_total", endpoint="/invoke", method="POST", status="success") == 2
    assert delta("http_requests_total", endpoint="/invoke", method="POST", status="error") == 1
    assert delta("algorithm_executions_total", algorithm="PrimeChecker", status="success") == 2
    assert delta("http_request_duration_seconds_count", endpoint="/invoke", method="POST") == 3
    assert delta("http_requests_total", endpoint="/jobs/{job_id}", method="GET", status="error") == 2
    endpoints = {s.labels["endpoint"] for s in after["http_requests"].samples}
    assert not any("abcdef" in e for e in endpoints), "raw paths must never become labels"


def test_counts_are_right_across_two_gunicorn_workers(redis_server):
    # Several worker processes are allowed only when jobs live in Redis.
    env = {"REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2"}
    with Service(env) as service:
        def access_lines() -> list[dict]:
            return [line for line in service.json_lines() if line.get("endpoint") == "/invoke"]

        # A new connection each time lets the kernel hand requests to either worker, but
        # it may pick the same one for a long run: send batches (at most 10) until both
        # have served, each batch's access lines waited for (they are written every 0.1 s).
        total = 0
        while total < 400 and len({line["pid"] for line in access_lines()}) < 2:
            for _ in range(40):
                response = requests.post(service.url("/invoke"), json={"number": total},
                                         headers={"Connection": "close"}, timeout=10)
                assert response.status_code == 200
                total += 1
            wait_for(lambda: len(access_lines()) == total, timeout=10,
                     message=f"{total} access lines")
        assert len({line["pid"] for line in access_lines()}) == 2, "both workers should serve"
        for _ in range(3):  # every scrape, whichever worker answers it, sees every worker's samples
            families = parse(requests.get(service.url("/metrics"), timeout=10).text)
            assert sample(families, "http_requests_total", endpoint="/invoke",
                          method="POST", status="success") == total
            assert sample(families, "algorithm_executions_total",
                          algorithm="PrimeChecker", status="success") == total
            assert sample(families, "algorithm_execution_duration_seconds_count",
                          algorithm="PrimeChecker") == total


def test_requests_no_view_saw_are_counted_once_in_the_same_families(http):
    """No route, wrong method: refused before any view, so app.web.instrumentation counts them."""
    before = scrape(http)
    assert http.get("/no/such/route").status == 404
    assert http.get("/invoke").status == 405
    assert http.post_json("/invoke", {"number": "x"}).status == 400  # a view ran: the exporter's
    after = scrape(http)

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("http_requests_total", endpoint="unmatched", method="GET", status="error") == 2
    assert delta("http_request_duration_seconds_count", endpoint="unmatched", method="GET") == 2
    assert delta("http_requests_total", endpoint="/invoke", method="POST", status="error") == 1
    assert delta("http_request_duration_seconds_count", endpoint="/invoke", method="POST") == 1


def test_a_request_refused_by_the_api_key_check_is_counted_under_its_route(make_app):
    app = make_app({"api_keys": frozenset({"a-key-0123456789"})})
    client = ClientTransport(app.test_client())
    assert client.post_json("/invoke", {"number": 7}).status == 401
    families = scrape(client)
    assert sample(families, "http_requests_total", endpoint="/invoke", method="POST",
                  status="error") == 1


def test_only_the_documented_and_operating_families(http):
    """The exporter's own `flask_*` families are off; nothing else is added."""
    http.post_json("/invoke", {"number": 17})
    assert set(scrape(http)) == set(DOCUMENTED) | set(OPERATING)


def test_the_text_format_stays_0_0_4_when_openmetrics_is_asked_for(http):
    reply = http.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert reply.header("Content-Type").startswith("text/plain; version=0.0.4")
    assert "# EOF" not in reply.text


def test_each_app_counts_in_its_own_registry(make_app):
    first, second = (ClientTransport(make_app().test_client()) for _ in range(2))
    for _ in range(3):
        first.post_json("/invoke", {"number": 5})
    assert sample(scrape(second), "http_requests_total", endpoint="/invoke", status="success") == 0
    assert sample(scrape(first), "http_requests_total", endpoint="/invoke", status="success") == 3


def expected_zero_series(algorithms: list[str]) -> dict[str, list[dict[str, str]]]:
    """Sample name -> the label sets a fresh process exports at 0."""
    http = [{"endpoint": e, "method": m, "status": s} for e, m in ROUTES for s in ("success", "error")]
    http += [{"endpoint": "unmatched", "method": m, "status": "error"} for m in ("GET", "POST", "DELETE")]
    return {
        "http_requests_total": http,
        "http_request_duration_seconds_count": [
            {"endpoint": e, "method": m} for e, m in ROUTES | {("unmatched", "GET")}],
        "algorithm_executions_total": [{"algorithm": a, "status": s}
                                       for a in algorithms for s in ("success", "error")],
        "algorithm_execution_duration_seconds_count": [{"algorithm": a} for a in algorithms],
        "jobs_created_total": [{"algorithm": a} for a in algorithms],
        "jobs_completed_total": [{"algorithm": a, "status": s} for a in algorithms
                                 for s in ("completed", "failed", "cancelled")],
        "job_execution_duration_seconds_count": [{"algorithm": a} for a in algorithms],
        "webhook_deliveries_total": [{"status": "success"}, {"status": "failed"}],
        "jobs_active": [{"state": "pending"}, {"state": "running"}],
        "jobs_queue_depth": [{}],
        "jobs_queue_oldest_age_seconds": [{}],
    }


def assert_every_known_series_at_zero(text: str, algorithms: list[str]) -> None:
    exported = {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in parse(text).values() for s in family.samples}
    # Waiting for the process to answer took /healthz requests, and this scrape is /metrics.
    busy = {"/healthz", "/metrics"}
    for name, label_sets in expected_zero_series(algorithms).items():
        for labels in label_sets:
            key = (name, tuple(sorted(labels.items())))
            assert key in exported, f"{name}{labels} is missing"
            if labels.get("endpoint") not in busy:
                assert exported[key] == 0, f"{name}{labels} = {exported[key]}"


def test_a_fresh_app_exports_every_known_series_at_zero(make_app):
    text = make_app().test_client().get("/metrics").text
    assert_every_known_series_at_zero(text, ["PrimeChecker"])


@pytest.mark.parametrize("mode", ["embedded", "scale_out"])
def test_a_fresh_service_exports_every_known_series_at_zero(mode, redis_server):
    """Under gunicorn (multiprocess files, several workers in scale-out), before any traffic."""
    env = {"EXTRA_ALGORITHMS": TEST_ALGORITHMS}
    if mode == "scale_out":
        env |= {"REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2"}
    algorithms = ["PrimeChecker", "Sleep", "Nap", "PositiveOnly"]
    with Service(env) as service:
        for _ in range(3):  # whichever worker answers
            text = requests.get(service.url("/metrics"), timeout=10).text
            assert_every_known_series_at_zero(text, algorithms)


@pytest.mark.parametrize("mode", ["embedded", "scale_out"])
def test_readiness_probes_and_scrapes_are_not_algorithm_executions(mode, redis_server):
    """/readyz and service_ready run each algorithm's example, uncounted."""
    env = {"REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2"} if mode == "scale_out" else {}
    with Service(env) as service:
        for _ in range(5):
            assert requests.get(service.url("/readyz"), timeout=10).status_code == 200
        families = parse(requests.get(service.url("/metrics"), timeout=10).text)
        assert sample(families, "service_ready", check="algorithm") == 1
        assert sample(families, "service_ready", check="jobs") == 1
        executions = [s.value for s in families["algorithm_executions"].samples]
        assert executions and not any(executions)


def test_readiness_gauge_follows_the_checks(make_app):
    app = make_app()
    http = ClientTransport(app.test_client())
    checks = app.extensions["functional_scaffold"].readiness_checks
    checks["jobs"] = lambda: False
    assert sample(scrape(http), "service_ready", check="jobs") == 0
    assert sample(scrape(http), "service_ready", check="algorithm") == 1


class HeldParams(Schema):
    hold = fields.Boolean(load_default=False)


def test_queue_gauges_in_the_embedded_default(make_app):
    """One job thread, held by a job until the test lets it go: the next jobs wait, and
    their age grows."""
    gate = threading.Event()
    held = Algorithm("Held", "0.1.0", "Runs until the test lets it go (its example at once:"
                     " the readiness check runs it)", HeldParams(),
                     lambda params: {"released": params["hold"] and gate.wait(30)}, example={})
    app = make_app({"job_workers": 1}, algorithms={**ALGORITHMS, "Held": held})
    http = ClientTransport(app.test_client())
    running = create_job(http, "Held", {"hold": True})
    wait_job(http, running, until={"running"})
    waiting = [create_job(http, "PrimeChecker", {"number": n}) for n in (5, 6)]
    first = scrape(http)
    assert sample(first, "jobs_queue_depth") == 2
    wait_for(lambda: sample(scrape(http), "jobs_queue_oldest_age_seconds")
             > sample(first, "jobs_queue_oldest_age_seconds") + 0.2, message="the age to grow")
    assert http.request("DELETE", f"/jobs/{waiting[0]}").status == 200
    assert sample(scrape(http), "jobs_queue_depth") == 1
    gate.set()
    wait_job(http, waiting[1], until={"completed"})
    after = scrape(http)
    assert sample(after, "jobs_queue_depth") == 0
    assert sample(after, "jobs_queue_oldest_age_seconds") == 0


def test_queue_gauges_in_scale_out_come_from_redis_whichever_process_answers():
    """No job worker runs: jobs wait in Redis, and every web process reports them."""
    with RedisServer() as redis_server:
        env = {"REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2"}
        with Service(env) as service:
            http = HttpTransport(service.base_url)
            created = time.time()
            job_ids = [create_job(http, "PrimeChecker", {"number": n}) for n in range(3)]
            for _ in range(4):
                families = parse(requests.get(service.url("/metrics"), timeout=10,
                                              headers={"Connection": "close"}).text)
                assert sample(families, "jobs_queue_depth") == 3
                age = sample(families, "jobs_queue_oldest_age_seconds")
                assert 0 < age <= time.time() - created + 1
            assert http.request("DELETE", f"/jobs/{job_ids[0]}").status == 200
            assert sample(parse(requests.get(service.url("/metrics"), timeout=10).text),
                          "jobs_queue_depth") == 2
