"""Settings, read once from the environment (12-factor).

Every setting has a safe default, so `gunicorn wsgi:app` works with nothing set.
Tests pass overrides to `create_app(config=...)` using the field names below.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping


TRUE_WORDS = {"1", "true", "yes", "on"}


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


# How a variable's text becomes a value, by the type the field declares.
PARSERS: dict[str, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "str": str,
    "str | None": str,
    "bool": lambda raw: raw.lower() in TRUE_WORDS,
    "frozenset[str]": lambda raw: frozenset(_items(raw)),
    "tuple[str, ...]": lambda raw: tuple(_items(raw)),
    "tuple[float, ...]": lambda raw: tuple(float(item) for item in _items(raw)),
}
# Spellings that do not matter: LOG_LEVEL=info, WEBHOOK_ALLOWED_HOSTS=Hooks.Example.
NORMALISED: dict[str, Callable[[Any], Any]] = {
    "log_level": str.upper,
    "webhook_allowed_hosts": lambda hosts: frozenset(host.lower() for host in hosts),
}
# gunicorn.conf.py's default GUNICORN_THREADS, which MAX_INFLIGHT_INVOKE defaults to.
DEFAULT_THREADS = 8


@dataclass(frozen=True)
class Settings:
    """What the service can be told; the README's configuration table mirrors it.

    Every field is read from the environment variable of the same name in capitals
    (`job_ttl_seconds` from JOB_TTL_SECONDS), parsed by its declared type.
    """

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
    # Hardening (app/web/auth.py, app/web/limits.py). No keys: no authentication. Never in a repr.
    api_keys: frozenset[str] = field(default=frozenset(), repr=False)
    metrics_public: bool = True
    max_inflight_invoke: int = DEFAULT_THREADS
    max_params_bytes: int = 64 * 1024
    # Scale-out workers (app/worker.py): replace a worker process after this many jobs, and
    # sweep for jobs whose worker was lost this often.
    worker_max_jobs: int = 1000
    worker_sweep_seconds: float = 2.0
    # Edges of the HTTP layer (app/web/body_deadline.py, app/webhooks/address_policy.py).
    body_timeout_seconds: float = 10.0
    webhook_dns_timeout_seconds: float = 3.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """Each field from the variable of its name in capitals; unset or blank: the default."""
        values: dict[str, Any] = {}
        for setting in fields(cls):
            raw = environ.get(setting.name.upper(), "").strip()
            if raw:
                value = PARSERS[setting.type](raw)
                values[setting.name] = NORMALISED.get(setting.name, lambda v: v)(value)
        threads = environ.get("GUNICORN_THREADS", "").strip()
        if threads and "max_inflight_invoke" not in values:
            values["max_inflight_invoke"] = int(threads)
        return cls(**values)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> "Settings":
        """Return a copy with the given fields replaced; unknown names are a programming error."""
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return replace(self, **overrides)
