"""What the bench scripts share: servers, wrk, percentiles, tables, results files.

Servers start exactly as the tests start them (tests/servers.py: the Procfile's
`web:` line on a free loopback port); the floor swaps only the WSGI app in that
command, so both run under identical gunicorn settings.

All load goes to 127.0.0.1 and every load run is bounded in time (wrk -d).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

import requests

from tests.servers import ROOT, Service, procfile_command, wait_for

RESULTS_DIR = ROOT / "bench" / "results"
OURS = "wsgi:app"  # the WSGI app in the Procfile's web: line
FLOOR = "bench.bare_flask:app"
SERVER_APPS = {"ours": OURS, "floor": FLOOR}

PRIME = 1_000_003  # the input: a prime, which FLINT decides in microseconds
INVOKE_BODY = {"number": PRIME}
JOB_BODY = {"algorithm": "PrimeChecker", "params": INVOKE_BODY}

WRK_INSTALL_HINT = ("wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu package "
                    "'wrk'); scripts/test installs it in CI")
# wrk -t2 -c16: a thread per core (wrk shares the cores with the server) and twice as
# many connections as the server's 8 gthread threads, so it always has work queued.
DEFAULT_WRK_THREADS = 2
DEFAULT_CONNECTIONS = 16


# -- servers ---------------------------------------------------------------------------

def server_command(wsgi_app: str) -> list[str]:
    """The Procfile's web command with `wsgi_app` in place of ours: same gunicorn and config."""
    command = procfile_command("web")
    if OURS not in command:
        raise RuntimeError(f"the Procfile's web: line no longer serves {OURS}: {command}")
    return [wsgi_app if part == OURS else part for part in command]


@contextlib.contextmanager
def running_server(name: str, env: dict[str, str] | None = None) -> Iterator[Service]:
    """Start server `name` ("ours" or "floor"); stop it and delete its log afterwards.

    The log is kept, and its path printed, when the block fails: it holds the reason.
    """
    service = Service(env)
    service.command = server_command(SERVER_APPS[name])
    try:
        yield service.start()
    except BaseException:
        print(f"{name} server log kept at {service.log_file.name}", file=sys.stderr)
        service.stop()
        raise
    service.stop()
    os.unlink(service.log_file.name)


