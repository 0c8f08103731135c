"""Scale-out mode, web side: store jobs in Redis and queue them for RQ workers."""
from __future__ import annotations

import logging
import time

import redis
from rq import Queue

from app.config import Settings
from app.jobs.backend import Refused
from app.jobs.model import PENDING, RUNNING, JobRecord
from app.jobs.redis_store import (KEY_PREFIX, PENDING_INDEX, RUNNING_SET, RedisJobStore,
                                   connect, unavailable_as_store_error)
from app.jobs.tasks import JOBS_QUEUE, run_job_task
from app.observability.metrics import Sample, queue_samples
from app.observability.shared_metrics import redis_samples

log = logging.getLogger(__name__)


# In the same MULTI as RQ's enqueue, after it: a refused claim takes its queue entry back.
# KEYS: record, pending index, RQ queue list, RQ job hash.
# ARGV: record, created_at, job id, MAX_QUEUE.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('LREM', KEYS[3], -1, ARGV[3])
  return 'taken'
end
if redis.call('LLEN', KEYS[3]) > tonumber(ARGV[4]) then
  redis.call('LREM', KEYS[3], -1, ARGV[3])
  redis.call('DEL', KEYS[4])
  return 'full'
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 'ok'
"""


class RQBackend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = connect(settings.redis_url, settings.redis_ssl_cert_reqs)
        self.store = RedisJobStore(self.client, settings.job_ttl_seconds)
        self.queue = Queue(JOBS_QUEUE, connection=self.client)

    def submit(self, record: JobRecord) -> bool:
        """The RQ job and the record in one MULTI: both or neither (_CLAIM)."""
        with unavailable_as_store_error(), self.client.pipeline() as pipe:
            job = self.queue.enqueue_call(
                run_job_task, args=(record.job_id,), job_id=record.job_id,
                timeout=int(self.settings.job_timeout_seconds), result_ttl=0,
                failure_ttl=int(self.settings.job_ttl_seconds), pipeline=pipe,
            )
            pipe.eval(_CLAIM, 4, KEY_PREFIX + record.job_id, PENDING_INDEX, self.queue.key, job.key,
                      record.to_json(), record.created_at, record.job_id, self.settings.max_queue)
            outcome = pipe.execute()[-1]
        if outcome == b"full":
            raise Refused(f"{self.settings.max_queue} jobs waiting")
        return outcome == b"ok"

    def metric_samples(self) -> list[Sample]:
        """The workers' figures and the queue; the waiting jobs are the pending index, which
        cancelled ones leave at once, unlike RQ's queue list."""
        try:
            with self.client.pipeline(transaction=False) as pipe:
                queued, running, depth, oldest = pipe.llen(self.queue.key).scard(RUNNING_SET).zcard(
                    PENDING_INDEX).zrange(PENDING_INDEX, 0, 0, withscores=True).execute()
            return [*redis_samples(self.client),
                    ("jobs_active", {"state": PENDING}, float(queued)),
                    ("jobs_active", {"state": RUNNING}, float(running)),
                    *queue_samples(depth, oldest[0][1] if oldest else None, time.time())]
        except redis.RedisError:
            log.warning("worker metrics unavailable: Redis unreachable")
            return []

    def healthy(self) -> bool:
        return self.store.ping()

    def release(self, job_id: str) -> None:
        """Nothing to free here: the worker that dequeues a cancelled job skips it."""

    def shutdown(self, grace_seconds: float, exit_within: float | None = None) -> bool:
        """Nothing runs here: jobs wait in Redis for the workers."""
        return True
