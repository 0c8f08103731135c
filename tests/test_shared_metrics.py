"""app/observability/shared_metrics.py: what a scale-out worker records reaches the Redis hash
exactly once, a flush Redis refused included."""
from __future__ import annotations

import pytest
import redis

from app.observability.shared_metrics import MetricsBuffer, redis_samples, worker_metrics
from tests.servers import RedisServer


def written(client: redis.Redis) -> dict[tuple[str, tuple], float]:
    return {(name, tuple(sorted(labels.items()))): value
            for name, labels, value in redis_samples(client)}


def test_each_change_reaches_redis_once_and_a_refused_flush_is_written_by_the_next():
    server = RedisServer().start()
    try:
        client = redis.Redis.from_url(server.url)
        buffer = MetricsBuffer(client)
        metrics = worker_metrics(buffer)
        metrics.webhook_deliveries.labels("success").inc()
        metrics.job_duration.labels("A").observe(2.0)
        buffer.flush()
        buffer.flush()  # nothing new: nothing added
        first = written(client)
        assert first[("webhook_deliveries_total", (("status", "success"),))] == 1
        assert first[("job_execution_duration_seconds_count", (("algorithm", "A"),))] == 1
        assert first[("job_execution_duration_seconds_sum", (("algorithm", "A"),))] == 2.0
        assert first[("job_execution_duration_seconds_bucket", (("algorithm", "A"), ("le", "2.5")))] == 1
        # A bucket the observation is above was not written, as nothing counted in it.
        assert ("job_execution_duration_seconds_bucket", (("algorithm", "A"), ("le", "1.0"))) not in first

        server.stop()
        metrics.webhook_deliveries.labels("success").inc(2)
        with pytest.raises(redis.RedisError):
            buffer.flush()
        server = server.restarted()
        metrics.webhook_deliveries.labels("failed").inc()
        buffer.flush()
        buffer.flush()
        after = written(client)
        assert after[("webhook_deliveries_total", (("status", "success"),))] == 3
        assert after[("webhook_deliveries_total", (("status", "failed"),))] == 1
        assert after[("job_execution_duration_seconds_count", (("algorithm", "A"),))] == 1
        client.close()
    finally:
        server.stop()
