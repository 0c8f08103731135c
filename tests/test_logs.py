"""Logs: one JSON object per line on stderr, each request's line with its request id.

The web process gathers lines and writes them together (app.observability.logs.StderrLines), so
the tests here check that nothing is lost, doubled or reordered on the way.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import uuid

import pytest
import requests

from app.jobs.execution import fail_job
from app.jobs.memory_store import MemoryJobStore
from app.jobs.model import PENDING, RUNNING, JobRecord
from app.observability.logs import BufferedStderrHandler, JsonFormatter, StderrLines
from app.observability.metrics import Metrics
from app.web.request_id import new_request_id
from tests.metrics_support import sample, scrape
from tests.servers import wait_for
from tests.transports import ClientTransport


def test_every_request_logs_one_json_line_with_its_request_id(service):
    sent = {}
    for i in range(30):
        request_id = f"log-test-{uuid.uuid4()}"
        path, body = [("/invoke", {"number": 97}), ("/invoke", {"number": "x"}),
                      ("/no-such-route", None)][i % 3]
        reply = requests.post(service.url(path), json=body, headers={"X-Request-Id": request_id},
                              timeout=5)
        sent[request_id] = reply.status_code

    def access_lines():
        lines = [line for line in service.json_lines()
                 if line.get("logger") == "app.access" and line.get("request_id") in sent]
        return lines if len(lines) >= len(sent) else None

    lines = wait_for(access_lines, timeout=5, message="an access line for every request")
    assert sorted(line["request_id"] for line in lines) == sorted(sent)
    for line in lines:
        assert line["status"] == sent[line["request_id"]]
        assert line["endpoint"] in ("/invoke", "unmatched")
        assert line["level"] == "INFO" and line["pid"] > 0 and line["duration_ms"] >= 0
    text_lines = [line for line in service.output().splitlines() if line.strip()]
    assert all(json.loads(line) for line in text_lines), "a line on stderr that is not JSON"


def _written(path: str) -> list[str]:
    with open(path) as f:
        return f.read().splitlines()


def test_lines_from_many_threads_are_each_written_once_in_order(tmp_path):
    path = str(tmp_path / "lines")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    lines = StderrLines(fd)

    def write(thread: int) -> None:
        for i in range(500):
            lines.append(f"{thread} {i}")

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines.flush()
    os.close(fd)
    written = _written(path)
    assert len(written) == 8 * 500
    for thread in range(8):
        assert [w for w in written if w.startswith(f"{thread} ")] == [f"{thread} {i}" for i in range(500)]


def test_a_forked_child_leaves_its_parents_lines_to_the_parent(tmp_path):
    path = str(tmp_path / "lines")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    lines = StderrLines(fd)
    lines.append("parent before fork")
    pid = os.fork()
    if pid == 0:  # the child: its own line only, then out without the parent's cleanup
        lines.append("child")
        lines.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    lines.flush()
    os.close(fd)
    assert sorted(_written(path)) == ["child", "parent before fork"]


def test_a_warning_is_written_at_once(capfd):
    logger = logging.getLogger("tests.buffered")
    handler = BufferedStderrHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("held back")
        logger.warning("now")
        # No flush and no wait: the warning, and the line before it, are already out.
        written = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    finally:
        logger.removeHandler(handler)
    assert [(w["level"], w["message"]) for w in written] == [("INFO", "held back"),
                                                             ("WARNING", "now")]


def test_generated_request_ids_are_distinct_version_4_uuids():
    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in list(ids)[:100]:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_an_unknown_method_is_counted_under_one_label(client):
    for method in ("FOO", "BAR", "BAZ"):
        assert client.open("/invoke", method=method).status_code == 405
    families = scrape(ClientTransport(client))
    assert sample(families, "http_requests_total",
                  method="OTHER", endpoint="unmatched", status="error") == 3
    methods = {s.labels["method"] for s in families["http_requests"].samples}
    assert not methods & {"FOO", "BAR", "BAZ"}


@pytest.mark.parametrize("status", [PENDING, RUNNING])
def test_a_job_failed_by_the_service_logs_the_request_id_that_created_it(status, caplog):
    """Shutdown and lost workers fail jobs outside any request: the line names the job's."""
    store = MemoryJobStore(ttl_seconds=60, max_jobs=10)
    store.create(JobRecord(job_id="b" * 12, algorithm="PrimeChecker", params={"number": 7},
                           request_id="req-that-created-it", status=status))
    with caplog.at_level(logging.WARNING, logger="app.jobs.execution"):
        assert fail_job("b" * 12, store, Metrics(), "gone", lambda record: None)
    (line,) = [r for r in caplog.records if r.getMessage() == "job failed"]
    assert (line.job_id, line.request_id) == ("b" * 12, "req-that-created-it")
