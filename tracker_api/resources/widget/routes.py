"""The tracking widget's public lookup: /api/v1/widget/{bot_id}/track/{tracking_number}."""
from flask.views import MethodView

from ..blueprint import Blueprint
from ..paths import BOT_ID
from . import service
from .cors import register_cors
from .schemas import PublicTrackingSchema

blp = Blueprint("widget", __name__, url_prefix="/widget",
                description="The tracking widget's public parcel lookup, for publishable keys (tb_pk_...) in web "
                            "pages on the key's own origins")
register_cors(blp)


# `path`, not `string`: a tracking number may hold a slash.
@blp.route(f"/{BOT_ID}/track/<path:tracking_number>")
class WidgetTracking(MethodView):
    accepts_publishable_keys = True  # the only view that does (access/authentication.py)

    @blp.etag
    @blp.response(200, PublicTrackingSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, bot_id, tracking_number):
        """Look up one parcel's public status and timeline (the tracking widget; publishable or secret key); with
        If-None-Match, an unchanged parcel is a 304 without a body (the widget's live updates)"""
        return service.public_tracking(bot_id, tracking_number)