def worker_pid(master_pid: int) -> int:
    """The one gunicorn worker process (embedded mode runs exactly one), found in /proc."""
    def child() -> int | None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                # Fields after the command name, which is in parentheses and may hold spaces.
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[1]) == master_pid:
                    return int(stat.parent.name)
        return None

    return wait_for(child, timeout=10, message=f"a worker of gunicorn master {master_pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, user and system (utime + stime in /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> dict[str, int]:
    """Resident memory of a process in KiB: total (VmRSS), and its anonymous part (RssAnon)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "VmHWM"):
            fields[key] = int(value.split()[0])
    return {"rss_kib": fields["VmRSS"], "rss_anon_kib": fields["RssAnon"],
            "peak_rss_kib": fields["VmHWM"]}


def series(name: str, labels: str = "") -> str:
    """A series as /metrics writes it: series("jobs_active", 'state="pending"')."""
    return f"{name}{{{labels}}}" if labels else name


JOBS_CREATED = series("jobs_created_total", 'algorithm="PrimeChecker"')
JOBS_PENDING = series("jobs_active", 'state="pending"')
JOBS_RUNNING = series("jobs_active", 'state="running"')


def metrics(base_url: str) -> dict[str, float]:
    """Every sample of our /metrics by series; a series nobody has written yet is absent."""
    samples = {}
    for line in requests.get(base_url + "/metrics", timeout=10).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def jobs_in_flight(base_url: str) -> float:
    """Jobs waiting or running (the jobs_active gauge)."""
    samples = metrics(base_url)
    return samples.get(JOBS_PENDING, 0.0) + samples.get(JOBS_RUNNING, 0.0)


def wait_until_jobs_drained(base_url: str, timeout: float) -> None:
    wait_for(lambda: jobs_in_flight(base_url) == 0, timeout=timeout, interval=0.2,
             message="the job queue to drain")


def job_status(base_url: str, job_id: str, session: requests.Session | None = None) -> str | None:
    """The job's status, or None once it has expired (404)."""
    reply = (session or requests).get(f"{base_url}/jobs/{job_id}", timeout=10)
    return None if reply.status_code == 404 else reply.json()["status"]


def completed_job(base_url: str) -> str:
    """Create one job and wait until it has completed; its id."""
    reply = requests.post(base_url + "/jobs", json=JOB_BODY, timeout=10)
    reply.raise_for_status()
    job_id = reply.json()["job_id"]
    wait_for(lambda: job_status(base_url, job_id) == "completed", message=f"job {job_id} to complete")
    return job_id


# -- wrk -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Load:
    """What wrk sends: one request, repeated."""

    method: str
    path: str
    body: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class WrkResult:
    requests: int       # responses received, any status
    ok: int             # of which 2xx/3xx
    non_2xx: int        # 4xx/5xx (e.g. 503 when the job queue is full)
    socket_errors: int  # connect/read/write errors and timeouts
    seconds: float
    rps: float          # ok responses per second
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # The server worker's CPU time per response (µs), when run_wrk was given its pid:
    # unlike req/s it does not move when wrk or another process takes the CPUs.
    cpu_us_per_request: float | None = None


_LUA_TEMPLATE = """\
wrk.method = "{method}"
{body}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {{"requests":%d,"duration_us":%d,"status":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50":%.1f,"p90":%.1f,"p99":%.1f,"max":%.1f}}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
_LUA_BODY = 'wrk.body = [==[{json}]==]\nwrk.headers["Content-Type"] = "application/json"'


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(WRK_INSTALL_HINT)
    return path


def wrk_version() -> str:
    done = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True)
    return (done.stdout + done.stderr).splitlines()[0].split(" Copyright")[0]


def lua_script(load: Load) -> str:
    """wrk's request, and a done() that prints the figures as one JSON line."""
    body = _LUA_BODY.format(json=json.dumps(load.body)) if load.body is not None else ""
    return _LUA_TEMPLATE.format(method=load.method, body=body)


def run_wrk(base_url: str, load: Load, seconds: int, connections: int = DEFAULT_CONNECTIONS,
            threads: int = DEFAULT_WRK_THREADS,
            stop_when: Callable[[], bool] | None = None,
            worker: int | None = None) -> WrkResult:
    """One wrk run of `seconds` (at least 1: wrk's resolution), or until `stop_when()` is true.

    `stop_when` is polled every 0.2 s; wrk is then interrupted (SIGINT), which it
    answers by reporting what it measured so far. With `worker` (a server process's
    pid), the result also says how much of that process's CPU time each response took.
    """
    threads = min(threads, connections)
    with tempfile.NamedTemporaryFile("w", prefix="bench-", suffix=".lua") as script:
        script.write(lua_script(load))
        script.flush()
        command = [wrk_path(), f"-t{threads}", f"-c{connections}", f"-d{max(1, seconds)}s",
                   "--timeout", "10s", "-s", script.name, base_url + load.path]
        cpu_before = cpu_seconds(worker) if worker is not None else 0.0
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        deadline = time.monotonic() + max(1, seconds) + 60
        while process.poll() is None:
            if stop_when is not None and stop_when():
                process.send_signal(signal.SIGINT)
                stop_when = None
            if time.monotonic() > deadline:
                process.kill()
            time.sleep(0.2)
        stdout, stderr = process.communicate()
        cpu_used = cpu_seconds(worker) - cpu_before if worker is not None else None
    marker = re.search(r"^WRK_JSON (.*)$", stdout, re.MULTILINE)
    if process.returncode != 0 or marker is None:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{stdout}\n{stderr}")
    raw = json.loads(marker.group(1))
    elapsed = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["status"]
    return WrkResult(
        requests=raw["requests"], ok=ok, non_2xx=raw["status"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        seconds=round(elapsed, 3), rps=round(ok / elapsed, 1),
        p50_ms=raw["p50"] / 1e3, p90_ms=raw["p90"] / 1e3, p99_ms=raw["p99"] / 1e3,
        max_ms=raw["max"] / 1e3,
        cpu_us_per_request=(round(cpu_used / raw["requests"] * 1e6, 1)
                            if cpu_used is not None and raw["requests"] else None),
    )


def alternating_rounds(arms: dict[str, Callable[[], WrkResult]], rounds: int,
                       label: str) -> dict[str, list[WrkResult]]:
    """Each arm once per round, in reverse order every other round, so drift hits all alike."""
    names = list(arms)
    runs: dict[str, list[WrkResult]] = {name: [] for name in names}
    for round_number in range(rounds):
        for name in names if round_number % 2 == 0 else names[::-1]:
            runs[name].append(arms[name]())
            print(f"  {label:<8} round {round_number + 1} {name:<6} {runs[name][-1].rps:>8.1f} req/s",
                  flush=True)
    return runs


def summarise_runs(runs: list[WrkResult]) -> dict[str, Any]:
    """Every round as measured, and the median of each figure across rounds."""
    return {
        "rounds": [asdict(run) for run in runs],
        "median": {key: median([getattr(run, key) for run in runs])
                   for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_request")
                   if getattr(runs[0], key) is not None},
        "non_2xx": sum(run.non_2xx for run in runs),
        "socket_errors": sum(run.socket_errors for run in runs),
    }


def ratio(numerator: list[WrkResult], denominator: list[WrkResult]) -> dict[str, Any]:
    """Ratio of the medians (the headline), and each round's own ratio (its spread)."""
    return {
        "rps": median([r.rps for r in numerator]) / median([r.rps for r in denominator]),
        "p99_ms": median([r.p99_ms for r in numerator]) / median([r.p99_ms for r in denominator]),
        "per_round_rps": [round(n.rps / d.rps, 3) for n, d in zip(numerator, denominator, strict=True)],
        # CPU time per response, theirs over ours: what req/s would show on a quiet machine.
        **({"cpu": median([d.cpu_us_per_request for d in denominator])
                   / median([n.cpu_us_per_request for n in numerator])}
           if numerator[0].cpu_us_per_request is not None else {}),
    }


def add_wrk_arguments(parser: argparse.ArgumentParser, rounds: int, seconds: int) -> None:
    parser.add_argument("--rounds", type=int, default=rounds,
                        help=f"measured rounds per configuration (default {rounds})")
    parser.add_argument("--seconds", type=int, default=seconds,
                        help=f"seconds per wrk run, at least 1 (default {seconds})")
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS,
                        help=f"wrk connections (default {DEFAULT_CONNECTIONS})")
    parser.add_argument("--threads", type=int, default=DEFAULT_WRK_THREADS,
                        help=f"wrk threads (default {DEFAULT_WRK_THREADS})")


def parse_quick(parser: argparse.ArgumentParser, argv: list[str] | None, quick: dict[str, Any],
                at_least_one: tuple[str, ...]) -> argparse.Namespace:
    """The scripts' arguments: with --quick, the settings in `quick` replace what was given
    (a smoke run in seconds); then each option in `at_least_one` must be 1 or more."""
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(quick)
    if any(getattr(args, name) < 1 for name in at_least_one):
        options = [f"--{name.replace('_', '-')}" for name in at_least_one]
        listed = " and ".join(filter(None, [", ".join(options[:-1]), options[-1]]))
        parser.error(f"{listed} must be at least 1")
    return args


def wrk_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections,
            "wrk_threads": args.threads, "wrk": wrk_version()}


