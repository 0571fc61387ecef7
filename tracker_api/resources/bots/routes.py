"""Bot endpoint: /api/v1/bots/{bot_id}"""
from flask.views import MethodView

from ...blueprint import Blueprint
from ..paths import BOT_ID
from . import service
from .schemas import BotSchema

blp = Blueprint("bots", __name__, url_prefix="/bots", description="The bot (company) a key belongs to")


@blp.route(f"/{BOT_ID}")
class BotById(MethodView):
    @blp.response(200, BotSchema)
    def get(self, bot_id):
        """Get the bot this key belongs to"""
        return service.get_bot(bot_id)
