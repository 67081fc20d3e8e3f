"""The Standard Webhooks ``webhook-signature`` header: ``v1,<base64 HMAC-SHA256>`` over
``"{msg_id}.{timestamp}.{body}"``, keyed with the secret's base64-decoded bytes (after ``whsec_``); one
signature per secret, space-separated, so a receiver still holding the previous secret verifies during a
rotation."""
from __future__ import annotations

import base64
import hashlib
import hmac

from trackside.shared.webhooks.sealing import SECRET_PREFIX


def secret_key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(raw)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{int(timestamp)}.".encode("utf-8") + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    if not secrets:
        raise ValueError("no secret to sign with")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)
