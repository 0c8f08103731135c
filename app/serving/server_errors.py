"""The JSON envelope instead of gunicorn's HTML for requests it cannot parse. No setting or
hook exists (benoitc/gunicorn#993); `util.write_error` keeps its signature from 23 to 27,
so it is replaced. No Flask: gunicorn.conf.py loads this in the master."""
from __future__ import annotations

import json
import uuid

from gunicorn import util

from app.schemas import ErrorResponse

CODES = {400: "BAD_REQUEST", 413: "PAYLOAD_TOO_LARGE", 414: "URI_TOO_LONG",
         431: "REQUEST_HEADER_FIELDS_TOO_LARGE", 500: "INTERNAL_ERROR"}
envelope = ErrorResponse()


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    request_id = str(uuid.uuid4())
    body = json.dumps(envelope.dump({
        "error": CODES.get(status_int, f"HTTP_{status_int}"),
        "message": f"{reason}: {mesg}"[:300],
        "details": None,
        "request_id": request_id,
    })).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Request-Id: {request_id}\r\nX-Content-Type-Options: nosniff\r\n"
        f"Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


def install() -> None:
    util.write_error = write_json_error
