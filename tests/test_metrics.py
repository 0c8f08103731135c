"""GET /metrics: the nine documented families, parsed with prometheus_client's parser."""
from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import Service

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


def parse(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: dict, name: str, suffix: str = "", **labels: str) -> float:
    """The value of one sample; 0 when the series has not been written yet."""
    family = families[name]
    for s in family.samples:
        if s.name == family.name + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return 0.0


def scrape(http) -> dict:
    reply = http.get("/metrics")
    assert reply.status == 200
    assert reply.header("Content-Type").startswith("text/plain; version=0.0.4")
    return parse(reply.text)


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
    after = scrape(http)

    def delta(name, suffix="", **labels):
        return sample(after, name, suffix, **labels) - sample(before, name, suffix, **labels)

    assert delta("http_requests", "_total", endpoint="/invoke", method="POST", status="success") == 2
    assert delta("http_requests", "_total", endpoint="/invoke", method="POST", status="error") == 1
    assert delta("algorithm_executions", "_total", algorithm="PrimeChecker", status="success") == 2
    assert delta("http_request_duration_seconds", "_count", endpoint="/invoke", method="POST") == 3
    endpoints = {s.labels["endpoint"] for s in after["http_requests"].samples}
    assert not any("abcdef123456" in e for e in endpoints), "raw paths must never become labels"


def test_counts_are_right_across_two_gunicorn_workers(redis_server):
    # Several worker processes are allowed only when jobs live in Redis.
    env = {"REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2"}
    with Service(env) as service:
        total = 80
        for i in range(total):
            # A new connection each time lets the kernel hand requests to either worker.
            response = requests.post(service.url("/invoke"), json={"number": i},
                                     headers={"Connection": "close"}, timeout=10)
            assert response.status_code == 200
        pids = {line["pid"] for line in service.json_lines() if line.get("endpoint") == "/invoke"}
        assert len(pids) == 2, "both workers should have served requests"
        for _ in range(3):  # every scrape, whichever worker answers it, sees every worker's samples
            families = parse(requests.get(service.url("/metrics"), timeout=10).text)
            assert sample(families, "http_requests", "_total", endpoint="/invoke",
                          method="POST", status="success") == total
            assert sample(families, "algorithm_executions", "_total",
                          algorithm="PrimeChecker", status="success") == total
            assert sample(families, "algorithm_execution_duration_seconds", "_count",
                          algorithm="PrimeChecker") == total
