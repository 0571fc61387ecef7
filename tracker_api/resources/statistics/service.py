"""Statistics of one bot: counts, weights and costs by status, and recent activity, read from its totals
(tracker_api/writes/totals.py), never by counting its rows."""
from datetime import timedelta
from decimal import Decimal

from ...extensions import db
from ...models import STATUSES, Bot
from ...models.types import utcnow
from ...serialization.timezones import time_zone
from ...writes import totals

ACTIVITY_DAYS = 30


def _every_status(stored):
    """The stored totals by status, with zeros for the statuses the bot has no parcel in."""
    return {status: dict(zip(("count", "total_weight_kg", "total_cost_usd"),
                             stored.get(status, (0, Decimal(0), Decimal(0)))))
            for status in STATUSES}


def overview(bot_id):
    stored, clients = totals.status_and_client_totals(bot_id)
    by_status = _every_status(stored)
    return {"total_clients": clients,
            "total_tracking_numbers": sum(row["count"] for row in by_status.values()),
            **{status: row["count"] for status, row in by_status.items()}}


def _created_per_day(bot_id, zone):
    """The last ACTIVITY_DAYS days of `zone`, today there included, with the parcels created on each."""
    today = utcnow().astimezone(zone).date()
    days = [today - timedelta(days=offset) for offset in range(ACTIVITY_DAYS - 1, -1, -1)]
    counts = totals.created_per_day(bot_id, days, zone)
    return [{"date": day, "created": count} for day, count in zip(days, counts)]


def tracking_statistics(bot_id, tz=None):
    """The totals by status, and parcels created per day of `tz` (a checked IANA name; default: the bot's)."""
    tz = tz or db.session.scalar(db.select(Bot.timezone).where(Bot.id == bot_id))
    by_status = _every_status(totals.status_totals(bot_id))
    return {"total_tracking_numbers": sum(row["count"] for row in by_status.values()),
            "total_weight_kg": sum(row["total_weight_kg"] for row in by_status.values()),
            "total_cost_usd": sum(row["total_cost_usd"] for row in by_status.values()),
            "by_status": by_status,
            "created_per_day": _created_per_day(bot_id, time_zone(tz)),
            "timezone": tz}
