"""The audit trail: one JSON log line per request, usage per key, and security events.

- Request log: logger `tracker_api.requests`, one JSON object per line on stdout, rejected requests
  included. It names the key by id, never the key itself, and never logs the query string (a key pasted
  into a URL must not land in the logs).
- Usage: per key and UTC day, request counts by outcome plus the last use (time and address), kept in the
  shared store (Redis) for USAGE_RETENTION_DAYS, each worker's sums written every SHARED_STORE_FLUSH_SECONDS;
  the database's `last_used_at` is written at most once a
  minute per key, so `keys list` still shows it when Redis is gone.
- Security events (SecurityEvent rows, also logged as JSON on `tracker_api.security`):
    invalid-key-burst     INVALID_KEY_BURST refused keys from one address within a minute; the address is
                          then blocked (429 with Retry-After) for ADDRESS_BLOCK_MINUTES, before any lookup
    wrong-bot             a valid key asked for another bot's data
    revoked-key           a revoked key was presented (it still gets the same 401 as any bad key)
    rate-limit-hammering  a key got RATE_LIMIT_HAMMERING 429s within ten minutes
  Each kind is recorded at most once per SECURITY_EVENT_COOLDOWN_SECONDS per key (per block for bursts),
  so a misbehaving client fills neither the table nor the log.
"""
import json
import logging
import os
import sys
import time
from datetime import datetime, timedelta, timezone

from flask import current_app, g, request
from sqlalchemy import insert, or_, update

from ..extensions import db
from ..models import ApiKey, SecurityEvent
from ..models.types import utcnow
from ..serialization.schemas import CONTROL_CHARACTERS
from ..web.errors import problem
from ..web.proxy import client_address
from .authentication import auth_refusal, is_protected
from .key_cache import TOKEN_KEY, key_lookup_cache
from .rate_limits import key_budget_per_minute, rate_limit_window
from .shared_store import shared_store

log = logging.getLogger(__name__)
request_log = logging.getLogger("tracker_api.requests")
security_log = logging.getLogger("tracker_api.security")

OUTCOMES = ("success", "client_error", "rate_limited", "server_error")
PRESENTED_BAD_KEYS = ("malformed-key", "unknown-key", "revoked-key", "expired-key")  # a missing key is no guess
LAST_USED_RESOLUTION = timedelta(minutes=1)
BURST_WINDOW_SECONDS = 60
HAMMERING_WINDOW_SECONDS = 600
MAX_LOGGED_LENGTH = 512


# --- the request log ------------------------------------------------------------------------------

class JsonLineFormatter(logging.Formatter):
    """A record's `fields` as one JSON object on one line (json.dumps escapes any newline in a value)."""

    def format(self, record):
        moment = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        fields = getattr(record, "fields", None) or {"message": record.getMessage()}
        return json.dumps({"time": moment.replace("+00:00", "Z"), "logger": record.name, **fields},
                          default=lambda value: value.isoformat() if hasattr(value, "isoformat") else str(value))


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (gunicorn's, a test's capture), flushing each line."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def _configure_json_logs():
    for logger in (request_log, security_log):
        if not any(isinstance(handler, StdoutHandler) for handler in logger.handlers):
            handler = StdoutHandler()
            handler.setFormatter(JsonLineFormatter())
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False  # one line per request, not one more per root handler


def _request_fields(response):
    check = g.get("key_check")
    elapsed = elapsed_seconds()
    return {
        "event": "request",
        "request_id": g.get("request_id"),
        "method": request.method,
        "path": request.path[:MAX_LOGGED_LENGTH],
        "status": response.status_code,
        "duration_ms": round(elapsed * 1000, 2) if elapsed is not None else None,
        "client_ip": client_address(),
        "user_agent": (request.headers.get("User-Agent") or "")[:MAX_LOGGED_LENGTH] or None,
        "key_id": check.key_id if check else None,
        "bot_id": check.bot_id if check and check.bot_id else (request.view_args or {}).get("bot_id"),
        "refusal": refusal(),
        "pid": os.getpid(),
    }


def elapsed_seconds():
    """Seconds since this request's first hook ran (None if it never did): the log's and the metrics' duration."""
    started = g.get("request_started")
    return time.perf_counter() - started if started else None


def refusal():
    """Why the request was turned away before its view ran, or None: the log's and the metrics' verdict."""
    if g.get("address_blocked"):
        return "address-blocked"
    window = rate_limit_window()
    if window is not None and window.breached:
        return "rate-limited"
    return auth_refusal()


# --- usage per key --------------------------------------------------------------------------------

def outcome_of(status):
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "client_error" if status >= 400 else "success"


def _usage_key(key_id, day):
    return f"usage:{key_id}:{day.isoformat()}"


def _record_usage(response):
    check = g.get("key_check")
    if check is None or check.usable is None:
        return
    now = utcnow()
    retention = current_app.config["USAGE_RETENTION_DAYS"] * 86400
    shared_store().update_hash(_usage_key(check.key_id, now.date()), {outcome_of(response.status_code): 1},
                               {"last_used_at": now.isoformat(), "last_used_address": client_address()},
                               retention)
    if check.last_used_at is None or now - check.last_used_at > LAST_USED_RESOLUTION:
        stale = now - LAST_USED_RESOLUTION
        key_lookup_cache().note_used(check.usable.key_hash, now)  # the next requests' cached lookups see it too
        # Its own short transaction: the request's session may have failed, and other workers may race here.
        with db.engine.begin() as connection:
            connection.execute(update(ApiKey).where(
                ApiKey.id == check.key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < stale),
            ).values(last_used_at=now))


