"""Limits (app/web/limits.py): /invoke's in-flight slots, job params size, over-long headers.

The in-flight tests hold a slot with `Gate`, an algorithm that waits until the test
opens it (a file appears), so nothing depends on timing: no sleep, no race.
"""
from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from marshmallow import Schema, fields

from app.factory import create_app
from app.algorithms.base import Algorithm
from app.algorithms.registry import ALGORITHMS
from app.errors import InvalidInput
from app.validation import check_params_size, json_size
from tests.servers import Service, wait_for
from tests.transports import (
    ClientTransport, HttpTransport, Reply, Transport, parse_answer, raw_exchange,
)

GATE_TIMEOUT_SECONDS = 30


class GateParams(Schema):
    directory = fields.String(load_default=None)


def wait_at_gate(params: dict[str, Any]) -> dict[str, Any]:
    """Marks `entered` in the directory, then waits for `open` there; no directory: passes."""
    if params["directory"] is None:
        return {"waited": False}
    gate = Path(params["directory"])
    (gate / "entered").touch()
    deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
    while not (gate / "open").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never opened the gate")
        time.sleep(0.01)
    return {"waited": True}


GATE = Algorithm("Gate", "0.1.0", "Holds an /invoke slot until the test opens the gate",
                 GateParams(), wait_at_gate, example={})
GATE_SPEC = "tests.test_limits:GATE"


