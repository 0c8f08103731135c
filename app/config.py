"""Settings, read once from the environment (12-factor).

Every setting has a safe default, so `gunicorn wsgi:app` works with nothing set.
Tests pass overrides to `create_app(config=...)` using the field names below.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    return int(raw) if raw else default


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    return float(raw) if raw else default


def _list(environ: Mapping[str, str], name: str, lower: bool = False) -> list[str]:
    items = [item.strip() for item in environ.get(name, "").split(",") if item.strip()]
    return [item.lower() for item in items] if lower else items


def _str(environ: Mapping[str, str], name: str, default: str | None) -> str | None:
    raw = environ.get(name, "").strip()
    return raw or default


TRUE_WORDS = {"1", "true", "yes", "on"}
# gunicorn.conf.py's default GUNICORN_THREADS, which MAX_INFLIGHT_INVOKE defaults to.
DEFAULT_THREADS = 8


@dataclass(frozen=True)
class Settings:
    """What the service can be told; the README's configuration table mirrors it."""

    log_level: str = "INFO"
    max_content_length: int = 1024 * 1024
    default_algorithm: str = "PrimeChecker"
    redis_url: str | None = None
    # For rediss:// on hosted Redis with self-signed certificates: "none".
    redis_ssl_cert_reqs: str | None = None
    job_timeout_seconds: float = 600.0
    job_ttl_seconds: float = 3600.0
    max_jobs: int = 10_000
    max_queue: int = 1_000
    job_workers: int = 4
    webhook_workers: int = 8
    webhook_timeout_seconds: float = 10.0
    webhook_retry_delays: tuple[float, ...] = (1.0, 5.0, 15.0)
    sweep_interval_seconds: float = 5.0
    shutdown_grace_seconds: float = 20.0
    webhook_allow_private: bool = False
    webhook_allowed_hosts: frozenset[str] = frozenset()
    webhook_secret: str | None = field(default=None, repr=False)
    extra_algorithms: tuple[str, ...] = ()
    # Hardening (app/auth.py, app/limits.py). No keys: no authentication. Never in a repr.
    api_keys: frozenset[str] = field(default=frozenset(), repr=False)
    metrics_public: bool = True
    max_inflight_invoke: int = DEFAULT_THREADS
    max_params_bytes: int = 64 * 1024
    # Scale-out workers (app/worker.py): replace a worker process after this many jobs, and
    # sweep for jobs whose worker was lost this often.
    worker_max_jobs: int = 1000
    worker_sweep_seconds: float = 2.0
    # Edges of the HTTP layer (app/body_deadline.py, app/webhooks/address_policy.py).
    body_timeout_seconds: float = 10.0
    webhook_dns_timeout_seconds: float = 3.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        delays = _list(environ, "WEBHOOK_RETRY_DELAYS")
        return cls(
            log_level=_str(environ, "LOG_LEVEL", cls.log_level).upper(),
            max_content_length=_int(environ, "MAX_CONTENT_LENGTH", cls.max_content_length),
            default_algorithm=_str(environ, "DEFAULT_ALGORITHM", cls.default_algorithm),
            redis_url=_str(environ, "REDIS_URL", None),
            redis_ssl_cert_reqs=_str(environ, "REDIS_SSL_CERT_REQS", None),
            job_timeout_seconds=_float(environ, "JOB_TIMEOUT_SECONDS", cls.job_timeout_seconds),
            job_ttl_seconds=_float(environ, "JOB_TTL_SECONDS", cls.job_ttl_seconds),
            max_jobs=_int(environ, "MAX_JOBS", cls.max_jobs),
            max_queue=_int(environ, "MAX_QUEUE", cls.max_queue),
            job_workers=_int(environ, "JOB_WORKERS", cls.job_workers),
            webhook_workers=_int(environ, "WEBHOOK_WORKERS", cls.webhook_workers),
            webhook_timeout_seconds=_float(
                environ, "WEBHOOK_TIMEOUT_SECONDS", cls.webhook_timeout_seconds
            ),
            webhook_retry_delays=(
                tuple(float(d) for d in delays) if delays else cls.webhook_retry_delays
            ),
            sweep_interval_seconds=_float(
                environ, "SWEEP_INTERVAL_SECONDS", cls.sweep_interval_seconds
            ),
            shutdown_grace_seconds=_float(
                environ, "SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds
            ),
            webhook_allow_private=_str(environ, "WEBHOOK_ALLOW_PRIVATE", "0").lower() in TRUE_WORDS,
            webhook_allowed_hosts=frozenset(_list(environ, "WEBHOOK_ALLOWED_HOSTS", lower=True)),
            webhook_secret=_str(environ, "WEBHOOK_SECRET", None),
            extra_algorithms=tuple(_list(environ, "EXTRA_ALGORITHMS")),
            api_keys=frozenset(_list(environ, "API_KEYS")),
            metrics_public=_str(environ, "METRICS_PUBLIC", "1").lower() in TRUE_WORDS,
            max_inflight_invoke=_int(
                environ, "MAX_INFLIGHT_INVOKE", _int(environ, "GUNICORN_THREADS", DEFAULT_THREADS)
            ),
            max_params_bytes=_int(environ, "MAX_PARAMS_BYTES", cls.max_params_bytes),
            worker_max_jobs=_int(environ, "WORKER_MAX_JOBS", cls.worker_max_jobs),
            worker_sweep_seconds=_float(environ, "WORKER_SWEEP_SECONDS", cls.worker_sweep_seconds),
            body_timeout_seconds=_float(environ, "BODY_TIMEOUT_SECONDS", cls.body_timeout_seconds),
            webhook_dns_timeout_seconds=_float(
                environ, "WEBHOOK_DNS_TIMEOUT_SECONDS", cls.webhook_dns_timeout_seconds
            ),
        )

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> "Settings":
        """Return a copy with the given fields replaced; unknown names are a programming error."""
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return replace(self, **overrides)
