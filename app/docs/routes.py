from __future__ import annotations

from flask import Response, current_app, jsonify, render_template

from app.docs import bp

OPENAPI_KEY = "openapi_document"


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(current_app.config[OPENAPI_KEY])


@bp.get("/docs")
def swagger_ui() -> str:
    return render_template("swagger_ui.html")


@bp.get("/redoc")
def redoc() -> str:
    return render_template("redoc.html")
