"""Export parameters: the format, a byte order mark for spreadsheets, and the tracking list's own filters."""
import marshmallow as ma
from marshmallow import validate

from ...serialization.schemas import QuerySchema
from ..tracking.schemas import TrackingListQuerySchema
from .formats import DELIMITERS

FORMATS = ("csv", "ndjson", "xlsx")
TRACKING_FILTERS = ("status_filter", "client_code")


class ExportQuerySchema(QuerySchema):
    export_format = ma.fields.String(
        data_key="format", validate=validate.OneOf(FORMATS, error="Must be one of: {choices}."),
        metadata={"description": "`csv`, `ndjson` or `xlsx`; wins over the Accept header. Without either: csv."})
    # Only the literal words, as OpenAPI serializes a boolean: "1" or "yes" would be guesses.
    bom = ma.fields.Boolean(load_default=False, truthy={"true"}, falsy={"false"}, metadata={
        "description": "CSV only: start with a UTF-8 byte order mark, so that Excel reads Cyrillic text as UTF-8."})
    delimiter = ma.fields.String(load_default="comma", validate=validate.OneOf(DELIMITERS), metadata={
        "enum": list(DELIMITERS), "description": "CSV only: `semicolon` splits columns with `;` and writes decimals "
                                                 "with a comma (`10,500`), as Excel in Russian locales reads CSV."})


# The list's filter fields themselves (same validation, same documentation), without its paging and change feed.
TrackingExportQuerySchema = ExportQuerySchema.from_dict(
    {name: TrackingListQuerySchema._declared_fields[name] for name in TRACKING_FILTERS}, name="TrackingExportQuery")
