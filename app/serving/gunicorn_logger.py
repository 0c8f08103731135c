"""gunicorn's logger without its access log (the app writes its own; gunicorn's cost a tenth
of the worker's time on /invoke). A malformed request is a client mistake, logged at INFO:
WARNING is kept for what an operator must look at."""
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
        """Nothing: app.web.instrumentation writes each request's line."""
