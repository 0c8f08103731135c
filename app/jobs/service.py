"""Creating and reading jobs, whichever backend runs them; failures are app/errors.py's."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any, Iterable, Mapping

from app.algorithms.base import Algorithm
from app.algorithms.registry import find_algorithm
from app.errors import Conflict, InvalidInput, JobNotFound, Unavailable
from app.jobs.backend import JobBackend, Refused
from app.jobs.model import CANCELLED, JOB_ID_PATTERN, PENDING, RUNNING, JobRecord, new_job_id
from app.jobs.schemas import JobRequest
from app.observability.metrics import Metrics
from app.validation import check_params_size, echo, is_sane, load
from app.webhooks.address_policy import AddressPolicy, check_url

log = logging.getLogger(__name__)
job_request = JobRequest()
ID_ATTEMPTS = 5
IDEMPOTENT_WAIT_SECONDS = 2.0


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class JobService:
    def __init__(self, backend: JobBackend, algorithms: Mapping[str, Algorithm], metrics: Metrics,
                 policy: AddressPolicy, job_ttl_seconds: float, max_params_bytes: int) -> None:
        self.backend = backend
        self.algorithms = algorithms
        self.metrics = metrics
        self.policy = policy
        self.job_ttl_seconds = job_ttl_seconds
        if max_params_bytes < 1:
            raise ValueError("MAX_PARAMS_BYTES must be at least 1")
        self.max_params_bytes = max_params_bytes

    def create(self, body: Mapping[str, Any], request_id: str,
               idempotency_key: str | None = None, client: str = "") -> tuple[JobRecord, bool]:
        """Validate everything a job needs to run, then store and queue it. The bool is
        True for a repeat of an Idempotency-Key, scoped to `client` as Stripe scopes keys."""
        data = load(job_request, dict(body))
        check_params_size(data["params"], self.max_params_bytes)
        algorithm = find_algorithm(self.algorithms, data["algorithm"])
        load(algorithm.params_schema, data["params"], path_prefix="params.")
        if data["webhook"] is not None:
            try:
                check_url(data["webhook"], self.policy)
            except ValueError as exc:
                raise InvalidInput(str(exc), field="webhook", value=echo(data["webhook"])) from None
        data["algorithm"] = algorithm.name
        try:
            if idempotency_key is None:
                fresh_ids = (new_job_id() for _ in range(ID_ATTEMPTS))
                return self._submit(data, request_id, client, fresh_ids), False
            return self._submit_once(idempotency_key, client, data, request_id)
        except Refused as exc:
            log.warning("job refused", extra={"reason": str(exc)})
            raise Unavailable() from None

    def cancel(self, job_id: str, client: str = "") -> JobRecord:
        record = self.get(job_id, client)
        algorithm = self.algorithms.get(record.algorithm)
        expected = {PENDING, RUNNING} if algorithm and algorithm.cancellable else {PENDING}
        try:
            cancelled = self.backend.store.transition(
                job_id, expected, status=CANCELLED, error="cancelled by the client",
                completed_at=time.time(),
            )
        except Refused:
            raise Unavailable() from None
        if cancelled is None:
            current = self.get(job_id, client)
            raise Conflict(f"a {current.status} job cannot be cancelled", status=current.status)
        self.backend.release(job_id)
        self.metrics.jobs_completed.labels(record.algorithm, CANCELLED).inc()
        log.info("job cancelled", extra={"job_id": job_id})
        return cancelled

    def get(self, job_id: str, client: str = "") -> JobRecord:
        if not JOB_ID_PATTERN.fullmatch(job_id):
            raise JobNotFound(job_id)
        try:
            record = self.backend.store.get(job_id)
        except Refused:
            raise Unavailable() from None
        if record is None or not hmac.compare_digest(record.owner, client):
            raise JobNotFound(job_id)
        return record

    def _submit(self, data: dict[str, Any], request_id: str, client: str,
                job_ids: Iterable[str]) -> JobRecord:
        """The job under the first of `job_ids` that is free."""
        for job_id in job_ids:
            record = JobRecord(job_id=job_id, request_id=request_id, owner=client, **data)
            if self.backend.submit(record):
                self.metrics.jobs_created.labels(record.algorithm).inc()
                log.debug("job created", extra={"job_id": job_id, "algorithm": record.algorithm})
                return record
        raise Refused("no free job id")  # 48 random bits: practically unreachable

    def _submit_once(self, key: str, client: str, data: dict[str, Any],
                     request_id: str) -> tuple[JobRecord, bool]:
        if not is_sane(key):
            raise InvalidInput("Idempotency-Key must be printable and at most 128 characters",
                               field="Idempotency-Key")
        fingerprint = _digest(json.dumps(data, sort_keys=True, ensure_ascii=False))
        claim = {"fingerprint": fingerprint, "job_id": new_job_id()}
        store = self.backend.store
        scoped_key = _digest(f"{client}\n{key}")  # a client id never holds a newline
        kept = store.remember(scoped_key, claim, self.job_ttl_seconds)
        if kept is None:
            try:
                return self._submit(data, request_id, client, [claim["job_id"]]), False
            except Exception:
                store.forget(scoped_key)
                raise
        if kept["fingerprint"] != fingerprint:
            raise Conflict("Idempotency-Key was already used with a different request body")
        deadline = time.monotonic() + IDEMPOTENT_WAIT_SECONDS
        while (record := store.get(kept["job_id"])) is None:  # the first is still storing it
            if time.monotonic() > deadline:
                raise Refused("the first request with this Idempotency-Key did not finish")
            time.sleep(0.005)
        return record, True
