"""Health probes and the metrics exposition: /healthz, /readyz, /metrics."""
from flask import Blueprint

bp = Blueprint("health", __name__)

from app.health import routes  # noqa: E402,F401  (registers the routes on bp)
