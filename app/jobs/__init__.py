"""The jobs area: POST /jobs and GET /jobs/{job_id}, on either backend."""
from flask import Blueprint

bp = Blueprint("jobs", __name__)

from app.jobs import routes  # noqa: E402,F401  (registers the routes on bp)
