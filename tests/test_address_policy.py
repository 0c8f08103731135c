"""The webhook address policy (app/webhooks/address_policy.py): which URLs and addresses
are refused, when, with what message, and what the operator can allow.

Refusals must happen before any connection: those tests run with `no_connect`, which
fails the test if a socket connects, so no packet ever heads for 10.x or 169.254.x.
Host names other than localhost come from `FakeDNS`. A hanging resolver is made
in-process (`hanging_dns`); the test lets every waiting lookup go before it ends, so
no lookup thread outlives it.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time

import pytest

from app.webhooks.address_policy import (
    AddressPolicy, RefusedAddress, check_url, check_url_syntax, refusal,
)
from app.webhooks.sender import WebhookSender
from tests.dns_support import FakeDNS
from tests.receivers import Receiver
from tests.servers import wait_for

PAYLOAD = {"job_id": "a1b2c3d4e5f6", "status": "completed"}
HANG_SECONDS = 20.0  # far beyond the limits under test; the test ends the wait long before


@pytest.fixture
def no_connect(monkeypatch):
    def connect(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args[1:]}")
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", connect)


# --- Which addresses are refused, at job creation and at delivery ---------------

REFUSED = [
    ("http://127.0.0.1/hook", "webhook host 127.0.0.1 is a loopback address"),
    ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
    ("http://172.16.0.1/hook", "172.16.0.1 is a private address"),
    ("http://192.168.1.1/hook", "192.168.1.1 is a private address"),
    ("http://100.64.0.1/hook", "100.64.0.1 is a carrier-grade NAT address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://[::1]/hook", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/hook", "embedding 127.0.0.1, a loopback address"),
    ("http://[2002:a9fe:a9fe::]/hook", "embedding 169.254.169.254, a link-local address"),  # 6to4
    ("http://[64:ff9b::a00:1]/hook", "embedding 10.0.0.1, a private address"),  # NAT64
    ("http://[fd00::1]/hook", "fd00::1 is a private address"),
    ("http://[fe80::1]/hook", "fe80::1 is a link-local address"),
    ("http://[fec0::1]/hook", "fec0::1 is a deprecated site-local address"),
    ("http://[feff:ffff::1]/hook", "feff:ffff::1 is a deprecated site-local address"),
    ("http://0.0.0.0/hook", "0.0.0.0 is an unspecified address"),
    ("http://224.0.0.1/hook", "224.0.0.1 is a multicast address"),
    ("http://255.255.255.255/hook", "255.255.255.255 is a reserved address"),
    ("http://198.18.0.1/hook", "198.18.0.1 is a special-purpose address"),
    ("http://2130706433/hook", "'2130706433' resolves to 127.0.0.1, a loopback address"),
]


@pytest.mark.parametrize("url, message", REFUSED)
def test_job_creation_refuses_non_public_addresses(url, message, no_connect):
    with pytest.raises(RefusedAddress, match=message):
        check_url(url, AddressPolicy())


@pytest.mark.parametrize("url, message", REFUSED)
def test_delivery_refuses_non_public_addresses_before_connecting(url, message, no_connect):
    result = WebhookSender(AddressPolicy()).send(url, PAYLOAD, "msg_1")
    assert (result.delivered, result.status_code, result.retry) == (False, None, False)
    assert result.reason.startswith("refused: webhook host ")
    assert message in result.reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert refusal(ipaddress.ip_address(address)) is None


def test_a_name_resolving_to_loopback_is_refused(no_connect):
    with pytest.raises(RefusedAddress, match=r"'localhost' resolves to (127\.0\.0\.1|::1), a loopback"):
        check_url("http://localhost:8080/hook", AddressPolicy())


def test_one_refused_address_among_public_ones_refuses_the_name(monkeypatch, no_connect):
    FakeDNS(monkeypatch, {"mixed.test": [["93.184.215.14", "10.0.0.1"]]})
    with pytest.raises(RefusedAddress, match="'mixed.test' resolves to 10.0.0.1, a private address"):
        check_url("https://mixed.test/hook", AddressPolicy())


def test_job_creation_refuses_a_name_that_does_not_resolve(monkeypatch):
    FakeDNS(monkeypatch, {"nowhere.test": [[]]})
    with pytest.raises(ValueError, match="webhook host 'nowhere.test' does not resolve"):
        check_url("https://nowhere.test/hook", AddressPolicy())


def test_a_failed_lookup_at_delivery_is_retried(monkeypatch):
    FakeDNS(monkeypatch, {"nowhere.test": [[]]})
    result = WebhookSender(AddressPolicy()).send("https://nowhere.test/hook", PAYLOAD, "msg_1")
    assert (result.delivered, result.status_code, result.retry) == (False, None, True)
    assert result.reason.startswith("DNS lookup of 'nowhere.test' failed")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost:8080/hook",
                                 "http://10.0.0.1/hook", "http://[::1]/hook"])
def test_a_refusal_at_job_creation_names_the_settings_that_lift_it(url, make_app, no_connect):
    reply = make_app().test_client().post("/jobs", json={
        "algorithm": "PrimeChecker", "params": {"number": 7}, "webhook": url})
    assert reply.status_code == 400
    detail = reply.get_json()["detail"]
    assert (detail["error"], detail["details"]["field"]) == ("VALIDATION_ERROR", "webhook")
    assert detail["message"].endswith(
        "; allowed only when the service runs with WEBHOOK_ALLOW_PRIVATE=1 "
        "or lists the host in WEBHOOK_ALLOWED_HOSTS")


def test_job_creation_answers_400_for_a_host_name_no_resolver_can_take(make_app):
    reply = make_app().test_client().post("/jobs", json={
        "algorithm": "PrimeChecker", "params": {"number": 7},
        "webhook": "https://" + "a" * 64 + ".example.com/hook"})
    assert reply.status_code == 400
    detail = reply.get_json()["detail"]
    assert (detail["error"], detail["details"]["field"]) == ("VALIDATION_ERROR", "webhook")
    assert detail["message"] == "webhook URL has an invalid host or port"


# --- What the operator can allow ----------------------------------------------

def test_an_allowed_host_name_may_resolve_to_loopback_but_the_literal_stays_refused():
    policy = AddressPolicy(allowed_hosts=frozenset({"localhost"}))
    with Receiver() as receiver:
        by_name = receiver.url.replace("127.0.0.1", "localhost")
        check_url(by_name, policy)
        result = WebhookSender(policy).send(by_name, PAYLOAD, "msg_1")
        assert result.delivered
        assert receiver.requests[0].headers["host"].startswith("localhost:")

        with pytest.raises(RefusedAddress, match="loopback"):
            check_url(receiver.url, policy)
        refused = WebhookSender(policy).send(receiver.url, PAYLOAD, "msg_2")
        assert not refused.delivered and "loopback" in refused.reason
        assert len(receiver.requests) == 1


# --- Two checks: at job creation and at every delivery ---------------------------

def test_a_name_checked_at_creation_is_checked_again_at_delivery(monkeypatch, no_connect):
    FakeDNS(monkeypatch, {"rebind.test": [["93.184.215.14"], ["169.254.169.254"]]})
    check_url("http://rebind.test/hook", AddressPolicy())
    result = WebhookSender(AddressPolicy()).send("http://rebind.test/hook", PAYLOAD, "msg_1")
    assert not result.delivered and not result.retry
    assert "resolves to 169.254.169.254, a link-local address" in result.reason


# --- URL syntax at job creation ------------------------------------------------

@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/x", "absolute http or https URL"),
    ("/relative", "absolute http or https URL"),
    ("http://", "absolute http or https URL"),
    ("javascript:alert(1)", "absolute http or https URL"),
    ("https://example.com/" + "a" * 2030, "longer than 2048"),
    ("https://user:pw@example.com/x", "user name or password"),
    ("https://example.com:99999/x", "invalid host or port"),
    ("https://example.com:0/x", "invalid host or port"),
    ("https://[::1/x", "invalid host or port"),
    ("https://exa mple.com/x", "ASCII without spaces"),
    ("https://example.com/\r\nX-Injected: 1", "ASCII without spaces"),
    ("https://exämple.com/x", "ASCII without spaces"),
    ("https://" + "a" * 64 + ".example.com/x", "invalid host or port"),  # a label's limit is 63
    ("https://api..example.com/x", "invalid host or port"),
])
def test_url_syntax_refusals(url, message):
    with pytest.raises(ValueError, match=message):
        check_url_syntax(url)


@pytest.mark.parametrize("url", [
    "https://example.com/callback",
    "http://127.0.0.1:8080/x",
    "http://[::1]:8080/x?a=1",
    "HTTPS://Example.COM",
    "https://example.com/" + "a" * 2028,
])
def test_url_syntax_accepts(url):
    check_url_syntax(url)


# --- Lookups that hang ----------------------------------------------------------

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


def test_job_creation_answers_400_when_the_webhook_host_lookup_hangs(hanging_dns, make_app):
    app = make_app({"webhook_dns_timeout_seconds": 0.2})
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
