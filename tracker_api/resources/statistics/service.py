"""Statistics of one bot: counts, weights and costs by status, and recent activity."""
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func

from ...extensions import db
from ...models import STATUSES, Client, TrackingNumber
from ...models.types import utcnow

ACTIVITY_DAYS = 30


def _status_totals(bot_id):
    rows = db.session.execute(
        db.select(TrackingNumber.status, func.count(), func.sum(TrackingNumber.weight_kg),
                  func.sum(TrackingNumber.total_cost_usd))
        .where(TrackingNumber.bot_id == bot_id).group_by(TrackingNumber.status))
    totals = {status: {"count": 0, "total_weight_kg": Decimal(0), "total_cost_usd": Decimal(0)}
              for status in STATUSES}
    for status, count, weight_kg, cost_usd in rows:
        totals[status] = {"count": count, "total_weight_kg": Decimal(weight_kg or 0),
                          "total_cost_usd": Decimal(cost_usd or 0)}
    return totals


def overview(bot_id):
    totals = _status_totals(bot_id)
    total_clients = db.session.scalar(db.select(func.count()).select_from(Client).where(Client.bot_id == bot_id))
    return {"total_clients": total_clients,
            "total_tracking_numbers": sum(row["count"] for row in totals.values()),
            **{status: row["count"] for status, row in totals.items()}}


def _created_per_day(bot_id):
    today = utcnow().date()
    first_day = today - timedelta(days=ACTIVITY_DAYS - 1)
    day = func.date(TrackingNumber.created_at)
    rows = db.session.execute(
        db.select(day, func.count()).where(TrackingNumber.bot_id == bot_id,
                                           TrackingNumber.created_at >= utcnow() - timedelta(days=ACTIVITY_DAYS))
        .group_by(day))
    counts = {str(row_day): count for row_day, count in rows}
    days = (first_day + timedelta(days=offset) for offset in range(ACTIVITY_DAYS))
    return [{"date": d, "created": counts.get(d.isoformat(), 0)} for d in days]


def tracking_statistics(bot_id):
    totals = _status_totals(bot_id)
    return {"total_tracking_numbers": sum(row["count"] for row in totals.values()),
            "total_weight_kg": sum(row["total_weight_kg"] for row in totals.values()),
            "total_cost_usd": sum(row["total_cost_usd"] for row in totals.values()),
            "by_status": totals,
            "created_per_day": _created_per_day(bot_id)}
