"""gunicorn.conf.py under a real gunicorn: what the master does on a reload (SIGHUP)."""
from __future__ import annotations

import signal
from pathlib import Path

import requests

from tests.conftest import RUN_TMP
from tests.metrics_support import parse, sample
from tests.servers import Service, wait_for


def _metrics_dirs() -> set[Path]:
    return set(Path(RUN_TMP).glob("fs-metrics-*"))


def _invoke(service: Service, times: int) -> None:
    for number in range(times):
        reply = requests.post(service.url("/invoke"), json={"number": number}, timeout=10)
        assert reply.status_code == 200


def _invokes_counted(service: Service) -> float:
    families = parse(requests.get(service.url("/metrics"), timeout=10).text)
    return sample(families, "http_requests_total", endpoint="/invoke", method="POST",
                  status="success")


def test_reload_keeps_counting_and_the_metrics_directory_goes_with_the_master():
    before = _metrics_dirs()
    service = Service().start()
    try:
        (made,) = _metrics_dirs() - before
        _invoke(service, 5)
        service.signal(signal.SIGHUP)
        wait_for(lambda: sum("Booting worker" in line.get("message", "")
                             for line in service.json_lines()) == 2,
                 message="a fresh worker after the reload")
        wait_for(lambda: sum("Worker exiting" in line.get("message", "")
                             for line in service.json_lines()) == 1,
                 message="the old worker gone")
        _invoke(service, 3)
        assert _invokes_counted(service) == 8, "the old worker's counts are kept"
    finally:
        service.stop()
    assert not made.exists()
