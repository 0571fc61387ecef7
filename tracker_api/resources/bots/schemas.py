"""Bot shape, as the product document gives it; the calling key's usage."""
import marshmallow as ma
from marshmallow import validate

from ...models import SUBSCRIPTION_STATUSES
from ...serialization.schemas import QuerySchema, UTCDateTimeField


class BotSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"example": 123})
    name = ma.fields.String(metadata={"example": "Название компании"})
    username = ma.fields.String(metadata={"example": "@company_bot"})
    is_active = ma.fields.Boolean(metadata={"example": True})
    subscription_status = ma.fields.String(metadata={"enum": list(SUBSCRIPTION_STATUSES), "example": "active"})
    timezone = ma.fields.String(metadata={"example": "Asia/Almaty", "description":
                                          "The company's IANA time zone: the days of its statistics."})
    is_sandbox = ma.fields.Boolean(metadata={
        "description": "A sandbox bot: demo data to develop against, linked to a live bot. Swap the bot id and key "
                       "for the live ones when the integration is ready.", "example": False})


class UsageQuerySchema(QuerySchema):
    days = ma.fields.Integer(load_default=7, validate=validate.Range(min=1, max=30),
                             metadata={"description": "How many UTC days to report, today included (1 to 30)."})


class UsageDaySchema(ma.Schema):
    date = ma.fields.Date(metadata={"example": "2025-01-27"})
    total = ma.fields.Integer(metadata={"example": 1250})
    success = ma.fields.Integer(metadata={"description": "2xx and 3xx responses", "example": 1190})
    client_error = ma.fields.Integer(metadata={"description": "4xx responses other than 429", "example": 48})
    rate_limited = ma.fields.Integer(metadata={"description": "429 responses: the rate limit was spent",
                                               "example": 12})
    server_error = ma.fields.Integer(metadata={"description": "5xx responses", "example": 0})


class KeyUsageSchema(ma.Schema):
    key_id = ma.fields.Integer(metadata={"example": 7})
    bot_id = ma.fields.Integer(metadata={"example": 123})
    name = ma.fields.String(metadata={"example": "website"})
    prefix = ma.fields.String(metadata={"description": "The key's first characters, to tell keys apart",
                                        "example": "tb_3fQx9a"})
    rate_limit_per_minute = ma.fields.Integer(metadata={"example": 60})
    last_used_at = UTCDateTimeField(allow_none=True, metadata={"description": "Before this request"})
    last_used_address = ma.fields.String(allow_none=True, metadata={"example": "203.0.113.7"})
    days = ma.fields.List(ma.fields.Nested(UsageDaySchema), metadata={"description": "Newest day first"})
