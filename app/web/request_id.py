"""Request ids: taken from `X-Request-Id` when sane, otherwise a fresh random UUID.

app.web.instrumentation puts the id in the WSGI environ before Flask sees the request,
returns it in the `X-Request-Id` header of every response and logs it with the
request; `current_request_id()` gives it to views, error envelopes and log lines.
"""
from __future__ import annotations

import uuid
from typing import Any

from flask import has_request_context, request

from app.validation import is_sane

HEADER = "X-Request-Id"
SUPPLIED_KEY = "HTTP_X_REQUEST_ID"  # the header as WSGI hands it over
ENVIRON_KEY = "functional_scaffold.request_id"


def new_request_id() -> str:
    """A random version-4 UUID."""
    return str(uuid.uuid4())


def request_id_for(environ: dict[str, Any]) -> str:
    supplied = environ.get(SUPPLIED_KEY, "")
    return supplied if is_sane(supplied) else new_request_id()


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    return request.environ.get(ENVIRON_KEY) if has_request_context() else None
