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

Completion rate: 2,000 jobs (`--burst`) created by 16 concurrent clients as fast as
the server takes them, timed from the first request until no job is pending or running
(polled on /metrics every 20 ms): the jobs/s the job runners sustain. The clients run
in the benchmark's own process, on the same cores.

Modes: `embedded` (the default backend: a thread pool in the web process) and `redis`
(scale-out: redis-server, the web process with REDIS_URL and 2 gunicorn workers,
`--rq-workers N` job worker processes and one webhook process, as tests/servers.ScaleOut
starts them), or `compare`: embedded, then redis with 1 and with 2 job workers, in one
run, with the ratios issue 15 sets as targets (bench/results/jobs-compare.json).

    python -m bench.bench_jobs              # 3 rounds x 8 s per arm, 200 latency samples (~1 min)
    python -m bench.bench_jobs --mode redis --rq-workers 2
    python -m bench.bench_jobs --mode compare   # the three side by side (~4 min)
    python -m bench.bench_jobs --quick      # 1 round x 1 s, 10 samples: a smoke run
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import time
from concurrent.futures import ThreadPoolExecutor
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
    jobs_in_flight,
    markdown_table,
    parse_quick,
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
# Issue 15, scale-out: POST /jobs >= 0.6x /invoke; one job worker >= 0.5x the embedded
# default's completed jobs/s; two workers >= 1.2x one.
REDIS_CREATE_RATIO_GOAL = 0.6
ONE_WORKER_GOAL = 0.5
TWO_WORKERS_GOAL = 1.2
BURST_JOBS = 2000
BURST_CLIENTS = 16
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
    """Scale-out: jobs in Redis, run by `--rq-workers` job worker processes.

    redis-server keeps its append-only file with fsync once a second, Redis's default for
    it (the tests' server fsyncs every write, which would measure the disk instead).
    """
    with ScaleOut(LIMITS_ENV, web_workers=2, job_workers=args.rq_workers,
                  redis_appendfsync="everysec") as deployment:
        yield deployment.base_url


MODES: dict[str, Callable[[argparse.Namespace], ContextManager[str]]] = {
    "embedded": embedded, "redis": redis}


def mode_label(args: argparse.Namespace) -> str:
    if args.mode == "embedded":
        return "embedded"
    return f"redis, {args.rq_workers} job worker{'s' if args.rq_workers != 1 else ''}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=sorted([*MODES, "compare"]), default="embedded",
                        help="job backend (default embedded)")
    parser.add_argument("--rq-workers", type=int, default=1,
                        help="RQ job worker processes in redis mode (default 1)")
    add_wrk_arguments(parser, rounds=3, seconds=8)
    parser.add_argument("--samples", type=int, default=200,
                        help="jobs timed from creation to completion (default 200)")
    parser.add_argument("--burst", type=int, default=BURST_JOBS,
                        help=f"jobs in the completion-rate burst (default {BURST_JOBS})")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 round of 1 s, 10 samples, a burst of 100")
    parser.add_argument("--json", type=Path, default=None,
                        help="results file (default bench/results/jobs.json, or "
                             "jobs-redis-N.json in redis mode)")
    args = parse_quick(parser, argv, {"rounds": 1, "seconds": 1, "samples": 10, "burst": 100},
                       ("rounds", "seconds", "samples"))
    if args.json is None:
        stem = {"embedded": "jobs", "compare": "jobs-compare"}.get(
            args.mode, f"jobs-redis-{args.rq_workers}")
        args.json = RESULTS_DIR / f"{stem}.json"
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


def completion_rate(base_url: str, jobs: int) -> dict:
    """Jobs/s from the first of `jobs` concurrent creations until none is in flight."""
    wait_until_jobs_drained(base_url, DRAIN_TIMEOUT)
    sessions = [requests.Session() for _ in range(BURST_CLIENTS)]

    def create(index: int) -> None:
        session = sessions[index % BURST_CLIENTS]
        session.post(base_url + CREATE.path, json=JOB_BODY, timeout=10).raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(BURST_CLIENTS) as pool:
        list(pool.map(create, range(jobs)))
    created = time.perf_counter()
    while jobs_in_flight(base_url) > 0:
        time.sleep(0.02)
    finished = time.perf_counter()
    for session in sessions:
        session.close()
    return {"jobs": jobs, "seconds": finished - started, "jobs_per_s": jobs / (finished - started),
            "creation_seconds": created - started}


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


