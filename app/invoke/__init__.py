"""The algorithm area: synchronous calls (/invoke) and the algorithm catalogue (/algorithms)."""
from flask import Blueprint

bp = Blueprint("algorithm", __name__)

from app.invoke import routes  # noqa: E402,F401  (registers the routes on bp)
