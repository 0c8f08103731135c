"""The embedded default's job threads: each job runs once, and shutdown accounts for every job."""
from __future__ import annotations

import threading
from collections import Counter

from app.jobs.job_threads import JobThreads

TIMEOUT = 10


class Recorder:
    """A run function that records job ids; jobs named in `hold` wait for `release`."""

    def __init__(self, hold: set[str] = frozenset(), fail: set[str] = frozenset()) -> None:
        self.hold, self.fail = hold, fail
        self.release = threading.Event()
        self.started: Counter[str] = Counter()
        self.finished: list[str] = []
        self.changed = threading.Condition()

    def __call__(self, job_id: str) -> None:
        with self.changed:
            self.started[job_id] += 1
            self.changed.notify_all()
        if job_id in self.hold:
            assert self.release.wait(TIMEOUT)
        if job_id in self.fail:
            raise RuntimeError(f"{job_id} broke")
        with self.changed:
            self.finished.append(job_id)
            self.changed.notify_all()

    def wait(self, predicate) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, TIMEOUT)


def test_every_job_runs_exactly_once():
    run = Recorder()
    threads = JobThreads(3, run, "test")
    ids = [f"job-{i}" for i in range(200)]
    for job_id in ids:
        threads.submit(job_id)
    run.wait(lambda: len(run.finished) == len(ids))
    assert sorted(run.finished) == sorted(ids)
    assert set(run.started.values()) == {1}
    assert threads.stop() == []
    assert threads.wait_running(TIMEOUT) == set()


def test_stop_hands_back_waiting_jobs_and_reports_the_running_ones():
    run = Recorder(hold={"slow"})
    threads = JobThreads(1, run, "test")
    for job_id in ("slow", "next-1", "next-2"):
        threads.submit(job_id)
    run.wait(lambda: run.started["slow"] == 1)
    assert threads.waiting() == 2

    assert threads.stop() == ["next-1", "next-2"]
    assert threads.waiting() == 0
    assert threads.wait_running(0.05) == {"slow"}, "still running when the wait ends"
    threads.submit("after-stop")
    run.release.set()
    assert threads.wait_running(TIMEOUT) == set()
    assert run.finished == ["slow"], "nothing handed back, or submitted later, ran"


def test_a_failing_run_does_not_cost_a_thread(caplog):
    run = Recorder(fail={"broken"})
    threads = JobThreads(1, run, "test")
    threads.submit("broken")
    threads.submit("fine")
    run.wait(lambda: run.finished == ["fine"])
    assert any(r.message == "job thread error" and r.job_id == "broken" for r in caplog.records)
