"""Bodies gunicorn cannot read, or that end short: a 400 envelope, logged at INFO,
never a 500 and never a request run on part of its body.

gunicorn finds a malformed chunk only while the app reads the body, inside the view,
so these go through a real gunicorn on raw sockets.
"""
from __future__ import annotations

import json

import pytest

from tests.servers import wait_for
from tests.transports import parse_answer, raw_exchange

BODY = b'{"number": 17}'
CHUNKED = "Transfer-Encoding: chunked"
FRAMINGS = {
    "size zz": (CHUNKED, b"zz\r\n" + BODY + b"\r\n0\r\n\r\n"),
    "size -1": (CHUNKED, b"-1\r\n" + BODY + b"\r\n0\r\n\r\n"),
    "size 0xd": (CHUNKED, b"0xd\r\n" + BODY + b"\r\n0\r\n\r\n"),
    "size +e": (CHUNKED, b"+e\r\n" + BODY + b"\r\n0\r\n\r\n"),
    "size empty": (CHUNKED, b"\r\n" + BODY + b"\r\n0\r\n\r\n"),
    "size past the body": (CHUNKED, b"ffffffffffffffffffff\r\n" + BODY + b"\r\n0\r\n\r\n"),
    "missing terminator": (CHUNKED, b"2\r\n" + BODY + b"\r\n0\r\n\r\n"),
    "bare LF": (CHUNKED, b"e\n" + BODY + b"\n0\n\n"),
    "bad extension": (CHUNKED, b"e;\x00\r\n" + BODY + b"\r\n0\r\n\r\n"),
    "bad trailer": (CHUNKED, b"e\r\n" + BODY + b"\r\n0\r\nno colon\r\n\r\n"),
    "no last chunk": (CHUNKED, b"e\r\n" + BODY + b"\r\n"),
    "short of Content-Length": (f"Content-Length: {len(BODY) + 1}", BODY),
}


def post_framed(port: int, path: str, framing: str, body: bytes, method: str = "POST"
                ) -> tuple[int, dict[str, str], bytes]:
    """Send `body` as is, with the `framing` header, and close the sending side."""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n\r\n").encode()
    raw = raw_exchange(port, head + body, half_close=True)
    assert raw.count(b"HTTP/1.1 ") == 1, f"one request, one answer: {raw!r}"
    return parse_answer(raw)


@pytest.mark.parametrize("framing", FRAMINGS, ids=str)
@pytest.mark.parametrize("path", ["/invoke", "/jobs"])
def test_a_malformed_body_is_a_400_envelope_not_a_500(service, framing, path):
    status, headers, body = post_framed(service.port, path, *FRAMINGS[framing])
    assert status == 400, body
    assert headers["content-type"].startswith("application/json")
    assert headers["connection"] == "close"  # the rest of the stream cannot be trusted
    envelope = json.loads(body)
    error = envelope["detail"] if path == "/jobs" else envelope
    assert error["error"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == "body"
    assert error["request_id"] == headers["x-request-id"]
    assert_logged_at_info(service, headers["x-request-id"])


def assert_logged_at_info(service, request_id: str) -> None:
    lines = wait_for(lambda: [line for line in service.json_lines()
                              if line.get("request_id") == request_id],
                     message="the request's log lines")  # written every 0.1 s
    assert all(line["level"] == "INFO" for line in lines), lines
    assert "Traceback" not in service.output()


@pytest.mark.parametrize("framing", ["size zz", "no last chunk", "short of Content-Length"])
@pytest.mark.parametrize("method, path, status", [
    ("GET", "/healthz", 200), ("POST", "/healthz", 405), ("POST", "/nowhere", 404),
])
def test_a_body_the_app_leaves_unread_closes_the_connection(service, framing, method, path,
                                                            status):
    """Left open, gunicorn reads the body after the answer, with no deadline, and answers
    a malformed one a second time on the same connection."""
    got, headers, _ = post_framed(service.port, path, *FRAMINGS[framing], method=method)
    assert got == status
    assert headers["connection"] == "close"
    assert_logged_at_info(service, headers["x-request-id"])


def test_a_request_gunicorn_refuses_is_one_json_400_logged_at_info(service):
    """Content-Length beside chunked (request smuggling) is gunicorn's own refusal: its
    'Invalid request' line is a client's mistake, not a WARNING for an operator."""
    status, _, body = parse_answer(raw_exchange(
        service.port, b"POST /invoke HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        half_close=True))
    assert status == 400
    assert json.loads(body)["error"] == "BAD_REQUEST"
    refusals = wait_for(lambda: [line for line in service.json_lines()
                                 if "Invalid request" in line["message"]
                                 and "content-length" in line["message"].lower()],
                        message="gunicorn's line for the refusal")
    assert [line["level"] for line in refusals] == ["INFO"]
