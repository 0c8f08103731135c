"""Optional API-key authentication, off unless `API_KEYS` is set (README, "Configuration").

Off by default so the seed documents' curl examples work unchanged. Probes, the docs
and (while METRICS_PUBLIC) /metrics stay public: their callers carry no credentials.
Every other path, unknown ones included, is 401 without a key, so the routes cannot be
mapped. Keys are compared as SHA-256 digests with `hmac.compare_digest`, against every
key, so neither the time taken nor a key's length tells how close a guess was.
"""
from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Flask, g, request

from app.config import Settings
from app.web.errors import ApiError

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
BEARER_PREFIX = "bearer "
ALWAYS_PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/docs", "/redoc", "/openapi.json"})
METRICS_PATH = "/metrics"
DOCS_ASSETS_PREFIX = "/docs/static/"


def public_paths(settings: Settings) -> frozenset[str] | None:
    """The paths that need no key, for the OpenAPI document; None when no path needs one."""
    return _open_paths(settings) if settings.api_keys else None


def _open_paths(settings: Settings) -> frozenset[str]:
    if settings.metrics_public:
        return ALWAYS_PUBLIC_PATHS | {METRICS_PATH}
    return ALWAYS_PUBLIC_PATHS


def fingerprint(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "replace")).digest()


def matches_any(presented: str, key_digests: frozenset[bytes]) -> bool:
    """Constant time: every key is compared, whether or not an earlier one matched."""
    presented_digest = fingerprint(presented)
    found = False
    for key_digest in key_digests:
        found |= hmac.compare_digest(presented_digest, key_digest)
    return found


def client_id() -> str:
    """Who sent this request, for scoping what clients must not share (Idempotency-Key):
    the SHA-256 hex of the API key that authenticated it; "" when keys are off."""
    return g.get("api_client", "")


def presented_keys() -> list[str]:
    """The keys this request carries: a Bearer token and/or an X-API-Key value."""
    keys = []
    authorization = request.headers.get("Authorization", "")
    if authorization[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX:
        keys.append(authorization[len(BEARER_PREFIX):].strip())
    if API_KEY_HEADER in request.headers:
        keys.append(request.headers[API_KEY_HEADER].strip())
    return [key for key in keys if key]


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": "Bearer"})


def register_auth(app: Flask, settings: Settings) -> None:
    """Require a key on every non-public route when `API_KEYS` is set; otherwise nothing."""
    if not settings.api_keys:
        return
    key_digests = frozenset(fingerprint(key) for key in settings.api_keys)
    open_paths = _open_paths(settings)
    log.info("API key authentication on", extra={"keys": len(key_digests)})

    @app.before_request
    def require_api_key() -> None:
        if request.path in open_paths or request.path.startswith(DOCS_ASSETS_PREFIX):
            return
        keys = presented_keys()
        if not keys:
            raise unauthorized(f"an API key is required: send Authorization: Bearer <key> "
                               f"or {API_KEY_HEADER}: <key>")
        # A list, not a generator: every presented key is checked, even after a match.
        valid = [key for key in keys if matches_any(key, key_digests)]
        if not valid:
            raise unauthorized("the API key is not valid")
        g.api_client = fingerprint(valid[0]).hex()
