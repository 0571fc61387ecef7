"""Bots as the platform manages them; a bot's usage, security events and webhook endpoints' health."""
import zoneinfo

import marshmallow as ma
from marshmallow import validate

from ....models import SECURITY_EVENT_KINDS, SUBSCRIPTION_STATUSES
from ....serialization.schemas import BodySchema, PageQuerySchema, QuerySchema, Text, UTCDateTimeField
from ....web.i18n import N_
from ...bots.schemas import KeyUsageSchema, UsageDaySchema
from ...bots.service import MAX_BOT_ID
from ...webhooks.schemas import WebhookSchema
from ..fields import JsonBoolean


def validate_timezone(name):
    if name not in zoneinfo.available_timezones():
        raise ma.ValidationError(N_("Not an IANA time zone name, e.g. Asia/Almaty or UTC."))


class AdminBotSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"example": 123})
    name = ma.fields.String(metadata={"example": "Demo Cargo"})
    username = ma.fields.String(metadata={"example": "@demo_cargo_bot"})
    is_active = ma.fields.Boolean(metadata={"example": True})
    subscription_status = ma.fields.String(metadata={"enum": list(SUBSCRIPTION_STATUSES), "example": "active"})
    timezone = ma.fields.String(metadata={"example": "Asia/Almaty"})
    is_sandbox = ma.fields.Boolean(metadata={"example": False})
    sandbox_of = ma.fields.Integer(allow_none=True, metadata={"description": "A sandbox's live bot; null otherwise"})
    created_at = UTCDateTimeField()


class BotListSchema(ma.Schema):
    bots = ma.fields.List(ma.fields.Nested(AdminBotSchema))
    total = ma.fields.Integer(metadata={"example": 1})


def _bot_fields(required):
    return {
        "name": Text(required=required, min_length=1, max_length=200, metadata={"example": "Demo Cargo"}),
        "username": Text(required=required, min_length=1, max_length=64, metadata={"example": "@demo_cargo_bot"}),
        "subscription_status": ma.fields.String(validate=validate.OneOf(SUBSCRIPTION_STATUSES),
                                                metadata={"example": "active"}),
        "timezone": ma.fields.String(validate=validate_timezone, metadata={"example": "Asia/Almaty"}),
    }


BotCreateSchema = BodySchema.from_dict({
    "id": ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_BOT_ID), metadata={
        "description": "The platform's own id for the bot; omitted: the next free one.", "example": 123}),
    **_bot_fields(True),
}, name="BotCreate")

class BotUpdateSchema(BodySchema.from_dict({
    **_bot_fields(False),
    "is_active": JsonBoolean(metadata={
        "description": "false: every key of the bot is refused from the next request on.", "example": True}),
}, name="BotUpdateFields")):
    @ma.validates_schema
    def require_a_change(self, data, **kwargs):
        if not data:
            raise ma.ValidationError(N_("Give at least one field to change, e.g. {\"is_active\": false}."))


class BotListQuerySchema(PageQuerySchema):
    is_active = ma.fields.Boolean(truthy={"true"}, falsy={"false"})
    subscription_status = ma.fields.String(validate=validate.OneOf(SUBSCRIPTION_STATUSES))


class BotUsageQuerySchema(QuerySchema):
    days = ma.fields.Integer(load_default=7, validate=validate.Range(min=1, max=30),
                             metadata={"description": "How many UTC days to report, today included (1 to 30)."})


class BotUsageSchema(ma.Schema):
    bot_id = ma.fields.Integer(metadata={"example": 123})
    last_used_at = UTCDateTimeField(allow_none=True, metadata={"description": "The last use of any of its keys"})
    days = ma.fields.List(ma.fields.Nested(UsageDaySchema), metadata={"description": "All keys, newest day first"})
    keys = ma.fields.List(ma.fields.Nested(KeyUsageSchema))


class SecurityEventQuerySchema(PageQuerySchema):
    kind = ma.fields.String(validate=validate.OneOf(SECURITY_EVENT_KINDS))
    since = ma.fields.AwareDateTime(format="iso", metadata={"description": "At or after this time (with offset)"})
    until = ma.fields.AwareDateTime(format="iso", metadata={"description": "Before this time (with offset)"})


class SecurityEventSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": list(SECURITY_EVENT_KINDS)})
    client_address = ma.fields.String(metadata={"example": "203.0.113.7"})
    key_id = ma.fields.Integer(allow_none=True)
    request_id = ma.fields.String(allow_none=True)
    detail = ma.fields.String()
    created_at = UTCDateTimeField()


class SecurityEventListSchema(ma.Schema):
    events = ma.fields.List(ma.fields.Nested(SecurityEventSchema))
    total = ma.fields.Integer()


class DeliveryCountsSchema(ma.Schema):
    pending = ma.fields.Integer()
    succeeded = ma.fields.Integer()
    failed = ma.fields.Integer()


class WebhookHealthSchema(WebhookSchema):
    deliveries = ma.fields.Nested(DeliveryCountsSchema, metadata={"description": "Deliveries by state"})
    last_delivered_at = UTCDateTimeField(allow_none=True)
    last_failure_at = UTCDateTimeField(allow_none=True)
    last_error = ma.fields.String(allow_none=True)


class WebhookHealthListSchema(ma.Schema):
    webhooks = ma.fields.List(ma.fields.Nested(WebhookHealthSchema))
