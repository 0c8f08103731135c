"""Slow request bodies (app/web/body_deadline.py): 408 REQUEST_TIMEOUT, and the thread goes free.

A real gunicorn with two threads and BODY_TIMEOUT_SECONDS=1; each client sends its
headers, then one body byte at a time, far too slowly, as the attack in issue 17 did.
"""
from __future__ import annotations

import gc
import io
import json
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from app.web.body_deadline import BodyDeadline, DeadlineInput
from tests.servers import Service, wait_for

THREADS = 2
TRICKLE_INTERVAL_SECONDS = 0.3
# Far more than the deadline (1 s) and gunicorn's own body drain (5 s): on code without
# a deadline the clients are still trickling when they give up, and get no answer.
GIVE_UP_SECONDS = 12.0


@pytest.fixture(scope="module")
def slow_service():
    with Service({"BODY_TIMEOUT_SECONDS": "1", "GUNICORN_THREADS": str(THREADS)}) as running:
        yield running


@dataclass
class SlowClient:
    """Sends a request head, then a body byte every TRICKLE_INTERVAL_SECONDS until answered."""

    port: int
    path: str
    chunked: bool = False
    received: bytes = b""
    closed_after_answer: bool = False
    head_lines: list[str] = field(default_factory=list)
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        framing = "Transfer-Encoding: chunked" if self.chunked else "Content-Length: 1000"
        head = (f"POST {self.path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                f"{framing}\r\n\r\n")
        self.sock.sendall(head.encode())
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        give_up = time.monotonic() + GIVE_UP_SECONDS
        self.sock.settimeout(TRICKLE_INTERVAL_SECONDS)
        try:
            while time.monotonic() < give_up and not self.received:
                try:
                    self.received = self.sock.recv(65536)
                except socket.timeout:
                    self.sock.sendall(b"1\r\n{\r\n" if self.chunked else b"{")
            if self.received:
                self._read_to_end(give_up)
        except OSError:
            pass
        finally:
            self.sock.close()

    def _read_to_end(self, give_up: float) -> None:
        while time.monotonic() < give_up:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                self.closed_after_answer = True
                return
            self.received += data

    def answer(self) -> tuple[int, dict[str, Any]]:
        self.thread.join(GIVE_UP_SECONDS + 5)
        assert self.received, "no answer: the body was read for as long as the client liked"
        head, _, body = self.received.partition(b"\r\n\r\n")
        self.head_lines = head.decode("latin-1").lower().split("\r\n")
        return int(head.split()[1]), json.loads(body)


def healthz_answers(service: Service) -> bool:
    try:
        return requests.get(service.url("/healthz"), timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_too_slow_gets_408_and_every_thread_goes_free(slow_service, chunked):
    clients = [SlowClient(slow_service.port, "/invoke", chunked) for _ in range(THREADS)]
    for client in clients:
        status, body = client.answer()
        assert status == 408
        assert body["error"] == "REQUEST_TIMEOUT"
        assert body["details"] == {"body_timeout_seconds": 1.0}
        assert "connection: close" in client.head_lines
        assert client.closed_after_answer
    assert healthz_answers(slow_service)


def test_on_jobs_the_408_is_wrapped_under_detail(slow_service):
    status, body = SlowClient(slow_service.port, "/jobs").answer()
    assert status == 408
    assert body["detail"]["error"] == "REQUEST_TIMEOUT"


def test_a_body_that_arrives_in_time_keeps_the_connection(slow_service):
    with requests.Session() as session:
        for number in (17, 18):
            reply = session.post(slow_service.url("/invoke"), json={"number": number}, timeout=5)
            assert reply.status_code == 200
    assert healthz_answers(slow_service)


def test_the_watcher_fires_only_for_unread_bodies_and_its_thread_stays_until_closed():
    watcher = BodyDeadline(lambda environ, start_response: [], 0.05)
    left, right = socket.socketpair()
    spare_left, spare_right = socket.socketpair()
    try:
        kept = watcher.watch(io.BytesIO(), spare_left, None)
        kept.cancel()
        cut = watcher.watch(io.BytesIO(), left, None)
        wait_for(lambda: cut.fired, timeout=5, message="the deadline to fire")
        assert left.recv(1) == b""  # read side shut: a blocked recv would return at once
        assert not kept.fired
        again = watcher.watch(io.BytesIO(), left, None)  # the idle thread wakes for a new body
        wait_for(lambda: again.fired, timeout=5, message="the second deadline to fire")
        assert [t.name for t in threading.enumerate()].count("body-deadline") == 1
        watcher.close()
        wait_for(lambda: not any(t.name == "body-deadline" for t in threading.enumerate()),
                 timeout=5, message="the watcher thread to end")
    finally:
        for sock in (left, right, spare_left, spare_right):
            sock.close()


def test_a_finished_body_is_freed_while_the_watcher_sleeps_on_an_earlier_one():
    watcher = BodyDeadline(lambda environ, start_response: [], 1)
    left, right = socket.socketpair()
    try:
        unread = watcher.watch(io.BytesIO(), left, None)
        finished = watcher.watch(io.BytesIO(b"{}"), left, None)
        assert finished.read() == b"{}" and finished.read() == b"" and finished.done
        freed = weakref.ref(finished)
        del finished
        gc.collect()
        assert freed() is None
        wait_for(lambda: unread.fired, timeout=5, message="the unread body's deadline to fire")
        watcher.close()
        wait_for(lambda: not any(t.name == "body-deadline" for t in threading.enumerate()),
                 timeout=5, message="the watcher thread to end")
    finally:
        left.close()
        right.close()


def test_a_body_read_in_time_leaves_the_socket_alone():
    left, right = socket.socketpair()
    try:
        body = DeadlineInput(io.BytesIO(), left, None, 0)
        body.cancel()
        body.fire()
        right.sendall(b"x")
        assert not body.fired and left.recv(1) == b"x"
    finally:
        left.close()
        right.close()
