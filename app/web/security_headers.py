"""Security headers: nosniff and no-referrer (job ids in URLs stay here) on every response,
no-store on JSON, and on /docs and /redoc a CSP allowing only this server's scripts with a
per-page nonce (ReDoc writes <style> at run time and searches in a blob: worker)."""
from __future__ import annotations

import secrets

from flask import Blueprint, Response, g, request

DOCS_PAGES = frozenset({"/docs", "/redoc"})
EVERY_RESPONSE = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"))
DOCS_CSP = ("default-src 'none'; script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


def add_security_headers(headers: list[tuple[str, str]]) -> None:
    """The headers every response gets, added to a WSGI header list (app.web.instrumentation)."""
    headers.extend(EVERY_RESPONSE)
    content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    if content_type.startswith("application/json"):
        headers[:] = [(n, v) for n, v in headers if n.lower() != "cache-control"]
        headers.append(("Cache-Control", "no-store"))


def csp_nonce() -> str:
    """This request's script nonce, made on first use."""
    return g.setdefault("csp_nonce", secrets.token_urlsafe(16))


def register_docs_csp(docs: Blueprint) -> None:
    """The nonce for the docs templates, and the policy on the two HTML pages."""
    docs.context_processor(lambda: {"csp_nonce": csp_nonce()})

    @docs.after_request
    def add_content_security_policy(response: Response) -> Response:
        if request.path in DOCS_PAGES:
            response.headers["Content-Security-Policy"] = DOCS_CSP.format(nonce=csp_nonce())
        return response
