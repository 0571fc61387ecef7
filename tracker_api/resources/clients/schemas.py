"""Client shapes."""
import marshmallow as ma

from ...schemas import UTCDateTimeField


class ClientSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"example": 7})
    client_code = ma.fields.String(metadata={"example": "CLIENT123"})
    name = ma.fields.String(allow_none=True, metadata={"example": "Алия Нурланова"})
    phone = ma.fields.String(allow_none=True, metadata={"example": "+77011234567"})
    telegram_username = ma.fields.String(allow_none=True, metadata={"example": "aliya_n"})
    telegram_id = ma.fields.Integer(allow_none=True, metadata={"example": 512345678})
    created_at = UTCDateTimeField(metadata={"example": "2025-01-20T08:30:00+00:00"})
    updated_at = UTCDateTimeField(metadata={"example": "2025-01-27T10:00:00+00:00"})


class ClientListSchema(ma.Schema):
    clients = ma.fields.List(ma.fields.Nested(ClientSchema))
    total = ma.fields.Integer(metadata={"example": 1})
