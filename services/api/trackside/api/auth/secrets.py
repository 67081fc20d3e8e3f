"""bcrypt hashing of the secrets kept in the database."""
from __future__ import annotations

import base64
import secrets

import bcrypt



def hash_secret(secret: str, rounds: int) -> str:
    return bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds)).decode()


def check_secret(secret: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(secret.encode(), hashed.encode())
    except ValueError:  # a malformed stored hash never matches
        return False


def check_fixed_user_password(password: str, stored: str, pass_hashed: bool) -> bool:
    """Fixed users' ``pass_hashed`` passwords are base64 of a bcrypt hash, as the ClearML docs show."""
    if not pass_hashed:
        return secrets.compare_digest(password.encode(), stored.encode())
    try:
        hashed = base64.b64decode(stored, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    return check_secret(password, hashed)
