"""Tracking number endpoints: /api/v1/tracking/{bot_id}/..."""
import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import abort

from ...access.authentication import current_key_id
from ...serialization.schemas import PageQuerySchema
from ...writes.imports import ImportResultSchema, import_request_body, run_import
from ..blueprint import BODY_RESPONSES, CHANGED_SINCE_READ, Blueprint
from ..paths import BOT_ID, RECORD_ID
from . import service
from .schemas import (ClientCodePathSchema, TrackingCreateSchema, TrackingHistorySchema, TrackingListQuerySchema,
                      TrackingListSchema, TrackingNumberPathSchema, TrackingNumberSchema, TrackingReplaceSchema,
                      TrackingUpdateSchema)

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
                                       precondition=if_match if request.if_match else None)

    @blp.etag
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, bot_id, tracking_id):
        """Delete a tracking number and its history; the change feed reports it as deleted"""
        service.delete_tracking(bot_id, tracking_id, precondition=if_match)


def if_match_or_absent(record):
    """If-Match on a create-or-replace: checked against the parcel; when there is none, no ETag matches (not
    even `*`), so a replace of a parcel that has since been deleted is a 412, not a silent re-creation."""
    if record is not None:
        if_match(record)
    elif request.if_match:
        abort(412, message=CHANGED_SINCE_READ)


# `path`: a tracking number may contain "/" (sent as %2F, or plainly); merge_slashes off, so "A//B" stays itself.
@blp.route(f"/{BOT_ID}/by-number/<path:tracking_number>", merge_slashes=False)
class TrackingNumberByNumber(MethodView):
    @blp.etag
    @blp.arguments(TrackingNumberPathSchema, location="path", as_kwargs=True, unknown=ma.EXCLUDE)
    @blp.response(200, TrackingNumberSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, bot_id, tracking_number):
        """Get one tracking number by its number (percent-encode characters such as /)"""
        return service.get_tracking_by_number(bot_id, tracking_number)

    @blp.etag
    @blp.arguments(TrackingNumberPathSchema, location="path", as_kwargs=True, unknown=ma.EXCLUDE)
    @blp.arguments(TrackingReplaceSchema)
    @blp.response(200, TrackingNumberSchema, description="The parcel existed and is now exactly the body.")
    @blp.alt_response(201, schema=TrackingNumberSchema, description="The parcel was created.", success=True)
    @blp.alt_response(409, response="CONFLICT")
    def put(self, fields, bot_id, tracking_number):
        """Create or replace the tracking number with this number (201 created, 200 replaced)

        A replace makes the parcel exactly the body: fields left out take the create defaults (status pending,
        quantity 1, the others null)."""
        record, created = service.put_tracking_by_number(bot_id, tracking_number, fields,
                                                         api_key_id=current_key_id(), precondition=if_match_or_absent)
        return record, 201 if created else 200

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
