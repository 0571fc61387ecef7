"""Webhook signatures, Stripe's scheme: `X-Tracker-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`.

During a secret rotation's grace period the header carries one v1= per valid secret (new first), so a receiver
that still knows only the old secret keeps verifying while it switches.
"""
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret():
    """A signing secret: shown to the bot once, kept readable because every delivery is signed with it."""
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
