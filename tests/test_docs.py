"""/openapi.json, /docs and /redoc: generated from the code's schemas, and offline."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app.extensions import EXTENSION_KEY
from app.observability.metrics import route_template
from app.docs.openapi import build_spec
from app.docs.operations import ATTRIBUTE, not_an_operation

# The OpenAPI document the user gave us, which their clients were written against.
SEED = Path(__file__).resolve().parent / "contract" / "seed-openapi.json"
SEED_SCHEMAS = ["InvokeRequest", "InvokeResponse", "ErrorResponse", "HealthResponse",
                "ReadinessResponse"]


def seed_document() -> dict:
    return json.loads(SEED.read_text())


def test_document_is_openapi_31_with_every_route(http):
    document = http.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    for path in ("/invoke", "/healthz", "/readyz", "/metrics", "/algorithms"):
        assert path in document["paths"], path


@pytest.mark.parametrize("name", SEED_SCHEMAS)
def test_seed_schema_names_and_required_fields_kept(http, name):
    seed = seed_document()["components"]["schemas"][name]
    ours = http.get("/openapi.json").json()["components"]["schemas"][name]
    assert set(seed.get("required", [])) <= set(ours.get("required", []))
    assert set(seed["properties"]) <= set(ours["properties"])


def test_document_validates_as_openapi_31(http):
    validate(http.get("/openapi.json").json())


def test_invoke_request_schema_is_the_one_validating(http):
    number = http.get("/openapi.json").json()["components"]["schemas"]["InvokeRequest"]["properties"]["number"]
    assert number["type"] == "integer"
    assert number["minimum"] == -(2**63) and number["maximum"] == 2**63 - 1


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_pages_load_their_assets_from_this_server(http, page):
    reply = http.get(page)
    assert reply.status == 200
    assert reply.header("Content-Type").startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', reply.text)
    assert sources, "the page must load its script"
    for source in sources:
        assert source.startswith("/"), f"{source} would leave the machine"
        asset = http.get(source)
        assert asset.status == 200, source
        assert len(asset.text) > 10_000, source


def test_swagger_ui_is_version_5(http):
    """Swagger UI 4 cannot render OpenAPI 3.1; 5 can."""
    bundle = http.get("/docs/static/swagger-ui/swagger-ui-bundle.js").text
    assert re.search(r'PACKAGE_VERSION:"5\.\d+\.\d+"', bundle)


def test_every_route_of_the_url_map_is_documented(app, client):
    """The document is read off the URL map, so no route can be missing from it; only
    the docs pages' static files are left out, on purpose."""
    paths = client.get("/openapi.json").get_json()["paths"]
    api_rules = [rule for rule in app.url_map.iter_rules()
                 if getattr(app.view_functions[rule.endpoint], ATTRIBUTE) is not not_an_operation]
    for rule in api_rules:
        template = route_template(rule.rule)
        assert template in paths, template
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[template], f"{method} {template}"
    assert len(paths) == len({rule.rule for rule in api_rules})
    assert [rule.rule for rule in app.url_map.iter_rules()
            if rule not in api_rules] == ["/docs/static/<path:filename>"]


def test_generated_clients_get_typed_results_and_one_webhook_status_enum(client):
    document = client.get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    result = schemas["InvokeResponse"]["properties"]["result"]
    assert result["$ref"] == "#/components/schemas/PrimeCheckerResult"
    assert set(schemas["PrimeCheckerResult"]["properties"]) == {"number", "is_prime", "factors",
                                                              "algorithm"}
    webhook_status = schemas["JobStatusResponse"]["properties"]["webhook_status"]
    assert webhook_status["anyOf"] == [{"$ref": "#/components/schemas/WebhookStatus"},
                                       {"type": "null"}]
    assert "enum" not in webhook_status and "type" not in webhook_status
    assert schemas["WebhookStatus"]["enum"] == ["pending", "retrying", "delivered", "failed"]


def test_every_algorithms_answer_matches_the_invoke_response_schema(jobs_app):
    """InvokeResponse.result names each algorithm's result schema, and a free-form
    object for an algorithm without one (the test algorithms, the README's Gcd): a
    generated client must parse every /invoke answer, not only PrimeChecker's."""
    client = jobs_app.test_client()
    document = client.get("/openapi.json").get_json()
    validator = Draft202012Validator({"$ref": "#/components/schemas/InvokeResponse",
                                      "components": document["components"]})
    for name, algorithm in jobs_app.extensions[EXTENSION_KEY].algorithms.items():
        reply = client.post(f"/invoke/{name}", json=algorithm.example)
        assert reply.status_code == 200, (name, reply.get_json())
        validator.validate(reply.get_json())
    # A generator tries anyOf's schemas in order: the free-form one must come last.
    result = document["components"]["schemas"]["InvokeResponse"]["properties"]["result"]
    assert result["anyOf"] == [{"$ref": "#/components/schemas/PrimeCheckerResult"},
                               {"type": "object"}]


def enums(node: Any) -> Iterator[tuple[str, ...]]:
    """Every `enum` in an OpenAPI document, wherever it is written."""
    if isinstance(node, dict):
        if "enum" in node:
            yield tuple(map(str, node["enum"]))
        for inner in node.values():
            yield from enums(inner)
    elif isinstance(node, list):
        for inner in node:
            yield from enums(inner)


def test_each_enum_is_written_once_so_a_generated_client_gets_one_type(client):
    """A generator makes one enum type per `enum` it meets: the job status, written
    inline in JobCreateResponse and JobStatusResponse beside the JobStatus component,
    came out as three identical Python enums."""
    document = client.get("/openapi.json").get_json()
    written = list(enums(document))
    assert len(written) == len(set(written)), written
    for component in ("JobCreateResponse", "JobStatusResponse"):
        status = document["components"]["schemas"][component]["properties"]["status"]
        assert status["$ref"] == "#/components/schemas/JobStatus"


def test_the_request_id_header_is_described_in_full(client):
    operation = client.get("/openapi.json").get_json()["paths"]["/invoke"]["post"]
    (header,) = [p for p in operation["parameters"] if p["name"] == "X-Request-Id"]
    assert header["description"].endswith("a fresh UUID4 instead")


def test_a_route_without_an_operation_stops_the_app(app):
    app.add_url_rule("/undocumented", "undocumented", lambda: "")
    with pytest.raises(LookupError, match="/undocumented"):
        build_spec(app, app.extensions[EXTENSION_KEY].algorithms, "PrimeChecker")


def test_invoke_by_name_documents_every_algorithm(jobs_app):
    document = jobs_app.test_client().get("/openapi.json").get_json()
    operation = document["paths"]["/invoke/{algorithm}"]["post"]
    (parameter,) = operation["parameters"][:1]
    assert parameter["schema"]["enum"] == sorted(jobs_app.extensions[EXTENSION_KEY].algorithms)
    choices = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert {"$ref": "#/components/schemas/InvokeRequest"} in choices
    assert {"$ref": "#/components/schemas/SleepParams"} in choices
