"""Which webhook URLs the service may call: the guard against server-side request forgery.

A client chooses the webhook URL and the service calls it from inside our network.
Unguarded, `http://169.254.169.254/...` would read cloud credentials and
`http://10.0.0.5/admin` would reach internal services. So, unless the operator allows
more, a webhook may only go to public addresses.

Two checks at two times:
- at job creation, `check_url` gives the client a clear 400 for a URL we would refuse;
- at each delivery, `resolve_allowed` looks the host up once and vets every address.
  The sender then connects to one of those addresses and never looks the name up again,
  so a DNS answer that changes between check and connect (DNS rebinding) gains nothing.

A lookup has a time limit (WEBHOOK_DNS_TIMEOUT_SECONDS): the system resolver has none a
client cannot stretch, and job creation looks the host up in a request thread. A lookup
without an answer in time counts as a name that does not resolve.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}

# Named so that a refusal says what the address is. Whatever else is not globally
# routable by the `ipaddress` module's reckoning is refused too (see `refusal`).
_NAMED_NETWORKS = tuple(
    (ipaddress.ip_network(network), name) for network, name in (
        ("0.0.0.0/8", "an unspecified address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT address"),  # not is_private in Python
        ("169.254.0.0/16", "a link-local address"),  # cloud metadata: 169.254.169.254
        ("224.0.0.0/4", "a multicast address"),  # is_global in Python
        ("240.0.0.0/4", "a reserved address"),  # 255.255.255.255 (broadcast) included
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fc00::/7", "a private address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a deprecated site-local address"),  # is_global in Python
        ("ff00::/8", "a multicast address"),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Lookups waiting on the resolver at once, per process; waiting for one of these slots
# counts against the lookup's time limit, so a flood of hanging names cannot pile up threads.
MAX_LOOKUPS_IN_FLIGHT = 16
_lookup_slots = threading.BoundedSemaphore(MAX_LOOKUPS_IN_FLIGHT)


@dataclass(frozen=True)
class AddressPolicy:
    """What the operator allows beyond public addresses.

    allow_private: any address at all, loopback and private networks included
        (WEBHOOK_ALLOW_PRIVATE=1; for development and closed networks).
    allowed_hosts: host names, lowercase and as written in the URL (IPv6 without
        brackets), that may resolve to any address (WEBHOOK_ALLOWED_HOSTS). The name is
        trusted, not its addresses: with only "localhost" listed, 127.0.0.1 is refused.
    lookup_timeout_seconds: how long a host lookup may take (WEBHOOK_DNS_TIMEOUT_SECONDS).
    """
    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    lookup_timeout_seconds: float = 3.0

    def trusts(self, host: str) -> bool:
        return self.allow_private or host.lower() in self.allowed_hosts


class RefusedAddress(ValueError):
    """A webhook host that is, or resolves to, an address the policy refuses."""


class LookupTimeout(socket.gaierror):
    """No answer from the resolver in time: handled wherever a failed lookup is."""

    def __init__(self, seconds: float) -> None:
        super().__init__(socket.EAI_AGAIN, f"no answer within {seconds:g} s")


def check_url_syntax(url: str) -> None:
    """Refuse what is not an absolute http(s) URL we could call. Resolves nothing."""
    _checked_split(url)


def check_url(url: str, policy: AddressPolicy) -> None:
    """The check at job creation: syntax, then the host's addresses as they resolve now.

    A host that does not resolve is refused: the client learns about a typo at once
    instead of from a job whose webhook silently fails later.
    """
    parts = _checked_split(url)
    try:
        resolve_allowed(parts.hostname, port_of(parts), policy)
    except socket.gaierror as exc:
        raise ValueError(f"webhook host '{parts.hostname}' does not resolve ({exc.strerror})") from None


def resolve_allowed(host: str, port: int, policy: AddressPolicy) -> list[IPAddress]:
    """Look `host` up once; its addresses in the resolver's order, if all are allowed.

    One refused address refuses the host (the ANY rule): a name resolving to a public
    and a private address could otherwise land the connection on the private one.
    Raises RefusedAddress for a refused address, socket.gaierror when the name does
    not resolve.
    """
    infos = _getaddrinfo(host, port, policy.lookup_timeout_seconds)
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not policy.trusts(host):
        for address in addresses:
            reason = refusal(address)
            if reason:
                raise RefusedAddress(_refusal_message(host, address, reason))
    return addresses


def _getaddrinfo(host: str, port: int, seconds: float) -> list[tuple]:
    """`socket.getaddrinfo`, or LookupTimeout after `seconds`.

    getaddrinfo cannot be interrupted, so it runs in a thread of its own, which a
    timed-out lookup leaves behind until the resolver gives up.
    """
    deadline = time.monotonic() + seconds
    if not _lookup_slots.acquire(timeout=seconds):
        raise LookupTimeout(seconds)
    answer: dict[str, Any] = {}
    finished = threading.Event()

    def look_up() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            answer["error"] = exc
        finally:
            _lookup_slots.release()
            finished.set()

    threading.Thread(target=look_up, name="webhook-dns", daemon=True).start()
    if not finished.wait(max(deadline - time.monotonic(), 0)):
        raise LookupTimeout(seconds)
    if "error" in answer:
        raise answer["error"]
    return answer["infos"]


def refusal(address: IPAddress) -> str | None:
    """Why `address` is refused, e.g. "a loopback address"; None for a public address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal(embedded)
        return reason and f"an IPv6 address embedding {embedded}, {reason}"
    for network, name in _NAMED_NETWORKS:
        if address in network:
            return name
    if not address.is_global or address.is_reserved:
        return "a special-purpose address"
    return None


def port_of(parts: SplitResult) -> int:
    return parts.port or DEFAULT_PORTS[parts.scheme]


def _checked_split(url: str) -> SplitResult:
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"webhook URL is longer than {MAX_URL_LENGTH} characters")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ValueError("webhook URL must be ASCII without spaces or control characters "
                         "(percent-encode the rest, punycode for international names)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or a malformed [IPv6] host
        raise ValueError("webhook URL has an invalid host or port") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("webhook must be an absolute http or https URL")
    if "@" in parts.netloc:
        raise ValueError("webhook URL must not contain a user name or password")
    if port == 0:
        raise ValueError("webhook URL has an invalid host or port")
    return parts


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv6 one (mapped ::ffff:a.b.c.d, 6to4, NAT64), if any."""
    if address.version == 4:
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.ipv4_mapped or address.sixtofour


def _refusal_message(host: str, address: IPAddress, reason: str) -> str:
    """What was refused, and the settings that allow it: the developer pointing a webhook
    at a local receiver reads it in the 400, the operator in the delivery log."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        refused = f"webhook host '{host}' resolves to {address}, {reason}"
    else:
        refused = f"webhook host {host} is {reason}"
    return (f"{refused}; allowed only when the service runs with WEBHOOK_ALLOW_PRIVATE=1 "
            "or lists the host in WEBHOOK_ALLOWED_HOSTS")
