"""The /invoke in-flight limit: one call more than MAX_INFLIGHT_INVOKE is a 503 at once,
so the caller can retry and threads stay free for the probes and /metrics."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from app.errors import Unavailable


class InvokeSlots:
    """The /invoke in-flight limit of one process: `with slots.taken():` around a run."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("MAX_INFLIGHT_INVOKE must be at least 1")
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def taken(self) -> Iterator[None]:
        """Hold a slot for the block, or raise the documented 503 at once if none is free."""
        if not self._slots.acquire(blocking=False):
            raise Unavailable("服务繁忙,请稍后重试")
        try:
            yield
        finally:
            self._slots.release()
