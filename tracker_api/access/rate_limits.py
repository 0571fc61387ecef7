"""Rate limits: one budget per API key for the whole API, one per client address for requests without a
valid key; the X-RateLimit-* and IETF RateLimit headers; the 429.

Flask-Limiter counts in the storage REDIS_URL names, so every worker and host shares the counters (without
REDIS_URL: in process memory, right for `make run`'s single worker only). Windows are fixed, one minute
long, and start with a caller's first request. Counters are keyed by the key's id (`key:42`) or the address
(`address:203.0.113.7`), never by the plain key. A key's budget is its `rate_limit_per_minute`, else
RATE_LIMIT_PER_MINUTE; requests without a valid key share RATE_LIMIT_PER_ADDRESS per address, so rotating
invented keys earns no fresh budget.

The tracking widget's public lookup (the view that takes publishable keys, authentication.py) spends budgets of its own
instead, two at once: its key's (`widget-key:7`, the key's `rate_limit_per_minute` else WIDGET_RATE_LIMIT_PER_KEY,
shared by every visitor of the company's site) and the visitor's address's (`widget-address:...`,
WIDGET_RATE_LIMIT_PER_ADDRESS, so that one visitor or scraper cannot spend the whole site's budget). The secret
keys' budgets never move for it, and it never moves theirs. The headers show the tighter of the two.

Outage policy (the same as shared_store.py's): short timeouts, no retries, and Flask-Limiter's in-memory
fallback — while Redis fails, each worker enforces the same budgets in its own memory (so N workers allow up
to N times a budget) and probes Redis again with a back-off; requests are never refused for want of Redis.
"""
import logging
import math
import time
from dataclasses import dataclass

from flask import current_app, request
from flask_limiter import ApplicationLimit, Limiter
from flask_limiter.errors import RateLimitExceeded
from limits import parse
from limits.storage import RedisClusterStorage, RedisStorage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter

from ..web import problems
from ..web.errors import ProblemSchema, problem
from ..web.i18n import gettext
from ..web.proxy import client_address
from .authentication import accepts_publishable_keys, is_protected, presented_key
from .caller import current_caller
from .key_cache import TOKEN_KEY
from .platform_tokens import is_admin_request, presented_token
from .security_events import block_key
from .shared_store import NAMESPACE, limiter_storage_options

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
STRATEGY = "counting-fixed-window"
# A counter's name starts with whose budget it is; the policy names go into the RateLimit-Policy header.
POLICIES = {"key": "per-key", "address": "per-address", "widget-key": "widget-per-key",
            "widget-address": "widget-per-address", "platform-token": "admin-per-token",
            "admin-address": "admin-per-address"}


@dataclass(frozen=True)
class Window:
    """This request's place in its budget: the hit's own count, not a re-read that other requests moved."""

    limit: int
    count: int
    reset_at: float  # Unix time the window ends
    policy: str  # one of POLICIES' values

    def is_tighter_than(self, other):
        """A breached window first, then the one with fewer requests left (the caller's real limit)."""
        return other is None or (not self.breached, self.remaining) < (not other.breached, other.remaining)

    @property
    def remaining(self):
        return max(0, self.limit - self.count)

    @property
    def breached(self):
        return self.count > self.limit

    @property
    def reset_in(self):
        return max(1, math.ceil(self.reset_at - time.time()))


# The limits library's own increment (incr_expire.lua), after reading the address's block and the shared key token,
# and only while the token is the one the presented key's lookup was cached under (KEYS: the counter, the block,
# the token; ARGV: expiry, amount, the cached lookup's token). Returns {count, or -1 when not counted; the block's
# TTL; the token}: one round trip where reading them first took two (security_events.refuse_blocked_address).
HIT_SCRIPT = """
local token = redis.call('get', KEYS[3])
local blocked = redis.call('ttl', KEYS[2])
if token ~= ARGV[3] then
    return {-1, blocked, token}
end
local amount = tonumber(ARGV[2])
local current = redis.call('incrby', KEYS[1], amount)
if current == amount then
    redis.call('expire', KEYS[1], ARGV[1])
end
return {current, blocked, token}
"""


