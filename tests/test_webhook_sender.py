"""The webhook sender (app/webhooks/sender.py) against real sockets, all on loopback.

Host names other than localhost come from `FakeDNS`. Which addresses are refused is
tested in test_address_policy.py.
"""
from __future__ import annotations

import base64
import email.utils
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import trustme
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.webhooks.address_policy import AddressPolicy
from app.webhooks.sender import USER_AGENT, AttemptResult, WebhookSender
from tests.dns_support import FakeDNS
from tests.receivers import Receiver, Reply

PRIVATE_OK = AddressPolicy(allow_private=True)
PAYLOAD = {"job_id": "a1b2c3d4e5f6", "status": "completed", "result": {"text": "héllo ✓"}}


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- One attempt, and what the receiver gets ----------------------------------

def test_allow_private_lets_the_loopback_receiver_through(receiver):
    before = int(time.time())
    result = WebhookSender(PRIVATE_OK).send(receiver.url, PAYLOAD, "msg_1")
    assert result.delivered and result.status_code == 200 and not result.retry
    assert result.reason == "HTTP 200"
    [request] = receiver.requests
    assert request.method == "POST" and request.path == "/hook"
    assert request.json() == PAYLOAD
    assert "héllo ✓".encode() in request.body  # UTF-8, not \\u escapes
    assert request.headers["host"] == f"127.0.0.1:{urlsplit(receiver.url).port}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["webhook-id"] == "msg_1"
    assert before <= int(request.headers["webhook-timestamp"]) <= time.time()
    assert "webhook-signature" not in request.headers


def test_ipv6_receiver_gets_a_bracketed_host_header():
    with Receiver(host="::1") as receiver:
        result = WebhookSender(PRIVATE_OK).send(receiver.url, PAYLOAD, "msg_1")
        assert result.delivered
        assert receiver.requests[0].headers["host"] == f"[::1]:{urlsplit(receiver.url).port}"


def test_the_receiver_gets_our_headers_and_no_others(receiver):
    # requests would add "Accept: */*", gzip and keep-alive by itself.
    assert WebhookSender(PRIVATE_OK).send(receiver.url, PAYLOAD, "msg_1").delivered
    [request] = receiver.requests
    assert set(request.headers) == {"host", "user-agent", "content-type", "content-length",
                                    "accept-encoding", "connection", "webhook-id",
                                    "webhook-timestamp"}
    assert request.headers["accept-encoding"] == "identity"  # the answer is discarded anyway
    assert request.headers["connection"] == "close"


def test_proxy_variables_and_netrc_are_never_read(monkeypatch, tmp_path, receiver):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login user password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with Receiver() as proxy:
        proxy_url = proxy.url.removesuffix("/hook")
        for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy_url)
        result = WebhookSender(PRIVATE_OK).send(receiver.url, PAYLOAD, "msg_1")
        assert result.delivered, result.reason
        assert proxy.requests == []
    [request] = receiver.requests
    assert request.path == "/hook"  # a proxy would get the absolute URL
    assert "authorization" not in request.headers


def test_the_next_vetted_address_is_tried_when_one_refuses(monkeypatch, receiver):
    # Nothing listens on 127.0.0.2: that connection is refused, the next address answers.
    dns = FakeDNS(monkeypatch, {"two.test": [["127.0.0.2", "127.0.0.1"]]})
    port = urlsplit(receiver.url).port
    result = WebhookSender(PRIVATE_OK).send(f"http://two.test:{port}/hook", PAYLOAD, "msg_1")
    assert result.delivered, result.reason
    assert dns.lookups == ["two.test"]
    assert receiver.requests[0].headers["host"] == f"two.test:{port}"


def test_a_redirect_is_never_followed():
    with Receiver() as target, Receiver([Reply(302, {"Location": target.url})]) as first:
        result = WebhookSender(PRIVATE_OK).send(first.url, PAYLOAD, "msg_1")
        assert (result.delivered, result.status_code, result.retry) == (False, 302, True)
        assert "not followed" in result.reason
        assert len(first.requests) == 1
        assert target.requests == []


