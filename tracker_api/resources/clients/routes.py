"""Client endpoints: /api/v1/clients/{bot_id}/..."""
from flask.views import MethodView

from ...blueprint import Blueprint
from ...schemas import PageQuerySchema
from ..paths import BOT_ID, RECORD_ID
from . import service
from .schemas import ClientListSchema, ClientSchema

blp = Blueprint("clients", __name__, url_prefix="/clients", description="The company's customers")


@blp.route(f"/{BOT_ID}")
class Clients(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, ClientListSchema)
    def get(self, query, bot_id):
        """List clients, newest first"""
        return service.list_clients(bot_id, **query)


@blp.route(f"/{BOT_ID}/{RECORD_ID.format('client_id')}")
class ClientById(MethodView):
    @blp.response(200, ClientSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, bot_id, client_id):
        """Get one client"""
        return service.get_client(bot_id, client_id)
