"""A job record: what every store keeps, and what GET /jobs/{job_id} shows (JobStatusResponse).

Timestamps are kept as Unix seconds and shown as ISO 8601 UTC with a `+00:00`
offset at whole-second resolution, exactly as the user's API document shows them.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

PENDING = "pending"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
# An addition to the documented statuses: DELETE /jobs/{job_id} on a pending job, or
# on a running one whose algorithm allows it.
CANCELLED = "cancelled"
FINISHED = frozenset({COMPLETED, FAILED, CANCELLED})

JOB_ID_PATTERN = re.compile(r"[0-9a-f]{12}")


def new_job_id() -> str:
    """12 lowercase hex digits from the OS's CSPRNG: unguessable, so ids are not enumerable."""
    return secrets.token_hex(6)


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(int(timestamp), timezone.utc)
    return moment.isoformat()


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    algorithm: str
    params: dict[str, Any]
    webhook: str | None = None
    request_id: str | None = None
    status: str = PENDING
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    completed_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    metadata: dict[str, Any] | None = None
    # Additions to the documented record: where the webhook delivery stands.
    webhook_status: str | None = None
    webhook_attempts: int = 0
    # Who created the job (app/web/auth.py's client id): only they can read or cancel it.
    owner: str = ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_json(self) -> bytes:
        """How stores keep a record: one compact block, not a tree of small objects."""
        # vars(), not dataclasses.asdict: asdict deep-copies every nested value first, which
        # was a quarter of a job's cost; the JSON encoder copies nothing.
        return json.dumps(vars(self), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "JobRecord":
        """A stored record; fields this release does not know are passed over, so its
        processes read what a newer one wrote during a rolling upgrade."""
        return cls(**{name: value for name, value in json.loads(raw).items()
                      if name in RECORD_FIELDS})

    def webhook_payload(self) -> dict[str, Any]:
        """The body POSTed to the job's webhook when it finishes."""
        return {
            "job_id": self.job_id,
            "status": self.status,
            "algorithm": self.algorithm,
            "result": self.result,
            "error": self.error,
            "metadata": self.metadata,
            "completed_at": iso(self.completed_at),
        }


RECORD_FIELDS = frozenset(each.name for each in fields(JobRecord))
