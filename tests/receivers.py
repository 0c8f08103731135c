"""A real HTTP server that records what it receives: the other end of our webhooks.

Tests script its answers per request, then wait on a condition for what arrived.

    with Receiver([500, "hang"]) as receiver:        # then 200 for the rest
        ...post to receiver.url...
        first, second = receiver.wait_for_count(2, timeout=5)

Scripted behaviours, in order, one per request:
- an int: answer that status with an empty JSON object;
- Reply(status, headers, body): answer exactly that, e.g. Reply(302, {"Location": url});
- "hang": read the request, never answer (released when the receiver stops);
- "trickle": send a status line, then a header one byte every 0.2 s, never finishing;
- "endless": answer 200 with a body that never ends.
"""
from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TRICKLE_INTERVAL = 0.2


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"


Behaviour = int | str | Reply


@dataclass(frozen=True)
class Recorded:
    time: float                # time.monotonic() when the request had been read
    method: str
    path: str
    headers: dict[str, str]    # names lowercased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A real HTTP server on 127.0.0.1 (free port) in a background thread, recording every request.

    `tls` makes it an HTTPS server with that server-side context; `host` may be "::1".
    `delay` holds every answer back that many seconds (released when the receiver stops).
    """

    def __init__(self, responses: list[Behaviour] | None = None, default: Behaviour = 200,
                 delay: float = 0.0, host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None) -> None:
        self._script = list(responses or [])
        self._default = default
        self.delay = delay
        self._host = host
        self._tls = tls
        self._recorded: list[Recorded] = []
        self._changed = threading.Condition()
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def requests(self) -> list[Recorded]:
        with self._changed:
            return list(self._recorded)

    def wait_for_count(self, n: int, timeout: float) -> list[Recorded]:
        """Wait until at least `n` requests have arrived; all of them, or AssertionError."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._recorded) >= n, timeout):
                raise AssertionError(
                    f"receiver got {len(self._recorded)} request(s), not {n}, within {timeout} s")
            return list(self._recorded)

    def start(self) -> Receiver:
        self._server = _Server(self, self._host, self._tls)
        port = self._server.server_address[1]
        scheme = "https" if self._tls else "http"
        netloc = f"[{self._host}]" if ":" in self._host else self._host
        self.url = f"{scheme}://{netloc}:{port}/hook"
        # A short poll interval: stop() waits for the serving loop to notice.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,),
                                        daemon=True, name=f"receiver-{port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def record(self, request: Recorded) -> Behaviour:
        """Store a request and hand back how to answer it."""
        with self._changed:
            self._recorded.append(request)
            self._changed.notify_all()
            return self._script.pop(0) if self._script else self._default


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still hanging never holds up shutdown

    def __init__(self, receiver: Receiver, host: str, tls: ssl.SSLContext | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.receiver = receiver
        self.tls = tls
        super().__init__((host, 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Runs in the request's own thread, so a slow TLS handshake blocks no one else.
        if self.tls is not None:
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up early (timeouts, bounded reads, rejected certificates) are
        # part of the tests; anything else is a bug worth its traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        behaviour = receiver.record(Recorded(
            time=time.monotonic(), method=self.command, path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()}, body=body,
        ))
        if receiver.delay and receiver.stopping.wait(receiver.delay):
            return
        if behaviour == "hang":
            receiver.stopping.wait()
        elif behaviour == "trickle":
            self._trickle()
        elif behaviour == "endless":
            self._endless()
        else:
            self._answer(behaviour if isinstance(behaviour, Reply) else Reply(behaviour))

    do_GET = do_PUT = do_POST

    def _answer(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in {"Content-Type": "application/json", **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _trickle(self) -> None:
        self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Trickle: ")
        while not self.server.receiver.stopping.wait(TRICKLE_INTERVAL):
            self.wfile.write(b"a")

    def _endless(self) -> None:
        self.send_response(200)
        self.end_headers()
        chunk = b"x" * 65536
        while not self.server.receiver.stopping.is_set():
            self.wfile.write(chunk)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on what was recorded."""
