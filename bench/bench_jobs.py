"""Asynchronous jobs: how fast POST /jobs accepts work, and how soon a job completes.

Throughput: wrk alternates rounds of POST /jobs and POST /invoke (same body, same
number) on the same server, so the ratio create/invoke shows what accepting a job
costs next to running the algorithm inline. The jobs run while later ones are being
accepted, as they would in production, and every round starts on an empty queue: the
jobs a create round accepted finish before the next round begins. MAX_JOBS and
MAX_QUEUE are raised for the run so nothing is refused for space; any 503 is still
counted and shown.

Latency: one job at a time, created and then polled with GET /jobs/{id} until it is
completed, timed on the client (the record's timestamps have whole-second resolution).
It includes one poll round trip, about a millisecond.

Modes: `embedded` (the default backend: a thread pool in the web process) and `redis`
(scale-out: redis-server, the web process with REDIS_URL and 2 gunicorn workers,
`--rq-workers N` RQ job workers and one webhook process, as tests/servers.ScaleOut
starts them).

    python -m bench.bench_jobs              # 3 rounds x 8 s per arm, 200 latency samples (~1 min)
    python -m bench.bench_jobs --mode redis --rq-workers 2
    python -m bench.bench_jobs --quick      # 1 round x 1 s, 10 samples: a smoke run
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import time
from pathlib import Path
from typing import Callable, ContextManager, Iterator

import requests

from bench.common import (
    INVOKE_BODY,
    JOB_BODY,
    RESULTS_DIR,
    Load,
    WrkResult,
    add_wrk_arguments,
    alternating_rounds,
    invocation,
    job_status,
    markdown_table,
    quantile,
    ratio,
    results_document,
    run_wrk,
    running_server,
    save_results,
    summarise_runs,
    target,
    targets_table,
    wait_until_jobs_drained,
    warn_if_busy,
    wrk_path,
    wrk_settings,
)
from tests.servers import ScaleOut

CREATE_RATIO_GOAL = 0.9  # the issue: job creation at >= 0.9x /invoke throughput
CREATE = Load("POST", "/jobs", JOB_BODY)
INVOKE = Load("POST", "/invoke", INVOKE_BODY)
# Room for every job a run creates, however fast: the limits are not what is measured.
LIMITS_ENV = {"MAX_JOBS": "10000000", "MAX_QUEUE": "10000000"}
DRAIN_TIMEOUT = 300.0


@contextlib.contextmanager
def embedded(args: argparse.Namespace) -> Iterator[str]:
    """The default backend: jobs in the one gunicorn worker's memory and thread pool."""
    with running_server("ours", LIMITS_ENV) as server:
        yield server.base_url


@contextlib.contextmanager
def redis(args: argparse.Namespace) -> Iterator[str]:
    """Scale-out: jobs in Redis, run by `--rq-workers` RQ worker processes."""
    with ScaleOut(LIMITS_ENV, web_workers=2, job_workers=args.rq_workers) as deployment:
        yield deployment.base_url


MODES: dict[str, Callable[[argparse.Namespace], ContextManager[str]]] = {
    "embedded": embedded, "redis": redis}


def mode_label(args: argparse.Namespace) -> str:
    return "embedded" if args.mode == "embedded" else f"redis, {args.rq_workers} RQ workers"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="embedded",
                        help="job backend (default embedded)")
    parser.add_argument("--rq-workers", type=int, default=1,
                        help="RQ job worker processes in redis mode (default 1)")
    add_wrk_arguments(parser, rounds=3, seconds=8)
    parser.add_argument("--samples", type=int, default=200,
                        help="jobs timed from creation to completion (default 200)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 1 s, 10 samples")
    parser.add_argument("--json", type=Path, default=None,
                        help="results file (default bench/results/jobs.json, or "
                             "jobs-redis-N.json in redis mode)")
    args = parser.parse_args(argv)
    if args.json is None:
        stem = "jobs" if args.mode == "embedded" else f"jobs-redis-{args.rq_workers}"
        args.json = RESULTS_DIR / f"{stem}.json"
    if args.quick:
        args.rounds, args.seconds, args.samples = 1, 1, 10
    if args.rounds < 1 or args.seconds < 1 or args.samples < 1:
        parser.error("--rounds, --seconds and --samples must be at least 1")
    return args


