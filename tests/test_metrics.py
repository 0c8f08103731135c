"""GET /metrics: the nine documented families, parsed with prometheus_client's parser."""
from __future__ import annotations

import requests

from tests.metrics_support import parse, sample, scrape
from tests.servers import Service, wait_for

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