# --- DNS rebinding ----------------------------------------------------------------

def test_one_lookup_per_attempt_and_the_connection_goes_to_its_answer(monkeypatch, receiver):
    dns = FakeDNS(monkeypatch, {"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
    port = urlsplit(receiver.url).port
    result = WebhookSender(PRIVATE_OK).send(f"http://rebind.test:{port}/hook", PAYLOAD, "msg_1")
    assert result.delivered, result.reason  # nothing listens on 127.0.0.2
    assert dns.lookups == ["rebind.test"]
    assert receiver.requests[0].headers["host"] == f"rebind.test:{port}"


# --- TLS: connect to the pinned address, verify the URL's name -------------------

@pytest.mark.parametrize("certified_name, delivered", [("webhook.test", True), ("other.test", False)])
def test_https_checks_the_certificate_against_the_url_host(certified_name, delivered, monkeypatch, tmp_path):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(certified_name).configure_cert(server_tls)
    sni: list[str | None] = []
    server_tls.sni_callback = lambda tls_socket, name, context: sni.append(name)
    FakeDNS(monkeypatch, {"webhook.test": [["127.0.0.1"]]})
    policy = AddressPolicy(allowed_hosts=frozenset({"webhook.test"}))

    with Receiver(tls=server_tls) as receiver:
        url = receiver.url.replace("127.0.0.1", "webhook.test")
        result = WebhookSender(policy).send(url, PAYLOAD, "msg_1")

        assert sni == ["webhook.test"]
        assert result.delivered is delivered
        if delivered:
            assert receiver.requests[0].json() == PAYLOAD
        else:
            assert (result.status_code, result.retry) == (None, True)
            assert result.reason.startswith("TLS certificate rejected")
            assert receiver.requests == []


# --- Standard Webhooks signatures ----------------------------------------------

def test_signature_verifies_with_the_standardwebhooks_package(receiver):
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    sender = WebhookSender(PRIVATE_OK, secret=secret)
    assert sender.send(receiver.url, PAYLOAD, "msg_1").delivered
    assert sender.send(receiver.url, PAYLOAD, "msg_1").delivered
    first, second = receiver.requests

    assert Webhook(secret).verify(first.body, first.headers) == PAYLOAD
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "msg_1"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(first.body.replace(b"completed", b"failed"), first.headers)
    other_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret).verify(first.body, first.headers)


def test_a_plain_secret_is_used_as_its_utf8_bytes(receiver):
    assert WebhookSender(PRIVATE_OK, secret="plain secret").send(receiver.url, PAYLOAD, "msg_1").delivered
    [request] = receiver.requests
    assert Webhook(b"plain secret").verify(request.body, request.headers) == PAYLOAD


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!"])
def test_a_malformed_whsec_secret_is_refused_at_start(secret):
    with pytest.raises(ValueError, match="base64"):
        WebhookSender(AddressPolicy(), secret=secret)


# --- What the answer means -----------------------------------------------------

def http_date_in(seconds: int) -> str:
    return email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize("reply, delivered, retry, retry_after", [
    (Reply(204, body=b""), True, False, None),
    (Reply(410), False, False, None),
    (Reply(500), False, True, None),
    (Reply(429, {"Retry-After": "7"}), False, True, 7.0),
    (Reply(503, {"Retry-After": "999999"}), False, True, 3600.0),
    (Reply(429, {"Retry-After": "soon"}), False, True, None),
    (Reply(429, {"Retry-After": "²"}), False, True, None),  # byte 0xB2: a digit to str.isdigit
    (Reply(429), False, True, None),
    (Reply(500, {"Retry-After": "7"}), False, True, None),
])
def test_status_codes(reply, delivered, retry, retry_after):
    with Receiver([reply]) as receiver:
        result = WebhookSender(PRIVATE_OK).send(receiver.url, PAYLOAD, "msg_1")
    assert (result.delivered, result.status_code, result.retry) == (delivered, reply.status, retry)
    assert result.retry_after == retry_after
    assert result.reason.startswith(f"HTTP {reply.status}")


def test_retry_after_as_an_http_date():
    with Receiver([Reply(503, {"Retry-After": http_date_in(30)})]) as receiver:
        result = WebhookSender(PRIVATE_OK).send(receiver.url, PAYLOAD, "msg_1")
    assert 28 <= result.retry_after <= 30


def test_a_closed_port_is_a_retryable_failure():
    result = WebhookSender(PRIVATE_OK).send(f"http://127.0.0.1:{closed_port()}/hook", PAYLOAD, "msg_1")
    assert result == AttemptResult(False, None, "connection refused", retry=True)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("behaviour", ["hang", "trickle"])
def test_a_receiver_that_never_finishes_answering_is_cut_at_the_timeout(behaviour):
    with Receiver([behaviour]) as receiver:
        started = time.monotonic()
        result = WebhookSender(PRIVATE_OK, timeout=1.0).send(receiver.url, PAYLOAD, "msg_1")
        elapsed = time.monotonic() - started
    assert (result.delivered, result.status_code, result.retry) == (False, None, True)
    assert result.reason == "timeout after 1.0 s"
    assert 0.9 <= elapsed < 3.0


@pytest.mark.timeout(10)
def test_an_https_receiver_that_never_finishes_answering_is_cut_at_the_timeout(monkeypatch, tmp_path):
    # The watchdog reaches the connection under the TLS socket that took it over.
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    with Receiver(["trickle"], tls=server_tls) as receiver:
        started = time.monotonic()
        result = WebhookSender(PRIVATE_OK, timeout=1.0).send(receiver.url, PAYLOAD, "msg_1")
        elapsed = time.monotonic() - started
        assert len(receiver.requests) == 1  # it got through TLS and was answered, slowly
    assert (result.delivered, result.status_code, result.retry) == (False, None, True)
    assert result.reason == "timeout after 1.0 s"
    assert 0.9 <= elapsed < 3.0


@contextmanager
def trickling_tls_handshake() -> Iterator[int]:
    """A port whose server answers the ClientHello with a TLS record announced 16,000
    bytes long, then sends it a byte every 0.2 s: no read waits long enough to time out."""
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5)

        def trickle() -> None:
            with suppress(OSError), server.accept()[0] as conn:
                conn.recv(65536)
                conn.sendall(bytes([0x16, 0x03, 0x03]) + (16_000).to_bytes(2, "big"))
                while not stop.wait(0.2):
                    conn.sendall(b"\0")

        thread = threading.Thread(target=trickle)
        thread.start()
        try:
            yield server.getsockname()[1]
        finally:
            stop.set()
            thread.join()


