"""JSON log lines on stderr, one object a line, each carrying the request id.

Inside a request the id comes from `flask.g`; job and webhook threads pass it (and the
job id) with `extra=`, so a job's lines can be found from the request that made it.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from functools import lru_cache
from typing import Any

from flask import g, has_app_context

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if has_app_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS:
                entry[key] = value
        if record.exc_info:
            # Server-side only: the client never sees this.
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _timestamp(created: float) -> str:
    seconds = int(created)
    return f"{_whole_second(seconds)}.{int((created - seconds) * 1000):03d}Z"


@lru_cache(maxsize=4)
def _whole_second(seconds: int) -> str:
    """Formatting the date part once a second, not once a line."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


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
