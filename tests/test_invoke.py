"""POST /invoke as the contract reads it (README), in-process and against real gunicorn."""
from __future__ import annotations

import uuid

import pytest

from tests.bad_inputs import BAD_INVOKE_INPUTS, PAST_A_FLOAT, BadInput

ERROR_KEYS = {"error", "message", "details", "request_id"}


def test_documented_example(http):
    reply = http.post_json("/invoke", {"number": 17})
    assert reply.status == 200
    body = reply.json()
    assert set(body) == {"request_id", "status", "result", "metadata"}
    assert body["status"] == "success"
    assert body["result"] == {"number": 17, "is_prime": True, "factors": [], "algorithm": "trial_division"}
    assert body["metadata"]["algorithm"] == "PrimeChecker"
    assert body["metadata"]["version"] == "1.0.0"
    assert 0 <= body["metadata"]["elapsed_time"] < 1
    assert body["request_id"] == reply.header("X-Request-Id")
    uuid.UUID(body["request_id"], version=4)


@pytest.mark.parametrize(
    "number, factors, is_prime",
    [(12, [2, 2, 3], False), (0, [], False), (1, [], False), (-7, [], False), (2, [], True),
     (2**63 - 1, [7, 7, 73, 127, 337, 92737, 649657], False), (-(2**63), [], False)],
)
def test_factorisation_and_edges(http, number, factors, is_prime):
    body = http.post_json("/invoke", {"number": number}).json()
    assert body["result"]["number"] == number
    assert body["result"]["factors"] == factors
    assert body["result"]["is_prime"] is is_prime


@pytest.mark.parametrize("bad", BAD_INVOKE_INPUTS, ids=str)
def test_bad_input_gets_documented_envelope(http, bad: BadInput):
    reply = http.request("POST", "/invoke", bad.body, bad.content_type)
    assert reply.status == bad.status
    assert reply.header("Content-Type").startswith("application/json")
    body = reply.json()
    assert set(body) == ERROR_KEYS
    assert body["error"] == bad.code
    assert body["request_id"] == reply.header("X-Request-Id")
    assert "Traceback" not in reply.text
    if bad.field:
        assert body["details"]["field"] == bad.field
    assert len(reply.text) < 2000, "long values must be echoed truncated"


@pytest.mark.parametrize("raw, number", [
    ("17.0", 17), ("1.7e1", 17), ("-311.0", -311), ("170E-1", 17),
    ("9007199254740993.0", 9007199254740993),  # exact: no float on the way
    ("9.223372036854775807e18", 2**63 - 1), ("-9.223372036854775808e18", -(2**63)),
])
def test_an_integral_number_is_that_integer(http, raw, number):
    """JSON Schema 2020-12 (OpenAPI 3.1's `type: integer`) counts 17.0 as the integer 17."""
    reply = http.request("POST", "/invoke", ('{"number": %s}' % raw).encode(), "application/json")
    assert reply.status == 200, reply.text
    assert reply.json()["result"]["number"] == number


@pytest.mark.parametrize("raw", PAST_A_FLOAT, ids=lambda raw: raw[:12])
def test_a_number_past_a_float_is_refused_echoed_as_sent(http, raw):
    reply = http.request("POST", "/invoke", ('{"number": %s}' % raw).encode(), "application/json")
    assert reply.status == 400
    details = reply.json()["details"]  # strict JSON: no -Infinity in it
    assert details["field"] == "number" and "allowed_range" in details
    assert details["value"].startswith(raw[:64])  # cut after 64 characters when longer


def test_documented_validation_message_word_for_word(http):
    body = http.post_json("/invoke", {"number": "abc"}).json()
    assert body["error"] == "VALIDATION_ERROR"
    assert body["message"] == "number must be an integer"
    assert body["details"] == {"field": "number", "value": "abc"}


def test_a_lone_surrogate_is_echoed_as_its_escape(http):
    reply = http.request("POST", "/invoke", b'{"number": "\\ud800"}', "application/json")
    assert reply.status == 400
    body = reply.json()
    assert body["message"] == "number holds a lone UTF-16 surrogate, which is not a character"
    assert body["details"] == {"field": "number", "value": "\\ud800"}


def test_out_of_range_names_the_allowed_range(http):
    body = http.post_json("/invoke", {"number": 2**63}).json()
    assert body["details"]["allowed_range"] == {"minimum": -(2**63), "maximum": 2**63 - 1}
    assert body["details"]["value"] == 2**63


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_wrong_method_is_405_with_allow(http, method):
    reply = http.request(method, "/invoke")
    assert reply.status == 405
    assert "POST" in reply.header("Allow")
    assert reply.json()["error"] == "METHOD_NOT_ALLOWED"


def test_unknown_route_is_json_404(http):
    reply = http.get("/no/such/route")
    assert reply.status == 404
    assert set(reply.json()) == ERROR_KEYS
    assert reply.json()["error"] == "NOT_FOUND"


def test_oversized_body_is_413(http):
    body = b'{"number": 17, "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    reply = http.request("POST", "/invoke", body, "application/json")
    assert reply.status == 413
    assert reply.json()["error"] == "PAYLOAD_TOO_LARGE"


def test_unknown_algorithm_is_documented_404(http):
    body = http.post_json("/invoke/NonExistent", {"number": 1}).json()
    assert body["error"] == "ALGORITHM_NOT_FOUND"
    assert body["message"] == "算法 'NonExistent' 不存在"
    assert body["details"] == {"available_algorithms": ["PrimeChecker"]}


def test_named_route_serves_the_same_algorithm(http):
    named = http.post_json("/invoke/PrimeChecker", {"number": 91}).json()
    assert named["result"] == http.post_json("/invoke", {"number": 91}).json()["result"]


@pytest.mark.parametrize(
    "supplied, kept",
    [("abc-123", True), ("x" * 128, True), ("x" * 129, False), ("has space", False), ("", False)],
)
def test_request_id_header(http, supplied, kept):
    reply = http.post_json("/invoke", {"number": 5}, headers={"X-Request-Id": supplied})
    echoed = reply.header("X-Request-Id")
    assert reply.json()["request_id"] == echoed
    if kept:
        assert echoed == supplied
    else:
        assert echoed != supplied
        uuid.UUID(echoed, version=4)
