"""CORS for the widget's lookup, and for nothing else in the API: who may call it from which web page.

- A publishable key works only from its own origins: the browser's `Origin` must be one the operator listed for
  the key. Any other origin (or none) is a 403 problem without `Access-Control-Allow-Origin`, so the foreign
  page can read nothing, and the request still spent the widget's budgets.
- A secret key is refused (403) when a browser sends it (an `Origin` header): a secret key in a web page is a
  leaked key, and saying so beats letting it work. From a server (no `Origin`) it may read what the widget shows.
- A pre-flight (OPTIONS) carries no key, so it is answered by the bot's keys: allowed if a usable publishable key
  of the path's bot lists the origin; the real request is then checked against its own key.

Hand-written rather than flask-cors: the allowed origins are per key and read from the database per request,
which flask-cors (a static list per resource) would need a custom origin callback for anyway; what is left is
the few header lines below, and the refusals as problem+json like every other error.
"""
from flask import current_app, g, request

from ...access.authentication import API_KEY_HEADER, presented_key, refuse
from ...access.caller import current_caller
from ...web import problems
from ...web.errors import problem
from ...web.i18n import gettext
from .service import bot_allows_origin

PREFLIGHT_MAX_AGE_SECONDS = 600
EXPOSED_HEADERS = "ETag, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-ID"
# If-None-Match: the widget's live updates ask whether the parcel changed since the ETag it shows.
ALLOWED_HEADERS = f"{API_KEY_HEADER}, If-None-Match"


def request_origin():
    return request.headers.get("Origin")


def key_allows_origin():
    """Whether this request's valid key is a publishable one that lists the request's origin."""
    check = current_caller().key_check  # None when the key was never looked up (a pre-flight)
    api_key = check.usable if check is not None else None
    return api_key is not None and api_key.is_publishable and request_origin() in api_key.origins


def refuse_origin():
    return refuse("origin-not-allowed", problem(problems.ORIGIN_NOT_ALLOWED, gettext(
        "This web page's origin may not use this tracking widget key; the operator lists the origins a publishable "
        "key works from.")))


def answer_preflight():
    origin = request_origin()
    if not origin or not bot_allows_origin(request.view_args["bot_id"], origin):
        return refuse_origin()
    g.cors_origin = origin
    response = current_app.response_class(status=204, mimetype=None)
    response.headers.update({"Access-Control-Allow-Methods": "GET",
                             "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                             "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS)})
    return response


def check_origin():
    """The widget blueprint's before_request: runs after authentication, so the key is known and usable."""
    if request.method == "OPTIONS":
        return answer_preflight()
    api_key = presented_key().usable
    if not api_key.is_publishable:
        if request_origin() is None:
            return None
        return refuse("secret-key-in-browser", problem(problems.SECRET_KEY_IN_BROWSER, gettext(
            "A secret API key must never be used in a web page; the tracking widget takes a publishable key "
            "(tb_pk_...).")))
    if not key_allows_origin():
        return refuse_origin()
    g.cors_origin = request_origin()
    return None


def add_cors_headers(response):
    """The widget blueprint's after_request: the allowed origin on every answer to it (its 404s and 429s too,
    so the page can show them), `Vary: Origin` always, so that no cache hands one origin's answer to another."""
    response.vary.add("Origin")
    origin = g.get("cors_origin") or (request_origin() if key_allows_origin() else None)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def register_cors(blp):
    blp.before_request(check_origin)
    blp.after_request(add_cors_headers)
