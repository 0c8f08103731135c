"""Creating and reading jobs: validation, ids and metrics, whichever backend runs them."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from app.algorithms.base import Algorithm
from app.errors import ApiError, service_unavailable, validation_error
from app.jobs.backend import JobBackend, QueueFull
from app.jobs.model import JOB_ID_PATTERN, JobRecord, new_job_id
from app.jobs.schemas import JobRequest
from app.jobs.store import StoreFull, StoreUnavailable
from app.metrics import Metrics
from app.validation import echo, load
from app.webhooks.address_policy import AddressPolicy, check_url

log = logging.getLogger(__name__)
job_request = JobRequest()
ID_ATTEMPTS = 5


def job_not_found(job_id: str) -> ApiError:
    return ApiError(404, "JOB_NOT_FOUND", f"任务 '{job_id[:64]}' 不存在或已过期")


class JobService:
    def __init__(self, backend: JobBackend, find_algorithm, metrics: Metrics,
                 policy: AddressPolicy) -> None:
        self.backend = backend
        self.find_algorithm = find_algorithm
        self.metrics = metrics
        self.policy = policy

    def create(self, body: Mapping[str, Any], request_id: str) -> JobRecord:
        """Validate everything a job needs to run, then store and queue it."""
        data = load(job_request, dict(body))
        algorithm: Algorithm = self.find_algorithm(data["algorithm"])
        load(algorithm.params_schema, data["params"], path_prefix="params.")
        if data["webhook"] is not None:
            self._check_webhook(data["webhook"])
        try:
            record = self._submit(algorithm.name, data, request_id)
        except (QueueFull, StoreFull, StoreUnavailable) as exc:
            log.warning("job refused: %s", type(exc).__name__, extra={"reason": str(exc)})
            raise service_unavailable() from None
        self.metrics.jobs_created.labels(algorithm.name).inc()
        log.info("job created", extra={"job_id": record.job_id, "algorithm": algorithm.name})
        return record

    def get(self, job_id: str) -> JobRecord:
        if not JOB_ID_PATTERN.fullmatch(job_id):
            raise job_not_found(job_id)
        try:
            record = self.backend.store.get(job_id)
        except StoreUnavailable:
            raise service_unavailable() from None
        if record is None:
            raise job_not_found(job_id)
        return record

    def _submit(self, algorithm: str, data: dict[str, Any], request_id: str) -> JobRecord:
        for _ in range(ID_ATTEMPTS):
            record = JobRecord(job_id=new_job_id(), algorithm=algorithm, params=data["params"],
                               webhook=data["webhook"], request_id=request_id)
            if self.backend.submit(record):
                return record
        raise StoreFull("no free job id")  # 48 random bits: practically unreachable

    def _check_webhook(self, url: str) -> None:
        try:
            check_url(url, self.policy)
        except ValueError as exc:
            raise validation_error(str(exc), field="webhook", value=echo(url)) from None