def reads_block_and_token(storage):
    """Whether hits in this storage can read the block and the token too: one Redis (or Sentinel's primary), where a
    script may touch any key; not a cluster, whose keys live on different nodes, nor memory."""
    return isinstance(storage, RedisStorage) and not isinstance(storage, RedisClusterStorage)


class CountingFixedWindow(FixedWindowRateLimiter):
    """Flask-Limiter's fixed window, remembering the counter value this request's hit produced.

    Flask-Limiter's own headers re-read the counter after the hit, so under concurrency `Remaining` shows
    other requests' hits too (two responses saying 41, none saying 42); the value INCR returned is exact.
    A window's end never moves, so each process asks the storage for it once per window, not per request.

    In Redis, a request whose key lookup came from this worker's cache reads its address's block and the shared key
    token with the hit (HIT_SCRIPT). If the token moved since the lookup was cached, nothing is counted: the key is
    looked up afresh, and the budget it now has (another key's, the address's) is spent.
    """

    FORGET_AFTER = 10_000  # remembered window ends before the expired ones are dropped

    def __init__(self, storage):
        super().__init__(storage)
        self._window_ends = {}  # storage key -> Unix time its current window ends
        self._reads_block_and_token = reads_block_and_token(storage)
        if self._reads_block_and_token:
            self._hit_script = storage.get_connection().register_script(HIT_SCRIPT)

    def hit(self, item, *identifiers, cost=1):
        caller = current_caller()
        count = None
        if self._reads_block_and_token and caller.tentative_token is not None and not caller.block_read:
            count = self._hit_with_block_and_token(item, identifiers, cost, caller)
            if count is None:  # the token moved: the key is looked up again, and may spend another budget
                item, identifiers = recounted(item, identifiers)
        key = item.key_for(*identifiers)
        if count is None:
            count = self.storage.incr(key, item.get_expiry(), amount=cost)
        now = time.time()
        reset_at = self._window_ends.get(key, 0.0)
        if count == cost:  # this hit opened the window, and its expiry with it
            reset_at = now + item.get_expiry()
        elif reset_at <= now:  # opened by another worker, or by this one in an earlier window
            reset_at = self.storage.get_expiry(key)
        if len(self._window_ends) > self.FORGET_AFTER:
            self._window_ends = {name: end for name, end in self._window_ends.items() if end > now}
        self._window_ends[key] = reset_at
        window = Window(item.amount, count, reset_at, POLICIES[str(identifiers[0]).split(":", 1)[0]])
        if window.is_tighter_than(caller.rate_window):
            caller.rate_window = window
        return count <= item.amount

    def _hit_with_block_and_token(self, item, identifiers, cost, caller):
        """The hit, reading the block and the token into the Caller; None when not counted (the token moved)."""
        keys = [self.storage.prefixed_key(item.key_for(*identifiers)), NAMESPACE + block_key(client_address()),
                NAMESPACE + TOKEN_KEY]
        count, blocked, token = self._hit_script(
            keys=keys, args=[item.get_expiry(), cost, caller.tentative_token], client=self.storage.get_connection())
        caller.note_block_and_token(None if blocked < 0 else max(1, blocked), token.decode() if token else None)
        return count if count >= 0 else None


def recounted(item, identifiers):
    """The limit and identifiers of a hit, worked out again from the key's fresh lookup: the budget it spends
    may now be another (a revoked key's requests spend their address's; a key's new limit applies at once)."""
    whose = str(identifiers[0]).split(":", 1)[0]
    if whose in ("key", "address"):
        identity, budget = rate_limit_identity(), rate_limit_budget()
    elif whose == "widget-key":
        identity, budget = widget_key_identity(), widget_key_budget()
    else:  # the visitor's address: the key plays no part
        return item, identifiers
    return parse(budget), (identity, *identifiers[1:])


STRATEGIES.setdefault(STRATEGY, CountingFixedWindow)  # the registry Flask-Limiter picks strategies from


def key_budget_per_minute(api_key):
    """A key's requests per minute: its own, else the default of its kind (secret keys' or the widget's)."""
    default = "WIDGET_RATE_LIMIT_PER_KEY" if api_key.is_publishable else "RATE_LIMIT_PER_MINUTE"
    return api_key.rate_limit_per_minute or current_app.config[default]


