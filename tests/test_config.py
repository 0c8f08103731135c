"""Settings come from the environment, one variable per field, with safe defaults."""
from __future__ import annotations

from dataclasses import fields

import pytest
from environs import EnvValidationError

from app.config import Settings

# Per field: a value as set in the environment, and what the setting becomes. A field
# added without a line here fails test_every_field_has_a_sample.
SAMPLES = {
    "log_level": ("debug", "DEBUG"),
    "max_content_length": ("2048", 2048),
    "default_algorithm": ("Other", "Other"),
    "redis_url": ("redis://127.0.0.1:6390/1", "redis://127.0.0.1:6390/1"),
    "redis_ssl_cert_reqs": ("none", "none"),
    "job_timeout_seconds": ("0.5", 0.5),
    "job_ttl_seconds": ("60", 60.0),
    "max_jobs": ("7", 7),
    "max_queue": ("7", 7),
    "job_workers": ("2", 2),
    "webhook_workers": ("3", 3),
    "webhook_timeout_seconds": ("1.5", 1.5),
    "webhook_retry_delays": ("1, 2.5", (1.0, 2.5)),
    "sweep_interval_seconds": ("0.25", 0.25),
    "shutdown_grace_seconds": ("4", 4.0),
    "webhook_allow_private": ("yes", True),
    "webhook_allowed_hosts": ("Hooks.Example, b.test,,", frozenset({"hooks.example", "b.test"})),
    "webhook_secret": ("whsec_c2VjcmV0", "whsec_c2VjcmV0"),
    "extra_algorithms": ("pkg.mod:A ,pkg.mod:B", ("pkg.mod:A", "pkg.mod:B")),
    "api_keys": (" key-one ,, key-two ", frozenset({"key-one", "key-two"})),
    "metrics_public": ("0", False),
    "max_inflight_invoke": ("14", 14),
    "max_params_bytes": ("1000", 1000),
    "worker_max_jobs": ("9", 9),
    "worker_sweep_seconds": ("0.5", 0.5),
    "body_timeout_seconds": ("2", 2.0),
    "webhook_dns_timeout_seconds": ("0.2", 0.2),
    "forwarded_allow_ips": ("10.0.0.1, 10.1.0.0/16", ("10.0.0.1", "10.1.0.0/16")),
}
# A value each number and yes/no field must refuse at start, naming its variable.
INVALID_BY_TYPE = {int: "12abc", float: "soon", bool: "maybe"}
INVALID = [(f.name, INVALID_BY_TYPE[type(f.default)]) for f in fields(Settings)
           if type(f.default) in INVALID_BY_TYPE] + [("webhook_retry_delays", "1,x")]


@pytest.fixture
def environ(monkeypatch):
    """The process environment with no setting set; `environ(NAME=value)` sets some."""
    for name in [f.name.upper() for f in fields(Settings)] + ["GUNICORN_THREADS"]:
        monkeypatch.delenv(name, raising=False)

    def set_variables(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
    return set_variables


def test_every_field_has_a_sample():
    assert set(SAMPLES) == {f.name for f in fields(Settings)}


@pytest.mark.parametrize("name", SAMPLES)
def test_each_field_is_read_from_its_variable(name, environ):
    raw, value = SAMPLES[name]
    environ(**{name.upper(): raw})
    settings = Settings.from_env()
    assert getattr(settings, name) == value
    assert settings == Settings(**{name: value})  # and nothing else changed


@pytest.mark.parametrize("name, raw", INVALID)
def test_an_invalid_value_stops_the_start_naming_its_variable(name, raw, environ):
    environ(**{name.upper(): raw})
    with pytest.raises(EnvValidationError, match=f'Environment variable "{name.upper()}" invalid'):
        Settings.from_env()


def test_nothing_set_gives_the_defaults_and_blank_is_unset(environ):
    assert Settings.from_env() == Settings()
    environ(JOB_TTL_SECONDS="  ", REDIS_URL="")
    assert Settings.from_env() == Settings()


def test_inflight_default_is_gunicorns_thread_count(environ):
    assert Settings.from_env().max_inflight_invoke == 8
    environ(GUNICORN_THREADS="16")
    assert Settings.from_env().max_inflight_invoke == 16
    environ(MAX_INFLIGHT_INVOKE="14")
    assert Settings.from_env().max_inflight_invoke == 14


def test_secrets_are_kept_out_of_the_repr(environ):
    environ(API_KEYS="key-one", WEBHOOK_SECRET="whsec_c2VjcmV0")
    shown = repr(Settings.from_env())
    assert "key-one" not in shown and "c2VjcmV0" not in shown


def test_overrides_go_by_field_name():
    assert Settings().with_overrides({"job_workers": 2}).job_workers == 2
    with pytest.raises(TypeError, match="unknown settings: \\['job_worker'\\]"):
        Settings().with_overrides({"job_worker": 2})
