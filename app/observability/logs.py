"""JSON log lines on stderr, one object a line, each carrying the request id: from
REQUEST_ID inside a request; job and webhook threads pass it (and the job id) with `extra=`,
so a job's lines can be found from the request that made it."""
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
# The id of the request this thread serves, set by the request cycle (app/web).
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# Attributes every LogRecord has; anything else was passed with `extra=` and is logged.
_STANDARD_ATTRS = frozenset({*logging.makeLogRecord({}).__dict__, "message", "asctime", "taskName"})
_dumps = json.JSONEncoder(ensure_ascii=False, default=str).encode


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"ts": _timestamp(record.created), "level": record.levelname,
                                 "logger": record.name, "message": record.getMessage(),
                                 "pid": record.process}
        if (request_id := REQUEST_ID.get()) is not None:
            entry["request_id"] = request_id
        entry.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS)
        if record.exc_info:  # server-side only: the client never sees it
            entry["exception"] = self.formatException(record.exc_info)
        return _dumps(entry)


def _timestamp(created: float) -> str:
    return time.strftime(f"%Y-%m-%dT%H:%M:%S.{int(created % 1 * 1000):03d}Z", time.gmtime(created))


class StderrLines:
    """Lines appended from any thread, written together every FLUSH_SECONDS by one thread
    per process, so request threads never queue on a lock to write (README, "Logs")."""

    FLUSH_SECONDS = 0.1

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._forget_parent()
        atexit.register(self.flush)
        os.register_at_fork(after_in_child=self._forget_parent)

    def _forget_parent(self) -> None:
        """In a forked child: the parent's lines and lock (its flusher may hold it) stay its own."""
        self._lines: deque[str] = deque()  # appending needs no lock
        self._lock = threading.Lock()  # one writer at a time, so lines keep their order
        self._flushing = False  # whether this process's flusher thread runs

    def append(self, line: str) -> None:
        if not self._flushing:  # this process's first line: start its flusher, once
            with self._lock:
                if not self._flushing:
                    self._flushing = True
                    threading.Thread(target=self._flush_periodically, name="log-flusher",
                                     daemon=True).start()
        self._lines.append(line + "\n")

    def flush(self) -> None:
        with self._lock:
            taken = [self._lines.popleft() for _ in range(len(self._lines))]
            data = "".join(taken).encode("utf-8", "backslashreplace")
            while data:
                try:
                    data = data[os.write(self.fd, data):]
                except OSError:  # stderr closed or full: logging must never break a request
                    return

    def _flush_periodically(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()


STDERR = StderrLines(fd=2)


class BufferedStderrHandler(logging.Handler):
    """gunicorn's web processes' handler: WARNING and above written at once with the lines
    before them. Not for processes that end in `os._exit` without `logging.shutdown()`."""

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
    """The JSON line a `logging` call to `app.access` would give, without its LogRecord."""
    STDERR.append(_dumps({"ts": _timestamp(time.time()), "level": "INFO", "logger": ACCESS_LOGGER,
                          "message": "request", "pid": os.getpid(), "request_id": request_id,
                          **fields}))


def configure_logging(level: str) -> None:
    """The root's records as JSON lines on stderr, added once, beside its other handlers."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