def rate_limit_identity():
    """Whose budget this request spends: the key's (by id) or, without a valid key, the address's."""
    api_key = presented_key().usable
    return f"key:{api_key.id}" if api_key is not None else f"address:{client_address()}"


def rate_limit_budget():
    """This request's budget as a Flask-Limiter limit string, read per request (keys can change theirs)."""
    api_key = presented_key().usable
    config = current_app.config
    if api_key is None:
        return f"{config['RATE_LIMIT_PER_ADDRESS']}/minute"
    return f"{key_budget_per_minute(api_key)}/minute"


# Flask-Limiter reads every limit's budget before it asks whether the limit applies: these two must answer for a
# request without a usable key too (the limit is then exempt, see application_limits).
def widget_key_identity():
    api_key = presented_key().usable
    return f"widget-key:{api_key.id if api_key is not None else 'none'}"


def widget_key_budget():
    api_key = presented_key().usable
    per_minute = key_budget_per_minute(api_key) if api_key is not None else current_app.config[
        "WIDGET_RATE_LIMIT_PER_KEY"]
    return f"{per_minute}/minute"


def widget_address_identity():
    return f"widget-address:{client_address()}"


def widget_address_budget():
    return f"{current_app.config['WIDGET_RATE_LIMIT_PER_ADDRESS']}/minute"


def admin_identity():
    """The admin API's budgets: the platform token's (by id), or without a usable one the address's."""
    token = presented_token()
    return f"platform-token:{token.id}" if token is not None else f"admin-address:{client_address()}"


def admin_budget():
    config = current_app.config
    per_minute = config["ADMIN_RATE_LIMIT_PER_MINUTE"] if presented_token() is not None else config[
        "RATE_LIMIT_PER_ADDRESS"]
    return f"{per_minute}/minute"


def application_limits():
    """The API's budget everywhere but on the widget's lookup; there, the widget's two (see the module's doc)."""
    def not_widget():
        return not accepts_publishable_keys()

    def not_widget_or_no_key():
        return not_widget() or presented_key().usable is None

    def public_api_but_widget():
        return is_admin_request() or accepts_publishable_keys()

    return [ApplicationLimit(limit_provider=rate_limit_budget, exempt_when=public_api_but_widget),
            ApplicationLimit(limit_provider=widget_key_budget, key_function=widget_key_identity,
                             scope="widget-key", exempt_when=not_widget_or_no_key),
            ApplicationLimit(limit_provider=widget_address_budget, key_function=widget_address_identity,
                             scope="widget-address", exempt_when=not_widget),
            ApplicationLimit(limit_provider=admin_budget, key_function=admin_identity, scope="admin",
                             exempt_when=lambda: not is_admin_request())]


def identify_caller():
    """Look the key up before Flask-Limiter's hook asks whose budget to spend: a database error then
    surfaces here as the 503 it is, instead of inside the limiter, which would take it for a Redis outage."""
    if is_protected() or is_admin_request():
        presented_key() if is_protected() else presented_token()
        if not current_app.config.get("REDIS_URL") and not current_app.extensions.get("rate_limit_notice"):
            current_app.extensions["rate_limit_notice"] = True
            log.warning("REDIS_URL is not set: rate limits, usage and address blocks are counted in this "
                        "process's memory, not shared between workers. Set REDIS_URL for production.")


def add_rate_limit_headers(response):
    window = current_caller().rate_window  # None when not counted (docs, health, blocked before counting)
    if window is not None:
        response.headers["X-RateLimit-Limit"] = str(window.limit)
        response.headers["X-RateLimit-Remaining"] = str(window.remaining)
        response.headers["X-RateLimit-Reset"] = str(math.ceil(window.reset_at))
        # draft-ietf-httpapi-ratelimit-headers: the same numbers, the reset as seconds from now
        response.headers["RateLimit-Policy"] = f'"{window.policy}";q={window.limit};w={WINDOW_SECONDS}'
        response.headers["RateLimit"] = f'"{window.policy}";r={window.remaining};t={window.reset_in}'
    return response


