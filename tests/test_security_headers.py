"""Security headers (app/web/security_headers.py), and errors that reveal nothing inside.

In-process and against the real gunicorn (the `http` fixture), where browsers meet them.
tests/test_docs_browser.py renders /docs and /redoc under the Content-Security-Policy.
"""
from __future__ import annotations

import re

import pytest

from tests.bad_inputs import BAD_INVOKE_INPUTS
from tests.transports import HttpTransport, raw_exchange

JSON = "application/json"
RESPONSES = [  # (method, path, body): a success, errors of each kind, text, HTML, an asset
    ("GET", "/healthz", None),
    ("POST", "/invoke", b'{"number": "abc"}'),
    ("POST", "/jobs", b"[]"),
    ("GET", "/no-such-route", None),
    ("DELETE", "/healthz", None),
    ("GET", "/metrics", None),
    ("GET", "/docs", None),
    ("GET", "/docs/static/swagger-ui/swagger-ui.css", None),
]
LEAKS = ("Traceback", "/work", "site-packages", ".py", 'File "')


@pytest.mark.parametrize("method, path, body", RESPONSES, ids=[f"{m} {p}" for m, p, _ in RESPONSES])
def test_every_response_has_nosniff_and_no_referrer(http, method, path, body):
    reply = http.request(method, path, body, JSON if body else None)
    assert reply.header("X-Content-Type-Options") == "nosniff"
    assert reply.header("Referrer-Policy") == "no-referrer"
    is_json = reply.header("Content-Type").startswith(JSON)
    assert (reply.header("Cache-Control") == "no-store") is is_json


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_allow_only_their_own_scripts(http, page):
    reply = http.get(page)
    policy = csp_directives(reply.header("Content-Security-Policy"))
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    scripts = policy["script-src"]
    assert "'self'" in scripts and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    nonce = next(value[len("'nonce-"):-1] for value in scripts if value.startswith("'nonce-"))
    for attributes in re.findall(r"<script([^>]*)>", reply.text):
        assert "src=" in attributes or f'nonce="{nonce}"' in attributes, attributes


def test_each_docs_page_gets_a_fresh_nonce(http):
    policies = {http.get("/docs").header("Content-Security-Policy") for _ in range(3)}
    assert len(policies) == 3


def test_api_responses_carry_no_page_policy(http):
    assert http.get("/healthz").header("Content-Security-Policy") is None


def test_server_header_names_no_version(service):
    reply = HttpTransport(service.base_url).get("/healthz")
    assert not re.search(r"\d", reply.header("Server") or ""), reply.header("Server")


def bad_requests() -> list[tuple[str, str, bytes | None, str | None]]:
    """(method, path, body, content type) that each answer an error."""
    cases = [("POST", path, bad.body, bad.content_type)
             for path in ("/invoke", "/invoke/PrimeChecker") for bad in BAD_INVOKE_INPUTS]
    jobs = [b"{}", b'{"algorithm": "Nope", "params": {}}', b'{"algorithm": 1, "params": []}',
            b'{"algorithm": "PrimeChecker", "params": {"number": "x"}}',
            b'{"algorithm": "PrimeChecker", "params": {"number": 1}, "webhook": "ftp://x"}',
            b'{"algorithm": "PrimeChecker", "params": {"number": 1}, "webhook": "http://127.0.0.1/"}',
            b'{"algorithm": "PrimeChecker", "params": {"number": 1}, "webhook": "http://[::1"}',
            b'{"algorithm": "PrimeChecker", "params": {"number": ' + b"9" * 5000 + b"}}",
            b"[" * 100_000, b'{"a": "\xff"}']
    cases += [("POST", "/jobs", body, JSON) for body in jobs]
    cases += [("GET", path, None, None) for path in
              ("/jobs/zzz", "/jobs/0123456789ab", "/invoke", "/nope", "/invoke/Nope/x")]
    cases += [("POST", "/invoke/Nope", b'{"number": 1}', JSON),
              ("PUT", "/jobs", b"{}", JSON),
              ("POST", "/invoke", b'{"number": 1}' + b" " * (2 * 1024 * 1024), JSON)]
    return cases


def test_no_error_reveals_code_paths_or_traces(http):
    for method, path, body, content_type in bad_requests():
        reply = http.request(method, path, body, content_type)
        assert reply.status >= 400, (method, path)
        assert reply.header("Content-Type").startswith(JSON), (method, path)
        for leak in LEAKS:
            assert leak not in reply.text, (method, path, leak, reply.text[:300])


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
    b"POST /invoke HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
], ids=["request-line", "header-name", "content-length", "header-size", "version"])
def test_no_gunicorn_error_reveals_anything_either(service, data):
    reply = raw_exchange(service.port, data).decode("latin-1")
    assert "application/json" in reply
    for leak in LEAKS:
        assert leak not in reply, leak
