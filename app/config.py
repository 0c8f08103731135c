"""Settings, read once from the environment (12-factor) with environs. Every setting has a
safe default; an invalid value stops the start with an error naming the variable."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Iterable, Mapping

from environs import Env


def setting(default: Any, parse: Callable[[Env, str], Any] = Env.str, *,
            secret: bool = False) -> Any:
    """A field its variable sets through `parse(env, NAME)`, an environs parser; a secret one
    is kept out of the repr."""
    return field(default=default, repr=not secret, metadata={"parse": parse})


def _items(collect: Callable[[Iterable[str]], Any] = tuple,
           each: Callable[[str], str] = str) -> Callable[[Env, str], Any]:
    """A comma-separated list, `each` item given to `collect`; spaces around items and empty
    items are dropped."""
    return lambda env, name: collect(each(item.strip()) for item in env.list(name)
                                     if item.strip())


@dataclass(frozen=True)
class Settings:
    """What the service can be told; the README's configuration table mirrors it."""

    log_level: str = setting("INFO", lambda env, name: env.str(name).upper())
    max_content_length: int = setting(1024 * 1024, Env.int)
    default_algorithm: str = setting("PrimeChecker")
    redis_url: str | None = setting(None)
    redis_ssl_cert_reqs: str | None = setting(None)
    job_timeout_seconds: float = setting(600.0, Env.float)
    job_ttl_seconds: float = setting(3600.0, Env.float)
    max_jobs: int = setting(10_000, Env.int)
    max_queue: int = setting(1_000, Env.int)
    job_workers: int = setting(4, Env.int)
    webhook_workers: int = setting(8, Env.int)
    webhook_timeout_seconds: float = setting(10.0, Env.float)
    webhook_retry_delays: tuple[float, ...] = setting(
        (1.0, 5.0, 15.0), lambda env, name: tuple(env.list(name, subcast=float)))
    sweep_interval_seconds: float = setting(5.0, Env.float)
    shutdown_grace_seconds: float = setting(20.0, Env.float)
    webhook_allow_private: bool = setting(False, Env.bool)
    webhook_allowed_hosts: frozenset[str] = setting(frozenset(), _items(frozenset, str.lower))
    webhook_secret: str | None = setting(None, secret=True)
    extra_algorithms: tuple[str, ...] = setting((), _items())
    api_keys: frozenset[str] = setting(frozenset(), _items(frozenset), secret=True)
    metrics_public: bool = setting(True, Env.bool)
    max_inflight_invoke: int = setting(8, Env.int)
    max_params_bytes: int = setting(64 * 1024, Env.int)
    worker_max_jobs: int = setting(1000, Env.int)
    worker_sweep_seconds: float = setting(2.0, Env.float)
    body_timeout_seconds: float = setting(10.0, Env.float)
    forwarded_allow_ips: tuple[str, ...] = setting(("127.0.0.1", "::1"), _items())
    webhook_dns_timeout_seconds: float = setting(3.0, Env.float)

    @classmethod
    def from_env(cls) -> Settings:
        """Each field from the variable of its name in capitals; unset or blank: the default.
        MAX_INFLIGHT_INVOKE, unset, is GUNICORN_THREADS (gunicorn.conf.py's default is 8)."""
        env = Env()
        values = {setting.name: setting.metadata["parse"](env, setting.name.upper())
                  for setting in fields(cls) if _is_set(setting.name.upper())}
        if "max_inflight_invoke" not in values and _is_set("GUNICORN_THREADS"):
            values["max_inflight_invoke"] = env.int("GUNICORN_THREADS")
        return cls(**values)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Settings:
        """A copy with the given fields replaced; unknown names are a programming error."""
        unknown = set(overrides or ()) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return replace(self, **(overrides or {}))


def _is_set(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())
