"""Failures inside the app: an algorithm that raises, a bug the app did not foresee, and
the domain's errors (app/errors.py), each answered with its documented status and code."""
from __future__ import annotations

import logging

from marshmallow import Schema

from app import errors
from app.factory import create_app
from app.algorithms.base import Algorithm
from app.algorithms.registry import ALGORITHMS
from app.web.errors import CLIENT_ERRORS
from tests.example_algorithm import POSITIVE_ONLY


def _boom(params):
    raise RuntimeError("disk on fire\nsecond line /secret/path")


def _app_with(algorithm: Algorithm):
    return create_app({"log_level": "CRITICAL"}, algorithms={**ALGORITHMS, algorithm.name: algorithm})


def test_algorithm_exception_is_algorithm_error_one_line():
    app = _app_with(Algorithm("Broken", "0.1.0", "always fails", Schema(), _boom, example={}))
    reply = app.test_client().post("/invoke/Broken", json={})
    assert reply.status_code == 500
    body = reply.get_json()
    assert body["error"] == "ALGORITHM_ERROR"
    assert body["message"] == "RuntimeError: disk on fire"
    assert "/secret/path" not in reply.get_data(as_text=True)


def test_unexpected_exception_is_internal_error_without_traceback():
    app = create_app({"log_level": "CRITICAL"})

    @app.get("/explode")
    def explode():
        raise KeyError("internal detail")

    reply = app.test_client().get("/explode")
    assert reply.status_code == 500
    assert reply.get_json()["error"] == "INTERNAL_ERROR"
    assert reply.get_json()["message"] == "internal server error"
    assert "internal detail" not in reply.get_data(as_text=True)
    assert "Traceback" not in reply.get_data(as_text=True)


def test_input_the_algorithm_refuses_is_a_400_logged_at_info(caplog):
    app = _app_with(POSITIVE_ONLY)
    with caplog.at_level(logging.INFO):
        reply = app.test_client().post("/invoke/PositiveOnly", json={"number": -5})
    assert reply.status_code == 400
    body = reply.get_json()
    assert body["error"] == "VALIDATION_ERROR"
    assert body["message"] == "Invalid input: number must be positive"
    assert body["details"] == {"field": "body", "algorithm": "PositiveOnly"}
    refused = [r for r in caplog.records if r.getMessage() == "algorithm refused its input"]
    assert [r.levelno for r in refused] == [logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_every_domain_error_has_a_status_and_code():
    declared = {value for value in vars(errors).values()
                if isinstance(value, type) and issubclass(value, errors.ClientError)}
    assert declared - {errors.ClientError} == set(CLIENT_ERRORS)
