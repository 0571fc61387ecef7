"""How a request is authenticated: X-API-Key -> ApiKey -> bot, then bot scoping.

Runs before every request under the versioned API prefix, after URL matching (so the path's `bot_id`
is known) and before any view touches tenant data. Every bad key gets the same 401, so a caller
cannot tell an unknown key from a revoked or expired one.
"""
from datetime import timedelta

from flask import g, request

from .errors import problem
from .extensions import db
from .keys import find_usable_key
from .models import ApiKey
from .models.types import utcnow

PROTECTED_PREFIX = "/api/v"
API_KEY_HEADER = "X-API-Key"
LAST_USED_RESOLUTION = timedelta(minutes=1)
SECURITY_SCHEME = {"type": "apiKey", "in": "header", "name": API_KEY_HEADER,
                   "description": "Your bot's API key, `tb_` followed by 32 letters and digits."}


def _unauthorized(detail):
    return problem(401, detail, type_="/problems/invalid-api-key",
                   headers={"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'})


def authenticate_request():
    if not request.path.startswith(PROTECTED_PREFIX) or request.method == "OPTIONS":
        return None
    if "api_key" in request.args or API_KEY_HEADER in request.args:
        return _unauthorized("API keys are accepted only in the X-API-Key header, never in the URL.")
    api_key = find_usable_key(request.headers.get(API_KEY_HEADER, ""))
    if api_key is None:
        return _unauthorized("A valid API key is required in the X-API-Key header.")
    if not api_key.bot.is_active:
        return problem(403, "This bot is inactive; its API keys cannot be used.", type_="/problems/bot-inactive")
    path_bot_id = (request.view_args or {}).get("bot_id")
    if path_bot_id is not None and path_bot_id != api_key.bot_id:
        return problem(403, "This API key belongs to another bot.", type_="/problems/wrong-bot")
    g.api_key = api_key
    _record_last_use(api_key)
    return None


def _record_last_use(api_key):
    """At most one write per key per minute: enough to answer 'is this key still in use?'."""
    now = utcnow()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        db.session.execute(db.update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now))
        db.session.commit()


def current_key_id():
    api_key = g.get("api_key")
    return api_key.id if api_key is not None else None


def register_auth(app, api):
    app.before_request(authenticate_request)
    api.spec.components.security_scheme("ApiKeyAuth", SECURITY_SCHEME)
