"""Fixtures in the style of Flask's tutorial: `app` and `client` for in-process tests,
plus `service`, the real gunicorn process the Procfile starts.

A test run leaves nothing behind, and `leaves_nothing_behind` fails the run when it
does: no child process (every one carries RUN_MARK in its environment, so even an
orphan is found), no thread an in-process app started, no fs-* file in the temp
directory. The run gets a temp directory of its own, so other runs on the same
machine cannot confuse the check.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pytest
from flask import Flask

from app.factory import create_app, shutdown
from app.jobs.embedded import THREAD_PREFIX
from tests.servers import RedisServer, ScaleOut, Service, remove_temp_files, wait_for
from tests.transports import ClientTransport, HttpTransport

RUN_MARK = "FS_TEST_RUN"
os.environ[RUN_MARK] = uuid.uuid4().hex  # inherited by every process the tests start
# Under pytest-xdist each worker process imports this file with the controller's
# environment: it gets a mark of its own (so its leftover check sees only its own
# children) and a temp directory inside the controller's, named short because
# Chromium's socket path inside it must stay under 108 bytes.
RUN_TMP = tempfile.mkdtemp(prefix=f"{os.environ.get('PYTEST_XDIST_WORKER', 'fstests')}-")
os.environ["TMPDIR"] = tempfile.tempdir = RUN_TMP
LEFTOVER_WAIT_SECONDS = 15


def marked_processes() -> list[str]:
    """Command lines of live processes, other than this one, started by this test run."""
    found = []
    mark = f"{RUN_MARK}={os.environ[RUN_MARK]}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if mark in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def app_threads() -> list[str]:
    """Threads an in-process app started, and any other non-daemon thread but this one."""
    return [t.name for t in threading.enumerate()
            if t is not threading.main_thread() and (t.name.startswith(THREAD_PREFIX) or not t.daemon)]


def leftover_files() -> list[str]:
    return sorted(p.name for p in Path(RUN_TMP).glob("fs-*"))


@pytest.fixture(scope="session", autouse=True)
def leaves_nothing_behind() -> Iterator[None]:
    """Torn down last: every process, app and file fixture has been stopped by then."""
    yield
    remove_temp_files()
    for what, find in (("processes", marked_processes), ("threads", app_threads),
                       ("temp files", leftover_files)):
        try:
            wait_for(lambda: not find(), LEFTOVER_WAIT_SECONDS, interval=0.2)
        except AssertionError:
            pytest.fail(f"the test run left {what} behind: {find()}", pytrace=False)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's own temp directory goes whatever happened, even if no test ran."""
    shutil.rmtree(RUN_TMP, ignore_errors=True)


@pytest.fixture(autouse=True)
def root_log_level() -> Iterator[None]:
    """An app sets the root logger's level (LOG_LEVEL) for its whole process; it is put
    back after each test, so no test depends on the order the tests run in."""
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    """create_app, with every app it made shut down (threads stopped) after the test."""
    made: list[Flask] = []

    def make(config: Mapping[str, Any] | None = None, **kwargs: Any) -> Flask:
        made.append(create_app({"log_level": "WARNING", **(config or {})}, **kwargs))
        return made[-1]

    yield make
    for app in made:
        shutdown(app)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def service():
    """The embedded default, started as the Procfile's `web:` line does."""
    with Service() as running:
        yield running


@pytest.fixture(params=["test_client", "gunicorn"])
def http(request):
    """The same requests, in-process and over HTTP to the real gunicorn service."""
    if request.param == "test_client":
        return ClientTransport(request.getfixturevalue("client"))
    return HttpTransport(request.getfixturevalue("service").base_url)


@pytest.fixture(scope="session")
def redis_server():
    with RedisServer() as server:
        yield server


TEST_ALGORITHMS = ",".join(f"tests.example_algorithm:{name}"
                           for name in ("SLEEP", "NAP", "POSITIVE_ONLY"))
# The test receivers listen on loopback, which webhooks refuse unless told otherwise.
JOBS_ENV = {"EXTRA_ALGORITHMS": TEST_ALGORITHMS, "WEBHOOK_ALLOW_PRIVATE": "1"}


@pytest.fixture
def jobs_app(make_app):
    return make_app({"webhook_allow_private": True,
                     "extra_algorithms": tuple(TEST_ALGORITHMS.split(","))})


@pytest.fixture(scope="session")
def jobs_service():
    """The embedded default under gunicorn, with the test algorithms and loopback webhooks."""
    with Service(JOBS_ENV) as running:
        yield running


@pytest.fixture(scope="session")
def scale_out():
    """Scale-out mode with the test algorithms: Redis, 3 web workers, 2 job workers, 1 webhook."""
    with ScaleOut(JOBS_ENV) as deployment:
        yield deployment


@pytest.fixture(params=["embedded", "scale_out"])
def deployment(request):
    """A running deployment in each mode, so the job API tests run against both."""
    return request.getfixturevalue("jobs_service" if request.param == "embedded" else "scale_out")


@pytest.fixture(params=["test_client", "embedded", "scale_out"])
def jobs_http(request):
    if request.param == "test_client":
        return ClientTransport(request.getfixturevalue("jobs_app").test_client())
    fixture = "jobs_service" if request.param == "embedded" else "scale_out"
    return HttpTransport(request.getfixturevalue(fixture).base_url)
