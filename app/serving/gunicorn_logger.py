"""gunicorn's logger without its access log: the app writes its own JSON access line.

With `logconfig_dict` set, gunicorn builds its access-log data for every request (a
dict of every header and environ entry) before its logger finds no handler for it;
that was about a tenth of the worker's time on /invoke. Loaded by gunicorn.conf.py.
A request gunicorn refuses as malformed HTTP is logged at INFO, as the app logs every
other client mistake: WARNING is kept for what an operator must look at.
"""
from __future__ import annotations

from gunicorn.glogging import Logger


# How gunicorn's Worker.handle_error starts its line for a client's malformed request.
CLIENT_ERROR_PREFIX = "Invalid request from ip="


class ErrorLogOnly(Logger):
    def warning(self, msg, *args, **kwargs) -> None:  # noqa: ANN001 (gunicorn's API)
        if isinstance(msg, str) and msg.startswith(CLIENT_ERROR_PREFIX):
            self.info(msg, *args, **kwargs)
        else:
            super().warning(msg, *args, **kwargs)

    def access(self, resp, req, environ, request_time) -> None:  # noqa: ANN001 (gunicorn's API)
        """Nothing: each request's line comes from app.web.instrumentation, with its request id."""