@pytest.mark.timeout(10)
def test_a_tls_handshake_that_never_finishes_is_cut_at_the_timeout():
    with trickling_tls_handshake() as port:
        started = time.monotonic()
        result = WebhookSender(PRIVATE_OK, timeout=1.0).send(
            f"https://127.0.0.1:{port}/hook", PAYLOAD, "msg_1")
        elapsed = time.monotonic() - started
    assert (result.delivered, result.status_code, result.retry) == (False, None, True)
    assert result.reason == "timeout after 1.0 s"
    assert 0.9 <= elapsed < 3.0


@pytest.mark.timeout(10)
def test_an_endless_response_body_is_not_read_to_the_end():
    with Receiver(["endless"]) as receiver:
        result = WebhookSender(PRIVATE_OK, timeout=2.0).send(receiver.url, PAYLOAD, "msg_1")
    assert result.delivered, result.reason  # reading it all would have hit the timeout


def test_concurrent_attempts_each_arrive_once():
    with Receiver(delay=0.3) as receiver:
        sender = WebhookSender(PRIVATE_OK)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: sender.send(receiver.url, {"n": i}, f"msg_{i}"), range(8)))
        assert all(result.delivered for result in results)
        requests = receiver.wait_for_count(8, timeout=5)
    assert sorted(r.headers["webhook-id"] for r in requests) == sorted(f"msg_{i}" for i in range(8))
    assert sorted(r.json()["n"] for r in requests) == list(range(8))
