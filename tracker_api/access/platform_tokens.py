"""Platform tokens: the bot platform's backend's credential for the admin API (/api/admin/v1), and its check.

A token is `tp_` + 32 base62 characters with the same checksum as API keys (keys.py), so a scanner or a person tells
it from a bot key at a glance and a mistyped one is refused without a lookup; only its HMAC is stored. The two
credentials never cross: the admin API reads only `Authorization: Bearer tp_...`, /api/v1 only `X-API-Key: tb_...`,
so a bot key on the admin API or a token on /api/v1 gets the uniform 401 of a missing credential.
Admin traffic is a few requests per button press, so a token is read from the database on every request: a
revocation needs no cache to take effect at once.
"""
import re
from datetime import timedelta

from flask import request
from sqlalchemy import or_, update

from ..extensions import db
from ..models import PlatformToken
from ..models.types import utcnow
from ..web import problems
from ..web.errors import problem
from ..web.i18n import gettext
from .caller import current_caller
from .keys import (
    CHECKSUM_LENGTH,
    DISPLAY_CHARACTERS,
    RANDOM_LENGTH,
    generate_secret,
    has_valid_checksum,
    hash_key,
    revoke,
)

TOKEN_PREFIX = "tp_"  # nosec B105: the public prefix every platform token starts with, not a secret
TOKEN_PATTERN = re.compile(rf"^{TOKEN_PREFIX}[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}$")
ADMIN_PREFIX = "/api/admin/v1"
LAST_USED_RESOLUTION = timedelta(minutes=1)
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "tp_ platform token",
                   "description": "A platform token, `tp_` followed by 32 letters and digits "
                                  "(`flask --app wsgi platform-tokens create`). Bot API keys are not accepted here."}


def issue_token(name):
    """Create a platform token; returns (PlatformToken, plain token). The plain token is never stored."""
    plain = generate_secret(TOKEN_PREFIX)
    token = PlatformToken(name=name, prefix=plain[:len(TOKEN_PREFIX) + DISPLAY_CHARACTERS], token_hash=hash_key(plain))
    db.session.add(token)
    db.session.commit()
    return token, plain


def revoke_token(token_id):
    return revoke(PlatformToken, token_id)


def find_usable_token(plain):
    """The PlatformToken of a presented string, or None (malformed, unknown or revoked: all alike to the caller)."""
    if not plain or not TOKEN_PATTERN.match(plain) or not has_valid_checksum(plain):
        return None
    token = db.session.execute(db.select(PlatformToken).filter_by(token_hash=hash_key(plain))).scalar_one_or_none()
    return token if token is not None and token.revoked_at is None else None


def presented_token():
    """The usable PlatformToken of this admin request's bearer token, or None, looked up at most once per request by
    whichever asks first: the rate limiter (whose per-token budget runs before authentication) or the auth hook."""
    caller = current_caller()
    if caller.platform_token_check is None:
        caller.platform_token_check = (find_usable_token(bearer_token()),)
    return caller.platform_token_check[0]


def is_admin_request():
    return request.path.startswith(ADMIN_PREFIX) and request.method != "OPTIONS"


def bearer_token():
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def authenticate_platform_request():
    """Every admin request needs a usable platform token; any other credential is the same 401."""
    if not is_admin_request():
        return None
    token = presented_token()
    if token is None:
        current_caller().auth_refusal = "invalid-platform-token"
        return problem(problems.INVALID_PLATFORM_TOKEN,
                       gettext("A valid platform token is required: Authorization: Bearer tp_..."),
                       headers={"WWW-Authenticate": "Bearer"})
    current_caller().platform_token_id = token.id
    _note_used(token)
    return None


def _note_used(token):
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        with db.engine.begin() as connection:  # its own transaction, apart from the request's writes
            connection.execute(update(PlatformToken).where(
                PlatformToken.id == token.id, or_(PlatformToken.last_used_at.is_(None),
                                                  PlatformToken.last_used_at < now - LAST_USED_RESOLUTION),
            ).values(last_used_at=now))


def current_platform_token_id():
    return current_caller().platform_token_id


def document_platform_authentication(admin_api):
    admin_api.spec.components.security_scheme("PlatformToken", SECURITY_SCHEME)
    admin_api.spec.options["security"] = [{"PlatformToken": []}]
