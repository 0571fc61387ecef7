"""Field types and schemas shared by every resource: safe text, exact decimals, UTC times, paging."""
import re
from decimal import Decimal

import marshmallow as ma
from marshmallow import validate

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
            raise ma.ValidationError("Must not contain control characters.")
        if LONE_SURROGATES.search(text):
            raise ma.ValidationError("Must be valid Unicode text (no lone surrogates).")
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
            raise ma.ValidationError(f"Must have at most {self.max_places} decimal places.")
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


class QuerySchema(ma.Schema):
    """Query strings ignore parameters they do not know (cache busters, tracking tags)."""

    class Meta:
        unknown = ma.EXCLUDE


class PageQuerySchema(QuerySchema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE),
                             metadata={"description": "Page number, from 1."})
    page_size = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=100),
                                  metadata={"description": "Items per page, 1 to 100 (maximum 100)."})


class BodySchema(ma.Schema):
    """Request bodies refuse unknown fields: a typo or a mass-assigned `bot_id` is a 422, not a no-op."""

    class Meta:
        unknown = ma.RAISE
