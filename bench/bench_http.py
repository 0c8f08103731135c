"""HTTP throughput and latency of our service against the bare Flask floor.

The floor (bench/bare_flask.py) makes the same algorithm call with nothing around it;
both run under the same gunicorn command and settings (gunicorn.conf.py: one gthread
worker with 8 threads in the embedded default). The ratio ours/floor is what our
validation, envelopes, request ids, metrics and JSON logs cost per request.

Scenarios: POST /invoke {"number": 1000003} and GET /healthz on both servers, and
GET /jobs/{id} of one completed job on ours (the floor has no jobs). Each scenario
runs several rounds, alternating which server goes first, so drift in machine speed
hits both alike; the table shows per-round requests/s and the medians.

wrk and the server share the machine's cores (2 on the reference machine), so the
absolute figures are lower than on a dedicated load generator; the ratio is the point.
Rounds on these shared machines swing by ±15 % as other work takes the CPUs, so each
round also reads the gunicorn worker's CPU time (/proc/<pid>/stat) and divides it by
the responses: CPU µs per request, which that noise hardly moves. Its ratio,
floor/ours, is the throughput ratio a quiet, CPU-bound machine would show.

    python -m bench.bench_http              # 5 rounds x 6 s per server and scenario (~3 min)
    python -m bench.bench_http --quick      # 1 round x 1 s: a smoke run
    python -m bench.bench_http --rounds 3 --seconds 5 --connections 32
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import shlex
from dataclasses import dataclass

from tests.servers import Service
from bench.common import (
    INVOKE_BODY,
    SERVER_APPS,
    Load,
    WrkResult,
    add_json_argument,
    add_wrk_arguments,
    alternating_rounds,
    completed_job,
    invocation,
    markdown_table,
    parse_quick,
    ratio,
    results_document,
    run_wrk,
    worker_pid,
    running_server,
    save_results,
    server_command,
    summarise_runs,
    target,
    targets_table,
    warn_if_busy,
    wrk_path,
    wrk_settings,
)

INVOKE_RATIO_GOAL = 0.8  # the issue: our /invoke at >= 0.8x the floor's throughput


@dataclass(frozen=True)
class Scenario:
    name: str
    load: Load
    servers: tuple[str, ...]
    label: str = ""  # how tables name the request; the load's method and path by default


def scenarios(job_id: str) -> tuple[Scenario, ...]:
    """What is measured; `job_id` names a completed job on ours (the floor has no jobs)."""
    return (
        Scenario("invoke", Load("POST", "/invoke", INVOKE_BODY), ("ours", "floor")),
        Scenario("healthz", Load("GET", "/healthz"), ("ours", "floor")),
        Scenario("get_job", Load("GET", f"/jobs/{job_id}"), ("ours",), "GET /jobs/{id}"),
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_wrk_arguments(parser, rounds=5, seconds=6)
    parser.add_argument("--warmup", type=int, default=2,
                        help="unrecorded seconds of load per server and scenario first (default 2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 1 s, no warm-up")
    add_json_argument(parser, "http")
    return parse_quick(parser, argv, {"rounds": 1, "seconds": 1, "warmup": 0}, ("rounds", "seconds"))


def measure(scenario: Scenario, servers: dict[str, Service], args: argparse.Namespace) -> dict:
    """Alternating rounds of one scenario on each of its servers."""
    workers = {name: worker_pid(server.pid) for name, server in servers.items()}

    def once(server: str, seconds: int) -> WrkResult:
        return run_wrk(servers[server].base_url, scenario.load, seconds, args.connections,
                       args.threads, worker=workers[server])

    if args.warmup:
        for server in scenario.servers:
            once(server, args.warmup)
    runs = alternating_rounds({server: functools.partial(once, server, args.seconds)
                               for server in scenario.servers}, args.rounds, scenario.name)
    result = {"request": scenario.label or scenario.load.label, "body": scenario.load.body,
              "servers": {server: summarise_runs(runs[server]) for server in scenario.servers}}
    if "floor" in scenario.servers:
        result["ratio_ours_over_floor"] = ratio(runs["ours"], runs["floor"])
    return result


def configurations(scenarios: dict[str, dict]) -> list[dict]:
    """One row per (scenario, server): what report.py tabulates and plots."""
    rows = []
    for scenario in scenarios.values():
        for server, summary in scenario["servers"].items():
            rows.append({"name": f"{scenario['request']} ({server})",
                         **summary["median"]})
    return rows


def tables(document: dict) -> str:
    """The results as Markdown: for the terminal and for BENCHMARKS.md."""
    rows = []
    for scenario in document["scenarios"].values():
        for server, summary in scenario["servers"].items():
            m = summary["median"]
            per_round = " ".join(f"{r['rps']:.0f}" for r in summary["rounds"])
            rows.append([scenario["request"], server, m["rps"], m["p50_ms"],
                         m["p99_ms"], per_round, m.get("cpu_us_per_request", ""),
                         summary["non_2xx"] + summary["socket_errors"]])
        if "ratio_ours_over_floor" in scenario:
            r = scenario["ratio_ours_over_floor"]
            cpu = f"{r['cpu']:.3f} (floor/ours)" if "cpu" in r else ""
            rows.append(["", "**ours/floor**", f"**{r['rps']:.3f}**", "", f"{r['p99_ms']:.2f}",
                         " ".join(f"{x:.2f}" for x in r["per_round_rps"]), cpu, ""])
    return markdown_table(["request", "server", "req/s (median)", "p50 ms", "p99 ms",
                           "req/s per round", "worker CPU µs/request", "errors"], rows)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wrk_path()
    watch = warn_if_busy()
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(running_server(name)) for name in SERVER_APPS}
        results = {scenario.name: measure(scenario, servers, args)
                   for scenario in scenarios(completed_job(servers["ours"].base_url))}
    invoke_ratio = results["invoke"]["ratio_ours_over_floor"]
    targets = [target("/invoke throughput, ours / bare Flask floor", invoke_ratio["rps"],
                      INVOKE_RATIO_GOAL),
               target("/invoke worker CPU per request, floor / ours", invoke_ratio["cpu"],
                      INVOKE_RATIO_GOAL)]
    settings = {**wrk_settings(args), "warmup_seconds": args.warmup,
                "servers": {name: shlex.join(server_command(app)) for name, app in SERVER_APPS.items()}}
    document = results_document("http", invocation("bench_http", argv), settings,
                                {"scenarios": results, "configurations": configurations(results),
                                 "targets": targets}, watch)
    print(f"\n{tables(document)}\n\n{targets_table(targets)}")
    save_results(args.json, document)


if __name__ == "__main__":
    main()
