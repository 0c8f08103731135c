"""Liveness and readiness probes."""
from __future__ import annotations

import time


def test_healthz(http):
    reply = http.get("/healthz")
    assert reply.status == 200
    body = reply.json()
    assert body["status"] == "healthy"
    assert abs(body["timestamp"] - time.time()) < 60


def test_readyz_reports_checks(http):
    reply = http.get("/readyz")
    assert reply.status == 200
    body = reply.json()
    assert body["status"] == "ready"
    assert body["checks"]["algorithm"] is True
    assert body["checks"]["jobs"] is True
    assert abs(body["timestamp"] - time.time()) < 60


def test_readyz_is_503_with_same_shape_when_a_check_fails(app, client):
    services = app.extensions["functional_scaffold"]
    services.readiness_checks["broken"] = lambda: False
    reply = client.get("/readyz")
    assert reply.status_code == 503
    body = reply.get_json()
    assert body["status"] == "not_ready"
    assert body["checks"] == {"algorithm": True, "jobs": True, "broken": False}


def test_readyz_treats_a_raising_check_as_failed(app, client):
    def explode():
        raise ConnectionError("backend gone")

    app.extensions["functional_scaffold"].readiness_checks["jobs"] = explode
    reply = client.get("/readyz")
    assert reply.status_code == 503
    assert reply.get_json()["checks"]["jobs"] is False
