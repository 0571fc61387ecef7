"""/api/admin/v1/bots/{bot_id}/keys: issue, list, read, change, revoke and roll a bot's API keys; a key's usage."""
from flask.views import MethodView

from ....access.usage import key_usage
from ...bots.schemas import KeyUsageSchema
from ...paths import BOT_ID
from ..blueprint import AdminBlueprint
from . import service
from .schemas import (
    AdminKeySchema,
    IssuedKeySchema,
    KeyCreateSchema,
    KeyListQuerySchema,
    KeyListSchema,
    KeyRollSchema,
    KeyUpdateSchema,
    KeyUsageQuerySchema,
    RolledKeySchema,
)

blp = AdminBlueprint("admin_keys", __name__, url_prefix="/bots", description="A bot's API keys")
KEY_PATH = f"/{BOT_ID}/keys"
KEY_ID = "<int(min=1, max=2147483647):key_id>"


@blp.route(KEY_PATH)
class Keys(MethodView):
    @blp.arguments(KeyListQuerySchema, location="query")
    @blp.response(200, KeyListSchema)
    def get(self, query, bot_id):
        """List a bot's keys (prefixes only, never a key)"""
        return service.list_keys(bot_id, **query)

    @blp.arguments(KeyCreateSchema)
    @blp.response(201, IssuedKeySchema)
    def post(self, fields, bot_id):
        """Issue a key ("Create API key"): the answer holds the plain key, shown once"""
        return service.add_key(bot_id, fields)


@blp.route(f"{KEY_PATH}/{KEY_ID}")
class KeyById(MethodView):
    @blp.response(200, AdminKeySchema)
    def get(self, bot_id, key_id):
        """Get a key"""
        return service.get_key(bot_id, key_id)

    @blp.arguments(KeyUpdateSchema)
    @blp.response(200, AdminKeySchema)
    def patch(self, changes, bot_id, key_id):
        """Change a key's name, rate limit, scopes or (publishable keys) origins; the next request uses them"""
        return service.update_key(bot_id, key_id, changes)


@blp.route(f"{KEY_PATH}/{KEY_ID}/revoke")
class KeyRevocation(MethodView):
    @blp.response(200, AdminKeySchema)
    def post(self, bot_id, key_id):
        """Revoke a key ("Revoke"): refused from the next request on"""
        return service.revoke(bot_id, key_id)


@blp.route(f"{KEY_PATH}/{KEY_ID}/roll")
class KeyRoll(MethodView):
    @blp.arguments(KeyRollSchema, required=False)  # no body: no grace period
    @blp.response(200, RolledKeySchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, fields, bot_id, key_id):
        """Roll a key ("Roll key"): a new key now; the old one works for the grace period (at most 7 days)"""
        return service.roll(bot_id, key_id, fields["grace_period_seconds"])


@blp.route(f"{KEY_PATH}/{KEY_ID}/usage")
class KeyUsage(MethodView):
    @blp.arguments(KeyUsageQuerySchema, location="query")
    @blp.response(200, KeyUsageSchema)
    def get(self, query, bot_id, key_id):
        """Get a key's usage ("Usage"): requests per UTC day by outcome, last use, rate limit"""
        return key_usage(service.get_key(bot_id, key_id), query["days"])
