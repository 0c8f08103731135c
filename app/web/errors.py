"""The error envelopes, and the handlers that turn every failure into one.

Two shapes, as the contract (README, "The contract") has them:
- most routes answer `{"error", "message", "details", "request_id"}` at the top level;
- the jobs routes wrap the same object as `{"detail": {...}}`.
Nothing ever reaches the client as HTML or as a traceback.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from app.errors import AlgorithmNotFound, ClientError, Conflict, InvalidInput, JobNotFound, Unavailable
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


class ApiError(Exception):
    """An error the client should see, with its documented code and message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def validation_error(message: str, **details: Any) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, details or None)


# The domain's errors (app/errors.py) as HTTP: status, code and extra headers.
CLIENT_ERRORS: dict[type[ClientError], tuple[int, str, dict[str, str]]] = {
    InvalidInput: (400, "VALIDATION_ERROR", {}),
    AlgorithmNotFound: (404, "ALGORITHM_NOT_FOUND", {}),
    JobNotFound: (404, "JOB_NOT_FOUND", {}),
    Conflict: (409, "CONFLICT", {}),
    Unavailable: (503, "SERVICE_UNAVAILABLE", {"Retry-After": "1"}),
}


def _from_client_error(error: ClientError) -> ApiError:
    status, code, headers = CLIENT_ERRORS[type(error)]
    return ApiError(status, code, error.message, error.details, headers)


def error_body(error: ApiError) -> dict[str, Any]:
    """The envelope for this request's route: flat, or wrapped under `detail` on /jobs."""
    body = {
        "error": error.code,
        "message": error.message,
        "details": error.details,
        "request_id": current_request_id(),
    }
    if request.path == JOBS_PATH_PREFIX or request.path.startswith(JOBS_PATH_PREFIX + "/"):
        return jobs_envelope.dump({"detail": body})
    return flat_envelope.dump(body)


def error_response(error: ApiError) -> Response:
    response = jsonify(error_body(error))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def _from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    code = HTTP_STATUS_CODES.get(status, f"HTTP_{status}")
    messages = {
        404: f"no route for {request.method} {request.path[:200]}",
        405: f"method {request.method} is not allowed on {request.path[:200]}",
        413: "request body is too large",
        415: "request body must be JSON (Content-Type: application/json)",
    }
    message = messages.get(status, exc.name)
    # Keep headers such as Allow (405) that the exception carries, but not its HTML content type.
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    details = None
    if status == 413 and request.max_content_length:
        details = {"max_content_length": request.max_content_length}
    return ApiError(status, code, message, details, headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError) -> Response:
        return error_response(error)

    @app.errorhandler(ClientError)
    def handle_client_error(error: ClientError) -> Response:
        return error_response(_from_client_error(error))

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException) -> Response:
        return error_response(_from_http_exception(exc))

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(ApiError(500, "INTERNAL_ERROR", "internal server error"))
