"""The bench scripts still run: each one briefly (--quick), its results file checked.

Nothing here is timed or compared with a target: the machine running the tests is
not the benchmark machine. What is checked is that every script ran end to end,
wrote the keys bench/report.py reads, measured a positive throughput and got no
error responses, and that the report renders from those files.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None and not os.environ.get("CI"),
    reason="wrk is not installed (apt-get install wrk); scripts/test installs it when CI is set",
)

TARGET_KEYS = {"name", "goal", "value", "met"}
CONFIGURATION_KEYS = {"name", "rps", "p50_ms", "p99_ms"}


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-results")


def run_quick(name: str, results_dir: Path) -> dict[str, Any]:
    """The benchmark `name` with --quick into results_dir, once per module; its results.

    bench_algorithm is a plain script (it needs no server), the others are modules.
    """
    path = results_dir / f"{name}.json"
    script = ["bench/bench_algorithm.py"] if name == "algorithm" else ["-m", f"bench.bench_{name}"]
    if not path.exists():
        run([*script, "--quick", "--json", str(path)])
    return json.loads(path.read_text())


def run(arguments: list[str]) -> None:
    done = subprocess.run([sys.executable, *arguments], cwd=ROOT, capture_output=True, text=True,
                          timeout=100)
    assert done.returncode == 0, f"{arguments} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def assert_common_fields(document: dict[str, Any], name: str) -> None:
    assert document["benchmark"] == name
    assert document["command"].startswith(f"python -m bench.bench_{name} --quick")
    assert {"nproc", "cpu_model", "python", "gunicorn", "wrk"} <= set(document["machine"])
    assert document["targets"] and all(set(t) == TARGET_KEYS for t in document["targets"])


def assert_measured(summary: dict[str, Any]) -> None:
    """A wrk summary: rounds run, positive throughput, and every response a success."""
    assert summary["rounds"]
    assert summary["median"]["rps"] > 0
    assert summary["median"]["p99_ms"] >= summary["median"]["p50_ms"] > 0
    assert summary["non_2xx"] == 0 and summary["socket_errors"] == 0


def test_http_benchmark(results_dir):
    document = run_quick("http", results_dir)
    assert_common_fields(document, "http")
    scenarios = document["scenarios"]
    assert set(scenarios) == {"invoke", "healthz", "get_job"}
    for name in ("invoke", "healthz"):
        assert set(scenarios[name]["servers"]) == {"ours", "floor"}
        assert scenarios[name]["ratio_ours_over_floor"]["rps"] > 0
        assert scenarios[name]["ratio_ours_over_floor"]["cpu"] > 0
    assert set(scenarios["get_job"]["servers"]) == {"ours"}
    for scenario in scenarios.values():
        for summary in scenario["servers"].values():
            assert_measured(summary)
            # The worker's CPU time per response, read from /proc around each round.
            assert summary["median"]["cpu_us_per_request"] > 0
    assert len(document["configurations"]) == 5
    assert all(set(c) == CONFIGURATION_KEYS | {"cpu_us_per_request"}
               for c in document["configurations"])


def test_jobs_benchmark(results_dir):
    document = run_quick("jobs", results_dir)
    assert_common_fields(document, "jobs")
    assert document["mode"] == "embedded"
    for arm in ("create", "invoke"):
        assert_measured(document["throughput"][arm])
    assert document["throughput"]["ratio_create_over_invoke"]["rps"] > 0
    latency = document["latency"]
    assert latency["count"] == 10
    assert latency["max_ms"] >= latency["p99_ms"] >= latency["p50_ms"] > 0
    assert all(set(c) == CONFIGURATION_KEYS for c in document["configurations"])


def test_memory_benchmark(results_dir):
    document = run_quick("memory", results_dir)
    assert_common_fields(document, "memory")
    assert document["run"]["created"] >= 2_000
    # The server's own limits: refused creations are sent again until enough were taken.
    assert "MAX_QUEUE" not in document["settings"]["server_env"]
    assert document["run"]["refused"] >= 0 and document["run"]["peak_backlog"] <= 1000
    for moment in ("fresh", "after"):
        assert document[moment]["rss_kib"] > 0
    assert document["peak_rss_kib"] >= document["after"]["rss_kib"]
    assert document["ratio_after_over_fresh"] > 0


def test_algorithm_benchmark(results_dir):
    document = run_quick("algorithm", results_dir)
    assert document["settings"]["count"] == 5
    for row in document["classes"].values():
        assert row["count"] >= 1
        for impl in ("ours", "sympy"):
            assert 0 < row[impl]["p50_ms"] <= row[impl]["p99_ms"] <= row[impl]["worst_ms"]


def test_report_renders_every_section(results_dir, tmp_path):
    pytest.importorskip("matplotlib", reason="the report needs the bench extra: pip install -e '.[bench]'")
    for name in ("algorithm", "http", "jobs", "memory"):
        run_quick(name, results_dir)
    output, plot = tmp_path / "BENCHMARKS.md", tmp_path / "throughput.png"
    run(["-m", "bench.report", "--results", str(results_dir), "--output", str(output),
         "--plot", str(plot)])
    text = output.read_text()
    for heading in ("## Machine and runs", "## Commands", "## Targets", "## HTTP", "## Jobs",
                    "## Memory", "## Algorithm"):
        assert heading in text
    assert re.search(r"\| 63-bit semiprimes, ours worst case, ms +\| ≤ 5 +\|", text)
    assert f"]({plot.name})" in text
    assert plot.read_bytes().startswith(b"\x89PNG")
