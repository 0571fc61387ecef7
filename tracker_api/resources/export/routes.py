"""Export endpoints: /api/v1/export/{bot_id}/tracking and /clients, streamed as CSV or NDJSON."""
from flask.views import MethodView

from ..blueprint import Blueprint
from ..clients.schemas import ClientSchema
from ..paths import BOT_ID
from ..tracking.schemas import TrackingNumberSchema
from . import service
from .schemas import ExportQuerySchema, TrackingExportQuerySchema

blp = Blueprint("export", __name__, url_prefix="/export",
                description="Every record of a bot at once, streamed as CSV or NDJSON")

CSV_SCHEMA = {"type": "string", "description": (
    "RFC 4180 CSV in UTF-8: a header row with the JSON schema's field names, then one row per record, oldest "
    "first. Decimals are exact (`10.500`, `150.00`), times ISO 8601 UTC, null is an empty cell; text that a "
    "spreadsheet would run as a formula (starting with = + - @, tab or CR) is prefixed with a single quote.")}


def export_responses(record_schema, name):
    """Documents the 200 in both media types (the body is streamed: neither is built by flask-smorest) and 406."""
    headers = {"Content-Disposition": {
        "description": f'`attachment; filename="{name}-<bot_id>.csv"` (or `.ndjson`).', "required": True,
        "schema": {"type": "string"}}}
    description = ("Every matching record, oldest first, in the media type `format` or Accept chose: CSV, or NDJSON "
                   "(one JSON object per line, each shaped as the schema given for it).")

    def decorate(view):
        view = blp.alt_response(406, response="NOT_ACCEPTABLE")(view)
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
        """Export every tracking number, oldest first, as CSV or NDJSON; filter by status and client code"""
        return service.export_tracking(bot_id, **query)


@blp.route(f"/{BOT_ID}/clients")
class ClientExport(MethodView):
    @blp.arguments(ExportQuerySchema, location="query")
    @export_responses(ClientSchema, "clients")
    def get(self, query, bot_id):
        """Export every client, oldest first, as CSV or NDJSON"""
        return service.export_clients(bot_id, **query)
