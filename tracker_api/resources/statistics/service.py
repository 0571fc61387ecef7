"""Statistics of one bot: counts, weights and costs by status, and recent activity, read from its totals
(tracker_api/writes/totals.py), never by counting its rows."""
from datetime import timedelta
from decimal import Decimal

from ...models import STATUSES
from ...models.types import utcnow
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


def _created_per_day(bot_id):
    today = utcnow().date()
    days = [today - timedelta(days=offset) for offset in range(ACTIVITY_DAYS - 1, -1, -1)]
    counts = totals.created_per_day(bot_id, days[0], today)
    return [{"date": day, "created": counts.get(day, 0)} for day in days]


def tracking_statistics(bot_id):
    by_status = _every_status(totals.status_totals(bot_id))
    return {"total_tracking_numbers": sum(row["count"] for row in by_status.values()),
            "total_weight_kg": sum(row["total_weight_kg"] for row in by_status.values()),
            "total_cost_usd": sum(row["total_cost_usd"] for row in by_status.values()),
            "by_status": by_status,
            "created_per_day": _created_per_day(bot_id)}
