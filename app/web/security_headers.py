"""Security headers on every response the app writes.

- `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` everywhere: no
  browser guesses a JSON body is HTML, and no URL (job ids) leaks to another site.
- `Cache-Control: no-store` on JSON: results, job records and errors are per request
  and must not be kept by a shared cache or the browser.
- A Content-Security-Policy on the two HTML pages, /docs and /redoc: scripts only from
  this server (the vendored Swagger UI 5 and ReDoc 2) plus Swagger UI's few lines of
  start-up code, allowed by a fresh nonce per page (templates use `{{ csp_nonce }}`).
  Styles may be inline, because ReDoc's styled-components writes <style> elements at
  run time; ReDoc's search runs in a Web Worker made from a blob: URL; both UIs draw
  icons from data: images. Nothing may frame the pages. (ReDoc's attempt to fetch its
  logo from its CDN is blocked too, which keeps the page offline.)

gunicorn's own `Server: gunicorn` header names no version (since gunicorn 20), so it
is left alone; tests/test_security_headers.py checks it stays that way.
"""
from __future__ import annotations

import secrets

from flask import Blueprint, Response, g, request

DOCS_PAGES = frozenset({"/docs", "/redoc"})
EVERY_RESPONSE = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"))


def add_security_headers(headers: list[tuple[str, str]]) -> None:
    """The headers every response gets, added to a WSGI header list (app.web.instrumentation)."""
    headers.extend(EVERY_RESPONSE)
    content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    if content_type.startswith("application/json"):
        headers[:] = [(n, v) for n, v in headers if n.lower() != "cache-control"]
        headers.append(("Cache-Control", "no-store"))


def docs_csp(nonce: str) -> str:
    return "; ".join([
        "default-src 'none'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])


def csp_nonce() -> str:
    """This request's script nonce, made on first use."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def register_docs_csp(docs: Blueprint) -> None:
    """The nonce for the docs templates, and the policy on the two HTML pages."""
    docs.context_processor(lambda: {"csp_nonce": csp_nonce()})

    @docs.after_request
    def add_content_security_policy(response: Response) -> Response:
        if request.path in DOCS_PAGES:
            response.headers["Content-Security-Policy"] = docs_csp(csp_nonce())
        return response
