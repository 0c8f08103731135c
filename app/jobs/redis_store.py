"""Scale-out mode's store: job records in Redis, shared by every web and worker process.

Every change is a compare-and-set of the whole record in one Lua script, which also keeps
the pending index and the running set with its leases (how the workers notice jobs
nobody will finish, app/jobs/tasks.py) in step, in the same write.
"""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterable, Iterator

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.jobs.model import FINISHED, JobRecord
from app.jobs.backend import Refused

log = logging.getLogger(__name__)

KEY_PREFIX = "fs:job:"
LEASE_PREFIX = "fs:lease:"
RUNNING_SET = "fs:running"
PENDING_INDEX = "fs:pending"
REMEMBER_PREFIX = "fs:idempotency:"
READY_PROBE = "fs:ready-probe"
LEASE_SECONDS = 10
# A hung Redis must turn into a 503 within about a second, whichever command hangs.
SOCKET_TIMEOUT_SECONDS = 0.5

# KEYS: record, running set, lease, pending index.
# ARGV: old record, new record, expiry ("" none, "keep", or ms), job id, old status,
#       new status, lease seconds.
_CHANGE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2])
elseif ARGV[3] == 'keep' then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
if ARGV[5] ~= ARGV[6] then
  if ARGV[5] == 'pending' then redis.call('ZREM', KEYS[4], ARGV[4]) end
  if ARGV[6] == 'running' then
    redis.call('SADD', KEYS[2], ARGV[4])
    redis.call('SET', KEYS[3], '1', 'EX', ARGV[7])
  elseif ARGV[5] == 'running' then
    redis.call('SREM', KEYS[2], ARGV[4])
    redis.call('DEL', KEYS[3])
  end
end
return 1
"""


def connect(url: str, ssl_cert_reqs: str | None = None) -> redis.Redis:
    """A client that fails fast. One retry on a connection error (a pooled connection to
    a restarted Redis fails once), none on a timeout (that would double the wait)."""
    tls = {"ssl_cert_reqs": ssl_cert_reqs} if url.startswith("rediss://") and ssl_cert_reqs else {}
    return redis.Redis.from_url(
        url, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS, socket_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=15, **tls,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)))


@contextmanager
def unavailable_as_store_error() -> Iterator[None]:
    """Any Redis error (down, hung, out of memory, read-only replica) refuses for now."""
    try:
        yield
    except redis.RedisError as exc:
        log.warning("Redis error", extra={"error": f"{type(exc).__name__}: {exc}"})
        raise Refused(str(exc)) from exc


class RedisJobStore:
    def __init__(self, client: redis.Redis, ttl_seconds: float) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self._change_script = client.register_script(_CHANGE)

    def get(self, job_id: str) -> JobRecord | None:
        with unavailable_as_store_error():
            raw = self.client.get(KEY_PREFIX + job_id)
        return JobRecord.from_json(raw) if raw else None

    def update(self, job_id: str, **changes: Any) -> JobRecord | None:
        return self.transition(job_id, None, **changes)

    def ping(self) -> bool:
        """A small write: a full or read-only Redis still answers PING."""
        with unavailable_as_store_error():
            return bool(self.client.set(READY_PROBE, "1", ex=60))

    def remember(self, key: str, value: dict[str, Any], ttl_seconds: float) -> dict[str, Any] | None:
        with unavailable_as_store_error():
            kept = self.client.set(REMEMBER_PREFIX + key, json.dumps(value), nx=True, get=True,
                                   px=max(1, int(ttl_seconds * 1000)))
        return json.loads(kept) if kept is not None else None

    def forget(self, key: str) -> None:
        with unavailable_as_store_error():
            self.client.delete(REMEMBER_PREFIX + key)

    def renew_lease(self, job_id: str) -> None:
        self.client.set(LEASE_PREFIX + job_id, "1", ex=LEASE_SECONDS)

    def lost_jobs(self) -> list[str]:
        """Running jobs whose worker stopped renewing the lease."""
        running = sorted(m.decode() for m in self.client.smembers(RUNNING_SET))
        leases = self.client.mget([LEASE_PREFIX + j for j in running]) if running else []
        return [job_id for job_id, lease in zip(running, leases) if lease is None]

    def pending_since(self, created_before: float) -> list[str]:
        """Jobs still pending that were created before that time."""
        ids = self.client.zrangebyscore(PENDING_INDEX, "-inf", created_before)
        return [job_id.decode() for job_id in ids]

    def transition(self, job_id: str, expected: Iterable[str] | None,
                   **changes: Any) -> JobRecord | None:
        with unavailable_as_store_error():
            while True:  # until the script finds the record as it was read
                raw = self.client.get(KEY_PREFIX + job_id)
                if raw is None:
                    return None
                old = JobRecord.from_json(raw)
                if expected is not None and old.status not in expected:
                    return None
                new = replace(old, **changes)
                if new.status not in FINISHED:
                    expiry = ""
                elif old.status in FINISHED:  # a finished record's clock starts when it finishes
                    expiry = "keep"
                else:
                    expiry = str(max(1, int(self.ttl_seconds * 1000)))
                if self._change_script(
                    keys=[KEY_PREFIX + job_id, RUNNING_SET, LEASE_PREFIX + job_id, PENDING_INDEX],
                    args=[raw, new.to_json(), expiry, job_id, old.status, new.status,
                          LEASE_SECONDS],
                ):
                    return new
