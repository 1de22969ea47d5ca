"""Password hashing, tokens and CSRF: the small pieces of cryptography the server's login rests on.

Passwords are hashed with argon2id (argon2-cffi's defaults follow RFC 9106's recommendations). Session
cookies and bearer tokens are 256-bit random strings; only their SHA-256 digests are stored, so a stolen
database yields no usable session. CSRF tokens are per-session random strings compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from openlfr.errors import OpenLFRError

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash of a random password, verified against when the user does not exist, so a login for an
    unknown user costs the same time as one for a known user (no user enumeration by timing). Made on first
    use, not at import: a hash costs every process that imports this module (each CLI command) start-up
    time, and most never verify a password."""
    return _hasher.hash(secrets.token_urlsafe(16))


def warm_up() -> None:
    """Make the dummy hash now: a server calls this at start, so the first login for an unknown user costs
    no more than any later one."""
    _dummy_hash()


MIN_PASSWORD_LENGTH = 12


class WeakPasswordError(OpenLFRError, ValueError):
    """The password does not meet the minimum standard."""


def check_password_strength(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if username and username.lower() in password.lower():
        raise WeakPasswordError("password must not contain the username")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; with ``password_hash=None`` spends the same time and returns False."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> str:
    """A fresh 256-bit random token, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens (False if either is missing)."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


def sign_body(secret: str, body: bytes, timestamp: str) -> str:
    """HMAC-SHA256 of ``timestamp.body`` (the webhook signature), as ``sha256=<hex>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()
