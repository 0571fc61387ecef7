"""Statistics endpoints: /api/v1/statistics/{bot_id}/..."""
from flask.views import MethodView

from ..blueprint import Blueprint
from ..paths import BOT_ID
from . import service
from .schemas import OverviewSchema, StatisticsQuerySchema, TrackingStatisticsSchema

blp = Blueprint("statistics", __name__, url_prefix="/statistics", description="Totals for dashboards")


@blp.route(f"/{BOT_ID}/overview")
class Overview(MethodView):
    @blp.etag
    @blp.response(200, OverviewSchema)
    def get(self, bot_id):
        """Totals: clients, tracking numbers, and tracking numbers in each status"""
        return service.overview(bot_id)


@blp.route(f"/{BOT_ID}/tracking")
class TrackingStatistics(MethodView):
    @blp.etag
    @blp.arguments(StatisticsQuerySchema, location="query")
    @blp.response(200, TrackingStatisticsSchema)
    def get(self, query, bot_id):
        """Tracking statistics: count, weight and cost by status; creations per local day over 30 days"""
        return service.tracking_statistics(bot_id, query.get("tz"))
