"""Settings come from the environment, one variable per field, with safe defaults."""
from __future__ import annotations

from dataclasses import fields

import pytest

from app.config import PARSERS, Settings

SAMPLES = {"int": ("7", 7), "float": ("0.5", 0.5), "str": ("X", "X"), "str | None": ("x", "x"),
           "bool": ("yes", True), "frozenset[str]": ("a, b,,", frozenset({"a", "b"})),
           "tuple[str, ...]": ("a,b", ("a", "b")), "tuple[float, ...]": ("1, 2.5", (1.0, 2.5))}


def test_every_field_has_a_parser_for_its_type():
    assert {setting.type for setting in fields(Settings)} <= set(PARSERS)


@pytest.mark.parametrize("setting", fields(Settings), ids=lambda setting: setting.name)
def test_each_field_is_read_from_its_variable(setting):
    raw, value = SAMPLES[setting.type]
    if setting.name == "log_level":
        raw, value = "debug", "DEBUG"
    assert getattr(Settings.from_env({setting.name.upper(): raw}), setting.name) == value


def test_nothing_set_gives_the_defaults_and_blank_is_unset():
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"JOB_TTL_SECONDS": "  "}) == Settings()


def test_host_names_are_compared_in_lower_case():
    assert Settings.from_env({"WEBHOOK_ALLOWED_HOSTS": "Hooks.Example"}).webhook_allowed_hosts \
        == frozenset({"hooks.example"})
