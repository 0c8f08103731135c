"""Request ids: taken from `X-Request-Id` when sane, otherwise a fresh UUID4.

The id is stored on `flask.g`, returned in the `X-Request-Id` header of every response
and attached to every log line of the request.
"""
from __future__ import annotations

import uuid

from flask import Flask, Response, g, request

HEADER = "X-Request-Id"
ENVIRON_KEY = "HTTP_X_REQUEST_ID"  # read directly: Headers' case-insensitive lookup is slower
MAX_LENGTH = 128


def is_sane(value: str) -> bool:
    """Printable ASCII without spaces, at most 128 characters: safe in logs and headers."""
    return 0 < len(value) <= MAX_LENGTH and all(33 <= ord(c) <= 126 for c in value)


def register_request_id(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        supplied = request.environ.get(ENVIRON_KEY, "")
        g.request_id = supplied if is_sane(supplied) else str(uuid.uuid4())

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        if "request_id" not in g:  # a failure before before_request ran
            g.request_id = str(uuid.uuid4())
        response.headers[HEADER] = g.request_id
        return response
