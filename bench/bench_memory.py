"""Memory: does a server give back what 100 000 expired jobs took?

One server (embedded default) with its own limits (MAX_JOBS 10 000 live jobs,
MAX_QUEUE 1 000 waiting), JOB_TTL_SECONDS=10 and a 1 s sweep. wrk creates jobs as
fast as the server takes them; a creation refused with 503 (queue or store full) is
sent again at once, as a client honouring Retry-After would a little later, until
100 000 were accepted. The first expire while the last are created, as under steady
load. `--unbounded` raises both limits above the job count instead, so the backlog
of jobs waiting to start grows as far as the load pushes it (its peak is shown);
with `--ttl 400` all jobs are alive at once. The gunicorn worker's resident set
(VmRSS from /proc/<pid>/status; the worker holds the jobs, the master stays small and
unchanged) is measured twice:

1. fresh: after a warm-up (a second of /invoke and 20 jobs, run one by one), so
   thread pools, imports and first-use caches are in both figures; the 20 jobs'
   records (a few KiB) are still alive here;
2. after: once 100 000 jobs have completed and expired, and the sweeper has passed.

Nothing is forced in between: no gc call, no malloc_trim from outside. "Expired" is
observed, not assumed: a job created after all the others is polled until it is
gone (404); every job finished before it, so its expiry implies theirs, and the
sweeper (SWEEP_INTERVAL_SECONDS) then frees them within two intervals. Whether all
jobs were alive at once is observed too: a job created just before the others is
still there when the last is created, or not.

    python -m bench.bench_memory                           # 100 000 jobs (~3 min)
    python -m bench.bench_memory --unbounded --ttl 60      # no limits: the backlog grows
    python -m bench.bench_memory --quick                   # 2 000 jobs, 1 s TTL: a smoke run
    python -m bench.bench_memory --env MALLOC_ARENA_MAX=8  # the same, with allocator settings
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from bench.common import (
    INVOKE_BODY,
    JOB_BODY,
    JOBS_CREATED,
    JOBS_PENDING,
    Load,
    add_json_argument,
    completed_job,
    invocation,
    job_status,
    markdown_table,
    metrics,
    parse_quick,
    results_document,
    rss_kib,
    run_wrk,
    running_server,
    save_results,
    target,
    targets_table,
    wait_until_jobs_drained,
    warn_if_busy,
    worker_pid,
    wrk_path,
)
from tests.servers import wait_for

RSS_RATIO_GOAL = 1.10  # the issue: within 10 % of the fresh server once jobs expire
CREATE = Load("POST", "/jobs", JOB_BODY)
WARMUP_JOBS = 20
DRAIN_TIMEOUT = 600.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs to create (default 100000)")
    parser.add_argument("--ttl", type=float, default=10.0,
                        help="JOB_TTL_SECONDS of the server (default 10)")
    parser.add_argument("--unbounded", action="store_true",
                        help="raise MAX_JOBS and MAX_QUEUE above the job count")
    parser.add_argument("--sweep", type=float, default=1.0,
                        help="SWEEP_INTERVAL_SECONDS of the server (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--max-seconds", type=int, default=600,
                        help="stop creating after this long even if short of --jobs (default 600)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra server environment, e.g. MALLOC_ARENA_MAX=2 (repeatable)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 000 jobs, 1 s TTL")
    add_json_argument(parser, "memory")
    args = parse_quick(parser, argv, {"jobs": 2_000, "ttl": 1.0, "sweep": 0.2, "max_seconds": 60},
                       ("jobs",))
    if any("=" not in item for item in args.env):
        parser.error("--env takes NAME=VALUE")
    return args


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {"JOB_TTL_SECONDS": str(args.ttl), "SWEEP_INTERVAL_SECONDS": str(args.sweep)}
    if args.unbounded:
        env["MAX_JOBS"] = env["MAX_QUEUE"] = str(2 * (args.jobs + WARMUP_JOBS))
    return {**env, **dict(item.split("=", 1) for item in args.env)}


def create_jobs(base_url: str, count: int, args: argparse.Namespace) -> dict[str, Any]:
    """`count` jobs as fast as the server takes them (a few more: wrk stops within 0.2 s).

    Also the largest backlog seen (jobs accepted but not yet started), which with
    `--unbounded` is what holds most of the memory at the peak.
    """
    before = metrics(base_url).get(JOBS_CREATED, 0.0)
    peak_backlog = 0.0

    def enough() -> bool:
        nonlocal peak_backlog
        now = metrics(base_url)
        peak_backlog = max(peak_backlog, now.get(JOBS_PENDING, 0.0))
        return now.get(JOBS_CREATED, 0.0) - before >= count

    started = time.monotonic()
    run = run_wrk(base_url, CREATE, args.max_seconds, args.connections, stop_when=enough)
    created = int(metrics(base_url)[JOBS_CREATED] - before)
    return {"created": created, "refused": run.non_2xx, "socket_errors": run.socket_errors,
            "seconds": round(time.monotonic() - started, 1), "rps": run.rps,
            "peak_backlog": int(peak_backlog)}


def wait_until_expired(base_url: str, args: argparse.Namespace) -> float:
    """Seconds until every job so far has run, expired, and been swept."""
    started = time.monotonic()
    wait_until_jobs_drained(base_url, DRAIN_TIMEOUT)
    last = completed_job(base_url)  # finishes after every earlier job, so expires after them too
    wait_for(lambda: job_status(base_url, last) is None, timeout=args.ttl + 60, interval=0.25,
             message=f"job {last} to expire")
    time.sleep(2 * args.sweep)  # the sweeper's next pass drops the rest
    return round(time.monotonic() - started, 1)


def measure(base_url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    run_wrk(base_url, Load("POST", "/invoke", INVOKE_BODY), 1, args.connections)
    for _ in range(WARMUP_JOBS):
        completed_job(base_url)
    fresh = rss_kib(pid)
    print(f"  fresh worker RSS {fresh['rss_kib'] / 1024:.1f} MiB", flush=True)
    first = completed_job(base_url)
    run = create_jobs(base_url, args.jobs, args)
    run["all_alive_at_peak"] = job_status(base_url, first) is not None
    print(f"  created {run['created']} jobs in {run['seconds']} s ({run['refused']} refused; "
          f"all alive at once: {run['all_alive_at_peak']})", flush=True)
    waited = wait_until_expired(base_url, args)
    after = rss_kib(pid)
    print(f"  after: all expired {waited} s later; worker RSS {after['rss_kib'] / 1024:.1f} MiB",
          flush=True)
    return {"warmup_jobs": WARMUP_JOBS, "run": run, "waited_for_expiry_seconds": waited,
            "fresh": fresh, "peak_rss_kib": after["peak_rss_kib"], "after": after,
            "ratio_after_over_fresh": after["rss_kib"] / fresh["rss_kib"],
            "anon_ratio_after_over_fresh": after["rss_anon_kib"] / fresh["rss_anon_kib"]}


def _mib(kib: int) -> float:
    return kib / 1024


def tables(document: dict[str, Any]) -> str:
    """The results as Markdown: for the terminal and for BENCHMARKS.md."""
    fresh, after, run = document["fresh"], document["after"], document["run"]
    return markdown_table(
        ["gunicorn worker", "RSS MiB", "anonymous MiB", "when"],
        [["fresh", _mib(fresh["rss_kib"]), _mib(fresh["rss_anon_kib"]),
          f"after a warm-up: 1 s of /invoke, {document['warmup_jobs']} jobs"],
         ["peak", _mib(document["peak_rss_kib"]), "",
          f"{run['created']:,} jobs created in {run['seconds']} s ({run['refused']} refused), "
          f"{'all' if run['all_alive_at_peak'] else 'not all'} alive at once "
          f"(JOB_TTL_SECONDS={document['settings']['server_env']['JOB_TTL_SECONDS']}), "
          f"backlog up to {run['peak_backlog']:,} jobs waiting to start"],
         ["after", _mib(after["rss_kib"]), _mib(after["rss_anon_kib"]),
          f"all expired and swept ({document['waited_for_expiry_seconds']} s after creation)"],
         ["**after/fresh**", f"**{document['ratio_after_over_fresh']:.3f}**",
          f"{document['anon_ratio_after_over_fresh']:.3f}", ""]])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wrk_path()
    watch = warn_if_busy()
    env = server_env(args)
    with running_server("ours", env) as server:
        result = measure(server.base_url, worker_pid(server.pid), args)
    targets = [target("worker RSS after expiry / fresh", result["ratio_after_over_fresh"],
                      RSS_RATIO_GOAL, at_most=True)]
    settings = {"jobs": args.jobs, "server_env": env, "connections": args.connections}
    document = results_document("memory", invocation("bench_memory", argv), settings,
                                {**result, "targets": targets}, watch)
    print(f"\n{tables(document)}\n\n{targets_table(targets)}")
    save_results(args.json, document)


if __name__ == "__main__":
    main()
