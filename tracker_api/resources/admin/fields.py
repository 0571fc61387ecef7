"""Fields the admin API's bodies share."""
import marshmallow as ma


class JsonBoolean(ma.fields.Boolean):
    """A JSON true or false only: marshmallow's Boolean also takes 1, 0, "yes" (and 0 == False in a set lookup)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
