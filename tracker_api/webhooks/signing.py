"""Webhook signatures, Stripe's scheme: `X-Tracker-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`.

During a secret rotation's grace period the header carries one v1= per valid secret (new first), so a receiver
that still knows only the old secret keeps verifying while it switches. The secrets are stored encrypted
(models/encryption.py); reencrypt_secrets moves them to the newest key.
"""
import hashlib
import hmac
import secrets

import sqlalchemy as sa

from ..models.encryption import reencrypt
from ..models.types import UTCDateTime

SECRET_PREFIX = "whsec_"  # nosec B105: the public prefix every secret shows, not a secret


def new_secret():
    """A signing secret: shown to the bot once, stored encrypted (not hashed) because every delivery is signed
    with it."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret, timestamp, body):
    """The hex HMAC-SHA256 of `<timestamp>.<body>` (body as bytes) with `secret`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(signing_secrets, timestamp, body):
    """The X-Tracker-Signature value: the time, then one v1= per secret."""
    return ",".join([f"t={timestamp}"] + [f"v1={signature(secret, timestamp, body)}" for secret in signing_secrets])


def signing_secrets(endpoint, now):
    """The secrets that sign now: the current one, and the previous one until its grace period ends."""
    valid = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        valid.append(endpoint.previous_secret)
    return valid


# The stored form of the secrets (Fernet tokens, models/types.EncryptedText), read and written as they are.
STORED_SECRETS = sa.table("webhook_endpoints", sa.column("id"), sa.column("secret"), sa.column("previous_secret"),
                          sa.column("previous_secret_expires_at", UTCDateTime()))


def reencrypt_secrets(session, now):
    """Encrypt every endpoint's secrets again with the newest WEBHOOK_SECRET_KEYS key (after a key was put in
    front), so that the older keys can be dropped; returns how many endpoints were rewritten. A previous secret
    whose grace period is over signs nothing any more: it is dropped, not re-encrypted. A row whose secrets
    changed meanwhile (rotated over the API) is left as it is: it is already under the newest key."""
    rewritten = 0
    for endpoint_id, secret, previous, expires_at in session.execute(sa.select(STORED_SECRETS)).all():
        unchanged = (STORED_SECRETS.c.id == endpoint_id, STORED_SECRETS.c.secret == secret,
                     STORED_SECRETS.c.previous_secret.is_(None) if previous is None
                     else STORED_SECRETS.c.previous_secret == previous)
        still_signs = previous is not None and expires_at is not None and expires_at > now
        result = session.execute(sa.update(STORED_SECRETS).where(*unchanged).values(
            secret=reencrypt(secret), previous_secret=reencrypt(previous) if still_signs else None))
        rewritten += result.rowcount
    session.commit()
    return rewritten
