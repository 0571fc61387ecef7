"""Tracking number endpoints: /api/v1/tracking/{bot_id}/..."""
import marshmallow as ma
from flask.views import MethodView

from ...auth import current_key_id
from ...blueprint import Blueprint
from ...schemas import PageQuerySchema
from ..paths import BOT_ID, RECORD_ID
from . import service
from .schemas import (ClientCodePathSchema, TrackingCreateSchema, TrackingHistorySchema, TrackingListQuerySchema,
                      TrackingListSchema, TrackingNumberSchema, TrackingUpdateSchema)

blp = Blueprint("tracking", __name__, url_prefix="/tracking", description="Parcels and their status")


@blp.route(f"/{BOT_ID}")
class TrackingNumbers(MethodView):
    @blp.arguments(TrackingListQuerySchema, location="query")
    @blp.response(200, TrackingListSchema)
    def get(self, query, bot_id):
        """List tracking numbers, newest first; filter by status and client code"""
        return service.list_tracking(bot_id, **query)

    @blp.arguments(TrackingCreateSchema)
    @blp.response(201, TrackingNumberSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, fields, bot_id):
        """Create a tracking number"""
        return service.create_tracking(bot_id, fields, api_key_id=current_key_id())


@blp.route(f"/{BOT_ID}/{RECORD_ID.format('tracking_id')}")
class TrackingNumberById(MethodView):
    @blp.response(200, TrackingNumberSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, bot_id, tracking_id):
        """Get one tracking number"""
        return service.get_tracking(bot_id, tracking_id)

    @blp.arguments(TrackingUpdateSchema)
    @blp.response(200, TrackingNumberSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def put(self, changes, bot_id, tracking_id):
        """Update the status (and any other field given); a new status is added to the history"""
        return service.update_tracking(bot_id, tracking_id, changes, api_key_id=current_key_id())


@blp.route(f"/{BOT_ID}/{RECORD_ID.format('tracking_id')}/history")
class TrackingNumberHistory(MethodView):
    @blp.response(200, TrackingHistorySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, bot_id, tracking_id):
        """Get a tracking number's status history, oldest first"""
        return service.get_history(bot_id, tracking_id)


@blp.route(f"/{BOT_ID}/by-client/<string:client_code>")
class TrackingNumbersByClient(MethodView):
    @blp.arguments(ClientCodePathSchema, location="path", as_kwargs=True, unknown=ma.EXCLUDE)  # bot_id: converter
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, TrackingListSchema)
    def get(self, query, bot_id, client_code):
        """List one client's tracking numbers, newest first"""
        return service.list_tracking(bot_id, client_code=client_code, **query)
