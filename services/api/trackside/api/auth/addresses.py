"""The address a sign-in attempt comes from, for the throttle.

Forwarding headers are believed only from trusted proxies (``apiserver.auth.login_throttle.trusted_proxies``,
addresses or networks): anyone else could name any address in them, dodging the per-address limit or charging
failures to somebody else's address. ``X-Forwarded-For`` is read from the right (the hop the trusted proxy
added) to the first address that is not itself a trusted proxy; ``X-Real-Ip`` is used when there is no
``X-Forwarded-For``. The web app is believed wherever it runs, by the proof it signs
(``trackside.shared.proxy_proof``).
"""
from __future__ import annotations

import ipaddress
from typing import Iterable

from trackside.shared.config import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAX_LEN = 64  # a hop that is not an address is kept as text, cut short


def trusted_networks(values: Iterable[str]) -> list[Network]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise ConfigError(f"apiserver.auth.login_throttle.trusted_proxies: not an address or network: "
                              f"{value!r}") from None
    return networks


def client_address(peer: str, forwarded_for: str, real_ip: str, trusted: list[Network]) -> str:
    if not _is_trusted(peer, trusted):
        return _normalized(peer)
    return proxied_client_address(peer, forwarded_for, real_ip, trusted)


def proxied_client_address(peer: str, forwarded_for: str, real_ip: str, trusted: list[Network]) -> str:
    """The caller's address when ``peer`` is known to be a trusted proxy (by its address, or by the web app's
    proof, ``trackside.shared.proxy_proof``)."""
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if not hops:
        return _normalized(real_ip.strip() or peer)
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return _normalized(hop)
    return _normalized(hops[0])


def _is_trusted(address: str, trusted: list[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def _normalized(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return address.strip()[:_MAX_LEN] or "unknown"
