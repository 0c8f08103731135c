"""What a client can get wrong, or find unavailable, below the web layer. No HTTP, so the
RQ worker imports them without Flask; app/web/errors.py maps each to a status and code."""
from __future__ import annotations

from typing import Any, Iterable


class ClientError(Exception):
    """A failure the client should hear about: a message, and details when there are any."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or None


class InvalidInput(ClientError):
    """Input that breaks the documented rules; `details.field` names where."""


class AlgorithmNotFound(ClientError):
    def __init__(self, name: str, available: Iterable[str]) -> None:
        super().__init__(f"算法 '{name[:100]}' 不存在", available_algorithms=sorted(available))


class JobNotFound(ClientError):
    """No such job for this client: another client's job is as unknown as a missing one."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"任务 '{job_id[:64]}' 不存在或已过期")


class Conflict(ClientError):
    """The request clashes with the job's state or with an earlier request."""


class Unavailable(ClientError):
    """The service cannot take the request now; a retry later may succeed."""

    def __init__(self, message: str = "任务服务暂不可用,请稍后重试") -> None:
        super().__init__(message)
