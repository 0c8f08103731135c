"""API keys (app/web/auth.py): off by default; with API_KEYS set, a key on every non-public route.

Run in-process and against a real gunicorn started with API_KEYS in its environment.
"""
from __future__ import annotations

import hmac

import pytest
from openapi_spec_validator import validate

from app.web import auth
from app.config import Settings
from tests.servers import ScaleOut, Service, wait_for
from tests.test_docs_browser import rendered_dom
from tests.transports import ClientTransport, HttpTransport

KEYS = ("alpha-key-0123456789", "beta-key-9876543210")
PROTECTED = [("POST", "/invoke"), ("POST", "/invoke/PrimeChecker"), ("GET", "/algorithms"),
             ("POST", "/jobs"), ("GET", "/jobs/0123456789ab"), ("GET", "/no-such-route")]
PUBLIC = ["/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json",
          "/docs/static/swagger-ui/swagger-ui.css"]


@pytest.fixture
def keyed_app(make_app):
    return lambda **overrides: make_app({"api_keys": frozenset(KEYS), **overrides})


@pytest.fixture(scope="module")
def keyed_service():
    with Service({"API_KEYS": ",".join(KEYS)}) as running:
        yield running


@pytest.fixture(scope="module")
def keyed_scale_out():
    with ScaleOut({"API_KEYS": ",".join(KEYS)}, 1, 1) as deployment:
        yield deployment


@pytest.fixture(params=["test_client", "gunicorn", "scale_out"])
def keyed_jobs(request):
    """The job API with API keys on, in every mode: jobs belong to a key."""
    if request.param == "test_client":
        return ClientTransport(request.getfixturevalue("keyed_app")().test_client())
    fixture = "keyed_service" if request.param == "gunicorn" else "keyed_scale_out"
    return HttpTransport(request.getfixturevalue(fixture).base_url)


@pytest.fixture(params=["test_client", "gunicorn"])
def keyed(request):
    if request.param == "test_client":
        return ClientTransport(request.getfixturevalue("keyed_app")().test_client())
    return HttpTransport(request.getfixturevalue("keyed_service").base_url)


def error_of(reply) -> dict:
    """The error object, flat or wrapped under `detail` on /jobs."""
    body = reply.json()
    return body["detail"] if "detail" in body else body


@pytest.mark.parametrize("method, path", PROTECTED)
def test_no_key_is_401_with_envelope_and_challenge(keyed, method, path):
    reply = keyed.request(method, path, b'{"number": 17}', "application/json")
    assert reply.status == 401
    assert reply.header("WWW-Authenticate") == "Bearer"
    body = reply.json()
    assert ("detail" in body) is path.startswith("/jobs")
    error = error_of(reply)
    assert error["error"] == "UNAUTHORIZED"
    assert error["request_id"] == reply.header("X-Request-Id")


@pytest.mark.parametrize("headers", [
    {"Authorization": f"Bearer {KEYS[0]}"},
    {"Authorization": f"bearer {KEYS[1]}"},
    {"X-API-Key": KEYS[1]},
    {"Authorization": "Bearer not-a-key", "X-API-Key": KEYS[0]},
], ids=["bearer", "lowercase-scheme", "x-api-key", "one-of-two-valid"])
def test_a_valid_key_either_way_is_accepted(keyed, headers):
    reply = keyed.post_json("/invoke", {"number": 17}, headers=headers)
    assert reply.status == 200
    assert reply.json()["result"]["is_prime"] is True


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer wrong-key"},
    {"Authorization": f"Bearer {KEYS[0]}x"},
    {"Authorization": f"Bearer {KEYS[0][:-1]}"},
    {"Authorization": f"Basic {KEYS[0]}"},
    {"X-API-Key": KEYS[0].upper()},
    {"Authorization": "Bearer "},
], ids=["wrong", "longer", "prefix", "basic-scheme", "case-changed", "empty-bearer"])
def test_a_wrong_key_is_401(keyed, headers):
    reply = keyed.post_json("/invoke", {"number": 17}, headers=headers)
    assert reply.status == 401
    assert error_of(reply)["error"] == "UNAUTHORIZED"


