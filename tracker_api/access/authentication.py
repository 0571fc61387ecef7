"""How a request is authenticated: X-API-Key -> ApiKey -> bot, then bot scoping.

The key is looked up once per request, by whichever asks first: the rate limiter (whose hook runs before
this one, so that refused requests still count against their address's budget) or the auth hook. The auth
hook runs after URL matching (so the path's `bot_id` is known) and before any view touches tenant data.
Every bad key gets the same 401, so a caller cannot tell an unknown key from a revoked or expired one; the
reason is kept on the Caller (caller.py) for the audit trail.

Publishable keys (`tb_pk_...`, the tracking widget's) are refused with a 403 everywhere but on views that say
they take them (`accepts_publishable_keys = True` on the MethodView): the view opts in, so a route added later
is closed to them by default. Where such keys may be used from (origins, CORS) is the widget's own business:
resources/widget/cors.py.

A key with scopes (scopes.py) is refused with a 403 naming the scope an operation needs, here, before the view
touches anything.
"""
from flask import current_app, request

from ..web import problems
from ..web.errors import problem
from ..web.i18n import gettext
from .caller import current_caller
from .keys import KeyCheck, check_key
from .scopes import SCOPE_DESCRIPTIONS, allows, required_scope

PROTECTED_PREFIX = "/api/v"
API_KEY_HEADER = "X-API-Key"
SECURITY_SCHEME = {"type": "apiKey", "in": "header", "name": API_KEY_HEADER,
                   "description": "Your bot's API key, `tb_` followed by 32 letters and digits."}


def is_protected():
    """API requests need a key; docs, health checks and CORS pre-flight requests do not."""
    return request.path.startswith(PROTECTED_PREFIX) and request.method != "OPTIONS"


def presented_key():
    """The KeyCheck of this request's X-API-Key, looked up at most once per request: under the key token read with
    the address's block (key_cache.py), or, until the rate limiter's hit has read it, under the one this worker
    cached the key's lookup with (security_events.refuse_blocked_address)."""
    caller = current_caller()
    if caller.key_check is None:
        if "api_key" in request.args or API_KEY_HEADER in request.args:
            caller.key_check = KeyCheck(None, "key-in-url")
        else:
            token = caller.cache_token if caller.block_read else caller.tentative_token
            caller.key_check = check_key(request.headers.get(API_KEY_HEADER, ""), token)
    return caller.key_check


def accepts_publishable_keys():
    """Whether this request's view opted in to publishable keys (the widget's public lookup only)."""
    view = current_app.view_functions.get(request.endpoint)
    return bool(getattr(getattr(view, "view_class", None), "accepts_publishable_keys", False))


def refuse(reason, response):
    """Answer with `response`, noting why for the audit trail (Caller.refusal)."""
    current_caller().auth_refusal = reason
    return response


def _unauthorized(detail):
    return problem(problems.INVALID_API_KEY, detail,
                   headers={"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'})


def authenticate_request():
    if not is_protected():
        return None
    check = presented_key()
    if check.usable is None:
        if check.refusal == "key-in-url":
            return refuse(check.refusal, _unauthorized(
                gettext("API keys are accepted only in the X-API-Key header, never in the URL.")))
        return refuse(check.refusal, _unauthorized(gettext("A valid API key is required in the X-API-Key header.")))
    api_key = check.usable
    if not api_key.bot_is_active:
        return refuse("bot-inactive", problem(problems.BOT_INACTIVE,
                                              gettext("This bot is inactive; its API keys cannot be used.")))
    # An unrouted path is left to its 404 (or 405), which tells a publishable key nothing either way.
    if api_key.is_publishable and request.url_rule is not None and not accepts_publishable_keys():
        return refuse("publishable-key", problem(problems.PUBLISHABLE_KEY, gettext(
            "A publishable key (tb_pk_...) can only look up a parcel through the tracking widget; use a secret key "
            "from your server for this endpoint.")))
    path_bot_id = (request.view_args or {}).get("bot_id")
    if path_bot_id is not None and path_bot_id != api_key.bot_id:
        return refuse("wrong-bot", problem(problems.WRONG_BOT, gettext("This API key belongs to another bot.")))
    if request.url_rule is not None:
        scope = required_scope(request.method, request.blueprint)
        if not allows(api_key.scopes, scope):
            return refuse("insufficient-scope", problem(
                problems.INSUFFICIENT_SCOPE,
                gettext("This API key lacks the '%(scope)s' scope (%(meaning)s) that this operation needs; its "
                        "scopes: %(scopes)s.", scope=scope, meaning=SCOPE_DESCRIPTIONS[scope],
                        scopes=", ".join(api_key.scopes)),
                required_scope=scope))
    current_caller().key = api_key
    return None


def current_key():
    """The authenticated KeyRecord of this request (views under the API prefix always have one)."""
    return current_caller().key


def current_key_id():
    api_key = current_caller().key
    return api_key.id if api_key is not None else None


def document_authentication(api):
    api.spec.components.security_scheme("ApiKeyAuth", SECURITY_SCHEME)
    # Every operation in the document is under the API prefix and needs the key; without this requirement
    # Swagger UI's Authorize accepts a key but never sends it.
    api.spec.options["security"] = [{"ApiKeyAuth": []}]


def document_required_scope(doc, method, blueprint):
    """`x-required-scope` on an operation: the scope a key needs for it (absent where every key may call it). The
    security requirement's own scope list stays empty: OpenAPI 3.0 reserves it for OAuth2 and OpenID schemes."""
    scope = required_scope(method, blueprint)
    if scope is not None:
        doc["x-required-scope"] = scope
    return doc
