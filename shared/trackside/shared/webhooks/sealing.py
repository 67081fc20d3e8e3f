"""Webhook secrets: generated in the Standard Webhooks form and encrypted at rest.

The key is derived (HKDF-SHA256) from ``secure.auth.token_secret``, so a copy of the database alone does not
reveal the secrets; AES-256-GCM authenticates the sealed value, so a wrong key or a changed value fails to
unseal instead of signing with garbage.
"""
from __future__ import annotations

import base64
import os
import secrets

SECRET_PREFIX = "whsec_"
_SEALED_PREFIX = "v1:"
_NONCE_BYTES = 12
_HKDF_INFO = b"trackside webhook secrets v1"


class SealError(ValueError):
    """A sealed secret could not be opened (another token_secret, or a damaged value)."""


def new_secret() -> str:
    """``whsec_`` and the base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def seal(secret: str, token_secret: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(token_secret)).encrypt(nonce, secret.encode("utf-8"), None)
    return _SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(sealed: str, token_secret: str) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not isinstance(sealed, str) or not sealed.startswith(_SEALED_PREFIX):
        raise SealError("not a sealed webhook secret")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(_SEALED_PREFIX):])
        return AESGCM(_key(token_secret)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None).decode("utf-8")
    except (InvalidTag, ValueError) as exc:
        raise SealError("the webhook secret does not open with this server's token_secret") from exc


def _key(token_secret: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if not token_secret:
        raise SealError("secure.auth.token_secret is empty")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        token_secret.encode("utf-8"))
