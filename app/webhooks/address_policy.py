"""Which webhook URLs the service may call: the guard against server-side request forgery,
checked at job creation (`check_url`) and at every delivery (`resolve_allowed`)."""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}

# Named so that a refusal says what the address is. Whatever else is not globally
# routable by the `ipaddress` module's reckoning is refused too (see `refusal`).
_NAMED_NETWORKS = [(ipaddress.ip_network(network), name) for name, networks in {
    "an unspecified address": ("0.0.0.0/8", "::/128"),
    "a loopback address": ("127.0.0.0/8", "::1/128"),
    "a private address": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
    "a carrier-grade NAT address": ("100.64.0.0/10",),  # not is_private in Python
    "a link-local address": ("169.254.0.0/16", "fe80::/10"),  # cloud metadata included
    "a multicast address": ("224.0.0.0/4", "ff00::/8"),  # is_global in Python
    "a reserved address": ("240.0.0.0/4",),  # 255.255.255.255 (broadcast) included
    "a deprecated site-local address": ("fec0::/10",),  # is_global in Python
}.items() for network in networks]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Lookups waiting on the resolver at once, per process; waiting for a slot counts
# against the lookup's time limit, so a flood of hanging names cannot pile up threads.
MAX_LOOKUPS_IN_FLIGHT = 16
_lookup_slots = threading.BoundedSemaphore(MAX_LOOKUPS_IN_FLIGHT)


@dataclass(frozen=True)
class AddressPolicy:
    """What the operator allows beyond public addresses. allowed_hosts are trusted names,
    lowercase as in the URL (IPv6 without brackets): the name is trusted, not its addresses."""
    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    lookup_timeout_seconds: float = 3.0


class RefusedAddress(ValueError):
    """A webhook host that is, or resolves to, an address the policy refuses."""


def check_url_syntax(url: str) -> SplitResult:
    """Refuse what is not an absolute http(s) URL we could call. Resolves nothing."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"webhook URL is longer than {MAX_URL_LENGTH} characters")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ValueError("webhook URL must be ASCII without spaces or control characters "
                         "(percent-encode the rest, punycode for international names)")
    try:
        parts = urlsplit(url)
        port = parts.port
        (parts.hostname or "").encode("idna")  # what the resolver is given: labels of 1 to 63
    except ValueError:  # a bad port, a malformed [IPv6] host, an empty or overlong label
        raise ValueError("webhook URL has an invalid host or port") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("webhook must be an absolute http or https URL")
    if "@" in parts.netloc:
        raise ValueError("webhook URL must not contain a user name or password")
    if port == 0:
        raise ValueError("webhook URL has an invalid host or port")
    return parts


def check_url(url: str, policy: AddressPolicy) -> None:
    """The check at job creation. A host that does not resolve is refused: the client
    learns about a typo at once, not from a webhook that silently fails later."""
    parts = check_url_syntax(url)
    try:
        resolve_allowed(parts.hostname, port_of(parts), policy)
    except socket.gaierror as exc:
        raise ValueError(
            f"webhook host '{parts.hostname}' does not resolve ({exc.strerror})") from None


def resolve_allowed(host: str, port: int, policy: AddressPolicy) -> list[IPAddress]:
    """Look `host` up once; its addresses in the resolver's order, if all are allowed.

    One refused address refuses the host: a name resolving to a public and a private
    address could otherwise land the connection on the private one. Raises
    RefusedAddress, or socket.gaierror when the name does not resolve.
    """
    infos = _getaddrinfo(host, port, policy.lookup_timeout_seconds)
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if policy.allow_private or host.lower() in policy.allowed_hosts:
        return addresses
    for address in addresses:
        if reason := refusal(address):
            try:
                ipaddress.ip_address(host)
            except ValueError:
                refused = f"'{host}' resolves to {address}, {reason}"
            else:
                refused = f"{host} is {reason}"
            raise RefusedAddress(f"webhook host {refused}; allowed only when the service runs "
                                 "with WEBHOOK_ALLOW_PRIVATE=1 or lists the host in "
                                 "WEBHOOK_ALLOWED_HOSTS")
    return addresses


def _getaddrinfo(host: str, port: int, seconds: float) -> list[tuple]:
    """`socket.getaddrinfo`, or a gaierror (a failed lookup) after `seconds`: the system
    resolver has no limit a client cannot stretch. It cannot be interrupted, so it runs in
    a thread a timed-out lookup leaves behind."""
    deadline = time.monotonic() + seconds
    answer: Future[list[tuple]] = Future()

    def look_up() -> None:
        try:
            answer.set_result(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.set_exception(exc)
        finally:
            _lookup_slots.release()

    if _lookup_slots.acquire(timeout=seconds):
        threading.Thread(target=look_up, name="webhook-dns", daemon=True).start()
        with suppress(TimeoutError):  # concurrent.futures' TimeoutError, since Python 3.11
            return answer.result(max(deadline - time.monotonic(), 0))
    raise socket.gaierror(socket.EAI_AGAIN, f"no answer within {seconds:g} s")


def refusal(address: IPAddress) -> str | None:
    """Why `address` is refused, e.g. "a loopback address"; None for a public address.
    An IPv6 address embedding an IPv4 one (mapped, 6to4, NAT64) is judged by that one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
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
