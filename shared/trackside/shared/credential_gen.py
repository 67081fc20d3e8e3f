"""Generating access keys and secrets that survive being pasted on a command line.

A URL-safe secret may begin with ``-``, and then ``--secret-key -abc`` reads as a flag to every argparse
CLI (ours, ``clearml-agent``'s). Generated secrets therefore always start with a letter or digit.
"""
from __future__ import annotations

import secrets
import string

_KEY_ALPHABET = string.ascii_uppercase + string.digits


def new_access_key(length: int = 30) -> str:
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(length))


def new_secret_key(nbytes: int = 48) -> str:
    while True:
        secret = secrets.token_urlsafe(nbytes)
        if secret[0].isalnum():
            return secret
