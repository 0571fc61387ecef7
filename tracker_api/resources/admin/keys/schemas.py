"""A bot's API keys as the platform manages them; the plain key appears only in create and roll answers."""
import marshmallow as ma
from marshmallow import validate

from ....access.keys import MAX_ORIGINS
from ....access.scopes import SCOPES
from ....models import KEY_KINDS
from ....models.types import utcnow
from ....serialization.schemas import BodySchema, PageQuerySchema, QuerySchema, Text, UTCDateTimeField
from ....web.i18n import N_
from ..fields import JsonBoolean

MAX_GRACE_SECONDS = 7 * 24 * 3600
RATE_LIMIT = validate.Range(min=1, max=1_000_000)


def scopes_field(**kwargs):
    return ma.fields.List(ma.fields.String(validate=validate.OneOf(SCOPES)), validate=validate.Length(min=1),
                          allow_none=True, metadata={
                              "description": "read (GET), write (create, update, import), delete, webhooks (manage "
                                             "webhook endpoints). null or omitted: every right.",
                              "example": ["read", "write"]}, **kwargs)


def origins_field(**kwargs):
    return ma.fields.List(Text(max_length=300), validate=validate.Length(min=1, max=MAX_ORIGINS), metadata={
        "description": "Publishable keys only: the web origins allowed to use it.",
        "example": ["https://shop.example"]}, **kwargs)


class AdminKeySchema(ma.Schema):
    id = ma.fields.Integer(metadata={"example": 7})
    bot_id = ma.fields.Integer(metadata={"example": 123})
    name = ma.fields.String(metadata={"example": "website"})
    kind = ma.fields.String(metadata={"enum": list(KEY_KINDS), "example": "secret"})
    prefix = ma.fields.String(metadata={"example": "tb_3fQx9a"})
    scopes = ma.fields.List(ma.fields.String(), attribute="scope_names", allow_none=True,
                            metadata={"description": "null: every right"})
    origins = ma.fields.List(ma.fields.String())
    rate_limit_per_minute = ma.fields.Integer(allow_none=True, metadata={"description": "null: the default"})
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField(allow_none=True)
    revoked_at = UTCDateTimeField(allow_none=True)
    last_used_at = UTCDateTimeField(allow_none=True, metadata={"description": "To the minute"})


class IssuedKeySchema(AdminKeySchema):
    key = ma.fields.String(metadata={"description": "The plain key: shown once, here, and never again",
                                     "example": "tb_3fQx9aK2mLp8vW1nR5tY7uB4cE6dZ0h"})


class RolledKeySchema(ma.Schema):
    key = ma.fields.Nested(IssuedKeySchema, metadata={"description": "The new key, with its plain key"})
    previous = ma.fields.Nested(AdminKeySchema, metadata={
        "description": "The rolled key: usable until its expires_at (now + grace_period_seconds), then refused"})


class KeyListSchema(ma.Schema):
    keys = ma.fields.List(ma.fields.Nested(AdminKeySchema))
    total = ma.fields.Integer()


class KeyListQuerySchema(PageQuerySchema):
    include_revoked = ma.fields.Boolean(load_default=True, truthy={"true"}, falsy={"false"})


class KeyCreateSchema(BodySchema):
    name = Text(required=True, min_length=1, max_length=100, metadata={"example": "website"})
    scopes = scopes_field()
    expires_at = ma.fields.AwareDateTime(format="iso", allow_none=True, metadata={
        "description": "When it stops working (with offset); null: never"})
    rate_limit_per_minute = ma.fields.Integer(strict=True, validate=RATE_LIMIT, allow_none=True)
    publishable = JsonBoolean(load_default=False, metadata={
        "description": "A publishable key (tb_pk_...) for the tracking widget; needs origins"})
    origins = origins_field()

    @ma.validates("expires_at")
    def check_expiry(self, value, **kwargs):
        if value is not None and value <= utcnow():
            raise ma.ValidationError(N_("Give a time in the future, or null for a key that never expires."))

    @ma.validates_schema
    def check_publishable(self, data, **kwargs):
        if data.get("publishable") != bool(data.get("origins")):
            raise ma.ValidationError(N_("A publishable key needs origins, and origins need publishable: true."),
                                     "origins")


class KeyUpdateSchema(BodySchema):
    name = Text(min_length=1, max_length=100)
    scopes = scopes_field()
    rate_limit_per_minute = ma.fields.Integer(strict=True, validate=RATE_LIMIT, allow_none=True)
    origins = origins_field()

    @ma.validates_schema
    def require_a_change(self, data, **kwargs):
        if not data:
            raise ma.ValidationError(N_("Give at least one field to change, e.g. {\"scopes\": [\"read\"]}."))


class KeyRollSchema(BodySchema):
    grace_period_seconds = ma.fields.Integer(strict=True, load_default=0,
                                             validate=validate.Range(min=0, max=MAX_GRACE_SECONDS),
                                             metadata={"description": "How long the old key keeps working (at "
                                                                      "most 7 days); 0: refused at once",
                                                       "example": 86400})


class KeyUsageQuerySchema(QuerySchema):
    days = ma.fields.Integer(load_default=7, validate=validate.Range(min=1, max=30))
