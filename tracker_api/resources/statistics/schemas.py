"""Statistics shapes: the overview is the product document's; tracking statistics add weights and costs."""
import marshmallow as ma

from ...models import STATUSES
from ...serialization.schemas import QuerySchema, TimeZoneName, money, weight


class OverviewSchema(ma.Schema):
    total_clients = ma.fields.Integer(metadata={"example": 150})
    total_tracking_numbers = ma.fields.Integer(metadata={"example": 500})
    pending = ma.fields.Integer(metadata={"example": 50})
    in_transit = ma.fields.Integer(metadata={"example": 200})
    delivered = ma.fields.Integer(metadata={"example": 200})
    issued = ma.fields.Integer(metadata={"example": 40})
    cancelled = ma.fields.Integer(metadata={"example": 10})


class StatusTotalsSchema(ma.Schema):
    count = ma.fields.Integer(metadata={"example": 50})
    total_weight_kg = weight(metadata={"example": 525.5})
    total_cost_usd = money(metadata={"example": 7509.65})


class DailyCountSchema(ma.Schema):
    date = ma.fields.Date(metadata={"example": "2025-01-27"})
    created = ma.fields.Integer(metadata={"example": 12})


class StatisticsQuerySchema(QuerySchema):
    tz = TimeZoneName(metadata={"example": "Asia/Almaty", "description":
                                "The IANA time zone whose days `created_per_day` counts; default: the bot's "
                                "`timezone` (GET /bots/{bot_id})."})


class TrackingStatisticsSchema(ma.Schema):
    total_tracking_numbers = ma.fields.Integer(metadata={"example": 500})
    total_weight_kg = weight(metadata={"example": 5250.0})
    total_cost_usd = money(metadata={"example": 75000.0})
    by_status = ma.fields.Dict(keys=ma.fields.String(metadata={"enum": list(STATUSES)}),
                               values=ma.fields.Nested(StatusTotalsSchema))
    created_per_day = ma.fields.List(ma.fields.Nested(DailyCountSchema), metadata={
        "description": "Tracking numbers created on each of the last 30 days (today included) of `timezone`, "
                       "oldest first, zeros included."})
    timezone = ma.fields.String(metadata={"example": "Asia/Almaty", "description":
                                          "The time zone of the days: `tz` if given, else the bot's."})
