"""One webhook attempt: a signed JSON POST to a vetted address, bounded in time and size.

Built on the standard library's http.client rather than requests, because both guards
it needs sit below requests' API:
- The connection goes to an address `resolve_allowed` vetted, from its one lookup: we
  open that socket ourselves. The Host header, TLS SNI and the certificate check still
  use the URL's host name.
- One deadline for the whole attempt. Socket timeouts (requests', urllib3's) restart
  with every read, so a receiver trickling a byte a second could hold a worker for
  ever; here a watchdog shuts the socket down when the attempt's time is up.
Redirects are never followed and proxy variables never read: nothing here does either.

Signed per Standard Webhooks (https://www.standardwebhooks.com/) when a secret is set:
webhook-signature is "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
"""
from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import SplitResult, urlsplit

from app.webhooks.address_policy import (
    DEFAULT_PORTS, AddressPolicy, IPAddress, RefusedAddress, check_url_syntax, port_of,
    resolve_allowed,
)

USER_AGENT = "FunctionalScaffold-Webhook/1.0"
MAX_RESPONSE_BYTES = 64 * 1024  # read, then discarded: a huge answer costs us nothing
MAX_RETRY_AFTER = 3600.0
SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class AttemptResult:
    delivered: bool            # the receiver answered 2xx
    status_code: int | None    # None when no HTTP answer came
    reason: str                # one line for logs: "HTTP 500", "timeout after 10.0 s", ...
    retry: bool                # False: retrying cannot help (delivered, 410 Gone, refused)
    retry_after: float | None = None  # seconds, from Retry-After on a 429 or 503


class WebhookSender:
    """Makes single attempts; the caller owns the retry schedule.

    Thread-safe: it holds only settings, and each attempt opens and closes its own
    connection.
    """

    def __init__(self, policy: AddressPolicy, timeout: float = 10.0, secret: str | None = None) -> None:
        self.policy = policy
        self.timeout = timeout
        self._key = signing_key(secret) if secret else None
        # The system's trust store; SSL_CERT_FILE / SSL_CERT_DIR can point elsewhere.
        self._tls = ssl.create_default_context()

    def send(self, url: str, payload: dict, message_id: str) -> AttemptResult:
        """POST `payload` as JSON to `url` once. Never raises for a network or HTTP problem.

        `message_id` is the webhook-id, the same on every retry so receivers can
        de-duplicate. retry is False after a 2xx, a 410 Gone, an invalid URL and a
        refused address. An address refused here passed the check at job creation and
        now resolves where it may not: DNS rebinding or a misconfiguration, neither of
        which a retry a few seconds later would fix.
        """
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            check_url_syntax(url)
        except ValueError as exc:
            return _failed(f"invalid URL: {exc}", retry=False)
        parts = urlsplit(url)
        try:
            addresses = resolve_allowed(parts.hostname, port_of(parts), self.policy)
        except RefusedAddress as exc:
            return _failed(f"refused: {exc}", retry=False)
        except socket.gaierror as exc:
            return _failed(f"DNS lookup of '{parts.hostname}' failed: {exc.strerror}")
        deadline = _Deadline(self.timeout)
        try:
            status, headers = self._post(parts, addresses, body, message_id, deadline)
        except (OSError, http.client.HTTPException) as exc:
            return _failed(_network_reason(exc, deadline))
        if deadline.cut:  # the answer was parsed from a connection cut short
            return _failed(_network_reason(TimeoutError(), deadline))
        return _outcome(status, headers)

    def _post(self, parts: SplitResult, addresses: list[IPAddress], body: bytes,
              message_id: str, deadline: _Deadline) -> tuple[int, http.client.HTTPMessage]:
        port = port_of(parts)
        with _connect(addresses, port, deadline) as sock, deadline.watching(sock):
            connection = http.client.HTTPConnection(parts.hostname, port)
            try:
                if parts.scheme == "https":
                    sock = self._tls.wrap_socket(sock, server_hostname=parts.hostname)
                connection.sock = sock  # already connected: http.client opens nothing itself
                connection.request("POST", _request_target(parts), body,
                                   self._headers(parts, body, message_id))
                with connection.getresponse() as response:
                    response.read(MAX_RESPONSE_BYTES)
                    return response.status, response.headers
            finally:
                connection.close()

    def _headers(self, parts: SplitResult, body: bytes, message_id: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        headers = {
            "Host": _host_header(parts),
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "Connection": "close",
            "webhook-id": message_id,
            "webhook-timestamp": timestamp,
        }
        if self._key is not None:
            headers["webhook-signature"] = sign(self._key, message_id, timestamp, body)
        return headers


def signing_key(secret: str) -> bytes:
    """The HMAC key for a secret.

    A Standard Webhooks secret is "whsec_" + base64 of the key; that is what the
    standardwebhooks package's Webhook(secret) expects. Any other string is used as its
    UTF-8 bytes (such receivers verify with Webhook(secret.encode())).
    """
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        key = b""
    if not key:
        raise ValueError(f"webhook secret: after '{SECRET_PREFIX}' must come a base64-encoded key")
    return key


def sign(key: bytes, message_id: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


class _Deadline:
    """One time limit for the whole attempt: connect, TLS, request and response."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds
        self.cut = False  # the watchdog shut the connection down

    def remaining(self) -> float:
        left = self._at - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    @contextmanager
    def watching(self, sock: socket.socket) -> Iterator[None]:
        """Shut `sock` down when time is up, whatever call is blocked on it.

        The watchdog holds a duplicate, so it still reaches the connection after the
        TLS socket has taken `sock` over.
        """
        duplicate = sock.dup()
        timer = threading.Timer(self.remaining(), self._cut, (duplicate,))
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            timer.join()
            duplicate.close()

    def _cut(self, sock: socket.socket) -> None:
        self.cut = True
        with suppress(OSError):  # the peer closed it already
            sock.shutdown(socket.SHUT_RDWR)


def _connect(addresses: list[IPAddress], port: int, deadline: _Deadline) -> socket.socket:
    """A TCP connection to the first of `addresses` that accepts; no name is looked up."""
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect((str(address), port))
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


def _outcome(status: int, headers: http.client.HTTPMessage) -> AttemptResult:
    if 200 <= status < 300:
        return AttemptResult(True, status, f"HTTP {status}", retry=False)
    reason = f"HTTP {status}"
    if 300 <= status < 400:
        reason += " (redirects are not followed)"
    retry_after = _retry_after(headers.get("Retry-After")) if status in (429, 503) else None
    return AttemptResult(False, status, reason, retry=status != 410, retry_after=retry_after)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After value (delta-seconds or an HTTP date), capped; None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except ValueError:
            return None
        when = when.replace(tzinfo=when.tzinfo or timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _network_reason(exc: Exception, deadline: _Deadline) -> str:
    if deadline.cut or isinstance(exc, TimeoutError):
        return f"timeout after {deadline.seconds} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate rejected: {exc.verify_message}"
    return f"{type(exc).__name__}: {exc}"[:200]


def _failed(reason: str, retry: bool = True) -> AttemptResult:
    return AttemptResult(False, None, reason, retry=retry)


def _host_header(parts: SplitResult) -> str:
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.port in (None, DEFAULT_PORTS[parts.scheme]):
        return host
    return f"{host}:{parts.port}"


def _request_target(parts: SplitResult) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