def key_usage(api_key, days=7):
    """A key's usage: requests per UTC day by outcome (newest first), last use, and its rate limit."""
    today = utcnow().date()
    retention = max(days, current_app.config["USAGE_RETENTION_DAYS"])
    dates = [today - timedelta(days=offset) for offset in range(retention)]
    hashes = shared_store().hashes([_usage_key(api_key.id, day) for day in dates])
    last = next((fields for fields in hashes if fields.get("last_used_at")), {})
    last_used_at = datetime.fromisoformat(last["last_used_at"]) if last else None
    last_used_address = last.get("last_used_address")
    if api_key.last_used_at is not None and (last_used_at is None or api_key.last_used_at > last_used_at):
        # The store lost it (flushed, or counted in another process's memory): the database's minute.
        last_used_at, last_used_address = api_key.last_used_at, None
    series = []
    for day, fields in zip(dates[:days], hashes):
        counts = {outcome: int(fields.get(outcome, 0)) for outcome in OUTCOMES}
        series.append({"date": day, "total": sum(counts.values()), **counts})
    return {
        "key_id": api_key.id, "bot_id": api_key.bot_id, "name": api_key.name, "prefix": api_key.prefix,
        "rate_limit_per_minute": key_budget_per_minute(api_key),
        "last_used_at": last_used_at,
        "last_used_address": last_used_address,
        "days": series,
    }


def last_used(api_key):
    """(time, address) of a key's last use, as precise as the store still knows it."""
    usage = key_usage(api_key, days=1)
    return usage["last_used_at"], usage["last_used_address"]


# --- security events ------------------------------------------------------------------------------

def _block_key(address):
    return f"blocked:{address}"


def refuse_blocked_address():
    """Addresses blocked after a burst of invalid keys are refused before any key lookup. The same round trip to
    Redis reads the key token that tells whether this worker's cached key lookups still hold (key_cache.py)."""
    if not is_protected():
        return None
    blocked_for, g.key_cache_token = shared_store().ttl_and_token(_block_key(client_address()), TOKEN_KEY)
    if blocked_for is None:
        return None
    g.address_blocked = True
    return problem(429, f"Too many requests with invalid API keys came from this address: it is blocked for "
                        f"{blocked_for} more seconds.", type_="/problems/address-blocked",
                   headers={"Retry-After": str(blocked_for)})


def unblock_address(address):
    """Lift an address's block now; True if it was blocked."""
    return shared_store().delete(_block_key(address))


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


def _count_invalid_key(address):
    config = current_app.config
    store = shared_store()
    count = store.increment(f"bad-keys:{address}", BURST_WINDOW_SECONDS)
    minutes = config["ADDRESS_BLOCK_MINUTES"]
    if count >= config["INVALID_KEY_BURST"] and store.add(_block_key(address), minutes * 60):
        record_security_event("invalid-key-burst", f"{count} requests with invalid API keys within a minute; "
                                                   f"address blocked for {minutes} minutes.")


def _watch_for_suspicious_activity(response):
    check = g.get("key_check")
    where = f"{request.method} {request.path[:200]}"
    # The lookup's verdict, not the auth hook's: a bad key refused by the rate limiter first counts too.
    if check is not None and check.refusal in PRESENTED_BAD_KEYS:
        _count_invalid_key(client_address())
    if check is not None and check.refusal == "revoked-key":
        _record_once("revoked-key", f"key:{check.key_id}", f"Revoked key {check.key_id} was presented ({where}).",
                     key_id=check.key_id, bot_id=check.bot_id)
    elif auth_refusal() == "wrong-bot":
        wanted = (request.view_args or {}).get("bot_id")
        _record_once("wrong-bot", f"key:{check.key_id}",
                     f"Key {check.key_id} of bot {check.bot_id} asked for bot {wanted}'s data ({where}).",
                     key_id=check.key_id, bot_id=check.bot_id)
    window = rate_limit_window()
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


# --- the hooks ------------------------------------------------------------------------------------

def start_request():
    g.request_started = time.perf_counter()
    return refuse_blocked_address()


def finish_request(response):
    """Log first, so that a failing store or database can cost the bookkeeping but never the log line."""
    if request.path not in current_app.config["REQUEST_LOG_SKIP_PATHS"]:
        request_log.info("request", extra={"fields": _request_fields(response)})
    if not is_protected():
        return response
    if response.status_code >= 500:
        # Abandon the failed request's transaction now rather than at teardown, so that the audit's own
        # writes never wait on its locks (SQLite locks the whole database).
        db.session.rollback()
    for bookkeeping in (_record_usage, _watch_for_suspicious_activity):
        try:
            bookkeeping(response)
        except Exception:  # the client already has its answer; the failure is for the operator's log
            log.exception("audit %s failed for %s %s", bookkeeping.__name__, request.method, request.path)
    return response


def register_audit(app):
    _configure_json_logs()
    app.before_request(start_request)
    app.after_request(finish_request)
