"""Tracking number endpoints: /api/v1/tracking/{bot_id}/..."""
import marshmallow as ma
from flask.views import MethodView

from ...auth import current_key_id
from ...blueprint import BODY_RESPONSES, Blueprint
from ...imports import ImportResultSchema, import_request_body, run_import
from ...schemas import PageQuerySchema
from ..paths import BOT_ID, RECORD_ID
from . import service
from .schemas import (ClientCodePathSchema, TrackingCreateSchema, TrackingHistorySchema, TrackingListQuerySchema,
                      TrackingListSchema, TrackingNumberSchema, TrackingUpdateSchema)

blp = Blueprint("tracking", __name__, url_prefix="/tracking", description="Parcels and their status")


def if_match(record):
    """The write's precondition, checked by the service once it holds the row: If-Match, when sent, matches."""
    blp.check_etag(record, TrackingNumberSchema)


@blp.route(f"/{BOT_ID}")
class TrackingNumbers(MethodView):
    @blp.etag
    @blp.arguments(TrackingListQuerySchema, location="query")
    @blp.response(200, TrackingListSchema)
    def get(self, query, bot_id):
        """List tracking numbers, newest first, by status or client code; or, with updated_since or cursor, the change feed"""
        return service.list_tracking(bot_id, **query)

    @blp.arguments(TrackingCreateSchema)
    @blp.response(201, TrackingNumberSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, fields, bot_id):
        """Create a tracking number"""
        return service.create_tracking(bot_id, fields, api_key_id=current_key_id())


@blp.route(f"/{BOT_ID}/{RECORD_ID.format('tracking_id')}")
class TrackingNumberById(MethodView):
    @blp.etag
    @blp.response(200, TrackingNumberSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, bot_id, tracking_id):
        """Get one tracking number"""
        return service.get_tracking(bot_id, tracking_id)

    @blp.etag
    @blp.arguments(TrackingUpdateSchema)
    @blp.response(200, TrackingNumberSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def put(self, changes, bot_id, tracking_id):
        """Update the status (and any other field given); a new status is added to the history"""
        return service.update_tracking(bot_id, tracking_id, changes, api_key_id=current_key_id(),
                                       precondition=if_match)

    @blp.etag
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, bot_id, tracking_id):
        """Delete a tracking number and its history; the change feed reports it as deleted"""
        service.delete_tracking(bot_id, tracking_id, precondition=if_match)


@blp.route(f"/{BOT_ID}/{RECORD_ID.format('tracking_id')}/restore")
class TrackingNumberRestore(MethodView):
    @blp.response(200, TrackingNumberSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(410, response="GONE")
    def post(self, bot_id, tracking_id):
        """Restore a tracking number deleted within the restore window (30 days by default), with its id and history"""
        return service.restore_tracking(bot_id, tracking_id)


@blp.route(f"/{BOT_ID}/{RECORD_ID.format('tracking_id')}/history")
class TrackingNumberHistory(MethodView):
    @blp.etag
    @blp.response(200, TrackingHistorySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, bot_id, tracking_id):
        """Get a tracking number's status history, oldest first"""
        return service.get_history(bot_id, tracking_id)


@blp.route(f"/{BOT_ID}/by-client/<string:client_code>")
class TrackingNumbersByClient(MethodView):
    @blp.etag
    @blp.arguments(ClientCodePathSchema, location="path", as_kwargs=True, unknown=ma.EXCLUDE)  # bot_id: converter
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, TrackingListSchema)
    def get(self, query, bot_id, client_code):
        """List one client's tracking numbers, newest first"""
        return service.list_tracking(bot_id, client_code=client_code, **query)


@blp.route(f"/{BOT_ID}/import")
class TrackingImport(MethodView):
    @blp.doc(requestBody=import_request_body(TrackingCreateSchema, "tracking_number,client_code,status,weight_kg\n"
                                                                   "ABC123456,CLIENT123,in_transit,10.5\n"))
    @blp.response(200, ImportResultSchema)
    @blp.alt_response(413, response=BODY_RESPONSES[413])  # too many rows, or MAX_CONTENT_LENGTH
    @blp.alt_response(415, response=BODY_RESPONSES[415])
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, bot_id):
        """Import tracking numbers (JSON array or CSV): each created, updated or unchanged; any error writes none"""
        return run_import(service.tracking_importer(api_key_id=current_key_id()), bot_id)
