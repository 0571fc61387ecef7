"""The admin API's audit trail."""
import marshmallow as ma
from marshmallow import validate

from ....serialization.schemas import PageQuerySchema, UTCDateTimeField


class AuditEventSchema(ma.Schema):
    id = ma.fields.Integer()
    created_at = UTCDateTimeField()
    token_id = ma.fields.Integer(allow_none=True, metadata={"description": "The platform token that made it"})
    action = ma.fields.String(metadata={"example": "key.roll"})
    bot_id = ma.fields.Integer(allow_none=True, metadata={"example": 123})
    target = ma.fields.String(metadata={"example": "key:7"})
    before = ma.fields.Dict(allow_none=True, metadata={"description": "The record before the write; null: created"})
    after = ma.fields.Dict(allow_none=True, metadata={"description": "The record after the write"})


class AuditListSchema(ma.Schema):
    events = ma.fields.List(ma.fields.Nested(AuditEventSchema))
    total = ma.fields.Integer()


class AuditQuerySchema(PageQuerySchema):
    bot_id = ma.fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
