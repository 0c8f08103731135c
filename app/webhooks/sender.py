"""One webhook attempt: a signed JSON POST to a vetted address, bounded in time and size
(the design is in README's Webhooks section)."""
from __future__ import annotations

import base64
import binascii
import json
import socket
import ssl
import threading
import time
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import SplitResult

import requests
from requests.adapters import HTTPAdapter
from standardwebhooks.webhooks import Webhook
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Retry
from urllib3.connection import HTTPConnection
from urllib3.exceptions import HTTPError as Urllib3Error, InvalidHeader, NewConnectionError

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
    retry: bool = True         # False: retrying cannot help (delivered, 410 Gone, refused)
    retry_after: float | None = None  # seconds, from Retry-After on a 429 or 503


class WebhookSender:
    """Makes single attempts; the caller owns the retry schedule."""

    def __init__(self, policy: AddressPolicy, timeout: float = 10.0,
                 secret: str | None = None) -> None:
        self.policy = policy
        self.timeout = timeout
        self._signer = signer(secret) if secret else None
        # The system's trust store (SSL_CERT_FILE / SSL_CERT_DIR can point elsewhere),
        # not requests' certifi bundle: operators manage one store for the host.
        self._tls = ssl.create_default_context()
        self._tls.sslsocket_class = _WatchedTLSSocket

    def send(self, url: str, payload: dict, message_id: str) -> AttemptResult:
        """POST `payload` as JSON to `url` once; never raises for a network or HTTP problem.
        A refused address is not retried: it passed the check at job creation, so it is DNS
        rebinding or a misconfiguration, which a retry seconds later would not fix."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            parts = check_url_syntax(url)
            addresses = resolve_allowed(parts.hostname, port_of(parts), self.policy)
        except RefusedAddress as exc:
            return AttemptResult(False, None, f"refused: {exc}", retry=False)
        except ValueError as exc:
            return AttemptResult(False, None, f"invalid URL: {exc}", retry=False)
        except socket.gaierror as exc:
            reason = f"DNS lookup of '{parts.hostname}' failed: {exc.strerror}"
            return AttemptResult(False, None, reason)
        request = self._request(url, parts, body, message_id)
        with _Deadline(self.timeout) as deadline:
            try:
                response = self._post(request, parts, addresses, deadline)
                if deadline.cut:  # the answer was parsed from a connection cut short
                    raise TimeoutError
            except (requests.RequestException, Urllib3Error, OSError) as exc:
                return _network_failure(exc, deadline)
        return _outcome(response)

    def _post(self, request: requests.PreparedRequest, parts: SplitResult,
              addresses: list[IPAddress], deadline: _Deadline) -> requests.Response:
        """POST to the first of `addresses` that accepts the connection, never twice. A
        Session per attempt, sending the prepared request as it is: its adapter carries the
        vetted address, and nothing comes from the environment (proxies) or earlier attempts."""
        for address in addresses:
            with requests.Session() as session:
                session.trust_env = False
                session.mount(f"{parts.scheme}://", _PinnedAdapter(parts, address, self._tls))
                try:
                    with session.send(request, allow_redirects=False, stream=True,
                                      timeout=deadline.remaining()) as response:
                        response.raw.read(MAX_RESPONSE_BYTES)
                        return response
                except requests.ConnectionError as exc:
                    if not isinstance(getattr(exc.args[0], "reason", None), NewConnectionError):
                        raise
                    refused = exc
        raise refused

    def _request(self, url: str, parts: SplitResult, body: bytes,
                 message_id: str) -> requests.PreparedRequest:
        signed_at = datetime.now(timezone.utc).replace(microsecond=0)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        if parts.port not in (None, DEFAULT_PORTS[parts.scheme]):
            host += f":{parts.port}"
        headers = {
            "Host": host,
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "Connection": "close",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
        }
        if self._signer is not None:
            # As str: earlier 1.x releases of standardwebhooks sign only str; body is UTF-8 JSON.
            headers["webhook-signature"] = self._signer.sign(message_id, signed_at, body.decode())
        return requests.Request("POST", url, headers, data=body).prepare()


def signer(secret: str) -> Webhook:
    """The standardwebhooks signer, or ValueError at start: a "whsec_" key must be valid
    base64 here, where the package would skip stray characters and sign with a key the
    operator did not mean. Any other string is the key as UTF-8 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return Webhook(secret.encode())
    encoded = secret.removeprefix(SECRET_PREFIX)
    with suppress(binascii.Error):
        if base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True):
            return Webhook(secret)
    raise ValueError(f"webhook secret: after '{SECRET_PREFIX}' must come a base64-encoded key")