# -- statistics, targets and tables ----------------------------------------------------

def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def quantile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the sample at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def target(name: str, value: float, goal: float, at_most: bool = False) -> dict[str, Any]:
    """A target from the issue, and whether this run met it."""
    met = value <= goal if at_most else value >= goal
    return {"name": name, "goal": f"{'≤' if at_most else '≥'} {goal:g}", "value": round(value, 3),
            "met": met}


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table that also reads well in a terminal (columns padded)."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([_row(headers, widths), rule, *(_row(row, widths) for row in cells)])


def _row(values: list[str], widths: list[int]) -> str:
    return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "met" if value else "NOT met"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# -- the machine and the results file --------------------------------------------------

def machine_facts() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kib = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.MULTILINE).group(1))
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "ram_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "gunicorn": metadata.version("gunicorn"),
        "flask": metadata.version("flask"),
        "wrk": wrk_version() if shutil.which("wrk") else None,
    }


class LoadWatch:
    """The machine's load average around a run: other work on the two cores skews results."""

    def __init__(self) -> None:
        self.before = os.getloadavg()[0]

    def report(self) -> dict[str, float]:
        return {"loadavg_1min_before": self.before, "loadavg_1min_after": os.getloadavg()[0]}


def warn_if_busy() -> LoadWatch:
    watch = LoadWatch()
    if watch.before > 0.5:
        print(f"warning: load average {watch.before:.2f} before the run; other processes "
              "share the CPU and will lower the figures", file=sys.stderr)
    return watch


def invocation(module: str, argv: list[str] | None) -> str:
    """The command that reproduces this run."""
    return shlex.join(["python", "-m", f"bench.{module}", *(sys.argv[1:] if argv is None else argv)])


def results_document(name: str, command: str, settings: dict[str, Any], body: dict[str, Any],
                     watch: LoadWatch) -> dict[str, Any]:
    """What a results file holds: what ran, where, when, and what it measured."""
    return {
        "benchmark": name,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine_facts(),
        "settings": settings,
        **watch.report(),
        **body,
    }


def save_results(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {path}")


def targets_table(targets: list[dict[str, Any]]) -> str:
    return markdown_table(["target", "goal", "measured", ""],
                          [[t["name"], t["goal"], f"{t['value']:.3f}", t["met"]] for t in targets])


def add_json_argument(parser: argparse.ArgumentParser, name: str) -> None:
    default = RESULTS_DIR / f"{name}.json"
    parser.add_argument("--json", type=Path, default=default,
                        help=f"results file (default {default.relative_to(ROOT)})")
