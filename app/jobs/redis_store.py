"""Scale-out mode's store: job records in Redis, shared by every web and worker process.

A record is one JSON string under `fs:job:<id>`. New ids are claimed with SET NX, so
they are unique across processes and machines. Status changes are compare-and-set
transactions (WATCH/MULTI), so two processes can never both move a job. Redis itself
expires a record JOB_TTL_SECONDS after it finishes.

Jobs that are running also sit in the set `fs:running`; a running job's worker holds a
lease key that it refreshes, and `reap_lost` fails the jobs whose lease ran out (a
worker killed mid-job), within LEASE_SECONDS plus one reaper interval.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterable, Iterator

import redis

from app.jobs.model import FINISHED, RUNNING, JobRecord
from app.jobs.store import StoreUnavailable

KEY_PREFIX = "fs:job:"
LEASE_PREFIX = "fs:lease:"
RUNNING_SET = "fs:running"
REMEMBER_PREFIX = "fs:idempotency:"
LEASE_SECONDS = 10


def connect(url: str, ssl_cert_reqs: str | None = None) -> redis.Redis:
    """A client that fails fast: a down Redis must turn into a 503 in about a second."""
    options: dict[str, Any] = {"socket_connect_timeout": 1, "socket_timeout": 3,
                               "health_check_interval": 15}
    if url.startswith("rediss://") and ssl_cert_reqs:
        options["ssl_cert_reqs"] = ssl_cert_reqs
    return redis.Redis.from_url(url, **options)


@contextmanager
def unavailable_as_store_error() -> Iterator[None]:
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StoreUnavailable(str(exc)) from exc


class RedisJobStore:
    def __init__(self, client: redis.Redis, ttl_seconds: float) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds

    def create(self, record: JobRecord) -> bool:
        with unavailable_as_store_error():
            return bool(self.client.set(_key(record.job_id), record.to_json(), nx=True))

    def claim(self, pipe: redis.client.Pipeline, record: JobRecord) -> bool:
        """Start a transaction on `pipe` that stores `record`, if its id is free.

        The caller adds its own commands (queueing the job) and executes the pipeline,
        so the record and its queue entry are written together or not at all.
        """
        key = _key(record.job_id)
        pipe.watch(key)
        if pipe.exists(key):
            pipe.unwatch()
            return False
        pipe.multi()
        pipe.set(key, record.to_json())
        return True

    def get(self, job_id: str) -> JobRecord | None:
        with unavailable_as_store_error():
            raw = self.client.get(_key(job_id))
        return JobRecord.from_json(raw) if raw else None

    def transition(self, job_id: str, expected: Iterable[str], **changes: Any) -> JobRecord | None:
        return self._change(job_id, frozenset(expected), changes)

    def update(self, job_id: str, **changes: Any) -> JobRecord | None:
        return self._change(job_id, None, changes)

    def ping(self) -> bool:
        with unavailable_as_store_error():
            return bool(self.client.ping())

    def remember(self, key: str, value: dict[str, Any], ttl_seconds: float) -> dict[str, Any] | None:
        redis_key = REMEMBER_PREFIX + key
        with unavailable_as_store_error():
            while True:
                if self.client.set(redis_key, json.dumps(value), nx=True,
                                   px=max(1, int(ttl_seconds * 1000))):
                    return None
                kept = self.client.get(redis_key)
                if kept is not None:  # else it expired between the two calls: try again
                    return json.loads(kept)

    def forget(self, key: str) -> None:
        with unavailable_as_store_error():
            self.client.delete(REMEMBER_PREFIX + key)

    # -- leases on running jobs ---------------------------------------------------------

    def renew_lease(self, job_id: str) -> None:
        with unavailable_as_store_error():
            self.client.set(LEASE_PREFIX + job_id, "1", ex=LEASE_SECONDS)

    def running_count(self) -> int:
        with unavailable_as_store_error():
            return int(self.client.scard(RUNNING_SET))

    def lost_jobs(self) -> list[str]:
        """Running jobs whose worker stopped renewing the lease."""
        with unavailable_as_store_error():
            running = sorted(m.decode() for m in self.client.smembers(RUNNING_SET))
            if not running:
                return []
            alive = self.client.mget([LEASE_PREFIX + j for j in running])
        return [job_id for job_id, lease in zip(running, alive) if lease is None]

    # -- the one place records change ---------------------------------------------------

    def _change(self, job_id: str, expected: frozenset[str] | None,
                changes: dict[str, Any]) -> JobRecord | None:
        key = _key(job_id)
        with unavailable_as_store_error(), self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        return None
                    record = JobRecord.from_json(raw)
                    if expected is not None and record.status not in expected:
                        return None
                    new = replace(record, **changes)
                    pipe.multi()
                    self._write(pipe, key, record, new)
                    pipe.execute()
                    return new
                except redis.WatchError:
                    continue

    def _write(self, pipe: redis.client.Pipeline, key: str, old: JobRecord, new: JobRecord) -> None:
        if new.status in FINISHED:
            # A finished record's clock starts when it finishes; later updates keep it.
            if old.finished:
                pipe.set(key, new.to_json(), keepttl=True)
            else:
                pipe.set(key, new.to_json(), px=max(1, int(self.ttl_seconds * 1000)))
        else:
            pipe.set(key, new.to_json())
        if new.status == RUNNING and old.status != RUNNING:
            pipe.sadd(RUNNING_SET, new.job_id)
        elif new.status != RUNNING and old.status == RUNNING:
            pipe.srem(RUNNING_SET, new.job_id)
            pipe.delete(LEASE_PREFIX + new.job_id)


def _key(job_id: str) -> str:
    return KEY_PREFIX + job_id


