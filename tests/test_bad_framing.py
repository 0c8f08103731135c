"""Chunked bodies gunicorn cannot read: a 400 envelope, logged at INFO, never a 500.

gunicorn finds a malformed chunk only while the app reads the body, inside the view,
so these go through a real gunicorn on raw sockets.
"""
from __future__ import annotations

import json
import socket

import pytest

from tests.servers import wait_for

BODY = b'{"number": 17}'
FRAMINGS = {
    "size zz": b"zz\r\n" + BODY + b"\r\n0\r\n\r\n",
    "size -1": b"-1\r\n" + BODY + b"\r\n0\r\n\r\n",
    "size 0xd": b"0xd\r\n" + BODY + b"\r\n0\r\n\r\n",
    "missing terminator": b"2\r\n" + BODY + b"\r\n0\r\n\r\n",
    "bad extension": b"e;\x00\r\n" + BODY + b"\r\n0\r\n\r\n",
}


def post_chunked(port: int, path: str, chunks: bytes) -> tuple[int, dict[str, str], bytes]:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + chunks)
        sock.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("framing", FRAMINGS, ids=str)
@pytest.mark.parametrize("path", ["/invoke", "/jobs"])
def test_a_malformed_chunk_is_a_400_envelope_not_a_500(service, framing, path):
    status, headers, body = post_chunked(service.port, path, FRAMINGS[framing])
    assert status == 400, body
    assert headers["content-type"].startswith("application/json")
    assert headers["connection"] == "close"  # the rest of the stream cannot be trusted
    envelope = json.loads(body)
    error = envelope["detail"] if path == "/jobs" else envelope
    assert error["error"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == "body"
    assert error["request_id"] == headers["x-request-id"]
    lines = wait_for(lambda: [line for line in service.json_lines()
                              if line.get("request_id") == headers["x-request-id"]],
                     message="the request's log lines")  # written every 0.1 s
    assert all(line["level"] == "INFO" for line in lines), lines
    assert "Traceback" not in service.output()
