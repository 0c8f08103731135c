"""One webhook attempt: a signed JSON POST to a vetted address, bounded in time and size.

Sent through a requests Session, with a transport adapter for the two guards that sit
below requests' API:
- The connection goes to an address `resolve_allowed` vetted, from its one lookup: the
  adapter's connections open that socket themselves and never look the name up. The
  Host header, TLS SNI and the certificate check still use the URL's host name.
- One deadline for the whole attempt, from connect to the last byte read. Socket
  timeouts (requests', urllib3's) restart with every read, so a receiver trickling a
  byte a second could hold a worker for ever; a watchdog shuts the socket down when
  the attempt's time is up.
Redirects are never followed (allow_redirects=False), proxy variables and .netrc never
read (trust_env=False, and the adapter builds its connections without a proxy), and
at most MAX_RESPONSE_BYTES of the answer are read (stream=True).

Signed per Standard Webhooks (https://www.standardwebhooks.com/) when a secret is set:
webhook-signature is "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
"""
from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout

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

    Thread-safe: it holds only settings. Each attempt gets its own Session, adapter and
    connection, because the adapter carries that attempt's vetted addresses and
    deadline, and a shared Session's cookie jar would carry cookies between attempts.
    """

    def __init__(self, policy: AddressPolicy, timeout: float = 10.0, secret: str | None = None) -> None:
        self.policy = policy
        self.timeout = timeout
        self._key = signing_key(secret) if secret else None
        # The system's trust store (SSL_CERT_FILE / SSL_CERT_DIR can point elsewhere),
        # not requests' certifi bundle: operators manage one store for the host.
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
        with _Deadline(self.timeout) as deadline:
            try:
                status, headers = self._post(url, parts, addresses, body, message_id, deadline)
            except (requests.RequestException, Urllib3Error, OSError) as exc:
                return _failed(_network_reason(exc, deadline))
        if deadline.cut:  # the answer was parsed from a connection cut short
            return _failed(_network_reason(TimeoutError(), deadline))
        return _outcome(status, headers)

    def _post(self, url: str, parts: SplitResult, addresses: list[IPAddress], body: bytes,
              message_id: str, deadline: _Deadline) -> tuple[int, Mapping[str, str]]:
        adapter = _PinnedAdapter(parts, addresses, deadline, self._tls)
        with requests.Session() as session:
            session.trust_env = False
            session.headers.clear()  # only our headers: no "Accept: */*", gzip or keep-alive
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            with session.post(url, data=body, headers=self._headers(parts, body, message_id),
                              allow_redirects=False, stream=True,
                              timeout=deadline.remaining()) as response:
                response.raw.read(MAX_RESPONSE_BYTES)
                return response.status_code, response.headers

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


class _PinnedAdapter(HTTPAdapter):
    """Sends this attempt's request over a connection to the vetted addresses.

    requests asks the adapter for a urllib3 pool per request; this one always hands
    out its own, whose connections open the socket to `addresses` themselves. The
    pool's host is the URL's host name, so urllib3 sends SNI for it and checks the
    certificate against it. TLS settings are fixed here (the system trust store,
    certificate required), so requests' own CA bundle logic is switched off.
    """

    def __init__(self, parts: SplitResult, addresses: list[IPAddress], deadline: _Deadline,
                 tls: ssl.SSLContext) -> None:
        super().__init__()
        pinned = {"addresses": addresses, "deadline": deadline}
        if parts.scheme == "https":
            self._pool: HTTPConnectionPool = _PinnedHTTPSPool(
                parts.hostname, port_of(parts), maxsize=1, ssl_context=tls,
                cert_reqs="CERT_REQUIRED", **pinned)
        else:
            self._pool = _PinnedHTTPPool(parts.hostname, port_of(parts), maxsize=1, **pinned)

    def get_connection_with_tls_context(self, request: requests.PreparedRequest, verify: Any,
                                        proxies: Any = None, cert: Any = None) -> HTTPConnectionPool:
        return self._pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Nothing to do: the pool's TLS settings are fixed in __init__."""

    def close(self) -> None:
        super().close()
        self._pool.close()


class _Pinned:
    """A urllib3 connection that connects to vetted addresses, under the attempt's deadline.

    `_new_conn` is the one place urllib3 opens a socket, for http and https alike; the
    TLS handshake that follows runs on the socket returned here.
    """

    def __init__(self, *args: Any, addresses: list[IPAddress], deadline: _Deadline,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._addresses = addresses
        self._deadline = deadline

    def _new_conn(self) -> socket.socket:
        sock = _connect(self._addresses, self.port, self._deadline)
        try:
            for option in self.socket_options or ():  # urllib3's TCP_NODELAY
                sock.setsockopt(*option)
            self._deadline.watch(sock)
        except BaseException:
            sock.close()
            raise
        return sock


class _PinnedHTTPConnection(_Pinned, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_Pinned, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _Deadline:
    """One time limit for the whole attempt: connect, TLS, request and response.

    Used as a context manager around the attempt: leaving it stops the watchdog.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds
        self.cut = False  # the watchdog shut the connection down
        self._watchdog: threading.Timer | None = None
        self._duplicate: socket.socket | None = None

    def __enter__(self) -> _Deadline:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog.join()
            self._duplicate.close()

    def remaining(self) -> float:
        left = self._at - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when time is up, whatever call is blocked on it.

        The watchdog holds a duplicate, so it still reaches the connection after the
        TLS socket has taken `sock` over.
        """
        left = self.remaining()
        self._duplicate = sock.dup()
        self._watchdog = threading.Timer(left, self._cut)
        self._watchdog.start()

    def _cut(self) -> None:
        self.cut = True
        with suppress(OSError):  # the peer closed it already
            self._duplicate.shutdown(socket.SHUT_RDWR)


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


def _outcome(status: int, headers: Mapping[str, str]) -> AttemptResult:
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


def _network_reason(exc: BaseException, deadline: _Deadline) -> str:
    causes = list(_causes(exc))
    if deadline.cut or any(isinstance(cause, (TimeoutError, Urllib3Timeout)) for cause in causes):
        return f"timeout after {deadline.seconds} s"
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate rejected: {cause.verify_message}"
    root = causes[-1]
    return f"{type(root).__name__}: {root}"[:200]


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc`, then what it wraps, down to the socket error: requests wraps urllib3's
    MaxRetryError, whose `reason` wraps a ProtocolError, whose last argument is the
    OSError itself."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        reason = getattr(exc, "reason", None)  # MaxRetryError's; ssl.SSLError's is a str
        wrapped = [arg for arg in exc.args if isinstance(arg, BaseException)]
        if isinstance(reason, BaseException):
            exc = reason
        elif wrapped:
            exc = wrapped[-1]
        else:
            exc = exc.__cause__ or exc.__context__


def _failed(reason: str, retry: bool = True) -> AttemptResult:
    return AttemptResult(False, None, reason, retry=retry)


def _host_header(parts: SplitResult) -> str:
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.port in (None, DEFAULT_PORTS[parts.scheme]):
        return host
    return f"{host}:{parts.port}"


def _request_target(parts: SplitResult) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
