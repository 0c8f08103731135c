"""One way to send a request, two transports: Flask's test client and real HTTP.

API tests take the `http` fixture and run twice, in-process and against gunicorn,
so the contract is checked where users meet it as well as where it is quick to debug.
"""
from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

import requests


def _not_json(constant: str) -> Any:
    raise AssertionError(f"{constant} is not JSON: a strict parser refuses the whole body")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        """The body as strict JSON: `NaN` or `Infinity` in it fails the test."""
        return json.loads(self.text, parse_constant=_not_json)

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class Transport:
    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        raise NotImplementedError

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def post_json(self, path: str, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        return self.request("POST", path, json.dumps(payload).encode(), "application/json", headers)


class ClientTransport(Transport):
    def __init__(self, client) -> None:
        self.client = client

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        headers = dict(headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        response = self.client.open(path, method=method, data=body, headers=headers)
        return Reply(response.status_code, dict(response.headers), response.get_data(as_text=True))


class HttpTransport(Transport):
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.trust_env = False

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        headers = dict(headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        response = self.session.request(method, self.base_url + path, data=body, headers=headers,
                                        timeout=30)
        return Reply(response.status_code, dict(response.headers), response.text)


def raw_exchange(port: int, data: bytes, half_close: bool = False) -> bytes:
    """Send `data` as is on a raw socket; what comes back, up to the end of the first
    whole answer, or, with `half_close`, all the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
            if not half_close and _is_whole(raw):
                break
    return raw


def parse_answer(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """The first answer's status, headers (names lower-cased) and what follows them."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def _is_whole(raw: bytes) -> bool:
    if b"\r\n\r\n" not in raw:
        return False
    _, headers, body = parse_answer(raw)
    return "content-length" in headers and len(body) >= int(headers["content-length"])
