"""Field types and schemas shared by every resource: safe text, exact decimals, UTC times, paging."""
import re
from decimal import Decimal

import marshmallow as ma
from marshmallow import validate

from ..models.deleted_record import REMOVAL_REASONS
from ..web.i18n import N_, gettext
from .cursors import InvalidCursor, cursor_kind, decode_cursor
from .timezones import is_time_zone, unknown_zone_message

# Control characters (NUL above all: PostgreSQL refuses it in text) never belong in a field.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A lone surrogate (JSON "\ud800") is not a character: it cannot be encoded as UTF-8 for the database.
LONE_SURROGATES = re.compile("[\ud800-\udfff]")
MAX_PAGE = 10_000_000
MONEY_MAXIMUM = Decimal("9999999999.99")  # Numeric(12, 2)
WEIGHT_MAXIMUM = Decimal("9999999.999")  # Numeric(10, 3)


class Text(ma.fields.String):
    """A string with a length limit and no control characters."""

    def __init__(self, *, max_length, min_length=0, **kwargs):
        validators = list(kwargs.pop("validate", []) or [])
        validators.insert(0, validate.Length(min=min_length, max=max_length))
        super().__init__(validate=validators, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if CONTROL_CHARACTERS.search(text):
            raise ma.ValidationError(gettext("Must not contain control characters."))
        if LONE_SURROGATES.search(text):
            raise ma.ValidationError(gettext("Must be valid Unicode text (no lone surrogates)."))
        return text


class ExactDecimal(ma.fields.Decimal):
    """Loads an exact Decimal with at most `places` decimals within [0, maximum]; dumps a JSON number."""

    def __init__(self, *, places, maximum, **kwargs):
        self.max_places = places
        super().__init__(validate=validate.Range(min=0, max=maximum), **kwargs)
        self.metadata.setdefault("maximum", float(maximum))
        self.metadata.setdefault("minimum", 0)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._deserialize(value, attr, data, **kwargs)
        if number.as_tuple().exponent < -self.max_places:
            raise ma.ValidationError(gettext("Must have at most %(places)s decimal places.", places=self.max_places))
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        # Numeric(12,2)/(10,3) have at most 12 significant digits, which a float round-trips exactly.
        return None if value is None else float(value)


def money(**kwargs):
    return ExactDecimal(places=2, maximum=MONEY_MAXIMUM, **kwargs)


def weight(**kwargs):
    return ExactDecimal(places=3, maximum=WEIGHT_MAXIMUM, **kwargs)


class UTCDateTimeField(ma.fields.DateTime):
    """ISO 8601 with the UTC offset spelled out (`+00:00`)."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)


class TimeZoneName(ma.fields.String):
    """An IANA time zone name (Asia/Almaty); any other is refused, naming it."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(max=64), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        if not is_time_zone(name):
            raise ma.ValidationError(unknown_zone_message(name))
        return name


class QuerySchema(ma.Schema):
    """Query strings ignore parameters they do not know (cache busters, tracking tags)."""

    class Meta:
        unknown = ma.EXCLUDE


class PageQuerySchema(QuerySchema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE),
                             metadata={"description": "Page number, from 1."})
    page_size = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=100),
                                  metadata={"description": "Items per page, 1 to 100 (maximum 100)."})


class FeedQuerySchema(PageQuerySchema):
    """A list's parameters plus the change feed's (writes/feed.py): `updated_since` starts a walk, `cursor` goes on.
    Subclasses name their `feed_kind` and the filters that cannot be combined with the feed."""

    feed_kind = None
    list_only_filters = ()
    feed_client_filter = None  # the parameter, if any, that makes the feed one client's (feed.py)

    updated_since = ma.fields.AwareDateTime(format="iso", error_messages={
        # N_: marshmallow needs str messages; errors.py translates them when it answers
        "invalid": N_("Not a time: use ISO 8601 with a UTC offset, e.g. 2025-01-27T10:00:00+00:00."),
        "invalid_awareness": N_("Give the time with its UTC offset, e.g. 2025-01-27T10:00:00+00:00."),
    }, metadata={
        # No `example`: Swagger UI's "Try it out" would fill it in and turn every list into a feed.
        "description": "Change feed: start with the changes (and deletions) made at or after this time, in the "
                       "order they were made; follow `next_cursor` from there. Needs a UTC offset."})
    cursor = Text(max_length=100, min_length=1, metadata={
        "description": "Change feed: the `next_cursor` of the previous page (opaque)."})

    @ma.validates_schema
    def check_feed(self, data, **kwargs):
        if "cursor" not in data and "updated_since" not in data:
            return
        if "cursor" in data and "updated_since" in data:
            raise ma.ValidationError(gettext("Give updated_since to start a feed or cursor to go on, not both."), "cursor")
        if data.get("page", 1) != 1:
            raise ma.ValidationError(gettext("Feed pages follow next_cursor, not page numbers."), "page")
        for name in self.list_only_filters:
            if name in data:
                raise ma.ValidationError(gettext("Not available in the change feed: it reports every change."), name)
        if "cursor" in data:
            try:
                decode_cursor(cursor_kind(self.feed_kind, data.get(self.feed_client_filter)), data["cursor"])
            except InvalidCursor as error:
                raise ma.ValidationError(str(error), "cursor") from None


def deleted_schema(code_field):
    """The tombstone of a record that left a feed page: its id, its code under `code_field`, when, and why."""
    return ma.Schema.from_dict({
        "id": ma.fields.Integer(attribute="record_id", metadata={"example": 1}),
        code_field: ma.fields.String(attribute="code", metadata={"example": "ABC123456"}),
        "deleted_at": UTCDateTimeField(metadata={"example": "2025-01-28T09:00:00+00:00",
                                                 "description": "When it was deleted, or moved away."}),
        "reason": ma.fields.String(metadata={
            "enum": list(REMOVAL_REASONS), "example": "deleted",
            "description": "deleted; or, in one client's feed only, moved (to another client). Either way: drop "
                           "it from your copy. More reasons may come: treat an unknown one as a removal."}),
    }, name=f"Deleted{code_field.title().replace('_', '')}")


def feed_fields(code_field):
    """The list response's change-feed members, present only when the request used the feed."""
    return {
        "deleted": ma.fields.List(ma.fields.Nested(deleted_schema(code_field)), metadata={
            "description": "Change feed only: records deleted (or, in one client's feed, moved away) in this "
                           "page's span of changes; never an id that is also in this page's list, so the two can "
                           "be applied in either order."}),
        "next_cursor": ma.fields.String(metadata={
            "description": "Change feed only: pass as `cursor` for the next page (also when has_more is false: "
                           "it is where the next sync starts)."}),
        "has_more": ma.fields.Boolean(metadata={"description": "Change feed only: more changes are waiting."}),
    }


class BodySchema(ma.Schema):
    """Request bodies refuse unknown fields: a typo or a mass-assigned `bot_id` is a 422, not a no-op."""

    class Meta:
        unknown = ma.RAISE
