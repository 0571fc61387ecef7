"""Usage per key: per UTC day, request counts by outcome plus the last use (time and address), kept in the shared
store (Redis) for USAGE_RETENTION_DAYS, each worker's sums written every SHARED_STORE_FLUSH_SECONDS. The database's
`last_used_at` is written at most once a minute per key, so `keys list` still shows it when Redis is gone."""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, update

from ..extensions import db
from ..models import ApiKey
from ..models.types import utcnow
from ..web.proxy import client_address
from .caller import current_caller
from .key_cache import key_lookup_cache
from .rate_limits import key_budget_per_minute
from .shared_store import shared_store

OUTCOMES = ("success", "client_error", "rate_limited", "server_error")
LAST_USED_RESOLUTION = timedelta(minutes=1)


def outcome_of(status):
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "client_error" if status >= 400 else "success"


def _usage_key(key_id, day):
    return f"usage:{key_id}:{day.isoformat()}"


def record_usage(response):
    """Count this request against its key, if it presented a usable one."""
    check = current_caller().key_check
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
