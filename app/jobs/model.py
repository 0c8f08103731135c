"""A job record: what every store keeps, and what GET /jobs/{job_id} shows (JobStatusResponse)."""
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
CANCELLED = "cancelled"  # an extension: DELETE /jobs/{job_id}
FINISHED = frozenset({COMPLETED, FAILED, CANCELLED})

JOB_ID_PATTERN = re.compile(r"[0-9a-f]{12}")
WEBHOOK_FIELDS = ("job_id", "status", "algorithm", "result", "error", "metadata", "completed_at")


def new_job_id() -> str:
    """From the OS's CSPRNG: ids are not enumerable."""
    return secrets.token_hex(6)


def iso(timestamp: float | None) -> str | None:
    """Unix seconds as the API document shows them: `2024-01-01T12:00:00+00:00`."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(int(timestamp), timezone.utc).isoformat()


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
    # Extensions: where the webhook delivery stands, and who may read or cancel the job.
    webhook_status: str | None = None
    webhook_attempts: int = 0
    owner: str = ""

    def to_json(self) -> bytes:
        """vars(), not dataclasses.asdict: its deep copy costs a quarter of a job."""
        return json.dumps(vars(self), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "JobRecord":
        """Unknown fields are passed over: a rolling upgrade's newer release may write them."""
        return cls(**{name: value for name, value in json.loads(raw).items()
                      if name in RECORD_FIELDS})

    def webhook_payload(self) -> dict[str, Any]:
        """The body POSTed to the job's webhook when it finishes (README, Webhooks)."""
        payload = {name: getattr(self, name) for name in WEBHOOK_FIELDS}
        return {**payload, "completed_at": iso(self.completed_at)}


RECORD_FIELDS = frozenset(each.name for each in fields(JobRecord))
