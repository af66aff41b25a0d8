"""Outbound HTTP to addresses that users supply (webhooks, fetched sources), without
letting them reach the job center's own network (SSRF).

This module is the one place that decides which addresses are off limits
(``address_allowed``); webhooks (jobs/webhooks.py, through ``request``) and downloads for
processors (processors/fetch.py, which adds redirects, streaming and size limits) both ask it.

The host name is resolved once, every address it resolves to is checked, and the
connection goes to the checked address (the original name is kept for the Host header
and TLS), so a DNS answer that changes between the check and the connection (rebinding)
cannot slip a private address through.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
"""The well-known NAT64 prefix: a gateway turns 64:ff9b::7f00:1 into 127.0.0.1."""


class AddressNotAllowed(Exception):
    """The URL resolves to a private, loopback, link-local or otherwise internal address."""


def address_allowed(address: str) -> bool:
    """True for globally routable unicast addresses: loopback, private (RFC 1918, ULA),
    link-local (incl. cloud metadata 169.254.169.254), CGNAT, multicast, reserved and
    unspecified addresses are refused. IPv6 forms that carry an IPv4 address (IPv4-mapped,
    6to4, NAT64) are judged by that IPv4 address, since that is where they lead."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return address_allowed(str(ip.ipv4_mapped))
        if ip.sixtofour is not None:
            return address_allowed(str(ip.sixtofour))
        if ip in _NAT64:
            return address_allowed(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    return ip.is_global and not ip.is_multicast


def resolve_all(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def resolve(host: str, port: int, *, allow_private: bool) -> str:
    """An IP address for ``host`` that is allowed; raises AddressNotAllowed or OSError."""
    addresses = resolve_all(host, port)
    if not addresses:
        raise OSError(f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            if not address_allowed(address):
                raise AddressNotAllowed(
                    f"{host} resolves to {address}, a non-public address "
                    "(allowed only when the deployment says so)"
                )
    return addresses[0]


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address chosen (and checked) beforehand, whatever the host name
    resolves to by now; the name still goes into the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connect(self._address, self.port, self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As PinnedHTTPConnection; the certificate is checked against the host name."""

    def __init__(
        self,
        host: str,
        port: int,
        address: str,
        timeout: float,
        context: ssl.SSLContext | None = None,
    ) -> None:
        context = context or ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._context = context

    def connect(self) -> None:
        sock = _connect(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _connect(address: str, port: int, timeout: float | None) -> socket.socket:
    """As http.client connects (Nagle off, so headers and body are not held back)."""
    sock = socket.create_connection((address, port), timeout)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def pinned_connection(
    scheme: str,
    host: str,
    port: int,
    address: str,
    timeout: float,
    context: ssl.SSLContext | None = None,
) -> http.client.HTTPConnection:
    if scheme == "https":
        return PinnedHTTPSConnection(host, port, address, timeout, context)
    return PinnedHTTPConnection(host, port, address, timeout)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    allow_private: bool = False,
    max_body_bytes: int = 1_000_000,
) -> Response:
    """One HTTP(S) request to a checked address; no redirects are followed (the caller
    decides, and must check the next URL the same way)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve(parts.hostname, port, allow_private=allow_private)
    connection = pinned_connection(parts.scheme, parts.hostname, port, address, timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        data = reply.read(max_body_bytes)
        return Response(reply.status, {k.lower(): v for k, v in reply.getheaders()}, data)
    finally:
        connection.close()
