"""Bot shape, as the product document gives it."""
import marshmallow as ma

from ...models import SUBSCRIPTION_STATUSES


class BotSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"example": 123})
    name = ma.fields.String(metadata={"example": "Название компании"})
    username = ma.fields.String(metadata={"example": "@company_bot"})
    is_active = ma.fields.Boolean(metadata={"example": True})
    subscription_status = ma.fields.String(metadata={"enum": list(SUBSCRIPTION_STATUSES), "example": "active"})
