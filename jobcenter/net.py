"""Outbound HTTP to addresses that users supply (webhooks, fetched sources), without
letting them reach the job center's own network (SSRF).

The host name is resolved once, every address it resolves to is checked, and the
connection goes to the checked address (the original name is kept for the Host header
and TLS), so a DNS answer that changes between the check and the connection (rebinding)
cannot slip a private address through.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class AddressNotAllowed(Exception):
    """The URL resolves to a private, loopback, link-local or otherwise internal address."""


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int, *, allow_private: bool) -> str:
    """An IP address for ``host`` that is allowed; raises AddressNotAllowed or OSError."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise OSError(f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            if not _is_public(ipaddress.ip_address(address.split("%")[0])):
                raise AddressNotAllowed(
                    f"{host} resolves to {address}, a non-public address "
                    "(allowed only when the deployment says so)"
                )
    return addresses[0]


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

    def connect_checked(_address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        return socket.create_connection((address, port), *args, **kwargs)

    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    connection._create_connection = connect_checked  # type: ignore[attr-defined]
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
