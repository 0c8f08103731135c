"""gunicorn's logger without its access log: the app writes its own JSON access line.

With `logconfig_dict` set, gunicorn builds its access-log data for every request (a
dict of every header and environ entry) before its logger finds no handler for it;
that was about a tenth of the worker's time on /invoke. Loaded by gunicorn.conf.py.
"""
from __future__ import annotations

from gunicorn.glogging import Logger


class ErrorLogOnly(Logger):
    def access(self, resp, req, environ, request_time) -> None:  # noqa: ANN001 (gunicorn's API)
        """Nothing: each request's line comes from app.web.instrumentation, with its request id."""
