"""The webhook address policy at its edges: deprecated site-local IPv6, and lookups that hang.

A hanging resolver is made in-process: `socket.getaddrinfo` is replaced by one that waits
for the test to let it go, for a name under `.hang.test`; the test lets every waiting
lookup go before it ends, so no lookup thread outlives it.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest

from app import create_app
from app.webhooks.address_policy import AddressPolicy, RefusedAddress, check_url
from app.webhooks.sender import WebhookSender
from tests.servers import wait_for

HANG_SECONDS = 20.0  # far beyond the limits under test; the test ends the wait long before


@pytest.mark.parametrize("url", ["http://[fec0::1]/hook", "http://[feff:ffff::1]/hook"])
def test_deprecated_site_local_addresses_are_refused(url):
    with pytest.raises(RefusedAddress, match="is a deprecated site-local address"):
        check_url(url, AddressPolicy())


@pytest.fixture
def hanging_dns(monkeypatch):
    """Lookups of names ending in .hang.test wait until the test ends; others are real."""
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if not host.endswith(".hang.test"):
            return real(host, port, *args, **kwargs)
        release.wait(HANG_SECONDS)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    release.set()
    wait_for(lambda: not any(t.name == "webhook-dns" for t in threading.enumerate()),
             timeout=5, message="the lookup threads to end")


def test_job_creation_answers_400_when_the_webhook_host_lookup_hangs(hanging_dns):
    app = create_app({"log_level": "WARNING", "webhook_dns_timeout_seconds": 0.2})
    started = time.monotonic()
    reply = app.test_client().post("/jobs", json={
        "algorithm": "PrimeChecker", "params": {"number": 7},
        "webhook": "https://api.hang.test/hook"})
    assert time.monotonic() - started < HANG_SECONDS / 2
    assert reply.status_code == 400
    detail = reply.get_json()["detail"]
    assert detail["error"] == "VALIDATION_ERROR"
    assert detail["details"]["field"] == "webhook"
    assert detail["message"] == ("webhook host 'api.hang.test' does not resolve "
                                 "(no answer within 0.2 s)")


def test_the_lookup_limit_includes_the_wait_for_a_lookup_slot(hanging_dns, monkeypatch):
    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr("app.webhooks.address_policy._lookup_slots", slots)
    policy = AddressPolicy(lookup_timeout_seconds=0.1)
    with pytest.raises(ValueError, match="no answer within 0.1 s"):
        check_url("https://first.hang.test/hook", policy)
    started = time.monotonic()
    with pytest.raises(ValueError, match="no answer within 0.1 s"):
        check_url("http://localhost/hook", policy)  # would resolve at once, but no slot is free
    assert time.monotonic() - started < HANG_SECONDS / 2


def test_a_delivery_whose_lookup_hangs_fails_and_is_retried(hanging_dns):
    sender = WebhookSender(AddressPolicy(lookup_timeout_seconds=0.1))
    result = sender.send("https://api.hang.test/hook", {"job_id": "a1b2c3d4e5f6"}, "msg_1")
    assert (result.delivered, result.retry) == (False, True)
    assert result.reason == "DNS lookup of 'api.hang.test' failed: no answer within 0.1 s"
