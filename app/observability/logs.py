"""JSON log lines on stderr, one object a line, each carrying the request id.

Inside a request the id comes from REQUEST_ID, which the request cycle sets
(app/web/instrumentation.py); job and webhook threads pass it (and the job id) with
`extra=`, so a job's lines can be found from the request that made it.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
import time
from collections import deque
from contextvars import ContextVar
from typing import Any


ACCESS_LOGGER = "app.access"

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}


# The id of the request this thread is serving, set by the request cycle (app/web), so
# that every log line of the request carries it.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS:
                entry[key] = value
        if record.exc_info:
            # Server-side only: the client never sees this.
            entry["exception"] = self.formatException(record.exc_info)
        return _dumps(entry)


def _dumps(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, default=str)


def _timestamp(created: float) -> str:
    seconds = int(created)
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int((created - seconds) * 1000):03d}Z"


class StderrLines:
    """Lines gathered from any thread and written to stderr together every FLUSH_SECONDS.

    Why: a line per request written as it comes is a write() system call per request,
    made under the logging handler's lock; under load the request threads queue on that
    lock and hand the GIL back and forth. Appending to a deque needs no lock, and one
    flusher thread per process writes what has gathered. Lines still here at exit are
    written by `flush()`, which runs at interpreter exit and from `logging.shutdown()`
    (gunicorn's worker_exit hook calls it); only a SIGKILL loses them, at most
    FLUSH_SECONDS' worth.
    """

    FLUSH_SECONDS = 0.1

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lines: deque[str] = deque()
        self._owner = 0  # the pid whose flusher thread runs; another pid means we forked
        self._lock = threading.Lock()  # one writer at a time, so lines keep their order
        atexit.register(self.flush)
        os.register_at_fork(after_in_child=self._forget_parent)

    def append(self, line: str) -> None:
        if self._owner != os.getpid():
            self._start_in_this_process()
        self._lines.append(line + "\n")

    def flush(self) -> None:
        with self._lock:
            if self._owner != os.getpid():
                return
            taken = []
            while self._lines:
                taken.append(self._lines.popleft())
            if taken:
                _write_all(self.fd, "".join(taken).encode("utf-8", "backslashreplace"))

    def _forget_parent(self) -> None:
        """In a forked child: the parent's unwritten lines are the parent's to write, and its
        flusher may have held the lock at the fork."""
        self._lock = threading.Lock()
        self._lines = deque()
        self._owner = 0

    def _start_in_this_process(self) -> None:
        with self._lock:
            if self._owner == os.getpid():
                return
            self._owner = os.getpid()
            threading.Thread(target=self._flush_periodically, args=(self._owner,),
                             name="log-flusher", daemon=True).start()

    def _flush_periodically(self, owner: int) -> None:
        while self._owner == owner:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            written = os.write(fd, data)
        except OSError:  # stderr closed or full: logging must never break a request
            return
        data = data[written:]


STDERR = StderrLines(fd=2)


class BufferedStderrHandler(logging.Handler):
    """The handler of gunicorn web processes (gunicorn.conf.py): lines go to `STDERR`.

    WARNING and above are written at once, with whatever was gathered before them, so
    an error is never held back. Not for processes that end in `os._exit` without
    logging.shutdown (RQ's work-horses): they keep the plain handler.
    """

    def handle(self, record: logging.LogRecord) -> bool:
        """`Handler.handle` without its lock: emitting is an append."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            STDERR.append(self.format(record))
        except Exception:
            self.handleError(record)
        if record.levelno >= logging.WARNING:
            STDERR.flush()

    def flush(self) -> None:
        STDERR.flush()


def access_line(request_id: str, fields: dict[str, Any]) -> None:
    """The per-request INFO line of logger `app.access`, straight to `STDERR`.

    The same JSON a `logging` call would give, without the LogRecord and handler
    dispatch, which cost 20-30 µs a request (several times that under load).
    """
    now = time.time()
    STDERR.append(_dumps({"ts": _timestamp(now), "level": "INFO", "logger": ACCESS_LOGGER,
                          "message": "request", "pid": os.getpid(), "request_id": request_id,
                          **fields}))


def json_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(level: str) -> None:
    """Send the root logger's records to stderr as JSON lines (idempotent)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.handlers = [json_handler()]
    root.setLevel(level)