def refuse_over_budget(error):
    """The 429 for a spent budget, as problem+json, saying whose budget and when to come back."""
    window = current_caller().rate_window
    retry_in = window.reset_in if window is not None else WINDOW_SECONDS
    policy = window.policy if window is not None else None
    if policy == "per-key":
        detail = gettext("This API key's budget of %(limit)s requests per minute is spent; retry in %(seconds)s s.",
                         limit=window.limit, seconds=retry_in)
    elif policy == "widget-per-key":
        detail = gettext("This site's tracking widget has used its %(limit)s lookups per minute; retry in "
                         "%(seconds)s s.", limit=window.limit, seconds=retry_in)
    elif policy == "widget-per-address":
        detail = gettext("Too many parcel lookups from your address (%(limit)s per minute); retry in %(seconds)s s.",
                         limit=window.limit, seconds=retry_in)
    elif policy == "admin-per-token":
        detail = gettext("This platform token's budget of %(limit)s requests per minute is spent; retry in "
                         "%(seconds)s s.", limit=window.limit, seconds=retry_in)
    elif policy == "admin-per-address":
        detail = gettext("Requests without a valid platform token are limited to %(limit)s per minute per address; "
                         "retry in %(seconds)s s.", limit=window.limit, seconds=retry_in)
    else:
        limit = window.limit if window is not None else current_app.config["RATE_LIMIT_PER_ADDRESS"]
        detail = gettext("Requests without a valid API key are limited to %(limit)s per minute per address; retry "
                         "in %(seconds)s s.", limit=limit, seconds=retry_in)
    return problem(problems.RATE_LIMITED, detail, headers={"Retry-After": str(retry_in)})


def build_limiter(app):
    redis_url = app.config.get("REDIS_URL")
    limiter = Limiter(
        key_func=rate_limit_identity,
        application_limits=application_limits(),  # budgets across every route, not one per route
        strategy=STRATEGY,
        storage_uri=redis_url or "memory://",
        storage_options=limiter_storage_options(redis_url, app.config) if redis_url else {},
        in_memory_fallback_enabled=bool(redis_url),
        swallow_errors=True,  # a limiter failure past the fallback lets the request through, logged
        headers_enabled=False,  # add_rate_limit_headers writes exact ones
        # Count unrouted API paths too, or probing /api/v1/<anything> would be free.
        request_identifier=lambda: request.endpoint or "unrouted",
    )
    limiter.request_filter(lambda: not (is_protected() or is_admin_request()))
    return limiter


RATE_LIMITED_RESPONSE = {
    "description": "Too Many Requests: the key's (or, without a valid key, the address's) budget is spent.",
    "content": {"application/problem+json": {"schema": ProblemSchema}},
    "headers": {
        "Retry-After": {"description": "Seconds until the budget is renewed.", "schema": {"type": "integer"}},
        "X-RateLimit-Limit": {"description": "Requests allowed per minute.", "schema": {"type": "integer"}},
        "X-RateLimit-Remaining": {"description": "Requests left in the current minute (every limited "
                                                 "response carries these headers).", "schema": {"type": "integer"}},
        "X-RateLimit-Reset": {"description": "Unix time (seconds) when the current window ends.",
                              "schema": {"type": "integer"}},
    },
}


def install_rate_limiter(app, api, admin_api):
    """Flask-Limiter, counting in its own before_request hook (access/__init__.py puts it before authentication,
    so that a 401 still spends the address's budget), the headers, and the 429."""
    for name in ("RATE_LIMIT_PER_MINUTE", "RATE_LIMIT_PER_ADDRESS", "WIDGET_RATE_LIMIT_PER_KEY",
                 "WIDGET_RATE_LIMIT_PER_ADDRESS", "ADMIN_RATE_LIMIT_PER_MINUTE"):
        if app.config[name] < 1:
            raise RuntimeError(f"{name} must be at least 1, not {app.config[name]}")
    limiter = build_limiter(app)
    limiter.init_app(app)
    app.extensions["rate_limiter"] = limiter
    app.extensions["rate_limiter_reads_block"] = reads_block_and_token(limiter.storage)
    app.after_request(add_rate_limit_headers)
    app.register_error_handler(RateLimitExceeded, refuse_over_budget)
    for document in (api, admin_api):
        document.spec.components.response("RATE_LIMITED", RATE_LIMITED_RESPONSE, lazy=True)
