"""The web app's proof that it forwarded a sign-in, so the API believes the browser address it names.

The API believes ``X-Forwarded-For`` only from trusted proxies (``apiserver.auth.login_throttle.trusted_proxies``),
but in a container deployment the web app reaches the API from an address that is neither loopback nor fixed.
Instead of an address, the web app proves who it is: it signs the ``X-Forwarded-For`` value it sends, with the
time, under a key both derive from the secret they already share (``secure.auth.token_secret``; in compose both
read the same ``secure.conf``, on Kubernetes both get it from the ``trackside-secrets`` Secret). A request whose
proof checks out is treated as coming from a trusted proxy; a missing, forged or stale proof, or one made for
another X-Forwarded-For value, leaves the caller's own address in charge.

The key is derived with a label rather than being the token secret itself, so the proof never reveals anything
about the secret that signs tokens, and a token signature can never pass as a proof.
"""
from __future__ import annotations

import hashlib
import hmac

from pyhocon import ConfigTree

HEADER = "X-Trackside-Proxy-Proof"
_LABEL = b"trackside: web app forwarded-for proof v1"
# How far the proof's time may be from the API's clock: short, since the web app sends it at once; wide enough
# for clocks of two hosts that are roughly in step.
MAX_SKEW_SEC = 60


def proof_key(config: ConfigTree) -> bytes | None:
    """The signing key, or None when this configuration holds no token secret (no proofs are sent or believed)."""
    secret = config.get("secure.auth.token_secret", "") if config is not None else ""
    if not secret:
        return None
    return hmac.new(str(secret).encode(), _LABEL, hashlib.sha256).digest()


def sign(key: bytes, forwarded_for: str, now: float) -> str:
    """The header value vouching for ``forwarded_for`` (the exact X-Forwarded-For sent) at ``now``."""
    stamp = str(int(now))
    return f"{stamp}.{_mac(key, stamp, forwarded_for)}"


def verify(key: bytes | None, forwarded_for: str, proof: str, now: float) -> bool:
    """Whether ``proof`` was made with ``key`` for this very ``forwarded_for``, within :data:`MAX_SKEW_SEC`."""
    if not key or not proof or not forwarded_for:
        return False
    stamp, sep, mac = proof.strip().partition(".")
    if not sep or not stamp.isdigit() or len(stamp) > 12 or abs(now - int(stamp)) > MAX_SKEW_SEC:
        return False
    return hmac.compare_digest(mac.encode(), _mac(key, stamp, forwarded_for).encode())


def _mac(key: bytes, stamp: str, forwarded_for: str) -> str:
    return hmac.new(key, f"{stamp}\n{forwarded_for}".encode(), hashlib.sha256).hexdigest()
