"""Secrets the server must read back (webhook signing secrets) kept encrypted at rest, so that a copy of the
database (a dump, a backup, a replica) does not hand them out.

Fernet (cryptography: AES-128-CBC with an HMAC-SHA256, authenticated) with the keys of WEBHOOK_SECRET_KEYS, newest
first, through MultiFernet: the newest key encrypts, every listed key decrypts, so an operator rotates by putting
a new key in front, running `flask --app wsgi webhooks reencrypt-secrets`, then dropping the old key.
"""
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app


def secret_box():
    """The MultiFernet of this app's WEBHOOK_SECRET_KEYS."""
    return _box(tuple(current_app.config["WEBHOOK_SECRET_KEYS"]))


@lru_cache(maxsize=8)
def _box(keys):
    if not keys:
        raise RuntimeError("WEBHOOK_SECRET_KEYS is empty: set at least one Fernet key")
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plain):
    """A Fernet token (text) of `plain`, under the newest key."""
    return secret_box().encrypt(plain.encode()).decode("ascii")


def decrypt(token):
    """The text a token holds; cryptography's InvalidToken if none of the keys made it (or it was altered)."""
    return secret_box().decrypt(token.encode("ascii")).decode()


def reencrypt(token):
    """The same text under the newest key (its original timestamp kept)."""
    return secret_box().rotate(token.encode("ascii")).decode("ascii")
