"""Bot endpoints: /api/v1/bots/{bot_id}, and the calling key's usage under it."""
from flask.views import MethodView

from ...access.authentication import current_key
from ...access.usage import key_usage
from ..blueprint import Blueprint
from ..paths import BOT_ID
from . import service
from .schemas import BotSchema, KeyUsageSchema, UsageQuerySchema

blp = Blueprint("bots", __name__, url_prefix="/bots", description="The bot (company) a key belongs to")


@blp.route(f"/{BOT_ID}")
class BotById(MethodView):
    @blp.etag
    @blp.response(200, BotSchema)
    def get(self, bot_id):
        """Get the bot this key belongs to"""
        return service.get_bot(bot_id)


@blp.route(f"/{BOT_ID}/usage")
class KeyUsage(MethodView):
    @blp.arguments(UsageQuerySchema, location="query")
    @blp.response(200, KeyUsageSchema)
    def get(self, query, bot_id):
        """Get this API key's usage: requests per day by outcome, last use, rate limit

        Counts requests made with the key calling this endpoint (not the bot's other keys), per UTC day,
        up to the previous request: this one is counted once it is answered.
        """
        return key_usage(current_key(), query["days"])
