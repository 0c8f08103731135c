from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, send_from_directory

from app.web.security_headers import register_docs_csp
from app.docs.operations import not_an_operation, operation

bp = Blueprint("docs", __name__, template_folder="templates")
register_docs_csp(bp)

OPENAPI_KEY = "openapi_document"
STATIC_DIR = Path(__file__).resolve().parent / "static"
HTML_PAGE = {200: ({"type": "string"}, "HTML page")}


@bp.get("/openapi.json")
@operation("Docs", "OpenAPI 3.1 文档", "openapi_document",
           {200: ({"type": "object"}, "This document")})
def openapi_document() -> Response:
    return jsonify(current_app.config[OPENAPI_KEY])


@bp.get("/docs")
@operation("Docs", "Swagger UI 5", "swagger_ui", HTML_PAGE, content_type="text/html")
def swagger_ui() -> str:
    return render_template("swagger_ui.html")


@bp.get("/redoc")
@operation("Docs", "ReDoc 2", "redoc", HTML_PAGE, content_type="text/html")
def redoc() -> str:
    return render_template("redoc.html")


@bp.get("/docs/static/<path:filename>")
@not_an_operation
def docs_asset(filename: str) -> Response:
    """The vendored Swagger UI and ReDoc files, so the pages work with no internet access."""
    return send_from_directory(STATIC_DIR, filename)
