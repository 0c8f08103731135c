"""Schemathesis fuzzes the running gunicorn service from both OpenAPI documents.

- The service's own document, in full: no 5xx, every status code, content type,
  header and body documented, and every request the document calls invalid refused
  (`negative_data_rejection`).
- The seed document (tests/contract/seed-openapi.json, the user's own), which clients
  were written against:
  the same checks except where the README's contract section overrides the seed:
  * error bodies on /jobs and /jobs/{job_id} are wrapped as {"detail": {...}}, where the
    seed says a flat ErrorResponse: their body schema is not checked (their successes are);
  * /metrics is Prometheus text, where the seed says application/json: the operation is
    left out (the own document covers it).
  `positive_data_acceptance` runs for neither: the contract refuses requests no schema
  can call invalid (a webhook host that does not resolve to a public address; for the
  seed also unknown fields and integers outside int64).

Bounded and repeatable: MAX_EXAMPLES per operation, derandomized, no example database.
Jobs that the fuzzing creates run in a service of their own, so they touch no other test.

The schemas are loaded at import, because `parametrize()` needs them at collection:
schemathesis 4's lazy `from_fixture` fails under pytest 9.2 (it sets `Node._nodeid`).
So the own document is the in-process app's, and
`test_service_serves_the_document_under_test` shows it is what the service serves.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.factory import create_app
from app.docs.routes import OPENAPI_KEY
from tests.servers import Service

# The OpenAPI document the user gave us, which their clients were written against.
SEED = Path(__file__).resolve().parent / "contract" / "seed-openapi.json"
MAX_EXAMPLES = 50
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_headers_conformance, response_schema_conformance, negative_data_rejection]
WITHOUT_BODY_SCHEMA = [check for check in CONFORMANCE if check is not response_schema_conformance]


def bounded_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "request-timeout": 10,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    })


@pytest.fixture(scope="module")
def fuzzed_service():
    with Service() as running:
        yield running


OWN_DOCUMENT = create_app({"log_level": "WARNING"}).config[OPENAPI_KEY]
own_schema = schemathesis.openapi.from_dict(OWN_DOCUMENT, config=bounded_config())


def test_service_serves_the_document_under_test(fuzzed_service):
    assert requests.get(fuzzed_service.url("/openapi.json"), timeout=10).json() == OWN_DOCUMENT


@own_schema.parametrize()
def test_own_document(case, fuzzed_service):
    case.call_and_validate(base_url=fuzzed_service.base_url, checks=CONFORMANCE)


def seed_checks(case, response: requests.Response) -> list:
    """The contract wraps /jobs errors, which the seed documents flat."""
    if response.status_code >= 400 and case.operation.path.startswith("/jobs"):
        return WITHOUT_BODY_SCHEMA
    return CONFORMANCE


# The seed documents /metrics as JSON; it is Prometheus text (README, "The contract").
seed_schema = schemathesis.openapi.from_path(SEED, config=bounded_config()).exclude(
    path="/metrics"
)


@seed_schema.parametrize()
def test_seed_document(case, fuzzed_service):
    response = case.call(base_url=fuzzed_service.base_url)
    case.validate_response(response, checks=seed_checks(case, response))
