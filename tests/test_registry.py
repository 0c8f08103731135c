"""Adding an algorithm is one module plus one registry entry; the scaffold does the rest."""
from __future__ import annotations

import pytest

from app.algorithms.registry import ALGORITHMS
from tests import example_algorithm


@pytest.fixture
def two_algorithm_client(make_app):
    registry = {**ALGORITHMS, example_algorithm.ALGORITHM.name: example_algorithm.ALGORITHM}
    return make_app(algorithms=registry).test_client()


def test_second_algorithm_is_served(two_algorithm_client):
    reply = two_algorithm_client.post("/invoke/Gcd", json={"a": 84, "b": 36})
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["result"] == {"gcd": 12}
    assert body["metadata"]["algorithm"] == "Gcd"
    assert body["metadata"]["version"] == "0.1.0"


def test_second_algorithm_params_are_validated(two_algorithm_client):
    reply = two_algorithm_client.post("/invoke/Gcd", json={"a": "x", "b": 1})
    assert reply.status_code == 400
    assert reply.get_json()["details"]["field"] == "a"


def test_second_algorithm_is_listed_and_documented(two_algorithm_client):
    listed = two_algorithm_client.get("/algorithms").get_json()["algorithms"]
    gcd = next(a for a in listed if a["name"] == "Gcd")
    assert gcd["params_schema"]["required"] == ["a", "b"]
    document = two_algorithm_client.get("/openapi.json").get_json()
    by_name = document["paths"]["/invoke/{algorithm}"]["post"]
    assert "Gcd" in by_name["parameters"][0]["schema"]["enum"]
    assert set(document["components"]["schemas"]["GcdParams"]["properties"]) == {"a", "b"}
    # The default algorithm keeps the seed's name for its request.
    assert "/invoke" in document["paths"] and "InvokeRequest" in document["components"]["schemas"]


def test_readiness_runs_every_algorithm_example(two_algorithm_client):
    assert two_algorithm_client.get("/readyz").get_json()["checks"]["algorithm"] is True


def test_registry_lists_primechecker():
    assert list(ALGORITHMS) == ["PrimeChecker"]
