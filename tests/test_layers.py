"""Imports point one way, as README's Development section draws them.

Each module is imported in a fresh interpreter and what came with it is checked, so
the scale-out worker and the algorithms stay free of Flask, the blueprints and the
OpenAPI builder (the web layer's), however the code grows.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.servers import ROOT

WEB = ("flask", "werkzeug", "apispec", "prometheus_flask_exporter",
       "app.web", "app.docs", "app.factory", "app.extensions",
       "app.invoke", "app.health", "app.jobs.routes")
LAYERS = {
    "app.errors": WEB + ("app.algorithms", "app.jobs", "app.webhooks", "app.worker"),
    "app.validation": WEB + ("app.jobs", "app.webhooks", "app.worker"),
    "app.algorithms.registry": WEB + ("app.jobs", "app.webhooks", "app.worker"),
    "app.algorithms.prime_checker": WEB + ("app.jobs", "app.webhooks", "app.worker"),
    "app.observability.logs": WEB + ("app.algorithms", "app.jobs", "app.webhooks"),
    "app.observability.metrics": WEB + ("app.algorithms", "app.jobs", "app.webhooks"),
    "app.webhooks.delivery": WEB + ("app.jobs", "app.worker"),
    "app.jobs.service": WEB + ("app.worker",),
    "app.jobs.tasks": WEB + ("app.worker",),
    "app.worker": WEB,
    # gunicorn's master loads it; the envelope schema must not bring the app along.
    "app.serving.server_errors": WEB + ("app.algorithms", "app.jobs", "app.webhooks",
                                        "app.worker"),
}


def imported_with(module: str) -> list[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=60)
    return json.loads(done.stdout)


@pytest.mark.parametrize("module", LAYERS)
def test_a_layer_imports_nothing_above_it(module):
    forbidden = LAYERS[module]
    above = [name for name in imported_with(module)
             if any(name == f or name.startswith(f + ".") for f in forbidden)]
    assert not above, f"importing {module} brings in {above}"
