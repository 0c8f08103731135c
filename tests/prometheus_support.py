"""A real Prometheus for the tests: scraping one service every second, storage in temp.

`Prometheus(target)` writes its configuration and keeps its data in a fresh
temporary directory, listens on a free loopback port, and removes everything when
stopped. `query` evaluates PromQL through the HTTP API, as Grafana does.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import requests

from tests.servers import ManagedProcess, free_port, process_env, wait_for

JOB = "functional-scaffold"  # the scrape job name deploy/prometheus/alerts.yml selects


class Prometheus(ManagedProcess):
    def __init__(self, target: str) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="fs-prometheus-")
        config = Path(self.dir, "prometheus.yml")
        config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
            f"scrape_configs: [{{job_name: {JOB}, static_configs: [{{targets: ['{target}']}}]}}]\n"
        )
        super().__init__(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
             "--storage.tsdb.retention.time=1h", f"--web.listen-address=127.0.0.1:{self.port}"],
            process_env({}),
        )

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def start(self, timeout: float = 30.0) -> "Prometheus":
        self.start_until(self._ready, timeout, f"prometheus on port {self.port}")
        return self

    def _ready(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/-/ready", timeout=1).ok
        except requests.RequestException:
            return False

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to (now, or at `at`); fails on a PromQL error."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        reply = requests.get(f"{self.api}/query", params=params, timeout=10)
        body = reply.json()
        assert body["status"] == "success", (expr, body)
        return body["data"]["result"]

    def last_scrape(self) -> float:
        """When the newest successful scrape of the service started (0 before the first)."""
        up = f'up{{job="{JOB}"}}'
        result = self.query(f"timestamp({up}) and {up} == 1")
        return float(result[0]["value"][1]) if result else 0.0

    def wait_for_scrape_after(self, moment: float, timeout: float = 30.0) -> float:
        """Wait for a successful scrape that started after `moment` (Unix seconds); its start.

        A scrape is stamped with its start, so one begun before `moment` and stored after
        it holds nothing of what happened in between: counting stored scrapes cannot tell."""
        return wait_for(lambda: (at := self.last_scrape()) > moment and at, timeout,
                        message=f"a scrape started after {moment}")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Prometheus":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()