@pytest.mark.parametrize("path", PUBLIC)
def test_probes_metrics_and_docs_need_no_key(keyed, path):
    assert keyed.get(path).status == 200


def test_metrics_can_require_a_key(keyed_app):
    client = ClientTransport(keyed_app(metrics_public=False).test_client())
    assert client.get("/metrics").status == 401
    assert client.get("/metrics", headers={"X-API-Key": KEYS[0]}).status == 200
    assert client.get("/healthz").status == 200


def test_off_by_default_so_documented_examples_work(http):
    assert http.post_json("/invoke", {"number": 17}).status == 200
    document = http.get("/openapi.json").json()
    assert "security" not in document
    assert "securitySchemes" not in document.get("components", {})


def test_document_declares_both_schemes_and_public_operations(keyed):
    document = keyed.get("/openapi.json").json()
    validate(document)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer",
                                     "description": "Authorization: Bearer <API key>"}
    assert schemes["apiKeyHeader"]["in"] == "header"
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    assert document["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}]
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if path in PUBLIC or path.startswith("/docs/static/"):
                assert operation["security"] == [], path
                assert "401" not in operation["responses"], path
            else:
                assert "security" not in operation, path
                assert "401" in operation["responses"], path


def test_every_key_is_compared_even_after_a_match(monkeypatch):
    """No early exit: the time taken does not say which key, if any, matched."""
    compared = []
    compare_digest = hmac.compare_digest

    def counting_compare(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return compare_digest(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting_compare)
    digests = frozenset(auth.fingerprint(key) for key in KEYS + ("gamma-key",))
    for presented in (KEYS[0], KEYS[1], "no-match"):
        compared.clear()
        assert auth.matches_any(presented, digests) is (presented in KEYS)
        assert sorted(compared) == sorted(digests)


def test_keys_are_read_from_the_environment_and_kept_out_of_repr(monkeypatch):
    monkeypatch.delenv("METRICS_PUBLIC", raising=False)
    assert Settings.from_env().metrics_public is True
    monkeypatch.setenv("API_KEYS", f" {KEYS[0]} ,, {KEYS[1]} ")
    monkeypatch.setenv("METRICS_PUBLIC", "0")
    settings = Settings.from_env()
    assert settings.api_keys == frozenset(KEYS)
    assert settings.metrics_public is False
    assert KEYS[0] not in repr(settings)


def test_keys_never_reach_the_logs(keyed_service):
    server = HttpTransport(keyed_service.base_url)
    assert server.post_json("/invoke", {"number": 17},
                            headers={"Authorization": f"Bearer {KEYS[0]}"}).status == 200
    assert server.post_json("/invoke", {"number": 17},
                            headers={"X-API-Key": f"{KEYS[1]}-wrong"}).status == 401
    # The access line may reach the log a moment after the response.
    log = wait_for(lambda: '"status": 401' in keyed_service.output() and keyed_service.output(),
                   message="the access log to record both requests")
    for key in KEYS:
        assert key not in log


def test_swagger_ui_offers_the_authorize_button(keyed_service):
    dom = rendered_dom(keyed_service.url("/docs"))
    assert "btn authorize" in dom
    assert 'data-path="/invoke"' in dom


def test_a_job_belongs_to_the_key_that_created_it(keyed_jobs):
    alpha, beta = ({"X-API-Key": key} for key in KEYS)
    created = keyed_jobs.request("POST", "/jobs", b'{"algorithm": "PrimeChecker", "params": {"number": 17}}',
                                 "application/json", headers=alpha)
    assert created.status == 202, created.text
    job_id = created.json()["job_id"]
    for method in ("GET", "DELETE"):
        reply = keyed_jobs.request(method, f"/jobs/{job_id}", headers=beta)
        assert reply.status == 404, (method, reply.text)
        assert reply.json()["detail"]["error"] == "JOB_NOT_FOUND"
        assert reply.json()["detail"]["message"] == f"任务 '{job_id}' 不存在或已过期"
    assert keyed_jobs.request("GET", f"/jobs/{job_id}", headers=alpha).json()["job_id"] == job_id
    assert keyed_jobs.request("DELETE", f"/jobs/{job_id}", headers=alpha).status in (200, 409)
