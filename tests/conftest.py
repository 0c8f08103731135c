"""Fixtures in the style of Flask's tutorial: `app` and `client` for in-process tests,
plus `service`, the real gunicorn process the Procfile starts."""
from __future__ import annotations

import pytest

from app import create_app
from tests.servers import RedisServer, ScaleOut, Service
from tests.transports import ClientTransport, HttpTransport


@pytest.fixture
def app():
    return create_app({"log_level": "WARNING"})


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
def jobs_app():
    return create_app({"log_level": "WARNING", "webhook_allow_private": True,
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