class HeldSlot:
    """One /invoke/Gate request, in a thread, holding its slot until the `with` block ends."""

    def __init__(self, transport: Transport, directory: Path) -> None:
        self.directory = directory
        self.reply: Reply | None = None
        self.thread = threading.Thread(target=self._send, args=(transport,), daemon=True)

    def _send(self, transport: Transport) -> None:
        self.reply = transport.post_json("/invoke/Gate", {"directory": str(self.directory)})

    def __enter__(self) -> "HeldSlot":
        self.thread.start()
        wait_for(lambda: (self.directory / "entered").exists(), message="the gate to be entered")
        return self

    def __exit__(self, *exc: object) -> None:
        (self.directory / "open").touch()
        self.thread.join(GATE_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def one_slot_service():
    with Service({"MAX_INFLIGHT_INVOKE": "1", "EXTRA_ALGORITHMS": GATE_SPEC}) as running:
        yield running


@pytest.fixture(params=["test_client", "gunicorn"])
def one_slot(request):
    """A way to make more transports to one service that runs one /invoke at a time."""
    if request.param == "test_client":
        app = request.getfixturevalue("make_app")({"max_inflight_invoke": 1},
                                                  algorithms={**ALGORITHMS, "Gate": GATE})
        return lambda: ClientTransport(app.test_client())
    base_url = request.getfixturevalue("one_slot_service").base_url
    return lambda: HttpTransport(base_url)


def test_a_busy_invoke_is_503_at_once_with_retry_after(one_slot, tmp_path):
    caller = one_slot()
    with HeldSlot(one_slot(), tmp_path) as held:
        for path in ("/invoke", "/invoke/PrimeChecker"):
            reply = caller.post_json(path, {"number": 17})
            assert reply.status == 503
            assert reply.header("Retry-After") == "1"
            body = reply.json()
            assert body["error"] == "SERVICE_UNAVAILABLE"
            assert body["request_id"] == reply.header("X-Request-Id")
        # The other routes do not wait for /invoke's slots.
        assert caller.get("/healthz").status == 200
        assert caller.get("/metrics").status == 200
    assert held.reply is not None and held.reply.status == 200
    assert held.reply.json()["result"] == {"waited": True}
    assert caller.post_json("/invoke", {"number": 17}).status == 200, "the slot was given back"


@pytest.mark.parametrize("payload, status", [
    ({"number": "abc"}, 400),      # refused by validation
    ({"number": 2**70}, 400),     # refused by the range check
], ids=["invalid", "out-of-range"])
def test_a_refused_request_gives_its_slot_back(one_slot, payload, status):
    caller = one_slot()
    for _ in range(3):
        assert caller.post_json("/invoke", payload).status == status
    assert caller.post_json("/invoke", {"number": 17}).status == 200


def test_a_failing_algorithm_gives_its_slot_back():
    def explode(params):
        raise RuntimeError("boom")

    broken = Algorithm("Broken", "0.1.0", "always fails", Schema(), explode, example={})
    app = create_app({"log_level": "CRITICAL", "max_inflight_invoke": 1},
                     algorithms={**ALGORITHMS, "Broken": broken})
    client = app.test_client()
    for _ in range(3):
        assert client.post("/invoke/Broken", json={}).status_code == 500
    assert client.post("/invoke", json={"number": 17}).status_code == 200



@pytest.mark.parametrize("field", ["max_inflight_invoke", "max_params_bytes"])
def test_a_limit_below_one_is_refused_at_start(field):
    with pytest.raises(ValueError):
        create_app({"log_level": "WARNING", field: 0})


def test_params_up_to_the_limit_pass():
    params = {"text": "x" * 100}
    check_params_size(params, json_size(params))


def test_params_over_the_limit_are_a_validation_error_on_params():
    params = {"text": "é" * 60}  # two UTF-8 bytes each: the limit is in bytes
    limit = json_size(params) - 1
    assert limit > len(json.dumps(params, ensure_ascii=False))
    with pytest.raises(InvalidInput) as refused:
        check_params_size(params, limit)
    error = refused.value
    assert error.details["field"] == "params"
    assert error.details["max_bytes"] == limit
    assert len(str(error.details["value"])) < 200, "the echo is truncated"


def test_post_jobs_refuses_params_over_the_limit():
    app = create_app({"log_level": "WARNING", "max_params_bytes": 1024})
    reply = app.test_client().post(
        "/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 17, "pad": "x" * 2000}})
    assert reply.status_code == 400
    assert reply.get_json()["detail"]["details"]["field"] == "params"


@pytest.mark.parametrize("head, status, code", [
    ("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 9000 + "\r\n\r\n",
     431, "REQUEST_HEADER_FIELDS_TOO_LARGE"),
    ("GET /healthz HTTP/1.1\r\nHost: x\r\n" + "".join(f"X-H{i}: v\r\n" for i in range(150)) + "\r\n",
     431, "REQUEST_HEADER_FIELDS_TOO_LARGE"),
    ("GET /" + "a" * 9000 + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, "URI_TOO_LONG"),
], ids=["long-header", "too-many-headers", "long-request-line"])
def test_oversized_requests_answer_json(service, head, status, code):
    got, _, body = parse_answer(raw_exchange(service.port, head.encode("latin-1")))
    assert got == status
    envelope = json.loads(body)
    assert envelope["error"] == code
    assert set(envelope) == {"error", "message", "details", "request_id"}


# Valid JSON up to the 1 MiB limit, garbage after it: cut at the limit, it would run.
OVER_LIMIT_CHUNKED = b'{"number":17}' + b" " * (3 * 1024 * 1024) + b"THIS IS NOT JSON"


def _chunks(data: bytes, size: int = 64 * 1024):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_a_chunked_body_over_the_limit_is_413_under_gunicorn(service):
    reply = requests.post(service.url("/invoke"), data=_chunks(OVER_LIMIT_CHUNKED),
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert reply.request.headers.get("Transfer-Encoding") == "chunked"
    assert reply.status_code == 413
    assert reply.json()["error"] == "PAYLOAD_TOO_LARGE"


def post_chunked(client, path: str, body: bytes):
    """What gunicorn hands the app for a chunked body: no length, a self-terminating stream."""
    return client.post(path, input_stream=io.BytesIO(body),
                       headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})


@pytest.mark.parametrize("path", ["/invoke", "/jobs"])
def test_a_chunked_body_over_the_limit_is_413(client, path):
    reply = post_chunked(client, path, OVER_LIMIT_CHUNKED)
    assert reply.status_code == 413
    body = reply.get_json()
    assert (body["detail"] if path == "/jobs" else body)["error"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_of_exactly_the_limit_is_read():
    body = b'{"number":17}'
    app = create_app({"log_level": "WARNING", "max_content_length": len(body)})
    assert post_chunked(app.test_client(), "/invoke", body).status_code == 200
