"""GET /api/v1/me: the calling key, so an integration can check its key (and learn its bot id) with it alone."""
from flask.views import MethodView

from ...access.authentication import current_key
from ..blueprint import Blueprint
from . import service
from .schemas import MeSchema

# Named "me": every key may call it whatever its scopes (access/scopes.py UNSCOPED_BLUEPRINTS).
blp = Blueprint("me", __name__, url_prefix="/me", description="The API key making the request")


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self):
        """Get the calling API key: its bot, name, kind, scopes, rate limit and expiry"""
        return service.describe_key(current_key())
