"""deploy/nginx.conf in front of the real gunicorn: nginx's own errors are the service's
JSON envelope, request ids and client addresses reach the logs, idle clients wait in nginx.

Each test runs the shipped file itself, with only its two addresses changed (and, where
a test waits for a timeout, that one value shortened), so the file cannot drift from
what the tests show.
"""
from __future__ import annotations

import json
import resource
import socket
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest
import requests

from tests.servers import ROOT, Nginx, Service, free_port, wait_for
from tests.transports import parse_answer, raw_exchange

SHIPPED = (ROOT / "deploy" / "nginx.conf").read_text()
SHORT_TIMEOUTS = {"client_header_timeout 10s;": "client_header_timeout 1s;",
                  "client_body_timeout 10s;": "client_body_timeout 1s;",
                  "proxy_read_timeout 35s;": "proxy_read_timeout 1s;"}
ONE_AT_A_TIME = {**SHORT_TIMEOUTS, "limit_conn per_client 64;": "limit_conn per_client 1;"}
IDLE_CONNECTIONS = 2000


def config_for(upstream_port: int, listen_port: int, changes: dict[str, str]) -> str:
    """The shipped configuration with only its addresses and the given lines changed."""
    text = SHIPPED
    for old, new in {"listen 8080;": f"listen 127.0.0.1:{listen_port};",
                     "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
                     **changes}.items():
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r} once"
        text = text.replace(old, new)
    return text


def proxy_to(upstream_port: int, changes: dict[str, str] | None = None) -> Nginx:
    port = free_port()
    return Nginx(config_for(upstream_port, port, SHORT_TIMEOUTS if changes is None else changes),
                 port)


@pytest.fixture(scope="module")
def proxied(jobs_service: Service) -> Iterator[Nginx]:
    """nginx in front of the embedded service, with short timeouts."""
    with proxy_to(jobs_service.port) as nginx:
        yield nginx


@pytest.fixture(scope="module")
def shipped(jobs_service: Service) -> Iterator[Nginx]:
    """nginx in front of the embedded service, with the shipped values unchanged."""
    with proxy_to(jobs_service.port, {}) as nginx:
        yield nginx


@pytest.fixture
def silent_upstream() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def assert_envelope(status: int, headers: dict[str, str], body: bytes, expected: int,
                    code: str, wrapped: bool = False) -> None:
    assert status == expected, body
    assert headers["content-type"].startswith("application/json")
    envelope = json.loads(body)
    error = envelope["detail"] if wrapped else envelope
    assert set(envelope) == ({"detail"} if wrapped else {"error", "message", "details", "request_id"})
    assert error["error"] == code
    assert error["request_id"] == headers["x-request-id"]


@pytest.mark.parametrize("path, wrapped", [("/invoke", False), ("/jobs", True)])
def test_a_body_over_the_limit_is_refused_by_nginx_as_the_service_would(
        proxied, jobs_service, path, wrapped):
    """nginx holds the same limit as MAX_CONTENT_LENGTH and answers the same 413, so a
    large body is never forwarded. (A larger limit in nginx would forward it, and
    gunicorn's 413 before it has read the body resets the connection: a 502.)"""
    body = b"0" * (1024 * 1024 + 1)
    reply = requests.post(proxied.url(path), data=body, timeout=10,
                          headers={"Content-Type": "application/json"})
    assert_envelope(reply.status_code, {k.lower(): v for k, v in reply.headers.items()},
                    reply.content, 413, "PAYLOAD_TOO_LARGE", wrapped)
    direct = requests.post(jobs_service.url(path), data=body, timeout=10,
                           headers={"Content-Type": "application/json"}).json()
    ours, theirs = (envelope["detail"] if wrapped else envelope
                    for envelope in (reply.json(), direct))
    assert (ours["message"], ours["details"]) == (theirs["message"], theirs["details"])


def test_a_body_within_the_limit_reaches_the_service(proxied):
    reply = requests.post(proxied.url("/invoke"), data=b" " * (1024 * 1024 - 20) + b'{"number": 17}',
                          headers={"Content-Type": "application/json"}, timeout=10)
    assert reply.status_code == 200, reply.text


def test_a_stopped_service_is_the_json_502():
    with proxy_to(free_port()) as nginx:  # nothing listens there
        reply = requests.get(nginx.url("/jobs/0123456789ab"), timeout=10)
    assert_envelope(reply.status_code, {k.lower(): v for k, v in reply.headers.items()},
                    reply.content, 502, "BAD_GATEWAY", wrapped=True)


