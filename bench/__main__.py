"""Every benchmark, then the report: `python -m bench` (about 13 minutes on 2 cores).

Each benchmark runs in its own process, one after another (they would compete for
the CPUs otherwise), writing bench/results/<name>.json; then bench/report.py turns
those files into BENCHMARKS.md and bench/throughput.png.

    python -m bench                      # the full run behind BENCHMARKS.md
    python -m bench --quick              # every script for a second or so, into a temporary
                                         # directory: the committed report stays as it is
    python -m bench --skip algorithm     # reuse bench/results/algorithm.json as it is
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT

# name -> the command that runs it (from the repository root); all take --quick.
BENCHMARKS = {
    "algorithm": ["bench/bench_algorithm.py"],
    "http": ["-m", "bench.bench_http"],
    "jobs-compare": ["-m", "bench.bench_jobs", "--mode", "compare"],
    "memory": ["-m", "bench.bench_memory"],
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run of every benchmark")
    parser.add_argument("--skip", action="append", default=[], choices=sorted(BENCHMARKS),
                        help="leave a benchmark out, keeping its last results (repeatable)")
    return parser.parse_args(argv)


def run(arguments: list[str]) -> None:
    command = [sys.executable, *arguments]
    print(f"\n$ python {' '.join(arguments)}", flush=True)
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, check=True)
    print(f"({time.monotonic() - started:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    quick = Path(tempfile.mkdtemp(prefix="bench-quick-")) if args.quick else None
    for name, arguments in BENCHMARKS.items():
        if name not in args.skip:
            run([*arguments, *(["--quick", "--json", str(quick / f"{name}.json")] if quick else [])])
    report = (["--results", str(quick), "--output", str(quick / "BENCHMARKS.md"),
               "--plot", str(quick / "throughput.png")] if quick else [])
    run(["-m", "bench.report", *report])


if __name__ == "__main__":
    main()
