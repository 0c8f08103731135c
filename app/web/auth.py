"""Optional API-key authentication, off unless `API_KEYS` is set (README, "Configuration").
A path not public, unknown ones too, is 401 without a key, so the routes cannot be mapped.
Every key's digest is compared, so neither the time taken nor a key's length tells how
close a guess was."""
from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Flask, g, request

from app.config import Settings
from app.web.errors import ApiError

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
ALWAYS_PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/docs", "/redoc", "/openapi.json"})
DOCS_ASSETS_PREFIX = "/docs/static/"


def public_paths(settings: Settings) -> frozenset[str] | None:
    """The paths that need no key; None when no path needs one."""
    if not settings.api_keys:
        return None
    return ALWAYS_PUBLIC_PATHS | ({"/metrics"} if settings.metrics_public else set())


def fingerprint(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "replace")).digest()


def matches_any(presented: str, key_digests: frozenset[bytes]) -> bool:
    """Constant time: every key is compared, whether or not an earlier one matched."""
    presented_digest = fingerprint(presented)
    return sum(hmac.compare_digest(presented_digest, digest) for digest in key_digests) > 0


def client_id() -> str:
    """The SHA-256 hex of the API key that authenticated this request, "" when keys are off:
    who must not share what they create (Idempotency-Key)."""
    return g.get("api_client", "")


def register_auth(app: Flask, settings: Settings) -> None:
    """Require a key on every non-public route when `API_KEYS` is set; otherwise nothing."""
    open_paths = public_paths(settings)
    if open_paths is None:
        return
    key_digests = frozenset(fingerprint(key) for key in settings.api_keys)
    log.info("API key authentication on", extra={"keys": len(key_digests)})

    @app.before_request
    def require_api_key() -> None:
        if request.path in open_paths or request.path.startswith(DOCS_ASSETS_PREFIX):
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        presented = (token if scheme.lower() == "bearer" else "",
                     request.headers.get(API_KEY_HEADER, ""))
        keys = [key.strip() for key in presented if key.strip()]
        # A list, not a generator: every presented key is checked, even after a match.
        valid = [key for key in keys if matches_any(key, key_digests)]
        if not valid:
            raise ApiError(401, "UNAUTHORIZED", "the API key is not valid" if keys else
                           f"an API key is required: send Authorization: Bearer <key> "
                           f"or {API_KEY_HEADER}: <key>", headers={"WWW-Authenticate": "Bearer"})
        g.api_client = fingerprint(valid[0]).hex()