def measure(args: argparse.Namespace) -> dict:
    """Every figure of one mode, on one deployment: latency first, on an idle server."""
    with MODES[args.mode](args) as base_url:
        latency = completion_latency(base_url, args.samples)
        rates = throughput(base_url, args)
        burst = completion_rate(base_url, args.burst)
    return {"mode": mode_label(args), "throughput": rates, "latency": latency,
            "completion": burst}


def single(args: argparse.Namespace, argv: list[str] | None, watch) -> None:
    figures = measure(args)
    mode = figures["mode"]
    rates = figures["throughput"]
    create_ratio = rates["ratio_create_over_invoke"]["rps"]
    goal = CREATE_RATIO_GOAL if args.mode == "embedded" else REDIS_CREATE_RATIO_GOAL
    targets = [target(f"job creation / /invoke throughput ({mode})", create_ratio, goal)]
    configurations = [
        {"name": f"{CREATE.label} ({mode})", **rates["create"]["median"]},
        {"name": f"{INVOKE.label} (jobs server, {mode})", **rates["invoke"]["median"]},
    ]
    document = results_document("jobs", invocation("bench_jobs", argv), settings_of(args),
                                {**figures, "configurations": configurations,
                                 "targets": targets}, watch)
    print(f"\n{tables(document)}\n\n{completion_table([figures])}\n\n{targets_table(targets)}")
    save_results(args.json, document)


def compare(args: argparse.Namespace, argv: list[str] | None, watch) -> None:
    """Embedded, then redis with 1 and 2 job workers, measured one after the other."""
    arms = []
    for mode, workers in (("embedded", 1), ("redis", 1), ("redis", 2)):
        arm_args = argparse.Namespace(**{**vars(args), "mode": mode, "rq_workers": workers})
        arms.append(measure(arm_args))
    embedded_arm, one, two = arms
    rate = [arm["completion"]["jobs_per_s"] for arm in arms]
    targets = [
        target("completed jobs/s, 1 job worker / embedded", rate[1] / rate[0], ONE_WORKER_GOAL),
        target("completed jobs/s, 2 job workers / 1", rate[2] / rate[1], TWO_WORKERS_GOAL),
        *(target(f"job creation / /invoke throughput ({arm['mode']})",
                 arm["throughput"]["ratio_create_over_invoke"]["rps"], REDIS_CREATE_RATIO_GOAL)
          for arm in (one, two)),
    ]
    document = results_document("jobs-compare", invocation("bench_jobs", argv), settings_of(args),
                                {"arms": arms, "targets": targets}, watch)
    print(f"\n{compare_tables(document)}\n\n{targets_table(targets)}")
    save_results(args.json, document)


def compare_tables(document: dict) -> str:
    """A comparison as Markdown: the modes side by side, then each mode's rounds."""
    arms = document["arms"]
    return "\n\n".join([completion_table(arms), *(tables(arm) for arm in arms)])


def completion_table(arms: list[dict]) -> str:
    rows = []
    for arm in arms:
        rates = arm["throughput"]
        rows.append([arm["mode"], rates["invoke"]["median"]["rps"], rates["create"]["median"]["rps"],
                     rates["ratio_create_over_invoke"]["rps"], arm["completion"]["jobs_per_s"],
                     arm["latency"]["p50_ms"], arm["latency"]["p99_ms"]])
    return markdown_table(["mode", "/invoke req/s", "create req/s", "create/invoke",
                           "completed jobs/s", "create→completed p50 ms", "p99 ms"], rows)


def settings_of(args: argparse.Namespace) -> dict:
    return {**wrk_settings(args), "mode": args.mode, "rq_workers": args.rq_workers,
            "samples": args.samples, "burst_jobs": args.burst, "server_env": LIMITS_ENV}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wrk_path()
    watch = warn_if_busy()
    (compare if args.mode == "compare" else single)(args, argv, watch)


if __name__ == "__main__":
    main()
