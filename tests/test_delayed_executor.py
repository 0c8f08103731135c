"""The embedded default's webhook pool: later tasks wait on a timer, and closing it
names every task it drops or leaves running."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from app.jobs.delayed_executor import DelayedExecutor
from tests.servers import wait_for


@pytest.fixture
def executor():
    pool = DelayedExecutor(1, "fs-test-pool")
    yield pool
    pool.close()


def test_a_delayed_task_runs_after_its_delay(executor):
    ran = []
    start = time.monotonic()
    executor.submit("later", lambda: ran.append(time.monotonic() - start), 0.2)
    executor.submit("now", lambda: ran.append(0.0))
    assert executor.close(time.monotonic() + 5) == ([], [])
    assert ran[0] == 0.0 and ran[1] >= 0.2


def test_close_names_what_it_drops_and_what_still_runs(executor):
    started, release = threading.Event(), threading.Event()
    executor.submit("busy", lambda: started.set() or release.wait())
    executor.submit("queued", lambda: None)
    executor.submit("delayed", lambda: None, 60)
    assert started.wait(5)
    dropped, running = executor.close()
    release.set()
    assert sorted(dropped) == ["delayed", "queued"] and running == ["busy"]
    with pytest.raises(RuntimeError):
        executor.submit("after", lambda: None)


def test_a_failing_task_is_logged_with_its_label(executor, caplog):
    def broken() -> None:
        raise ValueError("boom")

    executor.submit("job-1", broken)
    executor.close(time.monotonic() + 5)
    wait_for(lambda: any(r.levelno == logging.ERROR and r.label == "job-1" for r in caplog.records),
             message="the failure to be logged")
