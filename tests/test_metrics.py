"""GET /metrics: the nine documented families, parsed with prometheus_client's parser."""
from __future__ import annotations

import requests

from app import create_app
from tests.metrics_support import parse, sample, scrape
from tests.servers import Service, wait_for
from tests.transports import ClientTransport

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


def test_documented_families_types_and_labels(http):
    http.post_json("/invoke", {"number": 17})
    families = scrape(http)
    for name, (kind, labels) in DOCUMENTED.items():
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


def test_a_request_refused_by_the_api_key_check_is_counted_under_its_route():
    app = create_app({"log_level": "WARNING", "api_keys": frozenset({"a-key-0123456789"})})
    client = ClientTransport(app.test_client())
    assert client.post_json("/invoke", {"number": 7}).status == 401
    families = scrape(client)
    assert sample(families, "http_requests_total", endpoint="/invoke", method="POST",
                  status="error") == 1


def test_only_the_documented_families_and_jobs_active(http):
    """The exporter's own `flask_*` families are off; nothing else is added."""
    http.post_json("/invoke", {"number": 17})
    assert set(scrape(http)) == set(DOCUMENTED) | {"jobs_active"}


def test_the_text_format_stays_0_0_4_when_openmetrics_is_asked_for(http):
    reply = http.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert reply.header("Content-Type").startswith("text/plain; version=0.0.4")
    assert "# EOF" not in reply.text


def test_each_app_counts_in_its_own_registry():
    first, second = (ClientTransport(create_app({"log_level": "WARNING"}).test_client())
                     for _ in range(2))
    for _ in range(3):
        first.post_json("/invoke", {"number": 5})
    assert sample(scrape(second), "http_requests_total", endpoint="/invoke") == 0
    assert sample(scrape(first), "http_requests_total", endpoint="/invoke") == 3
