"""The SSRF guard for user-made webhook URLs.

A target is refused unless every address its host resolves to is public, because a user who can make the
server send requests could otherwise reach the server's own network (metadata services, databases, the
admin's services). ``services.webhooks.allow_private_targets`` lifts the address check (the scheme and host
checks stay). The webhooks worker checks again on the address it connects to (``resolve_checked``) and then
connects to exactly that address, so a DNS answer that changes between the check and the connection (DNS
rebinding) cannot slip through.

IPv4 addresses embedded in IPv6 ones (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64 ``64:ff9b::/96``)
are judged by the IPv4 address they carry. Numeric host spellings the resolver accepts (``2130706433``,
``0x7f.1``, ``0177.0.0.1``) are judged by what they resolve to.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class TargetRefused(ValueError):
    """The URL may not be a webhook target; the message names the problem."""


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise ``TargetRefused`` unless ``url`` is an http(s) URL with a host whose every address is public
    (or ``allow_private``)."""
    host, port = split_target(url)
    resolve_checked(host, port, allow_private=allow_private)


def split_target(url: str) -> tuple[str, int]:
    """``(host, port)`` of an http(s) URL, or ``TargetRefused``."""
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("url is empty")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"url is not valid: {exc}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise TargetRefused(f"url must be http or https, not {parts.scheme or 'a relative URL'!r}")
    if not parts.hostname:
        raise TargetRefused("url has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("url may not hold a user name or password (use a payload template or headers)")
    return parts.hostname, port or (443 if parts.scheme.lower() == "https" else 80)


def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """Every address ``host`` resolves to, each checked; the caller connects only to these."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"url host {host!r} does not resolve: {exc}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])  # drop an IPv6 zone
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused(f"url host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            problem = non_public_reason(address)
            if problem:
                raise TargetRefused(
                    f"url host {host!r} resolves to {address}, {problem}; private targets are refused "
                    "(services.webhooks.allow_private_targets)")
    return addresses


def non_public_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = non_public_reason(embedded)
            return f"which carries {embedded}, {reason}" if reason else None
    for attribute, reason in (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_site_local", "a site-local address"),
    ):
        if getattr(address, attribute, False):
            return reason
    if address in _UNIQUE_LOCAL:
        return "a unique-local (private) address"
    if address.is_private:
        return "a private address"
    if not address.is_global:  # e.g. 100.64.0.0/10 (carrier-grade NAT), documentation ranges
        return "not a public address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
