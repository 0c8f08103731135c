"""The error envelopes, and the handlers that turn every failure into one: flat, or under
`detail` on the jobs routes (README, "The contract"); never HTML or a traceback."""
from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from app.errors import (AlgorithmNotFound, ClientError, Conflict, InvalidInput, JobNotFound,
                        Unavailable)
from app.schemas import ErrorResponse, JobErrorResponse
from app.web.request_id import current_request_id

log = logging.getLogger(__name__)

JOBS_PATH_PREFIX = "/jobs"
flat_envelope = ErrorResponse()
jobs_envelope = JobErrorResponse()

# Codes for the HTTP conditions the documents do not name, in the documented style.
HTTP_STATUS_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    431: "REQUEST_HEADER_FIELDS_TOO_LARGE",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

# The domain's errors (app/errors.py) as HTTP: status, code and extra headers.
CLIENT_ERRORS: dict[type[ClientError], tuple[int, str, dict[str, str]]] = {
    InvalidInput: (400, "VALIDATION_ERROR", {}),
    AlgorithmNotFound: (404, "ALGORITHM_NOT_FOUND", {}),
    JobNotFound: (404, "JOB_NOT_FOUND", {}),
    Conflict: (409, "CONFLICT", {}),
    Unavailable: (503, "SERVICE_UNAVAILABLE", {"Retry-After": "1"}),
}


class ApiError(ClientError):
    """A client error only the web layer knows, with its own status and code."""

    def __init__(self, status: int, code: str, message: str,
                 details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message, **(details or {}))
        self.status = status
        self.code = code
        self.headers = headers or {}


def error_response(error: Exception) -> Response:
    """Flask's handler for every exception: the envelope for this request's route, flat or
    wrapped under `detail` on /jobs."""
    if not isinstance(error, ClientError):
        error = _api_error(error)
    status, code, headers = ((error.status, error.code, error.headers)
                             if isinstance(error, ApiError) else CLIENT_ERRORS[type(error)])
    body = {"error": code, "message": error.message, "details": error.details,
            "request_id": current_request_id()}
    if request.path == JOBS_PATH_PREFIX or request.path.startswith(JOBS_PATH_PREFIX + "/"):
        response = jsonify(jobs_envelope.dump({"detail": body}))
    else:
        response = jsonify(flat_envelope.dump(body))
    response.status_code = status
    response.headers.update(headers)
    return response


def _api_error(exc: Exception) -> ApiError:
    """Werkzeug's HTTP errors with our codes and messages; anything else is a bug: a 500 whose
    traceback only the log gets."""
    if not isinstance(exc, HTTPException):
        log.exception("unhandled error")
        return ApiError(500, "INTERNAL_ERROR", "internal server error")
    status = exc.code or 500
    messages = {
        404: f"no route for {request.method} {request.path[:200]}",
        405: f"method {request.method} is not allowed on {request.path[:200]}",
        413: "request body is too large",
        415: "request body must be JSON (Content-Type: application/json)",
    }
    details = None
    if status == 413 and request.max_content_length:
        details = {"max_content_length": request.max_content_length}
    elif isinstance(exc, UnsupportedMediaType):
        details = {"content_type": (request.content_type or "")[:100]}
    # Keep headers such as Allow (405) that the exception carries, but not its HTML content type.
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return ApiError(status, HTTP_STATUS_CODES.get(status, f"HTTP_{status}"),
                    messages.get(status, exc.name), details, headers)