def test_a_service_that_never_answers_is_the_json_504(silent_upstream):
    with proxy_to(silent_upstream) as nginx:
        reply = requests.post(nginx.url("/invoke"), json={"number": 17}, timeout=10)
    assert_envelope(reply.status_code, {k.lower(): v for k, v in reply.headers.items()},
                    reply.content, 504, "GATEWAY_TIMEOUT")


def test_too_many_requests_from_one_client_is_the_json_503(jobs_service):
    """limit_conn (here 1 request in progress per address) refuses the next with 503."""
    with proxy_to(jobs_service.port, ONE_AT_A_TIME) as nginx, ThreadPoolExecutor(1) as pool:
        slow = pool.submit(requests.post, nginx.url("/invoke/Sleep"), json={"seconds": 0.8},
                           timeout=10)
        # Asked of gunicorn directly: its own scrape is in progress too, hence 2.
        wait_for(lambda: in_progress(jobs_service) >= 2, 5, message="the slow request to arrive")
        refused = requests.get(nginx.url("/healthz"), timeout=5)
        assert slow.result().status_code == 200
    assert_envelope(refused.status_code, {k.lower(): v for k, v in refused.headers.items()},
                    refused.content, 503, "SERVICE_UNAVAILABLE")
    assert refused.headers["Retry-After"] == "1"


def in_progress(service: Service) -> float:
    metrics = requests.get(service.url("/metrics"), timeout=5).text
    return sum(float(line.split()[-1]) for line in metrics.splitlines()
               if line.startswith("http_requests_in_progress"))


