"""Tracking number shapes, as the product document gives them."""
import marshmallow as ma
from marshmallow import validate

from ...models import STATUS_SOURCES, STATUSES
from ...serialization.schemas import BodySchema, FeedQuerySchema, Text, UTCDateTimeField, feed_fields, money, weight
from ...web.i18n import N_, gettext

TRACKING_NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"
CLIENT_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
STATUS_CHOICE = validate.OneOf(STATUSES, error="Must be one of: {choices}.")


def tracking_number_field(**kwargs):
    return Text(max_length=64, min_length=1, validate=[validate.Regexp(
        TRACKING_NUMBER_PATTERN, error=N_("Use letters, digits and . _ / - only, starting with a letter or digit."))],
        metadata={"example": "ABC123456"}, **kwargs)


def client_code_field(metadata=None, **kwargs):
    return Text(max_length=64, min_length=1, validate=[validate.Regexp(
        CLIENT_CODE_PATTERN, error=N_("Use letters, digits and . _ - only, starting with a letter or digit."))],
        metadata={"example": "CLIENT123", **(metadata or {})}, **kwargs)


class TrackingNumberSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"example": 1})
    tracking_number = ma.fields.String(metadata={"example": "ABC123456"})
    client_code = ma.fields.String(metadata={"example": "CLIENT123"})
    current_status = ma.fields.String(metadata={"enum": list(STATUSES), "example": "pending"})
    quantity = ma.fields.Integer(metadata={"example": 5})
    weight_kg = weight(allow_none=True, metadata={"example": 10.5})
    price_per_kg_usd = money(allow_none=True, metadata={"example": 14.29})
    total_cost_usd = money(allow_none=True, metadata={"example": 150.00})
    note = ma.fields.String(allow_none=True, metadata={"example": "Хрупкое"})
    created_at = UTCDateTimeField(metadata={"example": "2025-01-27T10:00:00+00:00"})
    updated_at = UTCDateTimeField(metadata={"example": "2025-01-27T10:00:00+00:00"})


TrackingListSchema = ma.Schema.from_dict({
    "tracking_numbers": ma.fields.List(ma.fields.Nested(TrackingNumberSchema)),
    "total": ma.fields.Integer(metadata={"example": 1, "description": "All matching tracking numbers."}),
    **feed_fields("tracking_number"),
}, name="TrackingList")


class StatusChangeSchema(ma.Schema):
    status = ma.fields.String(metadata={"enum": list(STATUSES), "example": "in_transit"})
    previous_status = ma.fields.String(allow_none=True, metadata={
        "enum": list(STATUSES), "example": "pending", "description": "null for the status it was created with."})
    source = ma.fields.String(metadata={
        "enum": list(STATUS_SOURCES), "example": "api",
        "description": "What set it: api (an API key), bot (the Telegram bot), import, demo (sample data)."})
    api_key_id = ma.fields.Integer(allow_none=True, metadata={
        "example": 1, "description": "The bot's API key that set it, when it was set over the API."})
    changed_at = UTCDateTimeField(attribute="created_at", metadata={"example": "2025-01-27T10:00:00+00:00"})


class TrackingHistorySchema(ma.Schema):
    tracking_id = ma.fields.Integer(metadata={"example": 1})
    tracking_number = ma.fields.String(metadata={"example": "ABC123456"})
    current_status = ma.fields.String(metadata={"enum": list(STATUSES), "example": "in_transit"})
    history = ma.fields.List(ma.fields.Nested(StatusChangeSchema), metadata={
        "description": "Every status the parcel has taken, oldest first; the last is its current status."})


class TrackingListQuerySchema(FeedQuerySchema):
    feed_kind = "tracking"
    list_only_filters = ("status_filter",)
    feed_client_filter = "client_code"

    status_filter = ma.fields.String(validate=STATUS_CHOICE, metadata={"enum": list(STATUSES)})
    client_code = client_code_field(metadata={
        "description": "Only this client's parcels. With updated_since or cursor: this "
        "client's change feed, where a parcel deleted or moved to another client is in `deleted`."})


class ClientCodePathSchema(ma.Schema):
    """The client code in /by-client/{client_code}: checked like the field, so odd bytes never reach SQL."""

    client_code = client_code_field(required=True)


class TrackingNumberPathSchema(ma.Schema):
    """The tracking number in /by-number/{tracking_number} (percent-encoded where needed, e.g. `/` as %2F):
    checked like the field, so odd bytes never reach SQL."""

    tracking_number = tracking_number_field(required=True)


class TrackingFieldsSchema(BodySchema):
    """The writable fields; shared by create (some required) and update (all optional)."""

    tracking_number = tracking_number_field()
    client_code = client_code_field()
    status = ma.fields.String(validate=STATUS_CHOICE, metadata={"enum": list(STATUSES), "example": "in_transit"})
    quantity = ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=1_000_000),
                                 metadata={"example": 5})
    weight_kg = weight(allow_none=True, metadata={"example": 10.5})
    price_per_kg_usd = money(allow_none=True, metadata={"example": 14.29})
    total_cost_usd = money(allow_none=True, metadata={
        "example": 150.00, "description": "If left out, weight_kg × price_per_kg_usd rounded to cents."})
    note = Text(max_length=2000, allow_none=True, metadata={"example": "Хрупкое"})


class TrackingCreateSchema(TrackingFieldsSchema):
    tracking_number = tracking_number_field(required=True)
    client_code = client_code_field(required=True)
    status = ma.fields.String(load_default="pending", validate=STATUS_CHOICE,
                              metadata={"enum": list(STATUSES), "example": "pending"})
    quantity = ma.fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=1_000_000),
                                 metadata={"example": 5})


# PUT .../by-number/{tracking_number}: a whole parcel, its number in the path. Fields left out take the create
# defaults (status pending, quantity 1, the others null), so the parcel becomes exactly the body.
TrackingReplaceSchema = BodySchema.from_dict(
    {name: field for name, field in TrackingCreateSchema._declared_fields.items() if name != "tracking_number"},
    name="TrackingReplace")


class TrackingUpdateSchema(TrackingFieldsSchema):
    @ma.validates_schema
    def require_a_change(self, data, **kwargs):
        if not data:
            raise ma.ValidationError(gettext("Give at least one field to change, e.g. {\"status\": \"in_transit\"}."))
