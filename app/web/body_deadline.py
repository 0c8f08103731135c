"""A deadline for the request body: a client that sends it too slowly gets 408, not a thread.
gunicorn's gthread worker reads a body with no limit, and a socket timeout restarts on every
recv(), so a watcher thread shuts the socket's read side instead (README, "Slow clients")."""
from __future__ import annotations

import os
import socket
import threading
import time
import weakref
from queue import SimpleQueue
from typing import Any, Callable, Iterable, Iterator

from werkzeug.wsgi import get_content_length

from app.errors import InvalidInput
from app.web.errors import ApiError

StartResponse = Callable[..., Any]

# gunicorn's request being served by this thread (gthread serves one at a time per thread).
_served = threading.local()


def remember_request(worker: Any, req: Any) -> None:
    """gunicorn's pre_request hook: gunicorn drops a Connection header the app sets."""
    _served.request = req


class DeadlineInput:
    """`wsgi.input` whose `fire`, at the deadline, shuts the socket's read side unless the body
    was read first: 408. A body ending before its Content-Length is a 400 (gunicorn sets
    `wsgi.input_terminated`, so Werkzeug would take it whole)."""

    def __init__(self, stream: Any, sock: socket.socket, content_length: int | None,
                 seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.fired = False
        self.done = False  # read to its end, or let go of: the socket must be left alone
        self._stream = stream
        self._sock = sock
        self._declared = content_length
        self._left = content_length
        self._seconds = seconds
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self.done = True

    def fire(self) -> None:
        # Under the lock, so a socket is never shut after its request let go of it.
        with self._lock:
            if self.done:
                return
            self.fired = True
            try:
                self._sock.shutdown(socket.SHUT_RD)
            except OSError:  # the client has gone already
                pass

    def read(self, size: int | None = -1) -> bytes:
        return self._watched(self._stream.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._watched(self._stream.readline, size)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def _watched(self, read: Callable[[Any], bytes], size: Any) -> bytes:
        if self.fired:
            raise self._timeout()
        try:
            data = read(size)
        except Exception as exc:
            if self.fired:
                raise self._timeout() from None
            raise self._malformed(f"{type(exc).__name__}: {exc}" if str(exc)
                                  else type(exc).__name__) from None
        if self._left is not None:
            if not data and self._left > 0 and size != 0 and not self.fired:
                raise self._malformed(f"the body ended after {self._declared - self._left} "
                                      f"of its {self._declared} bytes (Content-Length)")
            self._left -= len(data)
        complete = not data if self._left is None else self._left <= 0
        if complete:
            self.cancel()
        elif self.fired:
            raise self._timeout()
        return data

    def _timeout(self) -> ApiError:
        return ApiError(408, "REQUEST_TIMEOUT",
                        f"request body did not arrive within {self._seconds:g} seconds",
                        {"body_timeout_seconds": self._seconds})

    @staticmethod
    def _malformed(reason: str) -> InvalidInput:
        """A bad chunk, or a body short of its Content-Length: never run on part of a body."""
        return InvalidInput("request body is not valid HTTP framing", field="body",
                            reason=reason[:200])


class BodyDeadline:
    """WSGI middleware: a deadline on every HTTP/1 request body gunicorn serves (not HTTP/2,
    whose streams share a socket); a body not read to its end closes the connection.

    One thread per process fires the deadlines (one per request cost more than the rest of
    /invoke). Every deadline is as far off, so the queue is in deadline order; it holds weak
    references, so a finished request is freed while the thread sleeps on an earlier one."""

    def __init__(self, wsgi_app: Callable[[dict, StartResponse], Iterable[bytes]],
                 seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("BODY_TIMEOUT_SECONDS must be positive")
        self.wsgi_app = wsgi_app
        self.seconds = seconds
        self._queue: SimpleQueue[weakref.ref[DeadlineInput] | None] = SimpleQueue()
        self._thread_pid = 0
        self._starting = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        # The declared body length; None when chunked, 0 when there is no body at all.
        chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower().strip().endswith("chunked")
        content_length = None if chunked else get_content_length(environ) or 0
        if (sock is None or content_length == 0
                or not environ.get("SERVER_PROTOCOL", "").startswith("HTTP/1")):
            return self.wsgi_app(environ, start_response)
        body = environ["wsgi.input"] = self.watch(environ["wsgi.input"], sock, content_length)
        try:
            response = self.wsgi_app(environ, start_response)
            # After a bad body or one left unread, close: gunicorn would read the rest with no
            # deadline, or find no next request in it.
            if not body.done and getattr(_served, "request", None) is not None:
                _served.request.force_close()
            return response
        finally:
            body.cancel()

    def watch(self, stream: Any, sock: socket.socket, content_length: int | None) -> DeadlineInput:
        body = DeadlineInput(stream, sock, content_length, self.seconds)
        self._queue.put(weakref.ref(body))
        with self._starting:
            if self._thread_pid != os.getpid():
                self._thread_pid = os.getpid()
                threading.Thread(target=self._run, name="body-deadline", daemon=True).start()
        return body

    def close(self) -> None:
        """Let the thread end once the deadlines queued before are past."""
        self._queue.put(None)

    def _run(self) -> None:
        while (watched := self._queue.get()) is not None:
            body = watched()  # None once its request has ended
            if body is not None and not body.done:
                time.sleep(max(body.deadline - time.monotonic(), 0))
                body.fire()