def throughput(base_url: str, args: argparse.Namespace) -> dict:
    """Alternating create and invoke rounds, each on an empty queue.

    Jobs accepted in a create round may still be running when it ends; waiting for
    them keeps that work out of the next round's figures.
    """
    def drained_then(load: Load) -> WrkResult:
        wait_until_jobs_drained(base_url, DRAIN_TIMEOUT)
        return run_wrk(base_url, load, args.seconds, args.connections, args.threads)

    runs = alternating_rounds({"create": functools.partial(drained_then, CREATE),
                               "invoke": functools.partial(drained_then, INVOKE)},
                              args.rounds, "jobs")
    return {"create": summarise_runs(runs["create"]), "invoke": summarise_runs(runs["invoke"]),
            "ratio_create_over_invoke": ratio(runs["create"], runs["invoke"])}


def completion_latency(base_url: str, samples: int) -> dict:
    """Create a job, poll until completed, one job at a time; client-side seconds each."""
    seconds = []
    polls = 0
    with requests.Session() as session:
        for _ in range(samples):
            started = time.perf_counter()
            reply = session.post(base_url + CREATE.path, json=JOB_BODY, timeout=10)
            reply.raise_for_status()
            job_id = reply.json()["job_id"]
            while (status := job_status(base_url, job_id, session)) != "completed":
                if status not in ("pending", "running"):
                    raise RuntimeError(f"job {job_id} ended {status}")
                polls += 1
            seconds.append(time.perf_counter() - started)
    return {"count": samples, "p50_ms": quantile(seconds, 0.5) * 1e3,
            "p99_ms": quantile(seconds, 0.99) * 1e3, "max_ms": max(seconds) * 1e3,
            "polls_per_job": polls / samples}


def tables(document: dict) -> str:
    """The results as Markdown: for the terminal and for BENCHMARKS.md."""
    rates, latency = document["throughput"], document["latency"]
    rows = []
    for arm, load in (("create", CREATE), ("invoke", INVOKE)):
        summary = rates[arm]
        m = summary["median"]
        rows.append([load.label, m["rps"], m["p50_ms"], m["p99_ms"],
                     " ".join(f"{r['rps']:.0f}" for r in summary["rounds"]),
                     summary["non_2xx"] + summary["socket_errors"]])
    r = rates["ratio_create_over_invoke"]
    rows.append(["**create/invoke**", f"**{r['rps']:.3f}**", "", f"{r['p99_ms']:.2f}",
                 " ".join(f"{x:.2f}" for x in r["per_round_rps"]), ""])
    throughput_table = markdown_table(
        [f"request ({document['mode']})", "req/s (median)", "p50 ms", "p99 ms", "req/s per round",
         "errors"], rows)
    latency_table = markdown_table(
        [f"create→completed ({document['mode']})", "p50 ms", "p99 ms", "max ms", "polls/job"],
        [[f"{latency['count']} jobs, one at a time", latency["p50_ms"], latency["p99_ms"],
          latency["max_ms"], latency["polls_per_job"]]])
    return f"{throughput_table}\n\n{latency_table}"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wrk_path()
    watch = warn_if_busy()
    mode = mode_label(args)
    with MODES[args.mode](args) as base_url:
        latency = completion_latency(base_url, args.samples)  # on an idle server, first
        rates = throughput(base_url, args)
    create_ratio = rates["ratio_create_over_invoke"]["rps"]
    targets = [target(f"job creation / /invoke throughput ({mode})", create_ratio,
                      CREATE_RATIO_GOAL)]
    configurations = [
        {"name": f"{CREATE.label} ({mode})", **rates["create"]["median"]},
        {"name": f"{INVOKE.label} (jobs server, {mode})", **rates["invoke"]["median"]},
    ]
    settings = {**wrk_settings(args), "mode": args.mode, "rq_workers": args.rq_workers,
                "samples": args.samples, "server_env": LIMITS_ENV}
    document = results_document("jobs", invocation("bench_jobs", argv), settings,
                                {"mode": mode, "throughput": rates, "latency": latency,
                                 "configurations": configurations, "targets": targets}, watch)
    print(f"\n{tables(document)}\n\n{targets_table(targets)}")
    save_results(args.json, document)


if __name__ == "__main__":
    main()