@pytest.mark.parametrize("name, data, code, expected", [
    ("bad request line", b"GARBAGE\r\n\r\n", "BAD_REQUEST", 400),
    ("no Host", b"GET /healthz HTTP/1.1\r\n\r\n", "BAD_REQUEST", 400),
    ("header too large", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n",
     "REQUEST_HEADER_FIELDS_TOO_LARGE", 431),
    ("request line too long", b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
     "URI_TOO_LONG", 414),
    ("TRACE", b"TRACE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "METHOD_NOT_ALLOWED", 405),
    ("unknown transfer coding", b"POST /invoke HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
     "NOT_IMPLEMENTED", 501),
    ("HTTP/2.0 request line", b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP_VERSION_NOT_SUPPORTED", 505),
    ("nginx's own error page asked for", b"GET /.errors/ HTTP/1.1\r\nHost: x\r\n\r\n", "NOT_FOUND", 404),
])
def test_a_request_nginx_refuses_is_a_json_error(proxied, name, data, code, expected):
    status, headers, body = parse_answer(raw_exchange(proxied.port, data))
    assert_envelope(status, headers, body, expected, code)
    assert "retry-after" not in headers


@pytest.mark.parametrize("part", ["head", "body"])
def test_a_client_that_stops_sending_is_cut_by_nginx_and_never_reaches_gunicorn(
        proxied, jobs_service, part):
    """nginx closes it after its timeout (1 s here, 10 s shipped), with no answer: the
    client stopped sending. gunicorn never hears of it, so no thread of it waits."""
    request_id = f"slow-{part}-{time.monotonic_ns()}"
    head = (f"POST /invoke HTTP/1.1\r\nHost: x\r\nX-Request-Id: {request_id}\r\n"
            "Content-Type: application/json\r\nContent-Length: 20\r\n").encode()
    data = head + (b"\r\n{\"number\": " if part == "body" else b"")
    with socket.create_connection(("127.0.0.1", proxied.port), timeout=10) as sock:
        sock.sendall(data)
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed, nothing said
        assert time.monotonic() - started < 5
    marker = requests.get(proxied.url("/healthz"), timeout=10).headers["X-Request-Id"]
    lines = wait_for(lambda: _lines_up_to(jobs_service, marker), message="the marker's access line")
    assert not [line for line in lines if line.get("request_id") == request_id]


def _lines_up_to(service: Service, request_id: str) -> list[dict] | None:
    lines = service.json_lines()
    ids = [line.get("request_id") for line in lines]
    return lines if request_id in ids else None


@pytest.mark.parametrize("sent, kept", [
    ("my-id-1", True), ("x" * 128, True),
    ("x" * 129, False), ("has space", False), ('a"b', False), ("é", False), ("", False),
])
def test_a_valid_client_request_id_is_kept_and_reaches_the_logs(proxied, jobs_service, sent, kept):
    reply = requests.post(proxied.url("/invoke"), json={"number": 17}, timeout=10,
                          headers={"X-Request-Id": sent.encode()})
    assert reply.status_code == 200, reply.text
    request_id = reply.headers["X-Request-Id"]
    assert reply.json()["request_id"] == request_id
    assert (request_id == sent) is kept
    wait_for(lambda: [line for line in jobs_service.json_lines()
                      if line.get("request_id") == request_id and line["logger"] == "app.access"],
             message="the service's access line with the request id")
    wait_for(lambda: [line for line in proxied.access_lines() if line["request_id"] == request_id],
             message="nginx's access line with the request id")


def test_the_access_line_names_the_client_behind_the_proxy(proxied, jobs_service):
    """The client connects from 127.0.0.2; nginx (127.0.0.1, trusted) names it, and a
    client's own X-Forwarded-For is not believed."""
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter("127.0.0.2"))
    reply = session.get(proxied.url("/healthz"), headers={"X-Forwarded-For": "203.0.113.9"},
                        timeout=10)
    line = access_line(jobs_service, reply.headers["X-Request-Id"])
    assert line["remote_addr"] == "127.0.0.2"


def test_an_untrusted_peer_cannot_name_another_client():
    """Straight to gunicorn from 127.0.0.3, which FORWARDED_ALLOW_IPS does not list."""
    with Service({"FORWARDED_ALLOW_IPS": "127.0.0.1"}) as service:
        session = requests.Session()
        session.mount("http://", SourceAddressAdapter("127.0.0.3"))
        direct = session.get(service.url("/healthz"), headers={"X-Forwarded-For": "203.0.113.9"},
                             timeout=10)
        trusted = requests.get(service.url("/healthz"), headers={"X-Forwarded-For": "203.0.113.9"},
                               timeout=10)
        assert access_line(service, direct.headers["X-Request-Id"])["remote_addr"] == "127.0.0.3"
        assert access_line(service, trusted.headers["X-Request-Id"])["remote_addr"] == "203.0.113.9"


def access_line(service: Service, request_id: str) -> dict:
    return wait_for(lambda: next((line for line in service.json_lines()
                                  if line.get("request_id") == request_id
                                  and line["logger"] == "app.access"), None),
                    message="the access line")


class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connects from a chosen loopback address, as a client elsewhere would."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def test_two_thousand_idle_connections_do_not_delay_healthz(shipped):
    """Silent sockets wait in nginx; gunicorn's threads never see them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE_CONNECTIONS + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE_CONNECTIONS + 1000), hard))
    idle = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            idle.append(socket.create_connection(("127.0.0.1", shipped.port), timeout=5))
        started = time.monotonic()
        reply = requests.get(shipped.url("/healthz"), timeout=10)
        elapsed = time.monotonic() - started
    finally:
        for sock in idle:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert reply.status_code == 200
    assert elapsed < 1.0, f"/healthz took {elapsed:.2f} s behind {IDLE_CONNECTIONS} idle connections"


def test_the_same_idle_connections_straight_to_gunicorn_hold_its_threads(jobs_service):
    """Why the proxy is needed: a few silent sockets are enough to stall the service."""
    idle = [socket.create_connection(("127.0.0.1", jobs_service.port), timeout=5)
            for _ in range(16)]
    try:
        with pytest.raises(requests.Timeout):
            requests.get(jobs_service.url("/healthz"), timeout=1)
    finally:
        for sock in idle:
            sock.close()
    wait_for(lambda: requests.get(jobs_service.url("/healthz"), timeout=5).ok, 15,
             message="the service to answer again")


def test_readme_command_runs_as_a_user_without_privileges(jobs_service):
    """README's command as an ordinary user (nobody, when the tests run as root): nginx
    starts, keeps its pid file in its prefix and proxies."""
    port = free_port()
    with Nginx(config_for(jobs_service.port, port, {}), port, unprivileged=True) as nginx:
        assert Path(f"/proc/{nginx.pid}").stat().st_uid != 0
        reply = requests.get(nginx.url("/healthz"), timeout=10)
        pid_file = Path(nginx.prefix, "nginx.pid").read_text()
    assert reply.status_code == 200, reply.text
    assert pid_file.strip() == str(nginx.pid)


PATH_DIRECTIVES = ("error_log", "access_log", "include", "client_body_temp_path",
                   "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path")


def test_the_shipped_file_runs_as_any_user_from_its_prefix():
    """No path outside nginx's prefix, and no pid file, daemon mode or user, which are
    the runner's to choose: README's command (tests.servers.Nginx runs the same) names a
    pid file in the prefix, so it runs as any user."""
    directives = [line.split("#", 1)[0].split() for line in SHIPPED.splitlines()]
    directives = [words for words in directives if words]
    assert not [words for words in directives if words[0] in ("daemon", "user", "pid")]
    paths = [words[1].rstrip(";") for words in directives if words[0] in PATH_DIRECTIVES]
    assert {"error_log", "access_log"} <= {words[0] for words in directives}
    assert [path for path in paths if path.startswith("/")] == []
