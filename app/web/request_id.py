"""Request ids: `X-Request-Id` when sane, otherwise a fresh UUID4; app.web.instrumentation
puts it in the WSGI environ, `current_request_id()` reads it."""
from __future__ import annotations

import uuid
from typing import Any

from flask import has_request_context, request

from app.validation import is_sane

HEADER = "X-Request-Id"
ENVIRON_KEY = "functional_scaffold.request_id"


def new_request_id() -> str:
    return str(uuid.uuid4())


def request_id_for(environ: dict[str, Any]) -> str:
    supplied = environ.get("HTTP_X_REQUEST_ID", "")
    return supplied if is_sane(supplied) else new_request_id()


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    return request.environ.get(ENVIRON_KEY) if has_request_context() else None
