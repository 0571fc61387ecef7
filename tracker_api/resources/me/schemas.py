"""The calling key, as /api/v1/me shows it."""
import marshmallow as ma

from ...access.scopes import SCOPES
from ...models import KEY_KINDS
from ...serialization.schemas import UTCDateTimeField


class MeSchema(ma.Schema):
    bot_id = ma.fields.Integer(metadata={"example": 123})
    key_id = ma.fields.Integer(metadata={"example": 7})
    prefix = ma.fields.String(metadata={"description": "The key's first characters, to tell keys apart",
                                        "example": "tb_3fQx9a"})
    name = ma.fields.String(metadata={"example": "website"})
    kind = ma.fields.String(metadata={"enum": list(KEY_KINDS), "example": "secret"})
    scopes = ma.fields.List(ma.fields.String(metadata={"enum": list(SCOPES)}), metadata={
        "description": "What the key may do: `read` (GET), `write` (create, update, import), `delete`, "
                       "`webhooks` (manage webhook endpoints). A key made without scopes holds all four.",
        "example": ["read", "write"]})
    rate_limit_per_minute = ma.fields.Integer(metadata={"example": 60})
    expires_at = UTCDateTimeField(allow_none=True, metadata={"description": "null: never expires"})
