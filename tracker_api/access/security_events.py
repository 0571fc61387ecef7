"""Security events (SecurityEvent rows, also logged as JSON on `tracker_api.security`), and the address blocks that
a burst of invalid keys earns:

    invalid-key-burst     INVALID_KEY_BURST refused keys from one address within a minute; the address is
                          then blocked (429 with Retry-After) for ADDRESS_BLOCK_MINUTES, before any lookup
    wrong-bot             a valid key asked for another bot's data
    revoked-key           a revoked key was presented (it still gets the same 401 as any bad key)
    rate-limit-hammering  a key got RATE_LIMIT_HAMMERING 429s within ten minutes

Each kind is recorded at most once per SECURITY_EVENT_COOLDOWN_SECONDS per key (per block for bursts), so a
misbehaving client fills neither the table nor the log.
"""
import logging

from flask import current_app, g, request
from sqlalchemy import insert

from ..extensions import db
from ..models import SecurityEvent
from ..models.types import utcnow
from ..serialization.schemas import CONTROL_CHARACTERS
from ..web import problems
from ..web.errors import problem
from ..web.i18n import gettext
from ..web.proxy import client_address
from .authentication import API_KEY_HEADER, is_protected
from .caller import current_caller
from .key_cache import TOKEN_KEY
from .keys import cached_token
from .shared_store import shared_store

security_log = logging.getLogger("tracker_api.security")

PRESENTED_BAD_KEYS = ("malformed-key", "unknown-key", "revoked-key", "expired-key")  # a missing key is no guess
BURST_WINDOW_SECONDS = 60
HAMMERING_WINDOW_SECONDS = 600


# --- address blocks -------------------------------------------------------------------------------

def block_key(address):
    """The shared store's name of an address's block."""
    return f"blocked:{address}"


def read_block_and_token(caller):
    """The address's block and the key token (key_cache.py), in one round trip to the shared store."""
    caller.note_block_and_token(*shared_store().ttl_and_token(block_key(client_address()), TOKEN_KEY))


def _refuse_if_blocked(caller):
    if caller.blocked_for is None:
        return None
    caller.rate_window = None  # the block is the answer, not the budget (which no header then shows)
    return problem(problems.ADDRESS_BLOCKED, gettext(
        "Too many requests with invalid API keys came from this address: it is blocked for %(seconds)s more "
        "seconds.", seconds=caller.blocked_for), headers={"Retry-After": str(caller.blocked_for)})


def refuse_blocked_address():
    """Addresses blocked after a burst of invalid keys are refused before any key lookup: the first hook of an API
    request. The same round trip reads the key token that tells whether this worker's cached key lookups still hold.

    One exception saves a round trip on most requests: a key this worker has a cached lookup of (so no invented
    one: those are never cached) is used under the token it was cached with, and the rate limiter's hit, which
    counts in Redis anyway, reads the block and the shared token in the same round trip (rate_limits.py); the
    block is then refused by refuse_blocked_address_after_hit."""
    if not is_protected():
        return None
    caller = current_caller()
    if current_app.extensions["rate_limiter_reads_block"]:
        caller.tentative_token = cached_token(request.headers.get(API_KEY_HEADER, ""))
        if caller.tentative_token is not None:
            return None
    read_block_and_token(caller)
    return _refuse_if_blocked(caller)


def refuse_blocked_address_after_hit():
    """After the rate limiter, for a request whose block and token were left to its hit: read them here if the hit
    did not (Flask-Limiter counting in memory while Redis fails), and refuse a blocked address."""
    caller = current_caller()
    if caller.tentative_token is None:
        return None
    if not caller.block_read:
        read_block_and_token(caller)
    return _refuse_if_blocked(caller)


def unblock_address(address):
    """Lift an address's block now; True if it was blocked."""
    return shared_store().delete(block_key(address))


def _count_invalid_key(address):
    config = current_app.config
    store = shared_store()
    count = store.increment(f"bad-keys:{address}", BURST_WINDOW_SECONDS)
    minutes = config["ADDRESS_BLOCK_MINUTES"]
    if count >= config["INVALID_KEY_BURST"] and store.add(block_key(address), minutes * 60):
        record_security_event("invalid-key-burst", f"{count} requests with invalid API keys within a minute; "
                                                   f"address blocked for {minutes} minutes.")


# --- events ---------------------------------------------------------------------------------------

def _storable(text, length):
    """Text any database takes: a probing path may hold a NUL (%00), which PostgreSQL refuses."""
    return CONTROL_CHARACTERS.sub("?", text)[:length]


def record_security_event(kind, detail, *, key_id=None, bot_id=None):
    """Store an event (its own transaction, whatever state the request's session is in) and log it."""
    values = {"kind": kind, "client_address": _storable(client_address(), 64), "key_id": key_id, "bot_id": bot_id,
              "request_id": g.get("request_id"), "detail": _storable(detail, 500), "created_at": utcnow()}
    security_log.warning("security event", extra={"fields": {"event": "security", **values}})
    with db.engine.begin() as connection:
        connection.execute(insert(SecurityEvent).values(**values))


def _record_once(kind, subject, detail, **ids):
    if shared_store().add(f"event:{kind}:{subject}", current_app.config["SECURITY_EVENT_COOLDOWN_SECONDS"]):
        record_security_event(kind, detail, **ids)


def watch_for_suspicious_activity(response):
    caller = current_caller()
    check = caller.key_check
    where = f"{request.method} {request.path[:200]}"
    # The lookup's verdict, not the auth hook's: a bad key refused by the rate limiter first counts too.
    if check is not None and check.refusal in PRESENTED_BAD_KEYS:
        _count_invalid_key(client_address())
    if check is not None and check.refusal == "revoked-key":
        _record_once("revoked-key", f"key:{check.key_id}", f"Revoked key {check.key_id} was presented ({where}).",
                     key_id=check.key_id, bot_id=check.bot_id)
    elif caller.auth_refusal == "wrong-bot":
        wanted = (request.view_args or {}).get("bot_id")
        _record_once("wrong-bot", f"key:{check.key_id}",
                     f"Key {check.key_id} of bot {check.bot_id} asked for bot {wanted}'s data ({where}).",
                     key_id=check.key_id, bot_id=check.bot_id)
    window = caller.rate_window
    if window is not None and window.breached and check is not None and check.usable is not None:
        threshold = current_app.config["RATE_LIMIT_HAMMERING"]
        if shared_store().increment(f"breaches:{check.key_id}", HAMMERING_WINDOW_SECONDS) >= threshold:
            _record_once("rate-limit-hammering", f"key:{check.key_id}",
                         f"Key {check.key_id} was refused {threshold} or more times for exceeding its rate limit "
                         f"within {HAMMERING_WINDOW_SECONDS // 60} minutes.", key_id=check.key_id, bot_id=check.bot_id)


def list_security_events(kind=None, limit=100):
    """The most recent events first."""
    statement = db.select(SecurityEvent).order_by(SecurityEvent.id.desc()).limit(limit)
    if kind:
        statement = statement.where(SecurityEvent.kind == kind)
    return db.session.scalars(statement).all()
