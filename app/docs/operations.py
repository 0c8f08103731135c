"""How a view documents itself: the OpenAPI operation `build_spec` reads off the URL map,
beside the view's code, so the document cannot list a missing route or miss a real one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

View = TypeVar("View", bound=Callable[..., Any])
ATTRIBUTE = "openapi_operation"
JSON = "application/json"
# Flask answers these on every route by itself: not what the views serve.
AUTOMATIC_METHODS = frozenset({"HEAD", "OPTIONS"})
# `request=` for /invoke/{algorithm}: the params schema of the algorithm the path names.
PATH_ALGORITHM_PARAMS = "<params of the algorithm in the path>"


REQUEST_ID_HEADER = {
    "name": "X-Request-Id", "in": "header", "required": False,
    # No maxLength: a longer or unprintable id is replaced by a fresh UUID4, never refused.
    "schema": {"type": "string"},
    "description": "Used as request_id when printable ASCII without spaces and at most "
                   "128 characters; otherwise the service uses a fresh UUID4 instead",
}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "maxLength": 128},
    "description": "Extension: a repeat with the same key and body within the job TTL "
                   "returns the same job (200)",
}


def body_errors(envelope: str) -> dict[int, tuple[str, str]]:
    """What a route that runs an algorithm on a JSON body can answer, in its envelope."""
    return {
        400: (envelope, "请求参数错误"),
        404: (envelope, "算法不存在"),
        408: (envelope, "请求体未在 BODY_TIMEOUT_SECONDS 内收完 (Connection: close)"),
        413: (envelope, "请求体过大"),
        415: (envelope, "请求体不是 JSON"),
    }


@dataclass(frozen=True)
class Operation:
    """A view's OpenAPI operation; as the view's decorator, it attaches itself."""

    tag: str
    summary: str
    operation_id: str
    # status -> (component name for a JSON body, or an inline schema; description)
    responses: dict[int, tuple[str | dict[str, Any], str]]
    description: str | None = None
    request: str | None = None  # the request body's component name
    headers: tuple[dict[str, Any], ...] = ()  # header parameters
    path_descriptions: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON  # of the responses

    def __call__(self, view: View) -> View:
        setattr(view, ATTRIBUTE, self)
        return view


operation = Operation
# Leaves a route out of the document on purpose: served, but no part of the API (the docs
# pages' static files).
not_an_operation = Operation("", "", "", {})