class _PinnedAdapter(HTTPAdapter):
    """Hands requests a urllib3 pool aimed at one vetted address, so no name is looked up;
    `server_hostname` keeps the URL's host name for SNI and the certificate check."""

    def __init__(self, parts: SplitResult, address: IPAddress, tls: ssl.SSLContext) -> None:
        super().__init__()
        if parts.scheme == "https":
            self._pool: HTTPConnectionPool = HTTPSConnectionPool(
                str(address), port_of(parts), maxsize=1, ssl_context=tls,
                cert_reqs="CERT_REQUIRED", server_hostname=parts.hostname)
        else:
            self._pool = HTTPConnectionPool(str(address), port_of(parts), maxsize=1)
            self._pool.ConnectionCls = _WatchedHTTPConnection

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> HTTPConnectionPool:
        return self._pool

    def cert_verify(self, *args: Any) -> None:
        """Nothing to do: the sender's TLS context, not requests' CA bundle, is the pool's."""


class _Deadline:
    """One time limit for the whole attempt, TLS handshake included: socket timeouts
    restart with every read, so a watchdog shuts the socket down when time is up."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds
        self.cut = False  # the watchdog shut the connection down
        self._watched: list[socket.socket] = []
        self._lock = threading.Lock()
        self._watchdog = threading.Timer(seconds, self._cut)

    def __enter__(self) -> _Deadline:
        self._token = _running_attempt.set(self)
        self._watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _running_attempt.reset(self._token)
        self._watchdog.cancel()
        self._watchdog.join()
        for duplicate in self._watched:
            duplicate.close()

    def remaining(self) -> float:
        left = self._at - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when time is up, through a duplicate that stays open whatever
        the connection does with `sock`, so no other socket reusing its number is hit."""
        with self._lock:
            self._watched.append(socket.fromfd(sock.fileno(), sock.family, sock.type))
        if self.cut:  # connected just as time ran out
            self._cut()

    def _cut(self) -> None:
        with self._lock:
            self.cut = True
            for duplicate in self._watched:
                with suppress(OSError):  # the peer closed it already
                    duplicate.shutdown(socket.SHUT_RDWR)


_running_attempt: ContextVar[_Deadline] = ContextVar("webhook_attempt")


class _WatchedHTTPConnection(HTTPConnection):
    """An http connection whose socket the running attempt's deadline watches."""

    def connect(self) -> None:
        super().connect()
        _running_attempt.get().watch(self.sock)


class _WatchedTLSSocket(ssl.SSLSocket):
    """A TLS socket the running attempt's deadline watches from its handshake on."""

    def do_handshake(self, block: bool = False) -> None:
        _running_attempt.get().watch(self)
        super().do_handshake(block)


def _outcome(response: requests.Response) -> AttemptResult:
    status = response.status_code
    delivered = 200 <= status < 300
    reason = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    retry_after = None
    with suppress(InvalidHeader):  # an unreadable Retry-After leaves the scheduled delay
        if status in (429, 503) and (value := response.headers.get("Retry-After")) is not None:
            retry_after = min(float(Retry.DEFAULT.parse_retry_after(value)), MAX_RETRY_AFTER)
    return AttemptResult(delivered, status, reason, retry=not delivered and status != 410,
                         retry_after=retry_after)


def _network_failure(exc: BaseException, deadline: _Deadline) -> AttemptResult:
    """A failed attempt, its reason from the socket or TLS error at the root of what was
    raised: requests and urllib3 raise theirs while handling what they wrap."""
    while exc.__context__ is not None:
        exc = exc.__context__
    if deadline.cut or isinstance(exc, TimeoutError):
        reason = f"timeout after {deadline.seconds} s"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        reason = f"TLS certificate rejected: {exc.verify_message}"
    else:
        reason = f"{type(exc).__name__}: {exc}"[:200]
    return AttemptResult(False, None, reason)
