"""Client shapes: the client as returned, and the bodies that create, replace, patch and upsert one."""
import marshmallow as ma
from marshmallow import validate

from ...serialization.schemas import BodySchema, FeedQuerySchema, Text, UTCDateTimeField, feed_fields
from ...web.i18n import N_, gettext
from ..paths import MAX_ID
from ..tracking.schemas import client_code_field

PHONE_PATTERN = r"^\+?[0-9 ()-]{5,31}$"
# Telegram's rule for usernames is 5-32 of [A-Za-z0-9_]; the "@" people copy from the app is not part of it.
TELEGRAM_USERNAME_PATTERN = r"^[A-Za-z0-9_]{5,32}$"
TELEGRAM_USERNAME_INPUT = r"^@?[A-Za-z0-9_]{5,32}$"  # what the API accepts, and documents


class ClientSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"example": 7})
    client_code = ma.fields.String(metadata={"example": "CLIENT123"})
    name = ma.fields.String(allow_none=True, metadata={"example": "Алия Нурланова"})
    phone = ma.fields.String(allow_none=True, metadata={"example": "+77011234567"})
    telegram_username = ma.fields.String(allow_none=True, metadata={"example": "aliya_n"})
    telegram_id = ma.fields.Integer(allow_none=True, metadata={"example": 512345678})
    created_at = UTCDateTimeField(metadata={"example": "2025-01-20T08:30:00+00:00"})
    updated_at = UTCDateTimeField(metadata={"example": "2025-01-27T10:00:00+00:00"})


ClientListSchema = ma.Schema.from_dict({
    "clients": ma.fields.List(ma.fields.Nested(ClientSchema)),
    "total": ma.fields.Integer(metadata={"example": 1}),
    **feed_fields("client_code"),
}, name="ClientList")


class ClientListQuerySchema(FeedQuerySchema):
    feed_kind = "client"


class TelegramUsername(Text):
    """A Telegram username, stored without the "@" people paste along with it: `@aliya_n` is kept as `aliya_n`,
    so a lookup or a comparison never depends on how the CRM happened to spell it."""

    def __init__(self, **kwargs):
        super().__init__(max_length=33, validate=[validate.Regexp(
            TELEGRAM_USERNAME_PATTERN, error=N_("Use 5-32 letters, digits or _ (a leading @ is allowed)."))],
            metadata={"example": "aliya_n", "pattern": TELEGRAM_USERNAME_INPUT,
                      "description": "5-32 letters, digits or _; a leading @ is accepted and dropped."}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return text.removeprefix("@")


class ClientContactSchema(BodySchema):
    """The contact fields: the body of PUT .../by-code/{client_code}, where those left out become null."""

    name = Text(max_length=200, min_length=1, allow_none=True, metadata={"example": "Алия Нурланова"})
    phone = Text(max_length=32, allow_none=True, validate=[validate.Regexp(
        PHONE_PATTERN, error=N_("Use digits, spaces, ( ) and -, after an optional +: 5 to 32 characters."))],
        metadata={"example": "+77011234567"})
    telegram_username = TelegramUsername(allow_none=True)
    telegram_id = ma.fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=MAX_ID),
                                    metadata={"example": 512345678})


class ClientCreateSchema(ClientContactSchema):
    """A whole client: the body of a create (POST) and of a replace (PUT), where fields left out become null."""

    client_code = client_code_field(required=True)


class ClientUpdateSchema(ClientContactSchema):
    """Some of a client's fields (PATCH): those left out keep their values."""

    client_code = client_code_field()

    @ma.validates_schema
    def require_a_change(self, data, **kwargs):
        if not data:
            raise ma.ValidationError(gettext("Give at least one field to change, e.g. {\"phone\": \"+77011234567\"}."))
