"""The client's address for the access line: X-Forwarded-For's, only from a peer in
FORWARDED_ALLOW_IPS (ProxyFix trusts any), so a client cannot log another address."""
from __future__ import annotations

import ipaddress
from typing import Any, Callable, Iterable

from werkzeug.middleware.proxy_fix import ProxyFix

StartResponse = Callable[..., Any]


class TrustedProxyFix(ProxyFix):
    """ProxyFix (one proxy's X-Forwarded-For) for requests from a trusted peer only."""

    def __init__(self, wsgi_app: Callable[[dict, StartResponse], Iterable[bytes]],
                 trusted: Iterable[str]) -> None:
        super().__init__(wsgi_app, x_for=1, x_proto=0)
        trusted = tuple(trusted)
        self.trust_all = "*" in trusted
        self.networks = tuple(ipaddress.ip_network(peer, strict=False)
                              for peer in trusted if peer != "*")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if "HTTP_X_FORWARDED_FOR" in environ and self._trusted(environ.get("REMOTE_ADDR", "")):
            return super().__call__(environ, start_response)
        return self.app(environ, start_response)

    def _trusted(self, peer: str) -> bool:
        if self.trust_all:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:  # a Unix socket has no address
            return False
        return any(address in network for network in self.networks)
