"""Who is calling and how much they may do: API keys (keys.py) and their per-worker cache (key_cache.py),
authentication and bot scoping (authentication.py), rate limits (rate_limits.py), address blocks and security
events (security_events.py), usage per key (usage.py), the counters every worker shares (shared_store.py), and the
request's Caller (caller.py) where all of them keep what they found; the platform's tokens for the admin API
(platform_tokens.py) and its audit trail (admin_audit.py); key scopes (scopes.py)."""
import logging
import time

from flask import request

from .authentication import authenticate_request, document_authentication, is_protected
from .caller import current_caller
from .key_cache import register_key_cache
from .platform_tokens import authenticate_platform_request, document_platform_authentication
from .rate_limits import identify_caller, install_rate_limiter
from .security_events import refuse_blocked_address, refuse_blocked_address_after_hit, watch_for_suspicious_activity
from .shared_store import register_shared_store
from .usage import record_usage

log = logging.getLogger(__name__)


def start_clock():
    current_caller().started = time.perf_counter()


def record_access(response):
    """Usage and suspicious activity, once the client's answer is ready: a failure costs the bookkeeping only."""
    if not is_protected():
        return response
    for bookkeeping in (record_usage, watch_for_suspicious_activity):
        try:
            bookkeeping(response)
        except Exception:  # the client already has its answer; the failure is for the operator's log
            log.exception("%s failed for %s %s", bookkeeping.__name__, request.method, request.path)
    return response


def register_access(app, api, admin_api):
    """Install the access checks in the order they must run.

    Before the view: the clock starts; a blocked address is refused before any key lookup (the same Redis round trip
    reads the key cache's token); the presented key is looked up, once; Flask-Limiter spends the key's or the
    address's budget (before authentication, so that refused keys spend their address's budget too); then
    authentication and bot scoping. A key this worker has cached skips the first round trip: the limiter's hit reads
    the block and the token, and the block is refused right after it. After the view (Flask runs after-request hooks
    last-registered first): the rate-limit headers, then usage and security events.
    """
    register_shared_store(app)
    register_key_cache(app)
    app.before_request(start_clock)
    app.before_request(refuse_blocked_address)
    app.before_request(identify_caller)
    app.after_request(record_access)
    install_rate_limiter(app, api, admin_api)  # its before_request counts, its after_request writes the headers
    app.before_request(refuse_blocked_address_after_hit)  # when the hit read the block (a key cached in this worker)
    app.before_request(authenticate_request)
    app.before_request(authenticate_platform_request)  # /api/admin/v1 only: platform tokens, never bot keys
    document_authentication(api)
    document_platform_authentication(admin_api)
