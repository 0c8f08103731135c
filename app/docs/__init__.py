"""Interactive API docs: /openapi.json, /docs (Swagger UI 5) and /redoc (ReDoc 2).

The pages' scripts are vendored under static/ and served by the app itself, so the
docs work on a machine with no internet access.
"""
from flask import Blueprint

from app.web.security_headers import register_docs_csp

bp = Blueprint("docs", __name__, template_folder="templates")
register_docs_csp(bp)

from app.docs import routes  # noqa: E402,F401  (registers the routes on bp)
