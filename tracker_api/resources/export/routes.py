"""Export endpoints: /api/v1/export/{bot_id}/tracking and /clients, streamed as CSV, NDJSON or XLSX."""
from flask.views import MethodView

from ...serialization.spreadsheets import XLSX_TYPE
from ..blueprint import Blueprint
from ..clients.schemas import ClientSchema
from ..paths import BOT_ID
from ..tracking.schemas import TrackingNumberSchema
from . import service
from .schemas import ExportQuerySchema, TrackingExportQuerySchema

blp = Blueprint("export", __name__, url_prefix="/export",
                description="Every record of a bot at once, streamed as CSV, NDJSON or XLSX")

CSV_SCHEMA = {"type": "string", "description": (
    "RFC 4180 CSV in UTF-8: a header row with the JSON schema's field names, then one row per record, oldest "
    "first. Decimals are exact (`10.500`, `150.00`; `10,500` with delimiter=semicolon), times ISO 8601 UTC, null "
    "is an empty cell; text that a spreadsheet would run as a formula (starting with = + - @, tab or CR), or that "
    "starts with a single quote, is prefixed with a single quote, which the import takes off again.")}
XLSX_SCHEMA = {"type": "string", "format": "binary", "description": (
    "An Excel workbook of one sheet: the CSV's header and rows, numbers as numbers, tracking numbers, codes and "
    "telegram ids as text, times as ISO 8601 UTC text, null as an empty cell. Imports back unchanged.")}


def export_responses(record_schema, name):
    """Documents the 200 in both media types (the body is streamed: neither is built by flask-smorest) and 406."""
    headers = {"Content-Disposition": {
        "description": f'`attachment; filename="{name}-<bot_id>.csv"` (or `.ndjson`, `.xlsx`).', "required": True,
        "schema": {"type": "string"}}}
    description = ("Every matching record, oldest first, in the media type `format` or Accept chose: CSV, NDJSON "
                   "(one JSON object per line, each shaped as the schema given for it) or XLSX.")

    def decorate(view):
        view = blp.alt_response(406, response="NOT_ACCEPTABLE")(view)
        view = blp.alt_response(200, schema=XLSX_SCHEMA, content_type=XLSX_TYPE, description=description,
                                headers=headers, success=True)(view)
        view = blp.alt_response(200, schema=record_schema, content_type="application/x-ndjson",
                                description=description, headers=headers, success=True)(view)
        return blp.response(200, CSV_SCHEMA, content_type="text/csv", description=description,
                            headers=headers)(view)
    return decorate


@blp.route(f"/{BOT_ID}/tracking")
class TrackingExport(MethodView):
    @blp.arguments(TrackingExportQuerySchema, location="query")
    @export_responses(TrackingNumberSchema, "tracking")
    def get(self, query, bot_id):
        """Export every tracking number, oldest first, as CSV, NDJSON or XLSX; filter by status and client code"""
        return service.export_tracking(bot_id, **query)


@blp.route(f"/{BOT_ID}/clients")
class ClientExport(MethodView):
    @blp.arguments(ExportQuerySchema, location="query")
    @export_responses(ClientSchema, "clients")
    def get(self, query, bot_id):
        """Export every client, oldest first, as CSV, NDJSON or XLSX"""
        return service.export_clients(bot_id, **query)
